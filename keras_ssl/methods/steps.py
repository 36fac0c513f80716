"""The update every `train_step` shares: replica-scaled loss, a finiteness
check that runs before any weight changes, and the optimizer's apply."""

import tensorflow as tf

from keras_ssl.distribute import num_replicas_in_sync


def scaled_loss(optimizer, loss, replica_mean=True):
    """`loss` as the tape should differentiate it: divided by the replicas
    in sync (gradients are summed over replicas, so N replicas then match
    one; `replica_mean=False` keeps a per-replica sum, word2vec's SGD) and
    scaled by the optimizer's loss scale (mixed precision). Call inside the
    `GradientTape`."""
    if replica_mean:
        loss = loss / num_replicas_in_sync()
    return optimizer.scale_loss(loss)


def _identity(gradient):
    if gradient is None:
        return None
    if isinstance(gradient, tf.IndexedSlices):  # Embedding gradients stay sparse.
        return tf.IndexedSlices(tf.identity(gradient.values), gradient.indices, gradient.dense_shape)
    return tf.identity(gradient)


def apply_if_finite(
    optimizer, tape, scaled, variables, checked, owner, hint="lower the learning rate or check the inputs"
):
    """Differentiates `scaled` (from `scaled_loss`) with respect to
    `variables` and applies the gradients with `optimizer`, but only after
    `checked` (the unscaled loss, or a tensor of values that must all be
    finite) passed `tf.debugging.assert_all_finite`: a NaN or Inf raises
    `InvalidArgumentError` naming `owner` and `hint`, and no weight
    changes.

    Example:

    >>> with tf.GradientTape() as tape:
    ...     loss = self.compute_loss(batch)
    ...     scaled = scaled_loss(self.optimizer, loss)
    >>> apply_if_finite(self.optimizer, tape, scaled, self.trainable_variables, loss, type(self).__name__)
    """
    gradients = tape.gradient(scaled, variables)
    check = tf.debugging.assert_all_finite(
        checked, f"{owner} loss is not finite (NaN or Inf): {hint}; the weights were not updated"
    )
    with tf.control_dependencies([check]):
        gradients = [_identity(g) for g in gradients]
    optimizer.apply(gradients, variables)
