"""Tests of keras_ssl.data.sentence_pairs: next-sentence pairs for BERT's NSP."""

import numpy as np
import pytest

from keras_ssl.data.sentence_pairs import IS_NEXT, NOT_NEXT, next_sentence_pairs
from keras_ssl.data.text import TextCorpus, load_text_corpus


@pytest.fixture(scope="module")
def corpus():
    return load_text_corpus("lee")


def documents_of(corpus, split="train"):
    documents = corpus.train_documents if split == "train" else corpus.test_documents
    return [d for d in documents if d]


def test_half_of_the_pairs_are_next_sentences(corpus):
    pairs = next_sentence_pairs(corpus, seed=0, passes=5)
    n = len(pairs)
    assert n > 10000
    # Binomial(n, 1/2): 4 standard deviations of the share is 2 / sqrt(n) (~0.02 here).
    assert abs(np.mean(pairs.labels == IS_NEXT) - 0.5) < 4 * 0.5 / np.sqrt(n)
    assert set(np.unique(pairs.labels).tolist()) == {IS_NEXT, NOT_NEXT}


def test_positives_are_consecutive_and_negatives_from_other_documents(corpus):
    documents = documents_of(corpus)
    pairs = next_sentence_pairs(corpus, seed=1, passes=3)
    positive = pairs.labels == IS_NEXT
    np.testing.assert_array_equal(pairs.first_document[positive], pairs.second_document[positive])
    np.testing.assert_array_equal(pairs.second_position[positive], pairs.first_position[positive] + 1)
    # Never the same document, in the whole draw (not just on average).
    assert np.all(pairs.first_document[~positive] != pairs.second_document[~positive])
    # The recorded provenance is the text itself.
    for i in range(len(pairs)):
        assert pairs.first[i] == documents[pairs.first_document[i]][pairs.first_position[i]]
        assert pairs.second[i] == documents[pairs.second_document[i]][pairs.second_position[i]]


def test_every_sentence_with_a_successor_is_a_first_sentence_once_per_pass(corpus):
    documents = documents_of(corpus)
    expected = sorted((d, i) for d, doc in enumerate(documents) for i in range(len(doc) - 1))
    pairs = next_sentence_pairs(corpus, seed=0, passes=2)
    firsts = sorted(zip(pairs.first_document.tolist(), pairs.first_position.tolist()))
    assert firsts == sorted(expected * 2)


def test_negatives_are_spread_over_the_other_documents():
    # Two documents: every random B of document 0 must come from document 1
    # and vice versa; with three documents of equal size, a negative of
    # document 0 lands in 1 or 2 about equally often.
    documents = [[f"d{d} s{i}" for i in range(10)] for d in range(3)]
    pairs = next_sentence_pairs(documents, seed=0, passes=400)
    negative = pairs.labels == NOT_NEXT
    from_zero = negative & (pairs.first_document == 0)
    share_one = np.mean(pairs.second_document[from_zero] == 1)
    n = from_zero.sum()
    assert abs(share_one - 0.5) < 4 * 0.5 / np.sqrt(n), (share_one, n)
    assert set(pairs.second_position[negative].tolist()) == set(range(10))  # Any sentence, not only successors.


def test_deterministic_with_a_seed(corpus):
    a, b = next_sentence_pairs(corpus, seed=3), next_sentence_pairs(corpus, seed=3)
    c = next_sentence_pairs(corpus, seed=4)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.second, b.second)
    assert not np.array_equal(a.labels, c.labels)


def test_test_split_max_pairs_and_lists_of_documents(corpus):
    test_pairs = next_sentence_pairs(corpus, split="test", seed=0)
    test_sentences = set(corpus.sentences("test"))
    assert set(test_pairs.first) <= test_sentences and set(test_pairs.second) <= test_sentences
    capped = next_sentence_pairs(corpus, seed=0, max_pairs=100)
    assert len(capped) == 100
    listed = next_sentence_pairs(corpus.train_documents, seed=0)
    np.testing.assert_array_equal(listed.second, next_sentence_pairs(corpus, seed=0).second)
    assert len(listed.take(slice(0, 5))) == 5


def test_bad_inputs():
    with pytest.raises(ValueError, match="at least 2 non-empty documents"):
        next_sentence_pairs([["One.", "Two."]])
    with pytest.raises(ValueError, match="at least 2 sentences"):
        next_sentence_pairs([["One."], ["Two."]])
    with pytest.raises(ValueError, match="list of documents"):
        next_sentence_pairs(["not", "documents"])
    with pytest.raises(ValueError, match="split"):
        next_sentence_pairs(TextCorpus("x", [["a", "b"], ["c"]], [["d"]]), split="valid")
    with pytest.raises(ValueError, match="passes"):
        next_sentence_pairs([["a", "b"], ["c"]], passes=0)
