"""Evaluates a trained run's representation, next to its baselines.

    python -m zoo.evaluate --model_dir=runs/simclr --protocol=linear --label_fraction=0.1
    python -m zoo.evaluate --model_dir=runs/simclr --protocol=knn --label_fraction=1.0
    python -m zoo.evaluate --model_dir=runs/simclr --protocol=finetune --label_fraction=0.01
    python -m zoo.evaluate --model_dir=runs/mix_match --protocol=classifier

Prints the accuracy of the trained encoder, of the same backbone at random
initialisation and (linear, kNN) of raw pixels, and records them in
`model_dir/evaluation.json`.
"""

import os

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "A finished zoo.train run directory.")
flags.DEFINE_enum(
    "protocol",
    "linear",
    ["linear", "knn", "finetune", "classifier", "tracking"],
    "Evaluation protocol (classifier: a semi-supervised method's own classifier; tracking: video colourisation's "
    "masks propagated over the test clips, J and F beside the baselines).",
)
flags.DEFINE_float("label_fraction", 1.0, "Fraction of the training labels used (0.01, 0.1, 1.0).")
flags.DEFINE_string("dataset", None, "Dataset to evaluate on (default: the one the run trained on).")
flags.DEFINE_integer("seed", 0, "Seed of the labelled subset.")
flags.DEFINE_string("data_dir", None, "tfds: datasets: the TFDS data directory (default $TFDS_DATA_DIR).")
flags.DEFINE_bool("baselines", True, "Also evaluate the random-initialised backbone and raw pixels.")
flags.DEFINE_integer("finetune_epochs", 20, "Epochs of the finetune protocol.")


def main(argv):
    del argv
    from zoo.errors import exit_on_user_error

    with exit_on_user_error():
        if not FLAGS.model_dir:
            raise ValueError("--model_dir is required, e.g. --model_dir=runs/simclr")
        if not 0 < FLAGS.label_fraction <= 1:
            raise ValueError(f"--label_fraction must be in (0, 1], got {FLAGS.label_fraction}")
        if FLAGS.data_dir:  # Read by keras_ssl.data.tfds_data_dir (the flag is this script's).
            os.environ["TFDS_DATA_DIR"] = FLAGS.data_dir
        import keras_ssl  # noqa: F401  (registers the classes for loading)
        from keras_ssl.data import load_dataset
        from zoo import runs

        model, config = runs.load_run(FLAGS.model_dir)
        if FLAGS.protocol == "tracking" or config.get("family") == "video":
            return evaluate_tracking(model, config)
        name = FLAGS.dataset or config.get("dataset", "fashion_mnist")
        from zoo.recipes.images import STREAMED

        # Streamed: the run's image size and seed give the same test split (decoded in memory).
        kwargs = {"image_size": config.get("image_size"), "seed": config["seed"]} if name.startswith(STREAMED) else {}
        dataset = load_dataset(name, **kwargs)
        results = runs.evaluate_run(
            model, dataset, FLAGS.protocol, FLAGS.label_fraction, FLAGS.seed, FLAGS.baselines, FLAGS.finetune_epochs
        )
        if FLAGS.protocol == "classifier":
            print(f"accuracy of the trained classifier on {dataset.name} test:")
        else:
            print(f"{FLAGS.protocol} accuracy on {dataset.name} test with {FLAGS.label_fraction:g} of the labels:")
        for name, accuracy in results.items():
            print(f"  {name:12s} {accuracy:.4f}")
        print(f"Recorded in {runs.record_evaluation(FLAGS.model_dir, FLAGS.protocol, FLAGS.label_fraction, results)}")
    return 0


def evaluate_tracking(model, config):
    """Video colourisation: the tracking table of the run's test clips."""
    from zoo import runs
    from zoo.recipes.video import tracking_results

    if config.get("family") != "video":
        raise ValueError(f"--protocol=tracking is for video_colorization runs; {config['method']} is not one")
    if FLAGS.protocol != "tracking":
        raise ValueError(f"{config['method']} is evaluated by --protocol=tracking, not {FLAGS.protocol}")
    data = runs.load_data(config)
    results = tracking_results(model, data, config, baselines=FLAGS.baselines)
    print(f"tracking on {data.test.num_clips} test clips of {data.name} (mask of frame 0 given):")
    print("| method | J (region IoU) | F (boundary) |\n|---|---|---|")
    for name, scores in results.items():
        print(f"| {name} | {scores['J']:.3f} | {scores['F']:.3f} |")
    path = runs.record_evaluation(FLAGS.model_dir, "tracking", 1.0, results)
    print(f"Recorded in {path}")
    return 0


if __name__ == "__main__":
    app.run(main)
