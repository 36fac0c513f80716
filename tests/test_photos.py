import numpy as np
import pytest

from keras_ssl.data import ImageDataset, load_dataset, load_photos
from keras_ssl.data.photos import PHOTO_NAMES, _photo, _resize


@pytest.fixture(scope="module")
def photos():
    return load_photos(num_train=600, num_test=200, seed=0)


def _find(crop, image):
    """Top-left corners where `crop` occurs exactly in `image`."""
    size = crop.shape[0]
    windows = np.lib.stride_tricks.sliding_window_view(image, (size, size, 3))[..., 0, :, :, :]
    return np.argwhere(np.all(windows == crop, axis=(-3, -2, -1)))


class TestPhotos:
    def test_shapes_dtype_and_labels(self, photos):
        assert isinstance(photos, ImageDataset) and photos.name == "photos"
        assert photos.x_train.shape == (600, 28, 28, 3) and photos.x_test.shape == (200, 28, 28, 3)
        assert photos.x_train.dtype == np.uint8 and photos.y_train.dtype == np.int64
        assert photos.class_names == list(PHOTO_NAMES) and photos.num_classes == 10
        # Photos are drawn uniformly: every photo appears in both splits.
        assert set(photos.y_train) == set(photos.y_test) == set(range(10))
        # Colour, not grey: the channels differ.
        assert np.abs(photos.x_train[..., 0].astype(int) - photos.x_train[..., 2]).mean() > 10

    def test_deterministic_per_seed(self, photos):
        again = load_photos(num_train=600, num_test=200, seed=0)
        np.testing.assert_array_equal(photos.x_train, again.x_train)
        np.testing.assert_array_equal(photos.y_test, again.y_test)
        other = load_photos(num_train=600, num_test=200, seed=1)
        assert not np.array_equal(photos.x_train, other.x_train)

    def test_crop_size_and_bundled_photos_load_offline(self):
        data = load_photos(crop_size=16, num_train=20, num_test=10, names=("chelsea", "china"))
        assert data.x_train.shape == (20, 16, 16, 3) and data.class_names == ["chelsea", "china"]
        for name in PHOTO_NAMES:
            image = _photo(name)
            assert image.ndim == 3 and image.shape[-1] >= 3 and image.dtype == np.uint8

    def test_train_and_test_come_from_different_regions(self):
        # One wide photo at one scale: every training crop lies in the left
        # two thirds, every test crop in the right third.
        data = load_photos(num_train=40, num_test=40, names=("rocket",), short_sides=(84,), seed=3)
        image = _resize(_photo("rocket"), 84)
        cut = round(image.shape[1] * 2 / 3)
        for crop in data.x_train:
            corners = _find(crop, image)
            assert len(corners) and np.all(corners[:, 1] + 28 <= cut), corners
        for crop in data.x_test:
            corners = _find(crop, image)
            assert len(corners) and np.all(corners[:, 1] >= cut), corners

    def test_load_dataset_by_name(self):
        data = load_dataset("photos", num_train=10, num_test=5)
        assert data.x_train.shape == (10, 28, 28, 3)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="unknown photo names"):
            load_photos(names=("camera",))
        with pytest.raises(ValueError, match="at least 3 \\* crop_size"):
            load_photos(crop_size=64)
        with pytest.raises(ValueError, match="positive"):
            load_photos(num_train=0)
