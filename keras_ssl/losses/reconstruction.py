"""Reconstruction losses of the denoising autoencoders."""

import tensorflow as tf

LOSSES = ("cross_entropy", "squared_error")


def denoising_reconstruction_loss(targets, outputs, loss="cross_entropy", corrupted=None, emphasis=(1.0, 1.0)):
    """Per-example reconstruction loss of a denoising autoencoder.

    Vincent et al., "Stacked Denoising Autoencoders" (JMLR 2010), sections
    2.3 and 4.3: the cross-entropy
    `-sum_j [x_j log z_j + (1 - x_j) log(1 - z_j)]` with `z = sigmoid(outputs)`
    for targets in [0, 1], or the squared error `sum_j (x_j - z_j)^2` with
    the affine output `z = outputs`. With `corrupted` (1 where a component
    was corrupted) the emphasised version weights the corrupted components
    by `alpha` and the others by `beta`, `emphasis = (alpha, beta)`. Sums
    over components are divided by the number of components (a mean), so
    the scale does not depend on the image size.

    Args:
        targets: float tensor `[batch, ...]`. Clean inputs in [0, 1].
        outputs: float tensor of the same shape. Decoder outputs (logits
            for cross-entropy).
        loss: str. "cross_entropy" or "squared_error".
        corrupted: optional float tensor of the same shape, 1 on corrupted
            components.
        emphasis: (alpha, beta). Weights of corrupted and uncorrupted
            components.

    Returns:
        float32 tensor `[batch]`.

    Example:

    >>> denoising_reconstruction_loss(tf.fill((2, 4), 0.5), tf.zeros((2, 4)))
    <tf.Tensor: shape=(2,), numpy=array([0.6931472, 0.6931472], dtype=float32)>
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown reconstruction loss {loss!r}: use one of {', '.join(LOSSES)}")
    targets = tf.cast(targets, "float32")
    outputs = tf.cast(outputs, "float32")
    if loss == "cross_entropy":
        per_component = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=outputs)
    else:
        per_component = tf.square(outputs - targets)
    if corrupted is not None:
        alpha, beta = emphasis
        corrupted = tf.cast(corrupted, "float32")
        per_component = per_component * (beta + (alpha - beta) * corrupted)
    batch = tf.shape(per_component)[0]
    return tf.reduce_mean(tf.reshape(per_component, [batch, -1]), axis=-1)


def reconstruction_to_unit(outputs, loss):
    """Decoder outputs as reconstructions in [0, 1]: the sigmoid of the
    logits for cross-entropy, the affine outputs clipped for squared error."""
    outputs = tf.cast(outputs, "float32")
    if loss == "cross_entropy":
        return tf.sigmoid(outputs)
    return tf.clip_by_value(outputs, 0.0, 1.0)
