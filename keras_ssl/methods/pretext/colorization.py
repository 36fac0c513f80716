"""Colourisation as a pretext task."""

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.augment.ab_quantizer import ABQuantizer, ab_bin_prior, fit_ab_bins
from keras_ssl.augment.color_space import L_TO_PIXELS, lightness_pixels, rgb_to_lab
from keras_ssl.augment.resample import area_resize
from keras_ssl.backbones.stages import feature_map_model
from keras_ssl.methods.pretext.base import (
    RGBToLabMethod,
    check_backbone_channels,
    colorize_images,
    per_pixel_logits,
)

DEFAULT_NUM_BINS = 64


def class_rebalancing_weights(prior, rebalance_lambda=0.5):
    """Per-bin loss weights `w ∝ ((1 - λ) p + λ / Q)^-1`, normalised so that
    `sum_q p_q w_q = 1` (Zhang et al. 2016, eq. 4): rare (saturated)
    colours weigh more, so predictions are not washed out to grey."""
    prior = np.asarray(prior, "float64")
    if prior.ndim != 1 or np.any(prior < 0) or not np.isclose(prior.sum(), 1.0, atol=1e-3):
        raise ValueError(
            f"bin_prior must be a distribution over the bins (non-negative, summing to 1), got shape "
            f"{prior.shape} summing to {prior.sum():.4f}: compute it with keras_ssl.augment.ab_bin_prior"
        )
    if not 0 <= rebalance_lambda <= 1:
        raise ValueError(f"rebalance_lambda must be in [0, 1], got {rebalance_lambda}")
    weights = 1.0 / ((1 - rebalance_lambda) * prior + rebalance_lambda / len(prior))
    return weights / np.sum(prior * weights)


@keras.saving.register_keras_serializable(package="keras_ssl")
class Colorization(RGBToLabMethod):
    """Colourisation: predict the colours (ab) of an image from its lightness (L).

    Zhang, Isola and Efros, "Colorful Image Colorization" (ECCV 2016). Each
    RGB image is converted to CIE Lab; its L channel, scaled to [0, 255] like
    a grey pixel, goes through the 1-channel `backbone`; a 1x1 convolution on
    the backbone's last feature map classifies every pixel's ab value over
    the quantised ab bins, at 1/`prediction_stride` of the image resolution
    (1/4 as in the paper; the logits are bilinearly resized to it). The
    targets are the paper's soft encoding of the (area-downsampled) true ab
    (a Gaussian, sigma 5, over the 5 nearest bins) and the loss is the
    cross-entropy, weighted per pixel by the class-rebalancing weight of its
    nearest bin (lambda 0.5, from the smoothed bin prior `bin_prior`).
    `colorize` decodes predictions with the annealed mean (T = 0.38).

    The bins are a constructor argument (so they are saved with the model):
    the paper uses the 313 in-gamut cells of a grid of size 10; here they
    are the k-means centres of training pixels' ab values, 64 by default
    for the few bundled photos. `Colorization.arguments_from_data(images)`
    (or `fit_ab_bins` and `ab_bin_prior`) computes them.

    `fit` takes raw RGB images: a uint8 or float array `[N, H, W, 3]` in
    [0, 255], or a `tf.data.Dataset` of such batches (labels ignored).
    Reports `loss` and `accuracy` (how often the most likely bin is the
    nearest bin of the true colour).

    Inputs and outputs: `call`, `predict` and the exported `encoder` take RGB
    images `[B, H, W, 3]` and return the backbone's features of their L
    channel. `backbone` itself takes 1-channel lightness pixels: grey images
    go straight into it (a grey level g has L x 2.55 within ~10 of g), which
    is how it is probed on grey-scale data.

    Args:
        backbone: keras.Model. Encoder from 1-channel pixels in [0, 255] to
            features, with a last feature map (`ConvNet`, `ResNet`).
        bins: array-like `[Q, 2]`. ab centres of the colour classes.
        bin_prior: array-like `[Q]`. Smoothed empirical distribution of the
            bins (`ab_bin_prior`); None disables class rebalancing.
        rebalance_lambda: float. Mix of the prior with the uniform
            distribution in the rebalancing weights (0.5).
        sigma: float. Gaussian width of the soft encoding (5).
        num_neighbours: int. Bins in the soft encoding (5).
        temperature: float. Annealed-mean temperature of `colorize` (0.38).
        prediction_stride: int. Predictions at 1/stride of the image size (4).
        augmenter: keras.layers.Layer. Applied to the RGB images; a random
            horizontal flip by default.
        seed: int. Seed of the default augmenter.

    Example:

    >>> photos = keras_ssl.data.load_photos()
    >>> backbone = keras_ssl.backbones.ConvNet(input_shape=(28, 28, 1))
    >>> model = Colorization(backbone, **Colorization.arguments_from_data(photos.x_train))
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(photos.x_train, batch_size=128, epochs=5)
    >>> colours = model.colorize(photos.x_test[:8])  # uint8 [8, 28, 28, 3]
    """

    metric_names = ("loss", "accuracy")

    def __init__(
        self,
        backbone,
        bins,
        bin_prior=None,
        rebalance_lambda=0.5,
        sigma=5.0,
        num_neighbours=5,
        temperature=0.38,
        prediction_stride=4,
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        check_backbone_channels(backbone, 1, "Colorization", "backbone")
        if int(prediction_stride) < 1:
            raise ValueError(f"prediction_stride must be a positive int, got {prediction_stride}")
        super().__init__(backbone=backbone, augmenter=augmenter, seed=seed, **kwargs)
        # === Config ===
        self.quantizer = ABQuantizer(
            bins, sigma=sigma, num_neighbours=num_neighbours, temperature=temperature, name="ab_quantizer"
        )
        num_bins = self.quantizer.num_bins
        if bin_prior is not None and np.shape(bin_prior) != (num_bins,):
            raise ValueError(
                f"bin_prior must have one entry per bin ({num_bins}), got shape {np.shape(bin_prior)}: compute it "
                "with keras_ssl.augment.ab_bin_prior(images, bins)"
            )
        self.bin_prior = None if bin_prior is None else np.asarray(bin_prior, "float32")
        self.rebalance_lambda = float(rebalance_lambda)
        self.prediction_stride = int(prediction_stride)
        weights = (
            np.ones(num_bins) if bin_prior is None else class_rebalancing_weights(self.bin_prior, rebalance_lambda)
        )
        self.rebalancing_weights = weights.astype("float32")
        # === Layers ===
        self.feature_maps = feature_map_model(backbone)
        self.ab_head = keras.layers.Conv2D(num_bins, 1, name="ab_classifier")
        self.ab_head.build(self.feature_maps.output_shape)
        self.built = True

    # --- data-dependent arguments (zoo.runs calls this) ----------------
    @classmethod
    def arguments_from_data(cls, images, arguments=None, seed=None):
        """`arguments` (constructor keyword arguments, e.g. a config's
        `model` entry) completed from training RGB images: `bins` by k-means
        with `num_bins` bins (the key is popped; 64 by default) unless given,
        and the smoothed `bin_prior` of those bins unless the key is present
        (`bin_prior: None` turns class rebalancing off)."""
        arguments = dict(arguments or {})
        num_bins = arguments.pop("num_bins", DEFAULT_NUM_BINS)
        seed = 0 if seed is None else seed
        if arguments.get("bins") is None:
            arguments["bins"] = fit_ab_bins(images, num_bins=num_bins, seed=seed).tolist()
        if "bin_prior" not in arguments:
            prior = ab_bin_prior(images, arguments["bins"], sigma=arguments.get("sigma", 5.0), seed=seed)
            arguments["bin_prior"] = prior.tolist()
        return arguments

    @property
    def encoder(self):
        """RGB pixels `[B, H, W, 3]` in [0, 255] -> backbone features of L."""
        inputs = keras.Input(self.image_shape, name="images")
        lightness = keras.layers.Lambda(lightness_pixels, output_shape=(*self.image_shape[:2], 1), name="lightness")(
            inputs
        )
        return keras.Model(inputs, self.backbone(lightness), name=f"{self.name}_encoder")

    # --- forward ---------------------------------------------------------
    def call(self, inputs, training=False):
        return self.backbone(lightness_pixels(self.prepare_images(inputs)), training=training)

    def ab_logits(self, lightness, training=False):
        """Logits `[B, h, w, Q]` over the ab bins of L pixels `[B, H, W, 1]`."""
        maps = self.feature_maps(lightness, training=training)
        return per_pixel_logits(maps, self.ab_head, self.prediction_size, training)

    def compute_losses(self, images, training):
        images = self.augmenter(images, training=training)
        lab = rgb_to_lab(images)
        logits = self.ab_logits(lab[..., :1] * L_TO_PIXELS, training=training)
        ab = area_resize(lab[..., 1:], self.prediction_size)
        targets = self.quantizer.encode(ab)
        nearest = tf.argmax(targets, axis=-1, output_type=tf.int32)
        pixel_weights = tf.gather(tf.constant(self.rebalancing_weights), nearest)
        cross_entropy = -tf.reduce_sum(targets * tf.nn.log_softmax(logits), axis=-1)
        hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), nearest)
        return {
            "loss": tf.reduce_mean(pixel_weights * cross_entropy),
            "accuracy": tf.reduce_mean(tf.cast(hits, "float32")),
        }

    def colorize(self, images, temperature=None, batch_size=256):
        """Colourised images, uint8 `[N, H, W, 3]`: the L channel of
        `images` (RGB `[N, H, W, 3]`, or grey `[N, H, W, 1]`) with the
        predicted ab (annealed mean at `temperature`, the model's 0.38 by
        default), upsampled bilinearly to the full size."""
        return colorize_images(self, images, temperature, batch_size)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "bins": self.quantizer.bins.tolist(),
                "bin_prior": None if self.bin_prior is None else self.bin_prior.tolist(),
                "rebalance_lambda": self.rebalance_lambda,
                "sigma": self.quantizer.sigma,
                "num_neighbours": self.quantizer.num_neighbours,
                "temperature": self.quantizer.temperature,
                "prediction_stride": self.prediction_stride,
            }
        )
        return config
