import gzip

import numpy as np
import pytest

from keras_ssl.data import (
    DataSourceMissingError,
    balanced_indices,
    image_batches,
    label_fraction_indices,
    load_dataset,
    load_digits,
    load_fashion_mnist,
)
from keras_ssl.data.sources import _read_idx


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype("uint8").tobytes())


def test_idx_reader_round_trip(tmp_path, rng):
    array = rng.integers(0, 256, size=(3, 5, 4)).astype("uint8")
    write_idx(tmp_path / "x.gz", array)
    np.testing.assert_array_equal(_read_idx(tmp_path / "x.gz"), array)


def test_truncated_idx_names_the_fix(tmp_path):
    write_idx(tmp_path / "x.gz", np.zeros((3, 2), "uint8"))
    with gzip.open(tmp_path / "x.gz", "rb") as f:
        data = f.read()
    with gzip.open(tmp_path / "y.gz", "wb") as f:
        f.write(data[:-2])
    with pytest.raises(ValueError, match="reinstall dataset-fashion-mnist"):
        _read_idx(tmp_path / "y.gz")


def test_fashion_mnist_from_idx_directory(tmp_path, rng):
    for prefix, count in (("train", 6), ("t10k", 4)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, size=(count, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(count) % 10)
    data = load_fashion_mnist(str(tmp_path))
    assert data.x_train.shape == (6, 28, 28, 1) and data.x_test.shape == (4, 28, 28, 1)
    assert data.x_train.dtype == np.uint8 and data.num_classes == 10


def test_missing_fashion_mnist_names_the_package(tmp_path):
    with pytest.raises(DataSourceMissingError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(str(tmp_path / "nowhere"))


def test_real_fashion_mnist(fashion_mnist):
    assert fashion_mnist.x_train.shape == (60000, 28, 28, 1) and fashion_mnist.x_test.shape == (10000, 28, 28, 1)
    assert np.bincount(fashion_mnist.y_test).tolist() == [1000] * 10


def test_digits():
    data = load_digits()
    assert data.image_shape == (8, 8, 1) and data.x_train.dtype == np.uint8
    assert data.x_train.max() == 255 and len(data.x_train) + len(data.x_test) == 1797


def test_unknown_dataset():
    with pytest.raises(ValueError, match="Unknown dataset 'mnits'"):
        load_dataset("mnits")


def test_balanced_indices_are_balanced_and_deterministic():
    labels = np.repeat(np.arange(10), 100)
    chosen = balanced_indices(labels, 50, seed=3)
    assert np.bincount(labels[chosen]).tolist() == [5] * 10
    np.testing.assert_array_equal(chosen, balanced_indices(labels, 50, seed=3))
    assert not np.array_equal(chosen, balanced_indices(labels, 50, seed=4))
    assert len(np.unique(balanced_indices(labels, 55, seed=0))) == 55


def test_label_fraction():
    labels = np.repeat(np.arange(10), 100)
    assert len(label_fraction_indices(labels, 0.01)) == 10
    assert len(label_fraction_indices(labels, 1.0)) == 1000
    with pytest.raises(ValueError, match="label fraction"):
        label_fraction_indices(labels, 0.0)


def test_subset(fashion_mnist):
    small = fashion_mnist.subset(train_size=100, test_size=50)
    assert len(small.x_train) == 100 and len(small.x_test) == 50
    assert np.bincount(small.y_train).tolist() == [10] * 10


def test_image_batches():
    images = np.zeros((10, 4, 4, 1), "uint8")
    assert [b.shape[0] for b in image_batches(images, 4)] == [4, 4]
    batch_images, batch_labels = next(iter(image_batches(images, 5, labels=np.arange(10))))
    assert batch_images.shape == (5, 4, 4, 1) and batch_labels.shape == (5,)
    with pytest.raises(ValueError, match="larger than the dataset"):
        image_batches(images, 11)


class TestTFDS:
    def test_an_unprepared_set_fails_at_once_with_what_to_do(self, tmp_path):
        import time

        from keras_ssl.data import DataSourceMissingError, load_dataset

        start = time.time()
        with pytest.raises(
            DataSourceMissingError, match=r"tfds:cifar10 is not prepared in .*tfds build cifar10"
        ) as error:
            load_dataset("tfds:cifar10", data_dir=str(tmp_path))
        assert "\n" not in str(error.value) and time.time() - start < 30

    def test_the_data_dir_defaults_to_tfds_data_dir(self, tmp_path, monkeypatch):
        from keras_ssl.data.sources import tfds_data_dir

        monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
        assert tfds_data_dir() == str(tmp_path) and tfds_data_dir("elsewhere") == "elsewhere"
        monkeypatch.delenv("TFDS_DATA_DIR")
        assert tfds_data_dir().endswith("tensorflow_datasets")
