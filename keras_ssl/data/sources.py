"""Offline data sources. Nothing here downloads unless asked to (TFDS)."""

import gzip
import os

import numpy as np

from keras_ssl.data.image_dataset import ImageDataset

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = [
    "t-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
]
DATASET_NAMES = ("fashion_mnist", "digits", "photos", "tfds:NAME[:SPLIT]", "folder:PATH", "tfrecord:GLOB")


class DataSourceMissingError(FileNotFoundError):
    """A data source is not installed; the message names what to install."""


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an uint8 IDX file: reinstall dataset-fashion-mnist")
    rank = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank))
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank)
    if array.size != int(np.prod(shape)):
        raise ValueError(
            f"{path} is truncated ({array.size} of {int(np.prod(shape))} values): reinstall dataset-fashion-mnist"
        )
    return array.reshape(shape)


def load_fashion_mnist(directory=FASHION_MNIST_DIR):
    """Fashion-MNIST (Xiao et al. 2017) from the IDX files of the Debian
    package `dataset-fashion-mnist`: 60000 train and 10000 test uint8 images
    `[28, 28, 1]`, 10 classes.

    Raises:
        DataSourceMissingError: the files are not there.

    Example:

    >>> data = load_fashion_mnist()
    >>> data.x_train.shape
    (60000, 28, 28, 1)
    """
    files = {
        "x_train": "train-images-idx3-ubyte.gz",
        "y_train": "train-labels-idx1-ubyte.gz",
        "x_test": "t10k-images-idx3-ubyte.gz",
        "y_test": "t10k-labels-idx1-ubyte.gz",
    }
    paths = {key: os.path.join(directory, name) for key, name in files.items()}
    missing = [p for p in paths.values() if not os.path.exists(p)]
    if missing:
        raise DataSourceMissingError(
            f"Fashion-MNIST not found ({missing[0]}): run `apt-get install dataset-fashion-mnist` "
            "(as root) or use --dataset=digits"
        )
    arrays = {key: _read_idx(path) for key, path in paths.items()}
    return ImageDataset(
        name="fashion_mnist",
        x_train=arrays["x_train"][..., None],
        y_train=arrays["y_train"].astype("int64"),
        x_test=arrays["x_test"][..., None],
        y_test=arrays["y_test"].astype("int64"),
        class_names=list(FASHION_MNIST_CLASSES),
        source=directory,
    )


def load_digits(test_fraction=0.25, seed=0):
    """The handwritten digits bundled with scikit-learn (UCI, 1797 images of
    8x8 pixels, 10 classes), scaled to uint8 [0, 255] and split into train
    and test with a fixed, class-stratified seed.

    Example:

    >>> data = load_digits()
    >>> data.image_shape
    (8, 8, 1)
    """
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    digits = sklearn_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype("uint8")[..., None]
    labels = digits.target.astype("int64")
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_fraction, random_state=seed, stratify=labels
    )
    return ImageDataset(
        name="digits",
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        class_names=[str(i) for i in range(10)],
        source="sklearn.datasets.load_digits",
    )


def tfds_data_dir(data_dir=None):
    """Where TensorFlow Datasets keeps prepared data: `data_dir`, else
    `$TFDS_DATA_DIR`, else `~/tensorflow_datasets` (TFDS's own default)."""
    return data_dir or os.environ.get("TFDS_DATA_DIR") or os.path.join(os.path.expanduser("~"), "tensorflow_datasets")


def tfds_builder(name, data_dir=None, download=False):
    """The TFDS builder of `name` (`NAME[/CONFIG][:VERSION]`), reading data
    already prepared in `data_dir` (`tfds_data_dir`). It looks on disk
    first and, when the set is not there, raises `DataSourceMissingError` at
    once with one line saying how to prepare it (offline, TFDS itself would
    retry its downloads for minutes). `download=True` lets TFDS download and
    prepare it (needs the network)."""
    import glob

    data_dir = tfds_data_dir(data_dir)
    base = name.split(":")[0].split("/")[0]
    prepared = glob.glob(
        os.path.join(glob.escape(data_dir), glob.escape(base), "**", "dataset_info.json"), recursive=True
    )
    if not prepared and not download:
        raise DataSourceMissingError(
            f"tfds:{name} is not prepared in {data_dir}: prepare it on a machine with network access "
            f"(`tfds build {base}`) and copy its folder {base}/ there, or point --data_dir / TFDS_DATA_DIR at it"
        )
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir, try_gcs=False)
    if download:
        builder.download_and_prepare()
    return builder


def load_tfds(name, data_dir=None, download=False):
    """Any TensorFlow Datasets image classification set with `image` and
    `label` features and `train` / `test` splits, loaded whole as uint8
    arrays (small sets; `TFDSImages` streams any size, and is what
    `load_dataset("tfds:NAME")` returns). Raises `DataSourceMissingError`
    at once when the set is not prepared (`tfds_builder`).
    """
    import tensorflow_datasets as tfds

    builder = tfds_builder(name, data_dir, download)
    splits = {}
    for split in ("train", "test"):
        images, labels = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1, as_supervised=True))
        if images.ndim == 3:
            images = images[..., None]
        splits[split] = (images.astype("uint8"), labels.astype("int64"))
    label_feature = builder.info.features["label"]
    return ImageDataset(
        name=f"tfds:{name}",
        x_train=splits["train"][0],
        y_train=splits["train"][1],
        x_test=splits["test"][0],
        y_test=splits["test"][1],
        class_names=list(label_feature.names),
        source=f"tensorflow_datasets {name}",
    )


def load_dataset(name, **kwargs):
    """Loads an image dataset by name: `fashion_mnist`, `digits`, `photos`
    (colour crops, `keras_ssl.data.load_photos`), in memory; or streamed
    (`StreamedImageDataset`): `tfds:NAME[:SPLIT]` (a `TFDSImages`, from
    prepared TFDS files), `folder:PATH` (a `FolderDataset`) or
    `tfrecord:GLOB` (a `TFRecordImages`, e.g. from `write_tfrecords`);
    `folder:` and `tfrecord:` need `image_size`.

    Example:

    >>> data = load_dataset("folder:photos/", image_size=96)
    >>> data.describe()
    'folder:photos/: 730 train / 82 test images streamed at (96, 96, 3), 2 classes (...)'

    Raises:
        ValueError: unknown name.
        DataSourceMissingError: the source is not installed.
    """
    if name == "fashion_mnist":
        return load_fashion_mnist(**kwargs)
    if name == "digits":
        return load_digits(**kwargs)
    if name == "photos":
        from keras_ssl.data.photos import load_photos

        return load_photos(**kwargs)
    if isinstance(name, str) and name.startswith("tfds:") and len(name) > 5:
        from keras_ssl.data.tfds_images import TFDSImages

        return TFDSImages(name[5:], **kwargs)
    for prefix in ("folder:", "tfrecord:"):
        if isinstance(name, str) and name.startswith(prefix) and len(name) > len(prefix):
            if kwargs.get("image_size") is None:
                raise ValueError(f"{name} needs an image size: pass image_size (zoo: --image_size=96)")
            if prefix == "folder:":
                from keras_ssl.data.folders import FolderDataset

                return FolderDataset(name[len(prefix) :], **kwargs)
            from keras_ssl.data.tfrecords import TFRecordImages

            return TFRecordImages(name[len(prefix) :], **kwargs)
    raise ValueError(f"Unknown dataset {name!r}: use one of {', '.join(DATASET_NAMES)}")
