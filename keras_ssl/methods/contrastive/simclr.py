"""SimCLR."""

import keras
import tensorflow as tf

from keras_ssl.augment.simclr_augmenter import SimCLRAugmenter
from keras_ssl.losses.nt_xent import nt_xent
from keras_ssl.methods.contrastive.base import ContrastiveMethod, contrast_accuracy


@keras.saving.register_keras_serializable(package="keras_ssl")
class SimCLR(ContrastiveMethod):
    """SimCLR: contrastive learning of two augmented views.

    Chen, Kornblith, Norouzi and Hinton, "A Simple Framework for Contrastive
    Learning of Visual Representations" (ICML 2020). Each image gets two
    random views (crop, flip, colour jitter, greyscale); both go through the
    backbone in one batch and an MLP projection head; the NT-Xent loss pulls
    the two views of an image together against every other view in the
    global batch (gathered across replicas). The representation is the
    backbone's output before the head.

    `fit` takes raw images: a uint8 or float array `[N, H, W, C]` of pixels
    in [0, 255], or a `tf.data.Dataset` of such batches; `(images, labels)`
    batches are accepted and the labels ignored. Reports `loss` and
    `contrast_accuracy` (how often the positive has the largest logit).

    Args:
        backbone: keras.Model. Encoder from raw pixels to features.
        projection_dim: int. Output size of the projection head (128).
        projection_hidden_dims: tuple of int. Hidden sizes of the head
            (default one layer as wide as the features).
        temperature: float. NT-Xent temperature (0.5, the paper's CIFAR-10
            setting).
        augmenter: keras.layers.Layer. View maker; `SimCLRAugmenter` for
            the backbone's input shape by default.
        synchronized_batch_norm: bool. Head batch norm over all replicas.
        seed: int. Seed of the default augmenter.

    Example:

    >>> backbone = keras_ssl.backbones.ResNet(input_shape=(28, 28, 1), depth=8, width=8)
    >>> model = SimCLR(backbone)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(images, batch_size=256, epochs=10)  # uint8 [N, 28, 28, 1]
    >>> embeddings = model.predict(images)
    """

    metric_names = ("loss", "contrast_accuracy")
    takes_pipeline_views = True

    def __init__(
        self,
        backbone,
        projection_dim=128,
        projection_hidden_dims=None,
        temperature=0.5,
        augmenter=None,
        synchronized_batch_norm=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(backbone=backbone, augmenter=augmenter, seed=seed, **kwargs)
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        # === Config ===
        self.projection_dim = projection_dim
        self.projection_hidden_dims = projection_hidden_dims
        self.temperature = float(temperature)
        self.synchronized_batch_norm = synchronized_batch_norm
        # === Layers ===
        self.projection_head = self.build_projection_head(
            projection_dim, projection_hidden_dims, synchronized_batch_norm
        )
        self.built = True

    def default_augmenter(self):
        return SimCLRAugmenter(image_shape=self.image_shape, seed=self.seed, name="augmenter")

    def compute_losses(self, images, training):
        view1, view2 = self.views(images)
        # One pass over both views, so batch norm sees them together.
        features = self.backbone(tf.concat([view1, view2], axis=0), training=training)
        z1, z2 = tf.split(self.projection_head(features, training=training), 2, axis=0)
        loss, logits, labels = nt_xent(z1, z2, temperature=self.temperature)
        return {"loss": loss, "contrast_accuracy": contrast_accuracy(logits, labels)}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "projection_dim": self.projection_dim,
                "projection_hidden_dims": self.projection_hidden_dims,
                "temperature": self.temperature,
                "synchronized_batch_norm": self.synchronized_batch_norm,
            }
        )
        return config
