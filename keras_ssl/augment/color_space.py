"""CIE Lab <-> sRGB in TensorFlow ops (D65 white, the standard formulas).

Pixels follow the repo's convention: RGB values in [0, 255] (uint8 or
float). Lab comes as float32 `[..., 3]`: L in [0, 100], a and b roughly in
[-128, 127]. The formulas are those of `skimage.color.rgb2lab` /
`lab2rgb` with their defaults (sRGB gamma, D65 illuminant, 2 degree
observer), so the results agree with scikit-image to float32 precision.
"""

import numpy as np
import tensorflow as tf

# sRGB (linear) -> CIE XYZ, D65 (IEC 61966-2-1), and its inverse.
_RGB_TO_XYZ = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]], "float64"
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
# D65 reference white, 2 degree observer (the values scikit-image uses).
_WHITE = np.array([0.95047, 1.0, 1.08883], "float64")
_DELTA = 6.0 / 29.0

# L (in [0, 100]) as a raw pixel value in [0, 255]: how a 1-channel
# backbone sees lightness, like a grey pixel.
L_TO_PIXELS = 255.0 / 100.0
# a and b (in about [-128, 127]) as raw pixel values in about [0, 255].
AB_PIXEL_OFFSET = 128.0


def _as_float(x):
    x = tf.convert_to_tensor(x)
    return tf.cast(x, "float32") if x.dtype != tf.float32 else x


def rgb_to_lab(images):
    """CIE Lab `[..., 3]` of sRGB pixels `[..., 3]` in [0, 255].

    Example:

    >>> rgb_to_lab(tf.constant([[255, 0, 0]], tf.uint8)).numpy().round(1)
    array([[ 53.2,  80.1,  67.2]], dtype=float32)
    """
    rgb = _as_float(images) / 255.0
    linear = tf.where(rgb > 0.04045, tf.pow((tf.maximum(rgb, 0.04045) + 0.055) / 1.055, 2.4), rgb / 12.92)
    xyz = tf.tensordot(linear, tf.constant((_RGB_TO_XYZ / _WHITE[:, None]).T, "float32"), axes=1)
    # Keep pow's argument positive: its gradient at 0 would be NaN.
    f = tf.where(xyz > _DELTA**3, tf.pow(tf.maximum(xyz, _DELTA**3), 1.0 / 3.0), xyz / (3 * _DELTA**2) + 4.0 / 29.0)
    fx, fy, fz = tf.unstack(f, axis=-1)
    return tf.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def lab_to_rgb(lab):
    """sRGB pixels `[..., 3]` in [0, 255] (float32, clipped to the gamut)
    of CIE Lab `[..., 3]`.

    Example:

    >>> lab_to_rgb(tf.constant([[53.24, 80.09, 67.20]])).numpy().round()
    array([[255.,   0.,   0.]], dtype=float32)
    """
    lightness, a, b = tf.unstack(_as_float(lab), axis=-1)
    fy = (lightness + 16.0) / 116.0
    # Like scikit-image, a negative z (b far beyond the gamut) becomes 0.
    f = tf.stack([fy + a / 500.0, fy, tf.maximum(fy - b / 200.0, 0.0)], axis=-1)
    xyz = tf.where(f > _DELTA, tf.pow(f, 3.0), 3 * _DELTA**2 * (f - 4.0 / 29.0))
    linear = tf.tensordot(xyz, tf.constant((_XYZ_TO_RGB * _WHITE[None, :]).T, "float32"), axes=1)
    linear = tf.maximum(linear, 0.0)
    rgb = tf.where(linear > 0.0031308, 1.055 * tf.pow(tf.maximum(linear, 0.0031308), 1.0 / 2.4) - 0.055, 12.92 * linear)
    return 255.0 * tf.clip_by_value(rgb, 0.0, 1.0)


def lightness_pixels(images):
    """The L channel of sRGB pixels `[..., H, W, 3]` as a grey image
    `[..., H, W, 1]` in [0, 255] (L x 2.55): the input of an L -> ab
    network. A grey pixel g gives about g (within ~10 levels), so the same
    network also reads grey-scale images directly."""
    return rgb_to_lab(images)[..., :1] * L_TO_PIXELS


def ab_pixels(images):
    """The ab channels of sRGB pixels `[..., H, W, 3]` as a 2-channel image
    `[..., H, W, 2]` shifted by 128 into about [0, 255]: the input of an
    ab -> L network."""
    return rgb_to_lab(images)[..., 1:] + AB_PIXEL_OFFSET
