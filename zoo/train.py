"""Trains a method and writes a resumable run directory.

    python -m zoo.train --method=simclr --dataset=fashion_mnist --model_dir=runs/simclr \
        --epochs=20 --batch_size=256 --strategy=default

Running the same command again after a crash (or Ctrl-C) continues from the
last completed epoch. See zoo/runs.py for what the run directory holds.
"""

import os
import sys

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("method", None, "Method name, e.g. simclr.")
flags.DEFINE_string("dataset", "fashion_mnist", "Images: fashion_mnist, digits, photos or tfds:NAME; text "
                    "methods: wordnet, lee, pydoc or all (default: the method's corpus).")
flags.DEFINE_string("model_dir", None, "Run directory (created; reused to resume).")
flags.DEFINE_integer("epochs", None, "Epochs (default: the method's config).")
flags.DEFINE_integer("batch_size", None, "Global batch size (default: the method's config).")
flags.DEFINE_float("learning_rate", None, "Peak learning rate (default: the method's config).")
flags.DEFINE_integer("train_size", None, "Train on a class-balanced subset of this many images.")
flags.DEFINE_integer("seed", None, "Random seed (default: the method's config).")
flags.DEFINE_integer("knn_every", None, "Report kNN accuracy every N epochs (0: never).")
flags.DEFINE_integer("num_labels", None, "Semi-supervised methods: labelled examples, class-balanced (e.g. 100).")
flags.DEFINE_integer("unlabelled_ratio", None, "Semi-supervised methods: unlabelled images per labelled image in a batch.")
flags.DEFINE_string("strategy", "default", "default, mirrored, multi_worker, tpu or cpu:N.")
flags.DEFINE_bool("quick", False, "Shrink the config for a smoke run (small backbone, few epochs).")
flags.DEFINE_integer("verbose", None, "Keras fit verbosity (default: progress bar on a terminal, else one line per epoch).")


def main(argv):
    del argv
    from zoo.errors import exit_on_user_error

    with exit_on_user_error():
        if not FLAGS.method:
            raise ValueError("--method is required, e.g. --method=simclr")
        if not FLAGS.model_dir:
            raise ValueError("--model_dir is required, e.g. --model_dir=runs/simclr")
        # The strategy comes first: cpu:N must split the CPU before any TF op.
        from keras_ssl.distribute import get_strategy

        strategy = get_strategy(FLAGS.strategy)
        from keras_ssl.data import load_dataset
        from zoo import configs, runs

        verbose = FLAGS.verbose if FLAGS.verbose is not None else (1 if sys.stdout.isatty() else 2)
        if FLAGS.method in configs.TEXT_METHODS:
            return train_text_method(strategy, verbose)

        # A method's config may name its own default dataset (colour photos
        # for colourisation); an explicit --dataset wins.
        dataset_name = FLAGS.dataset
        if not FLAGS["dataset"].present:
            dataset_name = configs.get_config(FLAGS.method).get("default_dataset", FLAGS.dataset)
        config = runs.resolve_config(
            FLAGS.method, dataset_name, quick=FLAGS.quick, epochs=FLAGS.epochs, batch_size=FLAGS.batch_size,
            learning_rate=FLAGS.learning_rate, train_size=FLAGS.train_size, seed=FLAGS.seed, knn_every=FLAGS.knn_every,
            num_labels=FLAGS.num_labels, unlabelled_ratio=FLAGS.unlabelled_ratio,
        )
        dataset = load_dataset(dataset_name)
        if config["train_size"]:
            if config["train_size"] > len(dataset.x_train):
                raise ValueError(f"--train_size {config['train_size']} is larger than the dataset ({len(dataset.x_train)} images)")
            dataset = dataset.subset(train_size=config["train_size"], seed=config["seed"])
        config["image_shape"] = list(dataset.image_shape)
        runs.prepare_run_dir(FLAGS.model_dir, config)
        model_path = os.path.join(FLAGS.model_dir, runs.MODEL_FILE)
        if os.path.exists(model_path):
            print(f"Run already complete: {model_path} (use a new --model_dir to train again)")
            return 0
        runs.train(config, dataset, FLAGS.model_dir, strategy=strategy, verbose=verbose)
        print(f"Saved {model_path}")
    return 0


def train_text_method(strategy, verbose):
    """The language methods: the corpus instead of an image dataset."""
    from keras_ssl.data import load_text_corpus
    from zoo import runs, text_runs

    for name in ("train_size", "knn_every", "num_labels", "unlabelled_ratio"):
        if getattr(FLAGS, name) is not None:
            raise ValueError(f"--{name} is for image methods; {FLAGS.method} trains on text")
    corpus_name = FLAGS.dataset if FLAGS["dataset"].present else None
    config = text_runs.resolve_text_config(
        FLAGS.method, corpus_name, quick=FLAGS.quick, epochs=FLAGS.epochs, batch_size=FLAGS.batch_size,
        learning_rate=FLAGS.learning_rate, seed=FLAGS.seed,
    )
    corpus = load_text_corpus(config["corpus"], seed=config["seed"])
    runs.prepare_run_dir(FLAGS.model_dir, config)
    model_path = os.path.join(FLAGS.model_dir, runs.MODEL_FILE)
    if os.path.exists(model_path):
        print(f"Run already complete: {model_path} (use a new --model_dir to train again)")
        return 0
    text_runs.train_text(config, corpus, FLAGS.model_dir, strategy=strategy, verbose=verbose)
    print(f"Saved {model_path}")
    return 0


if __name__ == "__main__":
    app.run(main)
