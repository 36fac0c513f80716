"""Binary images for the density models (FVSBN, NADE, PixelCNN)."""

import numpy as np


def binarize(images, threshold=0.5, stochastic=False, seed=0):
    """Grey images in [0, 255] as uint8 0/1 pixels.

    The fixed binarisation (default) sets a pixel to 1 where its intensity
    is at least `threshold` of the range (`pixel >= threshold * 255`). The
    stochastic binarisation of Larochelle & Murray (2011) draws each pixel
    from a Bernoulli of its intensity (`pixel / 255`), with a fixed `seed`,
    so a dataset is binarised once and the same way every time.

    Args:
        images: uint8 or float array `[N, H, W, 1]` (or any shape) of pixels
            in [0, 255].
        threshold: float in (0, 1). Fixed binarisation threshold.
        stochastic: bool. Bernoulli draws instead of the threshold.
        seed: int. Seed of the stochastic draws.

    Returns:
        uint8 array of 0 and 1, the shape of `images`.

    Example:

    >>> binarize(np.array([[0, 127, 128, 255]], "uint8")).tolist()
    [[0, 0, 1, 1]]
    """
    images = np.asarray(images)
    if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise ValueError(f"binarize takes pixels in [0, 255], got dtype {images.dtype}")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1) (a fraction of 255), got {threshold}")
    intensity = images.astype("float64") / 255.0
    if stochastic:
        return (np.random.default_rng(seed).random(images.shape) < intensity).astype("uint8")
    return (images.astype("float64") >= threshold * 255.0).astype("uint8")
