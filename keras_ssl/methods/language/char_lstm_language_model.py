"""Character-level LSTM language model (Karpathy's char-rnn)."""

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.data.language_model_data import UNKNOWN_CHAR
from keras_ssl.methods.language.base import LanguageModel, sample_next_token


@keras.saving.register_keras_serializable(package="keras_ssl")
class CharLSTMLanguageModel(LanguageModel):
    """Character-level language model: stacked LSTMs and a softmax over
    characters at every step.

    Graves, "Generating Sequences With Recurrent Neural Networks" (arXiv
    2013); Karpathy, Johnson and Fei-Fei, "Visualizing and Understanding
    Recurrent Networks" (ICLR 2016 workshop), whose char-rnn this follows:
    one-hot characters feed `num_layers` LSTMs of `units` cells, dropout
    between layers and before the output, and a softmax over the
    vocabulary predicts the next character at each step. It trains on
    fixed-length sequences (truncated back-propagation through time) and
    generates text character by character, carrying the LSTM states
    (`sample`, with a softmax temperature).

    `fit` takes `(inputs, targets)`: int arrays `[N, T]` of character ids
    from `keras_ssl.data.char_sequences` (targets are the inputs shifted by
    one), or a `tf.data.Dataset` of such batches. `call` returns the logits
    `[batch, T, vocabulary]`. Reports `loss` (mean NLL per character,
    nats), `perplexity` and `bits_per_char`. `compile()` without an
    optimizer uses char-rnn's: RMSprop, learning rate 2e-3, gradients
    clipped element-wise to [-5, 5].

    Differences from char-rnn: each sequence starts from zero states
    (char-rnn carries the last state of a batch into the next one), so
    batches can be shuffled and split across replicas; char-rnn's learning
    rate decay is left to the optimizer's schedule.

    Args:
        vocabulary: list of str. Characters by id, starting with
            `UNKNOWN_CHAR` (`keras_ssl.data.char_vocabulary`); stored in the
            config.
        units: int. LSTM cells per layer (char-rnn: 128).
        num_layers: int. Stacked LSTM layers (2).
        dropout: float. Dropout between layers and before the softmax
            (char-rnn: 0; 0.5 for large models).
        seed: int. Seed of dropout.

    Example:

    >>> text = documents_text(load_text_corpus("pydoc").train_documents)
    >>> vocabulary = char_vocabulary(text)
    >>> inputs, targets = char_sequences(text, vocabulary, sequence_length=50)
    >>> model = CharLSTMLanguageModel(vocabulary)
    >>> model.compile()
    >>> model.fit(inputs, targets, batch_size=50, epochs=10)
    >>> model.sample("The ", length=200, temperature=0.8, seed=0)
    """

    bits_metric_name = "bits_per_char"

    def __init__(self, vocabulary, units=128, num_layers=2, dropout=0.0, seed=None, **kwargs):
        super().__init__(vocabulary=vocabulary, seed=seed, **kwargs)
        if not self.vocabulary or self.vocabulary[0] != UNKNOWN_CHAR:
            raise ValueError(
                "vocabulary must start with UNKNOWN_CHAR (U+FFFD): build it with keras_ssl.data.char_vocabulary(text)"
            )
        if any(len(c) != 1 for c in self.vocabulary):
            raise ValueError("a character vocabulary holds single characters: build it with char_vocabulary(text)")
        for name, value in (("units", units), ("num_layers", num_layers)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        # === Config ===
        self.units = int(units)
        self.num_layers = int(num_layers)
        self.dropout = float(dropout)
        size = self.vocabulary_size
        # === Layers ===
        self.lstm_layers = []
        self.dropout_layers = []
        input_dim = size
        for i in range(self.num_layers):
            lstm = keras.layers.LSTM(self.units, return_sequences=True, return_state=True, name=f"lstm_{i}")
            lstm.build((None, None, input_dim))
            self.lstm_layers.append(lstm)
            self.dropout_layers.append(
                keras.layers.Dropout(self.dropout, seed=None if seed is None else seed + i, name=f"dropout_{i}")
            )
            input_dim = self.units
        self.output_layer = keras.layers.Dense(size, name="output")
        self.output_layer.build((None, None, self.units))
        self.built = True
        self._step_function = None

    def default_optimizer(self):
        return keras.optimizers.RMSprop(learning_rate=2e-3, clipvalue=5.0)

    def _check_inputs(self, inputs):
        inputs = tf.convert_to_tensor(inputs)
        if inputs.shape.rank != 2:
            raise ValueError(
                f"CharLSTMLanguageModel expects character ids of shape [batch, steps], got "
                f"{tuple(inputs.shape)}: make them with char_sequences"
            )
        if not inputs.dtype.is_integer:
            raise ValueError(f"CharLSTMLanguageModel expects integer character ids, got dtype {inputs.dtype.name}")
        return inputs

    def run_layers(self, inputs, states=None, training=False):
        """Logits `[batch, steps, vocabulary]` and the final `[h, c]` of
        every layer, starting from `states` (zeros if None)."""
        x = tf.one_hot(tf.cast(inputs, "int32"), self.vocabulary_size, dtype=self.compute_dtype)
        new_states = []
        for i, (lstm, dropout) in enumerate(zip(self.lstm_layers, self.dropout_layers)):
            x, h, c = lstm(x, initial_state=None if states is None else states[i], training=training)
            new_states.append([h, c])
            x = dropout(x, training=training)
        return tf.cast(self.output_layer(x), "float32"), new_states

    def call(self, inputs, training=False):
        logits, _ = self.run_layers(self._check_inputs(inputs), training=training)
        return logits

    def _step(self, inputs, states):
        if self._step_function is None:
            # One trace serves the prompt (any length) and every later step.
            state = tf.TensorSpec((1, self.units), self.compute_dtype)
            self._step_function = tf.function(
                lambda ids, s: self.run_layers(ids, s, training=False),
                input_signature=[tf.TensorSpec((1, None), "int32"), [[state, state]] * self.num_layers],
            )
        logits, states = self._step_function(inputs, states)
        return keras.ops.convert_to_numpy(logits[0, -1]), states

    def sample(self, prompt="", length=200, temperature=1.0, seed=None):
        """Generates `length` characters after `prompt`, one at a time,
        carrying the LSTM states from step to step.

        Args:
            prompt: str. Text to continue; the empty prompt starts after a
                line break (a document boundary in `documents_text`).
            length: int. Characters to generate.
            temperature: float. Softmax temperature: 0 is greedy decoding;
                below 1 sharper and more repetitive, above 1 more random.
            seed: int. Seed of the draws (None: random).

        Returns:
            The `length` generated characters (without the prompt; the
            unknown character is never generated).
        """
        ids = [self.token_index.get(c, 0) for c in (prompt or "\n")]
        zeros = tf.zeros((1, self.units), self.compute_dtype)
        states = [[zeros, zeros] for _ in range(self.num_layers)]
        logits, states = self._step(tf.constant([ids], "int32"), states)
        rng = np.random.default_rng(seed)
        generated = []
        for step in range(int(length)):
            token = sample_next_token(logits, temperature, rng, banned=(0,))
            generated.append(self.vocabulary[token])
            if step + 1 < length:
                logits, states = self._step(tf.constant([[token]], "int32"), states)
        return "".join(generated)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "num_layers": self.num_layers, "dropout": self.dropout}
