"""Context encoder: feature learning by inpainting."""

import math

import keras
import tensorflow as tf

from keras_ssl.augment.inpainting_masks import (
    central_mask,
    random_block_mask,
    random_region_mask,
    reconstruction_weights,
)
from keras_ssl.backbones.stages import feature_map_model
from keras_ssl.layers.channel_wise_dense import ChannelWiseDense
from keras_ssl.losses.adversarial import discriminator_adversarial_loss, generator_adversarial_loss
from keras_ssl.losses.inpainting import inpainting_reconstruction_loss
from keras_ssl.methods.images import ImageMethod
from keras_ssl.methods.steps import apply_if_finite, scaled_loss

MASKS = {"central": central_mask, "random_block": random_block_mask, "random_region": random_region_mask}


@keras.saving.register_keras_serializable(package="keras_ssl")
class ContextEncoder(ImageMethod):
    """Context encoder: fill in removed image regions from their context.

    Pathak, Krähenbühl, Donahue, Darrell and Efros, "Context Encoders:
    Feature Learning by Inpainting" (CVPR 2016). A region of each image is
    removed (set to `fill_value`); the encoder (the backbone up to its last
    feature map), a channel-wise fully-connected bottleneck
    (`ChannelWiseDense`) and a decoder of transposed convolutions predict
    the whole image, and the loss compares the prediction with the truth on
    the removed region only:

        L = reconstruction_weight * L_rec + adversarial_weight * L_adv

    with `L_rec` the masked L2 loss (`inpainting_reconstruction_loss`, the
    removed region plus an `overlap` band of context weighted
    `overlap_weight`) and `L_adv` the non-saturating DCGAN generator loss
    `-log D(filled)` of a discriminator on the filled-in image (the input's
    context with the predicted region pasted in). The discriminator (DCGAN:
    stride-2 4x4 convolutions without biases, batch norm, LeakyReLU(0.2), no
    batch norm on the first layer, a dense logit) is trained with binary cross-entropy on real vs filled-in
    images. Each step updates the discriminator first, then the generator
    against the updated discriminator (the paper's alternation), each with
    its own optimizer: `compile(optimizer, discriminator_optimizer=None)`,
    the latter a fresh copy of the former by default. `adversarial_weight=0`
    is the paper's L2-only variant: no discriminator is built or trained.
    The representation is the backbone's pooled output (`call`);
    `inpaint(images, masks)` gives the filled-in images.

    Differences from the paper, for small grey-scale images: the decoder
    outputs the whole image (sigmoid x 255) and the discriminator sees the
    whole filled-in image, also for central masks (the paper decodes and
    discriminates only the central 64x64 patch); the overlap band is the
    removed region dilated by `overlap` pixels (paper: 4 px of a 128x128
    image, 1 px here by default); random-region masks come from other
    images' silhouettes instead of PASCAL VOC segmentations (see
    `random_region_mask`); the loss is in [0, 1] pixel units (paper:
    [-1, 1]).

    `fit` takes raw images: a uint8 or float array `[N, H, W, C]` of pixels
    in [0, 255], or a `tf.data.Dataset` of such batches; `(images, labels)`
    batches are accepted and the labels ignored. Reports `loss`,
    `reconstruction_loss` and, with the adversarial term, `adversarial_loss`
    (the generator's) and `discriminator_loss`.

    Args:
        backbone: keras.Model. `ConvNet` or `ResNet` (with a global pooling
            layer named `pool`); its last feature map is the encoder output.
        mask: str. `"central"`, `"random_block"` or `"random_region"`
            (default; the paper learns features with random regions).
        mask_fraction: float. Area removed (paper: 1/4).
        overlap: int. Width in pixels of the band of context around the
            removed region that the loss also counts.
        overlap_weight: float. Loss weight of that band (paper: 10).
        reconstruction_weight: float. `lambda_rec` (paper: 0.999).
        adversarial_weight: float. `lambda_adv` (paper: 0.001; 0 for L2 only).
        fill_value: float. Pixel value of the removed region in the input
            (paper: the mean pixel, 117 on ImageNet).
        decoder_filters: tuple of int. Filters of the decoder's stride-2
            transposed convolutions before the output one (default: halving
            from the feature map's channels, one per doubling needed).
        discriminator_filters: tuple of int. Filters of the discriminator's
            stride-2 convolutions (paper: 64, 128, 256, 512 on 128x128;
            default 64, 128, 256 for small images).
        augmenter: keras.layers.Layer. Applied to images before masking
            (identity by default, as in the paper).
        seed: int. Seed of the masks.

    Example:

    >>> backbone = keras_ssl.backbones.ConvNet(input_shape=(28, 28, 1), filters=(32, 64, 128))
    >>> model = ContextEncoder(backbone, mask="central")
    >>> model.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    >>> model.fit(images, batch_size=64, epochs=10)  # uint8 [N, 28, 28, 1]
    >>> filled = model.inpaint(images[:8], keras_ssl.augment.central_mask(images[:8]))
    >>> embeddings = model.predict(images)
    """

    metric_names = ("loss", "reconstruction_loss", "adversarial_loss", "discriminator_loss")

    def __init__(
        self,
        backbone,
        mask="random_region",
        mask_fraction=0.25,
        overlap=1,
        overlap_weight=10.0,
        reconstruction_weight=0.999,
        adversarial_weight=0.001,
        fill_value=117.0,
        decoder_filters=None,
        discriminator_filters=(64, 128, 256),
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(backbone=backbone, augmenter=augmenter, seed=seed, **kwargs)
        if mask not in MASKS:
            raise ValueError(f"mask must be one of {', '.join(MASKS)}, got {mask!r}")
        if not 0.0 < float(mask_fraction) < 1.0:
            raise ValueError(f"mask_fraction must be in (0, 1) (paper: 0.25), got {mask_fraction}")
        if int(overlap) < 0:
            raise ValueError(f"overlap must be a number of pixels >= 0, got {overlap}")
        if reconstruction_weight < 0 or adversarial_weight < 0 or reconstruction_weight + adversarial_weight <= 0:
            raise ValueError(
                "reconstruction_weight and adversarial_weight must be >= 0 and not both 0 "
                f"(paper: 0.999 and 0.001), got {reconstruction_weight} and {adversarial_weight}"
            )
        # === Config ===
        self.mask = mask
        self.mask_fraction = float(mask_fraction)
        self.overlap = int(overlap)
        self.overlap_weight = float(overlap_weight)
        self.reconstruction_weight = float(reconstruction_weight)
        self.adversarial_weight = float(adversarial_weight)
        self.fill_value = float(fill_value)
        self.decoder_filters = None if decoder_filters is None else tuple(int(f) for f in decoder_filters)
        self.discriminator_filters = tuple(int(f) for f in discriminator_filters)
        if self.adversarial_weight > 0 and not self.discriminator_filters:
            raise ValueError("discriminator_filters must name at least one layer when adversarial_weight > 0")
        self.discriminator_optimizer = None

        # === Layers ===
        self.feature_maps = feature_map_model(backbone, name="encoder_feature_map")
        map_shape = tuple(self.feature_maps.output.shape[1:])
        self.bottleneck = ChannelWiseDense(activation="relu", name="channel_wise_dense")
        self.decoder = self._build_decoder(map_shape)
        inputs = keras.Input(self.image_shape, name="masked_images")
        outputs = self.decoder(self.bottleneck(self.feature_maps(inputs)))
        self.generator = keras.Model(inputs, outputs, name="generator")
        self.discriminator = self._build_discriminator() if self.adversarial_weight > 0 else None
        self.built = True

    def _build_decoder(self, map_shape):
        height, width, channels = self.image_shape
        doublings = max(0, math.ceil(math.log2(max(height / map_shape[0], width / map_shape[1]))))
        if self.decoder_filters is None:
            filters = [max(8, map_shape[-1] // 2 ** (i + 1)) for i in range(max(0, doublings - 1))]
        else:
            filters = list(self.decoder_filters)
            if len(filters) != max(0, doublings - 1):
                raise ValueError(
                    f"decoder_filters needs {max(0, doublings - 1)} entries to upsample {map_shape[:2]} to "
                    f"{(height, width)} with stride-2 layers (the last one outputs pixels), got {len(filters)}"
                )
        inputs = keras.Input(map_shape, name="codes")
        x = inputs
        for i, count in enumerate(filters):
            x = keras.layers.Conv2DTranspose(count, 4, strides=2, padding="same", use_bias=False, name=f"up{i + 1}")(x)
            x = keras.layers.BatchNormalization(name=f"up{i + 1}_bn")(x)
            x = keras.layers.ReLU(name=f"up{i + 1}_relu")(x)
        x = keras.layers.Conv2DTranspose(
            channels, 4, strides=2 if doublings else 1, padding="same", activation="sigmoid", name="to_pixels"
        )(x)
        if tuple(x.shape[1:3]) != (height, width):
            x = keras.layers.Resizing(height, width, name="to_image_size")(x)
        # Pixels in [0, 255], the convention of the inputs.
        outputs = keras.layers.Rescaling(255.0, dtype="float32", name="pixel_scale")(x)
        return keras.Model(inputs, outputs, name="decoder")

    def _build_discriminator(self):
        inputs = keras.Input(self.image_shape, name="images")
        x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="pixel_scale")(inputs)
        for i, count in enumerate(self.discriminator_filters):
            x = keras.layers.Conv2D(count, 4, strides=2, padding="same", use_bias=False, name=f"conv{i + 1}")(x)
            if i > 0:  # DCGAN: no batch norm on the first layer.
                x = keras.layers.BatchNormalization(name=f"conv{i + 1}_bn")(x)
            x = keras.layers.LeakyReLU(0.2, name=f"conv{i + 1}_lrelu")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        outputs = keras.layers.Dense(1, dtype="float32", name="logit")(x)
        return keras.Model(inputs, outputs, name="discriminator")

    # --- optimizers -----------------------------------------------------
    extra_optimizers = ("discriminator",)

    def optimizer_variables(self, name="optimizer"):
        """`optimizer` trains the generator (encoder, bottleneck and decoder);
        `discriminator_optimizer` (a copy of its config unless `compile` gets
        one) the discriminator, when there is one (`adversarial_weight > 0`)."""
        if name == "optimizer":
            return self.generator.trainable_variables
        return None if self.discriminator is None else self.discriminator.trainable_variables

    # --- losses and steps -------------------------------------------------
    def sample_masks(self, images):
        """Masks `[B, H, W, 1]` (1 = removed) of the model's mask type."""
        if self.mask == "central":
            return central_mask(images, self.mask_fraction)
        return MASKS[self.mask](images, self.mask_fraction, seed=self.replica_seed_generator)

    def _fill_in(self, images, masks, training):
        """Returns `(predictions, filled)`: the generator's output on the
        masked images and the images with the removed region predicted."""
        masked = images * (1.0 - masks) + self.fill_value * masks
        predictions = tf.cast(self.generator(masked, training=training), tf.float32)
        return predictions, images * (1.0 - masks) + predictions * masks

    def _generator_losses(self, images, masks, predictions, filled, training):
        weights = reconstruction_weights(masks, self.overlap, self.overlap_weight)
        reconstruction = tf.reduce_mean(inpainting_reconstruction_loss(images, predictions, weights))
        results = {"reconstruction_loss": reconstruction, "loss": self.reconstruction_weight * reconstruction}
        if self.discriminator is not None:
            fake_logits = self.discriminator(filled, training=training)
            adversarial = tf.reduce_mean(generator_adversarial_loss(fake_logits))
            results["adversarial_loss"] = adversarial
            results["loss"] = results["loss"] + self.adversarial_weight * adversarial
        return results

    def _discriminator_loss(self, images, filled, training):
        real_logits = self.discriminator(images, training=training)
        fake_logits = self.discriminator(filled, training=training)
        return tf.reduce_mean(discriminator_adversarial_loss(real_logits, fake_logits))

    def compute_losses(self, images, training):
        images = tf.cast(self.augmenter(images, training=training), tf.float32)
        masks = self.sample_masks(images)
        predictions, filled = self._fill_in(images, masks, training)
        results = self._generator_losses(images, masks, predictions, filled, training)
        if self.discriminator is not None:
            results["discriminator_loss"] = self._discriminator_loss(images, filled, training)
        return results

    def train_step(self, data):
        images = tf.cast(self.augmenter(self.unpack_batch(data), training=True), tf.float32)
        masks = self.sample_masks(images)
        with tf.GradientTape() as tape:
            # One generator pass serves both updates (as in DCGAN).
            predictions, filled = self._fill_in(images, masks, training=True)
            if self.discriminator is not None:
                with tape.stop_recording():
                    discriminator_loss = self._discriminator_step(images, tf.stop_gradient(filled), predictions)
            # The generator's adversarial loss uses the updated discriminator.
            results = self._generator_losses(images, masks, predictions, filled, training=True)
            loss = tf.cast(results["loss"], tf.float32)
            scaled = scaled_loss(self.optimizer, loss)
        apply_if_finite(self.optimizer, tape, scaled, self.optimizer_variables(), loss, type(self).__name__)
        if self.discriminator is not None:
            results["discriminator_loss"] = discriminator_loss
        return self.update_trackers(results)

    def _discriminator_step(self, images, filled, predictions):
        """One update of the discriminator on real vs filled-in images;
        returns its loss. Checks that the loss and the generator's output
        are finite before updating, so a diverged step changes no weight."""
        with tf.GradientTape() as tape:
            loss = self._discriminator_loss(images, filled, training=True)
            scaled = scaled_loss(self.discriminator_optimizer, loss)
        apply_if_finite(
            self.discriminator_optimizer,
            tape,
            scaled,
            self.discriminator.trainable_variables,
            tf.stack([loss, tf.reduce_sum(tf.stop_gradient(predictions))]),
            type(self).__name__,
        )
        return loss

    # --- inpainting -----------------------------------------------------
    def inpaint(self, images, masks):
        """The images with the masked region filled in by the generator.

        Args:
            images: uint8 or float pixels `[B, H, W, C]` in [0, 255].
            masks: `[B, H, W]` or `[B, H, W, 1]`, 1 (or True) where pixels
                are removed and predicted.

        Returns:
            float32 NumPy array `[B, H, W, C]` in [0, 255]: the kept pixels
            unchanged, the removed ones predicted.
        """
        images = self.prepare_images(images)
        masks = tf.cast(tf.convert_to_tensor(masks), tf.float32)
        if masks.shape.rank == 3:
            masks = masks[..., None]
        if masks.shape.rank != 4 or tuple(masks.shape[1:3]) != tuple(images.shape[1:3]) or masks.shape[-1] != 1:
            raise ValueError(
                f"masks must be [batch, height, width] or [batch, height, width, 1] like the images "
                f"{tuple(images.shape)}, got {tuple(masks.shape)}"
            )
        _, filled = self._fill_in(images, masks, training=False)
        return keras.ops.convert_to_numpy(filled)

    # --- serialization --------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "mask": self.mask,
                "mask_fraction": self.mask_fraction,
                "overlap": self.overlap,
                "overlap_weight": self.overlap_weight,
                "reconstruction_weight": self.reconstruction_weight,
                "adversarial_weight": self.adversarial_weight,
                "fill_value": self.fill_value,
                "decoder_filters": self.decoder_filters,
                "discriminator_filters": self.discriminator_filters,
            }
        )
        return config
