"""In-memory image classification data."""

import dataclasses

import numpy as np


@dataclasses.dataclass
class ImageDataset:
    """Train and test splits of raw images with integer labels.

    Images are uint8 `[N, H, W, C]` pixels in [0, 255], labels int64 `[N]`.

    Attributes:
        name: str. Dataset name (`"fashion_mnist"`, `"digits"`, ...).
        x_train, y_train, x_test, y_test: NumPy arrays.
        class_names: list of str.
        source: str. Where the data was read from.
        x_unlabelled: uint8 NumPy array `[M, H, W, C]` or None. More
            training images, without labels (a semi-supervised method's
            unlabelled pool, e.g. a second folder), of the training images'
            shape.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    source: str = ""
    x_unlabelled: np.ndarray = None

    def __post_init__(self):
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.ndim != 4 or x.dtype != np.uint8:
                raise ValueError(f"{self.name} x_{split} must be uint8 [N, H, W, C], got {x.dtype} {x.shape}")
            if len(x) != len(y):
                raise ValueError(f"{self.name} {split} split has {len(x)} images but {len(y)} labels")
        x = self.x_unlabelled
        if x is not None and (x.ndim != 4 or x.dtype != np.uint8 or x.shape[1:] != self.x_train.shape[1:]):
            raise ValueError(
                f"{self.name}'s unlabelled images are {x.dtype} {x.shape}: they must be uint8 of the labelled "
                f"images' shape {self.x_train.shape[1:]} (same image size and channels)"
            )

    @property
    def image_shape(self):
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self):
        return len(self.class_names)

    def subset(self, train_size=None, test_size=None, seed=0):
        """A smaller copy with class-balanced random train and test splits."""
        from keras_ssl.data.splits import balanced_indices

        train = balanced_indices(self.y_train, train_size, seed) if train_size else slice(None)
        test = balanced_indices(self.y_test, test_size, seed + 1) if test_size else slice(None)
        return dataclasses.replace(
            self,
            x_train=self.x_train[train],
            y_train=self.y_train[train],
            x_test=self.x_test[test],
            y_test=self.y_test[test],
        )

    def describe(self):
        unlabelled = f", plus {len(self.x_unlabelled)} unlabelled" if self.x_unlabelled is not None else ""
        return (
            f"{self.name}: {len(self.x_train)} train / {len(self.x_test)} test images of shape "
            f"{self.image_shape}, {self.num_classes} classes ({self.source}){unlabelled}"
        )
