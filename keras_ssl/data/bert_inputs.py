"""BERT pretraining inputs: WordPiece vocabulary, tokenizer, masking, tf.data.

Everything here is keras-hub: the vocabulary is learned offline with
`keras_hub.tokenizers.compute_word_piece_vocabulary`, text is split by
`keras_hub.models.BertTokenizer` (a `WordPieceTokenizer` with BERT's special
tokens), pairs are packed by `MultiSegmentPacker` (`[CLS] A [SEP] B [SEP]`,
segment ids 0 then 1) and masked by `MaskedLMMaskGenerator`, the last two
inside `keras_hub.models.BertMaskedLMPreprocessor`. All string ops run in
`tf.data`, never in the training graph (they cannot be compiled by XLA).

Masking (Devlin et al. 2019, section 3.1 and appendix A.1): in every
sequence `ceil(0.15 * n)` of its `n` selectable tokens are chosen (the
special tokens `[CLS]`, `[SEP]`, `[PAD]`, `[MASK]` never are); a chosen
token becomes `[MASK]` with probability 0.8, a uniformly random token with
probability 0.1 and stays itself with probability 0.1. Masks are drawn anew
for every batch an iterator yields ("dynamic masking", as RoBERTa does; BERT
fixed ten maskings per sequence offline), so a `repeat=True` dataset fitted
with `steps_per_epoch` (Keras keeps one iterator across epochs) gets new
masks on every pass. A finite dataset starts a new iterator every epoch,
and after `keras.utils.set_random_seed` TensorFlow may give the random ops
of that new iterator the same seeds, i.e. the same masks each epoch: use
`repeat=True` for training.

A batch is one dict (keras-hub's names where they exist):

    token_ids       int32 [B, L]   masked token ids
    segment_ids     int32 [B, L]   0 for [CLS] A [SEP], 1 for B [SEP]
    padding_mask    int32 [B, L]   1 on real tokens, 0 on padding
    mask_positions  int32 [B, P]   positions of the chosen tokens (0-padded)
    mask_ids        int32 [B, P]   their original ids (the MLM targets)
    mask_weights    float [B, P]   1 on real predictions, 0 on padding
    nsp_labels      int32 [B]      0 = B follows A (IsNext), 1 = random B
"""

import math
import os
import tempfile

import numpy as np

BERT_RESERVED_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
VOCABULARY_FILE = "vocab.txt"


def learn_word_piece_vocabulary(sentences, vocabulary_size, max_sentences=None, seed=0):
    """Learns a lower-cased WordPiece vocabulary from `sentences`.

    Calls `keras_hub.tokenizers.compute_word_piece_vocabulary` with BERT's
    reserved tokens first (`[PAD]` = 0, `[UNK]`, `[CLS]`, `[SEP]`,
    `[MASK]`). The learner is pure Python and slow on big corpora (minutes
    for WordNet's 150k sentences): `max_sentences` learns from a random
    sample of that many sentences instead (fixed by `seed`); every word is
    still tokenizable through its word pieces.

    Args:
        sentences: list of str. Training sentences only (never test text).
        vocabulary_size: int. Largest vocabulary size; the learner may
            return fewer pieces on a small corpus.
        max_sentences: int. Learn from at most this many sentences.
        seed: int. Seed of the sample.

    Returns:
        list of str.

    Example:

    >>> vocabulary = learn_word_piece_vocabulary(["the cat sat on the mat"] * 20, 50)
    >>> vocabulary[:5]
    ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
    """
    import keras_hub
    import tensorflow as tf

    sentences = [s for s in sentences if isinstance(s, str) and s.strip()]
    if not sentences:
        raise ValueError("learn_word_piece_vocabulary needs a non-empty list of sentence strings")
    if vocabulary_size <= len(BERT_RESERVED_TOKENS):
        raise ValueError(
            f"vocabulary_size must exceed the {len(BERT_RESERVED_TOKENS)} reserved tokens, got {vocabulary_size}"
        )
    if max_sentences is not None and len(sentences) > max_sentences:
        keep = np.sort(np.random.default_rng(seed).choice(len(sentences), size=int(max_sentences), replace=False))
        sentences = [sentences[i] for i in keep]
    data = tf.data.Dataset.from_tensor_slices(sentences).batch(1024)
    return keras_hub.tokenizers.compute_word_piece_vocabulary(
        data,
        int(vocabulary_size),
        lowercase=True,
        strip_accents=True,
        reserved_tokens=list(BERT_RESERVED_TOKENS),
    )


def save_vocabulary(vocabulary, path):
    """Writes one token per line, atomically (temporary file and rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-vocab-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("".join(token + "\n" for token in vocabulary))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_vocabulary(path):
    """Reads a vocabulary written by `save_vocabulary` (one token a line)."""
    if not os.path.isfile(path):
        raise ValueError(f"no vocabulary file at {path}: pass the vocab.txt written with the run")
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.rstrip("\n")]


def bert_tokenizer(vocabulary):
    """`keras_hub.models.BertTokenizer` (lower-casing, accents stripped) on
    a vocabulary list or a vocab.txt path."""
    import keras_hub

    if isinstance(vocabulary, str):
        vocabulary = load_vocabulary(vocabulary)
    missing = [t for t in BERT_RESERVED_TOKENS if t not in vocabulary]
    if missing:
        raise ValueError(
            f"the vocabulary lacks BERT's special tokens {missing}: learn it with learn_word_piece_vocabulary"
        )
    return keras_hub.models.BertTokenizer(vocabulary=list(vocabulary), lowercase=True, strip_accents=True)


def bert_pretraining_preprocessor(
    tokenizer,
    sequence_length,
    mask_selection_rate=0.15,
    mask_token_rate=0.8,
    random_token_rate=0.1,
    mask_selection_length=None,
):
    """`keras_hub.models.BertMaskedLMPreprocessor` with BERT's masking.

    `mask_selection_length` (the number of prediction slots, keras-hub's
    name; BERT's `max_predictions_per_seq`) defaults to
    `ceil(mask_selection_rate * sequence_length)`, enough that no chosen
    token is ever dropped. Call it as `preprocessor(x=(first, second))`:
    a bare tuple is read as `(x, y)` and drops the second segment.
    """
    import keras_hub

    if not 0 < mask_selection_rate <= 1:
        raise ValueError(f"mask_selection_rate must be in (0, 1], got {mask_selection_rate}")
    if mask_token_rate < 0 or random_token_rate < 0 or mask_token_rate + random_token_rate > 1:
        raise ValueError(
            f"mask_token_rate ({mask_token_rate}) and random_token_rate ({random_token_rate}) must be "
            "non-negative and sum to at most 1"
        )
    if sequence_length < 4:
        raise ValueError(f"sequence_length must be at least 4 ([CLS] A [SEP] B [SEP] ...), got {sequence_length}")
    if mask_selection_length is None:
        mask_selection_length = math.ceil(mask_selection_rate * sequence_length)
    return keras_hub.models.BertMaskedLMPreprocessor(
        tokenizer,
        sequence_length=int(sequence_length),
        mask_selection_rate=mask_selection_rate,
        mask_selection_length=int(mask_selection_length),
        mask_token_rate=mask_token_rate,
        random_token_rate=random_token_rate,
    )


def bert_pretraining_batches(pairs, preprocessor, batch_size, shuffle=True, seed=0, repeat=False, drop_remainder=True):
    """A `tf.data.Dataset` of BERT pretraining batches from sentence pairs.

    Args:
        pairs: SentencePairs (from `next_sentence_pairs`), or a tuple
            `(first, second, nsp_labels)` of equal-length arrays.
        preprocessor: the result of `bert_pretraining_preprocessor`.
        batch_size: int.
        shuffle: bool. Shuffle the pairs every epoch (seeded by `seed`).
        seed: int. Seed of the shuffle.
        repeat: bool. Repeat forever (then pass `steps_per_epoch` to fit).
        drop_remainder: bool. Drop a last short batch.

    Returns:
        tf.data.Dataset of dicts (see the module docstring): pass it to
        `BertPretraining.fit` as is.

    Example:

    >>> pairs = next_sentence_pairs(corpus, seed=0)
    >>> tokenizer = bert_tokenizer(learn_word_piece_vocabulary(corpus.sentences(), 4000))
    >>> batches = bert_pretraining_batches(pairs, bert_pretraining_preprocessor(tokenizer, 64), 32)
    """
    import tensorflow as tf

    if hasattr(pairs, "labels"):
        first, second, labels = pairs.first, pairs.second, pairs.labels
    else:
        first, second, labels = pairs
    first, second = np.asarray(first, dtype=str), np.asarray(second, dtype=str)
    labels = np.asarray(labels, dtype="int32")
    if not len(first) == len(second) == len(labels):
        raise ValueError(f"pairs must have equal lengths, got {len(first)}, {len(second)} and {len(labels)}")
    if len(labels) == 0:
        raise ValueError("no sentence pairs to batch")
    if drop_remainder and len(labels) < batch_size:
        raise ValueError(f"batch_size {batch_size} is larger than the {len(labels)} pairs: lower it")

    def preprocess(a, b, nsp_labels):
        # x=(a, b): a positional tuple would be read as (x, y) (PITFALLS).
        x, mask_ids, mask_weights = preprocessor(x=(a, b))
        return {
            "token_ids": x["token_ids"],
            "segment_ids": x["segment_ids"],
            # int32 like the backbone's input (Keras averages a first batch
            # across replicas to build the model, which fails on bool).
            "padding_mask": tf.cast(x["padding_mask"], "int32"),
            "mask_positions": tf.cast(x["mask_positions"], "int32"),
            "mask_ids": mask_ids,
            "mask_weights": mask_weights,
            "nsp_labels": nsp_labels,
        }

    dataset = tf.data.Dataset.from_tensor_slices((first, second, labels))
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    return dataset.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def materialize_batches(dataset):
    """Runs a (random) batch pipeline once and returns its batches
    concatenated into one dict of NumPy arrays, so that several models or
    baselines can be scored on the very same masks."""
    arrays = {}
    for batch in dataset.as_numpy_iterator():
        for key, value in batch.items():
            arrays.setdefault(key, []).append(value)
    if not arrays:
        raise ValueError("the dataset yielded no batches")
    return {key: np.concatenate(values) for key, values in arrays.items()}
