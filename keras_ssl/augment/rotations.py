"""Rotations by multiples of 90 degrees: the RotNet pretext task."""

import tensorflow as tf

NUM_ROTATIONS = 4


def _check_square(images, name):
    if images.shape.rank != 4:
        raise ValueError(f"{name} expects images [batch, height, width, channels], got shape {tuple(images.shape)}")
    height, width = images.shape[1], images.shape[2]
    if height is not None and width is not None and height != width:
        raise ValueError(
            f"{name} needs square images (a 90-degree rotation of a {height}x{width} image is "
            f"{width}x{height}), got {height}x{width}: crop or resize them to a square first"
        )


def _rot90(images, k):
    """Quarter turns for a Python int `k` with transposes and reversals
    (`tf.image.rot90` adds run-time asserts to the graph)."""
    k = k % NUM_ROTATIONS
    if k == 0:
        return images
    if k == 2:
        return tf.reverse(images, axis=[1, 2])
    transposed = tf.transpose(images, [0, 2, 1, 3])
    return tf.reverse(transposed, axis=[1 if k == 1 else 2])


def rotate_images(images, k):
    """Rotates every image of a batch by `k` x 90 degrees counter-clockwise.

    The same convention as `np.rot90(images, k, axes=(1, 2))`; `k` may be
    negative, so `rotate_images(rotate_images(x, k), -k)` is `x`.

    Args:
        images: tensor `[batch, height, width, channels]`, square.
        k: int or scalar int tensor. Number of quarter turns.

    Returns:
        Tensor of the same shape and dtype.

    Example:

    >>> rotate_images(np.arange(4.0).reshape(1, 2, 2, 1), 1)[0, ..., 0]
    <tf.Tensor: [[1., 3.], [0., 2.]]>
    """
    images = tf.convert_to_tensor(images)
    _check_square(images, "rotate_images")
    if isinstance(k, int):
        return _rot90(images, k)
    return tf.image.rot90(images, k=tf.math.floormod(tf.cast(k, "int32"), NUM_ROTATIONS))


def all_rotations(images):
    """Every image of a batch in its four rotations, with their labels.

    Gidaris, Singh and Komodakis, "Unsupervised Representation Learning by
    Predicting Image Rotations" (ICLR 2018): rotation `k` x 90 degrees
    (counter-clockwise) has label `k`. The output is rotation-major:
    `rotated[k * batch + i]` is image `i` rotated by `k` quarter turns.

    Args:
        images: tensor `[batch, size, size, channels]` (square).

    Returns:
        `(rotated, labels)`: `[4 * batch, size, size, channels]` and int32
        `[4 * batch]`.

    Example:

    >>> rotated, labels = all_rotations(np.zeros((8, 28, 28, 1), "float32"))
    >>> rotated.shape, labels.shape
    (TensorShape([32, 28, 28, 1]), TensorShape([32]))
    """
    images = tf.convert_to_tensor(images)
    _check_square(images, "all_rotations")
    rotated = tf.concat([_rot90(images, k) for k in range(NUM_ROTATIONS)], axis=0)
    labels = tf.repeat(tf.range(NUM_ROTATIONS, dtype="int32"), tf.shape(images)[0])
    return rotated, labels
