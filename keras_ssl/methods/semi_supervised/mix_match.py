"""MixMatch (Berthelot et al. 2019)."""

import keras
import tensorflow as tf

from keras_ssl.augment.mixup import mixup, sample_mixup_weights, sharpen
from keras_ssl.losses.consistency import probability_mse
from keras_ssl.methods.semi_supervised.base import SemiSupervisedMethod

RAMPUPS = ("linear", "sigmoid")


@keras.saving.register_keras_serializable(package="keras_ssl")
class MixMatch(SemiSupervisedMethod):
    """MixMatch: guessed, sharpened labels for augmented unlabelled images,
    MixUp of everything with everything, cross-entropy on the mixed labelled
    part and a squared error on the mixed unlabelled part.

    Berthelot, Carlini, Goodfellow, Papernot, Oliver & Raffel, "MixMatch: A
    Holistic Approach to Semi-Supervised Learning" (NeurIPS 2019),
    Algorithm 1. Each step augments every labelled image once (`X^`) and
    every unlabelled image `num_augmentations` (K) times (`U^`), guesses the
    label of each unlabelled image as the mean of the model's softmax over
    its K views sharpened with `temperature` (held constant), shuffles the
    concatenation `W` of `X^` and `U^` (one-hot labels, guesses) and mixes
    `X' = MixUp(X^_i, W_i)`, `U' = MixUp(U^_i, W_{|X|+i})` with one
    `lambda' = max(lambda, 1 - lambda)`, `lambda ~ Beta(alpha, alpha)`, per
    example (as in the official code). The loss is
    `L_X + w(t) L_U`: `L_X` the soft-label cross-entropy on `X'`, `L_U` the
    squared L2 distance between mixed guesses and predictions on `U'`
    divided by the number of classes (eq. 5), both averaged over this
    replica's examples; `w(t)` ramps up to `unsupervised_weight`, linearly
    by default as in the paper (16,000 steps there).

    Choices: one forward pass over `concat(X', U')`, so batch norm sees the
    whole mixed batch (the official code's interleaving is left out); the
    label guess uses the model in training mode, as the official code
    does; `W` is shuffled within each replica's batch. The reported
    `accuracy` compares the predictions on the mixed labelled images `X'`
    (each weighted at least half towards itself) with their own labels:
    it comes from the training pass, so it costs nothing.

    The paper evaluates an exponential moving average of the weights (decay
    0.999). Keras' optimizers keep one: compile with
    `keras.optimizers.Adam(2e-3, use_ema=True, ema_momentum=0.999)` and pass
    `callbacks=[keras.callbacks.SwapEMAWeights(swap_on_epoch=True)]` to
    `fit` so that evaluation during training uses the averaged weights; at
    the end of `fit` Keras writes the averages into the model (batch-norm
    statistics are not averaged).

    `fit` takes `((x_l, y_l), x_u)` batches of raw pixels and integer labels
    (`keras_ssl.data.semi_supervised_batches`); `evaluate` takes labelled
    `(x, y)`; `classify` gives class probabilities.

    Args:
        backbone: keras.Model. Encoder from raw pixels to features.
        num_classes: int. Number of classes.
        num_augmentations: int. K, augmentations per unlabelled image (2).
        temperature: float. T, sharpening temperature of the guesses (0.5).
        mixup_alpha: float. Alpha of the Beta distribution of the MixUp
            weights (0.75; 0.25 for SVHN in the paper). 0 means no mixing:
            with `augmenter=keras.layers.Identity()` and `dropout=0.0` a
            step is then deterministic.
        unsupervised_weight: float. lambda_U, largest weight of `L_U` (75
            for CIFAR-10; 100 is the paper's suggested starting point, 150
            for CIFAR-100, 250 for SVHN, 50 for STL-10).
        rampup_steps: int. Steps of the ramp-up of that weight (0: none;
            16,000 in the paper).
        rampup: str. `"linear"` (the paper) or `"sigmoid"` (`sigmoid_rampup`
            of the other semi-supervised methods).
        dropout: float. Dropout rate before the classifier.
        augmenter: keras.layers.Layer. Stochastic augmentation
            (`WeakAugmenter`: translation by 2 pixels and flip, as in the
            paper, by default).
        seed: int. Seed of the default augmenter, the MixUp weights and the
            shuffle.

    Example:

    >>> model = MixMatch(ConvNet(input_shape=(28, 28, 1)), num_classes=10, rampup_steps=16000)
    >>> model.compile(optimizer=keras.optimizers.Adam(2e-3, use_ema=True, ema_momentum=0.999))
    >>> model.fit(semi_supervised_batches(x_l, y_l, x_u, batch_size=64), epochs=10,
    ...           callbacks=[keras.callbacks.SwapEMAWeights(swap_on_epoch=True)])
    >>> model.evaluate(x_test, y_test)
    """

    def __init__(
        self,
        backbone,
        num_classes,
        num_augmentations=2,
        temperature=0.5,
        mixup_alpha=0.75,
        unsupervised_weight=75.0,
        rampup_steps=0,
        rampup="linear",
        dropout=0.0,
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        if int(num_augmentations) < 1:
            raise ValueError(f"num_augmentations must be at least 1, got {num_augmentations}")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if mixup_alpha < 0:
            raise ValueError(f"mixup_alpha must be non-negative (0: no mixup), got {mixup_alpha}")
        if rampup not in RAMPUPS:
            raise ValueError(f"rampup must be one of {RAMPUPS}, got {rampup!r}")
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
        # === Config ===
        self.num_augmentations = int(num_augmentations)
        self.temperature = float(temperature)
        self.mixup_alpha = float(mixup_alpha)
        self.rampup = rampup
        # Under a strategy Keras builds unbuilt models by calling them on a
        # training batch, which `call` cannot take: build the augmenter now.
        if not self.augmenter.built:
            self.augmenter.build((None, *self.image_shape))

    def current_unsupervised_weight(self):
        if self.rampup == "sigmoid":
            return super().current_unsupervised_weight()
        if not self.rampup_steps:
            return tf.constant(self.unsupervised_weight)
        progress = tf.cast(self.optimizer.iterations, tf.float32) / float(self.rampup_steps)
        return self.unsupervised_weight * tf.clip_by_value(progress, 0.0, 1.0)

    # --- the steps of Algorithm 1 ---------------------------------------
    def guess_labels(self, views, training):
        """Sharpened mean softmax over the K views of each unlabelled image.

        Args:
            views: float tensor `[K * U, H, W, C]`, the K augmentations of U
                images stacked view after view (rows `k * U + i`).
            training: bool. Mode of the forward pass.

        Returns:
            float32 `[U, classes]` guesses, without gradient.
        """
        logits = self.logits(views, training=training)
        probabilities = tf.reshape(tf.nn.softmax(logits), [self.num_augmentations, -1, self.num_classes])
        return tf.stop_gradient(sharpen(tf.reduce_mean(probabilities, axis=0), self.temperature))

    def mix(self, images, labels):
        """MixUp of each example of `W` with a shuffled partner from the
        whole batch, weighted `max(lambda, 1 - lambda)` towards itself.

        Args:
            images: float tensor `[N, H, W, C]`, `concat(X^, U^)`.
            labels: float tensor `[N, classes]`, `concat(one-hot, guesses)`.

        Returns:
            `(mixed_images, mixed_labels)`, row i the mix of row i of the
            inputs with row `permutation[i]`. The inputs themselves when
            `mixup_alpha` is 0.
        """
        if self.mixup_alpha == 0:
            return images, labels
        size = tf.shape(images)[0]
        permutation = tf.argsort(keras.random.uniform([size], seed=self.replica_seed_generator))
        weights = sample_mixup_weights(size, self.mixup_alpha, seed=self.replica_seed_generator)
        return mixup(images, tf.gather(images, permutation), labels, tf.gather(labels, permutation), weights)

    def compute_losses(self, batch, training):
        x_l, y_l, x_u = batch["x_l"], batch["y_l"], batch["x_u"]
        num_labelled = tf.shape(x_l)[0]
        # Pixels mixed in float32, so the labels mixed beside them are too.
        x_hat = tf.cast(self.augmenter(x_l, training=True), "float32")
        u_hat = tf.cast(self.augmenter(tf.concat([x_u] * self.num_augmentations, axis=0), training=True), "float32")
        guesses = self.guess_labels(u_hat, training=training)
        labels = tf.concat(
            [tf.one_hot(y_l, self.num_classes), tf.concat([guesses] * self.num_augmentations, axis=0)], axis=0
        )
        mixed_images, mixed_labels = self.mix(tf.concat([x_hat, u_hat], axis=0), labels)
        logits = self.logits(mixed_images, training=training)
        logits_x, logits_u = logits[:num_labelled], logits[num_labelled:]
        targets_x, targets_u = mixed_labels[:num_labelled], mixed_labels[num_labelled:]
        supervised = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=targets_x, logits=logits_x))
        unsupervised = tf.reduce_mean(probability_mse(tf.nn.softmax(logits_u), targets_u))
        # The reported accuracy: the mixed labelled images (each at least half
        # itself, lambda' >= 0.5) against their own labels, from this pass.
        return self.combine_losses(logits_x, y_l, unsupervised, supervised=supervised)

    # --- serialization -------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_augmentations": self.num_augmentations,
                "temperature": self.temperature,
                "mixup_alpha": self.mixup_alpha,
                "rampup": self.rampup,
            }
        )
        return config
