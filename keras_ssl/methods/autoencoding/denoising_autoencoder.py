"""Denoising autoencoder."""

import keras
import tensorflow as tf

from keras_ssl.augment.corruptions import make_corruption
from keras_ssl.losses.reconstruction import denoising_reconstruction_loss, reconstruction_to_unit
from keras_ssl.methods.autoencoding.base import (
    corrupt_with,
    denoising_settings_config,
    deserialize_noise,
    set_denoising_settings,
)
from keras_ssl.methods.images import ImageMethod


@keras.saving.register_keras_serializable(package="keras_ssl")
class DenoisingAutoencoder(ImageMethod):
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
                keras.layers.Conv2DTranspose(
                    int(f), 3, strides=2, padding="same", activation="relu", name=f"decoder_up{i + 1}"
                )
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
