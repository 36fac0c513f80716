import numpy as np
import pytest

from keras_ssl.data import (
    UNKNOWN_CHAR,
    build_word_vocabulary,
    char_ids,
    char_sequences,
    char_vocabulary,
    documents_text,
    language_model_batches,
    word_ids,
    word_ngram_windows,
)

SENTENCES = [["the", "cat", "sat"], ["the", "dog"], ["a", "cat", "ran"]]


class TestWordVocabulary:
    def test_specials_then_by_count_then_alphabetical(self):
        # Counts: the 2, cat 2, sat 1, dog 1, a 1, ran 1.
        assert build_word_vocabulary(SENTENCES) == ["<unk>", "<s>", "</s>", "cat", "the", "a", "dog", "ran", "sat"]

    def test_min_count_and_max_size(self):
        assert build_word_vocabulary(SENTENCES, min_count=2) == ["<unk>", "<s>", "</s>", "cat", "the"]
        assert build_word_vocabulary(SENTENCES, max_size=4) == ["<unk>", "<s>", "</s>", "cat"]

    def test_strings_are_tokenized(self):
        assert build_word_vocabulary(["The cat.", "the dog"]) == ["<unk>", "<s>", "</s>", "the", "cat", "dog"]

    def test_unknown_words_map_to_zero(self):
        np.testing.assert_array_equal(word_ids(["cat", "zebra"], build_word_vocabulary(SENTENCES)), [3, 0])

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="min_count"):
            build_word_vocabulary(SENTENCES, min_count=0)
        with pytest.raises(ValueError, match="list of sentences"):
            build_word_vocabulary("the cat sat")


class TestWordNgramWindows:
    def test_against_hand_computed_windows(self):
        # Ids: <unk>0 <s>1 </s>2 cat3 the4 (min_count=2: a, dog, ran, sat -> <unk>).
        vocabulary = build_word_vocabulary(SENTENCES, min_count=2)
        contexts, targets = word_ngram_windows(SENTENCES, vocabulary, context_size=2)
        expected = [
            # <s> <s> the cat sat </s>
            ([1, 1], 4),
            ([1, 4], 3),
            ([4, 3], 0),
            ([3, 0], 2),
            # <s> <s> the dog </s>
            ([1, 1], 4),
            ([1, 4], 0),
            ([4, 0], 2),
            # <s> <s> a cat ran </s>
            ([1, 1], 0),
            ([1, 0], 3),
            ([0, 3], 0),
            ([3, 0], 2),
        ]
        assert contexts.tolist() == [c for c, _ in expected]
        assert targets.tolist() == [t for _, t in expected]
        assert contexts.dtype == np.int32 and targets.dtype == np.int32

    def test_context_longer_than_sentence_and_empty_sentences(self):
        vocabulary = build_word_vocabulary(SENTENCES)
        contexts, targets = word_ngram_windows([["dog"], []], vocabulary, context_size=3)
        assert contexts.tolist() == [[1, 1, 1], [1, 1, 6], [1, 1, 1]]
        assert targets.tolist() == [6, 2, 2]

    def test_matches_a_loop_reference_on_random_sentences(self, rng):
        words = [f"w{i}" for i in range(12)]
        sentences = [list(rng.choice(words, size=rng.integers(0, 7))) for _ in range(40)]
        vocabulary = build_word_vocabulary(sentences, min_count=3)
        contexts, targets = word_ngram_windows(sentences, vocabulary, context_size=4)
        index = {w: i for i, w in enumerate(vocabulary)}
        expected_contexts, expected_targets = [], []
        for sentence in sentences:
            ids = [1] * 4 + [index.get(w, 0) for w in sentence] + [2]
            for position in range(4, len(ids)):
                expected_contexts.append(ids[position - 4 : position])
                expected_targets.append(ids[position])
        assert contexts.tolist() == expected_contexts
        assert targets.tolist() == expected_targets

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="context_size"):
            word_ngram_windows(SENTENCES, build_word_vocabulary(SENTENCES), 0)
        with pytest.raises(ValueError, match="must start with"):
            word_ngram_windows(SENTENCES, ["the", "cat"], 2)


class TestCharacters:
    def test_vocabulary_and_ids(self):
        vocabulary = char_vocabulary("abca b")
        assert vocabulary == [UNKNOWN_CHAR, " ", "a", "b", "c"]
        np.testing.assert_array_equal(char_ids("cab!", vocabulary), [4, 2, 3, 0])
        assert char_vocabulary("aab", min_count=2) == [UNKNOWN_CHAR, "a"]

    def test_sequences_against_hand_computed_windows(self):
        vocabulary = char_vocabulary("abcdefg")  # a=1 ... g=7
        inputs, targets = char_sequences("abcdefg", vocabulary, sequence_length=3)
        assert inputs.tolist() == [[1, 2, 3], [4, 5, 6]]
        assert targets.tolist() == [[2, 3, 4], [5, 6, 7]]
        inputs, targets = char_sequences("abcdefg", vocabulary, sequence_length=3, stride=2)
        assert inputs.tolist() == [[1, 2, 3], [3, 4, 5]]
        assert targets.tolist() == [[2, 3, 4], [4, 5, 6]]

    def test_text_shorter_than_a_window_gives_no_sequences(self):
        inputs, targets = char_sequences("abc", char_vocabulary("abc"), sequence_length=3)
        assert inputs.shape == (0, 3) and targets.shape == (0, 3)

    def test_documents_text(self):
        assert documents_text([["A b.", "C d."], ["E."]]) == "A b. C d.\nE.\n"

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="sequence_length"):
            char_sequences("abc", char_vocabulary("abc"), 0)
        with pytest.raises(ValueError, match="UNKNOWN_CHAR"):
            char_ids("abc", ["a", "b", "c"])


def test_language_model_batches_cover_every_example_once():
    inputs = np.arange(10, dtype="int32")[:, None] * np.ones((1, 3), "int32")
    targets = np.arange(10, dtype="int32")
    batches = list(language_model_batches(inputs, targets, batch_size=4, seed=0))
    assert [len(t) for _, t in batches] == [4, 4, 2]
    seen = np.concatenate([t.numpy() for _, t in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    for x, t in batches:
        np.testing.assert_array_equal(x.numpy()[:, 0], t.numpy())
