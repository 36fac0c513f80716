"""Folders of JPEG / PNG images streamed through `tf.data`, at any size."""

import os

import numpy as np
import tensorflow as tf

from keras_ssl.data.streams import StreamedImageDataset, check_image_size_argument, decode_and_crop, decoded  # noqa: F401 (decode_and_crop: its old home)

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
    elements = read_files(files, labels if labels is not None else np.zeros(len(files), "int64"), shuffle, seed)
    if repeat:
        elements = elements.repeat()
    dataset = decoded(elements, image_size, channels)
    if labels is None:
        dataset = dataset.map(lambda image, label: image)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def read_files(files, labels, shuffle=False, seed=0, input_context=None):
    """`(encoded bytes, int64 label)` elements of the image `files`: this
    input pipeline's shard of them when `input_context` is given, in an
    order reshuffled every epoch when `shuffle`, read in parallel."""
    dataset = tf.data.Dataset.from_tensor_slices((files, labels))
    if input_context is not None:  # Each input pipeline its own files.
        dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    return dataset.map(lambda file, label: (tf.io.read_file(file), label), num_parallel_calls=tf.data.AUTOTUNE)


class FolderDataset(StreamedImageDataset):
    """An image folder as the zoo's image methods train on it: the training
    files streamed (`train_batches`, memory flat as the folder grows, each
    input pipeline reading its own shard of the files), and evaluation
    samples decoded in memory (`StreamedImageDataset`).

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
        check_image_size_argument(image_size)
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

    @property
    def num_train(self):
        return len(self.train_files)

    @property
    def num_test(self):
        return len(self.test_files)

    def elements(self, split, shuffle=False, seed=0, input_context=None):
        files, labels = (
            (self.train_files, self.train_labels) if split == "train" else (self.test_files, self.test_labels)
        )
        return read_files(files, labels, shuffle, seed, input_context)
