"""Frozen features of an encoder."""

import numpy as np


def extract_features(encoder, images, batch_size=512):
    """Runs `encoder` in inference mode over `images` and returns float32
    NumPy features `[N, D]`.

    Args:
        encoder: keras.Model from raw pixels to features (a method's
            `encoder`, or the method itself).
        images: uint8 array `[N, H, W, C]`.
        batch_size: int.

    Example:

    >>> features = extract_features(model.encoder, data.x_test)
    """
    features = encoder.predict(images, batch_size=batch_size, verbose=0)
    return np.asarray(features, dtype="float32").reshape(len(images), -1)


def raw_pixel_features(images):
    """The raw-pixel baseline: flattened pixels scaled to [0, 1]."""
    return np.asarray(images, dtype="float32").reshape(len(images), -1) / 255.0
