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
        if batch_size > len(self.files):
            raise ValueError(f"batch_size {batch_size} is larger than {self.path}'s {len(self.files)} images")
        elements = (self.files, self.labels) if labels else (self.files,)
        dataset = tf.data.Dataset.from_tensor_slices(elements)
        if shuffle:
            dataset = dataset.shuffle(len(self.files), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            dataset = dataset.repeat()

        def load(file, *label):
            image = decode_and_crop(tf.io.read_file(file), image_size, channels)
            return (image, *label) if label else image

        dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors(log_warning=True)
        return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


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
