"""word2vec training examples: subsampling, dynamic windows, skip-gram
pairs and CBOW contexts, made with NumPy outside the graph.

Mikolov, Chen, Corrado and Dean, "Efficient Estimation of Word
Representations in Vector Space" (ICLR workshop 2013), and Mikolov,
Sutskever, Chen, Corrado and Dean, "Distributed Representations of Words
and Phrases and their Compositionality" (NeurIPS 2013). Where the papers
leave details open, word2vec.c and gensim 4 are followed:

- the corpus is word ids of in-vocabulary words only (out-of-vocabulary
  words are dropped before windows are taken; `WordVocabulary.encode`);
- each epoch, every word is kept with the probability of
  `keep_probabilities` (drawn anew each epoch), and windows span the kept
  words of a sentence only;
- each kept word gets a window size `b` uniform in `1..window` (drawn anew
  each epoch: the "dynamic window" that weights near words more);
- skip-gram: one example `(centre, context)` per word within `b` of the
  centre; CBOW: one example per centre word with at least one context
  word, the context ids padded to `2 * window` columns (offsets
  `-window..-1, 1..window`) with a mask.

An epoch's examples are a few NumPy passes over the corpus (0.1-0.3 s for
1.4M words: 1M CBOW examples or 4.1M skip-gram pairs), shuffled and cut
into large batches by `word2vec_dataset`, whose every iteration is a new
epoch.
"""

import collections
import concurrent.futures
import functools

import numpy as np

ARCHITECTURES = ("skip_gram", "cbow")
# word2vec_dataset's batches per epoch leave room for epochs this much
# larger than the first, so batches stay within batch_size.
STEPS_SLACK = 0.01


def _counts(counts):
    counts = np.asarray(counts, dtype="float64").reshape(-1)
    if counts.size == 0 or counts.min() < 0 or counts.sum() <= 0:
        raise ValueError("counts must be a non-empty list of non-negative word counts with a positive sum")
    return counts


def noise_distribution(counts, exponent=0.75):
    """The negative-sampling distribution: `counts ** exponent`, normalised
    (the unigram distribution raised to 3/4, Mikolov et al. 2013).

    Example:

    >>> noise_distribution([16, 1]).round(4).tolist()
    [0.8889, 0.1111]
    """
    weights = _counts(counts) ** float(exponent)
    return weights / weights.sum()


def keep_probabilities(counts, sample=1e-3):
    """Probability of keeping each word in an epoch (subsampling of
    frequent words), as word2vec.c and gensim compute it:

        keep(w) = min(1, (sqrt(f(w) / t) + 1) * t / f(w)),  t = sample * total

    where `f(w)` is the word's count and `total` the sum of the vocabulary's
    counts. (The NeurIPS paper writes the discard probability
    `1 - sqrt(t / f)` with `f` a frequency; the code's formula above keeps
    slightly more.) `sample=0` keeps every word.

    Example:

    >>> keep_probabilities([900, 90, 10], sample=0.01).round(4).tolist()
    [0.1165, 0.4444, 1.0]
    """
    counts = _counts(counts)
    if not 0 <= sample < 1:
        raise ValueError(f"sample must be in [0, 1), a fraction of the corpus (1e-3 in gensim), got {sample}")
    if sample == 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()
    with np.errstate(divide="ignore"):
        keep = (np.sqrt(counts / threshold) + 1) * threshold / counts
    return np.minimum(keep, 1.0)


def alias_table(probabilities):
    """Walker's alias table (Vose's construction) of a distribution:
    `(accept, alias)` such that drawing `i` uniformly, then keeping `i`
    with probability `accept[i]` and taking `alias[i]` otherwise, samples
    `probabilities` exactly in O(1) per draw.

    Example:

    >>> accept, alias = alias_table([0.5, 0.25, 0.25])
    >>> accept.tolist(), alias.tolist()
    ([1.0, 0.75, 0.75], [0, 0, 0])
    """
    probabilities = np.asarray(probabilities, dtype="float64")
    size = len(probabilities)
    scaled = probabilities * size / probabilities.sum()
    accept = np.ones(size)
    alias = np.arange(size)
    small = [i for i in range(size) if scaled[i] < 1.0]
    large = [i for i in range(size) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        accept[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    # Left-overs are 1 up to rounding.
    return accept, alias


def subsample(ids, sentence_ids, keep, rng):
    """Keeps each word id with probability `keep[id]`; returns the kept
    `(ids, sentence_ids)`."""
    ids = np.asarray(ids)
    kept = rng.random(len(ids)) < np.asarray(keep)[ids]
    return ids[kept], np.asarray(sentence_ids)[kept]


def dynamic_windows(size, window, rng):
    """One window size per word, uniform in `1..window`."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    return rng.integers(1, window + 1, size=size, dtype="int32")


def _windows(windows, size):
    windows = np.asarray(windows, dtype="int64")
    if windows.ndim == 0:
        windows = np.full(size, windows)
    if windows.shape != (size,):
        raise ValueError(f"windows must be one int or one per word ({size}), got shape {windows.shape}")
    return windows


def context_windows(ids, sentence_ids, windows, window, transposed=False):
    """The context of every word: the ids at offsets `-window..-1,
    1..window` that lie in its window and its sentence.

    Args:
        ids: int array [n]. Word ids of the (subsampled) corpus.
        sentence_ids: int array [n]. Sentence of each word (contiguous).
        windows: int or int array [n]. Window size of each centre word (at
            most `window`).
        window: int. Largest window: `2 * window` columns.
        transposed: bool. Return `[2 * window, n]` arrays instead.

    Returns:
        `(contexts, mask)`: int32 `[n, 2 * window]` ids (0 where masked)
        and bool `[n, 2 * window]`.
    """
    ids = np.asarray(ids, dtype="int32")
    sentence_ids = np.asarray(sentence_ids)
    n = len(ids)
    windows = _windows(windows, n)
    if n and windows.max() > window:
        raise ValueError(f"windows go up to {windows.max()}, more than window={window}")
    offsets = [*range(-window, 0), *range(1, window + 1)]
    # Filled as [2 * window, n] (a contiguous row per offset).
    contexts = np.zeros((len(offsets), n), "int32")
    mask = np.zeros((len(offsets), n), bool)
    for column, offset in enumerate(offsets):
        if abs(offset) >= n:
            continue
        # Words whose neighbour at `offset` exists: [lo, hi).
        lo, hi = max(0, -offset), n - max(0, offset)
        valid = (sentence_ids[lo:hi] == sentence_ids[lo + offset : hi + offset]) & (windows[lo:hi] >= abs(offset))
        mask[column, lo:hi] = valid
        np.multiply(ids[lo + offset : hi + offset], valid, out=contexts[column, lo:hi])
    return (contexts, mask) if transposed else (contexts.T, mask.T)


def skip_gram_pairs(ids, sentence_ids, windows):
    """Skip-gram examples: every `(centre, context)` with the context
    within the centre's window and in the same sentence, in corpus order
    (by centre, then by offset from -window to +window).

    Args:
        ids: int array [n]. Word ids of the (subsampled) corpus.
        sentence_ids: int array [n]. Sentence of each word (contiguous).
        windows: int or int array [n]. Window size of each centre word.

    Returns:
        `(centres, contexts)`: two int32 arrays.

    Example:

    >>> centres, contexts = skip_gram_pairs([7, 8, 9], [0, 0, 0], windows=1)
    >>> centres.tolist(), contexts.tolist()
    ([7, 8, 8, 9], [8, 7, 9, 8])
    """
    ids = np.asarray(ids, dtype="int32")
    windows = _windows(windows, len(ids))
    contexts, mask = context_windows(ids, sentence_ids, windows, int(windows.max(initial=1)))
    return np.repeat(ids, mask.sum(axis=1)), contexts[mask]


def cbow_examples(ids, sentence_ids, windows, window):
    """CBOW examples: each centre word with its context words.

    Args:
        ids: int array [n]. Word ids of the (subsampled) corpus.
        sentence_ids: int array [n]. Sentence of each word (contiguous).
        windows: int or int array [n]. Window size of each centre word
            (at most `window`).
        window: int. Largest window: the context has `2 * window` columns,
            for offsets `-window..-1, 1..window`.

    Returns:
        `(contexts, mask, centres)`: int32 `[m, 2 * window]` context ids (0
        where masked), bool `[m, 2 * window]` mask, int32 `[m]` centre ids,
        for the `m` words with at least one context word, in corpus order.

    Example:

    >>> contexts, mask, centres = cbow_examples([7, 8, 9], [0, 0, 0], windows=1, window=2)
    >>> centres.tolist(), contexts.tolist(), mask.astype(int).tolist()
    ([7, 8, 9], [[0, 0, 8, 0], [0, 7, 9, 0], [0, 8, 0, 0]], [[0, 0, 1, 0], [0, 1, 1, 0], [0, 1, 0, 0]])
    """
    sentence_ids = np.asarray(sentence_ids)
    examples = _cbow_rows(ids, sentence_ids, windows, window, np.flatnonzero(_has_neighbour(sentence_ids)))
    return examples["context"], examples["context_mask"], examples["centre"]


def _cbow_rows(ids, sentence_ids, windows, window, positions):
    """The CBOW examples of the words at `positions`, in that order (words
    without a context word give rows with an all-false mask)."""
    ids = np.asarray(ids, dtype="int32")
    # Column by column, as rows of [2 * window, n] arrays (contiguous
    # writes), then one gather of the positions' columns: 2-2.5x faster
    # than [n, 2 * window] arrays filled by column and indexed twice.
    contexts, mask = context_windows(ids, sentence_ids, windows, window, transposed=True)
    return {
        "context": np.ascontiguousarray(contexts.take(positions, axis=1).T),
        "context_mask": np.ascontiguousarray(mask.take(positions, axis=1).T),
        "centre": ids[positions],
    }


def example_count(sentence_ids, windows, architecture="skip_gram"):
    """How many examples `skip_gram_pairs` or `cbow_examples` make of a
    (subsampled) corpus with these sentences and window sizes, counted
    without making them.

    Skip-gram: a word at position `p` of a sentence of `n` words has
    `min(b, p) + min(b, n - 1 - p)` context words; CBOW: a word is an
    example if a neighbour (offset -1 or +1, always within its window) is
    in its sentence.

    Example:

    >>> example_count([0, 0, 0, 1], windows=[1, 2, 1, 1])
    4
    >>> example_count([0, 0, 0, 1], windows=1, architecture="cbow")
    3
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    sentence_ids = np.asarray(sentence_ids)
    n = len(sentence_ids)
    if n == 0:
        return 0
    if architecture == "cbow":
        return int(_has_neighbour(sentence_ids).sum())
    same_as_next = sentence_ids[1:] == sentence_ids[:-1]
    windows = _windows(windows, n)
    starts = np.flatnonzero(np.concatenate([[True], ~same_as_next]))
    lengths = np.diff(np.append(starts, n))
    position = np.arange(n) - np.repeat(starts, lengths)
    after = np.repeat(lengths, lengths) - 1 - position
    return int(np.minimum(windows, position).sum() + np.minimum(windows, after).sum())


def _has_neighbour(sentence_ids):
    """Whether each word's left or right neighbour is in its sentence: the
    CBOW centres (offsets -1 and +1 are within every window)."""
    same_as_next = sentence_ids[1:] == sentence_ids[:-1]
    has_neighbour = np.zeros(len(sentence_ids), bool)
    has_neighbour[1:] |= same_as_next
    has_neighbour[:-1] |= same_as_next
    return has_neighbour


def _epoch_words(ids, sentence_ids, counts, window, sample, rng):
    """An epoch's random words: the subsampled corpus and each kept word's
    window size, `(ids, sentence_ids, windows)`."""
    kept_ids, kept_sentences = subsample(ids, sentence_ids, keep_probabilities(counts, sample), rng)
    return kept_ids, kept_sentences, dynamic_windows(len(kept_ids), window, rng)


def _examples(words, architecture, window, rng, shuffle):
    """The examples of `_epoch_words`' draw, shuffled by `rng`."""
    kept_ids, kept_sentences, windows = words
    if architecture == "skip_gram":
        centres, contexts = skip_gram_pairs(kept_ids, kept_sentences, windows)
        examples = {"centre": centres, "context": contexts}
        if shuffle:
            order = rng.permutation(len(centres))
            examples = {k: v[order] for k, v in examples.items()}
        return examples
    # CBOW: the centres' positions are shuffled, then their rows made in
    # that order (one gather, not two).
    positions = np.flatnonzero(_has_neighbour(kept_sentences))
    if shuffle:
        positions = positions[rng.permutation(len(positions))]
    return _cbow_rows(kept_ids, kept_sentences, windows, window, positions)


def epoch_examples(ids, sentence_ids, counts, architecture="skip_gram", window=5, sample=1e-3, rng=None, shuffle=True):
    """One epoch of examples: subsampling, dynamic windows, then skip-gram
    pairs or CBOW contexts, shuffled, as the dict `Word2Vec` trains on:
    `{"centre", "context"}` (skip-gram, int32 `[m]` each) or `{"context",
    "context_mask", "centre"}` (CBOW)."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    rng = rng if rng is not None else np.random.default_rng()
    return _examples(_epoch_words(ids, sentence_ids, counts, window, sample, rng), architecture, window, rng, shuffle)


def word2vec_dataset(
    ids,
    sentence_ids,
    counts,
    architecture="skip_gram",
    window=5,
    sample=1e-3,
    batch_size=1024,
    seed=None,
    shuffle=True,
    prefetch=4,
    epochs=None,
    epochs_ahead=1,
):
    """A `tf.data.Dataset` of word2vec batches for `Word2Vec.fit` (the dicts
    of `epoch_examples`, CBOW's `context_mask` as uint8); every
    iteration (every Keras epoch) is a new epoch drawn with `epoch_examples`
    on a worker thread, ahead of training (the sequence of epochs is fixed
    by `seed`, however far ahead they are drawn).

    The number of examples of an epoch varies by a fraction of a percent
    between draws; the dataset has a fixed number of batches per epoch
    (`len(dataset)`, from a first draw with 1% to spare), and each epoch's
    examples are cut into that many batches of nearly equal size (at most
    `batch_size` unless an epoch draws over 1% more examples than the
    first), so progress bars and learning-rate schedules know the length,
    and `Word2Vec`'s XLA train step sees one padded batch shape.

    Args:
        ids: int array [n]. Word ids of the corpus (`WordVocabulary.encode`).
        sentence_ids: int array [n]. Sentence of each word.
        counts: list of int. Vocabulary counts (for subsampling).
        architecture: str. `"skip_gram"` or `"cbow"`.
        window: int. Largest window (5 in gensim).
        sample: float. Subsampling threshold (1e-3 in gensim; 0: none).
        batch_size: int. Examples per batch.
        seed: int. Seed of the draws (the sequence of epochs is fixed by it).
        shuffle: bool. Shuffle each epoch's examples (else corpus order,
            which trains badly: the examples of a batch then share words,
            and their updates add up).
        prefetch: int. Batches made ahead of training.
        epochs: int or None. The number of epochs `fit` will run, if known:
            no epoch beyond it is drawn ahead (a later iteration draws its
            epoch when it starts). With None the worker draws one epoch
            more than is read, beside the last epoch's training.
        epochs_ahead: int. Epochs drawn ahead of the one training (1).
            Each holds an epoch's examples in memory (54 MB for CBOW on the
            1.4M-word benchmark corpus); more than 1 lets the worker use the
            core left idle while `fit` compiles (with `epochs_ahead =
            epochs - 1` every epoch is drawn then, and no later draw slows
            training).

    Example:

    >>> vocabulary = WordVocabulary.build(corpus.words("train"), min_count=5)
    >>> ids, sentence_ids = vocabulary.encode(corpus.words("train"))
    >>> dataset = word2vec_dataset(ids, sentence_ids, vocabulary.counts, batch_size=4096, seed=0, epochs=5)
    >>> model.fit(dataset, epochs=5)
    """
    import tensorflow as tf

    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if epochs is not None and epochs < 1 or epochs_ahead < 0:
        raise ValueError(
            f"epochs must be None or at least 1 and epochs_ahead at least 0, got {epochs} and {epochs_ahead}"
        )
    ids = np.asarray(ids, "int32")
    sentence_ids = np.asarray(sentence_ids)
    if ids.shape != sentence_ids.shape or ids.ndim != 1:
        raise ValueError(f"ids and sentence_ids must be 1-D of equal length, got {ids.shape} and {sentence_ids.shape}")
    if len(ids) and (ids.min() < 0 or ids.max() >= len(counts)):
        raise ValueError(f"ids must be in [0, {len(counts)}) (one count per vocabulary word)")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    rng = np.random.default_rng(seed)
    # The first epoch's words are drawn here, for the number of batches;
    # its examples (most of the work) are made on the worker thread below,
    # while the model is built and compiled. Later epochs are drawn whole on
    # the worker (drawn on demand, each would stall its epoch's start for
    # as long). NumPy releases the GIL; one worker keeps the sequence of
    # draws, and so the epochs, fixed by `seed`.
    first = _epoch_words(ids, sentence_ids, counts, window, sample, rng)
    count = example_count(first[1], first[2], architecture)
    if count == 0:
        raise ValueError(
            "the corpus gives no training example (every sentence has fewer than two vocabulary "
            "words): pass more text or lower min_count"
        )
    steps = max(1, int(np.ceil(count * (1 + STEPS_SLACK) / batch_size)))
    worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="word2vec_epochs")
    draw = functools.partial(epoch_examples, ids, sentence_ids, counts, architecture, window, sample, rng, shuffle)
    upcoming = collections.deque([worker.submit(_examples, first, architecture, window, rng, shuffle)])
    drawn = 1  # Epochs submitted to the worker.

    def draw_ahead(depth):
        nonlocal drawn
        while len(upcoming) < depth and (epochs is None or drawn < epochs):
            upcoming.append(worker.submit(draw))
            drawn += 1

    draw_ahead(1 + epochs_ahead)

    if architecture == "skip_gram":
        signature = {"centre": tf.TensorSpec([None], tf.int32), "context": tf.TensorSpec([None], tf.int32)}
    else:
        signature = {
            "context": tf.TensorSpec([None, 2 * window], tf.int32),
            "context_mask": tf.TensorSpec([None, 2 * window], tf.bool),
            "centre": tf.TensorSpec([None], tf.int32),
        }

    def next_epoch():
        if not upcoming:  # Past `epochs`: drawn now.
            upcoming.append(worker.submit(draw))
        examples = upcoming.popleft().result()
        draw_ahead(epochs_ahead)
        return [examples[key] for key in signature]

    def epoch(_):
        # One element per iteration of the dataset, the whole epoch, cut into
        # batches in the graph below (Python per batch costs as much as a
        # CBOW train step). A py_function rather than from_generator: TF's
        # generator op lowers glibc's trim threshold for the whole process
        # (tensorflow/core/kernels/data/generator_dataset_op.cc), after
        # which every NumPy array over 128 KiB is mapped afresh: the draws
        # then took 2x longer.
        values = tf.py_function(next_epoch, [], [spec.dtype for spec in signature.values()])
        examples = {}
        for (key, spec), value in zip(signature.items(), values):
            value.set_shape(spec.shape)
            examples[key] = value
        return examples

    def batch(examples, i):
        size = tf.shape(examples["centre"], out_type=tf.int64)[0]
        values = {k: v[i * size // steps : (i + 1) * size // steps] for k, v in examples.items()}
        if "context_mask" in values:
            # uint8, not bool: Keras's fit under a tf.distribute strategy
            # averages a first batch over the replicas, which fails on bool.
            values["context_mask"] = tf.cast(values["context_mask"], tf.uint8)
        return values

    def cut(examples):
        return tf.data.Dataset.range(steps).map(lambda i: batch(examples, i))

    dataset = tf.data.Dataset.range(1).map(epoch).flat_map(cut)
    return dataset.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(prefetch)
