"""MoCo: momentum contrast with a queue of keys (He et al. 2020; v2: Chen et al. 2020)."""

import numbers

import keras
import tensorflow as tf

from keras_ssl.augment.simclr_augmenter import SimCLRAugmenter
from keras_ssl.distribute import cross_replica_concat, num_replicas_in_sync
from keras_ssl.layers.ema import ema_update, momentum_copy, momentum_pairs
from keras_ssl.layers.memory_bank import Queue
from keras_ssl.layers.projection_head import ProjectionHead
from keras_ssl.methods.contrastive.base import ContrastiveMethod, contrast_accuracy


def moco_info_nce(queries, keys, queue, temperature):
    """InfoNCE of MoCo: each query against its key and every queued key.

    He et al., "Momentum Contrast for Unsupervised Visual Representation
    Learning" (CVPR 2020), equation 1 and Algorithm 1: the logits of a query
    `q` are `[q . k+, q . k_1, ..., q . k_K] / temperature` (its own key
    first, then the `K` keys of the queue) and the loss is their softmax
    cross-entropy with label 0, averaged over the queries. The inputs are
    used as given: pass unit vectors (the method L2-normalises queries and
    keys, and its queue holds unit rows).

    Args:
        queries: float `[B, D]`. The query encoder's embeddings.
        keys: float `[B, D]`. The key encoder's embeddings, row-aligned
            (the positives; no gradient should reach them).
        queue: float `[K, D]`. The negatives.
        temperature: float > 0. `tau`.

    Returns:
        `(loss, logits)`: the scalar mean loss and the float32 `[B, 1 + K]`
        logits (the positive in column 0).

    Example:

    >>> q = k = np.eye(4, 8, dtype="float32")
    >>> loss, logits = moco_info_nce(q, k, np.eye(16, 8, dtype="float32"), temperature=0.07)
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    queries = tf.cast(queries, tf.float32)
    keys = tf.cast(keys, tf.float32)
    queue = tf.cast(queue, tf.float32)
    positive = tf.reduce_sum(queries * keys, axis=-1, keepdims=True)
    negatives = tf.matmul(queries, queue, transpose_b=True)
    logits = tf.concat([positive, negatives], axis=-1) / temperature
    labels = tf.zeros(tf.shape(queries)[:1], tf.int32)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    return loss, logits


def shuffle_permutation(size, seed):
    """A random permutation of `range(size)` (int32), the same wherever it
    is drawn with the same stateless `seed` (int32 `[2]`): every replica
    draws the same one."""
    return tf.argsort(tf.random.stateless_uniform([size], seed=seed, dtype=tf.float32), stable=True)


def unshuffle(tensor, permutation):
    """Undoes `tf.gather(x, permutation)`: returns `x` in its original order."""
    return tf.gather(tensor, tf.math.invert_permutation(permutation))


def shuffled_apply(function, tensor, seed):
    """`function` of `tensor` (this replica's rows) computed on a shuffled
    global batch: MoCo's shuffling batch norm.

    The rows of all replicas are gathered (`cross_replica_concat`), permuted
    with `shuffle_permutation(global_batch, seed)` (the same on every
    replica), each replica applies `function` to its slice of the permuted
    rows, the outputs are gathered, put back in the original order and this
    replica's own rows returned. With one replica the permutation is still
    applied and undone (a row-wise `function` gives the same result).
    Every replica must hold the same number of rows.
    """
    gathered, offset = cross_replica_concat(tensor)
    local = tf.shape(tensor)[0]
    permutation = shuffle_permutation(tf.shape(gathered)[0], seed)
    mine = tf.gather(gathered, permutation)[offset : offset + local]
    outputs, _ = cross_replica_concat(function(mine))
    return unshuffle(outputs, permutation)[offset : offset + local]


@keras.saving.register_keras_serializable(package="keras_ssl")
class MoCo(ContrastiveMethod):
    """MoCo: momentum contrast, a query encoder against a slowly moving key
    encoder and a queue of past keys.

    He, Fan, Wu, Xie and Girshick, "Momentum Contrast for Unsupervised
    Visual Representation Learning" (CVPR 2020); the v2 options of Chen,
    Fan, Girshick and He, "Improved Baselines with Momentum Contrastive
    Learning" (2020). Algorithm 1 of the paper: each image gets two random
    views; the query encoder (backbone and projection head, trained) maps
    the first to `q`, the key encoder (a `momentum_copy` of both, never
    trained) maps the second to `k`, both L2-normalised, `k` held constant.
    The logits are `[q . k, q . queue^T] / temperature` and the loss is
    their cross-entropy with label 0 (`moco_info_nce`), averaged over this
    replica's images. After each optimizer step the key encoder moves
    towards the query encoder, `key = m key + (1 - m) query` over the
    weights the query encoder trains (batch norm statistics are each
    network's own; `m = momentum`), and the step's keys of all replicas are
    enqueued in the `Queue` (the oldest dropped).

    Shuffling batch norm (the paper's section 3.3): the key encoder runs in
    training mode, so its batch norm statistics are those of its batch; so
    that they cannot give away the positive, with `shuffle_batch_norm` and
    more than one replica in sync the key views of all replicas are gathered,
    permuted by a permutation shared by the replicas (drawn from the seed
    and the optimizer step), each replica encodes its slice, and the keys
    are gathered and put back in order (`shuffled_apply`). With one replica
    it is a no-op: the key encoder's batch norm then sees this replica's
    whole batch of keys (what the shuffling avoids). Every replica must get
    the same number of images (drop the remainder of a dataset).

    Defaults are the paper's v1 settings: a linear 128-d head
    (`projection_hidden_dims=None`), `m = 0.999`, `tau = 0.07`, except the
    queue: `K = 4096` keys rather than ImageNet's 65536, for datasets of
    tens of thousands of images (K must stay well under the dataset). v2
    is `projection_hidden_dims=(2048,)` (an MLP head fc-ReLU-fc, no batch
    norm) and `temperature=0.2`. Changed for 28x28 images: the default
    augmenter is `SimCLRAugmenter` for the backbone's input shape (crop,
    flip, colour jitter, greyscale; v2's augmentation without the blur).
    On short runs lower `m` to 0.99: with 0.999 the key encoder lags far
    behind (over ~1000 steps on the digits it gave about the same kNN
    accuracy but half the instance accuracy, 0.26 against 0.54).

    `fit` takes raw images: a uint8 or float array `[N, H, W, C]` of pixels
    in [0, 255], or a `tf.data.Dataset` of such batches; `(images, labels)`
    batches are accepted and the labels ignored. The global batch must not
    exceed `queue_size`. Reports `loss` and `contrast_accuracy` (how often
    the positive key has the largest logit). `predict` gives the query
    backbone's features; `encoder` is the query backbone.

    Args:
        backbone: keras.Model. Encoder from raw pixels to features (the
            query encoder's; the key encoder is a copy).
        projection_dim: int. Size of the embeddings `q` and `k` (128).
        projection_hidden_dims: tuple of int or None. Hidden sizes of the
            head, ReLU after each, no batch norm (None: v1's linear head).
        queue_size: int >= 1. `K`, keys in the queue (4096).
        momentum: float in [0, 1). `m` of the key encoder's update (0.999).
        temperature: float > 0. `tau` (0.07; v2 uses 0.2).
        shuffle_batch_norm: bool. Shuffle the key views across replicas.
        augmenter: keras.layers.Layer. View maker; `SimCLRAugmenter` for the
            backbone's input shape by default.
        seed: int. Seed of the default augmenter, the queue's initial keys
            and the shuffling.

    Example:

    >>> backbone = keras_ssl.backbones.ResNet(input_shape=(28, 28, 1), depth=8, width=8)
    >>> model = MoCo(backbone, queue_size=4096, momentum=0.99, temperature=0.2)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(images, batch_size=256, epochs=10)  # uint8 [N, 28, 28, 1]
    >>> embeddings = model.predict(images)
    """

    metric_names = ("loss", "contrast_accuracy")
    takes_pipeline_views = True

    def __init__(
        self,
        backbone,
        projection_dim=128,
        projection_hidden_dims=None,
        queue_size=4096,
        momentum=0.999,
        temperature=0.07,
        shuffle_batch_norm=True,
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(backbone=backbone, augmenter=augmenter, seed=seed, **kwargs)
        for name, value in (("projection_dim", projection_dim), ("queue_size", queue_size)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if projection_hidden_dims is not None:
            dims = list(projection_hidden_dims) if isinstance(projection_hidden_dims, (list, tuple)) else None
            if dims is None or any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1 for d in dims):
                raise ValueError(
                    f"projection_hidden_dims must be None (linear head) or a tuple of ints >= 1, got "
                    f"{projection_hidden_dims!r}"
                )
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0.0 <= momentum < 1.0:
            raise ValueError(
                f"momentum must be in [0, 1) (0: the key encoder copies the query encoder), got {momentum!r}"
            )
        if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        # === Config ===
        self.projection_dim = int(projection_dim)
        self.projection_hidden_dims = (
            None if projection_hidden_dims is None else tuple(int(d) for d in projection_hidden_dims)
        )
        self.queue_size = int(queue_size)
        self.momentum = float(momentum)
        self.temperature = float(temperature)
        self.shuffle_batch_norm = bool(shuffle_batch_norm)
        # === Layers and state ===
        self.projection_head = ProjectionHead(
            output_dim=self.projection_dim,
            hidden_dims=self.projection_hidden_dims or (),
            batch_norm=False,
            name="projection_head",
        )
        self.projection_head.build(self.backbone.output_shape)
        # The key encoder starts as the query encoder and is never trained.
        self.key_backbone = momentum_copy(self.backbone, name=f"key_{self.backbone.name}")
        self.key_head = momentum_copy(self.projection_head, name="key_projection_head")
        self.queue = Queue(self.queue_size, self.projection_dim, normalize=True, seed=seed, name="queue")
        self.built = True

    def default_augmenter(self):
        return SimCLRAugmenter(image_shape=self.image_shape, seed=self.seed, name="augmenter")

    # --- data ----------------------------------------------------------
    def unpack_batch(self, data):
        # A dict, so compute_losses can hand the step's keys to after_update.
        return {"images": self.unpack_images(data)}

    def batch_size(self, batch):
        return tf.shape(batch["images"])[0]

    # --- networks ------------------------------------------------------
    def key_pairs(self):
        """`(key weights, query weights)` the EMA pairs: those the query
        encoder trains."""
        return momentum_pairs([(self.key_backbone, self.backbone), (self.key_head, self.projection_head)])

    def query_embeddings(self, images, training=False):
        """L2-normalised float32 `q` of (already augmented) images."""
        z = self.projection_head(self.backbone(images, training=training), training=training)
        return tf.math.l2_normalize(tf.cast(z, tf.float32), axis=-1)

    def key_embeddings(self, images, training=False):
        """L2-normalised float32 `k` of (already augmented) images, from
        this replica's images only (no shuffling)."""
        z = self.key_head(self.key_backbone(images, training=training), training=training)
        return tf.math.l2_normalize(tf.cast(z, tf.float32), axis=-1)

    def shuffle_seed(self):
        """The stateless seed of this step's shuffling permutation, the same
        on every replica: the method's seed and the optimizer step."""
        optimizer = getattr(self, "optimizer", None)
        step = tf.cast(optimizer.iterations, tf.int32) if optimizer is not None else tf.constant(0, tf.int32)
        return tf.stack([tf.constant(self.seed or 0, tf.int32), step])

    def keys(self, images, training=False):
        """The key encoder's `k` of this replica's images, computed on the
        shuffled global batch when `shuffle_batch_norm` and several
        replicas are in sync; constant (no gradient)."""
        if self.shuffle_batch_norm and num_replicas_in_sync() > 1:
            keys = shuffled_apply(lambda x: self.key_embeddings(x, training=training), images, self.shuffle_seed())
        else:
            keys = self.key_embeddings(images, training=training)
        return tf.stop_gradient(keys)

    # --- training ------------------------------------------------------
    def compute_losses(self, batch, training):
        view1, view2 = self.views(batch["images"])
        queries = self.query_embeddings(view1, training=training)
        keys = self.keys(view2, training=training)
        negatives = tf.stop_gradient(self.queue())
        loss, logits = moco_info_nce(queries, keys, negatives, self.temperature)
        # Handed to after_update, which enqueues them once the step is taken.
        batch["keys"] = keys
        labels = tf.zeros(tf.shape(logits)[:1], tf.int32)
        return {"loss": loss, "contrast_accuracy": contrast_accuracy(logits, labels)}

    def after_update(self, batch):
        ema_update(*self.key_pairs(), self.momentum)
        self.queue.enqueue(batch["keys"])

    # --- serialization -------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "projection_dim": self.projection_dim,
                "projection_hidden_dims": self.projection_hidden_dims,
                "queue_size": self.queue_size,
                "momentum": self.momentum,
                "temperature": self.temperature,
                "shuffle_batch_norm": self.shuffle_batch_norm,
            }
        )
        return config
