"""Semi-supervised methods next to supervised-only on the same labels and
the fully supervised reference: Fashion-MNIST test accuracy per label
budget and seed.

    python -m zoo.benchmark --suite=semi_supervised --output_dir=benchmarks/semi_supervised
"""

import os
import shutil
import time

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


def run(output_dir, num_labels_list, seeds, methods=None, steps=None, quick=False):
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


def markdown(result):
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
