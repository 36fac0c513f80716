"""Pseudo-Label."""

import keras
import tensorflow as tf

from keras_ssl.losses.pseudo_label_cross_entropy import check_threshold, pseudo_label_cross_entropy
from keras_ssl.methods.semi_supervised.base import SemiSupervisedMethod


@keras.saving.register_keras_serializable(package="keras_ssl")
class PseudoLabel(SemiSupervisedMethod):
    """Pseudo-Label: train on the network's own confident predictions.

    Lee, "Pseudo-Label: The Simple and Efficient Semi-Supervised Learning
    Method for Deep Neural Networks" (ICML 2013 Workshop on Challenges in
    Representation Learning). Each unlabelled image's pseudo-label is its
    most probable class (no gradient flows through it); the loss is the
    labelled cross-entropy plus `alpha(t)` times the cross-entropy against
    the pseudo-labels (`keras_ssl.losses.pseudo_label_cross_entropy`).
    As in the modern variant (Oliver et al., NeurIPS 2018) only pseudo-
    labels whose probability reaches `threshold` count; the term is the mean
    over ALL unlabelled images of `mask * CE`. `threshold=0.0` is Lee's
    original rule (every image counts).

    The pseudo-labels come from the very forward pass that is trained (same
    augmented view, training mode), so, as in Lee, they are refreshed at
    every weight update, and they cost no extra pass; labelled and
    unlabelled images share that pass and its batch norm statistics.
    Lee's `alpha(t)` rises linearly from 0 to `alpha_f = 3` between epochs
    100 and 600; here it is `unsupervised_weight` (3.0) with the shared
    sigmoid ramp-up over `rampup_steps`. Lee trains with dropout (0.5).

    `fit` takes `((x_l, y_l), x_u)` batches (see
    `keras_ssl.data.semi_supervised_batches`) and reports `loss`,
    `supervised_loss`, `unsupervised_loss`, `unsupervised_weight`,
    `accuracy` and `mask_rate` (the fraction of unlabelled images whose
    pseudo-label passed the threshold); `evaluate` takes labelled `(x, y)`;
    `predict` gives features and `classify` class probabilities. There is
    no randomness besides the augmenter and dropout.

    Args:
        backbone: keras.Model. Encoder from raw pixels to features.
        num_classes: int. Number of classes.
        threshold: float. Smallest max-probability for a pseudo-label to
            count, in [0, 1) (1.0 is rejected: see `pseudo_label_cross_entropy`).
        unsupervised_weight: float. `alpha_f`, the largest weight of the
            pseudo-label term.
        rampup_steps: int. Steps of the sigmoid ramp-up of that weight (0:
            none).
        dropout: float. Dropout rate before the classifier.
        augmenter: keras.layers.Layer. Input perturbation (`WeakAugmenter`
            by default).
        seed: int.

    Example:

    >>> model = PseudoLabel(ConvNet(input_shape=(28, 28, 1)), num_classes=10, rampup_steps=2000)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(semi_supervised_batches(x_l, y_l, x_u, batch_size=64, unlabelled_ratio=3), epochs=10)
    >>> probabilities = model.classify(x_test)
    """

    metric_names = SemiSupervisedMethod.metric_names + ("mask_rate",)

    def __init__(
        self,
        backbone,
        num_classes,
        threshold=0.95,
        unsupervised_weight=3.0,
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
        check_threshold(threshold)
        self.threshold = float(threshold)

    def compute_losses(self, batch, training):
        logits_l, logits_u = self.joint_logits(batch, training)
        unsupervised, mask, _ = pseudo_label_cross_entropy(logits_u, threshold=self.threshold)
        results = self.combine_losses(logits_l, batch["y_l"], unsupervised)
        results["mask_rate"] = tf.reduce_mean(mask)
        return results

    def get_config(self):
        config = super().get_config()
        config.update({"threshold": self.threshold})
        return config
