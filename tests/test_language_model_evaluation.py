import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.data import UNKNOWN_CHAR, build_word_vocabulary
from keras_ssl.evaluation import (
    bits_per_token,
    generate_samples,
    negative_log_likelihood,
    perplexity,
    unigram_perplexity,
)
from keras_ssl.methods import CharLSTMLanguageModel, NeuralLanguageModel
from tests.test_case import np_log_softmax

WORDS = [f"w{i}" for i in range(17)]
VOCABULARY = build_word_vocabulary([WORDS])  # 3 specials + 17 words.


def make_uniform(model):
    """Zero output weights: every logit equal, so p = 1 / V everywhere."""
    for layer in (model.output_layer,):
        for weight in layer.weights:
            weight.assign(np.zeros(weight.shape, weight.dtype))
    return model


def word_data(rng, n=10):
    return (
        rng.integers(0, len(VOCABULARY), size=(n, 4)).astype("int32"),
        rng.integers(0, len(VOCABULARY), size=(n,)).astype("int32"),
    )


class TestPerplexity:
    def test_uniform_word_model_has_perplexity_equal_to_vocabulary_size(self, rng):
        keras.utils.set_random_seed(0)
        model = make_uniform(NeuralLanguageModel(VOCABULARY, embedding_dim=4, hidden_units=8))
        model.compile()
        data = word_data(rng, 50)
        assert perplexity(model, data, batch_size=16) == pytest.approx(len(VOCABULARY), rel=1e-6)
        assert bits_per_token(model, data) == pytest.approx(math.log2(len(VOCABULARY)), rel=1e-6)
        # Keras' evaluate reports the same (its loss tracker weights batches by tokens).
        logs = model.evaluate(*data, batch_size=16, verbose=0, return_dict=True)
        assert logs["perplexity"] == pytest.approx(len(VOCABULARY), rel=1e-5)

    def test_uniform_character_model_has_perplexity_equal_to_vocabulary_size(self, rng):
        vocabulary = [UNKNOWN_CHAR, *"abcdefghij"]
        keras.utils.set_random_seed(0)
        model = make_uniform(CharLSTMLanguageModel(vocabulary, units=8))
        inputs = rng.integers(0, len(vocabulary), size=(6, 9)).astype("int32")
        targets = rng.integers(0, len(vocabulary), size=(6, 9)).astype("int32")
        assert perplexity(model, (inputs, targets), batch_size=4) == pytest.approx(len(vocabulary), rel=1e-6)

    def test_total_nll_matches_numpy_reference(self, rng):
        keras.utils.set_random_seed(1)
        model = NeuralLanguageModel(VOCABULARY, embedding_dim=4, hidden_units=8, direct_connections=True)
        contexts, targets = word_data(rng, 10)
        logits = keras.ops.convert_to_numpy(model(contexts))
        expected = -np_log_softmax(logits)[np.arange(10), targets]
        total, count = negative_log_likelihood(model, (contexts, targets), batch_size=3)
        assert count == 10
        assert total == pytest.approx(expected.sum(), rel=1e-5)
        assert perplexity(model, (contexts, targets)) == pytest.approx(np.exp(expected.mean()), rel=1e-5)

    def test_is_exp_of_the_mean_over_all_tokens_not_of_per_batch_means(self, rng):
        # Batches of 7 and 3 tokens: the mean of per-batch perplexities (or
        # of per-batch mean NLLs) differs from the exp of the token mean.
        keras.utils.set_random_seed(2)
        model = NeuralLanguageModel(VOCABULARY, embedding_dim=4, hidden_units=8)
        contexts, targets = word_data(rng, 10)
        nll = -np_log_softmax(keras.ops.convert_to_numpy(model(contexts)))[np.arange(10), targets]
        exact = np.exp(nll.mean())
        per_batch = np.mean([np.exp(nll[:7].mean()), np.exp(nll[7:].mean())])
        assert abs(per_batch - exact) > 1e-3 * exact  # The two really differ here.
        assert perplexity(model, (contexts, targets), batch_size=7) == pytest.approx(exact, rel=1e-6)
        dataset = tf.data.Dataset.from_tensor_slices((contexts, targets)).batch(7)
        assert perplexity(model, dataset) == pytest.approx(exact, rel=1e-6)

    def test_bad_data(self, rng):
        model = NeuralLanguageModel(VOCABULARY, embedding_dim=4, hidden_units=8)
        contexts, targets = word_data(rng, 10)
        with pytest.raises(ValueError, match="differ in length"):
            perplexity(model, (contexts, targets[:5]))
        with pytest.raises(ValueError, match=r"\(inputs, targets\)"):
            perplexity(model, contexts)
        with pytest.raises(ValueError, match="empty"):
            perplexity(model, (contexts[:0], targets[:0]))


class TestUnigramPerplexity:
    def test_add_one_against_hand_computed_value(self):
        # Counts 2 and 1, plus one each: p(0) = 3/5, p(1) = 2/5.
        expected = math.exp(-(math.log(3 / 5) + math.log(2 / 5)) / 2)
        assert unigram_perplexity([0, 0, 1], [0, 1], 2) == pytest.approx(expected)
        # A third, unseen token gets (0 + 1) / 6.
        expected = math.exp(-(math.log(3 / 6) + math.log(1 / 6)) / 2)
        assert unigram_perplexity([0, 0, 1], [0, 2], ["a", "b", "c"]) == pytest.approx(expected)

    def test_no_training_counts_give_the_vocabulary_size(self):
        assert unigram_perplexity([], [0, 3, 4], 7) == pytest.approx(7.0)

    def test_maximum_likelihood_unigram(self):
        # smoothing=0: p = counts / N; test = train gives exp(entropy).
        tokens = np.array([0, 0, 0, 1])
        entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
        assert unigram_perplexity(tokens, tokens, 2, smoothing=0) == pytest.approx(math.exp(entropy))
        with pytest.raises(ValueError, match="smoothing"):
            unigram_perplexity([0, 0], [1], 2, smoothing=0)

    def test_ids_outside_the_vocabulary(self):
        with pytest.raises(ValueError, match="outside"):
            unigram_perplexity([0, 5], [0], 3)


def test_generate_samples_joins_prompt_and_continuation():
    keras.utils.set_random_seed(0)
    words = NeuralLanguageModel(VOCABULARY, embedding_dim=4, hidden_units=8)
    samples = generate_samples(words, ["w1 w2", ""], length=5, temperature=1.0, seed=3)
    assert samples[0].startswith("w1 w2 ") or samples[0] == "w1 w2"
    assert samples[0] == " ".join(["w1 w2", words.sample("w1 w2", 5, seed=3)]).strip()
    assert samples[1] == words.sample("", 5, seed=4)
    chars = CharLSTMLanguageModel([UNKNOWN_CHAR, *"ab "], units=4)
    [sample] = generate_samples(chars, "ab", length=6, seed=0)
    assert sample[:2] == "ab" and len(sample) == 8
