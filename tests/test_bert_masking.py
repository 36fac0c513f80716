"""Tests of keras_ssl.data.bert_inputs: WordPiece vocabulary, BERT masking
(15% chosen, 80/10/10) and the tf.data pipeline of pretraining batches."""

import math
import os

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.data.bert_inputs import (
    BERT_RESERVED_TOKENS,
    bert_pretraining_batches,
    bert_pretraining_preprocessor,
    bert_tokenizer,
    learn_word_piece_vocabulary,
    load_vocabulary,
    materialize_batches,
    save_vocabulary,
)
from keras_ssl.data.sentence_pairs import next_sentence_pairs
from keras_ssl.data.text import load_text_corpus

SEQUENCE_LENGTH = 48


@pytest.fixture(scope="module")
def corpus():
    return load_text_corpus("lee")


@pytest.fixture(scope="module")
def vocabulary(corpus):
    # A small sample keeps the pure-Python learner fast (a few seconds).
    return learn_word_piece_vocabulary(corpus.sentences("train"), 600, max_sentences=300, seed=0)


@pytest.fixture(scope="module")
def tokenizer(vocabulary):
    return bert_tokenizer(vocabulary)


@pytest.fixture(scope="module")
def pairs(corpus):
    return next_sentence_pairs(corpus, seed=0, passes=2)


@pytest.fixture(scope="module")
def masked(pairs, tokenizer):
    """Masked batches of every pair, in order, with the unmasked packing."""
    keras.utils.set_random_seed(0)
    preprocessor = bert_pretraining_preprocessor(tokenizer, SEQUENCE_LENGTH)
    batches = materialize_batches(
        bert_pretraining_batches(pairs, preprocessor, 256, shuffle=False, drop_remainder=False)
    )
    packer = keras_hub.layers.MultiSegmentPacker(
        sequence_length=SEQUENCE_LENGTH,
        start_value=tokenizer.start_token_id,
        end_value=tokenizer.end_token_id,
        pad_value=tokenizer.pad_token_id,
    )
    # The same packing without masking, in tf.data like the pipeline.
    unmasked = (
        tf.data.Dataset.from_tensor_slices((pairs.first, pairs.second))
        .batch(256)
        .map(lambda a, b: packer((tokenizer(a), tokenizer(b))))
    )
    original, segments = (np.concatenate(parts) for parts in zip(*unmasked.as_numpy_iterator()))
    return batches, original, segments


def test_vocabulary_reserved_tokens_and_files(vocabulary, tokenizer, tmp_path):
    assert vocabulary[:5] == list(BERT_RESERVED_TOKENS)
    assert 300 < len(vocabulary) <= 600
    assert len(set(vocabulary)) == len(vocabulary)
    assert any(token.startswith("##") for token in vocabulary)  # Word pieces, not only words.
    path = os.path.join(str(tmp_path), "vocab.txt")
    save_vocabulary(vocabulary, path)
    assert load_vocabulary(path) == vocabulary
    assert sorted(tokenizer.special_token_ids) == [vocabulary.index(t) for t in ("[PAD]", "[CLS]", "[SEP]", "[MASK]")]
    ids = list(tokenizer(tf.constant(["The the THE"]))[0])
    assert len(set(ids)) == 1 and ids[0] != vocabulary.index("[UNK]")  # Lower-cased, known word.


def test_batch_keys_shapes_and_segments(masked, pairs):
    batches, original, segments = masked
    n, slots = len(pairs), math.ceil(0.15 * SEQUENCE_LENGTH)
    expected = {
        "token_ids": (n, SEQUENCE_LENGTH),
        "segment_ids": (n, SEQUENCE_LENGTH),
        "padding_mask": (n, SEQUENCE_LENGTH),
        "mask_positions": (n, slots),
        "mask_ids": (n, slots),
        "mask_weights": (n, slots),
        "nsp_labels": (n,),
    }
    assert {k: v.shape for k, v in batches.items()} == expected
    assert batches["mask_positions"].dtype == np.int32 and batches["token_ids"].dtype == np.int32
    np.testing.assert_array_equal(batches["nsp_labels"], pairs.labels)  # In order with shuffle=False.
    # Both segments are there: B gets segment id 1 (a positional tuple to the
    # preprocessor would silently give all zeros).
    np.testing.assert_array_equal(batches["segment_ids"], segments)
    assert np.all(batches["segment_ids"].max(axis=1) == 1)
    np.testing.assert_array_equal(batches["padding_mask"], original != 0)


def test_fifteen_percent_of_selectable_tokens_are_chosen_never_special(masked, tokenizer):
    batches, original, _ = masked
    special = np.isin(original, tokenizer.special_token_ids)
    selectable = (~special).sum(axis=1)
    weights = batches["mask_weights"] > 0
    chosen = weights.sum(axis=1)
    # tf-text chooses ceil(rate * n) of each sequence's n selectable tokens.
    np.testing.assert_array_equal(chosen, np.minimum(np.ceil(0.15 * selectable), weights.shape[1]))
    rate = chosen.sum() / selectable.sum()
    assert 0.15 <= rate < 0.15 + 1.0 / selectable.mean() + 1e-9, rate
    rows = np.nonzero(weights)[0]
    positions = batches["mask_positions"][weights]
    assert not np.any(special[rows, positions]), "a special token was chosen"
    assert not np.any(np.isin(batches["mask_ids"][weights], tokenizer.special_token_ids))
    # The targets are the original tokens, and nothing else changed.
    np.testing.assert_array_equal(batches["mask_ids"][weights], original[rows, positions])
    restored = batches["token_ids"].copy()
    restored[rows, positions] = original[rows, positions]
    np.testing.assert_array_equal(restored, original)
    # Chosen positions are spread over the sentence (each selectable position
    # is equally likely): the first and second half of the selectable tokens
    # get about the same share.
    relative = (positions - 1) / np.maximum(selectable[rows], 1)
    n = len(relative)
    assert abs(np.mean(relative < 0.5) - 0.5) < 4 * 0.5 / np.sqrt(n) + 0.02


def test_eighty_ten_ten_replacement(masked, tokenizer):
    batches, original, _ = masked
    weights = batches["mask_weights"] > 0
    rows = np.nonzero(weights)[0]
    positions = batches["mask_positions"][weights]
    now, before = batches["token_ids"][rows, positions], original[rows, positions]
    n, vocabulary_size = len(now), tokenizer.vocabulary_size()
    assert n > 20000
    masked_share = np.mean(now == tokenizer.mask_token_id)
    kept_share = np.mean(now == before)
    random_share = np.mean((now != tokenizer.mask_token_id) & (now != before))
    # A random replacement is uniform over the vocabulary, so it is [MASK] or
    # the original token with probability 1/V each.
    expected = {
        "mask": 0.8 + 0.1 / vocabulary_size,
        "kept": 0.1 + 0.1 / vocabulary_size,
        "random": 0.1 * (1 - 2 / vocabulary_size),
    }
    for name, share in (("mask", masked_share), ("kept", kept_share), ("random", random_share)):
        p = expected[name]
        tolerance = 4 * np.sqrt(p * (1 - p) / n)  # 4 binomial standard deviations (~0.01).
        assert abs(share - p) < tolerance, (name, share, p, tolerance)


def test_masks_are_drawn_anew_on_every_pass_of_a_repeated_dataset(pairs, tokenizer):
    # As zoo.train runs it: global seed set, repeat=True and steps_per_epoch
    # (Keras then keeps one iterator across epochs).
    keras.utils.set_random_seed(0)
    preprocessor = bert_pretraining_preprocessor(tokenizer, SEQUENCE_LENGTH)
    dataset = bert_pretraining_batches(pairs.take(slice(0, 64)), preprocessor, 64, shuffle=False, repeat=True)
    iterator = iter(dataset)
    first, second = (next(iterator) for _ in range(2))
    np.testing.assert_array_equal(first["mask_ids"] * 0, second["mask_ids"] * 0)  # Same shapes,
    np.testing.assert_array_equal(first["segment_ids"], second["segment_ids"])  # same pairs,
    assert not np.array_equal(first["mask_positions"], second["mask_positions"])  # new masks.


def test_bad_inputs(tokenizer, pairs):
    with pytest.raises(ValueError, match="mask_selection_rate"):
        bert_pretraining_preprocessor(tokenizer, 32, mask_selection_rate=0.0)
    with pytest.raises(ValueError, match="sum to at most 1"):
        bert_pretraining_preprocessor(tokenizer, 32, mask_token_rate=0.8, random_token_rate=0.3)
    with pytest.raises(ValueError, match="special tokens"):
        bert_tokenizer(["a", "b", "[PAD]"])
    with pytest.raises(ValueError, match="larger than"):
        bert_pretraining_batches(pairs.take(slice(0, 4)), bert_pretraining_preprocessor(tokenizer, 32), 8)
    with pytest.raises(ValueError, match="non-empty"):
        learn_word_piece_vocabulary([], 100)
