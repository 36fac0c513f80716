"""Deep InfoMax: maximise the mutual information between an image's global
code and its local features (Hjelm et al. 2019)."""

import math
import numbers

import keras
import tensorflow as tf

from keras_ssl.backbones.stages import feature_map_model, stage_layer_names
from keras_ssl.distribute import cross_replica_concat
from keras_ssl.losses.adversarial import discriminator_adversarial_loss, generator_adversarial_loss
from keras_ssl.methods.contrastive.base import ContrastiveMethod
from keras_ssl.methods.steps import apply_if_finite, scaled_loss


def _split_scores(scores, positive_mask):
    scores = tf.cast(scores, tf.float32)
    positive_mask = tf.cast(positive_mask, tf.bool)
    return scores, positive_mask, tf.cast(positive_mask, tf.float32)


def jsd_mi(scores, positive_mask):
    """The Jensen-Shannon MI estimate (Hjelm et al. 2019, eq. 4):
    `E_P[-softplus(-T)] - E_N[softplus(T)]`.

    Args:
        scores: float `[A, K]`. Discriminator scores `T` of `A x K` pairs.
        positive_mask: bool `[A, K]`. True where the pair is a positive
            (joint) sample, False where it is a negative (product of
            marginals) sample.

    Returns:
        float32 scalar: the mean over the positive entries minus the mean
        over the negative entries (to maximise).
    """
    scores, mask, weights = _split_scores(scores, positive_mask)
    positive = tf.math.divide_no_nan(tf.reduce_sum(-tf.nn.softplus(-scores) * weights), tf.reduce_sum(weights))
    negative = tf.math.divide_no_nan(tf.reduce_sum(tf.nn.softplus(scores) * (1 - weights)), tf.reduce_sum(1 - weights))
    return positive - negative


def dv_mi(scores, positive_mask):
    """The Donsker-Varadhan MI estimate (Hjelm et al. 2019, eq. 2):
    `E_P[T] - log E_N[exp(T)]`, the expectations over all positive and all
    negative entries of `scores` (computed with a log-sum-exp).

    Args and returns: as `jsd_mi`.
    """
    scores, mask, weights = _split_scores(scores, positive_mask)
    positive = tf.math.divide_no_nan(tf.reduce_sum(scores * weights), tf.reduce_sum(weights))
    negatives = tf.where(mask, tf.constant(-math.inf, tf.float32), scores)
    log_mean_exp = tf.reduce_logsumexp(negatives) - tf.math.log(tf.maximum(tf.reduce_sum(1 - weights), 1.0))
    return positive - log_mean_exp


def infonce_mi(scores, positive_mask):
    """The InfoNCE MI estimate (Hjelm et al. 2019, eq. 5):
    `E_P[T - log sum_{N u P} exp(T)]`. Each row of `scores` is one anchor:
    every positive entry of a row is scored against itself and all the
    negative entries of its row, `T_p - log(exp(T_p) + sum_n exp(T_n))`,
    and the result is the mean over all positive entries.

    Args and returns: as `jsd_mi`.
    """
    scores, mask, weights = _split_scores(scores, positive_mask)
    negatives = tf.reduce_logsumexp(tf.where(mask, tf.constant(-math.inf, tf.float32), scores), axis=1, keepdims=True)
    terms = scores - tf.reduce_logsumexp(tf.stack([scores, tf.broadcast_to(negatives, tf.shape(scores))]), axis=0)
    terms = tf.where(mask, terms, 0.0)  # The non-positive entries (and their -inf) drop out.
    return tf.math.divide_no_nan(tf.reduce_sum(terms), tf.reduce_sum(weights))


ESTIMATORS = {"jsd": jsd_mi, "dv": dv_mi, "infonce": infonce_mi}


def local_pair_scores(global_codes, local_codes, offset=0):
    """Scores of every (global code, local feature) pair by dot product,
    the paper's "encode-and-dot-product" local discriminator.

    Args:
        global_codes: float `[B, D]`. This replica's encoded global vectors.
        local_codes: float `[N, P, D]`. The encoded local features of every
            image of the global batch (all replicas, `cross_replica_concat`),
            `P` positions each.
        offset: int. Index in `local_codes` of this replica's first image.

    Returns:
        `(scores, positive_mask)`: float32 `[B, N * P]`, entry `(a, b * P + p)`
        the score of global `a` with position `p` of image `b`, and a bool
        mask of the same shape, True where `b == offset + a` (same image).
    """
    global_codes = tf.cast(global_codes, tf.float32)
    local_codes = tf.cast(local_codes, tf.float32)
    positions = tf.shape(local_codes)[1]
    scores = tf.einsum("ad,bpd->abp", global_codes, local_codes)
    scores = tf.reshape(scores, [tf.shape(global_codes)[0], -1])
    rows = tf.range(tf.shape(global_codes)[0]) + offset
    images = tf.range(tf.shape(scores)[1]) // positions
    return scores, tf.equal(rows[:, None], images[None, :])


def default_local_layer(backbone):
    """The backbone layer whose output is DIM's local feature map by
    default: the output of the second-to-last stage (after its pooling,
    for a `ConvNet`), so that the last stage computes the global vector
    from the local features, as in the paper; the last feature map when
    the backbone has a single stage."""
    feature_map_model(backbone)  # Checks for the global pooling layer.
    names = stage_layer_names(backbone)
    if len(names) < 2:
        return backbone.get_layer("pool").input._keras_history.operation.name
    layer = names[-2]
    pool = layer.replace("_relu", "_pool")
    if layer.startswith("block") and pool in {item.name for item in backbone.layers}:
        return pool
    return layer


def shifted_rows(rows, offset, count, shift):
    """Rows `(offset + a + shift) mod N` of `rows` `[N, ...]` for
    `a = 0 .. count - 1`: the negative partners of this replica's `count`
    examples (at `offset` in the global batch) in the global objective,
    another image whenever `0 < shift < N`. A roll and a slice, not a
    gather: a gather's sparse gradient cannot flow back through the
    cross-replica gather."""
    return tf.roll(rows, shift=-shift, axis=0)[offset : offset + count]


def _check_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


@keras.saving.register_keras_serializable(package="keras_ssl")
class DeepInfoMax(ContrastiveMethod):
    """Deep InfoMax (DIM): an encoder trained to maximise the mutual
    information between its global code and the local features of the
    same image, with an adversarial prior on the global code.

    Hjelm, Fedorov, Lavoie-Marchildon, Grewal, Bachman, Trischler and
    Bengio, "Learning deep representations by mutual information estimation
    and maximization" (ICLR 2019). An intermediate feature map of the
    backbone is the local feature map `C(x)` (`local_layer`; by default the output of the
    second-to-last stage, `default_local_layer`: 7x7x64 for 28x28 images
    with `ConvNet(32, 64, 128)`, 4x4x32 for 8x8 with `ConvNet(32, 64)`,
    14x14 for 28x28 with a `ResNet`); the backbone's last stage and its
    global pooling continue from it, and a dense layer on the pooled
    features gives the global vector `Y = E(x)` (`global_dim`, the paper's
    64). So `Y` summarises the local features through further layers, as
    in the paper, whose M x M map is an intermediate 8x8 map of a 32x32
    image. The objective is

        max  alpha * I(Y; C) + beta * mean_i I(Y; C_i) - gamma * D(V || U)

    - Local MI (`beta`): the "encode-and-dot-product" discriminator. The
      local features go through 1x1 convolutions and `Y` through an MLP
      (each two layers of `discriminator_dim` units with a linear
      shortcut, the paper's 2048), and `T(Y_a, C_b^p)` is their dot
      product, for every global vector of this replica against every
      position `p` of every image `b` of the global batch (gathered over
      replicas with `cross_replica_concat`, so negatives come from every
      replica; `local_pair_scores`). Positives are `a == b`. The MI
      estimator (`estimator`: `"jsd"` by default, `"dv"` or `"infonce"`,
      the paper's eqs. 4, 2 and 5; `jsd_mi`, `dv_mi`, `infonce_mi`) is
      applied to that score matrix.
    - Global MI (`alpha`): a discriminator network on the pair (global
      vector, feature map encoded by two 3x3 convolutions (64, 32) and
      flattened), concatenated into a 3-layer MLP (512, 512, 1). Positives
      pair each `Y_a` with its own map; negatives with the map of another
      image of the global batch (a random cyclic shift of the gathered
      batch, the paper's "shuffled" images). Built only when `alpha > 0`.
    - Prior matching (`gamma`): a discriminator MLP (1000, 200, 1, as the
      paper) tells `sigmoid(Y)` (the global vector bounded to [0, 1], as
      the paper) from samples of the uniform prior on
      `[0, 1]^global_dim`; the encoder gets `gamma` times the
      non-saturating adversarial term `-log D(sigmoid(Y))` (reported as
      `prior_loss`; the paper writes the minimax form
      `log(1 - D(sigmoid(Y)))`, whose gradient vanishes once the
      discriminator wins). Each step updates the prior discriminator first with
      its own optimizer (`compile(optimizer, prior_optimizer=None)`, a
      fresh copy of the main optimizer's config by default), then the
      encoder and the MI discriminators against it. Built only when
      `gamma > 0`: with `gamma = 0` there is no prior discriminator and
      `optimizer_variables("prior")` is None.

    The paper's DIM(L) weights `alpha = 0, beta = 1` are kept, but `gamma`
    defaults to 0 (the paper: 0.1): on the digits learns-test (40 epochs,
    seed 1) the prior discriminator wins at once (its loss falls to ~0.01
    and the encoder's adversarial term grows to 4-8), and the kNN accuracy
    falls from 0.960 with `gamma = 0` to 0.944 with `gamma = 0.01` and
    0.907 with `gamma = 0.1` (random init: 0.942). Set `gamma > 0` to match
    the prior as the paper. The loss is
    `-(alpha * global_mi + beta * local_mi) + gamma * prior_loss`, the
    mean over this replica's examples (JSD and InfoNCE are
    means of per-example terms; DV's `log E_N` is over this replica's
    rows). No augmentation by default, as the paper's CIFAR-10 results
    (it used crops and flips only on STL-10).

    Changed for 28x28 / 8x8 images: the local map is 7x7 / 4x4 (the
    second-to-last stage, as close to the paper's 8x8 of 32x32 images as
    the backbone gives; the last map, e.g. 7x7x128, is `local_layer=
    "block3_relu"`, but then `Y` is only its average plus a dense layer,
    and on the digits it only matched random init: 0.931-0.944 against
    0.942 after 20 epochs); `Y` comes from the pooled features by one
    dense layer instead of the paper's fully-connected layers on the
    flattened map, so any
    `ConvNet` or `ResNet` works; the exported `encoder` is the backbone
    (raw pixels to its pooled features, the input of that dense layer:
    what the evaluation probes, like the paper's "fc" representation one
    layer before `Y`).

    `fit` takes raw images: uint8 or float pixels `[N, H, W, C]` in
    [0, 255], or batches of them; `(images, labels)` batches are accepted
    and the labels ignored. Reports `loss`, `local_mi` (when `beta > 0`),
    `global_mi` (when `alpha > 0`), and `prior_loss` and
    `prior_discriminator_loss` (when `gamma > 0`). `predict` gives the
    backbone's features.

    Args:
        backbone: keras.Model. `ConvNet` or `ResNet` (a global pooling
            layer named `pool`), from raw pixels to pooled features.
        global_dim: int. Size of the global vector `Y` (64).
        estimator: str. MI estimator, `"jsd"` (default), `"dv"` or
            `"infonce"`.
        alpha: float >= 0. Weight of the global MI term (0).
        beta: float >= 0. Weight of the local MI term (1).
        gamma: float >= 0. Weight of the prior matching term (0: no prior
            discriminator, the default; the paper's DIM(L) uses 0.1).
        discriminator_dim: int. Units of the encode-and-dot-product
            networks of the local discriminator (2048).
        global_discriminator_units: int. Units of the hidden layers of the
            global discriminator's MLP (512).
        prior_units: tuple of int. Hidden layers of the prior
            discriminator (1000, 200).
        local_layer: str. Name of the backbone layer whose output is the
            local feature map (None: `default_local_layer(backbone)`).
        augmenter: keras.layers.Layer. Applied to the images first
            (identity by default, as the paper).
        seed: int. Seed of the negative shifts and of the prior samples.

    Example:

    >>> backbone = keras_ssl.backbones.ConvNet(input_shape=(28, 28, 1), filters=(32, 64, 128))
    >>> model = DeepInfoMax(backbone)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-4))
    >>> model.fit(images, batch_size=64, epochs=10)  # uint8 [N, 28, 28, 1]
    >>> embeddings = model.predict(images)
    >>> with_prior = DeepInfoMax(backbone, gamma=0.1)  # Prior matching: a second optimizer.
    >>> with_prior.compile(optimizer=keras.optimizers.Adam(1e-4), prior_optimizer=keras.optimizers.Adam(1e-4))
    """

    metric_names = ("loss", "local_mi", "global_mi", "prior_loss", "prior_discriminator_loss")
    extra_optimizers = ("prior",)

    def __init__(
        self,
        backbone,
        global_dim=64,
        estimator="jsd",
        alpha=0.0,
        beta=1.0,
        gamma=0.0,
        discriminator_dim=2048,
        global_discriminator_units=512,
        prior_units=(1000, 200),
        local_layer=None,
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(backbone=backbone, augmenter=augmenter, seed=seed, **kwargs)
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {estimator!r}")
        for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0 (0 turns its term off), got {value!r}")
        if alpha + beta <= 0:
            raise ValueError(
                f"alpha (global MI) and beta (local MI) cannot both be 0: nothing to maximise; the paper's "
                f"DIM(L) is alpha=0, beta=1, got alpha={alpha}, beta={beta}"
            )
        # === Config ===
        self.global_dim = _check_int("global_dim", global_dim)
        self.estimator = estimator
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.gamma = float(gamma)
        self.discriminator_dim = _check_int("discriminator_dim", discriminator_dim)
        self.global_discriminator_units = _check_int("global_discriminator_units", global_discriminator_units)
        if isinstance(prior_units, numbers.Integral):
            prior_units = (prior_units,)
        self.prior_units = tuple(_check_int("prior_units entries", u) for u in prior_units)
        self.prior_optimizer = None

        # === Layers ===
        self.local_layer = local_layer if local_layer is not None else default_local_layer(backbone)
        try:
            local_map = backbone.get_layer(self.local_layer).output
        except ValueError:
            raise ValueError(
                f"local_layer {self.local_layer!r} is not a layer of backbone {backbone.name!r}: pass one of its "
                "layer names (e.g. from keras_ssl.backbones.stages.stage_layer_names) or None for the default"
            ) from None
        if len(local_map.shape) != 4:
            raise ValueError(
                f"local_layer {self.local_layer!r} gives shape {tuple(local_map.shape)}, not a feature map "
                "[batch, height, width, channels]: pick a convolutional layer"
            )
        # One pass gives both the local map and the pooled features.
        self.features = keras.Model(backbone.input, [local_map, backbone.output], name="local_and_pooled")
        self.map_shape = tuple(local_map.shape[1:])
        self.global_projection = keras.layers.Dense(self.global_dim, name="global_projection")
        self.global_projection.build(backbone.output_shape)
        self.local_discriminator = None
        if self.beta > 0:
            self.local_map_encoder = self._build_local_map_encoder()
            self.local_global_encoder = self._build_local_global_encoder()
        else:
            self.local_map_encoder = self.local_global_encoder = None
        if self.alpha > 0:
            self.global_map_encoder, self.global_discriminator = self._build_global_discriminator()
        else:
            self.global_map_encoder = self.global_discriminator = None
        self.prior_discriminator = self._build_prior_discriminator() if self.gamma > 0 else None
        self.built = True

    def _build_local_map_encoder(self):
        inputs = keras.Input(self.map_shape, name="local_map")
        hidden = keras.layers.Conv2D(self.discriminator_dim, 1, activation="relu", name="conv1")(inputs)
        hidden = keras.layers.Conv2D(self.discriminator_dim, 1, name="conv2")(hidden)
        shortcut = keras.layers.Conv2D(self.discriminator_dim, 1, name="shortcut")(inputs)
        x = keras.layers.Add(name="add")([hidden, shortcut])
        outputs = keras.layers.Reshape((-1, self.discriminator_dim), name="positions")(x)
        return keras.Model(inputs, outputs, name="local_map_encoder")

    def _build_local_global_encoder(self):
        inputs = keras.Input((self.global_dim,), name="global_vector")
        hidden = keras.layers.Dense(self.discriminator_dim, activation="relu", name="dense1")(inputs)
        hidden = keras.layers.Dense(self.discriminator_dim, name="dense2")(hidden)
        shortcut = keras.layers.Dense(self.discriminator_dim, name="shortcut")(inputs)
        outputs = keras.layers.Add(name="add")([hidden, shortcut])
        return keras.Model(inputs, outputs, name="local_global_encoder")

    def _build_global_discriminator(self):
        inputs = keras.Input(self.map_shape, name="local_map")
        x = (
            keras.layers.Conv2D(64, 3, activation="relu", name="conv1")(inputs)
            if min(self.map_shape[:2]) > 2
            else inputs
        )
        x = keras.layers.Conv2D(32, min(3, x.shape[1], x.shape[2]), name="conv2")(x)
        encoded = keras.layers.Flatten(name="flatten")(x)
        map_encoder = keras.Model(inputs, encoded, name="global_map_encoder")
        vector = keras.Input((self.global_dim,), name="global_vector")
        code = keras.Input((encoded.shape[-1],), name="encoded_map")
        x = keras.layers.Concatenate(name="concat")([vector, code])
        for i in range(2):
            x = keras.layers.Dense(self.global_discriminator_units, activation="relu", name=f"dense{i + 1}")(x)
        outputs = keras.layers.Dense(1, dtype="float32", name="score")(x)
        return map_encoder, keras.Model([vector, code], outputs, name="global_discriminator")

    def _build_prior_discriminator(self):
        inputs = keras.Input((self.global_dim,), name="codes")
        x = inputs
        for i, units in enumerate(self.prior_units):
            x = keras.layers.Dense(units, activation="relu", name=f"dense{i + 1}")(x)
        outputs = keras.layers.Dense(1, dtype="float32", name="logit")(x)
        return keras.Model(inputs, outputs, name="prior_discriminator")

    # --- optimizers ----------------------------------------------------
    def optimizer_variables(self, name="optimizer"):
        """`optimizer` trains the encoder (backbone and global projection)
        and the MI discriminators; `prior_optimizer` the prior
        discriminator (None when `gamma = 0`: there is none)."""
        if name == "optimizer":
            networks = [
                self.backbone,
                self.global_projection,
                self.local_map_encoder,
                self.local_global_encoder,
                self.global_map_encoder,
                self.global_discriminator,
            ]
            return [v for network in networks if network is not None for v in network.trainable_variables]
        return None if self.prior_discriminator is None else self.prior_discriminator.trainable_variables

    # --- losses --------------------------------------------------------
    def encode(self, images, training=False):
        """`(local_map, global_vector)` of (augmented) float images:
        `[B, M, M, C]` and `[B, global_dim]` float32."""
        local_map, pooled = self.features(images, training=training)
        return tf.cast(local_map, tf.float32), tf.cast(self.global_projection(pooled), tf.float32)

    def local_mi(self, local_map, global_vector, training=False):
        """The local MI estimate: this replica's global vectors against the
        local features of the whole global batch."""
        codes = tf.cast(self.local_map_encoder(local_map, training=training), tf.float32)
        all_codes, offset = cross_replica_concat(codes)
        queries = tf.cast(self.local_global_encoder(global_vector, training=training), tf.float32)
        scores, mask = local_pair_scores(queries, all_codes, offset)
        return ESTIMATORS[self.estimator](scores, mask)

    def global_mi(self, local_map, global_vector, training=False):
        """The global MI estimate: each global vector with its own encoded
        map (positive) and with another image's of the global batch
        (negative, a random cyclic shift of the gathered batch)."""
        codes = tf.cast(self.global_map_encoder(local_map, training=training), tf.float32)
        all_codes, offset = cross_replica_concat(codes)
        total = tf.shape(all_codes)[0]
        # The same shift on every replica (mirrored seed): one permutation of the global batch.
        shift = keras.random.randint((), 1, tf.maximum(total, 2), seed=self.seed_generator, dtype="int32")
        others = shifted_rows(all_codes, offset, tf.shape(codes)[0], shift)
        positive = self.global_discriminator([global_vector, codes], training=training)
        negative = self.global_discriminator([global_vector, others], training=training)
        scores = tf.concat([tf.cast(positive, tf.float32), tf.cast(negative, tf.float32)], axis=1)
        mask = tf.tile(tf.constant([[True, False]]), [tf.shape(scores)[0], 1])
        return ESTIMATORS[self.estimator](scores, mask)

    def prior_samples(self, count):
        """`count` samples of the uniform prior on [0, 1]^global_dim (each
        replica its own: `replica_seed_generator`)."""
        return keras.random.uniform([count, self.global_dim], seed=self.replica_seed_generator)

    def prior_discriminator_loss(self, global_vector, training=False):
        """Binary cross-entropy of the prior discriminator: prior samples 1,
        `sigmoid(Y)` 0."""
        codes = tf.sigmoid(tf.stop_gradient(global_vector))
        real = self.prior_discriminator(self.prior_samples(tf.shape(codes)[0]), training=training)
        fake = self.prior_discriminator(codes, training=training)
        return tf.reduce_mean(discriminator_adversarial_loss(real, fake))

    def encoder_losses(self, local_map, global_vector, training):
        """The encoder's loss and its terms, from `encode`'s outputs (the
        prior term with the current prior discriminator)."""
        results = {}
        loss = tf.constant(0.0)
        if self.beta > 0:
            results["local_mi"] = self.local_mi(local_map, global_vector, training=training)
            loss -= self.beta * results["local_mi"]
        if self.alpha > 0:
            results["global_mi"] = self.global_mi(local_map, global_vector, training=training)
            loss -= self.alpha * results["global_mi"]
        if self.prior_discriminator is not None:
            logits = self.prior_discriminator(tf.sigmoid(global_vector), training=training)
            results["prior_loss"] = tf.reduce_mean(generator_adversarial_loss(logits))
            loss += self.gamma * results["prior_loss"]
        results["loss"] = loss
        return results

    def compute_losses(self, images, training):
        images = tf.cast(self.augmenter(images, training=training), tf.float32)
        local_map, global_vector = self.encode(images, training=training)
        results = self.encoder_losses(local_map, global_vector, training)
        if self.prior_discriminator is not None:
            results["prior_discriminator_loss"] = self.prior_discriminator_loss(global_vector, training=training)
        return results

    def train_step(self, data):
        if self.prior_discriminator is None:
            return super().train_step(data)
        images = tf.cast(self.augmenter(self.unpack_batch(data), training=True), tf.float32)
        with tf.GradientTape() as tape:
            local_map, global_vector = self.encode(images, training=True)
            with tape.stop_recording():
                discriminator_loss = self._prior_step(global_vector)
            # The encoder's adversarial term uses the updated discriminator.
            results = self.encoder_losses(local_map, global_vector, training=True)
            loss = tf.cast(results["loss"], tf.float32)
            scaled = scaled_loss(self.optimizer, loss)
        apply_if_finite(self.optimizer, tape, scaled, self.optimizer_variables(), loss, type(self).__name__)
        results["prior_discriminator_loss"] = discriminator_loss
        return self.update_trackers(results, self.tracker_weights(images, results, training=True))

    def _prior_step(self, global_vector):
        """One update of the prior discriminator; returns its loss. Checks
        that the loss is finite before any of its weights change."""
        with tf.GradientTape() as tape:
            loss = self.prior_discriminator_loss(global_vector, training=True)
            scaled = scaled_loss(self.prior_optimizer, loss)
        apply_if_finite(
            self.prior_optimizer,
            tape,
            scaled,
            self.prior_discriminator.trainable_variables,
            loss,
            type(self).__name__,
        )
        return loss

    # --- serialization -------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "global_dim": self.global_dim,
                "estimator": self.estimator,
                "alpha": self.alpha,
                "beta": self.beta,
                "gamma": self.gamma,
                "discriminator_dim": self.discriminator_dim,
                "global_discriminator_units": self.global_discriminator_units,
                "prior_units": self.prior_units,
                "local_layer": self.local_layer,
            }
        )
        return config
