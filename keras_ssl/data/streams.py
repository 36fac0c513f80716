"""Image collections streamed through `tf.data`: the interface the zoo's
image methods train on when the images do not fit in memory (folders,
TFRecords, TensorFlow Datasets).

A streamed dataset yields encoded images (JPEG / PNG bytes) with their
labels; `decode_and_crop` turns each into a square uint8 image in a parallel
`map`, the same in training, evaluation and serving. Training batches are
sharded per input pipeline (`tf.distribute.InputContext`, from
`strategy.distribute_datasets_from_function`): each worker reads its own part
of the files, never every file.
"""

import numpy as np
import tensorflow as tf


def decode_and_crop(encoded, image_size, channels=3):
    """uint8 `[size, size, channels]` from an encoded image (a scalar
    string): decoded, its shorter side resized to `image_size` (bilinear,
    antialiased), its centre cropped square. The same in training and
    serving."""
    image = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
    image.set_shape([None, None, channels])
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = float(image_size) / tf.reduce_min(shape)
    resized = tf.image.resize(image, tf.cast(tf.math.ceil(shape * scale), tf.int32), antialias=True)
    cropped = tf.image.resize_with_crop_or_pad(resized, image_size, image_size)
    return tf.cast(tf.clip_by_value(tf.round(cropped), 0, 255), tf.uint8)


def decoded(elements, image_size, channels):
    """Maps `(encoded, label)` elements to `(uint8 image, label)`:
    `decode_and_crop` in parallel, undecodable images skipped with a warning
    in the log (`ignore_errors`), not a crash later in training."""

    def decode(encoded, label):
        return decode_and_crop(encoded, image_size, channels), label

    return elements.map(decode, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors(log_warning=True)


def check_image_size_argument(image_size):
    """Raises one line unless `image_size` is an int >= 8."""
    if not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f"image_size must be an int >= 8 (the side of the square images), got {image_size!r}")


def decode_to_arrays(elements, count, image_size, channels, progress=False):
    """Decodes at most `count` `(encoded, label)` elements into preallocated
    uint8 images `[n, size, size, channels]` and int64 labels `[n]`
    (n <= count: undecodable images are skipped), batch by batch."""
    images = np.zeros((count, image_size, image_size, channels), "uint8")
    labels = np.zeros((count,), "int64")
    bar = None
    if progress:
        import keras

        bar = keras.utils.Progbar(count, unit_name="image")
    filled = 0
    for x, y in decoded(elements.take(count), image_size, channels).batch(256).as_numpy_iterator():
        images[filled : filled + len(x)], labels[filled : filled + len(x)] = x, y
        filled += len(x)
        if bar is not None:
            bar.add(len(x))
    return images[:filled], labels[:filled]


class StreamedImageDataset:
    """Base of the streamed image datasets (`FolderDataset`,
    `TFRecordImages`, `TFDSImages`).

    Training batches stream (`train_batches`: memory flat as the collection
    grows); evaluation samples are decoded into memory (`x_train` /
    `x_test`: at most `in_memory` images each, the `ImageDataset` interface
    the kNN monitor, the plots and the protocols use); `eval_batches`
    streams a whole split for batch-by-batch feature extraction.

    A subclass sets `name`, `image_size`, `channels`, `class_names`,
    `source`, `num_train`, `num_test`, `in_memory` and `seed`, and
    implements `elements(split, shuffle, seed, input_context)`.
    """

    shuffle_buffer = 10_000  # Elements (encoded images, a few KB each), not decoded images.

    def elements(self, split, shuffle=False, seed=0, input_context=None):
        """A `tf.data.Dataset` of `(encoded image, int64 label)` of `split`
        ("train" or "test"), this input pipeline's shard when
        `input_context` is given, shuffled (every epoch anew) when
        `shuffle`. Unlabelled images have label 0."""
        raise NotImplementedError

    def _shard_and_shuffle(self, dataset, split, shuffle, seed, input_context, by_files):
        """The tail of a record stream's `elements` (TFRecords, TFDS): this
        pipeline's part of `train_size`, every n-th record when the files
        could not be split over the pipelines (`by_files` False), then a
        shuffle buffer of encoded records."""
        if split == "train" and self.train_size is not None:
            dataset = dataset.take(self.num_train // (input_context.num_input_pipelines if by_files else 1))
        if input_context is not None and not by_files:
            dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        if shuffle:
            dataset = dataset.shuffle(self.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        return dataset

    @property
    def image_shape(self):
        return (self.image_size, self.image_size, self.channels)

    @property
    def num_classes(self):
        return len(self.class_names)

    def per_replica_batch_size(self, batch_size, input_context=None):
        """`batch_size` (global) split over `input_context`'s replicas, with
        one-line errors when it does not divide or exceeds the data."""
        if batch_size > self.num_train:
            raise ValueError(
                f"batch_size {batch_size} is larger than {self.name}'s {self.num_train} images: lower --batch_size"
            )
        if input_context is None:
            return batch_size
        replicas = input_context.num_replicas_in_sync
        if batch_size % replicas:
            raise ValueError(f"batch_size {batch_size} does not split over {replicas} replicas: use a multiple")
        return input_context.get_per_replica_batch_size(batch_size)

    def train_batches(self, batch_size, seed=0, repeat=False, input_context=None, labels=False):
        """uint8 batches `[B, size, size, C]` of the training images (with
        int64 labels when `labels`), decoded in parallel and prefetched.

        Args:
            batch_size: int. The global batch; with `input_context`, each
                replica's batch is `batch_size / replicas` and this input
                pipeline reads only its shard (its files where there are
                enough, else every n-th image).
            seed: int. The shuffle.
            repeat: bool. Repeat forever (reshuffled every pass): what a
                distributed `fit` with `steps_per_epoch` needs, since
                shards may differ by an image.
            input_context: `tf.distribute.InputContext` or None.
            labels: bool. Yield `(images, labels)`.

        Example:

        >>> strategy.distribute_datasets_from_function(
        ...     lambda context: data.train_batches(256, repeat=True, input_context=context))
        """
        per_replica = self.per_replica_batch_size(batch_size, input_context)
        elements = self.elements("train", shuffle=True, seed=seed, input_context=input_context)
        if repeat:
            elements = elements.repeat()
        images = decoded(elements, self.image_size, self.channels)
        if not labels:
            images = images.map(lambda image, label: image)
        return images.batch(per_replica, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    def eval_batches(self, split, batch_size=256):
        """`(uint8 images, int64 labels)` batches of all of `split` ("train"
        or "test"), in order, the last batch partial: for extracting
        features batch by batch (`keras_ssl.evaluation`)."""
        images = decoded(self.elements(split), self.image_size, self.channels)
        return images.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    def _sample(self, split):
        """At most `in_memory` decoded images of `split` (a seeded shuffle),
        with how many could not be decoded."""
        if not hasattr(self, "_arrays"):
            self._arrays = {}
        if split not in self._arrays:
            count = min(self.in_memory, self.num_train if split == "train" else self.num_test)
            elements = self.elements(split, shuffle=True, seed=self.seed + 1)
            images, labels = decode_to_arrays(elements, count, self.image_size, self.channels)
            self._arrays[split] = (images, labels, count - len(images))
        return self._arrays[split]

    @property
    def x_train(self):
        return self._sample("train")[0]

    @property
    def y_train(self):
        return self._sample("train")[1]

    @property
    def x_test(self):
        return self._sample("test")[0]

    @property
    def y_test(self):
        return self._sample("test")[1]

    @property
    def undecodable(self):
        """Images of the evaluation samples that could not be decoded (and
        were skipped)."""
        return self._sample("train")[2] + self._sample("test")[2]

    def load_in_memory(self, max_bytes=4 << 30, progress=True):
        """All of it decoded into an in-memory `ImageDataset` (every
        training and test image), for the methods that keep state per
        training image (a memory bank, per-image targets, an ensemble per
        image) or that sample labelled subsets. Raises one line when the
        uint8 images would take more than `max_bytes`.

        Example:

        >>> data = load_dataset("folder:photos/", image_size=32).load_in_memory()
        >>> data.x_train.shape
        (730, 32, 32, 3)
        """
        from keras_ssl.data.image_dataset import ImageDataset

        size = (self.num_train + self.num_test) * int(np.prod(self.image_shape))
        if size > max_bytes:
            raise ValueError(
                f"{self.name} at {self.image_shape} takes {size / 2**30:.1f} GiB in memory (more than "
                f"{max_bytes / 2**30:.1f} GiB): lower --image_size or --train_size"
            )
        arrays = {
            split: decode_to_arrays(self.elements(split), count, self.image_size, self.channels, progress)
            for split, count in (("train", self.num_train), ("test", self.num_test))
        }
        return ImageDataset(
            self.name, *arrays["train"], *arrays["test"], list(self.class_names), f"{self.source}, in memory"
        )

    def subset(self, train_size=None, test_size=None, seed=0):
        """An in-memory `ImageDataset` of the decoded evaluation samples."""
        from keras_ssl.data.image_dataset import ImageDataset

        return ImageDataset(
            self.name, self.x_train, self.y_train, self.x_test, self.y_test, list(self.class_names), self.source
        ).subset(train_size=train_size, test_size=test_size, seed=seed)

    def describe(self):
        """One line: the sizes, and how many images of the evaluation
        samples could not be decoded when those were decoded already (the
        training stream skips such files with a warning in the log)."""
        sampled = getattr(self, "_arrays", {})
        broken = ""
        if sampled:
            tried = sum(len(images) + failed for images, _, failed in sampled.values())
            failed = sum(failed for _, _, failed in sampled.values())
            broken = f"; {failed} of {tried} sampled images could not be decoded (skipped)" if failed else ""
        return (
            f"{self.name}: {self.num_train} train / {self.num_test} test images streamed at "
            f"{self.image_shape}, {self.num_classes} classes ({self.source}{broken})"
        )
