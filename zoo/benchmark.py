"""Benchmarks with a fixed budget: quality next to baselines, speed as ratios.

    python -m zoo.benchmark --suite=simclr --output_dir=benchmarks/simclr
    python -m zoo.benchmark --suite=semi_supervised --output_dir=benchmarks/semi_supervised
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
import platform
import shutil
import time

from absl import app, flags

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
)  # zoo/benchmarks/<suite>.py: run(output_dir, quick), markdown(result)
flags.DEFINE_enum("suite", "simclr", ["simclr", "semi_supervised", *SUITE_MODULES], "Benchmark suite.")
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

LABEL_FRACTIONS = (0.01, 0.1, 1.0)
# The semi-supervised suite's methods, in the order of its tables.
SEMI_SUPERVISED_METHODS = (
    "supervised",
    "entropy_minimization",
    "pseudo_label",
    "pi_model",
    "temporal_ensembling",
    "mean_teacher",
    "vat",
    "mix_match",
)


def simclr_suite(output_dir, epochs=None, train_size=None, quick=False, seed=0, speed_only=False):
    import keras

    from keras_ssl.data import load_fashion_mnist
    from keras_ssl.evaluation import evaluate_encoder, random_init_copy
    from zoo import runs
    from zoo.recipes.images import build_backbone, build_method

    data = load_fashion_mnist()
    config = runs.resolve_config("simclr", "fashion_mnist", quick=True, seed=seed, knn_every=5)
    config["epochs"] = epochs or (1 if quick else 10)
    config["train_size"] = train_size or (1024 if quick else None)
    config["batch_size"] = 128 if quick else 256
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


def semi_supervised_suite(output_dir, num_labels_list, seeds, methods=None, steps=None, quick=False):
    """Every semi-supervised method next to supervised-only on the same
    labels and the fully supervised reference: same backbone, augmentation,
    optimizer and number of steps; accuracy of each method's classifier on
    the Fashion-MNIST test set, for each label budget and seed."""
    from keras_ssl.data import load_fashion_mnist
    from keras_ssl.evaluation import classifier_accuracy
    from zoo import runs

    data = load_fashion_mnist()
    if quick:
        data = data.subset(train_size=2000, test_size=500, seed=0)
    methods = list(methods or SEMI_SUPERVISED_METHODS)
    steps = steps or (20 if quick else 800)
    epochs = 2 if quick else 4
    runs_done = []

    def run(method, num_labels, seed):
        config = runs.resolve_config(method, "fashion_mnist", seed=seed, num_labels=num_labels)
        config.update(
            {
                "backbone": {"class": "ConvNet", "filters": [16, 32, 64]},
                "epochs": epochs,
                "steps_per_epoch": steps // epochs,
                "rampup_epochs": config.get("rampup_epochs") and max(1, epochs // 2),
                "batch_size": min(config["batch_size"], num_labels),
            }
        )
        if config["optimizer"].get("use_ema"):
            # The papers' 0.999 averages over ~1000 steps: most of a short run.
            config["optimizer"] = {
                **config["optimizer"],
                "ema_momentum": min(config["optimizer"]["ema_momentum"], 0.99),
            }
        name = f"{method}-{num_labels}-seed{seed}"
        run_dir = os.path.join(output_dir, "runs", name)
        result_path = os.path.join(run_dir, "benchmark_result.json")
        if os.path.exists(result_path) and runs.read_json(result_path)["config"] == runs.read_json(
            os.path.join(run_dir, runs.CONFIG_FILE)
        ) == {**config, "image_shape": list(data.image_shape)}:
            result = runs.read_json(result_path)  # Finished earlier with this config: reuse.
        else:
            if os.path.exists(run_dir):
                print(f"{run_dir} holds another config or an unfinished run: training it again", flush=True)
                shutil.rmtree(run_dir)
            start = time.time()
            model, history = runs.train(config, data, run_dir, verbose=2)
            result = {
                "method": method,
                "num_labels": num_labels,
                "seed": seed,
                "seconds": time.time() - start,
                "accuracy": classifier_accuracy(model, data.x_test, data.y_test),
                "steps": steps,
                "config": config,
            }
            runs.write_json_atomic(result_path, result)
        print(f"{name}: test accuracy {result['accuracy']:.4f} ({result['seconds']:.0f} s)", flush=True)
        runs_done.append({k: v for k, v in result.items() if k != "config"})

    for seed in seeds:
        for num_labels in num_labels_list:
            for method in methods:
                run(method, num_labels, seed)
        run("supervised", len(data.y_train), seed)
    return {
        "suite": "semi_supervised",
        "dataset": "fashion_mnist",
        "steps": steps,
        "backbone": "ConvNet(16, 32, 64)",
        "train_images": len(data.x_train),
        "test_images": len(data.x_test),
        "runs": runs_done,
    }


def semi_supervised_markdown(result):
    import numpy as np

    budgets = sorted({r["num_labels"] for r in result["runs"] if r["num_labels"] < result["train_images"]})
    methods = list(dict.fromkeys(r["method"] for r in result["runs"]))
    full = [r["accuracy"] for r in result["runs"] if r["num_labels"] == result["train_images"]]
    seeds = sorted({r["seed"] for r in result["runs"]})
    lines = [
        f"Fashion-MNIST test accuracy of each method's classifier, {result['backbone']}, "
        f"{result['steps']} steps per run, mean ± std over seeds {seeds}; "
        f"{result['test_images']} test images.",
        "",
        "| method | " + " | ".join(f"{n} labels" for n in budgets) + " |",
        "|---|" + "---|" * len(budgets),
    ]

    def cell(values):
        return f"{np.mean(values):.4f} ± {np.std(values):.4f}" if values else "-"

    for method in methods:
        cells = [
            cell([r["accuracy"] for r in result["runs"] if r["method"] == method and r["num_labels"] == n])
            for n in budgets
        ]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines.append(
        f"| fully supervised ({result['train_images']} labels) | " + " | ".join([cell(full)] * len(budgets)) + " |"
    )
    lines += ["", f"Machine: {result['machine']}."]
    return "\n".join(lines) + "\n"


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


def cpu_model():
    """The CPU's model name (as `lscpu` prints it), else the architecture."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main(argv):
    del argv
    from zoo.errors import exit_on_user_error
    from zoo.runs import write_json_atomic

    with exit_on_user_error():
        import tensorflow as tf

        import keras_ssl  # noqa: F401

        output_dir = FLAGS.output_dir or os.path.join("benchmarks", FLAGS.suite)
        os.makedirs(output_dir, exist_ok=True)
        if FLAGS.suite == "simclr":
            result = simclr_suite(output_dir, FLAGS.epochs, FLAGS.train_size, FLAGS.quick, FLAGS.seed, FLAGS.speed_only)
            markdown = simclr_markdown
        elif FLAGS.suite in SUITE_MODULES:
            import importlib

            module = importlib.import_module(f"zoo.benchmarks.{FLAGS.suite}")
            kwargs = {"methods": FLAGS.methods} if FLAGS.suite in ("pretext", "density", "contrastive", "xla") else {}
            if FLAGS.suite == "contrastive":
                kwargs["budget_minutes"] = FLAGS.budget_minutes
            result = module.run(output_dir, quick=FLAGS.quick, **kwargs)
            markdown = module.markdown
        else:
            result = semi_supervised_suite(
                output_dir,
                [int(n) for n in FLAGS.num_labels],
                [int(s) for s in FLAGS.seeds],
                FLAGS.methods,
                FLAGS.steps,
                FLAGS.quick,
            )
            markdown = semi_supervised_markdown
        result["machine"] = f"{cpu_model()}, {os.cpu_count()} CPU cores, TensorFlow {tf.__version__}, " + (
            "GPU" if tf.config.list_physical_devices("GPU") else "no GPU"
        )
        write_json_atomic(os.path.join(output_dir, "results.json"), result)
        table = markdown(result)
        with open(os.path.join(output_dir, "results.md"), "w") as f:
            f.write(table)
        print("\n" + table)
        print(f"Wrote {output_dir}/results.json and results.md")
    return 0


if __name__ == "__main__":
    app.run(main)
