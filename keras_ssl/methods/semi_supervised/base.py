"""The base class of the semi-supervised family."""

import keras
import tensorflow as tf

from keras_ssl.augment.weak_augmenter import WeakAugmenter
from keras_ssl.methods.images import ImageMethod


def sigmoid_rampup(step, rampup_steps):
    """`exp(-5 (1 - t)^2)` with `t = step / rampup_steps` clipped to [0, 1]:
    the ramp-up of the unsupervised weight of Laine & Aila (2017), also used
    by mean teacher and MixMatch. 1 when `rampup_steps` is 0.

    Example:

    >>> float(sigmoid_rampup(0, 100)), float(sigmoid_rampup(100, 100))
    (0.006737946999085467, 1.0)
    """
    if not rampup_steps:
        return tf.constant(1.0)
    t = tf.clip_by_value(tf.cast(step, tf.float32) / float(rampup_steps), 0.0, 1.0)
    return tf.exp(-5.0 * tf.square(1.0 - t))


class SemiSupervisedMethod(ImageMethod):
    """Base class of semi-supervised methods: a backbone, a softmax
    classifier on its features, the supervised cross-entropy on the
    labelled part and a weighted, ramped-up unsupervised term.

    Training batches are `((x_l, y_l), x_u)`: labelled images and integer
    labels, and unlabelled images; methods that keep per-example state
    (temporal ensembling) take `((x_l, y_l), (x_u, index_u))` with each
    unlabelled image's index in the unlabelled set.
    `keras_ssl.data.semi_supervised_batches` builds them. `evaluate` takes
    labelled `(x, y)` and reports `loss` (cross-entropy) and `accuracy`.
    `predict` gives the backbone's features; `classify` gives class
    probabilities (the export returns both).

    A subclass implements `unsupervised_loss(batch, training)` (a scalar, the
    mean over this replica's examples) or overrides `compute_losses` and
    builds its result with `combine_losses`. `batch` is a dict with `x_l`,
    `y_l`, `x_u` (float32 pixels, unaugmented) and `index_u` (or None).

    Args:
        backbone: keras.Model. Encoder from raw pixels to features.
        num_classes: int. Number of classes.
        unsupervised_weight: float. Largest weight of the unsupervised term.
        rampup_steps: int. Steps of the `sigmoid_rampup` of that weight (0:
            no ramp-up).
        dropout: float. Dropout rate before the classifier.
        augmenter: keras.layers.Layer. Stochastic input perturbation
            (`WeakAugmenter`: translation by 2 pixels and flip, by default).
        seed: int.
    """

    metric_names = ("loss", "supervised_loss", "unsupervised_loss", "unsupervised_weight", "accuracy")

    def __init__(
        self,
        backbone,
        num_classes,
        unsupervised_weight=1.0,
        rampup_steps=0,
        dropout=0.0,
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(backbone=backbone, augmenter=augmenter, seed=seed, **kwargs)
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        if unsupervised_weight < 0:
            raise ValueError(f"unsupervised_weight must be non-negative, got {unsupervised_weight}")
        # === Config ===
        self.num_classes = int(num_classes)
        self.unsupervised_weight = float(unsupervised_weight)
        self.rampup_steps = int(rampup_steps)
        self.dropout_rate = float(dropout)
        # === Layers ===
        self.dropout = keras.layers.Dropout(self.dropout_rate, seed=seed, name="dropout")
        self.classifier = keras.layers.Dense(self.num_classes, name="classifier")
        self.classifier.build(self.backbone.output_shape)
        self.built = True

    def default_augmenter(self):
        return WeakAugmenter(self.image_shape, seed=self.seed, name="augmenter")

    # --- forward passes ------------------------------------------------
    def logits(self, images, training=False):
        """float32 class logits of float pixel `images`."""
        features = self.backbone(images, training=training)
        return tf.cast(self.classifier(self.dropout(features, training=training)), "float32")

    def joint_logits(self, batch, training):
        """`(logits_l, logits_u)` of one augmented pass over the labelled and
        unlabelled images together, so batch norm sees both."""
        num_labelled = tf.shape(batch["x_l"])[0]
        images = self.augmenter(tf.concat([batch["x_l"], batch["x_u"]], axis=0), training=True)
        logits = self.logits(images, training=training)
        return logits[:num_labelled], logits[num_labelled:]

    def evaluation_logits(self, images):
        """Inference logits of the classifier that `evaluate`, `classify`
        and the export use (mean teacher: the teacher's)."""
        return self.logits(images, training=False)

    def classify(self, images):
        """Class probabilities of raw pixel `images` (inference mode)."""
        return tf.nn.softmax(self.evaluation_logits(self.prepare_images(images)))

    def current_unsupervised_weight(self):
        return self.unsupervised_weight * sigmoid_rampup(self.optimizer.iterations, self.rampup_steps)

    # --- losses --------------------------------------------------------
    def unsupervised_loss(self, batch, training):
        raise NotImplementedError(f"{type(self).__name__} must implement unsupervised_loss(batch, training)")

    def compute_losses(self, batch, training):
        logits_l = self.logits(self.augmenter(batch["x_l"], training=True), training=training)
        return self.combine_losses(logits_l, batch["y_l"], self.unsupervised_loss(batch, training))

    def combine_losses(self, logits_l, y_l, unsupervised, supervised=None):
        """The result dict: `loss = supervised + w(t) * unsupervised`."""
        if supervised is None:
            supervised = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_l, logits=logits_l))
        weight = self.current_unsupervised_weight()
        unsupervised = tf.cast(unsupervised, "float32")
        hits = tf.equal(tf.argmax(logits_l, axis=-1, output_type=tf.int32), y_l)
        return {
            "loss": supervised + weight * unsupervised,
            "supervised_loss": supervised,
            "unsupervised_loss": unsupervised,
            "unsupervised_weight": weight,
            "accuracy": tf.reduce_mean(tf.cast(hits, "float32")),
        }

    # --- data ----------------------------------------------------------
    def unpack_batch(self, data):
        name = type(self).__name__
        if not (
            isinstance(data, (tuple, list))
            and len(data) == 2
            and isinstance(data[0], (tuple, list))
            and len(data[0]) == 2
        ):
            raise ValueError(
                f"{name} trains on batches ((labelled_images, labels), unlabelled_images): "
                "build them with keras_ssl.data.semi_supervised_batches"
            )
        (x_l, y_l), unlabelled = data
        index_u = None
        if isinstance(unlabelled, (tuple, list)):
            unlabelled, index_u = unlabelled
        return {
            "x_l": self.prepare_images(x_l),
            "y_l": tf.cast(tf.reshape(y_l, [-1]), tf.int32),
            "x_u": self.prepare_images(unlabelled),
            "index_u": None if index_u is None else tf.cast(tf.reshape(index_u, [-1]), tf.int32),
        }

    def test_step(self, data):
        images, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        if labels is None:
            raise ValueError(f"{type(self).__name__}.evaluate needs labels: pass (images, labels)")
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        logits = self.evaluation_logits(self.prepare_images(images))
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels)
        return self.update_trackers(
            {"loss": loss, "accuracy": tf.reduce_mean(tf.cast(hits, "float32"))}, tf.shape(labels)[0]
        )

    # --- serialization -------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "unsupervised_weight": self.unsupervised_weight,
                "rampup_steps": self.rampup_steps,
                "dropout": self.dropout_rate,
            }
        )
        return config
