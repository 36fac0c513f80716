"""The Pi-model."""

import keras
import tensorflow as tf

from keras_ssl.losses.consistency import softmax_mse
from keras_ssl.methods.semi_supervised.base import SemiSupervisedMethod


@keras.saving.register_keras_serializable(package="keras_ssl")
class PiModel(SemiSupervisedMethod):
    """Pi-model: two stochastic passes of each image must agree.

    Laine & Aila, "Temporal Ensembling for Semi-Supervised Learning"
    (ICLR 2017), Algorithm 1. Every image of the batch, labelled and
    unlabelled together, goes through the network twice, each time with
    its own augmentation (`augmenter`) and dropout. The loss is the
    cross-entropy on the labelled part of the first pass plus `w(t)` times
    the squared difference of the two softmax outputs, summed over the
    classes and divided by their number C, averaged over all images
    (`keras_ssl.losses.consistency.softmax_mse`). As in the paper,
    gradients flow through both passes (no stop-gradient). The two passes
    are separate backbone calls, so each has its own batch norm statistics.

    `w(t) = unsupervised_weight * exp(-5 (1 - t)^2)`, t going from 0 to 1
    over `rampup_steps` (the paper ramps up over 80 epochs). The paper uses
    `w_max = 100` scaled by M/N (M labels, N training images) but divides
    its supervised term by the whole minibatch, which on average also
    scales it by M/N; our supervised term is the mean over the labelled
    images, so the paper's balance is `unsupervised_weight = 100` unscaled.

    The default augmenter, `WeakAugmenter`, makes the paper's translation
    by up to 2 pixels and horizontal flip; the paper also adds Gaussian
    noise of standard deviation 0.15 of the [-1, 1] range:
    `augmenter=WeakAugmenter(image_shape, noise_stddev=19.125)` (and
    `flip=False` for digits). The paper's network has dropout 0.5; here one dropout layer sits before
    the classifier. There is no randomness besides the augmenter and
    dropout: with `augmenter=keras.layers.Identity()` and `dropout=0.0`
    a step is deterministic (and the consistency term is 0).

    `fit` takes `((x_l, y_l), x_u)` batches (see
    `keras_ssl.data.semi_supervised_batches`) and reports `loss`,
    `supervised_loss`, `unsupervised_loss`, `unsupervised_weight` and
    `accuracy`; `evaluate` takes labelled `(x, y)`; `predict` gives
    features and `classify` class probabilities.

    Args:
        backbone: keras.Model. Encoder from raw pixels to features.
        num_classes: int. Number of classes.
        unsupervised_weight: float. `w_max`, the largest weight of the
            consistency term.
        rampup_steps: int. Steps of the sigmoid ramp-up of that weight (0:
            none).
        dropout: float. Dropout rate before the classifier.
        augmenter: keras.layers.Layer. Stochastic input perturbation, drawn
            independently for the two passes (`WeakAugmenter`: translation
            by 2 pixels and flip, by default).
        seed: int.

    Example:

    >>> model = PiModel(ConvNet(input_shape=(28, 28, 1)), num_classes=10, rampup_steps=2000)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(semi_supervised_batches(x_l, y_l, x_u, batch_size=64, unlabelled_ratio=3), epochs=10)
    >>> probabilities = model.classify(x_test)
    """

    def __init__(
        self,
        backbone,
        num_classes,
        unsupervised_weight=100.0,
        rampup_steps=0,
        dropout=0.5,
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            backbone,
            num_classes,
            unsupervised_weight=unsupervised_weight,
            rampup_steps=rampup_steps,
            dropout=dropout,
            augmenter=augmenter,
            seed=seed,
            **kwargs,
        )

    def compute_losses(self, batch, training):
        num_labelled = tf.shape(batch["x_l"])[0]
        images = tf.concat([batch["x_l"], batch["x_u"]], axis=0)
        logits_a = self.logits(self.augmenter(images, training=True), training=training)
        logits_b = self.logits(self.augmenter(images, training=True), training=training)
        unsupervised = tf.reduce_mean(softmax_mse(logits_a, logits_b))
        return self.combine_losses(logits_a[:num_labelled], batch["y_l"], unsupervised)
