"""Contrastive predictive coding for images (van den Oord et al. 2018; Hénaff et al. 2020)."""

import numbers

import keras
import tensorflow as tf

from keras_ssl.augment.weak_augmenter import WeakAugmenter
from keras_ssl.distribute import cross_replica_concat
from keras_ssl.layers.patches import Patches
from keras_ssl.methods.contrastive.base import ContrastiveMethod


def cpc_info_nce(context, targets, prediction_weights, offset=0, temperature=None):
    """The InfoNCE loss of CPC over a grid of patches.

    For every step `k = 1..K` (`K = prediction_weights.shape[0]`) and every
    context position `(b, i, j)` with `i + k < rows`, the prediction
    `p = W_k c[b, i, j]` scores every patch of the (global) batch,
    `s(p, t) = p . t` (the papers' plain dot product; with `temperature`,
    the cosine of `p` and `t` divided by it); the positive is
    `targets[offset + b, i + k, j]`, the negatives are all the other
    patches: the other positions of the same image and every patch of every
    other image. The loss is the cross-entropy of picking the positive, the
    mean over all of this replica's predictions (every step and position
    pooled, so a step with more context rows counts for more predictions).

    Args:
        context: float `[B, rows, cols, C]`. The context vectors `c` of this
            replica's images.
        targets: float `[G, rows, cols, D]`. The target vectors `z` of every
            image of the global batch (`G >= B`).
        prediction_weights: float `[K, C, D]`. `W_1 .. W_K`.
        offset: int. Index of this replica's first image in `targets`.
        temperature: None (plain dot products) or float > 0 (cosine
            similarities divided by it).

    Returns:
        `(loss, accuracy)`: float32 scalars, the mean loss and how often the
        positive scored highest.
    """
    if temperature is not None and not temperature > 0:
        raise ValueError(f"temperature must be None (plain dot products) or positive, got {temperature}")
    context = tf.cast(context, tf.float32)
    targets = tf.cast(targets, tf.float32)
    prediction_weights = tf.cast(prediction_weights, tf.float32)
    if context.shape.rank != 4 or targets.shape.rank != 4 or prediction_weights.shape.rank != 3:
        raise ValueError(
            f"cpc_info_nce takes context [B, rows, cols, C], targets [G, rows, cols, D] and prediction weights "
            f"[K, C, D], got {tuple(context.shape)}, {tuple(targets.shape)} and {tuple(prediction_weights.shape)}"
        )
    rows, cols = context.shape[1], context.shape[2]
    steps = prediction_weights.shape[0]
    if steps >= rows:
        raise ValueError(f"cpc_info_nce needs fewer prediction steps than rows, got {steps} steps for {rows} rows")
    per_image = rows * cols
    candidates = tf.reshape(targets, [-1, targets.shape[-1]])
    if temperature is not None:
        candidates = tf.math.l2_normalize(candidates, axis=-1)
    images = tf.range(tf.shape(context)[0]) + offset
    losses, hits = [], []
    for k in range(1, steps + 1):
        predictions = tf.einsum("bijc,cd->bijd", context[:, : rows - k], prediction_weights[k - 1])
        predictions = tf.reshape(predictions, [-1, prediction_weights.shape[-1]])
        logits = tf.matmul(predictions, candidates, transpose_b=True)
        if temperature is not None:
            logits = logits / tf.norm(predictions, axis=-1, keepdims=True) / temperature
        positions = (tf.range(k, rows)[:, None] * cols + tf.range(cols)[None, :])[None]  # [1, rows - k, cols]
        labels = tf.reshape(images[:, None, None] * per_image + positions, [-1])
        losses.append(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        hits.append(tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels), tf.float32))
    return tf.reduce_mean(tf.concat(losses, 0)), tf.reduce_mean(tf.concat(hits, 0))


def _positive_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"CPC needs {name} to be an int >= {minimum}, got {value!r}")
    return int(value)


@keras.saving.register_keras_serializable(package="keras_ssl")
class CPC(ContrastiveMethod):
    """Contrastive predictive coding on a grid of image patches.

    van den Oord, Li and Vinyals, "Representation Learning with Contrastive
    Predictive Coding" (arXiv 2018), section 3.3, with the tricks of Hénaff,
    Srinivas, De Fauw, Razavi, Doersch, Eslami and van den Oord,
    "Data-Efficient Image Recognition with Contrastive Predictive Coding"
    (ICML 2020). Each image is cut into a grid of overlapping
    `patch_size` x `patch_size` patches, `patch_stride` pixels apart
    (`keras_ssl.layers.Patches`); the backbone, a patch encoder built for
    the patch shape, encodes every patch to `z[b, i, j]` (its pooled
    features: the papers' mean-pooled ResNet output). A context network that
    sees only the rows at or above row `i` turns the grid into
    `c[b, i, j]`: a 1x1 projection to `context_dim`, then `context_layers`
    residual blocks of layer norm, ReLU and a 2x3 convolution padded with a
    row on top only (so row `i` reads rows `i - 1` and `i`: causal in rows,
    free across columns, as the papers' PixelCNN-style context), then a
    final layer norm. For `k = 1..K` the prediction `W_k c[b, i, j]` must
    pick `z[b, i + k, j]` out of every patch of the *global* batch (other
    positions of the same image and all patches of all other images,
    gathered over replicas with `cross_replica_concat`): the InfoNCE loss of
    `cpc_info_nce`, the mean over this replica's predictions.

    The paper's design is kept: half-overlapping patches, a grid of about
    7x7, predictions of rows below from the rows above, negatives from the
    whole batch, and, from Hénaff
    et al., layer norm instead of batch norm in the context network (batch
    statistics would mix the patches that are predicted into the context)
    and per-patch augmentation (each patch is augmented independently, so
    low-level cues shared by neighbouring patches, which would make the
    task trivial, are broken). Changed for small images: the defaults are
    for 28x28 images, patches of 8 with stride 4 (half overlap, as the
    paper's 64 of 256 with stride 32) give a 6x6 grid where the paper has
    7x7 (patches of 7 with stride 3.5 are not possible); `K = 3` rather
    than the paper's 5 (with 6 rows, 5 steps ahead would leave one context
    row for the longest step); the context network is two residual blocks
    of 256 channels, not a deep 4096-channel ResNet; the per-patch
    augmentation is a random translation by up to one pixel (edge
    reflection) rather than Hénaff's colour dropping and patch crops, which
    do not fit 8x8 grey patches. For 8x8 images (digits), patches of 4 with
    stride 2 give a 3x3 grid; use `K` of 1 or 2. Scores: the papers use
    plain dot products `W_k c . z` (`temperature=None` here); the default
    is cosine similarity divided by `temperature = 0.1` instead, because on
    the digits (50 epochs, Adam 3e-3) plain dot products left the kNN
    accuracy at random init's level (0.893 against 0.898) while cosine
    scores at 0.1 raised it by 5-7 points.

    Batch norm in the patch encoder: the backbone sees the batch's patches
    as one batch, so its batch statistics pool over all patches of all
    images, the predicted rows included. With many patches per batch that
    is a weak leak (Hénaff et al. replaced it by layer norm in the
    encoder); a backbone without batch norm removes it.

    `fit` takes batches of raw images `[batch, H, W, C]` (pixels in
    [0, 255]; `(images, labels)` also works, the labels are ignored).
    Reports `loss` and `contrast_accuracy` (how often the positive patch
    scored highest). `evaluate` scores unaugmented images. `predict` and
    `encoder` give image features: the backbone's features of every patch,
    averaged over the grid (`[batch, D]`), from raw full images;
    `encoder` is a functional model around the same backbone, so it is
    what `export.saved_model` exports.

    Args:
        backbone: keras.Model. Patch encoder from raw pixel patches
            `[n, patch_size, patch_size, C]` to features `[n, D]`.
        image_shape: tuple. `(height, width, channels)` of the full images
            (default (28, 28, 1)).
        patch_size: int. Side of the square patches (8).
        patch_stride: int. Pixels between neighbouring patches (4).
        prediction_steps: int. `K`, rows predicted ahead (3); fewer than
            the grid's rows.
        context_dim: int. Channels of the context network (256).
        context_layers: int >= 0. Residual blocks of the context network
            (2); each widens the view by one row up and one column aside.
        projection_dim: int or None. Linear projection of the targets `z`
            to this size (None: the backbone's features as they are, as in
            the papers).
        temperature: None or float > 0. A float scores cosine similarities
            divided by it (0.1); None scores plain dot products (the
            papers).
        per_patch_augmentation: bool. Apply the augmenter to every patch
            independently (True, Hénaff et al.) or to whole images before
            cutting.
        augmenter: keras.layers.Layer. View maker, for the patch shape
            when `per_patch_augmentation`, else for the image shape
            (default: `WeakAugmenter` with translations of up to one pixel,
            no flips).
        seed: int. Seed of the default augmenter and the initial weights'
            draws.

    Example:

    >>> backbone = keras_ssl.backbones.ConvNet(input_shape=(8, 8, 1), filters=(32, 64))
    >>> model = CPC(backbone, image_shape=(28, 28, 1), patch_size=8, patch_stride=4, prediction_steps=3)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(keras_ssl.data.image_batches(images, 64), epochs=10)
    >>> embeddings = model.predict(images)  # [N, 64]: patch features averaged over the 6x6 grid.
    """

    metric_names = ("loss", "contrast_accuracy")

    def __init__(
        self,
        backbone,
        image_shape=(28, 28, 1),
        patch_size=8,
        patch_stride=4,
        prediction_steps=3,
        context_dim=256,
        context_layers=2,
        projection_dim=None,
        temperature=0.1,
        per_patch_augmentation=True,
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        # === Config (checked before the base builds the augmenter) ===
        image_shape = tuple(image_shape)
        if len(image_shape) != 3 or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1 for s in image_shape
        ):
            raise ValueError(f"CPC needs image_shape (height, width, channels) of positive ints, got {image_shape!r}")
        patch_size = _positive_int("patch_size", patch_size)
        patch_stride = _positive_int("patch_stride", patch_stride)
        prediction_steps = _positive_int("prediction_steps", prediction_steps)
        context_dim = _positive_int("context_dim", context_dim)
        context_layers = _positive_int("context_layers", context_layers, minimum=0)
        if projection_dim is not None:
            projection_dim = _positive_int("projection_dim", projection_dim)
        if temperature is not None:
            if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature > 0:
                raise ValueError(f"CPC needs temperature None (plain dot products) or > 0, got {temperature!r}")
            temperature = float(temperature)
        height, width, channels = (int(s) for s in image_shape)
        if patch_size > min(height, width):
            raise ValueError(
                f"CPC patch_size {patch_size} is larger than the {height}x{width} images: use a smaller patch_size"
            )
        patches = Patches(patch_size, patch_stride, name="patches")
        rows, cols = patches.grid_shape(image_shape)
        if prediction_steps >= rows:
            raise ValueError(
                f"CPC prediction_steps {prediction_steps} must be less than the grid's {rows} rows ({height}x{width} "
                f"images, patch {patch_size}, stride {patch_stride}): lower prediction_steps or the stride"
            )
        patch_shape = (patch_size, patch_size, channels)
        if isinstance(backbone, keras.Model) and tuple(backbone.input_shape[1:]) != patch_shape:
            raise ValueError(
                f"CPC's backbone encodes patches: build it with input_shape={patch_shape}, got a backbone for "
                f"{tuple(backbone.input_shape[1:])}"
            )
        # Plain attributes the base's __init__ already reads (image_shape, default_augmenter).
        object.__setattr__(self, "_image_shape", (height, width, channels))
        object.__setattr__(self, "patch_shape", patch_shape)
        object.__setattr__(self, "per_patch_augmentation", bool(per_patch_augmentation))
        if augmenter is not None and not augmenter.built and per_patch_augmentation:
            augmenter.build((None, *patch_shape))
        super().__init__(backbone=backbone, augmenter=augmenter, seed=seed, **kwargs)
        self.patch_size = patch_size
        self.patch_stride = patch_stride
        self.prediction_steps = prediction_steps
        self.context_dim = context_dim
        self.context_layers = context_layers
        self.projection_dim = projection_dim
        self.temperature = temperature
        self.grid_shape = (rows, cols)
        # === Layers ===
        self.patches = patches
        feature_dim = self.backbone.output_shape[-1]
        self.context_network = self.build_context_network((rows, cols, feature_dim))
        self.projection = None
        target_dim = feature_dim
        if projection_dim is not None:
            self.projection = keras.layers.Dense(projection_dim, name="target_projection")
            self.projection.build((None, feature_dim))
            target_dim = projection_dim
        self.prediction_weights = self.add_weight(
            shape=(prediction_steps, context_dim, target_dim),
            initializer=keras.initializers.RandomNormal(stddev=context_dim**-0.5, seed=seed),
            name="prediction_weights",
        )
        # The exported encoder: full raw images -> patch features averaged over the grid.
        inputs = keras.Input(shape=self._image_shape, dtype="float32", name="images")
        grid = Patches(patch_size, patch_stride, encoder=self.backbone, name="patch_features")(inputs)
        pooled = keras.layers.GlobalAveragePooling2D(name="grid_mean")(grid)
        self._encoder = keras.Model(inputs, pooled, name="cpc_encoder")
        self.built = True

    def build_context_network(self, grid_input_shape):
        """The context network: `z` `[B, rows, cols, D]` to `c`
        `[B, rows, cols, context_dim]`, where `c[:, i]` depends only on
        `z[:, :i + 1]` (rows at or above `i`)."""
        z = keras.Input(shape=grid_input_shape, name="patch_grid")
        x = keras.layers.Dense(self.context_dim, name="context_input")(z)
        for n in range(self.context_layers):
            h = keras.layers.LayerNormalization(epsilon=1e-5, name=f"context{n + 1}_norm")(x)
            h = keras.layers.ReLU(name=f"context{n + 1}_relu")(h)
            # One row of padding on top and none below: row i sees rows i - 1 and i only.
            h = keras.layers.ZeroPadding2D(((1, 0), (1, 1)), name=f"context{n + 1}_causal_pad")(h)
            h = keras.layers.Conv2D(self.context_dim, (2, 3), padding="valid", name=f"context{n + 1}_conv")(h)
            x = keras.layers.Add(name=f"context{n + 1}_add")([x, h])
        c = keras.layers.LayerNormalization(epsilon=1e-5, name="context_norm")(x)
        return keras.Model(z, c, name="context_network")

    def default_augmenter(self):
        if self.per_patch_augmentation:
            augmenter = WeakAugmenter(self.patch_shape, translate=1, flip=False, seed=self.seed, name="augmenter")
            augmenter.build((None, *self.patch_shape))
            return augmenter
        return WeakAugmenter(self.image_shape, translate=1, flip=False, seed=self.seed, name="augmenter")

    # --- contract ------------------------------------------------------
    @property
    def image_shape(self):
        """The full images' shape (the backbone's input is a patch)."""
        return self._image_shape

    @property
    def encoder(self):
        """Raw full images `[B, H, W, C]` to features `[B, D]`: the
        backbone on every patch, averaged over the grid."""
        return self._encoder

    def call(self, inputs, training=False):
        return self.encoder(self.prepare_images(inputs), training=training)

    def prepare_images(self, images):
        images = tf.convert_to_tensor(images) if not isinstance(images, tf.Tensor) else images
        actual = tuple(images.shape[1:])
        if images.shape.rank == 4 and any(a is not None and a != e for a, e in zip(actual, self.image_shape)):
            raise ValueError(
                f"CPC expects images of shape [batch, {', '.join(map(str, self.image_shape))}] (its image_shape), "
                f"got {tuple(images.shape)}: resize the images or build CPC with image_shape={actual}"
            )
        return super().prepare_images(images)

    # --- training ------------------------------------------------------
    def patch_grid(self, images, training=False):
        """`z` `[B, rows, cols, D]`: the backbone's features of every patch of
        (float) `images`, each patch augmented when training with
        `per_patch_augmentation`."""
        patches = self.patches(images)
        rows, cols = self.grid_shape
        flat = tf.reshape(patches, [-1, *self.patch_shape])
        if training and self.per_patch_augmentation:
            flat = self.augmenter(flat, training=True)
        features = self.backbone(flat, training=training)
        return tf.reshape(features, [-1, rows, cols, features.shape[-1]])

    def compute_losses(self, batch, training):
        images = batch
        if training and not self.per_patch_augmentation:
            (images,) = self.views(images, count=1)
        z = self.patch_grid(images, training=training)
        context = self.context_network(z, training=training)
        targets = z if self.projection is None else self.projection(z)
        # Negatives span the global batch: every replica's patches.
        all_targets, offset = cross_replica_concat(tf.cast(targets, tf.float32))
        loss, accuracy = cpc_info_nce(context, all_targets, self.prediction_weights, offset, self.temperature)
        return {"loss": loss, "contrast_accuracy": accuracy}

    # --- serialization -------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_shape": self.image_shape,
                "patch_size": self.patch_size,
                "patch_stride": self.patch_stride,
                "prediction_steps": self.prediction_steps,
                "context_dim": self.context_dim,
                "context_layers": self.context_layers,
                "projection_dim": self.projection_dim,
                "temperature": self.temperature,
                "per_patch_augmentation": self.per_patch_augmentation,
            }
        )
        return config
