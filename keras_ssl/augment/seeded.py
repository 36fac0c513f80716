"""Keras augmentation layers driven by a seed generator the caller owns.

A Keras augmentation layer draws from its own `SeedGenerator`, whose state
is mirrored under a distribution strategy: every replica gets the same
flips and jitters. `random_transform` asks the layer for a transformation
drawn from the caller's generator (a `ReplicaSeedGenerator`, whose draws
differ per replica) and applies it, through the layers' public
`get_random_transformation` / `transform_images` API.
"""

import keras
import tensorflow as tf

from keras_ssl.distribute import ReplicaSeedGenerator


def random_transform(layer, images, seed):
    """`layer(images, training=True)` with its random draws from `seed`.

    Args:
        layer: a Keras image augmentation layer (`keras.layers.RandomFlip`,
            `RandomGrayscale`, `RandomGaussianBlur`, `RandomBrightness`, ...)
            or a `ColorJitter`; any other layer is called as it is (its
            own draws).
        images: float tensor `[B, H, W, C]`.
        seed: `keras.random.SeedGenerator` the draws come from.

    Example:

    >>> flip = keras.layers.RandomFlip("horizontal")
    >>> random_transform(flip, tf.zeros((2, 8, 8, 1)), ReplicaSeedGenerator(0)).shape
    TensorShape([2, 8, 8, 1])
    """
    if isinstance(layer, ColorJitter):
        return layer.transform_with_seed(images, seed)
    if not hasattr(layer, "get_random_transformation"):
        return layer(images, training=True)
    transformation = layer.get_random_transformation(images, training=True, seed=seed)
    return layer.transform_images(images, transformation, training=True)


@keras.saving.register_keras_serializable(package="keras_ssl")
class ColorJitter(keras.layers.Layer):
    """Random brightness, contrast, saturation and hue, in that order: the
    colour distortion of SimCLR (Chen et al. 2020), made of Keras's
    `RandomBrightness`, `RandomContrast`, `RandomSaturation` and
    `RandomHue` (what `keras.layers.RandomColorJitter` composes), with every
    draw taken from one `ReplicaSeedGenerator` (`RandomColorJitter` draws
    from generators the caller cannot replace).

    Args:
        value_range: `(low, high)` of the pixel values.
        brightness_factor, contrast_factor: float or None.
        saturation_factor: `(low, high)` or None (RGB only).
        hue_factor: float or None (RGB only).
        seed: int.

    Example:

    >>> jitter = ColorJitter((0, 255), brightness_factor=0.4, contrast_factor=0.4, seed=0)
    >>> jitter(np.full((2, 8, 8, 1), 128.0, "float32"), training=True).shape
    TensorShape([2, 8, 8, 1])
    """

    def __init__(
        self,
        value_range=(0, 255),
        brightness_factor=None,
        contrast_factor=None,
        saturation_factor=None,
        hue_factor=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.value_range = tuple(value_range)
        self.brightness_factor = brightness_factor
        self.contrast_factor = contrast_factor
        self.saturation_factor = None if saturation_factor is None else tuple(saturation_factor)
        self.hue_factor = hue_factor
        self.seed = seed
        self.seed_generator = ReplicaSeedGenerator(seed)
        self.steps = []
        if brightness_factor is not None:
            self.steps.append(keras.layers.RandomBrightness(brightness_factor, value_range=self.value_range))
        if contrast_factor is not None:
            self.steps.append(keras.layers.RandomContrast(contrast_factor, value_range=self.value_range))
        if saturation_factor is not None:
            self.steps.append(keras.layers.RandomSaturation(self.saturation_factor, value_range=self.value_range))
        if hue_factor is not None:
            self.steps.append(keras.layers.RandomHue(hue_factor, value_range=self.value_range))

    def build(self, input_shape):
        for step in self.steps:
            step.build(input_shape)

    def transform_with_seed(self, images, seed):
        x = tf.cast(images, self.compute_dtype)
        for step in self.steps:
            transformation = step.get_random_transformation(x, training=True, seed=seed)
            if isinstance(step, keras.layers.RandomContrast):
                transformation["contrast_factor"] = tf.cast(transformation["contrast_factor"], x.dtype)
            x = tf.cast(step.transform_images(x, transformation, training=True), self.compute_dtype)
        return x

    def call(self, images, training=True):
        if not training:
            return images
        return self.transform_with_seed(images, self.seed_generator)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "value_range": self.value_range,
                "brightness_factor": self.brightness_factor,
                "contrast_factor": self.contrast_factor,
                "saturation_factor": self.saturation_factor,
                "hue_factor": self.hue_factor,
                "seed": self.seed,
            }
        )
        return config
