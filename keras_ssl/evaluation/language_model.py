"""Language-model evaluation: held-out perplexity, a unigram baseline and
generated samples.

Perplexity is `exp(total NLL / total tokens)` over all held-out tokens,
summed batch by batch, never an average of per-batch perplexities (which
would weight short batches wrongly and is not the exp of a mean). Bits per
token (bits per character for a character model) is the same mean NLL in
base 2.
"""

import math

import numpy as np
import tensorflow as tf


def _batches(data, batch_size):
    """`(inputs, targets)` batches of a pair of arrays or a `tf.data.Dataset`."""
    if isinstance(data, tf.data.Dataset):
        return data
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(
            "data must be (inputs, targets) arrays or a tf.data.Dataset of such batches, got "
            f"{type(data).__name__}: e.g. word_ngram_windows(...) or char_sequences(...)"
        )
    inputs, targets = (np.asarray(a) for a in data)
    if len(inputs) != len(targets):
        raise ValueError(f"inputs and targets differ in length: {len(inputs)} and {len(targets)}")
    if len(inputs) == 0:
        raise ValueError("no held-out tokens: the data is empty")
    return tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(batch_size)


def _batch_nll_function(model):
    @tf.function(reduce_retracing=True)
    def batch_nll(inputs, targets):
        logits = tf.cast(model(inputs, training=False), "float32")
        targets = tf.cast(targets, "int32")
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
        return tf.reduce_sum(tf.cast(nll, "float64")), tf.size(targets, out_type="int64")

    return batch_nll


def negative_log_likelihood(model, data, batch_size=256):
    """Total negative log-likelihood (nats) of held-out tokens and their number.

    Args:
        model: callable. Maps a batch of inputs to logits `[..., vocabulary]`
            over the next token (a `NeuralLanguageModel`: contexts `[B, L]`
            to `[B, V]`; a `CharLSTMLanguageModel`: `[B, T]` to `[B, T, V]`).
        data: `(inputs, targets)` arrays, or a `tf.data.Dataset` of such
            batches; `targets` has the shape of the logits without their
            last axis.
        batch_size: int. Batch size for arrays.

    Returns:
        `(total_nll, num_tokens)`: float and int.
    """
    batch_nll = _batch_nll_function(model)
    total, count = 0.0, 0
    for inputs, targets in _batches(data, batch_size):
        batch_total, batch_count = batch_nll(inputs, targets)
        total += float(batch_total)
        count += int(batch_count)
    if count == 0:
        raise ValueError("no held-out tokens: the data is empty")
    return total, count


def perplexity(model, data, batch_size=256):
    """`exp(total NLL / total tokens)` of `model` on held-out `data`.

    Example:

    >>> contexts, targets = word_ngram_windows(corpus.words("test"), model.vocabulary, model.context_size)
    >>> perplexity(model, (contexts, targets))
    """
    total, count = negative_log_likelihood(model, data, batch_size)
    return math.exp(total / count)


def bits_per_token(model, data, batch_size=256):
    """Mean negative log2-likelihood per held-out token (bits per
    character for a character model): `log2(perplexity)`."""
    total, count = negative_log_likelihood(model, data, batch_size)
    return total / count / math.log(2.0)


def unigram_perplexity(train_tokens, test_tokens, vocabulary, smoothing=1.0):
    """Perplexity of the add-`smoothing` unigram model of the training
    tokens on the test tokens: `p(w) = (count(w) + smoothing) / (N +
    smoothing * V)`.

    The baseline a language model must beat: it knows each token's
    frequency and nothing of its context. Pass the tokens a model predicts
    (the `targets` of its examples, unknown words already mapped to
    `<unk>`) so both are scored on the same events.

    Args:
        train_tokens: int array. Token ids counted for the model.
        test_tokens: int array. Token ids scored.
        vocabulary: int or sequence. Vocabulary size `V`, or the vocabulary.
        smoothing: float. Added to every count (1: Laplace); 0 is allowed
            only when every test token was seen in training.

    Returns:
        float.

    Example:

    >>> unigram_perplexity([0, 0, 1], [0, 1], 2)  # p = 3/5, 2/5
    2.041...
    """
    size = vocabulary if isinstance(vocabulary, (int, np.integer)) else len(vocabulary)
    train_tokens = np.asarray(train_tokens, "int64").ravel()
    test_tokens = np.asarray(test_tokens, "int64").ravel()
    if test_tokens.size == 0:
        raise ValueError("no test tokens to score")
    if smoothing < 0:
        raise ValueError(f"smoothing must be non-negative, got {smoothing}")
    for name, tokens in (("train_tokens", train_tokens), ("test_tokens", test_tokens)):
        if tokens.size and (tokens.min() < 0 or tokens.max() >= size):
            raise ValueError(f"{name} holds ids outside [0, {size}): map words with the same vocabulary")
    counts = np.bincount(train_tokens, minlength=size).astype("float64") + smoothing
    if np.any(counts[test_tokens] == 0):
        raise ValueError("a test token never occurs in training and smoothing is 0: use smoothing > 0")
    log_probabilities = np.log(counts) - np.log(counts.sum())
    return float(np.exp(-log_probabilities[test_tokens].mean()))


def generate_samples(model, prompts, length, temperature=1.0, seed=0):
    """One sample of `model.sample(prompt, length, temperature, seed)` per
    prompt (seeds `seed`, `seed + 1`, ...), each as the prompt followed by
    its continuation (joined by the model's `token_separator`: a space
    between words, nothing between characters)."""
    if isinstance(prompts, str):
        prompts = [prompts]
    separator = getattr(model, "token_separator", "")
    samples = []
    for i, prompt in enumerate(prompts):
        continuation = model.sample(prompt, length, temperature=temperature, seed=seed + i)
        samples.append(separator.join(part for part in (prompt, continuation) if part))
    return samples
