"""Instance discrimination with a memory bank and NCE (Wu et al. 2018)."""

import math
import numbers

import keras
import tensorflow as tf

from keras_ssl.augment.simclr_augmenter import SimCLRAugmenter
from keras_ssl.distribute import cross_replica_concat, replica_rows_of_global_draw
from keras_ssl.layers.memory_bank import MemoryBank
from keras_ssl.methods.contrastive.base import ContrastiveMethod, contrast_accuracy


def nce_loss(features, positive_rows, noise_rows, temperature, normalizer, num_examples):
    """Per-example NCE loss of the non-parametric softmax (Wu et al. 2018, eq. 5-7).

    With `P(i|v) = exp(v_i . v / temperature) / Z` and the uniform noise
    distribution `P_n = 1 / num_examples`, the posterior that a row comes
    from the data is `h(i, v) = P(i|v) / (P(i|v) + m P_n)` (`m` noise rows
    per example), and the loss of an example is
    `-log h(i, v) - sum_j log(1 - h(j, v))` over its noise rows `j`.
    Computed in log space (`softplus`), so it stays finite for large
    similarities.

    Args:
        features: float `[B, D]`. The examples' embeddings `v`.
        positive_rows: float `[B, D]`. Each example's own memory row `v_i`.
        noise_rows: float `[B, m, D]`. The memory rows of the noise samples.
        temperature: float. `tau`.
        normalizer: float scalar. `Z` (> 0).
        num_examples: int. `n`, the size of the memory bank.

    Returns:
        float32 `[B]`: the loss of each example.
    """
    features = tf.cast(features, tf.float32)
    positive_scores = tf.reduce_sum(features * tf.cast(positive_rows, tf.float32), axis=-1)
    noise_scores = tf.einsum("bd,bmd->bm", features, tf.cast(noise_rows, tf.float32))
    return nce_loss_from_scores(positive_scores, noise_scores, temperature, normalizer, num_examples)


def nce_loss_from_scores(positive_scores, noise_scores, temperature, normalizer, num_examples):
    """`nce_loss` from the similarities `v_i . v` (float `[B]`) and
    `v_j . v` (float `[B, m]`), for a step that has them already."""
    num_noise = tf.cast(tf.shape(noise_scores)[1], tf.float32)
    log_z = tf.math.log(tf.cast(normalizer, tf.float32))
    # log(m P_n)
    log_noise_mass = tf.math.log(num_noise) - math.log(float(num_examples))
    log_p_positive = positive_scores / temperature - log_z
    log_p_noise = noise_scores / temperature - log_z
    # -log h = log(1 + m P_n / P);  -log(1 - h) = log(1 + P / (m P_n)).
    positive_term = tf.nn.softplus(log_noise_mass - log_p_positive)
    noise_term = tf.reduce_sum(tf.nn.softplus(log_p_noise - log_noise_mass), axis=-1)
    return positive_term + noise_term


@keras.saving.register_keras_serializable(package="keras_ssl")
class InstanceDiscrimination(ContrastiveMethod):
    """Instance discrimination: each image is its own class, scored against
    a memory bank of every image's embedding.

    Wu, Xiong, Yu and Lin, "Unsupervised Feature Learning via
    Non-Parametric Instance Discrimination" (CVPR 2018). The backbone's
    features go through a linear projection to `embedding_dim` and are
    L2-normalised: `v = f(x)`. A memory bank keeps one unit vector `v_i`
    per training image. The non-parametric softmax
    `P(i|v) = exp(v_i . v / tau) / Z` is trained with noise-contrastive
    estimation: for each image, `m = num_negatives` noise indices are drawn
    uniformly from `[0, n)` (`P_n = 1/n`), and the loss is
    `-log h(i, v) - sum_j log(1 - h(j, v))` with
    `h(i, v) = P(i|v) / (P(i|v) + m P_n)` (`nce_loss`). As in the paper,
    `Z` is a Monte Carlo estimate, `n` times the mean of
    `exp(v . v_j / tau)` over the noise samples of the first training batch
    (over all replicas), then kept fixed (the non-trainable `normalizer`
    weight; 0 means "not yet estimated", and `evaluate` before training
    uses the batch's own estimate without storing it). After each step the
    batch's rows move towards their new embeddings,
    `v_i <- normalize(m v_i + (1 - m) v)` with `m = bank_momentum`
    (`MemoryBank`, every replica's rows written on every replica). The
    optional proximal term `proximal_weight * ||v - v_i||^2` (the paper's
    eq. 8, `lambda`) damps the oscillation of the rows. One augmented view
    per image per step.

    The paper's defaults are kept: 128-d embeddings, `m = 4096`,
    `tau = 0.07`, bank momentum 0.5, no proximal term. Changed for 28x28
    images: the augmentation is `SimCLRAugmenter` for the backbone's input
    shape (crop, flip, jitter, greyscale, as the paper's ImageNet recipe)
    by default. On small datasets keep `m` well under `n` (the digits
    learns-test, n = 1347, uses m = 256); there, over a short run (600
    steps), `tau = 0.07` lowered the kNN accuracy below random init while
    `tau = 0.2` raised it.

    `fit` takes `(images, indices)` batches: raw pixels in [0, 255] and each
    image's int index in `[0, num_examples)`, e.g.
    `keras_ssl.data.image_batches(x, batch_size, labels=np.arange(len(x)))`
    or `fit(x, np.arange(len(x)))`. Reports `loss` and `contrast_accuracy`
    (how often the positive scores above every noise sample). `predict`
    gives the backbone's features; `encoder` is the backbone.

    Args:
        backbone: keras.Model. Encoder from raw pixels to features.
        num_examples: int. `n`, the number of training images (rows of the
            memory bank).
        embedding_dim: int. Size of the normalised embedding (128).
        num_negatives: int. `m`, noise samples per image (4096).
        temperature: float. `tau` (0.07).
        bank_momentum: float in [0, 1). Weight of the old row in a memory
            update (0.5).
        proximal_weight: float >= 0. `lambda` of the proximal term (0: off).
        augmenter: keras.layers.Layer. View maker; `SimCLRAugmenter` for
            the backbone's input shape by default.
        seed: int. Seed of the default augmenter, the initial bank and the
            noise samples.

    Example:

    >>> backbone = keras_ssl.backbones.ResNet(input_shape=(28, 28, 1), depth=8, width=8)
    >>> model = InstanceDiscrimination(backbone, num_examples=len(images))
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(keras_ssl.data.image_batches(images, 256, labels=np.arange(len(images))), epochs=10)
    >>> embeddings = model.predict(images)
    """

    metric_names = ("loss", "contrast_accuracy")

    def __init__(
        self,
        backbone,
        num_examples,
        embedding_dim=128,
        num_negatives=4096,
        temperature=0.07,
        bank_momentum=0.5,
        proximal_weight=0.0,
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(backbone=backbone, augmenter=augmenter, seed=seed, **kwargs)
        for name, value in (
            ("num_examples", num_examples),
            ("embedding_dim", embedding_dim),
            ("num_negatives", num_negatives),
        ):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if not 0.0 <= bank_momentum < 1.0:
            raise ValueError(f"bank_momentum must be in [0, 1) (0 replaces rows), got {bank_momentum}")
        if not proximal_weight >= 0:
            raise ValueError(f"proximal_weight must be >= 0 (0: no proximal term), got {proximal_weight}")
        # === Config ===
        self.num_examples = int(num_examples)
        self.embedding_dim = int(embedding_dim)
        self.num_negatives = int(num_negatives)
        self.temperature = float(temperature)
        self.bank_momentum = float(bank_momentum)
        self.proximal_weight = float(proximal_weight)
        # === Layers and state ===
        self.projection = keras.layers.Dense(self.embedding_dim, name="projection")
        self.projection.build(self.backbone.output_shape)
        self.bank = MemoryBank(
            self.num_examples, self.embedding_dim, momentum=bank_momentum, normalize=True, seed=seed, name="bank"
        )
        self.normalizer = self.add_weight(
            shape=(),
            initializer="zeros",
            dtype="float32",
            trainable=False,
            aggregation="none",
            autocast=False,
            name="normalizer",
        )
        self.built = True

    def default_augmenter(self):
        return SimCLRAugmenter(image_shape=self.image_shape, seed=self.seed, name="augmenter")

    # --- data ----------------------------------------------------------
    def unpack_batch(self, data):
        return self.unpack_indexed_batch(data)

    # --- training ------------------------------------------------------
    def embed(self, images, training=False):
        """The L2-normalised embeddings `v` of (already augmented) images."""
        features = self.backbone(images, training=training)
        return tf.math.l2_normalize(tf.cast(self.projection(features), tf.float32), axis=-1)

    def estimate_normalizer(self, noise_scores):
        """`Z ~ n * mean_j exp(v . v_j / tau)` over this step's noise samples
        of every replica (`noise_scores`: the similarities `v . v_j`)."""
        exps = tf.exp(noise_scores / self.temperature)
        local = tf.stack([tf.reduce_sum(exps), tf.cast(tf.size(exps), tf.float32)])
        sums, _ = cross_replica_concat(local[None])
        sums = tf.reduce_sum(sums, axis=0)
        return tf.stop_gradient(float(self.num_examples) * sums[0] / sums[1])

    def compute_losses(self, batch, training):
        images, indices = batch["images"], batch["indices"]
        (view,) = self.views(images, count=1)
        features = self.embed(view, training=training)
        count = tf.shape(indices)[0]
        # Drawn for the global batch and sliced: the same noise on 1 or N replicas.
        noise_indices = replica_rows_of_global_draw(
            lambda n: keras.random.randint(
                (n, self.num_negatives), 0, self.num_examples, seed=self.seed_generator, dtype="int32"
            ),
            count,
        )
        # Memory rows are constants of the step: no gradient reaches the bank.
        positive_rows = tf.stop_gradient(self.bank(indices))
        noise_rows = tf.stop_gradient(self.bank(noise_indices))
        # The similarities, once: for the loss, Z and the accuracy.
        positive_scores = tf.reduce_sum(features * positive_rows, axis=-1)
        noise_scores = tf.einsum("bd,bmd->bm", features, noise_rows)
        stored = self.normalizer.value
        # Estimated every step (its cross-replica sum must not sit inside a
        # tf.cond under a strategy), used only until the first is stored.
        normalizer = tf.where(stored > 0.0, stored, self.estimate_normalizer(noise_scores))
        losses = nce_loss_from_scores(positive_scores, noise_scores, self.temperature, normalizer, self.num_examples)
        loss = tf.reduce_mean(losses)
        if self.proximal_weight > 0:
            loss += self.proximal_weight * tf.reduce_mean(tf.reduce_sum(tf.square(features - positive_rows), axis=-1))
        # Handed to after_update, which writes them once the step is taken.
        batch["features"] = tf.stop_gradient(features)
        batch["normalizer"] = normalizer
        logits = tf.concat([positive_scores[:, None], noise_scores], axis=-1)
        return {"loss": loss, "contrast_accuracy": contrast_accuracy(logits, tf.zeros_like(indices))}

    def after_update(self, batch):
        self.normalizer.assign(batch["normalizer"])
        self.bank.update(batch["indices"], batch["features"])

    # --- serialization -------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_examples": self.num_examples,
                "embedding_dim": self.embedding_dim,
                "num_negatives": self.num_negatives,
                "temperature": self.temperature,
                "bank_momentum": self.bank_momentum,
                "proximal_weight": self.proximal_weight,
            }
        )
        return config
