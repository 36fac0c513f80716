"""The entropy of a classifier's predictions, the penalty of entropy
minimization (Grandvalet & Bengio 2005) and of VAT+EntMin (Miyato et al. 2018)."""

import tensorflow as tf


def prediction_entropy(logits):
    """Per-example entropy `H(p) = -sum_k p_k log p_k` of `p = softmax(logits)`.

    Grandvalet and Bengio, "Semi-supervised Learning by Entropy
    Minimization" (NIPS 2005): the conditional entropy of the class given
    an unlabelled input, which their regulariser drives down so that the
    decision boundary passes through low-density regions. Computed from
    `log_softmax` in float32, so it stays finite (and its gradient too) for
    saturated logits where `softmax` rounds to exactly 0 or 1.

    Args:
        logits: float tensor `[batch, num_classes]`. Unnormalised scores.

    Returns:
        float32 tensor `[batch]`, in nats, between 0 (one-hot) and
        `log(num_classes)` (uniform).

    Example:

    >>> prediction_entropy(np.zeros((1, 4), "float32")).numpy()  # log 4
    array([1.3862944], dtype=float32)
    """
    log_p = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
    return -tf.reduce_sum(tf.exp(log_p) * log_p, axis=-1)
