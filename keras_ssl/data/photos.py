"""Random crops of the colour photos bundled with scikit-image and scikit-learn."""

import functools

import numpy as np

from keras_ssl.data.image_dataset import ImageDataset

# (name, loader) of every bundled natural colour photo; grey, binary and
# synthetic images (camera, coins, horse, colorwheel, logo, ...) are left out.
# The scikit-image ones are files inside the package (`skimage.data` reads
# them from its own directory and downloads nothing).
PHOTO_NAMES = (
    "astronaut",
    "chelsea",
    "coffee",
    "hubble_deep_field",
    "immunohistochemistry",
    "motorcycle",
    "retina",
    "rocket",
    "china",
    "flower",
)
# Shorter side (pixels) of each downscaled copy the crops are cut from: a
# 28-pixel crop covers 1/7 to 1/3 of a photo's shorter side, so crops hold
# parts of objects (a cat's face, a cup, a flower) rather than texture.
DEFAULT_SHORT_SIDES = (84, 128, 196)
TEST_FRACTION = 1 / 3


def _photo(name):
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    import skimage.data

    if name == "motorcycle":
        return skimage.data.stereo_motorcycle()[0]
    return getattr(skimage.data, name)()


def _resize(image, short_side):
    """`image` scaled (antialiased) so its shorter side is `short_side`."""
    from PIL import Image

    height, width = image.shape[:2]
    scale = short_side / min(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def _regions(image):
    """`(train, test)` parts of a photo: the test part is the last third
    along its longer axis, so no crop of one split overlaps the other."""
    height, width = image.shape[:2]
    if width >= height:
        cut = round(width * (1 - TEST_FRACTION))
        return image[:, :cut], image[:, cut:]
    cut = round(height * (1 - TEST_FRACTION))
    return image[:cut], image[cut:]


@functools.lru_cache(maxsize=4)
def _levels(names, short_sides):
    """`(train, test)`: per photo, its train and test regions at each size
    (cached: decoding and resizing the photos takes seconds)."""
    train_levels, test_levels = [], []
    for name in names:
        photo = _photo(name)[..., :3]
        train, test = [], []
        for side in short_sides:
            part_train, part_test = _regions(_resize(photo, side))
            train.append(part_train)
            test.append(part_test)
        train_levels.append(train)
        test_levels.append(test)
    return train_levels, test_levels


def _random_crops(levels, num_crops, crop_size, rng):
    """`num_crops` crops `[crop_size, crop_size, 3]` and the photo index of
    each: photo, scale and position drawn uniformly."""
    photos = rng.integers(0, len(levels), size=num_crops)
    scales = rng.integers(0, len(levels[0]), size=num_crops)
    crops = np.empty((num_crops, crop_size, crop_size, 3), "uint8")
    for i, (p, s) in enumerate(zip(photos, scales)):
        image = levels[p][s]
        y = rng.integers(0, image.shape[0] - crop_size + 1)
        x = rng.integers(0, image.shape[1] - crop_size + 1)
        crops[i] = image[y : y + crop_size, x : x + crop_size]
    return crops, photos.astype("int64")


def load_photos(
    crop_size=28, num_train=20000, num_test=2000, seed=0, short_sides=DEFAULT_SHORT_SIDES, names=PHOTO_NAMES
):
    """Random colour crops of the photos bundled with scikit-image and
    scikit-learn, for colourisation and inpainting (offline).

    Ten natural colour photos (`PHOTO_NAMES`: astronaut, chelsea the cat,
    coffee, the Hubble deep field, an immunohistochemistry slide, a
    motorcycle, a retina, a rocket, and scikit-learn's china and flower)
    are each downscaled (antialiased) to several sizes, `short_sides`, so a
    crop covers a part of an object rather than texture. Each photo is cut
    in two: the first two thirds along its longer axis give the training
    crops, the last third the test crops, so train and test never share a
    pixel of a photo. Photo, scale and position of each crop are drawn
    uniformly with `seed` (the same seed gives the same crops).

    The label of a crop is the index of its photo (`class_names` are the
    photo names): a weak label, for monitoring only.

    Args:
        crop_size: int. Side of the square crops (28, to match Fashion-MNIST).
        num_train: int. Number of training crops.
        num_test: int. Number of test crops.
        seed: int. Seed of the crops.
        short_sides: tuple of int. Shorter side in pixels of each downscaled
            copy of a photo; each must be at least `3 * crop_size` so the
            test third holds a crop.
        names: tuple of str. Photos to use, a subset of `PHOTO_NAMES`.

    Returns:
        `ImageDataset` named `"photos"` of uint8 images
        `[N, crop_size, crop_size, 3]`.

    Example:

    >>> data = load_photos(num_train=1000, num_test=100)
    >>> data.x_train.shape, data.class_names[1]
    ((1000, 28, 28, 3), 'chelsea')
    """
    crop_size = int(crop_size)
    short_sides = tuple(int(s) for s in short_sides)
    if crop_size < 1 or num_train < 1 or num_test < 1:
        raise ValueError(
            f"load_photos needs a positive crop_size, num_train and num_test, got {crop_size}, {num_train}, {num_test}"
        )
    if not short_sides or min(short_sides) < 3 * crop_size:
        raise ValueError(
            f"load_photos short_sides must all be at least 3 * crop_size = {3 * crop_size} (the test third of a "
            f"photo must hold a crop), got {short_sides}: raise them or lower crop_size"
        )
    unknown = [n for n in names if n not in PHOTO_NAMES]
    if unknown or not names:
        raise ValueError(f"load_photos: unknown photo names {unknown or names}: use some of {', '.join(PHOTO_NAMES)}")
    train_levels, test_levels = _levels(tuple(names), short_sides)
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    x_train, y_train = _random_crops(train_levels, int(num_train), crop_size, train_rng)
    x_test, y_test = _random_crops(test_levels, int(num_test), crop_size, test_rng)
    return ImageDataset(
        name="photos",
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        class_names=list(names),
        source="skimage.data and sklearn.datasets.load_sample_images",
    )
