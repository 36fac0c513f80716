"""Images/s of every image method's train step with and without XLA, and
SimCLR's with its views made in the input pipeline instead of the step.

    python -m zoo.benchmark --suite=xla --output_dir=benchmarks/xla
    python -m zoo.benchmark --suite=xla --methods=simclr,mix_match

Each method's zoo config (its full recipe: backbone, batch size, augmenter)
is built twice in this process from the same seed, once as Keras compiles
it by default on a CPU (`jit_compile="auto"`: no XLA) and once with
`jit_compile=True` (`keras_ssl.methods.require_jit_compile`), and both fit
the same batches, `STEPS` steps at a time, in alternation for `ROUNDS`
rounds after a first round that traces and compiles. Images/s come from
the median step time (the first step of each call left out); the speed-up
is the median over rounds of each round's paired ratio, which resists the
machine's drift. SimCLR also fits with `keras_ssl.data.with_pipeline_views`
(views made by `tf.data` on the host, overlapping the step) in the same
alternation. Noise As Targets is left out: its step calls SciPy
(`supports_jit = False`).
"""

import time

import numpy as np

FAMILIES = ("semi_supervised", "pretext", "autoencoding", "contrastive")
NOT_XLA = ("noise_as_targets",)
TRAIN_SIZE = 4096
STEPS, ROUNDS = 6, 2
QUICK = {"steps": 2, "rounds": 1, "train_size": 512}


def image_methods():
    from zoo import configs

    return [m for m in configs.methods_of(*FAMILIES) if m not in NOT_XLA and m != "stacked_denoising_autoencoder"]


def measure(method, quick=False, seed=0):
    """`{variant: images/s}` and the paired XLA speed-up of `method`."""
    import keras
    import tensorflow as tf

    from keras_ssl.data import with_pipeline_views
    from keras_ssl.methods import require_jit_compile
    from zoo import runs
    from zoo.benchmarks.speed import alternating_step_seconds, fit_steps
    from zoo.recipes import recipe_for

    settings = QUICK if quick else {"steps": STEPS, "rounds": ROUNDS, "train_size": TRAIN_SIZE}
    config = runs.resolve_config(method, None, quick=quick, seed=seed)
    config["train_size"] = settings["train_size"]
    data = runs.load_data(config)
    runs.complete_config(config, data)
    recipe = recipe_for(config)
    strategy = tf.distribute.get_strategy()
    models, batches = {}, None
    for variant in ("no_xla", "xla"):
        keras.utils.set_random_seed(seed)
        model, fit_data, _ = recipe.build(config, data, None, strategy)
        if variant == "xla":
            require_jit_compile(model)
        if hasattr(model, "cluster"):  # DeepCluster: pseudo-labels before any step (not timed).
            model.cluster(data.x_train)
        models[variant] = model
        batches = fit_data.repeat()
    inputs = {"no_xla": batches, "xla": batches}
    if method == "simclr":
        keras.utils.set_random_seed(seed)
        models["pipeline_views"], fit_data, _ = recipe.build(config, data, None, strategy)
        inputs["pipeline_views"] = with_pipeline_views(fit_data, models["pipeline_views"].augmenter).repeat()
    start = time.time()
    fits = {name: fit_steps(model, inputs[name], settings["steps"] + 1) for name, model in models.items()}
    seconds = alternating_step_seconds(fits, settings["rounds"])
    batch_size = config["batch_size"]
    result = {
        "batch_size": batch_size,
        "backbone": config["backbone"],
        "images_per_s": {name: batch_size / float(np.median(s)) for name, s in seconds.items()},
        "xla_speedup": float(np.median([a / b for a, b in zip(seconds["no_xla"], seconds["xla"])])),
        "round_speedups": [a / b for a, b in zip(seconds["no_xla"], seconds["xla"])],
        "seconds": time.time() - start,
    }
    if "pipeline_views" in seconds:
        result["pipeline_views_speedup"] = float(
            np.median([a / b for a, b in zip(seconds["no_xla"], seconds["pipeline_views"])])
        )
    return result


def run(output_dir, quick=False, methods=None):
    methods = list(methods or image_methods())
    rows = {}
    for method in methods:
        try:
            rows[method] = measure(method, quick=quick)
        except Exception as error:  # Recorded in the table; the other methods go on.
            rows[method] = {"error": f"{type(error).__name__}: {str(error).strip().splitlines()[0][:200]}"}
        print(f"{method}: {rows[method]}", flush=True)
    return {"suite": "xla", "steps": QUICK["steps"] if quick else STEPS, "rounds": 1 if quick else ROUNDS, "rows": rows}


def markdown(result):
    lines = [
        "Train-step images/s on this CPU without XLA (Keras's default here) and with `jit_compile=True`, each "
        f"method's zoo config, measured in alternation in one process ({result['rounds']} rounds of "
        f"{result['steps']} steps after a compiling round; speed-up: median of the paired ratios).",
        "",
        "| method | backbone | batch | images/s, no XLA | images/s, XLA | XLA speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for method, row in result["rows"].items():
        if "error" in row:
            lines.append(f"| {method} | | | {row['error']} | | |")
            continue
        backbone = row["backbone"]
        name = backbone.get("class", "?") + (f"-{backbone['depth']}" if "depth" in backbone else "")
        lines.append(
            f"| {method} | {name} | {row['batch_size']} | {row['images_per_s']['no_xla']:.0f} | "
            f"{row['images_per_s']['xla']:.0f} | {row['xla_speedup']:.2f}x |"
        )
    simclr = result["rows"].get("simclr")
    if simclr and "pipeline_views" in simclr["images_per_s"]:
        lines += [
            "",
            "SimCLR's views made in the train step (default) or in the `tf.data` pipeline "
            "(`--views=pipeline`), no XLA:",
            "",
            "| views | images/s |",
            "|---|---|",
            f"| in the step | {simclr['images_per_s']['no_xla']:.0f} |",
            f"| in the pipeline | {simclr['images_per_s']['pipeline_views']:.0f} |",
            f"| in the step, XLA | {simclr['images_per_s']['xla']:.0f} |",
        ]
    lines += ["", f"Machine: {result.get('machine', '?')}.", ""]
    return "\n".join(lines)
