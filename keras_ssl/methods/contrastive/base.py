"""The contrastive family's base: augmented views, a projection head and the
accuracy of picking the positive."""

import keras
import tensorflow as tf

from keras_ssl.layers.memory_bank import checked_indices
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

    # Whether a batch of views made in the input pipeline can replace the
    # step's own (`keras_ssl.data.with_pipeline_views`): methods whose
    # batches are plain images, not (images, indices).
    takes_pipeline_views = False

    def views(self, images, count=2):
        """`count` independent random views of `images` (the augmenter in
        training mode: each call draws new parameters), or, for a batch
        `[B, count, H, W, C]` of views made in the input pipeline
        (`keras_ssl.data.with_pipeline_views`), those views."""
        if images.shape.rank == 5:
            if images.shape[1] != count:
                raise ValueError(
                    f"{type(self).__name__} takes {count} views per image, got batches of {images.shape[1]}: "
                    f"use with_pipeline_views(dataset, augmenter, count={count})"
                )
            return tf.unstack(images, axis=1)
        return [self.augmenter(images, training=True) for _ in range(count)]

    def unpack_images(self, data):
        """Checked float images from a batch of `images` or `(images,
        labels)`, or views `[B, count, H, W, C]` from a batch `{"views":
        ...}` made in the input pipeline."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, dict) and "views" in x:
            views = tf.convert_to_tensor(x["views"])
            if views.shape.rank != 5:
                raise ValueError(
                    f"{type(self).__name__}: pipeline views must be [batch, views, height, width, channels], got "
                    f"shape {tuple(views.shape)}: make them with keras_ssl.data.with_pipeline_views"
                )
            return tf.cast(views, "float32")
        return super().unpack_images(data)

    def build_projection_head(
        self, output_dim, hidden_dims=None, synchronized_batch_norm=False, name="projection_head"
    ):
        """A `ProjectionHead` built on the backbone's output."""
        head = ProjectionHead(
            output_dim=output_dim, hidden_dims=hidden_dims, synchronized_batch_norm=synchronized_batch_norm, name=name
        )
        head.build(self.backbone.output_shape)
        return head

    # --- per-image state ------------------------------------------------
    def unpack_indexed_batch(self, data):
        """`{"images", "indices"}` from a batch of `(images, indices)`, for
        methods that keep one row of state per training image (a memory
        bank, a target, a cluster): checked float images and each image's
        int32 index in `[0, self.num_examples)`. Missing, non-integer,
        wrongly shaped or (when the batch runs) out-of-range indices fail
        with one line saying how to fix them."""
        name = type(self).__name__
        images, indices, _ = keras.utils.unpack_x_y_sample_weight(data)
        if indices is None:
            raise ValueError(
                f"{name} needs each image's index: fit on (images, indices) batches, e.g. "
                "keras_ssl.data.image_batches(x, batch_size, labels=np.arange(len(x)))"
            )
        indices = tf.convert_to_tensor(indices)
        if not indices.dtype.is_integer:
            raise ValueError(
                f"{name} takes int indices in [0, num_examples={self.num_examples}), got dtype {indices.dtype.name}"
            )
        rank = indices.shape.rank
        if rank is not None and not (rank == 1 or (rank == 2 and indices.shape[1] == 1)):
            raise ValueError(f"{name} takes indices of shape [batch], got shape {tuple(indices.shape)}")
        images = self.prepare_images(images)
        if images.shape[0] is not None and indices.shape[0] is not None and images.shape[0] != indices.shape[0]:
            raise ValueError(f"{name} got {images.shape[0]} images but {indices.shape[0]} indices")
        message = (
            f"{name} indices must be in [0, num_examples={self.num_examples}): build the model with the size of "
            "the training set and index it from 0"
        )
        indices = checked_indices(tf.reshape(indices, [-1]), self.num_examples, message)
        return {"images": images, "indices": indices}
