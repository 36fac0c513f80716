"""The squared-difference consistency of the Pi-model, temporal ensembling
and mean teacher."""

import tensorflow as tf


def probability_mse(probabilities, targets):
    """Per-example squared difference of two class-probability vectors,
    summed over the classes and divided by their number C.

    The consistency term of Laine & Aila, "Temporal Ensembling for
    Semi-Supervised Learning" (ICLR 2017), Algorithms 1 and 2:
    `1/C ||z_i - z~_i||^2`. Use it directly when the target is already a
    distribution (temporal ensembling's `z~`); `softmax_mse` takes logits.
    Gradients flow into both arguments: stop them where a method needs it.

    Args:
        probabilities: float tensor `[B, C]`.
        targets: float tensor `[B, C]`.

    Returns:
        float32 tensor `[B]`.

    Example:

    >>> probability_mse(np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]]))  # (0.25 + 0.25) / 2
    <tf.Tensor: shape=(1,), dtype=float32, numpy=array([0.25], dtype=float32)>
    """
    probabilities = tf.cast(probabilities, tf.float32)
    targets = tf.cast(targets, tf.float32)
    return tf.reduce_mean(tf.square(probabilities - targets), axis=-1)


def softmax_mse(logits_a, logits_b):
    """Per-example squared difference of `softmax(logits_a)` and
    `softmax(logits_b)`, summed over the classes and divided by their
    number C: the Pi-model's unsupervised loss (Laine & Aila 2017) and mean
    teacher's consistency cost (Tarvainen & Valpola 2017).

    Args:
        logits_a: float tensor `[B, C]`.
        logits_b: float tensor `[B, C]`.

    Returns:
        float32 tensor `[B]`; average it over the examples for the loss.

    Example:

    >>> loss = tf.reduce_mean(softmax_mse(logits_first_pass, logits_second_pass))
    """
    logits_a = tf.cast(logits_a, tf.float32)
    logits_b = tf.cast(logits_b, tf.float32)
    return probability_mse(tf.nn.softmax(logits_a, axis=-1), tf.nn.softmax(logits_b, axis=-1))
