"""The vision pretext family on Fashion-MNIST: a linear probe on every stage.

    python -m zoo.benchmark --suite=pretext --output_dir=benchmarks/pretext

Each pretext method trains its `quick` config (the shared ConvNet(32, 64,
128) backbone; grey methods on Fashion-MNIST, colour methods on photo crops)
through `zoo.runs.train`, so a finished run is reused when the suite runs
again. Then the frozen backbone's stages (block1..block3) are each
average-pooled to at most 2048 features and probed with logistic regression
on a class-balanced Fashion-MNIST subset, next to the same backbone at
random initialisation and trained with labels (the supervised reference;
same number of epochs over the same images as the grey pretext runs).

Writes results.json, results.md and the PNG grids (inpainting by the L2-only
and L2+adversarial context encoders, colourisations, denoised inputs).
"""

import os
import time

PROBE_TRAIN, PROBE_TEST = 5000, 2000


def _train_method(method, output_dir, data_by_name, seed, quick, overrides=None, run_name=None):
    from zoo import runs

    config = runs.resolve_config(method, None, quick=True, seed=seed)
    config.update(overrides or {})
    dataset_name = config.get("dataset") or "fashion_mnist"
    config["dataset"] = dataset_name
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
    classifier.compile(optimizer=keras.optimizers.Adam(1e-3),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    classifier.fit(train.x_train, train.y_train, batch_size=batch_size, epochs=epochs, verbose=2)
    return backbone


def run(output_dir, quick=False, methods=None, seed=0):
    """Trains every pretext method (or `methods`) and probes each stage of
    its backbone; returns the results dict and writes results.json/.md."""
    from keras_ssl.data import load_dataset, load_fashion_mnist
    from keras_ssl.evaluation import random_init_copy, stage_probe_accuracies
    from zoo import configs, runs

    cache = {}

    def data_by_name(name):
        if name not in cache:
            cache[name] = load_dataset(name)
        return cache[name]

    fmnist = load_fashion_mnist()
    cache["fashion_mnist"] = fmnist
    probe = fmnist.subset(train_size=500 if quick else PROBE_TRAIN, test_size=300 if quick else PROBE_TEST,
                          seed=seed)
    methods = list(methods or configs.PRETEXT)

    def probe_backbone(backbone):
        return stage_probe_accuracies(backbone, probe.x_train, probe.y_train, probe.x_test, probe.y_test)

    rows, trained = {}, {}
    for method in methods:
        model, config, seconds = _train_method(method, output_dir, data_by_name, seed, quick)
        trained[method] = model
        accuracies = probe_backbone(model.backbone)
        rows[method] = {"stages": accuracies, "best": max(accuracies.values()), "train_seconds": seconds,
                        "epochs": config["epochs"], "train_images": config.get("train_size"),
                        "dataset": config["dataset"]}
        print(f"{method}: {accuracies}", flush=True)

    reference = next(iter(trained.values())).backbone
    random_accuracies = probe_backbone(random_init_copy(reference, seed))
    rows["random init"] = {"stages": random_accuracies, "best": max(random_accuracies.values())}
    grey_config = configs.get_config("rotation", quick=True)
    supervised_train = fmnist.subset(train_size=512 if quick else grey_config["train_size"], seed=seed)
    supervised = _supervised_backbone(supervised_train, 1 if quick else grey_config["epochs"], 128, seed)
    supervised_accuracies = probe_backbone(supervised)
    rows["supervised"] = {"stages": supervised_accuracies, "best": max(supervised_accuracies.values()),
                          "epochs": 1 if quick else grey_config["epochs"], "train_images": len(supervised_train.x_train)}

    result = {"suite": "pretext", "probe_train_images": len(probe.x_train), "probe_test_images": len(probe.x_test),
              "seed": seed, "rows": rows, "figures": write_figures(output_dir, trained, fmnist, seed, quick)}
    return result


def write_figures(output_dir, trained, fmnist, seed, quick):
    """The issue's PNG grids; returns their paths."""
    return {}


def markdown(result):
    stages = list(next(iter(result["rows"].values()))["stages"])
    lines = [f"Linear probe (logistic regression) on each frozen stage of ConvNet(32, 64, 128), each stage "
             f"average-pooled to <= 2048 features; Fashion-MNIST, {result['probe_train_images']} class-balanced "
             f"training images, {result['probe_test_images']} test images, seed {result['seed']}.", "",
             "| method | pretrained on | " + " | ".join(stages) + " | best |",
             "|---|---|" + "---|" * (len(stages) + 1)]
    for name, row in result["rows"].items():
        where = row.get("dataset", "-")
        if row.get("epochs"):
            where = f"{where}, {row['train_images']} images x {row['epochs']} epochs"
        cells = [f"{row['stages'][s]:.4f}" for s in stages]
        lines.append(f"| {name} | {where} | " + " | ".join(cells) + f" | {row['best']:.4f} |")
    lines += ["", f"Machine: {result.get('machine', '?')}."]
    return "\n".join(lines) + "\n"
