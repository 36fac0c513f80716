"""NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR."""

import keras
import tensorflow as tf

from keras_ssl.distribute import cross_replica_concat

_LARGE_NUM = 1e9


def nt_xent(z1, z2, temperature=0.5, gather=True):
    """NT-Xent loss of two batches of paired embeddings.

    Chen et al., "A Simple Framework for Contrastive Learning of Visual
    Representations" (ICML 2020), equation 1. For each of the 2B anchors the
    positive is the other view of the same image and the negatives are the
    other 2B - 2 views; embeddings are L2-normalised and similarities divided
    by `temperature`. Under a `tf.distribute` strategy the embeddings of all
    replicas are gathered, so negatives span the global batch, and the
    returned loss is the mean over this replica's anchors.

    Args:
        z1: float tensor `[B, D]`. First view's embeddings.
        z2: float tensor `[B, D]`. Second view's embeddings, row-aligned.
        temperature: float. Softmax temperature.
        gather: bool. Gather negatives across replicas.

    Returns:
        `(loss, logits, labels)`: the scalar mean loss, the `[2B, 2N]`
        logits (self-similarities masked to a large negative number, N the
        global batch) and the int `[2B]` index of each anchor's positive,
        so `argmax(logits) == labels` is the contrastive accuracy.

    Example:

    >>> z = np.random.normal(size=(8, 16)).astype("float32")
    >>> loss, logits, labels = nt_xent(z, z + 0.1, temperature=0.5)
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    z1 = tf.math.l2_normalize(tf.cast(z1, tf.float32), axis=-1)
    z2 = tf.math.l2_normalize(tf.cast(z2, tf.float32), axis=-1)
    batch = tf.shape(z1)[0]
    if gather:
        all_z1, offset = cross_replica_concat(z1)
        all_z2, _ = cross_replica_concat(z2)
    else:
        all_z1, all_z2, offset = z1, z2, 0
    global_batch = tf.shape(all_z1)[0]
    positions = tf.range(batch) + offset
    self_mask = tf.one_hot(positions, global_batch) * _LARGE_NUM

    # Anchor rows: [z1; z2]. Columns: [all_z1, all_z2].
    logits_11 = tf.matmul(z1, all_z1, transpose_b=True) / temperature - self_mask
    logits_12 = tf.matmul(z1, all_z2, transpose_b=True) / temperature
    logits_21 = tf.matmul(z2, all_z1, transpose_b=True) / temperature
    logits_22 = tf.matmul(z2, all_z2, transpose_b=True) / temperature - self_mask
    logits = tf.concat([tf.concat([logits_11, logits_12], axis=1), tf.concat([logits_21, logits_22], axis=1)], axis=0)
    labels = tf.concat([positions + global_batch, positions], axis=0)
    per_anchor = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return tf.reduce_mean(per_anchor), logits, labels


@keras.saving.register_keras_serializable(package="keras_ssl")
class NTXentLoss(keras.losses.Loss):
    """NT-Xent as a Keras loss: `loss(z1, z2)` (see `nt_xent`).

    Chen et al., "A Simple Framework for Contrastive Learning of Visual
    Representations" (ICML 2020). `y_true` is the first view's embeddings
    and `y_pred` the second's; negatives are gathered across replicas.

    Args:
        temperature: float. Softmax temperature (0.5, the paper's CIFAR-10
            setting, by default).
        gather: bool. Gather negatives across replicas.

    Example:

    >>> loss = NTXentLoss(temperature=0.5)
    >>> value = loss(np.eye(4, 8, dtype="float32"), np.eye(4, 8, dtype="float32"))
    """

    def __init__(self, temperature=0.5, gather=True, name="nt_xent", **kwargs):
        kwargs.setdefault("reduction", "sum_over_batch_size")
        super().__init__(name=name, **kwargs)
        self.temperature = temperature
        self.gather = gather

    def call(self, y_true, y_pred):
        loss, _, _ = nt_xent(y_true, y_pred, temperature=self.temperature, gather=self.gather)
        return loss

    def get_config(self):
        config = super().get_config()
        config.update({"temperature": self.temperature, "gather": self.gather})
        return config
