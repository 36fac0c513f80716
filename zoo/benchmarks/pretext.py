"""The vision pretext family on Fashion-MNIST: a linear probe on every stage.

    python -m zoo.benchmark --suite=pretext --output_dir=benchmarks/pretext

Each pretext method trains its `quick` config (the shared ConvNet(32, 64,
128) backbone; grey methods on Fashion-MNIST, colour methods on photo crops)
through `zoo.runs.train`, so a finished run is reused when the suite runs
again. Then the frozen backbone's stages (block1..block3) are each
average-pooled to at most 2048 features and probed with logistic regression
on a class-balanced Fashion-MNIST subset (scored on the whole test split),
at two feature budgets (256 and 2048 per stage), next to the same backbone at
random initialisation and trained with labels (the supervised reference;
same number of epochs over the same images as the grey pretext runs).

The stacked denoising autoencoder (an MLP, trained greedily layer by
layer) gets its own table: a probe on each layer and supervised
fine-tuning, each against the same MLP at random initialisation.

Writes results.json, results.md and the PNG grids (inpainting by the L2-only
and L2+adversarial context encoders, colourisations, inputs denoised by a DAE trained for each corruption).
"""

import os
import time

# The suite's methods, in the order of its tables.
PRETEXT_METHODS = (
    "rotation",
    "jigsaw",
    "relative_patch",
    "context_encoder",
    "colorization",
    "split_brain",
    "denoising_autoencoder",
)
PROBE_TRAIN = 5000  # class-balanced probe training images; the probe is scored on the whole test split
PROBE_DIMS = (256, 2048)  # features per stage after pooling: a compact probe and the papers' wide one


def _train_method(method, output_dir, data_by_name, seed, quick, overrides=None, run_name=None):
    from zoo import runs

    config = runs.resolve_config(method, None, quick=True, seed=seed)
    config.update(overrides or {})
    dataset_name = config["dataset"]
    if quick:
        config["epochs"] = 1
        config["train_size"] = min(config.get("train_size") or 512, 512)
    config["knn_every"] = None
    dataset = data_by_name(dataset_name)
    if config.get("train_size") and config["train_size"] < len(dataset.x_train):
        dataset = dataset.subset(train_size=config["train_size"], seed=seed)
    run_dir = os.path.join(output_dir, "runs", run_name or method)
    config["image_shape"] = list(dataset.image_shape)
    model_path = os.path.join(run_dir, runs.MODEL_FILE)
    if os.path.exists(model_path) and runs.read_json(os.path.join(run_dir, runs.CONFIG_FILE)) == config:
        model, _ = runs.load_run(run_dir)
        seconds = runs.read_json(os.path.join(run_dir, "seconds.json"))["seconds"]
        print(f"{method}: reusing {run_dir}", flush=True)
        return model, config, seconds
    if os.path.exists(run_dir):
        import shutil

        shutil.rmtree(run_dir)
    start = time.time()
    model, _ = runs.train(config, dataset, run_dir, verbose=2)
    seconds = time.time() - start
    runs.write_json_atomic(os.path.join(run_dir, "seconds.json"), {"seconds": seconds})
    return model, config, seconds


def _supervised_backbone(train, epochs, batch_size, seed):
    import keras

    from keras_ssl.backbones import ConvNet

    keras.utils.set_random_seed(seed)
    backbone = ConvNet(input_shape=train.image_shape, filters=(32, 64, 128))
    classifier = keras.Sequential([backbone, keras.layers.Dense(train.num_classes)])
    classifier.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    classifier.fit(train.x_train, train.y_train, batch_size=batch_size, epochs=epochs, verbose=2)
    return backbone


def run(output_dir, quick=False, methods=None, seed=0):
    """Trains every pretext method (or `methods`) and probes each stage of
    its backbone; returns the results dict and writes results.json/.md."""
    from keras_ssl.data import load_dataset, load_fashion_mnist
    from keras_ssl.evaluation import random_init_copy, stage_probe_accuracies
    from zoo import configs

    cache = {}

    def data_by_name(name):
        if name not in cache:
            cache[name] = load_dataset(name)
        return cache[name]

    fmnist = load_fashion_mnist()
    cache["fashion_mnist"] = fmnist
    probe = fmnist.subset(train_size=500 if quick else PROBE_TRAIN, test_size=300 if quick else None, seed=seed)
    methods = list(methods or PRETEXT_METHODS)

    def probe_backbone(backbone):
        return {
            dim: stage_probe_accuracies(backbone, probe.x_train, probe.y_train, probe.x_test, probe.y_test, max_dim=dim)
            for dim in PROBE_DIMS
        }

    def row(accuracies, **extra):
        return {
            "stages": {str(d): a for d, a in accuracies.items()},
            "best": {str(d): max(a.values()) for d, a in accuracies.items()},
            **extra,
        }

    rows, trained = {}, {}
    for method in methods:
        model, config, seconds = _train_method(method, output_dir, data_by_name, seed, quick)
        trained[method] = model
        accuracies = probe_backbone(model.backbone)
        rows[method] = row(
            accuracies,
            train_seconds=seconds,
            epochs=config["epochs"],
            train_images=config.get("train_size") or len(data_by_name(config["dataset"]).x_train),
            dataset=config["dataset"],
        )
        print(f"{method}: {accuracies}", flush=True)

    reference = next(iter(trained.values())).backbone
    random_accuracies = probe_backbone(random_init_copy(reference, seed))
    rows["random init"] = row(random_accuracies)
    grey_config = configs.get_config("rotation", quick=True)
    supervised_train = fmnist.subset(train_size=512 if quick else grey_config["train_size"], seed=seed)
    supervised = _supervised_backbone(supervised_train, 1 if quick else grey_config["epochs"], 128, seed)
    supervised_accuracies = probe_backbone(supervised)
    rows["supervised"] = row(
        supervised_accuracies,
        dataset="fashion_mnist (labels)",
        epochs=1 if quick else grey_config["epochs"],
        train_images=len(supervised_train.x_train),
    )

    result = {
        "suite": "pretext",
        "probe_train_images": len(probe.x_train),
        "probe_test_images": len(probe.x_test),
        "probe_dims": list(PROBE_DIMS),
        "seed": seed,
        "rows": rows,
        "figures": write_figures(output_dir, trained, fmnist, seed, quick),
    }
    if "denoising_autoencoder" in methods:
        result["stacked_denoising"] = stacked_denoising(fmnist, probe, quick, seed)
    return result


def stacked_denoising(fmnist, probe, quick, seed):
    """SDAE (MLP 256-128, masking 25%) pretrained greedily on Fashion-MNIST
    images disjoint from the probe's; per-layer probe and fine-tuning
    (1000 labelled images, 10 epochs) against the MLP at random init."""
    import keras
    import numpy as np

    from keras_ssl.backbones import MLP
    from keras_ssl.evaluation import random_init_copy, stage_probe_accuracies
    from keras_ssl.methods import StackedDenoisingAutoencoder

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(fmnist.x_train))
    size = 1000 if quick else 20000
    pretrain = fmnist.x_train[order[:size]]
    labelled = order[size : size + 1000]
    x_labelled, y_labelled = fmnist.x_train[labelled], fmnist.y_train[labelled]
    keras.utils.set_random_seed(seed)
    backbone = MLP(input_shape=fmnist.image_shape, units=(256, 128))
    random_backbone = random_init_copy(backbone, seed=seed)
    model = StackedDenoisingAutoencoder(backbone, noise="masking", noise_level=0.25, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    start = time.time()
    model.pretrain(pretrain, epochs_per_layer=1 if quick else 10, batch_size=64, verbose=2)
    seconds = time.time() - start

    def probes(encoder):
        return stage_probe_accuracies(encoder, probe.x_train, probe.y_train, probe.x_test, probe.y_test)

    def fine_tuned(sdae):
        keras.utils.set_random_seed(seed)
        classifier = sdae.fine_tune(
            x_labelled, y_labelled, num_classes=fmnist.num_classes, epochs=10, batch_size=64, verbose=0
        )
        return classifier.evaluate(probe.x_test, probe.y_test, verbose=0, return_dict=True)["accuracy"]

    result = {
        "pretrain_images": len(pretrain),
        "epochs_per_layer": 1 if quick else 10,
        "pretrain_seconds": seconds,
        "probe": {"sdae": probes(model.backbone), "random init": probes(random_backbone)},
    }
    result["fine_tuned"] = {
        "sdae": fine_tuned(model),
        "random init": fine_tuned(StackedDenoisingAutoencoder(random_backbone, seed=seed)),
    }
    print(f"stacked denoising autoencoder: {result}", flush=True)
    return result


def write_figures(output_dir, trained, fmnist, seed, quick):
    """The issue's PNG grids (inpainting by the L2-only and the L2 +
    adversarial context encoder, colourisations, denoised inputs for each
    corruption); returns {name: path} of those written."""
    import numpy as np

    from keras_ssl.augment import central_mask
    from keras_ssl.evaluation import inpainting_comparison, plot_colorizations, plot_denoising_grid

    figures = {}
    images = fmnist.x_test[:8]
    if "context_encoder" in trained:
        l2_only, _, _ = _train_method(
            "context_encoder",
            output_dir,
            lambda name: fmnist,
            seed,
            quick,
            overrides=_model_overrides("context_encoder", adversarial_weight=0.0),
            run_name="context_encoder_l2",
        )
        path = os.path.join(output_dir, "inpainting.png")
        figures["inpainting"] = inpainting_comparison(
            {"L2 only": l2_only, "L2 + adversarial": trained["context_encoder"]},
            images,
            np.asarray(central_mask(images)),
            path,
        )
    colour = [name for name in ("colorization", "split_brain") if name in trained]
    if colour:
        from keras_ssl.data import load_photos

        photos = load_photos(num_train=8, num_test=8, seed=seed).x_test
        for name in colour:
            figures[f"{name}_photos"] = plot_colorizations(
                trained[name], photos, os.path.join(output_dir, f"{name}_photos.png")
            )
    if "denoising_autoencoder" in trained:
        # One DAE per corruption (the config's own, masking, is the table's).
        from keras_ssl.augment.corruptions import NOISE_TYPES

        by_noise = {}
        for noise in NOISE_TYPES:
            model = trained["denoising_autoencoder"]
            if model.noise != noise:
                model, _, _ = _train_method(
                    "denoising_autoencoder",
                    output_dir,
                    lambda name: fmnist,
                    seed,
                    quick,
                    overrides=_model_overrides("denoising_autoencoder", noise=noise, noise_level=None),
                    run_name=f"denoising_autoencoder_{noise}",
                )
            by_noise[noise] = model
        figures["denoising"] = plot_denoising_grid(
            by_noise, images, os.path.join(output_dir, "denoising.png"), seed=seed
        )
    return figures


def _model_overrides(method, **changes):
    """Config overrides of `method`'s quick config with `changes` to its
    model arguments (a value of None removes the argument)."""
    from zoo import runs

    spec = dict(runs.resolve_config(method, None, quick=True, seed=0)["model"])
    spec.update(changes)
    return {"model": {k: v for k, v in spec.items() if v is not None}}


def markdown(result):
    rows = result["rows"]
    lines = []
    for dim in (str(d) for d in result["probe_dims"]):
        stages = list(next(iter(rows.values()))["stages"][dim])
        lines += [
            f"Linear probe (logistic regression) on each frozen stage of ConvNet(32, 64, 128), each stage "
            f"average-pooled to <= {dim} features; Fashion-MNIST, {result['probe_train_images']} class-balanced "
            f"training images, all {result['probe_test_images']} test images, seed {result['seed']}.",
            "",
            "| method | pretrained on | " + " | ".join(stages) + " | best |",
            "|---|---|" + "---|" * (len(stages) + 1),
        ]
        for name, row in rows.items():
            where = row.get("dataset", "-")
            if row.get("epochs"):
                where = f"{where}, {row['train_images']} images x {row['epochs']} epochs"
            cells = [f"{row['stages'][dim][s]:.4f}" for s in stages]
            lines.append(f"| {name} | {where} | " + " | ".join(cells) + f" | {row['best'][dim]:.4f} |")
        lines.append("")
    sdae = result.get("stacked_denoising")
    if sdae:
        layers = list(sdae["probe"]["sdae"])
        lines += [
            f"Stacked denoising autoencoder, MLP (256, 128) sigmoid, masking 25%, "
            f"{sdae['epochs_per_layer']} epochs per layer on {sdae['pretrain_images']} images "
            f"({sdae['pretrain_seconds']:.0f} s); probe as above, fine-tuning on 1000 labelled images "
            "(10 epochs):",
            "",
            "| MLP | " + " | ".join(layers) + " | fine-tuned |",
            "|---|" + "---|" * (len(layers) + 1),
        ]
        for name in ("sdae", "random init"):
            cells = [f"{sdae['probe'][name][layer]:.4f}" for layer in layers]
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {sdae['fine_tuned'][name]:.4f} |")
        lines.append("")
    if result.get("figures"):
        lines += ["Figures: " + ", ".join(f"`{os.path.basename(p)}`" for p in result["figures"].values()), ""]
    lines += [f"Machine: {result.get('machine', '?')}."]
    return "\n".join(lines) + "\n"
