"""The contrastive, clustering and mutual-information family on Fashion-MNIST.

    python -m zoo.benchmark --suite=contrastive --output_dir=benchmarks/contrastive
    python -m zoo.benchmark --suite=contrastive --methods=simclr,moco --budget_minutes=5

Every method gets the same backbone (`BACKBONE`, the SimCLR benchmark's
ResNet-8; CPC encodes patches with the same ResNet built for its patch
shape), batch size (256, or the method's own when smaller: CPC's 64) and
wall-clock budget of training (`--budget_minutes`, the same for each
method), on all 60000 training images:

1. Speed first: images/s of the method's `fit` over plain supervised `fit`
   of the same backbone, measured in alternation in this process
   (`zoo.benchmarks.speed`).
2. The budget becomes epochs, `max(1, round(budget * images/s / images))`,
   so the method's learning-rate schedule ends with the budget; a callback
   also stops training once the budget is spent, whichever comes first.
3. The method's zoo config (its `quick` settings with the shared backbone)
   trains through `zoo.runs.train`; a finished run with the same config is
   reused when the suite runs again, an unfinished one is started over.
4. The frozen encoder embeds every training and test image once; a
   weighted kNN (k = 200, tau = 0.07) and a linear probe (logistic
   regression) train on class-balanced 1%, 10% and 100% of the training
   labels and are scored on the whole test split. The same backbone at
   random initialisation and the raw pixels are the baselines (CPC, whose
   encoder averages its patch features, also gets its own encoder at
   random initialisation).

Writes results.json and results.md: the table, each method's epochs,
training seconds, speed ratio, DeepCluster's clustering share of its epoch
time and its clustering by parts (the feature pass, PCA and whitening,
k-means with each backend: NumPy, TF, scikit-learn), and the issue's goals
with whether each was met.
"""

import json
import os
import shutil
import time

import numpy as np

# The suite's methods (zoo config names), in the order of the table.
CONTRASTIVE_METHODS = (
    "simclr",
    "moco",
    "instance_discrimination",
    "cpc",
    "deep_infomax",
    "deep_cluster",
    "noise_as_targets",
)
BACKBONE = {"class": "ResNet", "depth": 8, "width": 16}
BATCH_SIZE = 256
BUDGET_MINUTES = 5.0
LABEL_FRACTIONS = (0.01, 0.1, 1.0)
PROTOCOLS = ("knn", "linear")
QUICK = {"train_size": 512, "test_size": 300, "budget_minutes": 0.1, "batch_size": 64}


def _time_budget(seconds):
    """A callback that stops `fit` after the batch in which `seconds` of
    training have passed, and logs each epoch's seconds (`epoch_seconds`,
    from its first callback to its last: DeepCluster's clustering
    included)."""
    import keras

    class TimeBudget(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            if time.perf_counter() - self.start > seconds:
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                logs["epoch_seconds"] = time.perf_counter() - self.epoch_start

    return TimeBudget()


def method_config(method, seed, quick):
    """The method's quick zoo config on the suite's backbone and batch."""
    from zoo import runs

    config = runs.resolve_config(method, "fashion_mnist", quick=True, seed=seed)
    config["backbone"] = dict(BACKBONE)
    # The suite's batch, or the method's own when smaller (CPC's negatives
    # are every patch of the batch: 36 per image).
    config["batch_size"] = min(QUICK["batch_size"] if quick else BATCH_SIZE, config["batch_size"])
    config["train_size"] = None
    config["knn_every"] = None
    return config


def _fit_targets(config, count):
    """The `y` a method's `fit` takes: each image's index, or nothing."""
    return np.arange(count) if config.get("with_indices") else None


def measure_speed(config, data, quick):
    """`zoo.benchmarks.speed.throughput_ratio` of the method of `config`
    against supervised `fit` of the same backbone on full images."""
    import keras

    from zoo.benchmarks.speed import throughput_ratio
    from zoo.recipes.base import build_optimizer
    from zoo.recipes.images import build_backbone, build_method

    steps = 3 if quick else 20
    info = {
        "num_classes": data.num_classes,
        "num_examples": len(data.x_train),
        "steps_per_epoch": len(data.x_train) // config["batch_size"],
        "images": data.x_train,
    }

    def make_ssl():
        keras.utils.set_random_seed(config["seed"])
        model = build_method(config, build_backbone(config, data.image_shape), info)
        model.compile(optimizer=build_optimizer(config, info["steps_per_epoch"]))
        if hasattr(model, "cluster"):  # DeepCluster: pseudo-labels before any step (not timed).
            model.cluster(data.x_train)
        return model

    def make_supervised():
        keras.utils.set_random_seed(config["seed"])
        backbone = build_backbone({"backbone": BACKBONE}, data.image_shape)
        classifier = keras.Sequential([backbone, keras.layers.Dense(data.num_classes)])
        classifier.compile(
            optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
        return classifier

    return throughput_ratio(
        make_ssl,
        make_supervised,
        data.x_train,
        data.y_train,
        config["batch_size"],
        steps=steps,
        rounds=1 if quick else 3,
        ssl_targets=_fit_targets(config, len(data.x_train)),
    )


def train_for_budget(method, config, data, output_dir, budget_seconds, quick):
    """Measures the method's speed and trains it for about `budget_seconds`;
    returns `(model, record)`. A finished run of the same config and budget
    is reused with its record (speed included)."""
    from zoo import runs

    run_dir = os.path.join(output_dir, "runs", method)
    record_path = os.path.join(run_dir, "budget.json")
    key = {"config": json.loads(json.dumps(config)), "budget_seconds": budget_seconds}
    if os.path.exists(record_path) and all(runs.read_json(record_path).get(k) == v for k, v in key.items()):
        print(f"{method}: reusing {run_dir}", flush=True)
        model, _ = runs.load_run(run_dir)
        return model, runs.read_json(record_path)
    if os.path.exists(run_dir):
        shutil.rmtree(run_dir)
    speed = measure_speed(config, data, quick)
    print(f"{method}: {speed['ssl_images_per_s']:.0f} images/s, ratio {speed['ratio']:.3f}", flush=True)
    config["epochs"] = max(1, int(round(budget_seconds * speed["ssl_images_per_s"] / len(data.x_train))))
    start = time.time()
    model, history = runs.train(config, data, run_dir, verbose=2, extra_callbacks=[_time_budget(budget_seconds)])
    record = {
        **key,
        "speed": speed,
        "train_seconds": time.time() - start,
        "planned_epochs": config["epochs"],
        "epochs_started": len(history["loss"]),
        "final_loss": float(history["loss"][-1]),
        "history": {k: [float(v) for v in values] for k, values in history.items()},
    }
    if "clustering_seconds" in history:
        clustering = float(np.sum(history["clustering_seconds"]))
        record["clustering_share"] = clustering / float(np.sum(history["epoch_seconds"]))
    runs.write_json_atomic(record_path, record)
    return model, record


def kmeans_timing(model, images, seed):
    """DeepCluster's clustering step by parts on the trained `model`:
    seconds of feature extraction, of PCA + whitening, and of k-means with
    each backend (same k, iterations and seed), with the NMI between the
    backends' partitions (1.0: the same clusters)."""
    from sklearn.metrics import normalized_mutual_info_score

    from keras_ssl.clustering import KMEANS_BACKENDS, kmeans, preprocess_features
    from keras_ssl.evaluation import extract_features

    start = time.perf_counter()
    features = extract_features(model.clustering_network, images)
    timing = {"features_seconds": time.perf_counter() - start}
    start = time.perf_counter()
    x = preprocess_features(features, model.pca_dim)
    timing["pca_seconds"] = time.perf_counter() - start
    timing["shape"] = list(x.shape)
    timing["k"] = model.num_clusters
    partitions = {}
    for backend in KMEANS_BACKENDS:
        start = time.perf_counter()
        _, partitions[backend] = kmeans(x, model.num_clusters, model.kmeans_iterations, seed=seed, backend=backend)
        timing[f"kmeans_{backend}_seconds"] = time.perf_counter() - start
    timing["nmi_numpy_vs"] = {
        b: float(normalized_mutual_info_score(partitions["numpy"], partitions[b])) for b in KMEANS_BACKENDS[1:]
    }
    print(f"deep_cluster clustering by parts: {timing}", flush=True)
    return timing


def probe(features, data, seed):
    """kNN and linear accuracies at each label fraction, from the features
    `(train, test)` of every image."""
    from keras_ssl.data.splits import label_fraction_indices
    from keras_ssl.evaluation import knn_accuracy, linear_probe_accuracy

    train, test = features
    scores = {}
    for fraction in LABEL_FRACTIONS:
        labelled = label_fraction_indices(data.y_train, fraction, seed)
        x, y = train[labelled], data.y_train[labelled]
        scores[f"knn|{fraction:g}"] = knn_accuracy(x, y, test, data.y_test)
        scores[f"linear|{fraction:g}"] = linear_probe_accuracy(x, y, test, data.y_test)
    return scores


def run(output_dir, quick=False, methods=None, seed=0, budget_minutes=None):
    """Trains every method (or `methods`) for the budget, probes each and
    the baselines; returns the results dict."""
    import keras

    from keras_ssl.data import load_fashion_mnist
    from keras_ssl.evaluation import extract_features, random_init_copy, raw_pixel_features
    from zoo.recipes.images import build_backbone

    data = load_fashion_mnist()
    if quick:
        data = data.subset(train_size=QUICK["train_size"], test_size=QUICK["test_size"], seed=seed)
    budget_minutes = budget_minutes or (QUICK["budget_minutes"] if quick else BUDGET_MINUTES)
    methods = list(methods or CONTRASTIVE_METHODS)
    unknown = sorted(set(methods) - set(CONTRASTIVE_METHODS))
    if unknown:
        from zoo.errors import RunError

        raise RunError(f"--methods names {', '.join(unknown)}: use some of {', '.join(CONTRASTIVE_METHODS)}")

    rows = {}

    def embed(encoder):
        if encoder is None:
            return raw_pixel_features(data.x_train), raw_pixel_features(data.x_test)
        return extract_features(encoder, data.x_train), extract_features(encoder, data.x_test)

    for method in methods:
        config = method_config(method, seed, quick)
        model, record = train_for_budget(method, config, data, output_dir, budget_minutes * 60, quick)
        scores = probe(embed(model.encoder), data, seed)
        rows[method] = {"scores": scores, **{k: v for k, v in record.items() if k not in ("history", "config")}}
        if config.get("backbone_input") == "patch":  # CPC: its own architecture's baseline.
            rows[f"{method} at random init"] = {
                "scores": probe(embed(random_init_copy(model.encoder, seed)), data, seed)
            }
        if method == "deep_cluster":
            rows[method]["clustering_parts"] = kmeans_timing(model, data.x_train, seed)
            rows[method]["median_epoch_seconds"] = float(np.median(record["history"]["epoch_seconds"]))
        print(f"{method}: {scores}", flush=True)
        keras.backend.clear_session()

    keras.utils.set_random_seed(seed)
    random_backbone = random_init_copy(build_backbone({"backbone": BACKBONE}, data.image_shape), seed)
    rows["random init"] = {"scores": probe(embed(random_backbone), data, seed)}
    rows["raw pixels"] = {"scores": probe(embed(None), data, seed)}
    result = {
        "suite": "contrastive",
        "backbone": BACKBONE,
        "batch_size": QUICK["batch_size"] if quick else BATCH_SIZE,
        "budget_minutes": budget_minutes,
        "train_images": len(data.x_train),
        "test_images": len(data.x_test),
        "seed": seed,
        "rows": rows,
    }
    result["goals"] = goals(result)
    return result


def goals(result):
    """The issue's goals, each with the measured values and whether it is met."""
    rows = result["rows"]
    checks = []
    for method in CONTRASTIVE_METHODS:
        if method in rows:
            value = rows[method]["scores"]["knn|0.01"]
            # CPC's encoder (patches -> backbone -> mean) has its own random init.
            random_knn = rows.get(f"{method} at random init", rows["random init"])["scores"]["knn|0.01"]
            checks.append(
                {
                    "goal": f"{method}: kNN at 1% labels >= random init + 10 points",
                    "value": f"{value:.4f} vs {random_knn:.4f} ({100 * (value - random_knn):+.1f} points)",
                    "met": bool(value >= random_knn + 0.10),
                }
            )
    if "moco" in rows and "simclr" in rows:
        moco, simclr = rows["moco"]["scores"]["linear|1"], rows["simclr"]["scores"]["linear|1"]
        checks.append(
            {
                "goal": "MoCo within 2 points of SimCLR on linear 100%",
                "value": f"{moco:.4f} vs {simclr:.4f} ({100 * (moco - simclr):+.1f} points)",
                "met": bool(moco >= simclr - 0.02),
            }
        )
    if "moco" in rows:
        ratio = rows["moco"]["speed"]["ratio"]
        checks.append({"goal": "MoCo images/s ratio >= 0.4", "value": f"{ratio:.3f}", "met": bool(ratio >= 0.4)})
    if "deep_cluster" in rows and "clustering_share" in rows["deep_cluster"]:
        share = rows["deep_cluster"]["clustering_share"]
        checks.append(
            {
                "goal": "DeepCluster's clustering <= 15% of its epoch time",
                "value": f"{100 * share:.1f}%",
                "met": bool(share <= 0.15),
            }
        )
    parts = rows.get("deep_cluster", {}).get("clustering_parts")
    if parts:
        backend = rows["deep_cluster"].get("kmeans_backend", "sklearn")
        share = (parts["pca_seconds"] + parts[f"kmeans_{backend}_seconds"]) / rows["deep_cluster"][
            "median_epoch_seconds"
        ]
        checks.append(
            {
                "goal": f"DeepCluster's PCA + k-means ({backend}) alone <= 15% of its epoch time (no feature pass)",
                "value": f"{100 * share:.1f}%",
                "met": bool(share <= 0.15),
            }
        )
    return checks


def markdown(result):
    lines = [
        f"Fashion-MNIST, {result['backbone']['class']}-{result['backbone']['depth']} (width "
        f"{result['backbone']['width']}) for every method, batch {result['batch_size']} (CPC: its config's, when "
        "smaller), "
        f"{result['budget_minutes']:g} minutes of training each on {result['train_images']} images; probes on "
        f"class-balanced label fractions (seed {result['seed']}), scored on {result['test_images']} test images.",
        "",
        "| representation | "
        + " | ".join(f"{'kNN' if p == 'knn' else p} {f * 100:g}%" for p in PROTOCOLS for f in LABEL_FRACTIONS)
        + " | epochs | train s | images/s ÷ supervised |",
        "|" + "---|" * (4 + len(PROTOCOLS) * len(LABEL_FRACTIONS)),
    ]
    for name, row in result["rows"].items():
        cells = [f"{row['scores'][f'{p}|{f:g}']:.4f}" for p in PROTOCOLS for f in LABEL_FRACTIONS]
        if "speed" in row:
            cells += [
                f"{row['epochs_started']} of {row['planned_epochs']}",
                f"{row['train_seconds']:.0f}",
                f"{row['speed']['ratio']:.3f}",
            ]
        else:
            cells += ["-", "-", "-"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    parts = result["rows"].get("deep_cluster", {}).get("clustering_parts")
    if parts:
        lines += [
            "",
            f"DeepCluster's clustering of {parts['shape'][0]} images by parts (seconds): features "
            f"{parts['features_seconds']:.1f}, PCA + whitening to {parts['shape'][1]} {parts['pca_seconds']:.1f}, "
            f"k-means (k = {parts['k']}) "
            + ", ".join(f"{b} {parts[f'kmeans_{b}_seconds']:.1f}" for b in ("numpy", "tf", "sklearn"))
            + "; NMI of the tf and sklearn partitions with numpy's "
            + ", ".join(f"{v:.3f}" for v in parts["nmi_numpy_vs"].values())
            + ".",
        ]
    lines += ["", "| goal | measured | met |", "|---|---|---|"]
    lines += [f"| {g['goal']} | {g['value']} | {'yes' if g['met'] else 'no'} |" for g in result["goals"]]
    lines += ["", f"Machine: {result.get('machine', 'unknown')}."]
    return "\n".join(lines) + "\n"
