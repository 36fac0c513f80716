"""Masks of the regions a context encoder must fill in.

Pathak, Krähenbühl, Donahue, Darrell and Efros, "Context Encoders: Feature
Learning by Inpainting" (CVPR 2016), section 3.3 removes three kinds of
region: a central square, several random blocks, and random
(silhouette-shaped) regions, each about a quarter of the image.

Every mask function takes a batch of images `[B, H, W, C]` (H and W known
statically) and returns float32 masks `[B, H, W, 1]`: 1 where a pixel is
removed (and must be predicted), 0 where it is kept. They run eagerly, in
`tf.function` and in `tf.data`; the random ones draw from `keras.random`
with `seed` (an int or a `keras.random.SeedGenerator`).
"""

import math

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.augment.resample import sample_axes


def _check_fraction(fraction, name):
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"{name}: fraction must be in (0, 1) (paper: 0.25), got {fraction}")


def _spatial_size(images, name):
    shape = images.shape
    if shape.rank != 4 or shape[1] is None or shape[2] is None:
        raise ValueError(
            f"{name} expects images [batch, height, width, channels] with a known height and width, "
            f"got shape {tuple(shape) if shape.rank is not None else None}"
        )
    return int(shape[1]), int(shape[2])


def central_mask(images, fraction=0.25):
    """The centre rectangle covering `fraction` of each image (paper: the
    central 64x64 of a 128x128 image, a quarter).

    Its sides are `round(H * sqrt(fraction))` by `round(W * sqrt(fraction))`,
    so the area is `fraction` up to rounding (exactly 1/4 of a 28x28 image
    for 0.25: the central 14x14).

    Args:
        images: tensor `[B, H, W, C]` (only its shape is used).
        fraction: float. Area to remove, in (0, 1).

    Returns:
        float32 tensor `[B, H, W, 1]`, 1 inside the removed region.

    Example:

    >>> central_mask(np.zeros((2, 28, 28, 1))).numpy().mean()
    0.25
    """
    images = tf.convert_to_tensor(images)
    _check_fraction(fraction, "central_mask")
    h, w = _spatial_size(images, "central_mask")
    side = math.sqrt(float(fraction))
    mh, mw = max(1, round(h * side)), max(1, round(w * side))
    top, left = (h - mh) // 2, (w - mw) // 2
    mask = np.zeros((1, h, w, 1), "float32")
    mask[:, top : top + mh, left : left + mw] = 1.0
    return tf.tile(tf.constant(mask), [tf.shape(images)[0], 1, 1, 1])


def random_block_mask(images, fraction=0.25, block_size=(0.15, 0.4), max_blocks=16, seed=None):
    """Several random, possibly overlapping rectangles covering about
    `fraction` of each image (the paper's "random block" masks).

    Up to `max_blocks` rectangles are drawn per image, each side a uniform
    fraction `block_size` of the image side, at a uniform position; they are
    added in turn, each only if it brings the covered area closer to
    `fraction`. The covered area is thus `fraction` up to about half a
    block (on average `fraction`: see the tests).

    Args:
        images: tensor `[B, H, W, C]` (only its shape is used).
        fraction: float. Target area to remove, in (0, 1) (paper: 1/4).
        block_size: (min, max) floats. Range of each block side as a
            fraction of the image side.
        max_blocks: int. Blocks drawn per image.
        seed: int or `keras.random.SeedGenerator`.

    Returns:
        float32 tensor `[B, H, W, 1]`, 1 inside the removed region.

    Example:

    >>> masks = random_block_mask(np.zeros((64, 28, 28, 1)), seed=0)
    >>> float(masks.numpy().mean())  # about 0.25
    """
    images = tf.convert_to_tensor(images)
    _check_fraction(fraction, "random_block_mask")
    low, high = (float(v) for v in block_size)
    if not 0.0 < low <= high <= 1.0:
        raise ValueError(f"random_block_mask: block_size must be (min, max) with 0 < min <= max <= 1, got {block_size}")
    if int(max_blocks) < 1:
        raise ValueError(f"random_block_mask: max_blocks must be at least 1, got {max_blocks}")
    h, w = _spatial_size(images, "random_block_mask")
    batch = tf.shape(images)[0]
    # One draw for everything, so an int seed gives independent numbers.
    u = keras.random.uniform((batch, int(max_blocks), 4), seed=seed)
    sizes = low + (high - low) * u[..., :2]
    block_h = tf.clip_by_value(tf.round(sizes[..., 0] * h), 1.0, float(h))
    block_w = tf.clip_by_value(tf.round(sizes[..., 1] * w), 1.0, float(w))
    top = tf.floor(u[..., 2] * (h - block_h + 1.0))
    left = tf.floor(u[..., 3] * (w - block_w + 1.0))
    rows = tf.range(h, dtype=tf.float32)[None, None, :, None]
    cols = tf.range(w, dtype=tf.float32)[None, None, None, :]
    inside_rows = (rows >= top[..., None, None]) & (rows < (top + block_h)[..., None, None])
    inside_cols = (cols >= left[..., None, None]) & (cols < (left + block_w)[..., None, None])
    blocks = tf.cast(inside_rows & inside_cols, tf.float32)  # [B, K, H, W]
    mask = tf.zeros_like(blocks[:, 0])
    for k in range(int(max_blocks)):
        candidate = tf.maximum(mask, blocks[:, k])
        old_gap = tf.abs(tf.reduce_mean(mask, axis=[1, 2]) - fraction)
        new_gap = tf.abs(tf.reduce_mean(candidate, axis=[1, 2]) - fraction)
        mask = tf.where((new_gap < old_gap)[:, None, None], candidate, mask)
    return mask[..., None]


def random_region_mask(images, fraction=0.25, seed=None):
    """Silhouette-shaped regions covering about `fraction` of each image
    (the paper's "random region" masks).

    The paper cuts shapes out of PASCAL VOC 2012 segmentation masks; having
    no segmentations offline, this uses the foreground of another image of
    the same batch instead: image `i` takes the silhouette of image `j != i`
    (drawn at random) thresholded at its mean grey level, flipped
    horizontally at random, scaled so that its area is `fraction` of the
    image, and pasted at a random position where it fits (centred where it
    does not, then clipped). An image with no foreground gives a square.
    With a batch of one image, the image's own silhouette is used.

    Args:
        images: tensor `[B, H, W, C]` of pixels (uint8 or float).
        fraction: float. Target area to remove, in (0, 1) (paper: 1/4).
        seed: int or `keras.random.SeedGenerator`.

    Returns:
        float32 tensor `[B, H, W, 1]`, 1 inside the removed region.

    Example:

    >>> masks = random_region_mask(fashion_mnist_images[:64], seed=0)
    """
    images = tf.convert_to_tensor(images)
    _check_fraction(fraction, "random_region_mask")
    h, w = _spatial_size(images, "random_region_mask")
    batch = tf.shape(images)[0]
    grey = tf.reduce_mean(tf.cast(images, tf.float32), axis=-1)  # [B, H, W]
    u = keras.random.uniform((batch, 4), seed=seed)
    # Another image of the batch: shift each index by 1 ... B-1.
    shift = 1 + tf.cast(tf.floor(u[:, 0] * tf.cast(tf.maximum(batch - 1, 1), tf.float32)), tf.int32)
    source = tf.gather(grey, tf.math.floormod(tf.range(batch) + shift, batch))
    silhouette = tf.cast(source > tf.reduce_mean(source, axis=[1, 2], keepdims=True), tf.float32)
    area = tf.reduce_mean(silhouette, axis=[1, 2])
    # No foreground (a constant image): fall back to the whole image, i.e. a square.
    silhouette = tf.where((area * h * w < 1.0)[:, None, None], tf.ones_like(silhouette), silhouette)
    silhouette = tf.where((u[:, 1] < 0.5)[:, None, None], tf.reverse(silhouette, axis=[2]), silhouette)
    area = tf.reduce_mean(silhouette, axis=[1, 2])
    scale = tf.sqrt(fraction / area)

    rows = tf.range(h, dtype=tf.float32)[None, :, None]
    cols = tf.range(w, dtype=tf.float32)[None, None, :]
    count = tf.reduce_sum(silhouette, axis=[1, 2])
    cy = tf.reduce_sum(silhouette * rows, axis=[1, 2]) / count
    cx = tf.reduce_sum(silhouette * cols, axis=[1, 2]) / count
    big = 1e6
    y_min = tf.reduce_min(tf.where(silhouette > 0, rows + 0 * cols, big), axis=[1, 2])
    y_max = tf.reduce_max(tf.where(silhouette > 0, rows + 0 * cols, -big), axis=[1, 2])
    x_min = tf.reduce_min(tf.where(silhouette > 0, cols + 0 * rows, big), axis=[1, 2])
    x_max = tf.reduce_max(tf.where(silhouette > 0, cols + 0 * rows, -big), axis=[1, 2])

    def place(centre, low_extent, high_extent, size, draw):
        # Centre positions keeping the scaled shape inside [0, size - 1].
        low = scale * (centre - low_extent)
        high = (size - 1.0) - scale * (high_extent - centre)
        return tf.where(high >= low, low + draw * (high - low), 0.5 * (low + high))

    py = place(cy, y_min, y_max, h, u[:, 2])
    px = place(cx, x_min, x_max, w, u[:, 3])
    # Output pixel (y, x) samples the source at (cy + (y - py) / scale,
    # cx + (x - px) / scale): the output point (py, px) is the source
    # centroid. An axis-aligned warp, written as matrix products (XLA).
    inverse = 1.0 / scale
    rows_in = cy[:, None] + (tf.range(h, dtype=tf.float32)[None, :] - py[:, None]) * inverse[:, None]
    cols_in = cx[:, None] + (tf.range(w, dtype=tf.float32)[None, :] - px[:, None]) * inverse[:, None]
    moved = sample_axes(silhouette[..., None], rows_in, cols_in)
    return tf.cast(moved > 0.5, tf.float32)


def reconstruction_weights(masks, overlap=0, overlap_weight=10.0):
    """Per-pixel weights of the context encoder's reconstruction loss.

    Weight 1 on the removed region and `overlap_weight` on a band of
    `overlap` pixels of kept context around it, 0 elsewhere. The paper
    predicts the central region with a 4-pixel overlap into the context
    (128x128 images) and weighs the loss there 10x, which helps the
    prediction blend with its surroundings; here the band is the removed
    region dilated by `overlap` pixels (any mask shape).

    Args:
        masks: float tensor `[B, H, W, 1]`, 1 where pixels were removed.
        overlap: int. Width of the band in pixels (0: no band).
        overlap_weight: float. Weight of the band's pixels (paper: 10).

    Returns:
        float32 tensor `[B, H, W, 1]`.

    Example:

    >>> weights = reconstruction_weights(central_mask(np.zeros((1, 28, 28, 1))), overlap=1)
    >>> sorted(np.unique(weights))
    [0.0, 1.0, 10.0]
    """
    masks = tf.cast(masks, tf.float32)
    overlap = int(overlap)
    if overlap < 0:
        raise ValueError(f"reconstruction_weights: overlap must be a number of pixels >= 0, got {overlap}")
    if overlap == 0:
        return masks
    dilated = tf.nn.max_pool2d(masks, ksize=2 * overlap + 1, strides=1, padding="SAME")
    return masks + float(overlap_weight) * (dilated - masks)
