"""Virtual adversarial training."""

import keras
import tensorflow as tf

from keras_ssl.losses.entropy import prediction_entropy
from keras_ssl.losses.vat import kl_divergence_from_logits, virtual_adversarial_perturbation
from keras_ssl.methods.semi_supervised.base import SemiSupervisedMethod

# xi and epsilon are given in [0, 1] intensity units (the paper's scale);
# images here are raw pixels in [0, 255], so perturbations are this much larger.
PIXEL_SCALE = 255.0


@keras.saving.register_keras_serializable(package="keras_ssl")
class VAT(SemiSupervisedMethod):
    """Virtual adversarial training: predictions must not change under the
    small input perturbation that changes them most.

    Miyato, Maeda, Koyama & Ishii, "Virtual Adversarial Training: A
    Regularization Method for Supervised and Semi-Supervised Learning"
    (TPAMI 2018). For each image the virtual adversarial perturbation
    `r_adv` (L2 norm `epsilon`) is found by `power_iterations` steps of
    power iteration with a finite difference of length `xi`, starting from
    a random direction (`keras_ssl.losses.vat.virtual_adversarial_perturbation`);
    the local distributional smoothness loss is
    `KL(p(y|x) || p(y|x + r_adv))` with `p(y|x)` held constant, averaged
    over the labelled and the unlabelled images of the batch, as in the
    paper. The loss is the cross-entropy on the labelled images plus
    `alpha` (`unsupervised_weight`, 1 in the paper) times the LDS loss;
    with `entropy_minimization=True` (VAT+EntMin) the mean entropy of the
    predictions on the unlabelled images is added to the LDS term (weight 1
    relative to it, as in the paper).

    Units: `epsilon` and `xi` are L2 norms over all pixels of one image
    scaled to [0, 1], the paper's MNIST scale; the perturbation is added to
    the raw [0, 255] pixels, so it is 255 times larger there. Epsilon is
    not clipped to the valid pixel range. The paper's `xi = 1e-6` assumes
    float64-like precision: in float32 pixels of [0, 255] (a rounding unit
    of 1.5e-5 near 255) a step that small per pixel rounds away, so the
    default `xi` is 1e-3, small enough for the finite difference (the
    second-order term is about 1e-3 of the first) and large enough to
    survive rounding.

    Batch norm and dropout: as in the paper's code, every pass runs in
    training mode, with batch statistics. One pass of the augmented batch
    (labelled and unlabelled images together) gives the supervised logits
    (with dropout), the entropy term and, without dropout, the clean
    prediction `p(y|x)`; the power iteration and adversarial passes use no
    dropout either (so the finite difference measures the input, not the
    noise) and leave the moving statistics as they found them (saved and
    written back), so only the clean pass updates them. (Running the LDS
    passes in inference mode instead lets the training and inference
    networks drift apart, and the inference network then classifies
    poorly.)

    Randomness besides the augmenter and dropout: the Gaussian start of the
    power iteration. With `fixed_initial_direction=True` every image starts
    from one fixed direction instead (power iteration still heads for its
    own adversarial direction), so a step with
    `augmenter=keras.layers.Identity()` and `dropout=0.0` is deterministic.
    On 1 and N replicas such a step agrees only to about 1e-3 (relative to
    the update): the finite difference of length `xi` is sensitive to the
    float32 rounding of batch statistics summed in another order. For the
    same reason, train VAT in float32: under `mixed_float16` a pixel near
    255 rounds to 0.25 and the finite difference of length `xi` vanishes.

    `fit` takes `((x_l, y_l), x_u)` batches (see
    `keras_ssl.data.semi_supervised_batches`) and reports `loss`,
    `supervised_loss`, `unsupervised_loss` (LDS, plus the entropy with
    EntMin), `unsupervised_weight` and `accuracy`; `evaluate` takes
    labelled `(x, y)`; `predict` gives features and `classify` class
    probabilities.

    Args:
        backbone: keras.Model. Encoder from raw pixels to features.
        num_classes: int. Number of classes.
        epsilon: float. L2 norm of the adversarial perturbation, in [0, 1]
            intensity units (2.0 by default; the paper tunes it per data
            set, e.g. 6.0 for ZCA-whitened CIFAR-10).
        xi: float. Finite-difference step of the power iteration, in [0, 1]
            intensity units.
        power_iterations: int. The paper's K (1 suffices in the paper).
        entropy_minimization: bool. Add the conditional entropy of the
            predictions on the unlabelled images (VAT+EntMin).
        fixed_initial_direction: bool. Start every power iteration from one
            fixed direction instead of a fresh Gaussian draw (determinism).
        unsupervised_weight: float. The paper's alpha.
        rampup_steps: int. Steps of the sigmoid ramp-up of alpha (0: none,
            as in the paper).
        dropout: float. Dropout rate before the classifier.
        augmenter: keras.layers.Layer. Input augmentation of the batch
            (`WeakAugmenter`: translation by 2 pixels and flip, as the paper
            uses on CIFAR-10).
        seed: int.

    Example:

    >>> model = VAT(ConvNet(input_shape=(28, 28, 1)), num_classes=10, epsilon=2.0)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(semi_supervised_batches(x_l, y_l, x_u, batch_size=32, unlabelled_ratio=4), epochs=10)
    >>> probabilities = model.classify(x_test)
    """

    def __init__(
        self,
        backbone,
        num_classes,
        epsilon=2.0,
        xi=1e-3,
        power_iterations=1,
        entropy_minimization=False,
        fixed_initial_direction=False,
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
        if epsilon < 0 or xi <= 0:
            raise ValueError(f"epsilon must be non-negative and xi positive, got epsilon={epsilon}, xi={xi}")
        if int(power_iterations) < 1:
            raise ValueError(f"power_iterations must be at least 1, got {power_iterations}")
        # === Config ===
        self.epsilon = float(epsilon)
        self.xi = float(xi)
        self.power_iterations = int(power_iterations)
        self.entropy_minimization = bool(entropy_minimization)
        self.fixed_initial_direction = bool(fixed_initial_direction)

    def initial_direction(self, images):
        """The power iteration's start: None (a Gaussian draw) or, with
        `fixed_initial_direction`, one fixed direction for every image."""
        if not self.fixed_initial_direction:
            return None
        direction = keras.random.normal((1, *self.image_shape), seed=0 if self.seed is None else self.seed)
        return tf.broadcast_to(direction, tf.shape(images))

    def lds_logits(self, images, training):
        """float32 logits of the LDS passes: no dropout, so the clean and
        perturbed passes are the same function of the input."""
        return tf.cast(self.classifier(self.backbone(images, training=training)), "float32")

    def adversarial_perturbation(self, images, clean_logits, training=False):
        """`r_adv` of float pixel `images` (in pixel units: 255 times
        `epsilon` in norm); `clean_logits` are `lds_logits(images, training)`."""
        return virtual_adversarial_perturbation(
            lambda x: self.lds_logits(x, training),
            images,
            clean_logits,
            xi=self.xi * PIXEL_SCALE,
            eps=self.epsilon * PIXEL_SCALE,
            power_iterations=self.power_iterations,
            seed_generator=self.replica_seed_generator,
            initial_direction=self.initial_direction(images),
        )

    def lds_loss(self, images, clean_logits, training=False):
        """Per-example LDS `KL(p(y|x) || p(y|x + r_adv))`; `clean_logits`
        are `lds_logits(images, training)` (held constant). Leaves the
        backbone's batch norm moving statistics as they were."""
        target = tf.stop_gradient(clean_logits)
        statistics = [v for v in self.backbone.non_trainable_weights if "float" in v.dtype]
        # Read before the perturbed passes update them, written back after
        # (TensorFlow runs the reads and writes of a variable in program order).
        saved = [tf.identity(tf.convert_to_tensor(v)) for v in statistics]
        r_adv = self.adversarial_perturbation(images, target, training=training)
        lds = kl_divergence_from_logits(target, self.lds_logits(images + r_adv, training))
        with tf.control_dependencies([lds]):
            for variable, value in zip(statistics, saved):
                variable.assign(value)
        return tf.identity(lds)

    def compute_losses(self, batch, training):
        num_labelled = tf.shape(batch["x_l"])[0]
        images = self.augmenter(tf.concat([batch["x_l"], batch["x_u"]], axis=0), training=True)
        images = tf.cast(images, "float32")
        features = self.backbone(images, training=training)
        logits = tf.cast(self.classifier(self.dropout(features, training=training)), "float32")
        clean_logits = tf.cast(self.classifier(features), "float32")
        unsupervised = tf.reduce_mean(self.lds_loss(images, clean_logits, training=training))
        if self.entropy_minimization:
            unsupervised += tf.reduce_mean(prediction_entropy(logits[num_labelled:]))
        return self.combine_losses(logits[:num_labelled], batch["y_l"], unsupervised)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "epsilon": self.epsilon,
                "xi": self.xi,
                "power_iterations": self.power_iterations,
                "entropy_minimization": self.entropy_minimization,
                "fixed_initial_direction": self.fixed_initial_direction,
            }
        )
        return config
