"""Temporal ensembling."""

import keras
import tensorflow as tf

from keras_ssl.distribute import cross_replica_concat
from keras_ssl.layers.memory_bank import checked_indices
from keras_ssl.losses.consistency import probability_mse
from keras_ssl.methods.semi_supervised.base import SemiSupervisedMethod


@keras.saving.register_keras_serializable(package="keras_ssl")
class TemporalEnsembling(SemiSupervisedMethod):
    """Temporal ensembling: each unlabelled image is pulled towards an
    exponential moving average of the network's past predictions of it.

    Laine & Aila, "Temporal Ensembling for Semi-Supervised Learning"
    (ICLR 2017), Algorithm 2. Each step makes ONE stochastic pass
    (augmentation and dropout) of the labelled and unlabelled images
    together. The loss is the cross-entropy on the labelled images plus
    `w(t)` times the squared difference between each unlabelled image's
    softmax output and its target `z~`, summed over the classes and
    divided by their number C, averaged over the unlabelled images
    (`keras_ssl.losses.consistency.probability_mse`). The paper applies
    the consistency to every image; here the labelled images carry no
    index into the ensemble, so it applies to the unlabelled part only.

    Per-image state, non-trainable weights saved with the model: the
    ensemble `Z` and the targets `z~` (`[num_unlabelled, C]`, zero at
    first) and the latest prediction `z` of each image. Once per epoch,
    `Z <- alpha Z + (1 - alpha) z` and `z~ <- Z / (1 - alpha^t)` with `t`
    the number of epochs done (the bias correction makes `z~` the plain
    epoch-1 predictions after the first epoch). The targets stay fixed
    during an epoch. In the first epoch they are zero, so, as in the
    authors' code, the consistency weight is 0 until the first update;
    `w(t)` then follows its ramp-up as usual.

    The epoch boundary is found inside the graph, with no callback and an
    untouched `fit`: an epoch is one pass over the unlabelled set, and the
    method counts the unlabelled images it has seen (over all replicas);
    the ensemble is updated at the end of the step after which fewer than
    one more unlabelled batch remains. With
    `semi_supervised_batches(..., with_indices=True)` (same-sized batches,
    remainder dropped) that is exactly the last step of each Keras epoch.
    The few images of a dropped remainder keep their latest prediction
    from an earlier epoch in `z` (zero before their first). `fit` with a
    `steps_per_epoch` that cuts the data differently still updates once per
    pass over the unlabelled set.

    `w(t) = unsupervised_weight * exp(-5 (1 - t)^2)`, t going from 0 to 1
    over `rampup_steps` (80 epochs in the paper). The paper's `w_max = 30`
    is scaled by M/N (M labels, N images) but so, on average, is its
    supervised term (divided by the whole minibatch); ours is the mean over
    the labelled images, so the paper's balance is
    `unsupervised_weight = 30` unscaled. The default augmenter,
    `WeakAugmenter`, makes the paper's translation by 2 pixels and flip;
    `augmenter=WeakAugmenter(image_shape, noise_stddev=19.125)` adds its
    Gaussian noise (0.15 of the [-1, 1] range). There is no randomness
    besides the augmenter and dropout: with
    `augmenter=keras.layers.Identity()` and `dropout=0.0` a step is
    deterministic.

    `fit` takes `((x_l, y_l), (x_u, index_u))` batches with each unlabelled
    image's index in the unlabelled set, in `[0, num_unlabelled)`
    (`keras_ssl.data.semi_supervised_batches(..., with_indices=True)`), and
    reports `loss`, `supervised_loss`, `unsupervised_loss`,
    `unsupervised_weight` and `accuracy`; `evaluate` takes labelled
    `(x, y)`; `predict` gives features and `classify` class probabilities.

    Args:
        backbone: keras.Model. Encoder from raw pixels to features.
        num_classes: int. Number of classes.
        num_unlabelled: int. Size of the unlabelled set (rows of the
            ensemble).
        ensemble_momentum: float. `alpha`, the decay of the ensemble, in
            [0, 1).
        unsupervised_weight: float. `w_max`, the largest weight of the
            consistency term.
        rampup_steps: int. Steps of the sigmoid ramp-up of that weight (0:
            none).
        dropout: float. Dropout rate before the classifier.
        augmenter: keras.layers.Layer. Stochastic input perturbation
            (`WeakAugmenter`: translation by 2 pixels and flip, by default).
        seed: int.

    Example:

    >>> model = TemporalEnsembling(ConvNet(input_shape=(28, 28, 1)), num_classes=10, num_unlabelled=len(x_u),
    ...                            rampup_steps=2000)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(semi_supervised_batches(x_l, y_l, x_u, batch_size=64, unlabelled_ratio=3, with_indices=True),
    ...           epochs=10)
    >>> probabilities = model.classify(x_test)
    """

    def __init__(
        self,
        backbone,
        num_classes,
        num_unlabelled,
        ensemble_momentum=0.6,
        unsupervised_weight=30.0,
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
        if num_unlabelled is None or int(num_unlabelled) < 1:
            raise ValueError(f"num_unlabelled must be the (positive) size of the unlabelled set, got {num_unlabelled}")
        if not 0.0 <= ensemble_momentum < 1.0:
            raise ValueError(f"ensemble_momentum must be in [0, 1), got {ensemble_momentum}")
        # === Config ===
        self.num_unlabelled = int(num_unlabelled)
        self.ensemble_momentum = float(ensemble_momentum)
        # === State ===
        # Replicas update their copies identically (from gathered values),
        # hence no cross-replica aggregation.
        shape = (self.num_unlabelled, self.num_classes)

        def state(name, shape, dtype):
            return self.add_weight(
                shape=shape,
                initializer="zeros",
                dtype=dtype,
                trainable=False,
                aggregation="none",
                autocast=False,
                name=name,
            )

        self.ensemble = state("ensemble", shape, "float32")
        self.targets = state("targets", shape, "float32")
        self.epoch_predictions = state("epoch_predictions", shape, "float32")
        self.epochs_done = state("epochs_done", (), "int32")
        self.samples_seen = state("samples_seen", (), "int32")

    def compute_losses(self, batch, training):
        if batch["index_u"] is None:
            raise ValueError(
                "TemporalEnsembling needs each unlabelled image's index: train on batches "
                "((x_l, y_l), (x_u, index_u)) from keras_ssl.data.semi_supervised_batches(..., with_indices=True)"
            )
        index_u = self.check_indices(batch["index_u"])
        logits_l, logits_u = self.joint_logits(batch, training)
        probabilities_u = tf.nn.softmax(logits_u, axis=-1)
        unsupervised = tf.reduce_mean(probability_mse(probabilities_u, tf.gather(self.targets.value, index_u)))
        # Handed to after_update, which records them once the step is taken.
        batch["index_u"] = index_u
        batch["probabilities_u"] = tf.stop_gradient(probabilities_u)
        return self.combine_losses(logits_l, batch["y_l"], unsupervised)

    def current_unsupervised_weight(self):
        # Zero until the first targets exist, as in the authors' code.
        has_targets = tf.cast(self.epochs_done.value > 0, tf.float32)
        return has_targets * super().current_unsupervised_weight()

    def after_update(self, batch):
        self.record_predictions(batch["index_u"], batch["probabilities_u"])

    def check_indices(self, index_u):
        message = (
            f"index_u must be in [0, num_unlabelled={self.num_unlabelled}): build the model with the size of "
            "the unlabelled set and index it from 0"
        )
        return checked_indices(index_u, self.num_unlabelled, message)

    def record_predictions(self, index_u, probabilities_u):
        """Stores this step's predictions of the unlabelled images
        `index_u` (int `[B]`, this replica's) and, at the end of an epoch,
        updates the ensemble and the targets. Called after each step."""
        index_u, _ = cross_replica_concat(tf.cast(index_u, tf.int32))
        probabilities_u, _ = cross_replica_concat(tf.cast(probabilities_u, tf.float32))
        self.epoch_predictions.value.scatter_update(tf.IndexedSlices(probabilities_u, index_u))
        batch_size = tf.shape(index_u)[0]
        seen = self.samples_seen.value.assign_add(batch_size)
        tf.cond(seen + batch_size > self.num_unlabelled, self.end_epoch, lambda: None)

    def end_epoch(self):
        """The once-per-epoch update of the ensemble and the targets."""
        alpha = self.ensemble_momentum
        epochs_done = self.epochs_done.value.assign_add(1)
        ensemble = self.ensemble.value.assign(
            alpha * self.ensemble.value + (1.0 - alpha) * self.epoch_predictions.value
        )
        correction = 1.0 - tf.pow(alpha, tf.cast(epochs_done, tf.float32))
        self.targets.value.assign(ensemble / correction)
        self.samples_seen.value.assign(0)

    def get_config(self):
        config = super().get_config()
        config.update({"num_unlabelled": self.num_unlabelled, "ensemble_momentum": self.ensemble_momentum})
        return config
