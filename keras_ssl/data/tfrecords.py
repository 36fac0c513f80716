"""Encoded images in sharded TFRecord files: writing them from a folder, and
streaming them (`TFRecordImages`).

Each record is a `tf.train.Example` with the feature names of TensorFlow's
image models: `image/encoded` (the JPEG / PNG bytes, as stored on disk) and,
for labelled images, `image/class/label` (int64). `write_tfrecords` also
writes `dataset.json` beside the shards: the class names and the number of
records of each shard, so a reader need not count them.
"""

import json
import os

import numpy as np
import tensorflow as tf

from keras_ssl.data.streams import StreamedImageDataset, check_image_size_argument

ENCODED = "image/encoded"
LABEL = "image/class/label"
METADATA_FILE = "dataset.json"


def _example(encoded, label):
    feature = {ENCODED: tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded]))}
    if label is not None:
        feature[LABEL] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_tfrecords(folder, output_dir, shards=8, prefix="images", seed=0, progress=True):
    """Writes the image files of `folder` (an `ImageFolder` or its path) into
    `shards` TFRecord files `output_dir/PREFIX-0000i-of-0000n.tfrecord`, in
    a seeded random order (so any shard is a random sample), the file bytes
    as they are (no re-encoding), with their class labels when the folder
    has class subfolders; and `output_dir/dataset.json`.

    Each shard is written to a temporary name and renamed when complete: an
    interrupted run leaves no half-written shard under the final name.

    Args:
        folder: `ImageFolder` or str.
        output_dir: str. Created if needed; existing shards of the same
            prefix are refused.
        shards: int. Number of files (at least as many as the workers that
            will read them, so each reads its own files).
        prefix: str.
        seed: int. The order.
        progress: bool. A progress bar.

    Returns:
        list of str, the shard paths.

    Example:

    >>> write_tfrecords("photos/", "records/", shards=16)
    >>> data = TFRecordImages("records/images-*.tfrecord", image_size=96)
    """
    import keras

    from keras_ssl.data.folders import ImageFolder

    folder = folder if isinstance(folder, ImageFolder) else ImageFolder(folder)
    if not isinstance(shards, int) or not 1 <= shards <= len(folder.files):
        raise ValueError(f"shards must be an int in [1, {len(folder.files)}] (the number of images), got {shards!r}")
    os.makedirs(output_dir, exist_ok=True)
    paths = [os.path.join(output_dir, f"{prefix}-{i:05d}-of-{shards:05d}.tfrecord") for i in range(shards)]
    existing = [p for p in tf.io.gfile.glob(os.path.join(output_dir, f"{prefix}-*.tfrecord"))]
    if existing:
        raise FileExistsError(f"{output_dir} already holds {prefix}-*.tfrecord shards: give another --output")
    order = np.random.default_rng(seed).permutation(len(folder.files))
    counts = []
    bar = keras.utils.Progbar(len(order), unit_name="image") if progress else None
    for index, part in enumerate(np.array_split(order, shards)):
        with tf.io.TFRecordWriter(paths[index] + ".tmp") as writer:
            for i in part:
                with open(folder.files[i], "rb") as file:
                    encoded = file.read()
                writer.write(_example(encoded, None if folder.labels is None else folder.labels[i]))
                if bar is not None:
                    bar.add(1)
        os.replace(paths[index] + ".tmp", paths[index])
        counts.append(len(part))
    metadata = {
        "source": folder.path,
        "class_names": folder.class_names,
        "shards": {os.path.basename(p): n for p, n in zip(paths, counts)},
    }
    with open(os.path.join(output_dir, METADATA_FILE), "w") as file:
        json.dump(metadata, file, indent=2)
    return paths


def _parse(record):
    features = tf.io.parse_single_example(
        record,
        {ENCODED: tf.io.FixedLenFeature([], tf.string), LABEL: tf.io.FixedLenFeature([], tf.int64, default_value=0)},
    )
    return features[ENCODED], features[LABEL]


class TFRecordImages(StreamedImageDataset):
    """Encoded images in TFRecord files (`write_tfrecords`, or any records
    with `image/encoded` and optionally `image/class/label`), streamed.

    Every `round(1 / test_fraction)`-th record of each file is held out as
    the test split (records are read, not decoded, to skip them). A training
    stream under a distribution strategy reads its own files when there are
    at least as many files as input pipelines, else every n-th record.

    Args:
        pattern: str. A glob of the TFRecord files, e.g.
            `records/images-*.tfrecord`.
        image_size: int. Side of the square images.
        channels: 1 or 3.
        test_fraction: float in (0, 0.5].
        in_memory: int. Most images decoded into each evaluation array.
        train_size: int or None. Train on at most this many records.
        seed: int.

    Example:

    >>> data = TFRecordImages("records/images-*.tfrecord", image_size=96)
    >>> model.fit(data.train_batches(256), epochs=10)
    """

    def __init__(self, pattern, image_size, channels=3, test_fraction=0.1, in_memory=2000, train_size=None, seed=0):
        check_image_size_argument(image_size)
        if not 0 < test_fraction <= 0.5:
            raise ValueError(f"test_fraction must be in (0, 0.5], got {test_fraction}")
        self.files = sorted(tf.io.gfile.glob(pattern))
        if not self.files:
            raise FileNotFoundError(
                f"no TFRecord file matches {pattern}: write some with "
                "`python -m zoo.make_tfrecords --dataset=folder:PATH --output=DIR`"
            )
        self.name = f"tfrecord:{pattern}"
        self.image_size, self.channels, self.in_memory, self.seed = image_size, channels, in_memory, seed
        self.every = int(round(1 / test_fraction))
        counts, class_names = self._read_metadata()
        tests = [(n + self.every - 1) // self.every for n in counts]  # Records 0, every, 2 every, ...
        self.num_test = sum(tests)
        self.num_train = sum(counts) - self.num_test
        if train_size is not None:
            self.num_train = min(self.num_train, train_size)
        self.train_size = train_size
        if class_names is None:
            class_names = ["unlabelled"]
        self.class_names = list(class_names)
        self.source = f"{sum(counts)} records in {len(self.files)} files"

    def _read_metadata(self):
        """Per-file record counts and class names: from `dataset.json` when
        it covers these files, else by reading the records (not decoding)."""
        directory = os.path.dirname(self.files[0])
        path = os.path.join(directory, METADATA_FILE)
        if os.path.exists(path):
            with open(path) as file:
                metadata = json.load(file)
            shards = metadata.get("shards", {})
            if all(os.path.basename(f) in shards for f in self.files):
                return [shards[os.path.basename(f)] for f in self.files], metadata.get("class_names")
        counts, top = [], -1
        for file in self.files:
            labels = tf.data.TFRecordDataset(file).map(lambda r: _parse(r)[1]).batch(4096)
            count = 0
            for batch in labels.as_numpy_iterator():
                count += len(batch)
                top = max(top, int(batch.max()))
            counts.append(count)
        return counts, ([str(i) for i in range(top + 1)] if top > 0 else None)

    def elements(self, split, shuffle=False, seed=0, input_context=None):
        files = tf.data.Dataset.from_tensor_slices(self.files)
        by_files = input_context is not None and len(self.files) >= input_context.num_input_pipelines
        if by_files:  # Each input pipeline its own files.
            files = files.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        if shuffle:
            files = files.shuffle(len(self.files), seed=seed, reshuffle_each_iteration=True)
        every, test = self.every, split == "test"

        def records(file):
            indexed = tf.data.TFRecordDataset(file).enumerate()
            kept = indexed.filter(lambda i, r: tf.equal(i % every, 0) if test else tf.not_equal(i % every, 0))
            return kept.map(lambda i, r: r)

        dataset = files.interleave(
            records, cycle_length=min(8, len(self.files)), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
        dataset = self._shard_and_shuffle(dataset, split, shuffle, seed, input_context, by_files)
        return dataset.map(_parse, num_parallel_calls=tf.data.AUTOTUNE)
