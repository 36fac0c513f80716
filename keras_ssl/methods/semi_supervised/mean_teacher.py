"""Mean teacher."""

import keras
import tensorflow as tf

from keras_ssl.layers.ema import ema_update, momentum_copy, momentum_pairs
from keras_ssl.losses.consistency import softmax_mse
from keras_ssl.methods.semi_supervised.base import SemiSupervisedMethod


@keras.saving.register_keras_serializable(package="keras_ssl")
class MeanTeacher(SemiSupervisedMethod):
    """Mean teacher: the student must agree with an exponential moving
    average of itself.

    Tarvainen & Valpola, "Mean teachers are better role models:
    Weight-averaged consistency targets improve semi-supervised deep
    learning results" (NeurIPS 2017). The teacher is a copy of the
    backbone and classifier whose weights, after every optimizer step,
    move towards the student's: `teacher = d_t teacher + (1 - d_t) student`
    with `d_t = min(1 - 1 / (t + 1), d)`, t the optimizer step (the bias-free
    form of the paper's code: the teacher is the plain average of the
    student so far until `1 - 1 / (t + 1)` reaches `d`). `d` is
    `ema_decay` (0.99) while `t <= rampup_steps` and
    `ema_decay_after_rampup` (0.999) after, as in the paper's ConvNet
    experiments (None keeps `ema_decay`).

    Every teacher variable is frozen (not in `trainable_variables`, never
    touched by the optimizer). The average covers the weights the student
    trains (kernels, biases, batch norm scale and offset); batch norm
    statistics are each network's own, as in the paper's code: during
    training the teacher, like the student, normalises with the batch
    statistics, and its passes update its own moving statistics, which it
    uses in inference mode. (Averaging the student's moving statistics
    instead would pair averaged weights with statistics they did not
    produce, and such a teacher predicts far worse than its student.) For
    that the teacher's layers keep `trainable=True` (Keras
    batch norm uses batch statistics only in trainable layers) while each
    of their variables is frozen; setting `teacher_backbone.trainable`
    would change that.

    Each image of the batch, labelled and unlabelled together, gets two
    independent augmentations: the student classifies one (training mode)
    and the teacher the other. The loss is the cross-entropy of the
    student on the labelled images plus `w(t)` times the consistency cost,
    the squared difference of the student's and the teacher's softmax
    outputs summed over the classes and divided by their number C
    (`keras_ssl.losses.consistency.softmax_mse`), averaged over all images,
    with the teacher's output held constant. Both passes apply dropout (the
    paper's noise in student and teacher). `w(t)` ramps up to
    `unsupervised_weight` with the sigmoid ramp-up over `rampup_steps`;
    100, the paper's weight for CIFAR-10 with this per-class mean squared
    error, by default.

    With `evaluate_teacher=True` (the paper reports the teacher) `call`
    (hence `predict`), `encoder` (hence the export), `classify` and
    `evaluate` use the teacher; otherwise the student. There is no
    randomness besides the augmenter and dropout: with
    `augmenter=keras.layers.Identity()` and `dropout=0.0` a step is
    deterministic.

    `fit` takes `((x_l, y_l), x_u)` batches (see
    `keras_ssl.data.semi_supervised_batches`) and reports `loss`,
    `supervised_loss`, `unsupervised_loss` (the consistency cost),
    `unsupervised_weight` and `accuracy` (the student's); `evaluate` takes
    labelled `(x, y)`.

    Args:
        backbone: keras.Model. Encoder from raw pixels to features (the
            student's; the teacher is a copy).
        num_classes: int. Number of classes.
        ema_decay: float. Largest EMA decay of the teacher during the
            ramp-up.
        ema_decay_after_rampup: float or None. Largest EMA decay after the
            ramp-up (None: `ema_decay` throughout).
        evaluate_teacher: bool. Predict, classify, evaluate and export with
            the teacher.
        unsupervised_weight: float. Largest weight of the consistency cost.
        rampup_steps: int. Steps of the sigmoid ramp-up of that weight and
            of the higher EMA decay (0: none).
        dropout: float. Dropout rate before the student's classifier.
        augmenter: keras.layers.Layer. Stochastic input perturbation, drawn
            independently for student and teacher (`WeakAugmenter`:
            translation by 2 pixels and flip, the paper's).
        seed: int.

    Example:

    >>> model = MeanTeacher(ConvNet(input_shape=(28, 28, 1)), num_classes=10, rampup_steps=2000)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(semi_supervised_batches(x_l, y_l, x_u, batch_size=64, unlabelled_ratio=3), epochs=10)
    >>> probabilities = model.classify(x_test)  # the teacher's
    """

    def __init__(
        self,
        backbone,
        num_classes,
        ema_decay=0.99,
        ema_decay_after_rampup=0.999,
        evaluate_teacher=True,
        unsupervised_weight=100.0,
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
        for name, decay in (("ema_decay", ema_decay), ("ema_decay_after_rampup", ema_decay_after_rampup)):
            if decay is not None and not 0.0 <= decay <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {decay}")
        # === Config ===
        self.ema_decay = float(ema_decay)
        self.ema_decay_after_rampup = None if ema_decay_after_rampup is None else float(ema_decay_after_rampup)
        self.evaluate_teacher = bool(evaluate_teacher)
        # === Layers ===
        # The teacher starts as the student and is never trained.
        self.teacher_backbone = momentum_copy(self.backbone, name=f"teacher_{self.backbone.name}")
        self.teacher_classifier = momentum_copy(self.classifier, name="teacher_classifier")

    @property
    def student_weights(self):
        return self.backbone.weights + self.classifier.weights

    @property
    def teacher_weights(self):
        return self.teacher_backbone.weights + self.teacher_classifier.weights

    def averaged_weights(self):
        """`(teacher, student)`: the lists of weights the EMA pairs, those the
        student trains (batch norm statistics are each network's own)."""
        return momentum_pairs([(self.teacher_backbone, self.backbone), (self.teacher_classifier, self.classifier)])

    # --- forward passes ------------------------------------------------
    def teacher_logits(self, images, training=False):
        """float32 class logits of the teacher on float pixel `images`."""
        features = self.teacher_backbone(images, training=training)
        return tf.cast(self.teacher_classifier(self.dropout(features, training=training)), "float32")

    def evaluation_logits(self, images):
        """Inference logits of the model that is evaluated (teacher or
        student)."""
        if self.evaluate_teacher:
            return self.teacher_logits(images)
        return self.logits(images, training=False)

    @property
    def encoder(self):
        return self.teacher_backbone if self.evaluate_teacher else self.backbone

    def call(self, inputs, training=False):
        return self.encoder(self.prepare_images(inputs), training=training)

    # --- training ------------------------------------------------------
    def current_ema_decay(self):
        """`min(1 - 1 / (t + 1), d)`, t the optimizer step just taken."""
        step = tf.cast(self.optimizer.iterations, "float32")
        decay = tf.constant(self.ema_decay, "float32")
        if self.ema_decay_after_rampup is not None:
            decay = tf.where(step > float(self.rampup_steps), self.ema_decay_after_rampup, decay)
        return tf.minimum(1.0 - 1.0 / (step + 1.0), decay)

    def compute_losses(self, batch, training):
        num_labelled = tf.shape(batch["x_l"])[0]
        images = tf.concat([batch["x_l"], batch["x_u"]], axis=0)
        student_logits = self.logits(self.augmenter(images, training=True), training=training)
        teacher_logits = self.teacher_logits(self.augmenter(images, training=True), training=training)
        teacher_logits = tf.stop_gradient(teacher_logits)
        unsupervised = tf.reduce_mean(softmax_mse(student_logits, teacher_logits))
        return self.combine_losses(student_logits[:num_labelled], batch["y_l"], unsupervised)

    def after_update(self, batch):
        ema_update(*self.averaged_weights(), self.current_ema_decay())

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "ema_decay": self.ema_decay,
                "ema_decay_after_rampup": self.ema_decay_after_rampup,
                "evaluate_teacher": self.evaluate_teacher,
            }
        )
        return config
