"""The base class every method builds on."""

import keras
import tensorflow as tf

from keras_ssl.distribute import is_multi_worker
from keras_ssl.methods.steps import apply_if_finite, scaled_loss


class Method(keras.Model):
    """Base class of self-supervised methods: a backbone plus a training rule.

    A subclass implements `compute_losses(batch, training)`, returning a
    dict whose `"loss"` entry is the scalar to minimise (mean over this
    replica's examples) and whose other entries are scalars to report; and
    names those entries in `metric_names`. This class supplies the rest of
    the contract of DESIGN.md:

    - `call(images)` returns the backbone's representation, so `predict`
      gives embeddings; `encoder` is the backbone to export.
    - `train_step` scales the loss for the optimizer (mixed precision) and
      for the number of replicas (gradients are summed across replicas), so
      one global batch gives the same update on 1 or N replicas;
      `test_step` computes the same losses without updates.
    - Bad input fails with one clear line: wrong rank or dtype, a shape
      that does not match the backbone, NaN or Inf pixels, a non-finite
      loss. A step with a non-finite loss raises before any update.

    Subclasses get raw, unaugmented pixels in [0, 255] (uint8 or float) and
    make their own views with `self.augmenter`.

    Args:
        backbone: keras.Model. Encoder from raw pixels to features.
        augmenter: keras.layers.Layer. View maker (the method's default if
            None).
        seed: int. Seed of the default augmenter and of the method's random
            draws.
    """

    metric_names = ("loss",)

    def __init__(self, backbone, augmenter=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(backbone, keras.Model):
            raise ValueError(
                f"backbone must be a keras.Model from images to features, got {type(backbone).__name__}: "
                "pass e.g. keras_ssl.backbones.ResNet(input_shape=...)"
            )
        self.backbone = backbone
        self.seed = seed
        self.augmenter = augmenter if augmenter is not None else self.default_augmenter()
        if not self.augmenter.built:
            # Built now, so Keras never builds the model by tracing a call
            # on the structure of a training batch (under a strategy).
            self.augmenter.build((None, *self.image_shape))
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.metric_names}

    # --- to override ---------------------------------------------------
    def default_augmenter(self):
        return keras.layers.Identity(name="no_augmentation")

    def compute_losses(self, batch, training):
        raise NotImplementedError(f"{type(self).__name__} must implement compute_losses(batch, training)")

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

    @property
    def metrics(self):
        return list(self.trackers.values())

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

    def after_update(self, batch):
        """Runs after each optimizer step (EMA teachers, memory banks)."""

    def train_step(self, data):
        batch = self.unpack_batch(data)
        with tf.GradientTape() as tape:
            results = self.compute_losses(batch, training=True)
            loss = tf.cast(results["loss"], "float32")
            scaled = scaled_loss(self.optimizer, loss)
        apply_if_finite(self.optimizer, tape, scaled, self.trainable_variables, loss, type(self).__name__)
        self.after_update(batch)
        return self.update_trackers(results)

    def test_step(self, data):
        batch = self.unpack_batch(data)
        images = batch["x_l"] if isinstance(batch, dict) else batch
        return self.update_trackers(self.compute_losses(batch, training=False), batch_size=tf.shape(images)[0])

    def update_trackers(self, results, batch_size=None):
        """Updates the `Mean` trackers; `batch_size` weights a batch's means
        (a short last batch of `evaluate` then counts for what it holds)."""
        weight = None if batch_size is None else tf.cast(batch_size, "float32")
        for name, tracker in self.trackers.items():
            if name in results:
                tracker.update_state(results[name], sample_weight=weight)
        logs = {name: tracker.result() for name, tracker in self.trackers.items() if name in results}
        if is_multi_worker(self.distribute_strategy):
            # Keras averages logs over workers along axis 0, which scalars
            # lack (tensorflow#72388): give it shape [1]; it returns scalars.
            logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
        return logs

    # --- serialization -------------------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "augmenter": keras.saving.serialize_keras_object(self.augmenter),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        if config.get("augmenter") is not None:
            config["augmenter"] = keras.saving.deserialize_keras_object(config["augmenter"])
        return cls(**config)
