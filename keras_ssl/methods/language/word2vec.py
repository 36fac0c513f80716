"""word2vec: skip-gram and CBOW with negative sampling."""

import types

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.data.word2vec_pairs import ARCHITECTURES, alias_table, noise_distribution
from keras_ssl.methods.base import Method
from keras_ssl.methods.steps import apply_if_finite, scaled_loss

# Default examples per SGD update of `updates_per_batch` (see `Word2Vec`'s
# "Updates" and "Speed"; the word2vec benchmark measures quality and speed).
UPDATE_SIZE = 1024


def updates_per_batch(batch_size, update_size=UPDATE_SIZE):
    """`Word2Vec`'s `updates_per_batch` for batches of `batch_size`:
    updates of about `update_size` examples (at least one).

    >>> updates_per_batch(16384), updates_per_batch(5000), updates_per_batch(100)
    (16, 5, 1)
    """
    return max(1, round(batch_size / update_size))


def plain_sgd(optimizer):
    """Whether `optimizer` is `keras.optimizers.SGD` with nothing added
    (momentum, weight decay, clipping, EMA, accumulation, loss scaling):
    word2vec's update, which `Word2Vec` runs with its own XLA step."""
    return (
        type(optimizer) is keras.optimizers.SGD
        and not optimizer.momentum
        and not optimizer.weight_decay
        and optimizer.clipnorm is None
        and optimizer.clipvalue is None
        and optimizer.global_clipnorm is None
        and not optimizer.use_ema
        and not optimizer.gradient_accumulation_steps
        and not optimizer.loss_scale_factor
    )


def _lookup(embedding, ids):
    """Rows of an `Embedding` table, read with a sparse gather of the
    variable (`Embedding.__call__` reads the whole table first, and the
    sparse update then copies it: a cost that grows with the vocabulary)."""
    return tf.nn.embedding_lookup(embedding.embeddings.value, ids)


@keras.saving.register_keras_serializable(package="keras_ssl")
class Word2Vec(Method):
    """word2vec: word vectors from predicting the words around each word.

    Mikolov, Chen, Corrado and Dean, "Efficient Estimation of Word
    Representations in Vector Space" (ICLR workshop 2013); Mikolov,
    Sutskever, Chen, Corrado and Dean, "Distributed Representations of Words
    and Phrases and their Compositionality" (NeurIPS 2013).

    Two tables: input vectors `v` (the word vectors, `vectors`) and output
    vectors `u`. Skip-gram scores a context word `o` from the centre word
    `c` as `u_o . v_c`; CBOW scores the centre word from the mean of the
    context words' input vectors `h`. Negative sampling: each example draws
    `negatives` noise words from the unigram^0.75 distribution (in the
    graph, with Walker's alias method) and minimises

        -log sigmoid(u_o . h) - sum_k log sigmoid(-u_k . h)

    where a noise word equal to the target is skipped, as in word2vec.c.
    Initialisation as word2vec.c: `v` uniform in +-0.5/dimension, `u` zero.

    The update is word2vec's SGD step per example: the gradient is taken of
    the *sum* of the examples' losses (the reported `loss` is the mean per
    example), so the learning rate is word2vec's (0.025 for skip-gram, 0.05
    for CBOW, decayed linearly to 1e-4) whatever the batch size or replica
    count. As in word2vec.c and gensim (`cbow_mean=1`), CBOW averages the
    context vectors but gives each context word the full error of the
    average (not a 1/n share).

    Updates: word2vec.c updates after every example; here each batch is
    split into `updates_per_batch` consecutive SGD updates (8: batches of
    8192 make updates of 1024). Within an update, a word that occurs many
    times (a frequent noise word) gets the sum of its updates at once.
    Shuffled epochs (`word2vec_dataset`'s default; in corpus order quality
    collapses) and updates of about a thousand examples keep this close to
    word2vec's per-example SGD; much larger single updates can diverge.

    Speed: with plain `keras.optimizers.SGD` (see `plain_sgd`) a train step
    runs `sgd_update`, one update as one XLA program (the look-ups, loss,
    sparse gradient and the row updates `v -= lr * g`), `updates_per_batch`
    times, with `lr` the optimizer's learning rate at this step (word2vec.c
    too re-reads its decaying rate only every 10,000 words) and
    `optimizer.iterations` counting steps. Several updates per step share
    the step's work (noise draws, padding, Keras's loop). Each update is
    padded with examples of weight 0 to a multiple of `PAD_MULTIPLE`, and
    XLA compiles the update once per padded shape, whatever
    `updates_per_batch`. Any other optimizer, `xla_update = False` or a
    `tf.distribute` strategy runs TF's kernels and one `optimizer.apply`
    per batch (a batch is then one update). A non-finite loss raises; the
    update that met it, and every later one of the batch, changes no
    weight. The word2vec benchmark measures quality and speed against
    gensim: `python -m zoo.benchmark --suite=word2vec` (results in
    `benchmarks/word2vec`).

    `fit` takes the dicts of `keras_ssl.data.word2vec_dataset`:
    `{"centre", "context"}` int32 `[batch]` for skip-gram; `{"context"`
    int32 `[batch, 2 * window]`, `"context_mask"` bool or uint8 (1 marks a
    context word; the dataset's is uint8, which Keras can average over
    replicas under a strategy), `"centre"}` for CBOW. `call(ids)` returns the input vectors of int ids. The vocabulary
    is part of the config, so a `.keras` file keeps it: `vector(word)`,
    `most_similar(word, k)` and `vectors` work after loading.

    Args:
        vocabulary: list of str. The words, index = id (most frequent
            first, as `WordVocabulary`).
        counts: list of int. Corpus count of each word, for the noise
            distribution (uniform noise if None).
        architecture: str. `"skip_gram"` or `"cbow"`.
        dimension: int. Vector size (300 in the papers; 100, gensim's
            default, suits corpora of a few million words).
        negatives: int. Noise words per example (5).
        noise_exponent: float. Exponent of the unigram noise distribution
            (0.75).
        updates_per_batch: int. SGD updates each batch is split into (8;
            with plain SGD, see above). `updates_per_batch(batch_size)` of
            this module gives updates of about `UPDATE_SIZE` = 1024.
        seed: int. Seed of the initial vectors and of the noise draws.

    Example:

    >>> vocabulary = keras_ssl.data.WordVocabulary.build(corpus.words("train"), min_count=5)
    >>> ids, sentence_ids = vocabulary.encode(corpus.words("train"))
    >>> data = keras_ssl.data.word2vec_dataset(ids, sentence_ids, vocabulary.counts, batch_size=8192)
    >>> model = Word2Vec(vocabulary.words, vocabulary.counts, architecture="skip_gram")  # 8 updates of 1024
    >>> model.compile(optimizer=keras.optimizers.SGD(0.025), steps_per_execution=16)
    >>> model.fit(data, epochs=5)
    >>> model.most_similar("king", k=5)
    """

    def __init__(
        self,
        vocabulary,
        counts=None,
        architecture="skip_gram",
        dimension=100,
        negatives=5,
        noise_exponent=0.75,
        updates_per_batch=8,
        seed=None,
        **kwargs,
    ):
        super().__init__(seed=seed, **kwargs)
        if isinstance(vocabulary, str) or not all(isinstance(w, str) for w in vocabulary):
            raise ValueError("vocabulary must be a list of words (str), e.g. WordVocabulary.build(...).words")
        vocabulary = list(vocabulary)
        if not vocabulary:
            raise ValueError("vocabulary is empty: pass the words of a WordVocabulary")
        if len(set(vocabulary)) != len(vocabulary):
            raise ValueError("vocabulary has duplicate words: pass distinct words")
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        if int(dimension) < 1 or int(negatives) < 1 or int(updates_per_batch) < 1:
            raise ValueError(
                f"dimension, negatives and updates_per_batch must be at least 1, got {dimension}, "
                f"{negatives} and {updates_per_batch}"
            )
        if counts is not None:
            counts = [int(c) for c in counts]
            if len(counts) != len(vocabulary):
                raise ValueError(
                    f"counts has {len(counts)} entries for {len(vocabulary)} words: pass one count per word"
                )
        # === Config ===
        # The words live in a plain namespace: a list attribute of a Keras
        # layer is tracked element by element (0.1-0.2 s for 20,000 words).
        self._words = types.SimpleNamespace(
            vocabulary=vocabulary, counts=counts, word_index={w: i for i, w in enumerate(vocabulary)}
        )
        self.architecture = architecture
        self.dimension = int(dimension)
        self.negatives = int(negatives)
        self.noise_exponent = float(noise_exponent)
        # === Layers ===
        size = len(vocabulary)
        bound = 0.5 / self.dimension
        self.input_embedding = keras.layers.Embedding(
            size,
            self.dimension,
            name="input_embedding",
            embeddings_initializer=keras.initializers.RandomUniform(-bound, bound, seed=seed),
        )
        self.output_embedding = keras.layers.Embedding(
            size, self.dimension, embeddings_initializer="zeros", name="output_embedding"
        )
        self.input_embedding.build((None,))
        self.output_embedding.build((None,))
        accept, alias = alias_table(
            noise_distribution(counts if counts is not None else np.ones(size), self.noise_exponent)
        )
        self._noise_accept = tf.constant(accept, tf.float32)
        self._noise_alias = tf.constant(alias, tf.int32)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.updates_per_batch = int(updates_per_batch)
        # Train steps with plain SGD run `sgd_update` with XLA; False runs
        # TF's kernels and the optimizer's apply, one update per batch.
        self.xla_update = True
        self._compiled_update = None
        self.built = True

    # --- word vectors ---------------------------------------------------
    @property
    def vocabulary(self):
        """The words, list of str (index = id)."""
        return self._words.vocabulary

    @property
    def counts(self):
        """Corpus count of each word (list of int), or None."""
        return self._words.counts

    @property
    def word_index(self):
        """`{word: id}`."""
        return self._words.word_index

    @property
    def vectors(self):
        """The word vectors (input embeddings), float32 `[vocabulary, dimension]`."""
        return keras.ops.convert_to_numpy(self.input_embedding.embeddings)

    def vector(self, word):
        """The vector of `word` (KeyError if it is not in the vocabulary)."""
        if word not in self.word_index:
            raise KeyError(f"{word!r} is not in the vocabulary of {len(self.vocabulary)} words")
        return self.vectors[self.word_index[word]]

    def most_similar(self, word, k=10):
        """The `k` words of highest cosine similarity to `word`, as
        `[(word, similarity), ...]`, best first."""
        from keras_ssl.evaluation.word_embeddings import nearest_neighbours

        return nearest_neighbours(self.vectors, self.vocabulary, word, k=k)

    # --- training -------------------------------------------------------
    PAD_MULTIPLE = 32  # XLA train steps pad each update to a multiple of this many examples.

    def call(self, inputs):
        return self.input_embedding(inputs)

    def sample_negatives(self, shape):
        """Noise word ids of `shape`, from the unigram^0.75 distribution."""
        # Walker's alias method: O(1) per draw, exact.
        ids = keras.random.randint(shape, 0, len(self.vocabulary), dtype="int32", seed=self.seed_generator)
        uniform = keras.random.uniform(shape, seed=self.seed_generator)
        return tf.where(uniform < tf.gather(self._noise_accept, ids), ids, tf.gather(self._noise_alias, ids))

    def hidden(self, batch):
        """`(h, targets)`: the input side of each example (centre vector or
        context mean) and its positive target id."""
        if self.architecture == "skip_gram":
            return _lookup(self.input_embedding, batch["centre"]), batch["context"]
        context = batch["context"]
        mask = tf.cast(batch["context_mask"], "float32")
        # All 2 * window columns are looked up (static shapes, for XLA);
        # masked ones are multiplied by 0, so their rows of the sparse
        # gradient are zero and the update leaves them unchanged.
        summed = tf.reduce_sum(_lookup(self.input_embedding, context) * mask[:, :, None], axis=1)
        count = tf.maximum(tf.reduce_sum(mask, axis=1, keepdims=True), 1.0)
        # Forward: the mean; backward: the full error to every context word.
        return summed - tf.stop_gradient(summed - summed / count), batch["centre"]

    def example_losses(self, batch, negatives=None):
        """Negative-sampling loss of each example, float32 `[batch]`, with
        `negatives` (int `[batch, negatives]`) drawn if not given."""
        return self._example_losses(self.check_batch(batch), negatives)

    def _example_losses(self, batch, negatives=None):
        """`example_losses` of a batch `check_batch` has passed."""
        h, positives = self.hidden(batch)
        if negatives is None:
            negatives = self.sample_negatives([tf.shape(positives)[0], self.negatives])
        negatives = tf.cast(negatives, tf.int32)
        targets = tf.concat([positives[:, None], negatives], axis=1)
        # A broadcast product: oneDNN's einsum is several times slower for these shapes.
        logits = tf.reduce_sum(tf.expand_dims(h, 1) * _lookup(self.output_embedding, targets), axis=-1)
        logits = tf.cast(logits, "float32")
        # -log sigmoid(x) = softplus(-x) for the target (column 0), softplus(x)
        # for noise words; word2vec.c skips a noise word equal to the target.
        # One op over all columns: slicing costs more in the backward pass.
        is_noise = tf.concat([tf.zeros_like(positives[:, None]), tf.ones_like(negatives)], axis=1)
        signs = tf.cast(2 * is_noise - 1, "float32")
        weights = tf.cast(tf.logical_or(is_noise == 0, tf.not_equal(targets, positives[:, None])), "float32")
        return tf.reduce_sum(weights * tf.nn.softplus(signs * logits), axis=1)

    def check_batch(self, batch):
        if not isinstance(batch, dict):
            raise ValueError(
                f"Word2Vec expects a dict batch from keras_ssl.data.word2vec_dataset, got {type(batch).__name__}"
            )
        keys = ("centre", "context") if self.architecture == "skip_gram" else ("context", "context_mask", "centre")
        missing = [k for k in keys if k not in batch]
        if missing:
            raise ValueError(
                f"Word2Vec({self.architecture}) batches need keys {keys}, missing {missing}: build "
                f"them with word2vec_dataset(..., architecture={self.architecture!r})"
            )
        batch = {k: tf.convert_to_tensor(v) for k, v in batch.items()}
        for key in ("centre", "context"):
            if not batch[key].dtype.is_integer:
                raise ValueError(f"batch[{key!r}] must hold int word ids, got dtype {batch[key].dtype.name}")
            batch[key] = tf.cast(batch[key], tf.int32)
        if "context_mask" in batch and not (
            batch["context_mask"].dtype.is_bool or batch["context_mask"].dtype.is_integer
        ):
            raise ValueError(
                f"batch['context_mask'] must be bool or int (1 marks a context word), got dtype "
                f"{batch['context_mask'].dtype.name}"
            )
        rank = 1 if self.architecture == "skip_gram" else 2
        if batch["context"].shape.rank not in (None, rank):
            raise ValueError(
                f"batch['context'] must have rank {rank} for {self.architecture}, got shape "
                f"{tuple(batch['context'].shape)}"
            )
        return batch

    def train_step(self, data):
        batch = self.check_batch(data)
        positives = batch["centre"] if self.architecture == "cbow" else batch["context"]
        size = tf.shape(positives)[0]
        negatives = tf.cast(self.sample_negatives([size, self.negatives]), tf.int32)
        if self.xla_update and not tf.distribute.has_strategy() and plain_sgd(self.optimizer):
            # `updates_per_batch` updates of `chunk` examples: the batch is
            # padded with examples of weight 0 to a multiple of
            # PAD_MULTIPLE per update (XLA compiles once per shape; batches
            # of nearly equal size then share one).
            updates = self.updates_per_batch
            chunk = -(-size // updates)
            chunk += (-chunk) % self.PAD_MULTIPLE
            padding = updates * chunk - size

            def split(value):
                # One unstack op (indexing each part costs ~4 graph ops, and
                # tracing them a noticeable part of a short fit).
                value = tf.pad(value, [[0, padding]] + [[0, 0]] * (value.shape.rank - 1))
                return tf.unstack(tf.reshape(value, tf.concat([[updates, chunk], tf.shape(value)[1:]], 0)), num=updates)

            parts = {k: split(v) for k, v in batch.items()}
            negatives, weights = split(negatives), split(tf.ones([size]))
            if self._compiled_update is None:
                self._compiled_update = tf.function(self.sgd_update, jit_compile=True)
            # One XLA program per update, compiled once and run
            # `updates_per_batch` times (unrolling the updates into one
            # program compiled 2-3x slower and ran no faster).
            loss_sum, finite = tf.constant(0.0), tf.constant(True)
            for i in range(updates):
                loss, finite = self._compiled_update(
                    {k: v[i] for k, v in parts.items()}, negatives[i], weights[i], finite
                )
                loss_sum += loss
            self.optimizer.iterations.assign_add(tf.cast(finite, self.optimizer.iterations.dtype))
        else:
            # TF's kernels and the optimizer's apply, one update per batch
            # (any optimizer, and any tf.distribute strategy).
            with tf.GradientTape() as tape:
                losses = self._example_losses(batch, negatives)
                # word2vec's update: the sum over the global batch. Replica
                # gradients are summed, so each replica differentiates its sum.
                objective = scaled_loss(self.optimizer, tf.reduce_sum(losses), replica_mean=False)
            apply_if_finite(
                self.optimizer,
                tape,
                objective,
                self.trainable_variables,
                losses,
                "Word2Vec",
                hint="lower the learning rate or the batch size",
            )
            loss_sum, finite = tf.reduce_sum(losses), tf.constant(True)
        loss = loss_sum / tf.cast(size, "float32")
        # `sgd_update` stopped at an update whose loss was not finite;
        # raise here (a check inside XLA would not).
        check = tf.debugging.Assert(
            finite,
            [
                "Word2Vec loss is not finite (NaN or Inf): lower the learning rate or the update size; the weights "
                "were not updated by that update or any later one of the batch. Loss:",
                loss,
            ],
        )
        with tf.control_dependencies([check]):
            return self.update_trackers({"loss": tf.identity(loss)}, size)

    def sgd_update(self, batch, negatives, weights, apply=True):
        """One word2vec SGD update `v -= lr * dL/dv` of the rows `batch` (a
        part of a batch `check_batch` has passed) touches, where `L` is the sum of the example losses times `weights`
        (0 marks padding) and `lr` the optimizer's learning rate at this
        train step (word2vec.c also re-reads its decaying rate only every
        10,000 words). The XLA train step's body, run `updates_per_batch`
        times per step (the optimizer's `iterations` count train steps, as
        under `apply`). Changes nothing unless `apply` is true and the
        losses are finite; returns `(sum of the weighted losses, apply and
        finite)`, to pass as the next update's `apply`."""
        learning_rate = tf.cast(self.optimizer.learning_rate, "float32")
        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            losses = self._example_losses(batch, negatives) * weights
            loss = tf.reduce_sum(losses)
        gradients = tape.gradient(loss, variables)
        apply = tf.logical_and(apply, tf.reduce_all(tf.math.is_finite(losses)))
        for variable, gradient in zip(variables, gradients):
            step = tf.where(apply, learning_rate * gradient.values, tf.zeros_like(gradient.values))
            self.optimizer.assign_sub(variable, tf.IndexedSlices(step, gradient.indices, gradient.dense_shape))
        return loss, apply

    def test_step(self, data):
        losses = self.example_losses(data)
        return self.update_trackers({"loss": tf.reduce_mean(losses)}, tf.shape(losses)[0])

    # --- serialization --------------------------------------------------
    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary": list(self.vocabulary),
            "counts": None if self.counts is None else list(self.counts),
            "architecture": self.architecture,
            "dimension": self.dimension,
            "negatives": self.negatives,
            "noise_exponent": self.noise_exponent,
            "updates_per_batch": self.updates_per_batch,
        }
