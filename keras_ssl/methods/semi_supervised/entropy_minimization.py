"""Entropy minimization."""

import keras
import tensorflow as tf

from keras_ssl.losses.entropy import prediction_entropy
from keras_ssl.methods.semi_supervised.base import SemiSupervisedMethod


@keras.saving.register_keras_serializable(package="keras_ssl")
class EntropyMinimization(SemiSupervisedMethod):
    """Entropy minimization: confident predictions on unlabelled data.

    Grandvalet and Bengio, "Semi-supervised Learning by Entropy
    Minimization" (NIPS 2005). The loss is the labelled cross-entropy plus
    `lambda * mean_u H(p(y | x_u))`, the mean entropy of the softmax
    predictions on the (augmented) unlabelled images
    (`keras_ssl.losses.entropy.prediction_entropy`), which pushes the
    decision boundary away from dense regions of the input. Labelled and
    unlabelled images go through the network in one batch, so batch norm
    statistics cover both.

    `lambda` is `unsupervised_weight`. The paper picks it by cross-validation
    and names no value; the default 1.0 is the unit weight of the entropy
    term in the MAP criterion, the weight of VAT+EntMin (Miyato et al.,
    TPAMI 2018), and it beat both 0.1 and 0.3 on the digits learns-test.
    Since a randomly initialised network's predictions are arbitrary, making
    them confident too early locks in wrong labels: ramp the weight up
    (`rampup_steps`).

    `fit` takes `((x_l, y_l), x_u)` batches (see
    `keras_ssl.data.semi_supervised_batches`) and reports `loss`,
    `supervised_loss`, `unsupervised_loss` (the mean entropy, in nats),
    `unsupervised_weight` and `accuracy`; `evaluate` takes labelled
    `(x, y)`; `predict` gives features and `classify` class probabilities.
    There is no randomness besides the augmenter and dropout.

    Args:
        backbone: keras.Model. Encoder from raw pixels to features.
        num_classes: int. Number of classes.
        unsupervised_weight: float. `lambda`, the largest weight of the
            entropy term.
        rampup_steps: int. Steps of the sigmoid ramp-up of that weight (0:
            none).
        dropout: float. Dropout rate before the classifier.
        augmenter: keras.layers.Layer. Input perturbation (`WeakAugmenter`
            by default).
        seed: int.

    Example:

    >>> model = EntropyMinimization(ConvNet(input_shape=(28, 28, 1)), num_classes=10, rampup_steps=2000)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(semi_supervised_batches(x_l, y_l, x_u, batch_size=64, unlabelled_ratio=3), epochs=10)
    >>> probabilities = model.classify(x_test)
    """

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
        logits_l, logits_u = self.joint_logits(batch, training)
        entropy = tf.reduce_mean(prediction_entropy(logits_u))
        return self.combine_losses(logits_l, batch["y_l"], entropy)
