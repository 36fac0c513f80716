"""The supervised baseline of the semi-supervised family."""

import keras
import tensorflow as tf

from keras_ssl.methods.semi_supervised.base import SemiSupervisedMethod


@keras.saving.register_keras_serializable(package="keras_ssl")
class SupervisedOnly(SemiSupervisedMethod):
    """Cross-entropy on the labelled part only; the unlabelled images are
    ignored. The baseline every semi-supervised method must beat with the
    same backbone, augmentation, labels and budget (and, given every label,
    the fully supervised reference).

    Args:
        backbone: keras.Model. Encoder from raw pixels to features.
        num_classes: int.
        dropout: float. Dropout rate before the classifier.
        augmenter: keras.layers.Layer. `WeakAugmenter` by default.
        seed: int.

    Example:

    >>> model = SupervisedOnly(ConvNet(input_shape=(28, 28, 1)), num_classes=10)
    >>> model.compile(optimizer="adam")
    >>> model.fit(semi_supervised_batches(x_l, y_l, x_u, batch_size=64), epochs=10)
    """

    def __init__(self, backbone, num_classes, dropout=0.0, augmenter=None, seed=None, **kwargs):
        kwargs.pop("unsupervised_weight", None)
        kwargs.pop("rampup_steps", None)
        super().__init__(
            backbone,
            num_classes,
            unsupervised_weight=0.0,
            rampup_steps=0,
            dropout=dropout,
            augmenter=augmenter,
            seed=seed,
            **kwargs,
        )

    def unsupervised_loss(self, batch, training):
        return tf.constant(0.0)
