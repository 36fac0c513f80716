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
flags.DEFINE_string(
    "dataset",
    "fashion_mnist",
    "Images: fashion_mnist, digits, photos (in memory), or streamed: folder:PATH, tfrecord:GLOB "
    "(python -m zoo.make_tfrecords), tfds:NAME[:SPLIT]; text methods: wordnet, lee, pydoc or all "
    "(default: the method's corpus).",
)
flags.DEFINE_string("model_dir", None, "Run directory (created; reused to resume).")
flags.DEFINE_string(
    "data_dir", None, "--dataset=tfds:NAME: the TFDS data directory holding the prepared set (default $TFDS_DATA_DIR)."
)
flags.DEFINE_integer("epochs", None, "Epochs (default: the method's config).")
flags.DEFINE_integer("batch_size", None, "Global batch size (default: the method's config).")
flags.DEFINE_float("learning_rate", None, "Peak learning rate (default: the method's config).")
flags.DEFINE_integer("train_size", None, "Train on a class-balanced subset of this many images.")
flags.DEFINE_integer(
    "image_size",
    None,
    "Streamed datasets (folder:, tfrecord:, tfds:): side of the square images (shorter side resized, centre "
    "crop); tfds: sets of one image size default to it.",
)
flags.DEFINE_integer("seed", None, "Random seed (default: the method's config).")
flags.DEFINE_integer("knn_every", None, "Report kNN accuracy every N epochs (0: never).")
flags.DEFINE_integer("num_labels", None, "Semi-supervised methods: labelled examples, class-balanced (e.g. 100).")
flags.DEFINE_integer(
    "unlabelled_ratio", None, "Semi-supervised methods: unlabelled images per labelled image in a batch."
)
flags.DEFINE_string(
    "unlabelled_dataset",
    None,
    "Semi-supervised methods: more training images without labels (e.g. folder:PATH of unlabelled photos, "
    "at --image_size), beside --dataset's labelled ones.",
)
flags.DEFINE_string("strategy", "default", "default, mirrored, multi_worker, tpu or cpu:N.")
flags.DEFINE_string("tpu", None, "--strategy=tpu: the TPU's name or grpc:// address (default: found on a TPU VM).")
flags.DEFINE_bool(
    "jit_compile",
    False,
    "Compile the train step with XLA (what TPUs run); fails with one line if the method cannot. "
    "Off: Keras's default (no XLA on CPU or under a strategy).",
)
flags.DEFINE_enum(
    "views",
    "step",
    ["step", "pipeline"],
    "SimCLR and MoCo: make the views in the train step (on the device) or in the tf.data pipeline (host).",
)
flags.DEFINE_bool("quick", False, "Shrink the config for a smoke run (small backbone, few epochs).")
flags.DEFINE_integer(
    "verbose", None, "Keras fit verbosity (default: progress bar on a terminal, else one line per epoch)."
)


def main(argv):
    del argv
    from zoo.errors import exit_on_user_error

    with exit_on_user_error():
        if not FLAGS.method:
            raise ValueError("--method is required, e.g. --method=simclr")
        if not FLAGS.model_dir:
            raise ValueError("--model_dir is required, e.g. --model_dir=runs/simclr")
        if os.path.exists(FLAGS.model_dir) and not os.path.isdir(FLAGS.model_dir):
            raise ValueError(
                f"--model_dir {FLAGS.model_dir} is a file: give a directory (a new one, or a run's to resume it)"
            )
        # The strategy comes first: cpu:N must split the CPU before any TF op.
        from keras_ssl.distribute import get_strategy

        if FLAGS.data_dir:
            # Read by keras_ssl.data.load_tfds (the flag is this script's; the library takes an argument).
            os.environ["TFDS_DATA_DIR"] = FLAGS.data_dir
        if FLAGS.tpu and FLAGS.strategy != "tpu":
            raise ValueError(f"--tpu={FLAGS.tpu} needs --strategy=tpu (got --strategy={FLAGS.strategy})")
        strategy = get_strategy(FLAGS.strategy, tpu=FLAGS.tpu)
        from zoo import runs

        verbose = FLAGS.verbose if FLAGS.verbose is not None else (1 if sys.stdout.isatty() else 2)
        # Without --dataset the method's config names its data (colour photos
        # for colourisation, a text method's corpus).
        config = runs.resolve_config(
            FLAGS.method,
            FLAGS.dataset if FLAGS["dataset"].present else None,
            quick=FLAGS.quick,
            epochs=FLAGS.epochs,
            batch_size=FLAGS.batch_size,
            learning_rate=FLAGS.learning_rate,
            train_size=FLAGS.train_size,
            image_size=FLAGS.image_size,
            seed=FLAGS.seed,
            knn_every=FLAGS.knn_every,
            num_labels=FLAGS.num_labels,
            unlabelled_ratio=FLAGS.unlabelled_ratio,
            unlabelled_dataset=FLAGS.unlabelled_dataset,
        )
        model_path = os.path.join(FLAGS.model_dir, runs.MODEL_FILE)
        if os.path.exists(model_path):
            runs.prepare_run_dir(FLAGS.model_dir, runs.complete_config(config, runs.peek_data(config)))
            print(f"Run already complete: {model_path} (use a new --model_dir to train again)")
            return 0
        data = runs.load_data(config)
        runs.train(
            config,
            data,
            FLAGS.model_dir,
            strategy=strategy,
            verbose=verbose,
            jit_compile=FLAGS.jit_compile,
            views=FLAGS.views,
        )
        print(f"Saved {model_path}")
    return 0


if __name__ == "__main__":
    app.run(main)
