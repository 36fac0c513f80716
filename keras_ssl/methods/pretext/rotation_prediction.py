"""Rotation prediction (RotNet)."""

import keras
import tensorflow as tf

from keras_ssl.augment.rotations import NUM_ROTATIONS, all_rotations
from keras_ssl.augment.weak_augmenter import WeakAugmenter
from keras_ssl.layers.projection_head import ProjectionHead
from keras_ssl.methods.images import ImageMethod


@keras.saving.register_keras_serializable(package="keras_ssl")
class RotationPrediction(ImageMethod):
    """Rotation prediction: classify which of four rotations an image shows.

    Gidaris, Singh and Komodakis, "Unsupervised Representation Learning by
    Predicting Image Rotations" (ICLR 2018). Every image of the batch is
    augmented once and then shown in all four rotations (0, 90, 180 and 270
    degrees) in the same batch, the paper's best setting; a classifier on
    the backbone's pooled features predicts the rotation, trained with
    cross-entropy. The representation is the backbone's output (the paper
    evaluates every block with a linear probe: see
    `keras_ssl.evaluation.stage_probe_accuracies`).

    Images must be square. `fit` takes raw images: a uint8 or float array
    `[N, S, S, C]` of pixels in [0, 255], or a `tf.data.Dataset` of such
    batches; `(images, labels)` batches are accepted and the labels ignored.
    A batch of `B` images makes `4 B` backbone inputs. Reports `loss` and
    `accuracy` (rotation classification accuracy).

    Args:
        backbone: keras.Model. Encoder from raw pixels to features.
        head_hidden_dims: tuple of int. Hidden layers of the rotation
            classifier; `()` (default) is the paper's linear classifier on
            globally pooled features.
        augmenter: keras.layers.Layer. Augmentation applied before
            rotating; by default the paper's CIFAR augmentation, a random
            translation of up to 1/8 of the side (4 of 32 pixels) and a
            horizontal flip (`WeakAugmenter`). A flip before the rotation
            leaves the label right.
        seed: int. Seed of the default augmenter.

    Example:

    >>> backbone = keras_ssl.backbones.ConvNet(input_shape=(28, 28, 1))
    >>> model = RotationPrediction(backbone)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(images, batch_size=128, epochs=10)  # uint8 [N, 28, 28, 1]
    >>> embeddings = model.predict(images)
    """

    metric_names = ("loss", "accuracy")

    def __init__(self, backbone, head_hidden_dims=(), augmenter=None, seed=None, **kwargs):
        super().__init__(backbone=backbone, augmenter=augmenter, seed=seed, **kwargs)
        self.square_side(" (a 90-degree rotation must keep the shape)")
        # === Config ===
        self.head_hidden_dims = tuple(int(d) for d in head_hidden_dims or ())
        # === Layers ===
        self.classifier = ProjectionHead(
            output_dim=NUM_ROTATIONS, hidden_dims=self.head_hidden_dims, name="rotation_classifier"
        )
        self.classifier.build(self.backbone.output_shape)
        self.built = True

    def default_augmenter(self):
        side = self.image_shape[0]
        return WeakAugmenter(
            self.image_shape, translate=max(1, round(side / 8)), flip=True, seed=self.seed, name="augmenter"
        )

    def rotation_logits(self, images, training=False):
        """Logits `[4 B, 4]` and labels `[4 B]` of the four rotations of
        `images` (no augmentation), rotation-major as `all_rotations`."""
        rotated, labels = all_rotations(images)
        features = self.backbone(rotated, training=training)
        return tf.cast(self.classifier(features, training=training), "float32"), labels

    def compute_losses(self, images, training):
        views = self.augmenter(images, training=training)
        logits, labels = self.rotation_logits(views, training=training)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels)
        return {"loss": loss, "accuracy": tf.reduce_mean(tf.cast(hits, "float32"))}

    def get_config(self):
        config = super().get_config()
        config.update({"head_hidden_dims": self.head_hidden_dims})
        return config
