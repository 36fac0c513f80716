"""Random resized crop, the main SimCLR augmentation."""

import keras
import tensorflow as tf

from keras_ssl.augment.resample import crop_and_resize
from keras_ssl.distribute import ReplicaSeedGenerator


@keras.saving.register_keras_serializable(package="keras_ssl")
class RandomResizedCrop(keras.layers.Layer):
    """Crops a random area and aspect ratio of each image and resizes it back.

    Inception-style crop (Szegedy et al. 2015) as used by SimCLR: the crop
    covers a uniform fraction in `scale` of the image area with a
    log-uniform aspect ratio in `ratio`, then is resized bilinearly to
    `(height, width)`. Each image gets its own crop, and each replica of a
    distributed step its own draws (`ReplicaSeedGenerator`). The crop is
    bilinear sampling written as matrix products, so the layer compiles
    under XLA (`tf.image.crop_and_resize` does not). At inference the layer
    returns its input resized to `(height, width)`.

    Args:
        height: int. Output height.
        width: int. Output width.
        scale: tuple of float. Range of the crop's share of the image area.
        ratio: tuple of float. Range of the crop's aspect ratio (w / h).
        seed: int. Seed for the layer's `SeedGenerator`.

    Example:

    >>> crop = RandomResizedCrop(28, 28, scale=(0.2, 1.0), seed=1)
    >>> crop(np.zeros((4, 28, 28, 1), "float32"), training=True).shape
    TensorShape([4, 28, 28, 1])
    """

    def __init__(self, height, width, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0), seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f"scale must satisfy 0 < min <= max <= 1, got {scale}")
        if not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"ratio must satisfy 0 < min <= max, got {ratio}")
        self.height = int(height)
        self.width = int(width)
        self.scale = tuple(float(s) for s in scale)
        self.ratio = tuple(float(r) for r in ratio)
        self.seed = seed
        self.seed_generator = ReplicaSeedGenerator(seed)

    def crop_boxes(self, batch_size):
        """Samples normalised `[y1, x1, y2, x2]` boxes, one per image."""
        shape = (batch_size,)
        area = keras.random.uniform(shape, self.scale[0], self.scale[1], seed=self.seed_generator)
        log_ratio = keras.random.uniform(
            shape, tf.math.log(self.ratio[0]), tf.math.log(self.ratio[1]), seed=self.seed_generator
        )
        aspect = tf.exp(log_ratio)
        # Fractions of the side lengths; clipped so the box fits the image.
        box_w = tf.minimum(tf.sqrt(area * aspect), 1.0)
        box_h = tf.minimum(tf.sqrt(area / aspect), 1.0)
        y1 = keras.random.uniform(shape, seed=self.seed_generator) * (1.0 - box_h)
        x1 = keras.random.uniform(shape, seed=self.seed_generator) * (1.0 - box_w)
        return tf.stack([y1, x1, y1 + box_h, x1 + box_w], axis=1)

    def call(self, images, training=True):
        images = tf.cast(images, self.compute_dtype)
        if not training:
            return tf.image.resize(images, (self.height, self.width))
        batch_size = tf.shape(images)[0]
        boxes = self.crop_boxes(batch_size)
        return crop_and_resize(images, boxes, (self.height, self.width))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {"height": self.height, "width": self.width, "scale": self.scale, "ratio": self.ratio, "seed": self.seed}
        )
        return config
