"""The main job of `make demo`: pretrain SimCLR, evaluate it, export it.

    python -m zoo.demo --model_dir=runs/demo --export_base=serving/simclr

Pretrains SimCLR on Fashion-MNIST with the quick budget and a ResNet-8 of
width 32 (`zoo.configs.simclr.TUNED_BACKBONE`; falls back to the
scikit-learn digits when Fashion-MNIST is not installed, and says so),
prints kNN and linear-probe accuracy next to the same backbone at random
initialisation and raw pixels, and exports the encoder for TF Serving.
Running it again reuses the finished (or resumes the interrupted) run.
"""

import os
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", "runs/demo", "Run directory.")
flags.DEFINE_string("export_base", "serving/simclr", "TF Serving model base directory.")
flags.DEFINE_integer("epochs", None, "Pretraining epochs (default: the quick config's).")
flags.DEFINE_integer("train_size", None, "Pretraining images (default: the quick config's).")


# The demo's one change to SimCLR's quick recipe (ResNet-8, 10 epochs on
# 10,000 Fashion-MNIST images) is `TUNED_BACKBONE` (zoo/configs/simclr.py):
# twice the width. What it bought is measured in the README ("Quick start").


def choose_dataset():
    from keras_ssl.data import DataSourceMissingError, load_digits, load_fashion_mnist

    try:
        return load_fashion_mnist()
    except DataSourceMissingError as error:
        print(f"{error}\n-> Falling back to the scikit-learn digits (8x8 pixels, 1797 images).", flush=True)
        return load_digits()


def main(argv):
    del argv
    from zoo.errors import exit_on_user_error

    with exit_on_user_error():
        import keras_ssl
        from export.saved_model import export_encoder
        from zoo import runs
        from zoo.configs.simclr import TUNED_BACKBONE

        dataset = choose_dataset()
        train_size = FLAGS.train_size
        config = runs.resolve_config("simclr", dataset.name, quick=True, epochs=FLAGS.epochs, train_size=train_size)
        config["backbone"] = {**config["backbone"], **TUNED_BACKBONE}
        if config["train_size"] and config["train_size"] >= len(dataset.x_train):
            config["train_size"] = None
        model_path = os.path.join(FLAGS.model_dir, runs.MODEL_FILE)
        start = time.time()
        if os.path.exists(model_path):
            print(f"Reusing the finished run {FLAGS.model_dir} (delete it to pretrain again)")
            model, config = runs.load_run(FLAGS.model_dir)
        else:
            subset = (
                dataset.subset(train_size=config["train_size"], seed=config["seed"])
                if config["train_size"]
                else dataset
            )
            model, _ = runs.train(config, subset, FLAGS.model_dir, verbose=2)
            print(f"Pretrained in {time.time() - start:.0f} s; run directory: {FLAGS.model_dir}")

        print(f"\nEvaluating on {dataset.describe()}")
        rows = {}
        for fraction in (0.01, 1.0):
            for protocol in ("knn", "linear"):
                results = runs.evaluate_run(model, dataset, protocol, label_fraction=fraction, seed=config["seed"])
                runs.record_evaluation(FLAGS.model_dir, protocol, fraction, results)
                rows[protocol, fraction] = results
        print(f"\n| {'representation':22s} | kNN 1% labels | linear 1% labels | kNN 100% | linear 100% |")
        print(f"|{'-' * 24}|---------------|------------------|----------|-------------|")
        names = {"trained": "SimCLR (pretrained)", "random_init": "same backbone, random", "raw_pixels": "raw pixels"}
        for key, label in names.items():
            cells = [rows[p, f][key] for f in (0.01, 1.0) for p in ("knn", "linear")]
            print(f"| {label:22s} | {cells[0]:13.4f} | {cells[1]:16.4f} | {cells[2]:8.4f} | {cells[3]:11.4f} |")

        metadata = {
            "method": "simclr",
            "dataset": dataset.name,
            "training_run": {"model_dir": os.path.abspath(FLAGS.model_dir), "config": config},
        }
        path = export_encoder(model, FLAGS.export_base, metadata=metadata)
        print(f"\nExported the encoder for TF Serving to {path}")
        print(f"Inspect it:  saved_model_cli show --dir {path} --all")
        print(
            f'Serve it:    docker run -p 8501:8501 -v "{os.path.abspath(FLAGS.export_base)}:/models/simclr" '
            "-e MODEL_NAME=simclr tensorflow/serving"
        )
        del keras_ssl
    return 0


if __name__ == "__main__":
    app.run(main)
