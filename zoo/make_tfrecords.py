"""Writes a folder of images into sharded TFRecord files for
`--dataset=tfrecord:GLOB`.

    python -m zoo.make_tfrecords --dataset=folder:photos --output=records --shards=16
    python -m zoo.train --method=simclr --dataset='tfrecord:records/images-*.tfrecord' --image_size=96 \
        --model_dir=runs/simclr

The image files are stored as they are (JPEG / PNG bytes, not decoded), in
a seeded random order, with their class labels when the folder has class
subfolders; `records/dataset.json` lists the class names and each shard's
record count (`keras_ssl.data.write_tfrecords`). Give at least as many
shards as the workers that will train on them: each worker reads its own.
"""

import sys

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("dataset", None, "folder:PATH, a folder of JPEG/PNG images (or of class subfolders).")
flags.DEFINE_string("output", None, "Directory for the shards and dataset.json (created).")
flags.DEFINE_integer("shards", 8, "Number of TFRecord files.")
flags.DEFINE_string("prefix", "images", "Shard file names: PREFIX-0000i-of-0000n.tfrecord.")
flags.DEFINE_integer("seed", 0, "Seed of the record order.")


def main(argv):
    del argv
    from zoo.errors import exit_on_user_error

    with exit_on_user_error():
        if not FLAGS.dataset or not FLAGS.dataset.startswith("folder:") or len(FLAGS.dataset) == len("folder:"):
            raise ValueError(f"--dataset must be folder:PATH, got {FLAGS.dataset!r}")
        if not FLAGS.output:
            raise ValueError("--output is required, e.g. --output=records")
        from keras_ssl.data import ImageFolder, write_tfrecords

        folder = ImageFolder(FLAGS.dataset[len("folder:") :])
        paths = write_tfrecords(
            folder,
            FLAGS.output,
            shards=FLAGS.shards,
            prefix=FLAGS.prefix,
            seed=FLAGS.seed,
            progress=sys.stdout.isatty(),
        )
        classes = f"{folder.num_classes} classes" if folder.class_names else "unlabelled"
        print(f"Wrote {len(folder.files)} images ({classes}) into {len(paths)} shards: {FLAGS.output}/{FLAGS.prefix}-*")
        print(f"Train on them with --dataset='tfrecord:{FLAGS.output}/{FLAGS.prefix}-*.tfrecord' --image_size=N")
    return 0


if __name__ == "__main__":
    app.run(main)
