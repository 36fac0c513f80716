"""The light augmentation of the semi-supervised literature."""

import keras
import tensorflow as tf

from keras_ssl.augment.resample import translate as translate_images
from keras_ssl.augment.seeded import random_transform
from keras_ssl.distribute import ReplicaSeedGenerator


@keras.saving.register_keras_serializable(package="keras_ssl")
class WeakAugmenter(keras.layers.Layer):
    """Random translation by up to `translate` pixels (edge reflection),
    optional horizontal flip and additive Gaussian noise: the stochastic
    input perturbation of the Pi-model, temporal ensembling, mean teacher
    and MixMatch (Laine & Aila 2017, Tarvainen & Valpola 2017, Berthelot
    et al. 2019). Works in pixel units, [0, 255] in and out.

    The translation is `keras.layers.RandomTranslation(fill_mode="reflect")`'s
    (a uniform shift in `[-translate, translate]` pixels per axis, bilinear),
    written as matrix products so the step compiles under XLA; every draw
    comes from a `ReplicaSeedGenerator`, so replicas of a distributed step
    draw differently.

    Args:
        image_shape: tuple. `(height, width, channels)`.
        translate: int. Largest shift in pixels (2 in the papers).
        flip: bool. Random horizontal flip.
        noise_stddev: float. Standard deviation of Gaussian noise, in
            pixels (0.15 of the [-1, 1] range, about 19, in Laine & Aila).
        seed: int.

    Example:

    >>> augmenter = WeakAugmenter((28, 28, 1), translate=2, seed=0)
    >>> augmenter(np.zeros((4, 28, 28, 1), "float32"), training=True).shape
    TensorShape([4, 28, 28, 1])
    """

    def __init__(self, image_shape, translate=2, flip=True, noise_stddev=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)
        self.translate = int(translate)
        self.flip = flip
        self.noise_stddev = float(noise_stddev)
        self.seed = seed
        self.flip_layer = keras.layers.RandomFlip("horizontal", name="flip", dtype=self.dtype_policy) if flip else None
        self.seed_generator = ReplicaSeedGenerator(seed)

    def build(self, input_shape):
        if self.flip_layer is not None:
            self.flip_layer.build(input_shape)

    def call(self, images, training=True):
        x = tf.cast(images, self.compute_dtype)
        if not training:
            return x
        if self.translate:
            shifts = keras.random.uniform(
                (tf.shape(x)[0], 2), -float(self.translate), float(self.translate), seed=self.seed_generator
            )
            x = translate_images(x, shifts)
        if self.flip_layer is not None:
            x = tf.cast(random_transform(self.flip_layer, x, self.seed_generator), x.dtype)
        if self.noise_stddev:
            x = x + keras.random.normal(tf.shape(x), stddev=self.noise_stddev, dtype=x.dtype, seed=self.seed_generator)
        return tf.clip_by_value(x, 0.0, 255.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_shape": self.image_shape,
                "translate": self.translate,
                "flip": self.flip,
                "noise_stddev": self.noise_stddev,
                "seed": self.seed,
            }
        )
        return config
