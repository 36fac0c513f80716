"""Training examples of the language models, prepared outside the graph.

Tokenisation and vocabulary look-ups are NumPy work done once (PITFALLS:
string ops do not belong in a training graph); the models train on integer
arrays that `fit` batches:

- word level (`NeuralLanguageModel`): `build_word_vocabulary` (specials, then
  words with at least `min_count` occurrences), and `word_ngram_windows`:
  for every word of every sentence, and for the sentence end, the ids of
  the `context_size` words before it (padded with `<s>` at the start of a
  sentence) and its own id;
- character level (`CharLSTMLanguageModel`): `documents_text` joins a
  corpus into one string, `char_vocabulary` lists its characters, and
  `char_sequences` cuts the ids into fixed-length input sequences whose
  targets are the same characters shifted by one.
"""

import collections

import numpy as np

from keras_ssl.data.text import word_tokenize

UNKNOWN_WORD = "<unk>"
SENTENCE_START = "<s>"
SENTENCE_END = "</s>"
WORD_SPECIAL_TOKENS = (UNKNOWN_WORD, SENTENCE_START, SENTENCE_END)
# U+FFFD, Unicode's own replacement character, stands for characters
# the training text did not have.
UNKNOWN_CHAR = "\ufffd"


def _as_word_lists(sentences):
    """Sentences as lists of words: strings go through `word_tokenize`."""
    if isinstance(sentences, str):
        raise ValueError(
            "sentences must be a list of sentences (strings or word lists), got one string: wrap it in a list"
        )
    return [word_tokenize(s) if isinstance(s, str) else list(s) for s in sentences]


def build_word_vocabulary(sentences, min_count=1, max_size=None):
    """The word vocabulary of `sentences`: `<unk>`, `<s>`, `</s>`, then the
    words seen at least `min_count` times, most frequent first (ties in
    alphabetical order).

    Args:
        sentences: list of str or of lists of str. Training sentences
            (strings are split with `word_tokenize`).
        min_count: int. Rarer words map to `<unk>`.
        max_size: int. At most this many entries in all (None: no limit).

    Returns:
        A list of str; a word's id is its index.

    Example:

    >>> build_word_vocabulary([["the", "cat"], ["the", "dog"]])
    ['<unk>', '<s>', '</s>', 'the', 'cat', 'dog']
    """
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}")
    if max_size is not None and max_size <= len(WORD_SPECIAL_TOKENS):
        raise ValueError(f"max_size must exceed the {len(WORD_SPECIAL_TOKENS)} special tokens, got {max_size}")
    counts = collections.Counter(w for s in _as_word_lists(sentences) for w in s)
    for token in WORD_SPECIAL_TOKENS:
        counts.pop(token, None)
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    vocabulary = [*WORD_SPECIAL_TOKENS, *words]
    return vocabulary if max_size is None else vocabulary[:max_size]


def _check_word_vocabulary(vocabulary):
    if list(vocabulary[: len(WORD_SPECIAL_TOKENS)]) != list(WORD_SPECIAL_TOKENS):
        raise ValueError(
            f"a word vocabulary must start with {list(WORD_SPECIAL_TOKENS)}, got "
            f"{list(vocabulary[:3])}: build it with build_word_vocabulary(sentences)"
        )


def word_ids(words, vocabulary):
    """Ids of `words` (a list of str) in `vocabulary`; unknown words get the
    id of `<unk>` (0)."""
    index = {w: i for i, w in enumerate(vocabulary)}
    return np.array([index.get(w, 0) for w in words], dtype="int32")


def word_ngram_windows(sentences, vocabulary, context_size):
    """The n-gram training examples of Bengio et al. (2003), sentence by
    sentence.

    Each sentence is read as `<s>` x `context_size`, its words, `</s>`;
    every word and the final `</s>` is a target, its context the
    `context_size` ids before it. Words outside `vocabulary` become `<unk>`.

    Args:
        sentences: list of str or of lists of str.
        vocabulary: list of str from `build_word_vocabulary`.
        context_size: int. Number of previous words (n - 1 of an n-gram).

    Returns:
        `(contexts, targets)`: int32 arrays `[N, context_size]` and `[N]`,
        N = number of words + number of sentences.

    Example:

    >>> vocabulary = ["<unk>", "<s>", "</s>", "the", "cat"]
    >>> contexts, targets = word_ngram_windows([["the", "cat"]], vocabulary, 2)
    >>> contexts.tolist(), targets.tolist()
    ([[1, 1], [1, 3], [3, 4]], [3, 4, 2])
    """
    if int(context_size) != context_size or context_size < 1:
        raise ValueError(f"context_size must be a positive integer, got {context_size}")
    _check_word_vocabulary(vocabulary)
    context_size = int(context_size)
    start, end = WORD_SPECIAL_TOKENS.index(SENTENCE_START), WORD_SPECIAL_TOKENS.index(SENTENCE_END)
    sentences = _as_word_lists(sentences)
    lengths = np.array([len(s) + 1 for s in sentences], dtype="int64")  # Words and </s>.
    if lengths.size == 0:
        return np.zeros((0, context_size), "int32"), np.zeros((0,), "int32")
    # One stream: per sentence, context_size start pads, the words, </s>.
    ids = word_ids([w for s in sentences for w in s], vocabulary)
    stream = np.full(int(lengths.sum()) + context_size * len(sentences), start, dtype="int32")
    block_starts = np.concatenate([[0], np.cumsum(lengths + context_size)[:-1]])
    # Targets are each block's last `length` positions.
    offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    positions = np.repeat(block_starts + context_size, lengths) + offsets
    is_end = offsets == np.repeat(lengths - 1, lengths)
    stream[positions[~is_end]] = ids
    stream[positions[is_end]] = end
    contexts = stream[positions[:, None] + np.arange(-context_size, 0)[None, :]]
    return contexts.astype("int32"), stream[positions].astype("int32")


def documents_text(documents):
    """A corpus's documents as one string for a character model: the
    sentences of a document joined by spaces, one document per line."""
    return "".join(" ".join(sentences) + "\n" for sentences in documents)


def char_vocabulary(text, min_count=1):
    """The characters of `text` seen at least `min_count` times, in code
    point order, after `UNKNOWN_CHAR` (id 0) for all others."""
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}")
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}: join documents with documents_text")
    counts = collections.Counter(text)
    counts.pop(UNKNOWN_CHAR, None)
    return [UNKNOWN_CHAR, *sorted(c for c, n in counts.items() if n >= min_count)]


def char_ids(text, vocabulary):
    """Ids of the characters of `text`; characters outside `vocabulary`
    get id 0 (`UNKNOWN_CHAR`)."""
    if not vocabulary or vocabulary[0] != UNKNOWN_CHAR:
        raise ValueError("a character vocabulary must start with UNKNOWN_CHAR: build it with char_vocabulary(text)")
    index = {c: i for i, c in enumerate(vocabulary)}
    return np.array([index.get(c, 0) for c in text], dtype="int32")


def char_sequences(text, vocabulary, sequence_length, stride=None):
    """Fixed-length training sequences of a character language model.

    Window `k` covers characters `k * stride ... k * stride + sequence_length`;
    its inputs are the first `sequence_length` of them and its targets the
    same characters one step later (the last partial window is dropped).

    Args:
        text: str (or an int array of ids already mapped).
        vocabulary: list of str from `char_vocabulary`.
        sequence_length: int. Steps of back-propagation through time.
        stride: int. Start-to-start distance of windows (default
            `sequence_length`: every character is a target once).

    Returns:
        `(inputs, targets)`: int32 arrays `[N, sequence_length]`.

    Example:

    >>> vocabulary = char_vocabulary("abcde")
    >>> inputs, targets = char_sequences("abcde", vocabulary, 2)
    >>> inputs.tolist(), targets.tolist()
    ([[1, 2], [3, 4]], [[2, 3], [4, 5]])
    """
    if int(sequence_length) != sequence_length or sequence_length < 1:
        raise ValueError(f"sequence_length must be a positive integer, got {sequence_length}")
    stride = int(sequence_length if stride is None else stride)
    if stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride}")
    ids = char_ids(text, vocabulary) if isinstance(text, str) else np.asarray(text, "int32")
    if ids.ndim != 1:
        raise ValueError(f"text must be a str or a 1-D array of ids, got shape {ids.shape}")
    length = int(sequence_length)
    count = (len(ids) - 1 - length) // stride + 1 if len(ids) > length else 0
    if count == 0:
        return np.zeros((0, length), "int32"), np.zeros((0, length), "int32")
    starts = np.arange(count) * stride
    windows = ids[starts[:, None] + np.arange(length + 1)[None, :]]
    return windows[:, :-1].astype("int32"), windows[:, 1:].astype("int32")


def language_model_batches(inputs, targets, batch_size, seed=None, shuffle=True, repeat=False):
    """A `tf.data.Dataset` of `(inputs, targets)` batches for `fit`.

    With `shuffle`, every pass (each epoch Keras iterates it again) draws a
    new permutation of all examples from `seed`: a whole-array shuffle of
    indices, so no shuffle buffer of a million windows fills first.
    `repeat` makes it endless (for a fixed `steps_per_epoch`), each pass
    differently shuffled.
    """
    import tensorflow as tf

    inputs, targets = np.asarray(inputs), np.asarray(targets)
    if len(inputs) != len(targets):
        raise ValueError(f"inputs and targets differ in length: {len(inputs)} and {len(targets)}")
    if len(inputs) == 0:
        raise ValueError("no training examples: the text is shorter than one window")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    inputs, targets = tf.constant(inputs), tf.constant(targets)
    count = len(targets)

    def one_pass(pass_seed):
        order = tf.range(count, dtype="int64")
        if shuffle:
            order = tf.random.experimental.stateless_shuffle(order, seed=tf.stack([pass_seed, 0]))
        return tf.data.Dataset.from_tensor_slices(order).batch(int(batch_size))

    # One seed per pass, different on every iteration of the dataset.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    seeds = seeds if repeat else seeds.take(1)
    batches = seeds.flat_map(one_pass).map(lambda order: (tf.gather(inputs, order), tf.gather(targets, order)))
    return batches.prefetch(tf.data.AUTOTUNE)
