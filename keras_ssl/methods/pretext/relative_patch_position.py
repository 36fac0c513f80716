"""Relative patch position (context prediction)."""

import keras
import tensorflow as tf

from keras_ssl.augment.patch_pairs import NEIGHBOUR_OFFSETS, drop_channels, patch_layout, sample_patch_pairs
from keras_ssl.layers.projection_head import ProjectionHead
from keras_ssl.methods.images import ImageMethod


@keras.saving.register_keras_serializable(package="keras_ssl")
class RelativePatchPosition(ImageMethod):
    """Relative patch position: say where a neighbour patch sits around a centre patch.

    Doersch, Gupta and Efros, "Unsupervised Visual Representation Learning
    by Context Prediction" (ICCV 2015). From each image a centre patch and
    one of its 8 neighbours in a 3x3 grid are cut, with gaps between the
    patches and a random jitter of each patch (`sample_patch_pairs`), so
    that continuing edges and textures give no shortcut. A weight-tied
    two-stream network with late fusion classifies the neighbour's position
    (8 ways, labels in `keras_ssl.augment.patch_pairs.NEIGHBOUR_OFFSETS`
    order): the backbone embeds both patches, their features are
    concatenated and an MLP head gives the logits. Cross-entropy loss.

    Against chromatic aberration (the position of a patch in the lens field
    shows in its colour fringes) the paper drops, per patch, all colour
    channels but one and replaces them with faint Gaussian noise;
    `channel_dropping` does this for colour inputs. For one-channel images
    it is a no-op: there is no colour to drop and nothing is added instead.

    The defaults scale the paper's 96-px patches, 48-px gaps and 7-px jitter
    to the image: a quarter of the side for the patch, 7/96 of the patch
    for the jitter (at least 1 px) and the widest gap that fits (7, 2 and
    1 px on 28x28 images; `patch_layout`). Each patch is resized to the
    backbone's input size, so the same backbone encodes whole images
    afterwards (`call`, `encoder` and the per-stage probes); a batch of `B`
    images makes `2 B` backbone inputs.

    Images must be square. `fit` takes raw images: a uint8 or float array
    `[N, S, S, C]` of pixels in [0, 255], or a `tf.data.Dataset` of such
    batches; `(images, labels)` batches are accepted and the labels ignored.
    Reports `loss` and `accuracy` (position classification accuracy).

    Args:
        backbone: keras.Model. Encoder from raw pixels to features, shared
            by both streams.
        patch_size: int. Side of the patches in pixels (default above).
        gap: int. Pixels between neighbouring patches before jitter.
        jitter: int. Largest shift of each patch along each axis.
        channel_dropping: bool. The paper's colour dropping (colour inputs).
        head_hidden_dims: tuple of int. Hidden layers of the head on the
            concatenated pair (the paper's fc7 and fc8 of 4096 units, scaled
            down to one of 512).
        augmenter: keras.layers.Layer. Applied to the whole image before
            the patches are cut (none by default; the random grid position
            and jitter are the paper's).
        seed: int. Seed of the patch sampling.

    Example:

    >>> backbone = keras_ssl.backbones.ConvNet(input_shape=(28, 28, 1))
    >>> model = RelativePatchPosition(backbone)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(images, batch_size=128, epochs=10)  # uint8 [N, 28, 28, 1]
    >>> embeddings = model.predict(images)
    """

    metric_names = ("loss", "accuracy")

    def __init__(
        self,
        backbone,
        patch_size=None,
        gap=None,
        jitter=None,
        channel_dropping=True,
        head_hidden_dims=(512,),
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(backbone=backbone, augmenter=augmenter, seed=seed, **kwargs)
        height = self.square_side()
        # === Config ===
        self.patch_size, self.gap, self.jitter = patch_layout(height, patch_size, gap, jitter)
        self.channel_dropping = bool(channel_dropping)
        self.head_hidden_dims = tuple(int(d) for d in head_hidden_dims or ())
        # === Layers ===
        self.classifier = ProjectionHead(
            output_dim=len(NEIGHBOUR_OFFSETS), hidden_dims=self.head_hidden_dims, name="position_classifier"
        )
        self.classifier.build((None, 2 * self.backbone.output_shape[-1]))
        self.built = True

    def patch_pairs(self, images, training=False):
        """Centre and neighbour patches `[B, H, W, C]` (resized to the
        backbone's input, channels dropped if enabled) and labels `[B]`."""
        centre, neighbour, labels = sample_patch_pairs(
            images,
            self.patch_size,
            self.gap,
            self.jitter,
            output_size=self.image_shape[0],
            seed=self.replica_seed_generator,
            training=training,
        )
        if self.channel_dropping:
            centre = drop_channels(centre, seed=self.replica_seed_generator)
            neighbour = drop_channels(neighbour, seed=self.replica_seed_generator)
        return centre, neighbour, labels

    def position_logits(self, centre, neighbour, training=False):
        """Logits `[B, 8]` of the neighbour's position around the centre."""
        # Weight-tied streams: one backbone pass over both patches.
        features = self.backbone(tf.concat([centre, neighbour], axis=0), training=training)
        centre_features, neighbour_features = tf.split(features, 2, axis=0)
        fused = tf.concat([centre_features, neighbour_features], axis=-1)
        return tf.cast(self.classifier(fused, training=training), "float32")

    def compute_losses(self, images, training):
        views = self.augmenter(images, training=training)
        centre, neighbour, labels = self.patch_pairs(views, training=training)
        logits = self.position_logits(centre, neighbour, training=training)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels)
        return {"loss": loss, "accuracy": tf.reduce_mean(tf.cast(hits, "float32"))}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "patch_size": self.patch_size,
                "gap": self.gap,
                "jitter": self.jitter,
                "channel_dropping": self.channel_dropping,
                "head_hidden_dims": self.head_hidden_dims,
            }
        )
        return config
