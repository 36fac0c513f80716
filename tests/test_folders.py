"""Streaming image folders: listing, decoding, cropping, corrupt files, errors."""

import os

import numpy as np
import pytest
from PIL import Image

from keras_ssl.data import ImageFolder, decode_and_crop


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two classes of JPEG and PNG files of mixed sizes, grey and colour, a
    corrupt JPEG and a text file."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for label, name in enumerate(("cats", "dogs")):
        os.makedirs(root / name)
        for i in range(12):
            height, width = rng.integers(40, 90, 2)
            pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            image = Image.fromarray(pixels).convert("L" if i % 3 == 0 else "RGB")
            image.save(root / name / f"{i}.{'png' if i % 2 else 'jpg'}")
    (root / "dogs" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (root / "dogs" / "notes.txt").write_text("not an image")
    return root


def test_lists_classes_and_image_files_and_counts_the_others(folder):
    images = ImageFolder(folder)
    assert images.class_names == ["cats", "dogs"] and images.num_classes == 2
    assert len(images.files) == 25 and images.skipped == 1  # 24 images + the corrupt one; the .txt skipped
    assert list(np.bincount(images.labels)) == [12, 13]


def test_streams_square_uint8_batches_and_skips_a_corrupt_file(folder):
    images = ImageFolder(folder)
    batches = list(images.batches(32, batch_size=4, labels=True, seed=1))
    # 24 decodable images in full batches of 4; the corrupt one skipped, not a crash.
    assert len(batches) == 6
    for x, y in batches:
        assert x.dtype == "uint8" and x.shape == (4, 32, 32, 3) and y.shape == (4,)
    grey = list(images.batches(32, batch_size=8, channels=1, shuffle=False))
    assert grey[0].shape == (8, 32, 32, 1)


def test_decode_resizes_the_shorter_side_and_crops_the_centre():
    import tensorflow as tf

    # 40 x 80: left half black, right half white; the centre 40 x 40 crop
    # resized to 20 is half black, half white.
    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[:, 40:] = 255
    encoded = tf.io.encode_png(pixels)
    out = decode_and_crop(encoded, 20).numpy()
    assert out.shape == (20, 20, 3)
    assert out[:, :8].max() < 10 and out[:, 12:].min() > 245


def test_a_flat_folder_is_unlabelled(tmp_path):
    for i in range(3):
        Image.fromarray(np.full((40, 40, 3), i * 50, np.uint8)).save(tmp_path / f"{i}.png")
    images = ImageFolder(tmp_path)
    assert images.class_names is None and images.labels is None and len(images.files) == 3
    with pytest.raises(ValueError, match="has no class subfolders"):
        images.batches(32, batch_size=2, labels=True)


def test_bad_folders_fail_in_one_line(folder, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageFolder(tmp_path / "missing")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        ImageFolder(folder / "dogs" / "notes.txt")
    empty = tmp_path / "empty"
    os.makedirs(empty)
    (empty / "readme.md").write_text("x")
    with pytest.raises(ValueError, match="holds no image file.*1 other files"):
        ImageFolder(empty)
    with pytest.raises(ValueError, match=r"smaller than --image_size=256 .*give --image_size=\d+ or less"):
        ImageFolder(folder).check_image_size(256)
    ImageFolder(folder).check_image_size(32)
    with pytest.raises(ValueError, match="larger than"):
        ImageFolder(folder).batches(32, batch_size=100)
