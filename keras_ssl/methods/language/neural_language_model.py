"""Neural probabilistic language model (Bengio et al. 2003)."""

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.data.language_model_data import (
    SENTENCE_END,
    SENTENCE_START,
    UNKNOWN_WORD,
    WORD_SPECIAL_TOKENS,
    word_ngram_windows,
)
from keras_ssl.data.text import word_tokenize
from keras_ssl.methods.language.base import LanguageModel, sample_next_token


@keras.saving.register_keras_serializable(package="keras_ssl")
class NeuralLanguageModel(LanguageModel):
    """Neural probabilistic language model: the next word from the
    embeddings of the previous words.

    Bengio, Ducharme, Vincent and Jauvin, "A Neural Probabilistic Language
    Model" (JMLR 2003). The `context_size` previous words (n - 1 of an
    n-gram) are looked up in a shared embedding table `C`, concatenated
    into `x`, and scored over the whole vocabulary:
    `y = b + W x + U tanh(d + H x)`, `P(w | context) = softmax(y)`. The
    direct connections `W x` are optional (`direct_connections`); the
    paper's best Brown-corpus model (MLP10: n = 5, h = 100, m = 30) has none.
    The learned rows of `C` are word embeddings (`word_embeddings`).

    `fit` takes `(contexts, targets)`: int arrays `[N, context_size]` and
    `[N]` of word ids from `keras_ssl.data.word_ngram_windows` (sentences
    padded with `<s>`, each ending in a predicted `</s>`), or a
    `tf.data.Dataset` of such batches. `call` returns the logits `[batch,
    vocabulary]` of the next word. Reports `loss` (mean NLL per word, nats)
    and `perplexity` (its exp); `keras_ssl.evaluation.perplexity` gives the
    held-out perplexity over all tokens. `compile()` without an optimizer
    uses AdamW (learning rate 1e-3, the paper's weight decay 1e-4).

    Differences from the paper: the paper trains with plain SGD, a decaying
    learning rate and weight decay 1e-4 on AP News and Brown; the zoo config
    uses AdamW and the small offline corpora of `load_text_corpus`.

    Args:
        vocabulary: list of str. Word by id, starting with `<unk>`, `<s>`,
            `</s>` (`keras_ssl.data.build_word_vocabulary`); stored in the config.
        context_size: int. Previous words seen (paper: n = 5, so 4).
        embedding_dim: int. Size `m` of a word's feature vector (30).
        hidden_units: int. Size `h` of the tanh hidden layer (100; 0 keeps
            only the direct connections, which must then be on).
        direct_connections: bool. Add the paper's linear path `W x` from
            the embeddings to the output (False).
        dropout: float. Dropout on the hidden layer (0, as the paper; for
            small corpora).
        seed: int. Seed of dropout.

    Example:

    >>> sentences = load_text_corpus("lee").words("train")
    >>> vocabulary = build_word_vocabulary(sentences, min_count=2)
    >>> contexts, targets = word_ngram_windows(sentences, vocabulary, context_size=4)
    >>> model = NeuralLanguageModel(vocabulary)
    >>> model.compile()  # AdamW(1e-3, weight_decay=1e-4)
    >>> model.fit(contexts, targets, batch_size=256, epochs=5)
    >>> model.sample("the government", length=10, seed=0)
    """

    token_separator = " "

    def __init__(
        self,
        vocabulary,
        context_size=4,
        embedding_dim=30,
        hidden_units=100,
        direct_connections=False,
        dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(vocabulary=vocabulary, seed=seed, **kwargs)
        if self.vocabulary[: len(WORD_SPECIAL_TOKENS)] != list(WORD_SPECIAL_TOKENS):
            raise ValueError(
                f"vocabulary must start with {list(WORD_SPECIAL_TOKENS)}, got {self.vocabulary[:3]}: "
                "build it with keras_ssl.data.build_word_vocabulary(sentences)"
            )
        for name, value in (("context_size", context_size), ("embedding_dim", embedding_dim)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        if int(hidden_units) != hidden_units or hidden_units < 0:
            raise ValueError(f"hidden_units must be a non-negative integer, got {hidden_units}")
        if hidden_units == 0 and not direct_connections:
            raise ValueError(
                "hidden_units=0 leaves no path to the output: set hidden_units > 0 or direct_connections=True"
            )
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        # === Config ===
        self.context_size = int(context_size)
        self.embedding_dim = int(embedding_dim)
        self.hidden_units = int(hidden_units)
        self.direct_connections = bool(direct_connections)
        self.dropout = float(dropout)
        size = self.vocabulary_size
        flat = self.context_size * self.embedding_dim
        # === Layers ===
        self.embedding = keras.layers.Embedding(size, self.embedding_dim, name="word_embedding")
        self.embedding.build((None, self.context_size))
        self.flatten = keras.layers.Reshape((flat,), name="concatenate")
        self.hidden = None
        if self.hidden_units:
            self.hidden = keras.layers.Dense(self.hidden_units, activation="tanh", name="hidden")
            self.hidden.build((None, flat))
            self.hidden_dropout = keras.layers.Dropout(self.dropout, seed=seed, name="hidden_dropout")
            self.output_layer = keras.layers.Dense(size, name="output")
            self.output_layer.build((None, self.hidden_units))
        self.direct = None
        if self.direct_connections:
            # With no hidden layer the direct path carries the output bias.
            self.direct = keras.layers.Dense(size, use_bias=not self.hidden_units, name="direct")
            self.direct.build((None, flat))
        self.built = True

    def default_optimizer(self):
        return keras.optimizers.AdamW(learning_rate=1e-3, weight_decay=1e-4)

    @property
    def word_embeddings(self):
        """The learned feature vectors `C`, `[vocabulary, embedding_dim]`."""
        return keras.ops.convert_to_numpy(self.embedding.embeddings)

    def call(self, inputs, training=False):
        inputs = tf.convert_to_tensor(inputs)
        if inputs.shape.rank != 2 or (inputs.shape[-1] is not None and inputs.shape[-1] != self.context_size):
            raise ValueError(
                f"NeuralLanguageModel expects contexts of shape [batch, {self.context_size}] "
                f"(context_size), got {tuple(inputs.shape)}: make them with word_ngram_windows"
            )
        if not inputs.dtype.is_integer:
            raise ValueError(f"NeuralLanguageModel expects integer word ids, got dtype {inputs.dtype.name}")
        x = self.flatten(self.embedding(inputs))
        logits = None
        if self.hidden is not None:
            logits = self.output_layer(self.hidden_dropout(self.hidden(x), training=training))
        if self.direct is not None:
            direct = self.direct(x)
            logits = direct if logits is None else logits + direct
        return tf.cast(logits, "float32")

    def ngram_windows(self, sentences):
        """`(contexts, targets)` of `sentences` for this model's vocabulary
        and context size (`word_ngram_windows`)."""
        return word_ngram_windows(sentences, self.vocabulary, self.context_size)

    def sample(self, prompt="", length=20, temperature=1.0, seed=None):
        """Generates up to `length` words after `prompt`, one at a time,
        stopping at the end of the sentence.

        Args:
            prompt: str. Start of the sentence (may be empty).
            length: int. Most words to generate.
            temperature: float. Softmax temperature; 0 is greedy decoding.
            seed: int. Seed of the draws (None: random).

        Returns:
            The generated words after the prompt, joined by spaces
            (`<unk>` and `<s>` are never generated).
        """
        unknown, start, end = (self.token_index[t] for t in (UNKNOWN_WORD, SENTENCE_START, SENTENCE_END))
        context = [start] * self.context_size + [self.token_index.get(w, unknown) for w in word_tokenize(prompt)]
        rng = np.random.default_rng(seed)
        words = []
        for _ in range(int(length)):
            window = np.array([context[-self.context_size :]], dtype="int32")
            logits = keras.ops.convert_to_numpy(self(window, training=False))[0]
            token = sample_next_token(logits, temperature, rng, banned=(unknown, start))
            if token == end:
                break
            words.append(self.vocabulary[token])
            context.append(token)
        return " ".join(words)

    def get_config(self):
        return {
            **super().get_config(),
            "context_size": self.context_size,
            "embedding_dim": self.embedding_dim,
            "hidden_units": self.hidden_units,
            "direct_connections": self.direct_connections,
            "dropout": self.dropout,
        }
