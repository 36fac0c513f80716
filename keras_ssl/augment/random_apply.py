"""Apply a layer to a random subset of a batch."""

import keras
import tensorflow as tf

from keras_ssl.augment.seeded import random_transform
from keras_ssl.distribute import ReplicaSeedGenerator


@keras.saving.register_keras_serializable(package="keras_ssl")
class RandomApply(keras.layers.Layer):
    """Applies `layer` to each image with probability `rate`, per image.

    SimCLR applies colour jitter with probability 0.8; Keras augmentation
    layers apply always, so this wrapper picks, image by image, the
    transformed or the original. Every draw, the wrapped Keras layer's
    included, comes from the wrapper's `ReplicaSeedGenerator`, so replicas
    of a distributed step draw differently.

    Args:
        layer: keras.layers.Layer. The transformation.
        rate: float. Probability that an image is transformed.
        seed: int. Seed for the layer's `SeedGenerator`.

    Example:

    >>> jitter = RandomApply(keras.layers.RandomContrast(0.4), rate=0.8, seed=1)
    >>> jitter(np.ones((4, 8, 8, 1), "float32"), training=True).shape
    TensorShape([4, 8, 8, 1])
    """

    def __init__(self, layer, rate=0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be a probability in [0, 1], got {rate}")
        self.layer = layer
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = ReplicaSeedGenerator(seed)

    def build(self, input_shape):
        self.layer.build(input_shape)

    def call(self, images, training=True):
        if not training or self.rate == 0.0:
            return images
        transformed = tf.cast(random_transform(self.layer, images, self.seed_generator), images.dtype)
        if self.rate == 1.0:
            return transformed
        batch_size = tf.shape(images)[0]
        draw = keras.random.uniform((batch_size, 1, 1, 1), seed=self.seed_generator)
        return tf.where(draw < self.rate, transformed, images)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"layer": keras.saving.serialize_keras_object(self.layer), "rate": self.rate, "seed": self.seed})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)
