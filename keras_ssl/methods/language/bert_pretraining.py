"""BERT pretraining: masked language modelling plus next-sentence prediction."""

import keras
import tensorflow as tf

from keras_ssl.distribute import num_replicas_in_sync
from keras_ssl.methods.base import Method

BATCH_KEYS = ("token_ids", "segment_ids", "padding_mask", "mask_positions", "mask_ids", "mask_weights", "nsp_labels")


def _cross_replica_sum(value):
    """Sum of a scalar over the replicas of the current step (itself when
    there is one replica)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


@keras.saving.register_keras_serializable(package="keras_ssl")
class BertPretraining(Method):
    """BERT pretraining of a keras-hub `BertBackbone`: masked LM plus NSP.

    Devlin, Chang, Lee and Toutanova, "BERT: Pre-training of Deep
    Bidirectional Transformers for Language Understanding" (NAACL 2019).
    The backbone (keras-hub's, built from a config, never rewritten) reads
    `[CLS] A [SEP] B [SEP]` with 15% of the WordPiece tokens chosen for
    prediction (80% of them replaced by `[MASK]`, 10% by a random token, 10%
    kept). Two heads are trained together:

    - masked LM: keras-hub's `MaskedLMHead` on the sequence output at the
      chosen positions (dense + GELU + layer norm, then the output
      projection tied to the backbone's token embedding, as in
      `keras_hub.models.BertMaskedLM`); loss: cross-entropy averaged over
      the chosen tokens of the global batch (weighted by `mask_weights`);
    - next-sentence prediction: `Dense(2)` on `pooled_output` (the
      backbone's tanh pooler over `[CLS]`); loss: cross-entropy averaged
      over the pairs; label 0 = B follows A, 1 = B is random.

    The loss is `mlm_loss + next_sentence_weight * nsp_loss` (the paper
    sums the two). `fit` takes the dict batches of
    `keras_ssl.data.bert_pretraining_batches` (keys `token_ids`,
    `segment_ids`, `padding_mask`, `mask_positions`, `mask_ids`,
    `mask_weights`, `nsp_labels`): tokenising and masking happen in
    `tf.data`. Reports `loss`, `mlm_loss`, `nsp_loss`, `mlm_accuracy`
    (over the chosen tokens) and `nsp_accuracy`. The masked-LM mean is
    taken over the chosen tokens of all replicas together, so one global
    batch gives the same loss and gradients on 1 or N replicas.

    `call` returns the backbone's outputs, a dict with `pooled_output`
    `[batch, hidden]` and `sequence_output` `[batch, length, hidden]`;
    `encoder` is the backbone. The paper's optimiser is Adam with weight
    decay 0.01, learning rate 1e-4, 10k warm-up steps then linear decay:
    `bert_optimizer` gives it (with a cosine decay).

    Args:
        backbone: keras_hub.models.BertBackbone. The encoder to pretrain.
        next_sentence_weight: float. Weight of the NSP loss (1 in the
            paper; 0 trains masked LM only, as RoBERTa does).
        seed: int. Unused by the method (the backbone draws its own
            initial weights); kept in the config like every method's.

    Example:

    >>> backbone = keras_hub.models.BertBackbone(vocabulary_size=4000, num_layers=2, num_heads=2,
    ...                                          hidden_dim=64, intermediate_dim=256, max_sequence_length=64)
    >>> model = BertPretraining(backbone)
    >>> model.compile(optimizer=bert_optimizer(warmup_steps=100, decay_steps=10000))
    >>> model.fit(keras_ssl.data.bert_pretraining_batches(pairs, preprocessor, 32), epochs=1)
    >>> model.predict(batch)["pooled_output"].shape
    (32, 64)
    """

    metric_names = ("loss", "mlm_loss", "nsp_loss", "mlm_accuracy", "nsp_accuracy")

    serialized_arguments = ("backbone",)

    def __init__(self, backbone, next_sentence_weight=1.0, seed=None, **kwargs):
        import keras_hub

        super().__init__(seed=seed, **kwargs)
        if not isinstance(backbone, keras_hub.models.BertBackbone):
            raise ValueError(
                f"backbone must be a keras_hub.models.BertBackbone, got {type(backbone).__name__}: build one with "
                "keras_hub.models.BertBackbone(vocabulary_size=..., num_layers=..., ...)"
            )
        if next_sentence_weight < 0:
            raise ValueError(f"next_sentence_weight must be non-negative, got {next_sentence_weight}")
        # === Config ===
        self.next_sentence_weight = float(next_sentence_weight)
        # === Layers ===
        self.backbone = backbone
        initializer = keras.initializers.TruncatedNormal(stddev=0.02)  # BERT's initializer.
        self.masked_lm_head = keras_hub.layers.MaskedLMHead(
            token_embedding=backbone.token_embedding,
            intermediate_activation="gelu",
            kernel_initializer=initializer,
            dtype=backbone.dtype_policy,
            name="mlm_head",
        )
        self.next_sentence_head = keras.layers.Dense(
            2, kernel_initializer=initializer, dtype=backbone.dtype_policy, name="nsp_head"
        )
        # Built now, so Keras never builds the model by tracing a call on the
        # structure of a training batch (under a strategy).
        self.masked_lm_head.build((None, None, backbone.hidden_dim))
        self.next_sentence_head.build((None, backbone.hidden_dim))
        self.built = True

    # --- contract ------------------------------------------------------
    @property
    def encoder(self):
        """The backbone that gets exported."""
        return self.backbone

    def call(self, inputs, training=False):
        if not isinstance(inputs, dict):
            raise ValueError(
                f"{type(self).__name__} takes a dict with token_ids, segment_ids and padding_mask, got "
                f"{type(inputs).__name__}: use keras_ssl.data.bert_pretraining_batches or a BertPreprocessor"
            )
        features = {key: inputs[key] for key in ("token_ids", "segment_ids", "padding_mask")}
        return self.backbone(features, training=training)

    def pretraining_logits(self, inputs, training=False):
        """`(mlm_logits [batch, predictions, vocabulary], nsp_logits
        [batch, 2])` of a batch dict with `mask_positions`."""
        outputs = self(inputs, training=training)
        mlm_logits = self.masked_lm_head(outputs["sequence_output"], inputs["mask_positions"])
        nsp_logits = self.next_sentence_head(outputs["pooled_output"])
        return mlm_logits, nsp_logits

    def unpack_batch(self, data):
        """Checks a batch dict (see `BATCH_KEYS`) and returns it."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        if not isinstance(x, dict):
            raise ValueError(
                f"{type(self).__name__} trains on dict batches, got {type(x).__name__}: make them with "
                "keras_ssl.data.bert_pretraining_batches"
            )
        missing = [key for key in BATCH_KEYS if key not in x]
        if missing:
            raise ValueError(
                f"{type(self).__name__} batch lacks {', '.join(missing)}: make batches with "
                "keras_ssl.data.bert_pretraining_batches"
            )
        return x

    def compute_losses(self, batch, training):
        """Losses and accuracies of a batch on this replica: `loss` (what
        `train_step` minimises) and the metrics in `metric_names`, plus
        `num_masked` (chosen tokens over all replicas)."""
        mlm_logits, nsp_logits = self.pretraining_logits(batch, training=training)
        mlm_logits = tf.cast(mlm_logits, "float32")
        nsp_logits = tf.cast(nsp_logits, "float32")
        mask_ids = tf.cast(batch["mask_ids"], "int32")
        weights = tf.cast(batch["mask_weights"], "float32")
        nsp_labels = tf.cast(batch["nsp_labels"], "int32")

        replicas = tf.cast(num_replicas_in_sync(), "float32")
        # Mean over the chosen tokens of the global batch: this replica's sum
        # over the global count, times the replica count (train_step divides
        # by it again), so N replicas give exactly the one-replica loss.
        num_masked = tf.stop_gradient(_cross_replica_sum(tf.reduce_sum(weights)))
        scale = replicas / tf.maximum(num_masked, 1.0)
        token_losses = keras.losses.sparse_categorical_crossentropy(mask_ids, mlm_logits, from_logits=True)
        mlm_loss = tf.reduce_sum(token_losses * weights) * scale
        correct = tf.cast(tf.equal(tf.argmax(mlm_logits, axis=-1, output_type="int32"), mask_ids), "float32")
        mlm_accuracy = tf.reduce_sum(correct * weights) * scale

        nsp_loss = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(nsp_labels, nsp_logits, from_logits=True)
        )
        nsp_accuracy = tf.reduce_mean(
            tf.cast(tf.equal(tf.argmax(nsp_logits, axis=-1, output_type="int32"), nsp_labels), "float32")
        )
        return {
            "loss": mlm_loss + self.next_sentence_weight * nsp_loss,
            "mlm_loss": mlm_loss,
            "nsp_loss": nsp_loss,
            "mlm_accuracy": mlm_accuracy,
            "nsp_accuracy": nsp_accuracy,
            "num_masked": num_masked,
        }

    def tracker_weights(self, batch, results, training):
        """Masked-LM values weigh by the chosen tokens of the step, the others
        by the pairs of the batch (so `evaluate` gives the mean over all
        tokens and all pairs)."""
        pairs = tf.cast(tf.shape(batch["nsp_labels"])[0], "float32")
        return {name: results["num_masked"] if name.startswith("mlm_") else pairs for name in self.metric_names}

    # --- serialization -------------------------------------------------
    def get_config(self):
        return {
            **super().get_config(),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "next_sentence_weight": self.next_sentence_weight,
        }
