"""Semi-supervised methods next to supervised-only on the same labels and
the fully supervised reference: Fashion-MNIST test accuracy per label
budget and seed, at a short or a converged step budget.

    python -m zoo.benchmark --suite=semi_supervised --output_dir=benchmarks/semi_supervised
    python -m zoo.benchmark --suite=semi_supervised --budget=study
    python -m zoo.benchmark --suite=semi_supervised --budget=converged

`--budget=short` (the default) trains every run 800 steps (under one pass
over the data). `--budget=study` is the learning-curve study that chose
the converged budget: supervised-only at 100 and 1000 labels and on all
60,000, `STUDY_STEPS` steps at a constant learning rate, test accuracy
every `EVAL_EVERY` steps; it reports the first step after which no curve
improves by more than `TOLERANCE` (`study.json`, `study.md`, `study.png`).
`--budget=converged` trains every (method, labels, seed) run
`CONVERGED_STEPS` steps with the papers' schedule shapes (the unsupervised
weight ramped up over the first quarter, a cosine decay of the learning
rate, MixMatch's weight average at 0.999), each in its own run directory
under `OUTPUT_DIR/runs/` (resumed from its last checkpoint when
interrupted), and writes each finished run's result and test-accuracy
curve to `OUTPUT_DIR/finished/` as it finishes; runs finished earlier with
the same config are not trained again, so the table can be completed
across several sittings (and by several processes at once, each given
other `--methods` or `--seeds`). After every run the table
(`converged.json`, `converged.md`) and the curves at 100 labels
(`curves.png`) are written again from every finished run.
"""

import copy
import glob
import os
import shutil
import time

from zoo.benchmarks import machine

BUDGETS = ("short", "study", "converged")
SHORT_STEPS = 800
EVAL_EVERY = 500  # Steps between test evaluations in the study and converged runs.
STUDY_STEPS = 12000
TOLERANCE = 0.005
CONVERGED_STEPS = 10500  # --budget=study on AMD EPYC (2 cores): the latest of the three curves (study.md).
BACKBONE = {"class": "ConvNet", "filters": [16, 32, 64]}

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


def run(output_dir, num_labels_list, seeds, methods=None, steps=None, quick=False, budget="short"):
    """Every semi-supervised method next to supervised-only on the same
    labels and the fully supervised reference: same backbone, augmentation,
    optimizer and number of steps; accuracy of each method's classifier on
    the Fashion-MNIST test set, for each label budget and seed. `budget`:
    `"short"`, `"study"` or `"converged"` (see the module docstring)."""
    from keras_ssl.data import load_fashion_mnist

    if budget not in BUDGETS:
        raise ValueError(f"--budget must be one of {', '.join(BUDGETS)}, got {budget!r}")
    data = load_fashion_mnist()
    if quick:
        data = data.subset(train_size=2000, test_size=500, seed=0)
    if budget == "study":
        return study(output_dir, data, steps or (40 if quick else STUDY_STEPS), quick)
    methods = list(methods or SEMI_SUPERVISED_METHODS)
    if budget == "converged":
        return converged(
            output_dir, data, num_labels_list, seeds, methods, steps or (40 if quick else CONVERGED_STEPS), quick
        )
    return short(output_dir, data, num_labels_list, seeds, methods, steps or (20 if quick else SHORT_STEPS), quick)


def run_config(method, num_labels, seed, budget, steps, quick=False):
    """The zoo config of `method` for one benchmark run: the suite's
    backbone, `steps` steps, the labelled batch at most `num_labels`, and
    the budget's schedule."""
    from zoo import runs

    config = runs.resolve_config(method, "fashion_mnist", seed=seed, num_labels=num_labels)
    config["backbone"] = dict(BACKBONE)
    config["batch_size"] = min(config["batch_size"], num_labels)
    if budget == "short":
        epochs = 2 if quick else 4
        config.update(
            {
                "epochs": epochs,
                "steps_per_epoch": steps // epochs,
                "rampup_epochs": config.get("rampup_epochs") and max(1, epochs // 2),
            }
        )
        if config["optimizer"].get("use_ema"):
            # The papers' 0.999 averages over ~1000 steps: most of a short run.
            config["optimizer"] = {
                **config["optimizer"],
                "ema_momentum": min(config["optimizer"]["ema_momentum"], 0.99),
            }
        return config
    eval_every = 10 if quick else EVAL_EVERY
    if steps % eval_every:
        raise ValueError(f"--steps must be a multiple of {eval_every} (the steps between evaluations), got {steps}")
    epochs = steps // eval_every
    config.update(
        {
            "epochs": epochs,
            "steps_per_epoch": eval_every,
            # Ramped over the first quarter (Laine & Aila: 80 of 300 epochs).
            "rampup_epochs": config.get("rampup_epochs") and max(1, epochs // 4),
        }
    )
    if budget == "converged":
        optimizer = {**config["optimizer"], "schedule": "cosine"}
        if optimizer.get("use_ema") and quick:
            optimizer["ema_momentum"] = 0.9
        config["optimizer"] = optimizer
    return config


def train_run(config, data, run_dir):
    """Trains (or resumes) one run in `run_dir`; returns its test accuracy,
    seconds and the test-accuracy curve (one point per epoch)."""
    from keras_ssl.evaluation import classifier_accuracy
    from zoo import runs

    config_path = os.path.join(run_dir, runs.CONFIG_FILE)
    if os.path.exists(run_dir) and not (
        os.path.exists(config_path) and runs.read_json(config_path) == {**config, "image_shape": list(data.image_shape)}
    ):
        print(f"{run_dir} holds another config: training it again", flush=True)
        shutil.rmtree(run_dir)
    start, seconds = time.time(), None
    if os.path.exists(os.path.join(run_dir, runs.MODEL_FILE)):  # Trained, but its result was not written.
        print(f"{run_dir} finished training earlier: loading it", flush=True)
        model, _ = runs.load_run(run_dir)
        history = runs.JSONHistory(os.path.join(run_dir, runs.HISTORY_FILE)).as_keras_history()
    else:  # A new run, or an interrupted one, which runs.train resumes from its last epoch.
        model, history = runs.train(copy.deepcopy(config), data, run_dir, verbose=2)  # It completes its config.
        seconds = time.time() - start
    return {
        "method": config["method"],
        "num_labels": config["num_labels"],
        "seed": config["seed"],
        "seconds": seconds,  # None when not known (loaded).
        "accuracy": classifier_accuracy(model, data.x_test, data.y_test),
        "steps": config["epochs"] * config["steps_per_epoch"],
        "curve": {
            "steps": [(i + 1) * config["steps_per_epoch"] for i in range(len(history.get("val_accuracy", [])))],
            "test_accuracy": [float(a) for a in history.get("val_accuracy", [])],
        },
        "config": config,
    }


def short(output_dir, data, num_labels_list, seeds, methods, steps, quick):
    from zoo import runs

    runs_done = []

    def run(method, num_labels, seed):
        config = run_config(method, num_labels, seed, "short", steps, quick)
        name = f"{method}-{num_labels}-seed{seed}"
        run_dir = os.path.join(output_dir, "runs", name)
        result_path = os.path.join(run_dir, "benchmark_result.json")
        if os.path.exists(result_path) and runs.read_json(result_path)["config"] == config:
            result = runs.read_json(result_path)  # Finished earlier with this config: reuse.
        else:
            if os.path.exists(run_dir):
                print(f"{run_dir} holds another config or an unfinished run: training it again", flush=True)
                shutil.rmtree(run_dir)
            result = train_run(config, data, run_dir)
            result.pop("curve")
            runs.write_json_atomic(result_path, result)
        print(f"{name}: test accuracy {result['accuracy']:.4f} ({result['seconds'] or 0:.0f} s)", flush=True)
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


def converged_step(steps, accuracies, tolerance=TOLERANCE):
    """The first of `steps` after which the curve `accuracies` (smoothed
    by a running mean over 3 points) never rises more than `tolerance`
    above its value there: where it has stopped improving.

    >>> converged_step([1, 2, 3, 4, 5], [0.1, 0.5, 0.7, 0.7, 0.7])
    4
    """
    import numpy as np

    values = np.asarray(accuracies, "float64")
    smooth = np.array([values[max(0, i - 1) : i + 2].mean() for i in range(len(values))])
    for i, step in enumerate(steps):
        if smooth[i:].max() <= smooth[i] + tolerance:
            return int(step)
    return int(steps[-1])


def study(output_dir, data, steps, quick):
    """Supervised-only at 100 and 1000 labels and on every label, at a
    constant learning rate: the learning curves that choose the budget."""

    curves = []
    for num_labels in (100, 1000, len(data.y_train)):
        config = run_config("supervised", num_labels, 0, "study", steps, quick)
        result = train_run(config, data, os.path.join(output_dir, "runs", f"study-supervised-{num_labels}"))
        result.pop("config")
        result["converged_step"] = converged_step(result["curve"]["steps"], result["curve"]["test_accuracy"])
        print(
            f"supervised, {num_labels} labels: {result['accuracy']:.4f} after {steps} steps; stopped improving "
            f"(within {TOLERANCE}) at step {result['converged_step']}",
            flush=True,
        )
        curves.append(result)
    result = {
        "suite": "semi_supervised",
        "budget": "study",
        "stem": "study",
        "tolerance": TOLERANCE,
        "backbone": "ConvNet(16, 32, 64)",
        "train_images": len(data.x_train),
        "test_images": len(data.x_test),
        "runs": curves,
        "budget_steps": max(r["converged_step"] for r in curves),
    }
    plot_curves(
        [(f"{r['num_labels']} labels", r["curve"], None) for r in curves],
        os.path.join(output_dir, "study.png"),
        "Supervised-only, constant learning rate",
        marker=result["budget_steps"],
    )
    return result


def finished_runs(output_dir, steps):
    """Every finished converged run of `steps` steps in `output_dir/finished`."""
    from zoo import runs

    results = [runs.read_json(path) for path in glob.glob(os.path.join(output_dir, "finished", "*.json"))]
    order = {method: i for i, method in enumerate(SEMI_SUPERVISED_METHODS)}
    results.sort(key=lambda r: (order.get(r["method"], len(order)), r["num_labels"], r["seed"]))
    return [r for r in results if r["steps"] == steps]


def converged(output_dir, data, num_labels_list, seeds, methods, steps, quick):
    from zoo import runs

    def table():
        finished = finished_runs(output_dir, steps)
        result = {
            "suite": "semi_supervised",
            "budget": "converged",
            "stem": "converged",
            "dataset": "fashion_mnist",
            "steps": steps,
            "backbone": "ConvNet(16, 32, 64)",
            "train_images": len(data.x_train),
            "test_images": len(data.x_test),
            "runs": [{k: v for k, v in r.items() if k not in ("config", "curve")} for r in finished],
        }
        plot_curves(
            [
                (r["method"] if r["num_labels"] == 100 else "fully supervised", r["curve"], r["seed"])
                for r in finished
                if r["num_labels"] in (100, len(data.y_train))
            ],
            os.path.join(output_dir, "curves.png"),
            f"Fashion-MNIST, 100 labels, {steps} steps",
        )
        return result

    plan = [(m, n, s) for s in seeds for n in num_labels_list for m in methods]
    plan += [("supervised", len(data.y_train), s) for s in seeds]
    for method, num_labels, seed in plan:
        name = f"{method}-{num_labels}-seed{seed}"
        config = run_config(method, num_labels, seed, "converged", steps, quick)
        path = os.path.join(output_dir, "finished", f"{name}.json")
        if os.path.exists(path) and runs.read_json(path)["config"] == config:
            print(f"{name}: finished earlier, test accuracy {runs.read_json(path)['accuracy']:.4f}", flush=True)
            continue
        result = train_run(config, data, os.path.join(output_dir, "runs", f"converged-{name}"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        runs.write_json_atomic(path, result)
        print(f"{name}: test accuracy {result['accuracy']:.4f} ({result['seconds'] or 0:.0f} s)", flush=True)
        partial = table()
        partial.pop("stem")
        partial["machine"] = machine()
        runs.write_json_atomic(os.path.join(output_dir, "converged.json"), partial)
        with open(os.path.join(output_dir, "converged.md"), "w") as f:
            f.write(markdown(partial))
    return table()


def plot_curves(curves, path, title, marker=None):
    """One line per name (`(name, {"steps", "test_accuracy"}, seed)`), the
    mean over seeds where several ran, with the seeds' range shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(dict.fromkeys(name for name, _, _ in curves))
    fig, ax = plt.subplots(figsize=(8, 5))
    lowest = []  # Each curve's lowest point after its first quarter (a weight average starts far below).
    for name in names:
        lines = [c for n, c, _ in curves if n == name and c["steps"]]
        if not lines:
            continue
        length = min(len(c["steps"]) for c in lines)
        steps = np.asarray(lines[0]["steps"][:length])
        values = np.array([c["test_accuracy"][:length] for c in lines])
        style = "--" if name in ("supervised", "fully supervised") else "-"
        label = {"supervised": "supervised only"}.get(name, name)
        label = f"{label} ({len(lines)} seeds)" if len(lines) > 1 else label
        ax.plot(steps, values.mean(axis=0), style, label=label)
        lowest.append(values[:, length // 4 :].min())
        if len(lines) > 1:
            ax.fill_between(steps, values.min(axis=0), values.max(axis=0), alpha=0.2)
    if marker:
        ax.axvline(marker, color="grey", linestyle=":", label=f"budget: {marker} steps")
    if lowest:
        ax.set_ylim(bottom=max(0.0, min(lowest) - 0.02))
    ax.set_xlabel("training steps")
    ax.set_ylabel("test accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def markdown(result):
    import numpy as np

    if result.get("budget") == "study":
        lines = [
            f"Learning curves of supervised-only, {result['backbone']}, constant learning rate, test accuracy "
            f"every {result['runs'][0]['curve']['steps'][0]} steps on {result['test_images']} test images.",
            "",
            "| labels | final accuracy | best accuracy | stopped improving at step |",
            "|---|---|---|---|",
        ]
        for r in result["runs"]:
            lines.append(
                f"| {r['num_labels']} | {r['accuracy']:.4f} | {max(r['curve']['test_accuracy']):.4f} | "
                f"{r['converged_step']} |"
            )
        lines += [
            "",
            f"Budget: {result['budget_steps']} steps (the latest of the three, tolerance {result['tolerance']}).",
            "",
            f"Machine: {result['machine']}.",
        ]
        return "\n".join(lines) + "\n"
    budgets = sorted({r["num_labels"] for r in result["runs"] if r["num_labels"] < result["train_images"]})
    methods = list(dict.fromkeys(r["method"] for r in result["runs"]))
    full = [r["accuracy"] for r in result["runs"] if r["num_labels"] == result["train_images"]]
    seeds = sorted({r["seed"] for r in result["runs"]})
    converged = result.get("budget") == "converged"
    lines = [
        f"Fashion-MNIST test accuracy of each method's classifier, {result['backbone']}, "
        f"{result['steps']} steps per run, mean ± std over seeds {seeds}"
        + (" (n: the runs finished)" if converged else "")
        + f"; {result['test_images']} test images.",
        "",
        "| method | " + " | ".join(f"{n} labels" for n in budgets) + (" | minutes per run |" if converged else " |"),
        "|---|" + "---|" * (len(budgets) + converged),
    ]

    def cell(values):
        if not values:
            return "-"
        if converged:
            spread = f" ± {np.std(values):.4f}" if len(values) > 1 else ""
            return f"{np.mean(values):.4f}{spread} (n={len(values)})"
        return f"{np.mean(values):.4f} ± {np.std(values):.4f}"

    for method in methods:
        chosen = [r for r in result["runs"] if r["method"] == method and r["num_labels"] < result["train_images"]]
        if not chosen:
            continue
        cells = [cell([r["accuracy"] for r in chosen if r["num_labels"] == n]) for n in budgets]
        if converged:
            seconds = [r["seconds"] for r in chosen if r["seconds"] is not None]
            cells.append(f"{np.mean(seconds) / 60:.1f}" if seconds else "-")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    full_cells = [cell(full)] * len(budgets)
    if converged:
        seconds = [
            r["seconds"]
            for r in result["runs"]
            if r["num_labels"] == result["train_images"] and r["seconds"] is not None
        ]
        full_cells.append(f"{np.mean(seconds) / 60:.1f}" if seconds else "-")
    lines.append(f"| fully supervised ({result['train_images']} labels) | " + " | ".join(full_cells) + " |")
    lines += ["", f"Machine: {result['machine']}."]
    return "\n".join(lines) + "\n"
