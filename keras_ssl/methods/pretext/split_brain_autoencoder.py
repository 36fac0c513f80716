"""Split-brain autoencoder: cross-channel prediction."""

import keras
import tensorflow as tf

from keras_ssl.augment.ab_quantizer import ABQuantizer, fit_ab_bins
from keras_ssl.augment.color_space import (
    AB_PIXEL_OFFSET,
    L_TO_PIXELS,
    ab_pixels,
    lightness_pixels,
    rgb_to_lab,
)
from keras_ssl.augment.resample import area_resize
from keras_ssl.backbones.stages import feature_map_model
from keras_ssl.methods.pretext.base import RGBToLabMethod, check_backbone_channels, colorize_images, per_pixel_logits
from keras_ssl.methods.pretext.colorization import DEFAULT_NUM_BINS


def lightness_bins(lightness, num_bins):
    """Index `[...]` (int32) of L values in [0, 100] among `num_bins` equal
    bins of [0, 100]."""
    index = tf.floor(tf.cast(lightness, "float32") * (num_bins / 100.0))
    return tf.cast(tf.clip_by_value(index, 0, num_bins - 1), "int32")


@keras.saving.register_keras_serializable(package="keras_ssl")
class SplitBrainAutoencoder(RGBToLabMethod):
    """Split-brain autoencoder: two sub-networks predict each other's colour channels.

    Zhang, Isola and Efros, "Split-Brain Autoencoders: Unsupervised Learning
    by Cross-Channel Prediction" (CVPR 2017). An RGB image is converted to
    CIE Lab and split in two: the `backbone` sees the L channel (scaled to
    [0, 255] like a grey pixel) and classifies every pixel's ab value over
    the quantised ab bins; `ab_backbone` sees the ab channels (shifted by
    128 into about [0, 255]) and classifies every pixel's L over
    `num_lightness_bins` equal bins of [0, 100]. Both use the paper's
    classification loss (cross-entropy with the nearest bin as the target,
    no rebalancing), predicting at 1/`prediction_stride` of the image size
    from a 1x1 convolution on the sub-network's last feature map; the loss
    is their sum. The representation is the concatenation of both
    sub-networks' features.

    The paper splits one network's channels in halves; here each
    sub-network is a whole backbone (by default `ab_backbone` is
    `backbone`'s architecture with 2 input channels), so `backbone` alone
    is comparable with other methods' backbones. The ab bins are k-means
    centres of training pixels (`fit_ab_bins`; the paper: 313 grid cells of
    size 10), the L bins 50 as in the paper's cross-channel classifiers.

    `fit` takes raw RGB images: a uint8 or float array `[N, H, W, 3]` in
    [0, 255], or a `tf.data.Dataset` of such batches (labels ignored).
    Reports `loss`, `ab_loss`, `lightness_loss`, `ab_accuracy` and
    `lightness_accuracy`.

    Inputs and outputs: `call`, `predict` and the exported `encoder` take RGB
    images `[B, H, W, 3]` and return the concatenated features. `backbone`
    (the L -> ab network) takes 1-channel pixels: grey images go straight
    into it, which is how it is probed on grey-scale data.

    Args:
        backbone: keras.Model. The L -> ab network: 1-channel pixels in
            [0, 255] to features, with a last feature map (`ConvNet`,
            `ResNet`).
        bins: array-like `[Q, 2]`. ab centres of the colour classes.
        ab_backbone: keras.Model. The ab -> L network (2 input channels);
            `backbone`'s architecture rebuilt for 2 channels if None.
        num_lightness_bins: int. Classes of L (50).
        prediction_stride: int. Predictions at 1/stride of the image size (4).
        temperature: float. Annealed-mean temperature of `colorize` (0.38).
        augmenter: keras.layers.Layer. Applied to the RGB images; a random
            horizontal flip by default.
        seed: int. Seed of the default augmenter.

    Example:

    >>> photos = keras_ssl.data.load_photos()
    >>> backbone = keras_ssl.backbones.ConvNet(input_shape=(28, 28, 1))
    >>> model = SplitBrainAutoencoder(backbone, bins=keras_ssl.augment.fit_ab_bins(photos.x_train))
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(photos.x_train, batch_size=128, epochs=5)
    >>> features = model.predict(photos.x_test)  # L and ab features side by side
    """

    metric_names = ("loss", "ab_loss", "lightness_loss", "ab_accuracy", "lightness_accuracy")

    def __init__(
        self,
        backbone,
        bins,
        ab_backbone=None,
        num_lightness_bins=50,
        prediction_stride=4,
        temperature=0.38,
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        check_backbone_channels(backbone, 1, "SplitBrainAutoencoder", "backbone")
        if ab_backbone is None:
            ab_backbone = self._ab_backbone_like(backbone)
        check_backbone_channels(ab_backbone, 2, "SplitBrainAutoencoder", "ab_backbone")
        if tuple(ab_backbone.input_shape[1:3]) != tuple(backbone.input_shape[1:3]):
            raise ValueError(
                f"ab_backbone takes images of size {tuple(ab_backbone.input_shape[1:3])} but backbone "
                f"{tuple(backbone.input_shape[1:3])}: build both for the same height and width"
            )
        if int(num_lightness_bins) < 2:
            raise ValueError(f"num_lightness_bins must be at least 2, got {num_lightness_bins}")
        if int(prediction_stride) < 1:
            raise ValueError(f"prediction_stride must be a positive int, got {prediction_stride}")
        super().__init__(backbone=backbone, augmenter=augmenter, seed=seed, **kwargs)
        # === Config ===
        self.ab_backbone = ab_backbone
        self.quantizer = ABQuantizer(bins, temperature=temperature, name="ab_quantizer")
        self.num_lightness_bins = int(num_lightness_bins)
        self.prediction_stride = int(prediction_stride)
        # === Layers ===
        self.feature_maps = feature_map_model(backbone)
        self.ab_feature_maps = feature_map_model(ab_backbone)
        self.ab_head = keras.layers.Conv2D(self.quantizer.num_bins, 1, name="ab_classifier")
        self.ab_head.build(self.feature_maps.output_shape)
        self.lightness_head = keras.layers.Conv2D(self.num_lightness_bins, 1, name="lightness_classifier")
        self.lightness_head.build(self.ab_feature_maps.output_shape)
        self.built = True

    @staticmethod
    def _ab_backbone_like(backbone):
        config = backbone.get_config()
        if not isinstance(backbone, keras.Model) or "input_shape" not in config:
            raise ValueError(
                "SplitBrainAutoencoder cannot rebuild backbone for 2 channels (its config has no input_shape): "
                "pass ab_backbone, e.g. keras_ssl.backbones.ConvNet(input_shape=(28, 28, 2))"
            )
        height, width = tuple(config["input_shape"])[:2]
        config = {**config, "input_shape": (height, width, 2), "name": f"{backbone.name}_ab"}
        return type(backbone).from_config(config)

    @classmethod
    def arguments_from_data(cls, images, arguments=None, seed=None):
        """`arguments` (constructor keyword arguments, e.g. a config's
        `model` entry) completed from training RGB images: `bins` by k-means
        with `num_bins` bins (the key is popped; 64 by default) unless given."""
        arguments = dict(arguments or {})
        num_bins = arguments.pop("num_bins", DEFAULT_NUM_BINS)
        if arguments.get("bins") is None:
            arguments["bins"] = fit_ab_bins(images, num_bins=num_bins, seed=0 if seed is None else seed).tolist()
        return arguments

    @property
    def encoder(self):
        """RGB pixels `[B, H, W, 3]` in [0, 255] -> both sub-networks'
        features, concatenated (L features first)."""
        height, width = self.image_shape[:2]
        inputs = keras.Input(self.image_shape, name="images")
        lightness = keras.layers.Lambda(lightness_pixels, output_shape=(height, width, 1), name="lightness")(inputs)
        ab = keras.layers.Lambda(ab_pixels, output_shape=(height, width, 2), name="ab")(inputs)
        features = keras.layers.Concatenate(name="features")([self.backbone(lightness), self.ab_backbone(ab)])
        return keras.Model(inputs, features, name=f"{self.name}_encoder")

    # --- forward ---------------------------------------------------------
    def call(self, inputs, training=False):
        lab = rgb_to_lab(self.prepare_images(inputs))
        return tf.concat(
            [
                self.backbone(lab[..., :1] * L_TO_PIXELS, training=training),
                self.ab_backbone(lab[..., 1:] + AB_PIXEL_OFFSET, training=training),
            ],
            axis=-1,
        )

    def ab_logits(self, lightness, training=False):
        """Logits `[B, h, w, Q]` over the ab bins of L pixels `[B, H, W, 1]`."""
        maps = self.feature_maps(lightness, training=training)
        return per_pixel_logits(maps, self.ab_head, self.prediction_size, training)

    def lightness_logits(self, ab, training=False):
        """Logits `[B, h, w, num_lightness_bins]` of ab pixels `[B, H, W, 2]`
        (ab + 128)."""
        maps = self.ab_feature_maps(ab, training=training)
        return per_pixel_logits(maps, self.lightness_head, self.prediction_size, training)

    def compute_losses(self, images, training):
        images = self.augmenter(images, training=training)
        lab = rgb_to_lab(images)
        ab_logits = self.ab_logits(lab[..., :1] * L_TO_PIXELS, training=training)
        lightness_logits = self.lightness_logits(lab[..., 1:] + AB_PIXEL_OFFSET, training=training)
        small = area_resize(lab, self.prediction_size)
        ab_labels = self.quantizer.nearest(small[..., 1:])
        lightness_labels = lightness_bins(small[..., 0], self.num_lightness_bins)
        results = {}
        for name, logits, labels in (("ab", ab_logits, ab_labels), ("lightness", lightness_logits, lightness_labels)):
            results[f"{name}_loss"] = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
            )
            hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels)
            results[f"{name}_accuracy"] = tf.reduce_mean(tf.cast(hits, "float32"))
        results["loss"] = results["ab_loss"] + results["lightness_loss"]
        return results

    def colorize(self, images, temperature=None, batch_size=256):
        """Colourised images, uint8 `[N, H, W, 3]`, by the L -> ab network
        (annealed mean at `temperature`, 0.38 by default); `images` RGB
        `[N, H, W, 3]` or grey `[N, H, W, 1]`."""
        return colorize_images(self, images, temperature, batch_size)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "bins": self.quantizer.bins.tolist(),
                "ab_backbone": keras.saving.serialize_keras_object(self.ab_backbone),
                "num_lightness_bins": self.num_lightness_bins,
                "prediction_stride": self.prediction_stride,
                "temperature": self.quantizer.temperature,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("ab_backbone"), dict):
            config["ab_backbone"] = keras.saving.deserialize_keras_object(config["ab_backbone"])
        return super().from_config(config)
