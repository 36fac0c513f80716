"""The image family's base: raw pixels in, the method's own augmenter."""

import keras
import tensorflow as tf

from keras_ssl.distribute import ReplicaSeedGenerator
from keras_ssl.methods.base import Method


class ImageMethod(Method):
    """Base class of the image methods: a backbone plus a training rule.

    A subclass implements `compute_losses(batch, training)` as `Method`
    says, where `batch` is by default the checked float32 images of a
    `fit` batch; this class adds what every image method shares:

    - `call(images)` returns the backbone's representation, so `predict`
      gives embeddings; `encoder` is the backbone to export.
    - Raw, unaugmented pixels in [0, 255] (uint8 or float) come in, and the
      method makes its own views with `self.augmenter` (the method's
      `default_augmenter()` unless one is passed).
    - Bad input fails with one clear line: wrong rank or dtype, a shape
      that does not match the backbone, NaN or Inf pixels.

    Args:
        backbone: keras.Model. Encoder from raw pixels to features.
        augmenter: keras.layers.Layer. View maker (the method's default if
            None).
        seed: int. Seed of the default augmenter and of the method's random
            draws.
    """

    serialized_arguments = ("backbone", "augmenter")

    def __init__(self, backbone, augmenter=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if not isinstance(backbone, keras.Model):
            raise ValueError(
                f"backbone must be a keras.Model from images to features, got {type(backbone).__name__}: "
                "pass e.g. keras_ssl.backbones.ResNet(input_shape=...)"
            )
        self.backbone = backbone
        self.augmenter = augmenter if augmenter is not None else self.default_augmenter()
        if not self.augmenter.built:
            # Built now, so Keras never builds the model by tracing a call
            # on the structure of a training batch (under a strategy).
            self.augmenter.build((None, *self.image_shape))
        # Draws every replica shares (e.g. one draw for the global batch,
        # sliced with `replica_rows_of_global_draw`) come from the mirrored
        # `seed_generator`; per-example draws (masks, permutations, MixUp
        # weights, noise) from `replica_seed_generator`, which differs per
        # replica.
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.replica_seed_generator = ReplicaSeedGenerator(None if seed is None else seed + 7919)

    def default_augmenter(self):
        return keras.layers.Identity(name="no_augmentation")

    @classmethod
    def training_callbacks(cls, images, labels=None):
        """Callbacks `fit` needs beside the data, built from the training
        `images` (in index order) and optional true `labels` (none by
        default; DeepCluster clusters between epochs). The zoo adds them."""
        return []

    # --- contract ------------------------------------------------------
    @property
    def encoder(self):
        """The backbone that gets exported."""
        return self.backbone

    @property
    def image_shape(self):
        return tuple(self.backbone.input_shape[1:])

    def square_side(self, why=""):
        """The side of the backbone's square images; raises a one-line
        ValueError for a non-square backbone (`why` says what needs it)."""
        height, width = self.image_shape[:2]
        if height is None or height != width:
            raise ValueError(
                f"{type(self).__name__} needs square images{why}, got a backbone for {height}x{width}: crop the "
                "images to a square and build the backbone for it"
            )
        return height

    def call(self, inputs, training=False):
        return self.backbone(self.prepare_images(inputs), training=training)

    def prepare_images(self, images):
        """Checks a batch of raw images and returns it as float32 pixels."""
        images = tf.convert_to_tensor(images) if not isinstance(images, tf.Tensor) else images
        name = type(self).__name__
        if images.shape.rank != 4:
            hint = " (add a channel axis with images[..., None])" if images.shape.rank == 3 else ""
            raise ValueError(
                f"{name} expects images of shape [batch, height, width, channels], got shape "
                f"{tuple(images.shape)}{hint}"
            )
        if not (images.dtype.is_integer or images.dtype.is_floating):
            raise ValueError(f"{name} expects uint8 or float pixels in [0, 255], got dtype {images.dtype.name}")
        expected = self.image_shape
        actual = tuple(images.shape[1:])
        if any(e is not None and a is not None and e != a for e, a in zip(expected, actual)):
            raise ValueError(
                f"{name} expects images of shape [batch, {', '.join(map(str, expected))}] to match its "
                f"backbone, got {tuple(images.shape)}: resize the images or build the backbone with "
                f"input_shape={actual}"
            )
        if images.dtype.is_floating:
            images = tf.debugging.assert_all_finite(
                images, "input images contain NaN or Inf: clean the data or drop those images"
            )
        return tf.cast(images, "float32")

    def unpack_images(self, data):
        """Images from a batch of `images` or `(images, labels)`."""
        images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.prepare_images(images)

    def unpack_batch(self, data):
        """What `compute_losses` gets from a batch: checked float images by
        default; methods with other data (labels, indices) override it."""
        return self.unpack_images(data)

    # --- serialization -------------------------------------------------
    def get_config(self):
        return {
            **super().get_config(),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "augmenter": keras.saving.serialize_keras_object(self.augmenter),
        }
