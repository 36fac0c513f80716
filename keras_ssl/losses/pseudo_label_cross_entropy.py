"""Cross-entropy against confident hard pseudo-labels."""

import tensorflow as tf


def check_threshold(threshold):
    """Raises a one-line `ValueError` unless `0 <= threshold < 1`."""
    if not 0.0 <= threshold < 1.0:
        raise ValueError(
            f"threshold must be in [0, 1), got {threshold}: a probability reaches 1.0 only by float rounding, "
            "so use e.g. 0.999 to keep only the most confident pseudo-labels"
        )


def pseudo_label_cross_entropy(logits, target_logits=None, threshold=0.0):
    """Cross-entropy of `logits` against the argmax class of `target_logits`,
    kept only where that class's probability reaches `threshold`.

    Lee, "Pseudo-Label: The Simple and Efficient Semi-Supervised Learning
    Method for Deep Neural Networks" (ICML 2013 Workshop on Challenges in
    Representation Learning), equation 1: an unlabelled example's pseudo-
    label is its most probable class, treated as if it were a true label.
    The confidence threshold (0.95 in Oliver et al. 2018 and FixMatch)
    keeps only confident predictions; 0 keeps all, Lee's original rule.
    The targets carry no gradient. The loss is `mean(mask * CE)` over ALL
    examples, not over the masked-in ones, so its scale does not blow up
    when few pass.

    The threshold lies in [0, 1): a float32 softmax reaches exactly 1.0 only
    through rounding, which differs between CPUs' vectorised kernels, so a
    threshold of 1.0 would keep an arbitrary, machine-dependent set. It is
    rejected (`check_threshold`); use e.g. 0.999 to keep only the surest.

    Args:
        logits: float tensor `[batch, num_classes]`. Predictions to train.
        target_logits: float tensor `[batch, num_classes]`. Predictions the
            pseudo-labels come from (another view, a teacher); `logits`
            itself when None.
        threshold: float. Smallest max-probability kept, in [0, 1).

    Returns:
        `(loss, mask, pseudo_labels)`: the float32 scalar loss, the float32
        `[batch]` mask (1 where kept; its mean is the mask rate) and the int32
        `[batch]` pseudo-labels.

    Example:

    >>> logits = np.array([[4.0, 0.0], [0.1, 0.0]], "float32")
    >>> loss, mask, labels = pseudo_label_cross_entropy(logits, threshold=0.95)
    >>> mask.numpy(), labels.numpy()
    (array([1., 0.], dtype=float32), array([0, 0], dtype=int32))
    """
    check_threshold(threshold)
    logits = tf.cast(logits, tf.float32)
    targets = logits if target_logits is None else tf.cast(target_logits, tf.float32)
    probabilities = tf.nn.softmax(tf.stop_gradient(targets), axis=-1)
    pseudo_labels = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
    mask = tf.cast(tf.reduce_max(probabilities, axis=-1) >= threshold, tf.float32)
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=pseudo_labels, logits=logits)
    return tf.reduce_mean(mask * cross_entropy), mask, pseudo_labels
