"""The base class of the next-token language models (NPLM, char-LSTM)."""

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.methods.base import Method

LN2 = float(np.log(2.0))


def sample_next_token(logits, temperature=1.0, rng=None, banned=()):
    """Draws a token id from `softmax(logits / temperature)`.

    `temperature=0` is greedy decoding (the argmax); as the temperature
    falls towards 0 the distribution concentrates on the argmax, and above
    1 it flattens towards uniform. Ids in `banned` (e.g. `<unk>`) are
    never drawn.

    Args:
        logits: 1-D array of float. Scores over the vocabulary.
        temperature: float >= 0.
        rng: `np.random.Generator` (default: a new unseeded one).
        banned: ids never to draw.

    Returns:
        int.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 is greedy decoding), got {temperature}")
    logits = np.asarray(logits, "float64").reshape(-1).copy()
    logits[list(banned)] = -np.inf
    if temperature == 0:
        return int(np.argmax(logits))
    scaled = logits / temperature
    scaled -= scaled.max()
    probabilities = np.exp(scaled)
    probabilities /= probabilities.sum()
    rng = rng if rng is not None else np.random.default_rng()
    return int(rng.choice(len(probabilities), p=probabilities))


class LanguageModel(Method):
    """Base class of models trained to predict the next token.

    A subclass maps integer inputs to logits over its vocabulary in
    `call(inputs, training)`; `targets` hold the id each logit vector must
    predict (the shape of the logits without the vocabulary axis). This
    class adds to the contract of `Method`:

    - `fit(inputs, targets)` or a `tf.data.Dataset` of `(inputs, targets)`
      batches; the loss is the mean negative log-likelihood (nats) of this
      replica's tokens.
    - Metrics: `loss` (mean NLL per token over the epoch so far, each batch
      weighted by its number of tokens, so a short last batch counts for
      what it holds), `perplexity` = exp(loss), and, where a subclass names
      `bits_metric_name` (e.g. `bits_per_char`), loss / ln 2.
    - `test_step` computes the same without updates, so `evaluate` gives
      the held-out perplexity over all tokens.

    Args:
        vocabulary: list of str. Token strings by id (stored in the config,
            so a saved model keeps it).
        seed: int. Seed of dropout and other random draws.
    """

    token_separator = ""
    bits_metric_name = None

    nonfinite_hint = "lower the learning rate or clip the gradients"

    def __init__(self, vocabulary, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if isinstance(vocabulary, str) or not all(isinstance(t, str) for t in vocabulary):
            raise ValueError(
                f"vocabulary must be a list of token strings (its index is the id), got {type(vocabulary).__name__}"
            )
        if len(set(vocabulary)) != len(vocabulary):
            raise ValueError("vocabulary has duplicate tokens: each token must appear once")
        self.vocabulary = list(vocabulary)
        self.token_index = {token: i for i, token in enumerate(self.vocabulary)}

    def default_optimizer(self):
        return keras.optimizers.Adam()

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    # --- steps ----------------------------------------------------------
    def unpack_batch(self, data):
        """`(inputs, targets)` of a batch, checked."""
        inputs, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        name = type(self).__name__
        if targets is None:
            raise ValueError(
                f"{name} trains on (inputs, targets) pairs: call fit(inputs, targets) or pass a "
                "tf.data.Dataset of (inputs, targets) batches"
            )
        inputs, targets = tf.convert_to_tensor(inputs), tf.convert_to_tensor(targets)
        if not (inputs.dtype.is_integer and targets.dtype.is_integer):
            raise ValueError(
                f"{name} expects integer token ids, got inputs {inputs.dtype.name} and targets "
                f"{targets.dtype.name}: map tokens to ids with the model's vocabulary"
            )
        return inputs, targets

    def token_losses(self, inputs, targets, training=False):
        """Negative log-likelihood (nats) of each target token."""
        logits = tf.cast(self(inputs, training=training), "float32")
        expected = tuple(logits.shape[:-1])
        actual = tuple(targets.shape)
        if len(expected) != len(actual) or any(
            e is not None and a is not None and e != a for e, a in zip(expected, actual)
        ):
            raise ValueError(
                f"{type(self).__name__} targets must have shape {expected} to match the logits, got {actual}"
            )
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(targets, "int32"), logits=logits)

    def compute_losses(self, batch, training):
        inputs, targets = batch
        return {"loss": tf.reduce_mean(self.token_losses(inputs, targets, training=training))}

    def tracker_weights(self, batch, results, training):
        """Each batch counts for its tokens, in `fit` and in `evaluate`."""
        return tf.size(batch[1])

    def derived_logs(self, logs):
        logs = {**logs, "perplexity": tf.exp(logs["loss"])}
        if self.bits_metric_name:
            logs[self.bits_metric_name] = logs["loss"] / LN2
        return logs

    # --- serialization --------------------------------------------------
    def get_config(self):
        return {**super().get_config(), "vocabulary": list(self.vocabulary)}
