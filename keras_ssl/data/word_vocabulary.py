"""A word vocabulary with counts, sorted by frequency."""

import collections
import itertools

import numpy as np


class WordVocabulary:
    """Words of a tokenised corpus that occur at least `min_count` times,
    most frequent first, with their counts.

    The order is word2vec's and gensim's (count descending; this class
    breaks ties by first occurrence), so index 0 is the most frequent word
    and "the first N words" means the N most frequent. Words below
    `min_count` are dropped from the vocabulary and, by `encode`, from the
    text, before any window is taken: as in word2vec.c and gensim.

    Args:
        words: list of str. Distinct words, most frequent first.
        counts: list of int. Corpus count of each word.

    Example:

    >>> vocabulary = WordVocabulary.build([["a", "b", "a"], ["c", "a", "b"]], min_count=2)
    >>> vocabulary.words, vocabulary.counts.tolist()
    (['a', 'b'], [3, 2])
    >>> ids, sentence_ids = vocabulary.encode([["a", "c", "b"], ["b"]])
    >>> ids.tolist(), sentence_ids.tolist()
    ([0, 1, 1], [0, 0, 1])
    """

    def __init__(self, words, counts):
        words = list(words)
        counts = np.asarray(counts, dtype="int64").reshape(-1)
        if len(words) != len(counts):
            raise ValueError(
                f"words and counts differ in length ({len(words)} vs {len(counts)}): pass one count per word"
            )
        if len(set(words)) != len(words):
            duplicates = [w for w, n in collections.Counter(words).items() if n > 1][:5]
            raise ValueError(f"the vocabulary has duplicate words {duplicates}: pass distinct words")
        if len(counts) and counts.min() < 0:
            raise ValueError("counts must be non-negative")
        self.words = words
        self.counts = counts
        self.index = {w: i for i, w in enumerate(words)}

    @classmethod
    def build(cls, sentences, min_count=5, max_size=None):
        """Counts the words of `sentences` (lists of str) and keeps those
        seen at least `min_count` times (then the `max_size` most frequent)."""
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}")

        def checked(sentences):
            for sentence in sentences:
                if isinstance(sentence, str):
                    raise ValueError(
                        "sentences must be lists of words, got a str: tokenise first, e.g. with "
                        "keras_ssl.data.word_tokenize"
                    )
                yield sentence

        # One C-level count over all words (per-sentence updates cost 1.5x).
        counter = collections.Counter(itertools.chain.from_iterable(checked(sentences)))
        # Counter keeps first-occurrence order; the sort is stable.
        kept = sorted(((w, n) for w, n in counter.items() if n >= min_count), key=lambda item: -item[1])
        if max_size is not None:
            kept = kept[:max_size]
        if not kept:
            raise ValueError(f"no word occurs {min_count} times or more: lower min_count or pass more text")
        return cls([w for w, _ in kept], [n for _, n in kept])

    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self.index

    @property
    def total(self):
        """Number of corpus words covered by the vocabulary."""
        return int(self.counts.sum())

    def encode(self, sentences):
        """Word ids of `sentences` with out-of-vocabulary words dropped, as
        two int32 arrays of equal length: `ids` and `sentence_ids` (which
        sentence each id comes from)."""
        lengths = []

        def counted(sentences):
            for sentence in sentences:
                lengths.append(len(sentence))
                yield sentence

        # One C-level pass of dictionary look-ups over all words.
        words = list(itertools.chain.from_iterable(counted(sentences)))
        ids = np.fromiter(map(self.index.get, words, itertools.repeat(-1)), "int64", len(words))
        sentence_ids = np.repeat(np.arange(len(lengths), dtype="int32"), lengths)
        known = ids >= 0
        return ids[known].astype("int32"), sentence_ids[known]

    def get_config(self):
        return {"words": self.words, "counts": self.counts.tolist()}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
