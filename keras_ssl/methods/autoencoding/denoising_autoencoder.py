"""Denoising autoencoder."""

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.augment.corruptions import NOISE_TYPES, make_corruption
from keras_ssl.methods.method import Method

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


def check_emphasis(emphasis, noise):
    """`emphasis` as a `(alpha, beta)` pair of floats, checked."""
    emphasis = tuple(float(e) for e in emphasis)
    if len(emphasis) != 2 or min(emphasis) < 0 or max(emphasis) == 0:
        raise ValueError(f"emphasis must be (alpha, beta), non-negative and not both 0, got {emphasis}")
    if emphasis != (1.0, 1.0) and (noise is None or noise == "gaussian"):
        raise ValueError(
            f"emphasis {emphasis} needs a noise that corrupts some components only: use noise='masking' or "
            "'salt_and_pepper' (Gaussian noise corrupts every component; noise=None none)"
        )
    return emphasis


def set_denoising_settings(model, noise, noise_level, loss, emphasis):
    """Checks and sets the settings every denoising autoencoder shares:
    `noise`, `noise_level` (float or None), `loss_type`, `emphasis`."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}: use one of {', '.join(LOSSES)}")
    model.noise = noise
    model.noise_level = None if noise_level is None else float(noise_level)
    model.loss_type = loss
    model.emphasis = check_emphasis(emphasis, noise)


def denoising_settings_config(model):
    """`get_config` entries of those settings; a corruption layer passed
    as `noise` is serialized (`deserialize_noise` restores it)."""
    noise = model.noise
    if isinstance(noise, keras.layers.Layer):
        noise = keras.saving.serialize_keras_object(noise)
    return {"noise": noise, "noise_level": model.noise_level, "loss": model.loss_type, "emphasis": model.emphasis}


def deserialize_noise(config):
    """`config` with a serialized corruption layer under `noise` rebuilt."""
    config = dict(config)
    if isinstance(config.get("noise"), dict):
        config["noise"] = keras.saving.deserialize_keras_object(config["noise"])
    return config


def corrupt_with(corruption, inputs):
    """`(corrupted, mask)` from a corruption layer: its `corrupt` method
    if it has one, else the layer in training mode and no mask."""
    if corruption is None:
        return inputs, None
    if hasattr(corruption, "corrupt"):
        return corruption.corrupt(inputs)
    return tf.cast(corruption(inputs, training=True), inputs.dtype), None


@keras.saving.register_keras_serializable(package="keras_ssl")
class DenoisingAutoencoder(Method):
    """Denoising autoencoder: reconstruct the clean image from a corrupted one.

    Vincent, Larochelle, Lajoie, Bengio and Manzagol, "Stacked Denoising
    Autoencoders: Learning Useful Representations in a Deep Network with a
    Local Denoising Criterion" (JMLR 2010). Each image x is corrupted into
    x~ (Gaussian, masking or salt-and-pepper noise, `keras_ssl.augment`),
    encoded by the backbone and decoded back; the loss compares the
    reconstruction with the clean x: cross-entropy for inputs in [0, 1]
    (pixels / 255, the paper's choice for such data) or squared error.
    `noise=None` gives the plain autoencoder. `emphasis=(alpha, beta)`
    weights the loss on corrupted and uncorrupted components (the paper's
    emphasised denoising: (1, 0) full, (1, 0.5) double emphasis).

    A convolutional backbone is decoded from its last feature map
    (`keras_ssl.backbones.feature_map_model`) by stride-2 transposed
    convolutions with ReLU, one per halving of the resolution, and a 3x3
    convolution to the image's channels. A backbone without a feature map
    (`keras_ssl.backbones.MLP`) is decoded from its output by one Dense
    layer, the paper's one-hidden-layer DAE. The representation is the
    backbone's pooled output; the decoder is used only in training and by
    `reconstruct`.

    `fit` takes raw images: a uint8 or float array `[N, H, W, C]` of pixels
    in [0, 255], or a `tf.data.Dataset` of such batches; `(images, labels)`
    batches are accepted and the labels ignored. Reports `loss` and
    `reconstruction_mse` (mean squared error of the reconstruction in
    [0, 1] units, comparable between the two losses).

    Args:
        backbone: keras.Model. Encoder from raw pixels to features: a
            ConvNet or ResNet (decoded from its last feature map) or an MLP.
        noise: None, "gaussian", "masking", "salt_and_pepper" or a
            corruption layer (applied to raw pixels). Default "masking".
        noise_level: float. The paper's level on [0, 1] inputs: the fraction
            nu of corrupted pixels for masking and salt-and-pepper, the
            standard deviation sigma for Gaussian noise (255 sigma in
            pixels). None: 0.25 for masking and salt-and-pepper (the
            paper's MNIST level), 0.3 for Gaussian.
        loss: str. "cross_entropy" (sigmoid outputs, the paper's choice
            for [0, 1] inputs) or "squared_error" (affine outputs).
        emphasis: (alpha, beta). Loss weights of corrupted and uncorrupted
            pixels; (1, 1) is the plain denoising criterion.
        decoder_filters: tuple of int. Filters of the transposed
            convolutions, one per halving of the resolution (default: half
            the channels of the layer below, at least 8).
        augmenter: keras.layers.Layer. Applied to the clean images before
            corruption (identity by default, as in the paper).
        seed: int. Seed of the corruption.

    Example:

    >>> backbone = keras_ssl.backbones.ConvNet(input_shape=(28, 28, 1), filters=(32, 64, 128))
    >>> model = DenoisingAutoencoder(backbone, noise="masking", noise_level=0.25)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(images, batch_size=128, epochs=10)  # uint8 [N, 28, 28, 1]
    >>> denoised = model.reconstruct(model.corrupt(images[:8]))
    """

    metric_names = ("loss", "reconstruction_mse")

    def __init__(
        self,
        backbone,
        noise="masking",
        noise_level=None,
        loss="cross_entropy",
        emphasis=(1.0, 1.0),
        decoder_filters=None,
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(backbone=backbone, augmenter=augmenter, seed=seed, **kwargs)
        # === Config ===
        set_denoising_settings(self, noise, noise_level, loss, emphasis)
        # === Layers ===
        self.corruption = make_corruption(noise, self.noise_level, value_range=(0.0, 255.0), seed=seed)
        self.feature_maps, self.decoder = self._build_decoder(decoder_filters)
        self.decoder_filters = None if decoder_filters is None else tuple(int(f) for f in decoder_filters)
        if self.corruption is not None and not self.corruption.built:
            self.corruption.build((None, *self.image_shape))
        self.built = True

    def _build_decoder(self, decoder_filters):
        from keras_ssl.backbones.stages import feature_map_model

        height, width, channels = self.image_shape
        names = [layer.name for layer in self.backbone.layers]
        if "pool" in names:
            feature_maps = feature_map_model(self.backbone)
            _, h, w, c = feature_maps.output_shape
            steps = 0
            while h * 2**steps < height or w * 2**steps < width:
                steps += 1
            if decoder_filters is None:
                decoder_filters = [max(8, c // 2 ** (i + 1)) for i in range(steps)]
            elif len(decoder_filters) != steps:
                raise ValueError(
                    f"decoder_filters needs {steps} entries (one per halving from the {h}x{w} feature map to the "
                    f"{height}x{width} image), got {tuple(decoder_filters)}"
                )
            layers = [
                keras.layers.Conv2DTranspose(int(f), 3, strides=2, padding="same", activation="relu",
                                             name=f"decoder_up{i + 1}")
                for i, f in enumerate(decoder_filters)
            ]
            layers.append(keras.layers.Conv2D(channels, 3, padding="same", name="decoder_out"))
            if (h * 2**steps, w * 2**steps) != (height, width):
                layers.append(keras.layers.Resizing(height, width, name="decoder_resize"))
        elif len(self.backbone.output_shape) == 2:
            if decoder_filters:
                raise ValueError("decoder_filters is for convolutional backbones; an MLP is decoded by one Dense layer")
            feature_maps = self.backbone
            layers = [
                keras.layers.Dense(height * width * channels, name="decoder_out"),
                keras.layers.Reshape((height, width, channels), name="decoder_reshape"),
            ]
        else:
            raise ValueError(
                f"cannot decode backbone {self.backbone.name!r}: use a ConvNet or ResNet (a global pooling layer "
                "named 'pool' after its last feature map) or an MLP"
            )
        decoder = keras.Sequential(layers, name="decoder")
        decoder.build(feature_maps.output_shape)
        return feature_maps, decoder

    # --- the method ----------------------------------------------------
    def corrupt(self, images):
        """The images corrupted by the model's noise, float pixels (the
        images unchanged for `noise=None`)."""
        images = self.prepare_images(images)
        return corrupt_with(self.corruption, images)[0]

    def decode(self, images, training=False):
        """Decoder outputs (logits for cross-entropy) `[batch, H, W, C]`."""
        maps = self.feature_maps(images, training=training)
        return tf.cast(self.decoder(maps, training=training), "float32")

    def reconstruct(self, images):
        """Reconstructions of `images` as float pixels in [0, 255]. Pass
        corrupted images (`corrupt`) to see them denoised."""
        images = self.prepare_images(images)
        return 255.0 * reconstruction_to_unit(self.decode(images), self.loss_type)

    def compute_losses(self, images, training):
        clean = tf.cast(self.augmenter(images, training=training), "float32")
        corrupted, mask = corrupt_with(self.corruption, clean)
        outputs = self.decode(tf.cast(corrupted, "float32"), training=training)
        targets = clean / 255.0
        per_example = denoising_reconstruction_loss(targets, outputs, self.loss_type, mask, self.emphasis)
        mse = tf.reduce_mean(tf.square(reconstruction_to_unit(outputs, self.loss_type) - targets))
        return {"loss": tf.reduce_mean(per_example), "reconstruction_mse": mse}

    # --- serialization -------------------------------------------------
    def get_config(self):
        return {**super().get_config(), **denoising_settings_config(self), "decoder_filters": self.decoder_filters}

    @classmethod
    def from_config(cls, config):
        return super().from_config(deserialize_noise(config))


def plot_denoising_grid(models, images, path, noises=NOISE_TYPES, noise_levels=None, seed=0):
    """PNG of denoised inputs: the clean images, then for each noise type a
    row of corrupted images and a row of their reconstructions.

    Args:
        models: a `DenoisingAutoencoder` (reconstructs every noise type) or
            a dict `{noise: DenoisingAutoencoder}` (each row pair uses the
            model trained with that noise).
        images: uint8 array `[N, H, W, C]`, a few images (columns).
        path: str. Where to write the PNG.
        noises: names of the noise types (keys of `models` if a dict).
        noise_levels: dict `{noise: level}` (the paper's [0, 1] scale);
            default: each model's level if `models` is a dict, else the
            defaults of `keras_ssl.augment.make_corruption`.
        seed: int. Seed of the corruptions, so the grid is reproducible.

    Returns:
        `path`.

    Example:

    >>> plot_denoising_grid(model, x_test[:8], "denoising.png")
    'denoising.png'
    """
    from keras_ssl.augment.corruptions import DEFAULT_NOISE_LEVELS
    from keras_ssl.evaluation.image_grids import plot_image_grid

    images = np.asarray(images)
    rows, titles = [images], ["clean"]
    for i, noise in enumerate(noises):
        model = models[noise] if isinstance(models, dict) else models
        level = (noise_levels or {}).get(noise)
        if level is None and isinstance(models, dict) and model.noise == noise:
            level = model.noise_level
        if level is None:
            level = DEFAULT_NOISE_LEVELS[noise]
        corruption = make_corruption(noise, level, value_range=(0.0, 255.0), seed=seed + i)
        corrupted = corrupt_with(corruption, tf.cast(images, "float32"))[0]
        rows += [np.asarray(corrupted), np.asarray(model.reconstruct(corrupted))]
        label = f"sigma={level:g}" if noise == "gaussian" else f"{100 * level:g}%"
        titles += [f"{noise.replace('_', ' ')} {label}", "reconstructed"]
    return plot_image_grid(rows, path, row_titles=titles)
