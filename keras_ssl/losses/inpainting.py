"""The context encoder's masked reconstruction loss."""

import tensorflow as tf


def inpainting_reconstruction_loss(images, predictions, weights):
    """Per-example masked L2 loss of the context encoder.

    `sum(weights * (x - F)^2)` over pixels and channels, in [0, 1] pixel
    units, divided by the number of weighted (nonzero) pixel values: the
    paper's `||M * (x - F((1 - M) * x))||^2` as a mean over the predicted
    region, which keeps its scale independent of the mask size. Pixels of
    weight 0 (the kept context) do not count.

    Args:
        images: float tensor `[B, H, W, C]`, true pixels in [0, 255].
        predictions: float tensor `[B, H, W, C]`, predicted pixels in [0, 255].
        weights: float tensor `[B, H, W, 1]` (see `reconstruction_weights`).

    Returns:
        float32 tensor `[B]`.

    Example:

    >>> masks = central_mask(images)
    >>> loss = tf.reduce_mean(inpainting_reconstruction_loss(images, predictions, masks))
    """
    images = tf.cast(images, tf.float32)
    predictions = tf.cast(predictions, tf.float32)
    weights = tf.cast(weights, tf.float32)
    channels = tf.cast(tf.shape(images)[-1], tf.float32)
    squared = tf.square((images - predictions) / 255.0)
    total = tf.reduce_sum(weights * squared, axis=[1, 2, 3])
    count = tf.reduce_sum(tf.cast(weights > 0, tf.float32), axis=[1, 2, 3]) * channels
    return total / tf.maximum(count, 1.0)
