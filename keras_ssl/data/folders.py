"""Folders of JPEG / PNG images streamed through `tf.data`, at any size."""

import os

import numpy as np
import tensorflow as tf

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


class ImageFolder:
    """The image files of a folder: one subfolder per class (labelled, the
    classes in sorted order), or images directly inside (unlabelled).

    Only file names are read here; images are decoded as they stream
    (`batches`), so memory does not grow with the folder. Files with other
    extensions are skipped and counted (`skipped`).

    Args:
        path: str. The folder.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: `path` is a file, or holds no image file.

    Example:

    >>> folder = ImageFolder("photos/")
    >>> folder.class_names, len(folder.files)
    (['cats', 'dogs'], 812)
    """

    def __init__(self, path):
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"image folder {path} does not exist: give a folder of JPEG/PNG images")
        if not os.path.isdir(path):
            raise ValueError(
                f"{path} is a file, not a folder: give a folder of JPEG/PNG images (or of class subfolders)"
            )
        self.path = path
        entries = sorted(os.listdir(path))
        subfolders = [e for e in entries if os.path.isdir(os.path.join(path, e)) and not e.startswith(".")]
        files, labels, skipped = [], [], 0
        if subfolders:
            self.class_names = subfolders
            for label, name in enumerate(subfolders):
                for root, _, names in sorted(os.walk(os.path.join(path, name))):
                    for file in sorted(names):
                        if file.lower().endswith(IMAGE_EXTENSIONS):
                            files.append(os.path.join(root, file))
                            labels.append(label)
                        elif not file.startswith("."):
                            skipped += 1
        else:
            self.class_names = None
            for file in entries:
                if file.lower().endswith(IMAGE_EXTENSIONS):
                    files.append(os.path.join(path, file))
                elif not file.startswith("."):
                    skipped += 1
        if not files:
            raise ValueError(
                f"{path} holds no image file ({', '.join(IMAGE_EXTENSIONS)}), directly or in class subfolders"
                + (f"; {skipped} other files" if skipped else "")
            )
        self.files = np.array(files)
        self.labels = np.array(labels, "int64") if self.class_names else None
        self.skipped = skipped

    @property
    def num_classes(self):
        return len(self.class_names) if self.class_names else 0

    def check_image_size(self, image_size, sample=32, seed=0):
        """Raises one line when most of a sample of the images are smaller
        than `image_size` on their shorter side (they would be upsampled:
        give a smaller size). Decodes at most `sample` files."""
        rng = np.random.default_rng(seed)
        chosen = rng.choice(len(self.files), size=min(sample, len(self.files)), replace=False)
        sides = []
        for index in chosen:
            try:
                image = tf.io.decode_image(tf.io.read_file(self.files[index]), expand_animations=False)
            except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError):
                continue  # Corrupt: skipped while streaming.
            sides.append(min(image.shape[:2]))
        if not sides:
            raise ValueError(
                f"none of {len(chosen)} images sampled in {self.path} could be decoded: are they JPEG/PNG?"
            )
        if np.median(sides) < image_size:
            raise ValueError(
                f"the images in {self.path} are smaller than --image_size={image_size} (median shorter side "
                f"{int(np.median(sides))} px of {len(sides)} sampled): give --image_size={int(np.median(sides))} or less"
            )

    def batches(self, image_size, batch_size, channels=3, shuffle=True, seed=0, labels=False, repeat=False):
        """A `tf.data.Dataset` of uint8 image batches `[B, size, size, C]`
        (with int64 labels when `labels`): each file read and decoded
        (`tf.io.decode_image`: JPEG, PNG, BMP, GIF's first frame), its
        shorter side resized to `image_size` and its centre cropped square,
        in parallel (`AUTOTUNE`), prefetched. A file that cannot be decoded
        is skipped with a warning in the log (`ignore_errors`), not a crash
        later in training.

        Args:
            image_size: int. Side of the square images.
            batch_size: int. Full batches only (static shapes).
            channels: 1 or 3. Grey images are repeated to 3 channels and
                colour ones averaged to 1 as asked.
            shuffle: bool. Reshuffle the file order every epoch.
            seed: int.
            labels: bool. Yield `(images, labels)` (a labelled folder only).
            repeat: bool. Repeat forever.
        """
        if labels and self.labels is None:
            raise ValueError(f"{self.path} has no class subfolders: its images have no labels")
        return stream_files(
            self.files,
            self.labels if labels else None,
            image_size,
            batch_size,
            channels=channels,
            shuffle=shuffle,
            seed=seed,
            repeat=repeat,
            where=self.path,
        )


def stream_files(
    files, labels, image_size, batch_size, channels=3, shuffle=True, seed=0, repeat=False, where="the folder"
):
    """`ImageFolder.batches` over the image `files` (and int `labels`, or None)."""
    if batch_size > len(files):
        raise ValueError(f"batch_size {batch_size} is larger than {where}'s {len(files)} images: lower --batch_size")
    elements = (files, labels) if labels is not None else (files,)
    dataset = tf.data.Dataset.from_tensor_slices(elements)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = _decoded(dataset, image_size, channels)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def _decoded(dataset, image_size, channels):
    """Maps `(file, *label)` elements to `(image, *label)`: read and
    `decode_and_crop` in parallel, undecodable files skipped with a warning."""

    def load(file, *label):
        image = decode_and_crop(tf.io.read_file(file), image_size, channels)
        return (image, *label) if label else image

    return dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors(log_warning=True)


class FolderDataset:
    """An image folder as the zoo's image methods train on it: the training
    files streamed (`train_batches`, memory flat as the folder grows), and
    evaluation samples decoded in memory (`x_train` / `x_test`: at most
    `in_memory` images each, the `ImageDataset` interface the kNN monitor,
    the plots and the protocols use).

    A labelled folder (class subfolders) keeps `test_fraction` of its files
    as the test split; a flat folder has one class, `"unlabelled"`.

    Args:
        path: str. The folder (`ImageFolder`).
        image_size: int. Side of the square images.
        channels: 1 or 3.
        test_fraction: float. Files held out for evaluation.
        in_memory: int. Most images decoded into each evaluation array.
        train_size: int or None. Train on at most this many of the
            training files (a seeded random subset).
        seed: int. The split and the samples.

    Example:

    >>> data = FolderDataset("photos/", image_size=96)
    >>> model.fit(data.train_batches(batch_size=256), epochs=10)
    """

    def __init__(self, path, image_size, channels=3, test_fraction=0.1, in_memory=2000, train_size=None, seed=0):
        if not isinstance(image_size, int) or image_size < 8:
            raise ValueError(f"image_size must be an int >= 8 (the side of the square images), got {image_size!r}")
        self.folder = ImageFolder(path)
        self.folder.check_image_size(image_size, seed=seed)
        self.name = f"folder:{path}"
        self.image_size = image_size
        self.channels = channels
        self.in_memory = in_memory
        self.seed = seed
        order = np.random.default_rng(seed).permutation(len(self.folder.files))
        test_count = int(round(test_fraction * len(order))) if len(order) > 1 else 0
        self.test_files, self.train_files = self.folder.files[order[:test_count]], self.folder.files[order[test_count:]]
        labels = self.folder.labels if self.folder.labels is not None else np.zeros(len(order), "int64")
        self.test_labels, self.train_labels = labels[order[:test_count]], labels[order[test_count:]]
        if train_size is not None:
            self.train_files, self.train_labels = self.train_files[:train_size], self.train_labels[:train_size]
        self.class_names = self.folder.class_names or ["unlabelled"]
        self.source = f"{len(self.folder.files)} image files, {self.folder.skipped} other files skipped"
        self._arrays = {}

    @property
    def image_shape(self):
        return (self.image_size, self.image_size, self.channels)

    @property
    def num_classes(self):
        return len(self.class_names)

    @property
    def num_train(self):
        return len(self.train_files)

    def train_batches(self, batch_size, seed=0, repeat=False):
        """Streamed uint8 batches of the training files."""
        return stream_files(
            self.train_files,
            None,
            self.image_size,
            batch_size,
            self.channels,
            seed=seed,
            repeat=repeat,
            where=self.name,
        )

    def _decoded(self, split):
        if split not in self._arrays:
            files, labels = (
                (self.train_files, self.train_labels) if split == "train" else (self.test_files, self.test_labels)
            )
            chosen = np.random.default_rng(self.seed + 1).permutation(len(files))[: self.in_memory]
            # The training stream's decoding (parallel; corrupt files skipped), in one pass.
            pairs = _decoded(
                tf.data.Dataset.from_tensor_slices((files[chosen], labels[chosen])), self.image_size, self.channels
            )
            batches = list(pairs.batch(256).as_numpy_iterator())
            self._arrays[split] = (
                np.concatenate([b[0] for b in batches]) if batches else np.zeros((0, *self.image_shape), np.uint8),
                np.concatenate([b[1] for b in batches]) if batches else np.zeros((0,), "int64"),
            )
        return self._arrays[split]

    @property
    def x_train(self):
        return self._decoded("train")[0]

    @property
    def y_train(self):
        return self._decoded("train")[1]

    @property
    def x_test(self):
        return self._decoded("test")[0]

    @property
    def y_test(self):
        return self._decoded("test")[1]

    def subset(self, train_size=None, test_size=None, seed=0):
        """An in-memory `ImageDataset` of the decoded evaluation samples."""
        from keras_ssl.data.image_dataset import ImageDataset

        return ImageDataset(
            self.name, self.x_train, self.y_train, self.x_test, self.y_test, list(self.class_names), self.source
        ).subset(train_size=train_size, test_size=test_size, seed=seed)

    def describe(self):
        return (
            f"{self.name}: {self.num_train} train / {len(self.test_files)} test images streamed at "
            f"{self.image_shape}, {self.num_classes} classes ({self.source})"
        )


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
