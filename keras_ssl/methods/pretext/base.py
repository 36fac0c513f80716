"""What the pretext methods on colour images share (colourisation,
split-brain): RGB in, per-pixel predictions, a flip augmenter."""

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.augment.color_space import L_TO_PIXELS, lab_to_rgb, rgb_to_lab
from keras_ssl.methods.images import ImageMethod


def prediction_size(image_shape, prediction_stride):
    """`(h, w)` of per-pixel predictions: the image size over the stride."""
    return tuple(max(1, int(s) // int(prediction_stride)) for s in image_shape[:2])


def per_pixel_logits(feature_maps, head, size, training):
    """Logits `[B, h, w, Q]` (float32) of a 1x1 `head` on `feature_maps`,
    bilinearly resized to `size` when the map has another size (a 1x1
    convolution commutes with the linear resize)."""
    logits = head(feature_maps, training=training)
    if tuple(logits.shape[1:3]) != tuple(size):
        logits = tf.image.resize(logits, size, method="bilinear")
    return tf.cast(logits, "float32")


def colorize_images(model, images, temperature=None, batch_size=256):
    """`model.colorize`: the L channel of `images` (RGB, or grey with one
    channel) with the ab that `model.ab_logits` predicts, decoded by
    `model.quantizer` and upsampled bilinearly; uint8 `[N, H, W, 3]`."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    outputs = []
    for start in range(0, len(images), batch_size):
        lab = rgb_to_lab(model.prepare_images(images[start : start + batch_size]))
        logits = model.ab_logits(lab[..., :1] * L_TO_PIXELS, training=False)
        ab = model.quantizer.decode(logits, temperature=temperature, from_logits=True)
        ab = tf.image.resize(ab, model.image_shape[:2], method="bilinear")
        rgb = lab_to_rgb(tf.concat([lab[..., :1], ab], axis=-1))
        outputs.append(np.round(rgb.numpy()).astype("uint8"))
    return np.concatenate(outputs) if outputs else np.zeros((0, *model.image_shape), "uint8")


def check_rgb(images, method):
    """Fails with one clear line unless `images` have 3 channels."""
    shape = getattr(images, "shape", None)
    if shape is not None and len(shape) == 4 and shape[-1] is not None and shape[-1] != 3:
        raise ValueError(
            f"{method} expects RGB images [batch, height, width, 3], got shape {tuple(shape)}: grey images go "
            "straight into model.backbone (1 channel), or repeat them to 3 channels"
        )


def check_backbone_channels(backbone, channels, method, role):
    if not isinstance(backbone, keras.Model):
        raise ValueError(
            f"{role} must be a keras.Model from images to features, got {type(backbone).__name__}: "
            f"pass e.g. keras_ssl.backbones.ConvNet(input_shape=(28, 28, {channels}))"
        )
    shape = tuple(backbone.input_shape[1:])
    if len(shape) != 3 or shape[-1] != channels:
        raise ValueError(
            f"{method} needs a {role} with {channels} input channel{'s' if channels > 1 else ''}, got input shape "
            f"{shape}: build it with input_shape=(height, width, {channels})"
        )


class RGBToLabMethod(ImageMethod):
    """What colourisation and split-brain share: RGB images in (the
    backbone's height and width, 3 channels), per-pixel predictions at
    1/`prediction_stride` of the image size, a horizontal-flip augmenter."""

    @property
    def image_shape(self):
        """RGB images: the backbone's height and width, 3 channels."""
        return (*tuple(self.backbone.input_shape[1:3]), 3)

    @property
    def prediction_size(self):
        return prediction_size(self.image_shape, self.prediction_stride)

    def default_augmenter(self):
        return keras.layers.RandomFlip("horizontal", seed=self.seed, name="augmenter")

    def prepare_images(self, images):
        check_rgb(images, type(self).__name__)
        return super().prepare_images(images)
