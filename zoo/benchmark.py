"""Benchmarks with a fixed budget: quality next to baselines, speed as ratios.

    python -m zoo.benchmark --suite=simclr --output_dir=benchmarks/simclr
    python -m zoo.benchmark --suite=semi_supervised --output_dir=benchmarks/semi_supervised
    python -m zoo.benchmark --suite=semi_supervised --budget=converged   (resumable; --budget=study chose it)
    python -m zoo.benchmark --suite=semi_supervised_speed --output_dir=benchmarks/semi_supervised_speed
    python -m zoo.benchmark --suite=pretext --output_dir=benchmarks/pretext
    python -m zoo.benchmark --suite=word2vec --output_dir=benchmarks/word2vec
    python -m zoo.benchmark --suite=bert --output_dir=benchmarks/bert
    python -m zoo.benchmark --suite=density --output_dir=benchmarks/density
    python -m zoo.benchmark --suite=contrastive --output_dir=benchmarks/contrastive
    python -m zoo.benchmark --suite=xla --output_dir=benchmarks/xla
    python -m zoo.benchmark --suite=accelerator --output_dir=benchmarks/accelerator  (on a GPU)

Writes `results.json` and `results.md` (a Markdown table) into output_dir.
Speed is a ratio of two throughputs measured in the same process, step for
step in alternation, because absolute times on shared machines drift.
"""

import os
import time

from absl import app, flags

from zoo.benchmarks import machine
from zoo.benchmarks.speed import throughput_ratio

FLAGS = flags.FLAGS
SUITE_MODULES = (
    "pretext",
    "word2vec",
    "bert",
    "density",
    "contrastive",
    "xla",
    "accelerator",
    "input_pipeline",
    "semi_supervised",
    "semi_supervised_speed",
)  # zoo/benchmarks/<suite>.py: run(output_dir, quick), markdown(result)
flags.DEFINE_enum("suite", "simclr", ["simclr", *SUITE_MODULES], "Benchmark suite.")
flags.DEFINE_string("output_dir", None, "Where results.json and results.md go (default benchmarks/SUITE).")
flags.DEFINE_integer("epochs", None, "Pretraining epochs (default: the suite's budget).")
flags.DEFINE_integer("train_size", None, "Pretraining images (default: all).")
flags.DEFINE_bool("quick", False, "A tiny budget, to check the benchmark itself runs.")
flags.DEFINE_bool(
    "speed_only",
    False,
    "simclr: measure the speed ratio again (on a quiet machine) and keep the "
    "quality results of output_dir/results.json.",
)
flags.DEFINE_integer("seed", 0, "Seed of the run and of the labelled subsets (simclr).")
flags.DEFINE_list("seeds", ["0", "1"], "Seeds of the labelled subsets and runs (semi_supervised).")
flags.DEFINE_list("num_labels", ["100", "1000"], "Label budgets (semi_supervised).")
flags.DEFINE_list("methods", None, "Methods to run (semi_supervised, pretext, density, contrastive; default all).")
flags.DEFINE_float("budget_minutes", None, "Training minutes of each method (contrastive; default the suite's).")
flags.DEFINE_integer("steps", None, "Training steps of every run (semi_supervised; default the suite's budget).")
flags.DEFINE_enum(
    "budget",
    "short",
    ["short", "study", "converged"],
    "semi_supervised: 800 steps per run, the learning-curve study that chose the converged budget, or the "
    "converged budget (resumable: finished runs are kept in OUTPUT_DIR/finished).",
)

LABEL_FRACTIONS = (0.01, 0.1, 1.0)


def simclr_suite(output_dir, epochs=None, train_size=None, quick=False, seed=0, speed_only=False):
    import keras

    from keras_ssl.data import load_fashion_mnist
    from keras_ssl.evaluation import evaluate_encoder, random_init_copy
    from zoo import runs
    from zoo.configs.simclr import TUNED_BACKBONE
    from zoo.recipes.images import build_backbone, build_method

    data = load_fashion_mnist()
    config = runs.resolve_config("simclr", "fashion_mnist", quick=True, seed=seed, knn_every=5)
    config["epochs"] = epochs or (1 if quick else 10)
    config["train_size"] = train_size or (1024 if quick else None)
    config["batch_size"] = 128 if quick else 256
    if not quick:  # --quick is a smoke test: it keeps the narrower backbone
        config["backbone"] = {**config["backbone"], **TUNED_BACKBONE}
    pretrain = data.subset(train_size=config["train_size"], seed=seed) if config["train_size"] else data
    evaluation = data.subset(train_size=2000, test_size=1000, seed=seed) if quick else data

    def make_ssl():
        keras.utils.set_random_seed(seed)
        ssl = build_method(config, build_backbone(config, data.image_shape))
        ssl.compile(optimizer=keras.optimizers.Adam(1e-3))
        return ssl

    def make_supervised():
        keras.utils.set_random_seed(seed)
        backbone = build_backbone(config, data.image_shape)
        classifier = keras.Sequential([backbone, keras.layers.Dense(data.num_classes)])
        classifier.compile(
            optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
        return classifier

    def measure_speed():
        speed = throughput_ratio(
            make_ssl,
            make_supervised,
            data.x_train,
            data.y_train,
            config["batch_size"],
            steps=5 if quick else 30,
            rounds=1 if quick else 5,
        )
        print(
            f"SimCLR {speed['ssl_images_per_s']:.0f} images/s, supervised {speed['supervised_images_per_s']:.0f} "
            f"images/s, ratio {speed['ratio']:.3f}",
            flush=True,
        )
        return speed

    if speed_only:
        path = os.path.join(output_dir, "results.json")
        if not os.path.exists(path):
            raise runs.RunError(f"--speed_only needs an earlier {path}: run the suite without it first")
        result = runs.read_json(path)
        result["speed"] = measure_speed()
        return result

    start = time.time()
    model, history = runs.train(config, pretrain, os.path.join(output_dir, "simclr_run"), verbose=2)
    pretrain_seconds = time.time() - start

    encoders = {"SimCLR": model.encoder, "random init": random_init_copy(model.encoder, seed), "raw pixels": None}
    quality = {}
    for name, encoder in encoders.items():
        for protocol in ("knn", "linear"):
            for fraction in LABEL_FRACTIONS:
                accuracy = evaluate_encoder(encoder, evaluation, protocol, fraction, seed)
                quality[f"{name}|{protocol}|{fraction:g}"] = accuracy
                print(f"{name:12s} {protocol:6s} {fraction:>5g} labels: {accuracy:.4f}", flush=True)

    speed = measure_speed()
    return {
        "suite": "simclr",
        "config": config,
        "pretrain_images": len(pretrain.x_train),
        "pretrain_seconds": pretrain_seconds,
        "final_loss": history["loss"][-1],
        "evaluation_train_images": len(evaluation.x_train),
        "evaluation_test_images": len(evaluation.x_test),
        "quality": quality,
        "speed": speed,
    }


def simclr_markdown(result):
    lines = [
        f"SimCLR on Fashion-MNIST: {result['config']['backbone']['class']}-{result['config']['backbone']['depth']} "
        f"(width {result['config']['backbone']['width']}), {result['config']['epochs']} epochs on "
        f"{result['pretrain_images']} images, batch {result['config']['batch_size']}; evaluated on "
        f"{result['evaluation_test_images']} test images; labelled subsets class-balanced, seed "
        f"{result['config']['seed']}.",
        "",
    ]
    header = (
        "| representation | "
        + " | ".join(f"{p} {int(f * 100)}%" for p in ("kNN", "linear") for f in LABEL_FRACTIONS)
        + " |"
    )
    lines += [header, "|" + "---|" * (1 + 2 * len(LABEL_FRACTIONS))]
    for name in ("SimCLR", "random init", "raw pixels"):
        cells = [f"{result['quality'][f'{name}|{p}|{f:g}']:.4f}" for p in ("knn", "linear") for f in LABEL_FRACTIONS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    speed = result["speed"]
    lines += [
        "",
        "| SimCLR images/s | supervised images/s | ratio |",
        "|---|---|---|",
        f"| {speed['ssl_images_per_s']:.0f} | {speed['supervised_images_per_s']:.0f} | {speed['ratio']:.3f} |",
        "",
        f"Machine: {result['machine']}; pretraining took {result['pretrain_seconds']:.0f} s.",
    ]
    return "\n".join(lines) + "\n"


def main(argv):
    del argv
    from zoo.errors import exit_on_user_error
    from zoo.runs import write_json_atomic

    with exit_on_user_error():
        import keras_ssl  # noqa: F401

        output_dir = FLAGS.output_dir or os.path.join("benchmarks", FLAGS.suite)
        os.makedirs(output_dir, exist_ok=True)
        if FLAGS.suite == "simclr":
            result = simclr_suite(output_dir, FLAGS.epochs, FLAGS.train_size, FLAGS.quick, FLAGS.seed, FLAGS.speed_only)
            markdown = simclr_markdown
        elif FLAGS.suite in SUITE_MODULES:
            import importlib

            module = importlib.import_module(f"zoo.benchmarks.{FLAGS.suite}")
            kwargs = (
                {"methods": FLAGS.methods}
                if FLAGS.suite in ("pretext", "density", "contrastive", "xla", "semi_supervised_speed")
                else {}
            )
            if FLAGS.suite == "contrastive":
                kwargs["budget_minutes"] = FLAGS.budget_minutes
            if FLAGS.suite == "semi_supervised":
                kwargs = {
                    "num_labels_list": [int(n) for n in FLAGS.num_labels],
                    "seeds": [int(seed) for seed in FLAGS.seeds],
                    "methods": FLAGS.methods,
                    "steps": FLAGS.steps,
                    "budget": FLAGS.budget,
                }
            result = module.run(output_dir, quick=FLAGS.quick, **kwargs)
            markdown = module.markdown
        result["machine"] = machine()
        stem = result.pop("stem", "results")  # The file names of a suite's other tables (e.g. "converged").
        write_json_atomic(os.path.join(output_dir, f"{stem}.json"), result)
        table = markdown(result)
        with open(os.path.join(output_dir, f"{stem}.md"), "w") as f:
            f.write(table)
        print("\n" + table)
        print(f"Wrote {output_dir}/{stem}.json and {stem}.md")
    return 0


if __name__ == "__main__":
    app.run(main)
