"""Steps/s and images/s of every semi-supervised method's train step next to
plain supervised `fit` of the same backbone on as many images per step.

    python -m zoo.benchmark --suite=semi_supervised_speed --output_dir=benchmarks/semi_supervised_speed
    python -m zoo.benchmark --suite=semi_supervised_speed --methods=mix_match,vat

Each method is built as the semi-supervised suite's converged runs build it
(`zoo.benchmarks.semi_supervised.run_config`: ConvNet(16, 32, 64), the
method's labelled batch and unlabelled ratio, 1000 labels). A step of it
sees `batch_size * (1 + unlabelled_ratio)` images (labelled and
unlabelled); the reference is a `keras.Sequential` of the same backbone and
a softmax classifier, compiled with Adam and a cross-entropy and fit on
batches of that many labelled images. The two fit `STEPS` steps at a time
in alternation for `ROUNDS` rounds after a round that traces; images/s come
from the median step time (each call's first step left out) and the ratio
is the median over rounds of each round's paired ratio (method images/s
over supervised images/s), which resists the machine's drift. XLA on this
CPU is measured by `--suite=xla` (slower for every method here).
"""

import time

import numpy as np

STEPS, ROUNDS = 20, 3
QUICK = {"steps": 3, "rounds": 1, "train_size": 1024}


def measure(method, quick=False, seed=0):
    """`{"steps_per_s", "images_per_s", "supervised_images_per_s", "ratio", ...}`."""
    import keras
    import tensorflow as tf

    from keras_ssl.data import load_fashion_mnist
    from zoo import runs
    from zoo.benchmarks.semi_supervised import run_config
    from zoo.benchmarks.speed import alternating_step_seconds, fit_steps
    from zoo.recipes import recipe_for
    from zoo.recipes.images import build_backbone

    steps, rounds = (QUICK["steps"], QUICK["rounds"]) if quick else (STEPS, ROUNDS)
    data = load_fashion_mnist()
    if quick:
        data = data.subset(train_size=QUICK["train_size"], test_size=100, seed=seed)
    config = run_config(method, 1000 if not quick else 100, seed, "converged", 1000 if not quick else 40, quick)
    runs.complete_config(config, data)
    keras.utils.set_random_seed(seed)
    model, fit_data, _ = recipe_for(config).build(config, data, None, tf.distribute.get_strategy())
    per_step = config["batch_size"] * (1 + config.get("unlabelled_ratio", 1))

    keras.utils.set_random_seed(seed)
    supervised = keras.Sequential([build_backbone(config, data.image_shape), keras.layers.Dense(data.num_classes)])
    supervised.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    labelled = (
        tf.data.Dataset.from_tensor_slices((data.x_train.astype("float32"), data.y_train))
        .shuffle(len(data.y_train), seed=seed)
        .repeat()
        .batch(per_step, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    inputs = {"method": fit_data.repeat(), "supervised": labelled}
    models = {"method": model, "supervised": supervised}
    start = time.time()
    seconds = alternating_step_seconds(
        {name: fit_steps(models[name], inputs[name], steps + 1) for name in models}, rounds
    )
    method_step, supervised_step = float(np.median(seconds["method"])), float(np.median(seconds["supervised"]))
    paired = [b / a for a, b in zip(seconds["method"], seconds["supervised"])]
    return {
        "batch_size": config["batch_size"],
        "unlabelled_ratio": config.get("unlabelled_ratio", 1),
        "images_per_step": per_step,
        "steps_per_s": 1.0 / method_step,
        "images_per_s": per_step / method_step,
        "supervised_steps_per_s": 1.0 / supervised_step,
        "supervised_images_per_s": per_step / supervised_step,
        "ratio": float(np.median(paired)),
        "round_ratios": paired,
        "seconds": time.time() - start,
    }


def run(output_dir, quick=False, methods=None):
    from zoo.benchmarks.semi_supervised import SEMI_SUPERVISED_METHODS

    rows = {}
    for method in methods or SEMI_SUPERVISED_METHODS:
        rows[method] = measure(method, quick=quick)
        row = rows[method]
        print(
            f"{method}: {row['steps_per_s']:.1f} steps/s, {row['images_per_s']:.0f} images/s; supervised fit "
            f"{row['supervised_images_per_s']:.0f} images/s; ratio {row['ratio']:.3f}",
            flush=True,
        )
    return {
        "suite": "semi_supervised_speed",
        "steps": QUICK["steps"] if quick else STEPS,
        "rounds": QUICK["rounds"] if quick else ROUNDS,
        "rows": rows,
    }


def markdown(result):
    lines = [
        "Train-step speed of each semi-supervised method (ConvNet(16, 32, 64), the converged runs' config) and of "
        "plain supervised `fit` of the same backbone on as many images per step (labelled + unlabelled), "
        f"measured in alternation ({result['rounds']} rounds of {result['steps']} steps after a tracing round; "
        "ratio: median of the paired ratios of images/s).",
        "",
        "| method | images per step (labelled + unlabelled) | steps/s | images/s | supervised fit images/s | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for method, row in result["rows"].items():
        labelled = row["batch_size"]
        lines.append(
            f"| {method} | {row['images_per_step']} ({labelled} + {row['images_per_step'] - labelled}) | "
            f"{row['steps_per_s']:.1f} | {row['images_per_s']:.0f} | {row['supervised_images_per_s']:.0f} | "
            f"{row['ratio']:.3f} |"
        )
    lines += ["", f"Machine: {result.get('machine', '?')}.", ""]
    return "\n".join(lines)
