"""The contrastive family's base: augmented views, a projection head and the
accuracy of picking the positive."""

import tensorflow as tf

from keras_ssl.layers.projection_head import ProjectionHead
from keras_ssl.methods.images import ImageMethod


def contrast_accuracy(logits, labels):
    """How often the positive (`labels`, int `[B]`) has the largest of the
    `logits` `[B, candidates]`: the accuracy of the instance task."""
    hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), tf.cast(labels, tf.int32))
    return tf.reduce_mean(tf.cast(hits, "float32"))


class ContrastiveMethod(ImageMethod):
    """Base class of the contrastive methods: an image method that compares
    random views of its images through a projection head.

    `views(images, count)` draws `count` independent augmentations of a
    batch with the method's augmenter; `build_projection_head` makes the
    MLP head the methods put after the backbone (its output is what the
    loss compares; the representation is the backbone's output before it).
    """

    def views(self, images, count=2):
        """`count` independent random views of `images` (the augmenter in
        training mode: each call draws new parameters)."""
        return [self.augmenter(images, training=True) for _ in range(count)]

    def build_projection_head(
        self, output_dim, hidden_dims=None, synchronized_batch_norm=False, name="projection_head"
    ):
        """A `ProjectionHead` built on the backbone's output."""
        head = ProjectionHead(
            output_dim=output_dim, hidden_dims=hidden_dims, synchronized_batch_norm=synchronized_batch_norm, name=name
        )
        head.build(self.backbone.output_shape)
        return head
