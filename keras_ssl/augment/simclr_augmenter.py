"""SimCLR's stochastic view maker."""

import keras
import tensorflow as tf

from keras_ssl.augment.random_apply import RandomApply
from keras_ssl.augment.random_resized_crop import RandomResizedCrop
from keras_ssl.augment.seeded import ColorJitter, random_transform
from keras_ssl.distribute import ReplicaSeedGenerator


@keras.saving.register_keras_serializable(package="keras_ssl")
class SimCLRAugmenter(keras.layers.Layer):
    """Makes one random view of each image, as in SimCLR (Chen et al. 2020).

    Random resized crop, horizontal flip, colour jitter with probability
    `jitter_rate` (brightness, contrast, saturation, hue with strength `s`;
    brightness and contrast only for grey-scale), random greyscale (RGB only)
    and optional Gaussian blur, all from `keras.layers` augmentation layers
    except the crop. Works in pixel units: inputs and outputs in [0, 255].
    Call it twice on the same batch to get two views. Every draw comes from
    `ReplicaSeedGenerator`s, so each replica of a distributed step makes its
    own views, and every step compiles under XLA.

    Args:
        image_shape: tuple. `(height, width, channels)` of the images.
        crop_scale: tuple of float. Area range of the random crop
            (0.08-1.0 in the paper; 0.2-1.0 suits 28x28 and 32x32 images).
        flip: bool. Random horizontal flip.
        jitter_strength: float. Colour jitter strength `s` (0.5 for CIFAR-10
            in the paper): brightness, contrast and saturation `0.8 s`,
            hue `0.2 s`.
        jitter_rate: float. Probability of colour jitter.
        grayscale_rate: float. Probability of greyscale (RGB only).
        blur_rate: float. Probability of Gaussian blur (the paper blurs on
            ImageNet, not on CIFAR-10).
        seed: int. Seed of the random draws.

    Example:

    >>> augmenter = SimCLRAugmenter(image_shape=(28, 28, 1), seed=0)
    >>> view = augmenter(np.zeros((4, 28, 28, 1), "float32"), training=True)
    """

    def __init__(
        self,
        image_shape,
        crop_scale=(0.2, 1.0),
        flip=True,
        jitter_strength=0.5,
        jitter_rate=0.8,
        grayscale_rate=0.2,
        blur_rate=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)
        if len(self.image_shape) != 3 or self.image_shape[-1] not in (1, 3):
            raise ValueError(f"image_shape must be (height, width, 1 or 3), got {image_shape!r}")
        self.crop_scale = tuple(crop_scale)
        self.flip = flip
        self.jitter_strength = float(jitter_strength)
        self.jitter_rate = float(jitter_rate)
        self.grayscale_rate = float(grayscale_rate)
        self.blur_rate = float(blur_rate)
        self.seed = seed

        height, width, channels = self.image_shape
        rgb = channels == 3
        s = self.jitter_strength

        def seeded(offset):
            return None if seed is None else seed + offset

        self.steps = [RandomResizedCrop(height, width, scale=self.crop_scale, seed=seeded(1), name="crop")]
        if flip:
            self.steps.append(keras.layers.RandomFlip("horizontal", seed=seeded(2), name="flip"))
        if s > 0 and self.jitter_rate > 0:
            jitter = ColorJitter(
                value_range=(0, 255),
                brightness_factor=0.8 * s,
                contrast_factor=0.8 * s,
                saturation_factor=(0.5 - 0.4 * s, 0.5 + 0.4 * s) if rgb else None,
                hue_factor=0.2 * s if rgb else None,
                seed=seeded(3),
                name="color_jitter",
                dtype=self.dtype_policy,
            )
            self.steps.append(RandomApply(jitter, rate=self.jitter_rate, seed=seeded(4), name="maybe_jitter"))
        if rgb and self.grayscale_rate > 0:
            self.steps.append(
                keras.layers.RandomGrayscale(factor=self.grayscale_rate, seed=seeded(5), name="grayscale")
            )
        if self.blur_rate > 0:
            blur = keras.layers.RandomGaussianBlur(
                factor=1.0,
                kernel_size=max(3, (height // 10) | 1),
                sigma=(0.1, 2.0),
                value_range=(0, 255),
                seed=seeded(6),
                name="blur",
            )
            self.steps.append(RandomApply(blur, rate=self.blur_rate, seed=seeded(7), name="maybe_blur"))

        # Draws of the Keras layers (flip, greyscale); the crop and the
        # random-apply wrappers draw from their own.
        self.seed_generator = ReplicaSeedGenerator(seeded(8))

    def build(self, input_shape):
        shape = tuple(input_shape)
        for step in self.steps:
            step.build(shape)
            shape = step.compute_output_shape(shape)

    def call(self, images, training=True):
        x = tf.cast(images, self.compute_dtype)
        if not training:
            return x
        for step in self.steps:
            # The crop and the random-apply wrappers draw from their own
            # generators (random_transform calls them as they are).
            x = tf.cast(random_transform(step, x, self.seed_generator), self.compute_dtype)
        return tf.clip_by_value(x, 0.0, 255.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_shape": self.image_shape,
                "crop_scale": self.crop_scale,
                "flip": self.flip,
                "jitter_strength": self.jitter_strength,
                "jitter_rate": self.jitter_rate,
                "grayscale_rate": self.grayscale_rate,
                "blur_rate": self.blur_rate,
                "seed": self.seed,
            }
        )
        return config
