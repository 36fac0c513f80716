"""The density models on binarised Fashion-MNIST: test negative log-likelihood.

    python -m zoo.benchmark --suite=density --output_dir=benchmarks/density

Trains FVSBN, NADE, PixelCNN and the gated PixelCNN through `zoo.runs.train`
(each method's config, the budget below) on Fashion-MNIST binarised at half
the intensity range, and reports each model's test negative log-likelihood in
nats per image and bits per dimension beside independent pixels (one
Bernoulli per pixel with the training marginals: the floor to beat), with
training time, parameter count and samples drawn per second; writes
`samples.png` (draws of each model) and `completions.png` (the bottom half
of test images drawn by each model). A finished run with the same config is
reused.
"""

import os
import time

import numpy as np

# (row name, config module, config changes) in the order of the table.
MODELS = (
    ("FVSBN", "fvsbn", {}),
    ("NADE", "nade", {}),
    ("PixelCNN", "pixelcnn", {}),
    ("gated PixelCNN", "pixelcnn", {"model": {"class": "PixelCNN", "gated": True}}),
)
BUDGET = {"epochs": 2, "train_size": 10000, "test_size": 2000}
QUICK_BUDGET = {"epochs": 1, "train_size": 1000, "test_size": 500}
SAMPLES = 16
FIGURE_IMAGES = 8


def run(output_dir, quick=False, seed=0, methods=None):
    from keras_ssl.data import load_fashion_mnist
    from zoo import runs
    from zoo.recipes.density import binarized, independent_pixels_nll

    budget = QUICK_BUDGET if quick else BUDGET
    data = load_fashion_mnist()
    data = data.subset(train_size=budget["train_size"], test_size=budget.get("test_size"), seed=seed)
    rows = {}
    for name, method, changes in MODELS:
        if methods and method not in methods and name not in methods:
            continue
        config = runs.resolve_config(method, "fashion_mnist", seed=seed)
        config.update({**changes, "epochs": budget["epochs"], "train_size": budget["train_size"]})
        binary = binarized(data, config)
        run_dir = os.path.join(output_dir, "runs", _run_name(name))
        result_path = os.path.join(run_dir, "benchmark_result.json")
        if os.path.exists(result_path) and runs.read_json(result_path)["config"] == {
            **config,
            "image_shape": list(binary.image_shape),
        }:
            rows[name] = runs.read_json(result_path)
            print(f"{name}: reusing {run_dir}", flush=True)
            continue
        if os.path.exists(run_dir):
            import shutil

            shutil.rmtree(run_dir)
        start = time.time()
        model, _ = runs.train(config, binary, run_dir, verbose=2)
        seconds = time.time() - start
        evaluation = runs.read_json(os.path.join(run_dir, runs.EVALUATION_FILE))["test"]
        model.sample(2, seed=seed)  # Traced once, untimed.
        start = time.time()
        model.sample(SAMPLES, seed=seed + 1)
        rows[name] = {
            **evaluation,
            "train_seconds": seconds,
            "parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
            "samples_per_second": SAMPLES / (time.time() - start),
            "config": config,
        }
        runs.write_json_atomic(result_path, rows[name])
        print(f"{name}: test NLL {evaluation['test_nll_nats']:.2f} nats ({seconds:.0f} s)", flush=True)
    binary = binarized(data, {"seed": seed})
    baseline = independent_pixels_nll(binary.x_train, binary.x_test)
    figures = _figures(output_dir, rows, binary.x_test[:FIGURE_IMAGES], seed)
    return {
        "suite": "density",
        "dataset": "fashion_mnist (binarised at 0.5)",
        "train_images": len(binary.x_train),
        "test_images": len(binary.x_test),
        "epochs": budget["epochs"],
        "independent_pixels_nll_nats": baseline,
        "dimensions": int(np.prod(binary.image_shape)),
        "rows": {k: {n: v for n, v in r.items() if n != "config"} for k, r in rows.items()},
        "figures": figures,
    }


def _figures(output_dir, rows, test_images, seed):
    """`samples.png` (one row of draws per model) and `completions.png` (test
    images, then each model's draw of their bottom half)."""
    from keras_ssl.evaluation import plot_image_grid
    from zoo import runs

    samples, completions = [], [test_images * 255]
    for name in rows:
        model, _ = runs.load_run(os.path.join(output_dir, "runs", _run_name(name)))
        samples.append(model.sample(len(test_images), seed=seed) * 255)
        completions.append(model.complete(test_images, rows=model.image_shape[0] // 2, seed=seed) * 255)
    names = list(rows)
    return {
        "samples": plot_image_grid(samples, os.path.join(output_dir, "samples.png"), row_titles=names),
        "completions": plot_image_grid(
            completions, os.path.join(output_dir, "completions.png"), row_titles=["test image", *names]
        ),
    }


def _run_name(name):
    return name.replace(" ", "_").lower()


def markdown(result):
    bits = result["dimensions"] * np.log(2.0)
    lines = [
        f"Test negative log-likelihood on {result['dataset']}: {result['train_images']} training and "
        f"{result['test_images']} test images, {result['epochs']} epochs per model.",
        "",
        "| model | NLL (nats/image) | bits/dim | trained parameters | train s | samples/s |",
        "|---|---|---|---|---|---|",
        f"| independent pixels | {result['independent_pixels_nll_nats']:.2f} | "
        f"{result['independent_pixels_nll_nats'] / bits:.4f} | {result['dimensions']} | - | - |",
    ]
    for name, row in result["rows"].items():
        lines.append(
            f"| {name} | {row['test_nll_nats']:.2f} | {row['test_bits_per_dim']:.4f} | {row['parameters']} | "
            f"{row['train_seconds']:.0f} | {row['samples_per_second']:.1f} |"
        )
    lines += ["", f"Machine: {result.get('machine', '?')}."]
    return "\n".join(lines) + "\n"
