"""Crops, resizes and shifts written as separable matrix products.

XLA has no kernel for `tf.image.crop_and_resize` (CropAndResize),
`tf.image.resize(method="area")` (ResizeArea) or Keras's affine
augmentation layers (ImageProjectiveTransformV3), so a train step that uses
them cannot compile for a TPU, and `compile(jit_compile=True)` falls back or
fails. Bilinear sampling along one axis is a linear map from the input rows
to the output rows; each function here builds that map as a `[batch, out,
in]` weight matrix per axis and applies the two with `einsum`, which XLA
compiles on every device (and which runs as matrix products on
accelerators).
"""

import numpy as np
import tensorflow as tf


def _bilinear_matrix(positions, size, dtype, edges):
    """Weights `[..., out, size]` that sample `size` input rows at float
    `positions` `[..., out]`, linear between the two nearest rows. Rows
    outside `[0, size)`: `"clip"` clips the positions into `[0, size - 1]`
    (crops), `"reflect"` folds them back (`d c b a | a b c d | d c b a`,
    Keras's and SciPy's "reflect"), `"zero"` reads 0 (`tf.one_hot` of an
    index out of range is all zeros)."""
    positions = tf.cast(positions, "float32")
    if edges == "clip":
        positions = tf.clip_by_value(positions, 0.0, float(size - 1))
    below = tf.floor(positions)
    fraction = tf.cast(positions - below, dtype)[..., None]
    below = tf.cast(below, tf.int32)
    above = below + 1
    if edges == "clip":
        above = tf.minimum(above, size - 1)
    elif edges == "reflect":
        below, above = _reflect(below, size), _reflect(above, size)
    return tf.one_hot(below, size, dtype=dtype) * (1.0 - fraction) + tf.one_hot(above, size, dtype=dtype) * fraction


def _apply(images, rows, columns):
    """`rows` `[B, h, H]` and `columns` `[B, w, W]` applied to `[B, H, W, C]`."""
    images = tf.einsum("bih,bhwc->biwc", rows, images)
    return tf.einsum("bjw,biwc->bijc", columns, images)


def _crop_positions(start, stop, in_size, out_size):
    """Sample positions of `tf.image.crop_and_resize` along one axis:
    `out_size` points from `start` to `stop` (normalised, `[B]`) over the
    pixel centres `0 .. in_size - 1`."""
    scale = float(in_size - 1)
    if out_size == 1:
        return (0.5 * (start + stop) * scale)[:, None]
    steps = tf.range(out_size, dtype=start.dtype) / float(out_size - 1)
    return (start[:, None] + steps[None, :] * (stop - start)[:, None]) * scale


def crop_and_resize(images, boxes, size):
    """Bilinear crops of `boxes` resized to `size`, one box per image.

    The same sampling as `tf.image.crop_and_resize(images, boxes,
    tf.range(batch), size)` for boxes inside the image, but XLA compiles it.

    Args:
        images: float tensor `[B, H, W, C]` (static H and W).
        boxes: float tensor `[B, 4]` of normalised `[y1, x1, y2, x2]`.
        size: `(height, width)` of the output.

    Returns:
        `[B, height, width, C]` in the images' dtype.

    Example:

    >>> boxes = tf.constant([[0.0, 0.0, 0.5, 0.5]])
    >>> crop_and_resize(tf.zeros((1, 28, 28, 1)), boxes, (28, 28)).shape
    TensorShape([1, 28, 28, 1])
    """
    height, width = int(images.shape[1]), int(images.shape[2])
    boxes = tf.cast(boxes, "float32")
    rows = _bilinear_matrix(
        _crop_positions(boxes[:, 0], boxes[:, 2], height, int(size[0])), height, images.dtype, "clip"
    )
    columns = _bilinear_matrix(
        _crop_positions(boxes[:, 1], boxes[:, 3], width, int(size[1])), width, images.dtype, "clip"
    )
    return _apply(images, rows, columns)


def _area_matrix(in_size, out_size):
    """`[out_size, in_size]` box-filter weights: output pixel `i` averages
    the input interval `[i, i + 1) * in_size / out_size`, pixels that the
    interval cuts counted by the share it covers (TF's ResizeArea)."""
    scale = in_size / out_size
    starts = np.arange(out_size, dtype="float64")[:, None] * scale
    pixels = np.arange(in_size, dtype="float64")[None, :]
    overlap = np.maximum(0.0, np.minimum(starts + scale, pixels + 1.0) - np.maximum(starts, pixels))
    return overlap / scale


def area_resize(images, size):
    """`tf.image.resize(images, size, method="area")`, compiled by XLA.

    Args:
        images: float tensor `[B, H, W, C]` with static H and W.
        size: `(height, width)` of the output.

    Example:

    >>> area_resize(tf.ones((2, 28, 28, 3)), (7, 7)).shape
    TensorShape([2, 7, 7, 3])
    """
    height, width = int(images.shape[1]), int(images.shape[2])
    rows = tf.cast(_area_matrix(height, int(size[0])), images.dtype)
    columns = tf.cast(_area_matrix(width, int(size[1])), images.dtype)
    images = tf.einsum("ih,bhwc->biwc", rows, images)
    return tf.einsum("jw,biwc->bijc", columns, images)


def _reflect(indices, size):
    """Indices folded into `[0, size)` by mirroring about the edges with the
    edge pixel repeated (`d c b a | a b c d | d c b a`, Keras's and
    SciPy's "reflect")."""
    period = 2 * size
    folded = tf.math.floormod(indices, period)
    return tf.where(folded < size, folded, period - 1 - folded)


def translate(images, shifts):
    """Each image moved by its own `(dy, dx)` pixels, bilinear, edges
    reflected: `keras.layers.RandomTranslation(fill_mode="reflect")`'s
    transform, compiled by XLA.

    Args:
        images: float tensor `[B, H, W, C]` with static H and W.
        shifts: float tensor `[B, 2]`: rows down and columns right.

    Example:

    >>> translate(tf.zeros((2, 28, 28, 1)), tf.constant([[1.0, -2.0], [0.5, 0.0]])).shape
    TensorShape([2, 28, 28, 1])
    """
    height, width = int(images.shape[1]), int(images.shape[2])
    # Output row i samples input row i - shift.
    shifts = tf.cast(shifts, "float32")
    rows = _bilinear_matrix(tf.range(height, dtype="float32")[None, :] - shifts[:, :1], height, images.dtype, "reflect")
    columns = _bilinear_matrix(
        tf.range(width, dtype="float32")[None, :] - shifts[:, 1:], width, images.dtype, "reflect"
    )
    return _apply(images, rows, columns)


def sample_axes(images, rows, columns):
    """Bilinear samples of each image at the grid `rows x columns`, zero
    outside the image: an axis-aligned affine warp (scale and shift per
    image) such as `keras.ops.image.affine_transform` with
    `fill_mode="constant", fill_value=0` makes, compiled by XLA.

    Args:
        images: float tensor `[B, H, W, C]` with static H and W.
        rows: float tensor `[B, h]`: the input row each output row samples.
        columns: float tensor `[B, w]`: the input column of each output
            column.

    Example:

    >>> grid = tf.range(28, dtype="float32")[None] * 0.5  # a 2x zoom on the top-left corner
    >>> sample_axes(tf.ones((1, 28, 28, 1)), grid, grid).shape
    TensorShape([1, 28, 28, 1])
    """
    height, width = int(images.shape[1]), int(images.shape[2])
    row_weights = _bilinear_matrix(rows, height, images.dtype, "zero")
    column_weights = _bilinear_matrix(columns, width, images.dtype, "zero")
    return _apply(images, row_weights, column_weights)
