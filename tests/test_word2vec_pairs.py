"""Tests of word2vec example generation: vocabulary, subsampling, noise
distribution, dynamic windows, skip-gram pairs and CBOW contexts."""

import collections
import concurrent.futures
from unittest import mock

import numpy as np
import pytest

from keras_ssl.data import (
    WordVocabulary,
    alias_table,
    cbow_examples,
    dynamic_windows,
    epoch_examples,
    example_count,
    keep_probabilities,
    noise_distribution,
    skip_gram_pairs,
    subsample,
    word2vec_dataset,
    word2vec_pairs,
)
from tests.test_case import TestCase

# Two sentences, word ids 10..15 (distinct, so every pair is identifiable).
IDS = np.array([10, 11, 12, 13, 14, 15])
SENTENCES = np.array([0, 0, 0, 0, 1, 1])


class TestVocabulary(TestCase):
    def test_min_count_order_and_encoding(self):
        sentences = [["b", "a", "c", "a"], ["c", "b", "a", "d"], ["e", "c"]]
        vocabulary = WordVocabulary.build(sentences, min_count=2)
        # Counts a=3, c=3, b=2: ties (a, c) keep first occurrence (a first).
        assert vocabulary.words == ["a", "c", "b"]
        assert vocabulary.counts.tolist() == [3, 3, 2]
        assert vocabulary.total == 8 and len(vocabulary) == 3 and "d" not in vocabulary
        ids, sentence_ids = vocabulary.encode([["b", "d", "a"], ["e"], ["c", "c"]])
        # Out-of-vocabulary words are dropped before any window.
        assert ids.tolist() == [2, 0, 1, 1]
        assert sentence_ids.tolist() == [0, 0, 2, 2]
        assert WordVocabulary.from_config(vocabulary.get_config()).words == vocabulary.words

    def test_matches_gensim_vocabulary(self):
        from gensim.models import Word2Vec as GensimWord2Vec

        from keras_ssl.data import load_text_corpus

        sentences = load_text_corpus("lee").words("train")
        ours = WordVocabulary.build(sentences, min_count=5)
        theirs = GensimWord2Vec(min_count=5)
        theirs.build_vocab(sentences)
        assert dict(zip(ours.words, ours.counts.tolist())) == {
            w: theirs.wv.get_vecattr(w, "count") for w in theirs.wv.index_to_key
        }
        assert np.all(np.diff(ours.counts) <= 0)

    def test_bad_input(self):
        with pytest.raises(ValueError, match="min_count"):
            WordVocabulary.build([["a"]], min_count=0)
        with pytest.raises(ValueError, match="tokenise"):
            WordVocabulary.build(["a sentence"], min_count=1)
        with pytest.raises(ValueError, match="no word occurs"):
            WordVocabulary.build([["a"]], min_count=2)
        with pytest.raises(ValueError, match="duplicate"):
            WordVocabulary(["a", "a"], [1, 1])


class TestSamplingFormulas(TestCase):
    def test_noise_distribution_is_unigram_to_the_three_quarters(self):
        counts = np.array([1000, 300, 20, 5, 1])
        expected = counts**0.75 / np.sum(counts**0.75)
        np.testing.assert_allclose(noise_distribution(counts), expected, rtol=1e-12)
        np.testing.assert_allclose(noise_distribution(counts, exponent=1.0), counts / counts.sum(), rtol=1e-12)

    def test_alias_table_is_exact(self):
        probabilities = noise_distribution(np.random.default_rng(0).integers(1, 10000, 500))
        accept, alias = alias_table(probabilities)
        # Each cell i gives i with accept[i] / n and alias[i] with (1 - accept[i]) / n.
        n = len(probabilities)
        implied = accept / n + np.bincount(alias, weights=(1 - accept) / n, minlength=n)
        np.testing.assert_allclose(implied, probabilities, atol=1e-12)

    def test_keep_probability_formula(self):
        counts = np.array([50000, 5000, 800, 100, 3])
        sample = 1e-3
        threshold = sample * counts.sum()  # The word2vec.c / gensim formula.
        expected = np.minimum((np.sqrt(counts / threshold) + 1) * threshold / counts, 1.0)
        np.testing.assert_allclose(keep_probabilities(counts, sample), expected, rtol=1e-12)
        assert expected[0] < 0.4 and expected[-1] == 1.0  # The example covers both regimes.
        np.testing.assert_array_equal(keep_probabilities(counts, 0), np.ones(5))

    def test_subsampling_keeps_words_at_their_probability(self):
        rng = np.random.default_rng(0)
        keep = np.array([0.1, 0.5, 1.0])
        ids = np.repeat([0, 1, 2], 20000)
        kept, kept_sentences = subsample(ids, np.arange(len(ids)), keep, rng)
        np.testing.assert_allclose(np.bincount(kept, minlength=3) / 20000, keep, atol=0.01)
        assert np.all(np.diff(kept_sentences) > 0)  # Order and sentence ids follow the words.

    def test_bad_input(self):
        with pytest.raises(ValueError, match="sample"):
            keep_probabilities([1, 2], sample=1.5)
        with pytest.raises(ValueError, match="counts"):
            noise_distribution([-1, 2])
        with pytest.raises(ValueError, match="window"):
            dynamic_windows(3, 0, np.random.default_rng(0))


class TestPairs(TestCase):
    def test_skip_gram_pairs_fixed_window(self):
        centres, contexts = skip_gram_pairs(IDS, SENTENCES, windows=2)
        # By hand: window 2 inside [10 11 12 13], window 2 inside [14 15].
        expected = [
            (10, 11),
            (10, 12),
            (11, 10),
            (11, 12),
            (11, 13),
            (12, 10),
            (12, 11),
            (12, 13),
            (13, 11),
            (13, 12),
            (14, 15),
            (15, 14),
        ]
        assert list(zip(centres.tolist(), contexts.tolist())) == expected

    def test_skip_gram_pairs_per_word_windows(self):
        centres, contexts = skip_gram_pairs(IDS, SENTENCES, windows=np.array([1, 2, 1, 3, 1, 1]))
        expected = [
            (10, 11),
            (11, 10),
            (11, 12),
            (11, 13),
            (12, 11),
            (12, 13),
            (13, 10),
            (13, 11),
            (13, 12),  # window 3, but the sentence starts at 10
            (14, 15),
            (15, 14),
        ]
        assert list(zip(centres.tolist(), contexts.tolist())) == expected

    def test_cbow_examples_fixed_window(self):
        contexts, mask, centres = cbow_examples(IDS, SENTENCES, windows=2, window=2)
        assert centres.tolist() == [10, 11, 12, 13, 14, 15]
        # Columns are offsets -2, -1, +1, +2; 0 where masked.
        assert contexts.tolist() == [
            [0, 0, 11, 12],
            [0, 10, 12, 13],
            [10, 11, 13, 0],
            [11, 12, 0, 0],
            [0, 0, 15, 0],
            [0, 14, 0, 0],
        ]
        assert mask.astype(int).tolist() == [
            [0, 0, 1, 1],
            [0, 1, 1, 1],
            [1, 1, 1, 0],
            [1, 1, 0, 0],
            [0, 0, 1, 0],
            [0, 1, 0, 0],
        ]

    def test_cbow_drops_words_without_context(self):
        contexts, mask, centres = cbow_examples([10, 11, 12], [0, 1, 1], windows=np.array([2, 1, 1]), window=2)
        assert centres.tolist() == [11, 12]  # 10 is alone in its sentence.
        assert contexts[mask].tolist() == [12, 11]
        with pytest.raises(ValueError, match="more than window"):
            cbow_examples(IDS, SENTENCES, windows=3, window=2)

    def test_windows_span_kept_words_only(self):
        # Subsampling removes 11 (keep probability 0) before windows are taken.
        keep = np.zeros(16)
        keep[[10, 12, 13]] = 1.0
        ids, sentences = subsample(IDS[:4], SENTENCES[:4], keep, np.random.default_rng(0))
        centres, contexts = skip_gram_pairs(ids, sentences, windows=1)
        assert list(zip(centres.tolist(), contexts.tolist())) == [(10, 12), (12, 10), (12, 13), (13, 12)]

    def test_dynamic_window_statistics(self):
        rng = np.random.default_rng(0)
        window, n = 5, 60000
        sizes = dynamic_windows(n, window, rng)
        assert sizes.min() == 1 and sizes.max() == window
        np.testing.assert_allclose(np.bincount(sizes, minlength=window + 1)[1:] / n, np.full(window, 0.2), atol=0.01)
        # One long sentence of distinct ids: offset d is used with
        # probability P(b >= d) = (window - d + 1) / window on both sides.
        positions = np.arange(n)
        centres, contexts = skip_gram_pairs(positions, np.zeros(n), sizes)
        distance = np.abs(contexts - centres)
        observed = np.bincount(distance, minlength=window + 1)[1:]
        expected = np.array([2 * (n - d) * (window - d + 1) / window for d in range(1, window + 1)])
        np.testing.assert_allclose(observed / expected, np.ones(window), atol=0.02)
        # Near words weigh more: 5x more pairs at distance 1 than at 5.
        assert observed[0] / observed[-1] == pytest.approx(5.0, rel=0.05)


class ImmediateExecutor:
    """A stand-in for ThreadPoolExecutor that runs each task when submitted."""

    def __init__(self, *args, **kwargs):
        pass

    def submit(self, function, *args, **kwargs):
        future = concurrent.futures.Future()
        future.set_result(function(*args, **kwargs))
        return future


class TestDataset(TestCase):
    def make(self, architecture, **kwargs):
        rng = np.random.default_rng(0)
        counts = np.array([400, 200, 100, 50, 25, 10, 5, 5])
        ids = rng.choice(8, 3000, p=counts / counts.sum()).astype("int32")
        sentence_ids = np.arange(3000) // 12
        return word2vec_dataset(ids, sentence_ids, counts, architecture, window=3, batch_size=256, **kwargs), counts

    def test_skip_gram_batches(self):
        dataset, _ = self.make("skip_gram", seed=0, sample=0.0)
        epochs = [list(dataset.as_numpy_iterator()) for _ in range(2)]
        assert len(epochs[0]) == len(epochs[1]) == len(dataset)
        for batch in epochs[0]:
            assert sorted(batch) == ["centre", "context"]
            assert batch["centre"].dtype == np.int32 and batch["centre"].shape == batch["context"].shape
            assert 200 <= len(batch["centre"]) <= 280
        # Every iteration is a new draw (subsampling, windows, order).
        assert not np.array_equal(epochs[0][0]["centre"], epochs[1][0]["centre"])
        again, _ = self.make("skip_gram", seed=0, sample=0.0)
        np.testing.assert_array_equal(next(iter(again.as_numpy_iterator()))["centre"], epochs[0][0]["centre"])

    def test_batches_stay_within_batch_size(self):
        # len(dataset) leaves 1% room, so epochs drawing a few more examples
        # than the first still fit in batches of at most batch_size (one
        # padded shape for Word2Vec's XLA step), and no batch is far smaller.
        rng = np.random.default_rng(1)
        counts = np.array([400, 200, 100, 50, 25, 10, 5, 5])
        ids = rng.choice(8, 40000, p=counts / counts.sum()).astype("int32")
        dataset = word2vec_dataset(
            ids, np.arange(40000) // 20, counts, "skip_gram", window=3, sample=0.0, batch_size=1000, seed=0
        )
        sizes = [len(b["centre"]) for _ in range(4) for b in dataset.as_numpy_iterator()]
        assert max(sizes) <= 1000 and min(sizes) >= 970, (min(sizes), max(sizes))

    def test_epochs_ahead_keep_the_sequence_and_epochs_bounds_the_draws(self):
        # However far ahead epochs are drawn, the sequence is fixed by the
        # seed; `epochs` stops the worker drawing epochs nobody reads.
        reference, _ = self.make("skip_gram", seed=3)
        expected = [next(reference.as_numpy_iterator())["centre"] for _ in range(3)]
        for epochs, epochs_ahead, drawn in [(None, 1, 2), (2, 1, 1), (2, 3, 1), (None, 3, 4), (None, 0, 1)]:
            # A worker that draws when asked, so the draws are counted as
            # they are submitted (the first epoch is made without
            # epoch_examples: `drawn` counts the later ones after two epochs).
            calls = []
            draw = word2vec_pairs.epoch_examples

            def counted(*args, **kwargs):
                calls.append(1)
                return draw(*args, **kwargs)

            with (
                mock.patch.object(word2vec_pairs, "epoch_examples", counted),
                mock.patch.object(word2vec_pairs.concurrent.futures, "ThreadPoolExecutor", ImmediateExecutor),
            ):
                dataset, _ = self.make("skip_gram", seed=3, epochs=epochs, epochs_ahead=epochs_ahead)
                firsts = [next(dataset.as_numpy_iterator())["centre"] for _ in range(2)]
                assert len(calls) == drawn, (epochs, epochs_ahead, len(calls))
                # A third epoch, past `epochs`, is drawn on demand, in sequence.
                firsts.append(next(dataset.as_numpy_iterator())["centre"])
            for first, reference_first in zip(firsts, expected):
                np.testing.assert_array_equal(first, reference_first)

    def test_cbow_batches(self):
        dataset, counts = self.make("cbow", seed=1, sample=0.0, shuffle=False)
        batch = next(iter(dataset.as_numpy_iterator()))
        assert batch["context"].shape[1] == 6 and batch["context_mask"].dtype == np.uint8
        assert np.all(batch["context_mask"].any(axis=1))
        assert np.all(batch["context"][batch["context_mask"] == 0] == 0)

    def test_epoch_examples_subsample_frequent_words(self):
        counts = np.array([9000, 100, 100, 100])
        ids = np.repeat(np.arange(4), counts)
        # One sentence, so every kept word is a CBOW centre.
        examples = epoch_examples(
            ids, np.zeros(len(ids)), counts, "cbow", window=2, sample=1e-2, rng=np.random.default_rng(0)
        )
        keep = keep_probabilities(counts, 1e-2)  # [0.112, 1, 1, 1]
        expected = 9000 * keep[0] / (9000 * keep[0] + 300)  # 0.77 (0.97 before subsampling)
        assert np.mean(examples["centre"] == 0) == pytest.approx(expected, abs=0.03)

    def test_bad_input(self):
        with pytest.raises(ValueError, match="architecture"):
            epoch_examples(IDS - 10, SENTENCES, np.ones(6), "glove")
        with pytest.raises(ValueError, match="batch_size"):
            word2vec_dataset(IDS - 10, SENTENCES, np.ones(6), batch_size=0)
        with pytest.raises(ValueError, match="ids must be in"):
            word2vec_dataset(IDS, SENTENCES, np.ones(6))
        with pytest.raises(ValueError, match="epochs_ahead"):
            word2vec_dataset(IDS - 10, SENTENCES, np.ones(6), epochs=0)
        with pytest.raises(ValueError, match="epochs_ahead"):
            word2vec_dataset(IDS - 10, SENTENCES, np.ones(6), epochs_ahead=-1)
        with pytest.raises(ValueError, match="no training example"):
            word2vec_dataset(np.arange(3), np.arange(3), np.ones(3))


def test_pairs_match_a_brute_force_loop():
    # Random corpus and windows: the vectorised pairs and CBOW contexts
    # equal a direct loop over positions.
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 20, 400)
    sentences = np.sort(rng.integers(0, 30, 400))
    windows = dynamic_windows(400, 4, rng)
    centres, contexts = skip_gram_pairs(ids, sentences, windows)
    expected = collections.Counter()
    for i in range(400):
        for j in range(max(0, i - windows[i]), min(400, i + windows[i] + 1)):
            if j != i and sentences[j] == sentences[i]:
                expected[(ids[i], ids[j])] += 1
    assert collections.Counter(zip(centres.tolist(), contexts.tolist())) == expected
    cbow_contexts, mask, cbow_centres = cbow_examples(ids, sentences, windows, window=4)
    cbow_expected = collections.Counter()
    for centre, context, row in zip(cbow_centres, cbow_contexts, mask):
        for word in context[row]:
            cbow_expected[(centre, word)] += 1
    assert cbow_expected == expected
    # word2vec_dataset counts an epoch's examples without making them.
    assert example_count(sentences, windows, "skip_gram") == len(centres)
    assert example_count(sentences, windows, "cbow") == len(cbow_centres)
    isolated = np.arange(5)  # Five one-word sentences: no example.
    assert example_count(isolated, 3, "skip_gram") == example_count(isolated, 3, "cbow") == 0
    with pytest.raises(ValueError, match="architecture"):
        example_count(sentences, windows, "glove")


@pytest.mark.parametrize("shuffle", [True, False])
def test_cbow_dataset_makes_the_examples_of_epoch_examples(shuffle):
    # word2vec_dataset makes CBOW contexts batch by batch in the pipeline;
    # they equal epoch_examples' (made whole with NumPy) from the same seed.
    rng = np.random.default_rng(2)
    counts = np.array([400, 200, 100, 50, 25, 10, 5, 5])
    ids = rng.choice(8, 3000, p=counts / counts.sum()).astype("int32")
    sentence_ids = np.sort(rng.integers(0, 300, 3000))
    dataset = word2vec_dataset(
        ids, sentence_ids, counts, "cbow", window=3, sample=1e-2, batch_size=256, seed=5, shuffle=shuffle
    )
    batches = list(dataset.as_numpy_iterator())
    made = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    expected = epoch_examples(
        ids, sentence_ids, counts, "cbow", window=3, sample=1e-2, rng=np.random.default_rng(5), shuffle=shuffle
    )
    assert sorted(made) == sorted(expected)
    # The mask comes as uint8 (Keras averages a first batch over replicas
    # under a strategy, which fails on bool).
    assert made["context_mask"].dtype == np.uint8
    for key in expected:
        np.testing.assert_array_equal(made[key], expected[key])
