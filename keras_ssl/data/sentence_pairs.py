"""Next-sentence pairs for BERT's next-sentence prediction (NSP).

Devlin, Chang, Lee and Toutanova, "BERT: Pre-training of Deep Bidirectional
Transformers for Language Understanding" (NAACL 2019), section 3.1: for each
sentence A, sentence B is the sentence that actually follows A in its
document half of the time (`IsNext`) and a random sentence of the corpus the
other half (`NotNext`). Here the random sentence always comes from another
document, so a `NotNext` pair can never be a true continuation by chance.

Labels follow the original BERT code (`create_pretraining_data.py`) and
Hugging Face's `BertForPreTraining`: `IS_NEXT = 0`, `NOT_NEXT = 1`.

Segments are single sentences (the paper packs several sentences into each
segment to fill 512 tokens; the corpora here have short documents and the
sequences are short, so one sentence per segment is the natural unit).
"""

import dataclasses

import numpy as np

from keras_ssl.data.text import TextCorpus

IS_NEXT = 0
NOT_NEXT = 1


@dataclasses.dataclass
class SentencePairs:
    """Sentence pairs with next-sentence labels and where they came from.

    `first`, `second`: arrays of str; `labels`: int32, `IS_NEXT` (0) when
    `second` follows `first` in its document, `NOT_NEXT` (1) when `second`
    is a random sentence of another document; `first_document`,
    `second_document`, `first_position`, `second_position`: int arrays,
    each sentence's document (index among the non-empty documents) and its
    index inside the document.
    """

    first: np.ndarray
    second: np.ndarray
    labels: np.ndarray
    first_document: np.ndarray
    second_document: np.ndarray
    first_position: np.ndarray
    second_position: np.ndarray

    def __len__(self):
        return len(self.labels)

    def take(self, indices):
        """The pairs at `indices` (an int array or a slice)."""
        return SentencePairs(**{f.name: getattr(self, f.name)[indices] for f in dataclasses.fields(self)})


def next_sentence_pairs(corpus, split="train", seed=0, passes=1, max_pairs=None):
    """Document-aware sentence pairs for next-sentence prediction.

    Every sentence that has a successor in its document is a sentence A,
    once per pass. With probability 1/2 its B is that successor (label
    `IS_NEXT` = 0); otherwise B is drawn uniformly from the sentences of
    all *other* documents (label `NOT_NEXT` = 1). Deterministic given
    `seed`; each pass draws new coins and new random sentences.

    Args:
        corpus: TextCorpus, or list of documents (each a list of sentence
            strings).
        split: str. "train" or "test", for a TextCorpus.
        seed: int. Seed of the coins and the random sentences.
        passes: int. How many times every sentence A is used.
        max_pairs: int. Keep a random subset of at most this many pairs
            (all if None).

    Returns:
        SentencePairs, in document order within each pass (shuffle them in
        the input pipeline).

    Example:

    >>> documents = [["A cat sat.", "It purred."], ["Rain fell.", "Roads flooded.", "Cars stopped."]]
    >>> pairs = next_sentence_pairs(documents, seed=0)
    >>> len(pairs), sorted(set(pairs.labels.tolist())) <= [0, 1]
    (3, True)
    """
    if isinstance(corpus, TextCorpus):
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        documents = corpus.train_documents if split == "train" else corpus.test_documents
    else:
        documents = corpus
    if not isinstance(documents, (list, tuple)) or not all(isinstance(d, (list, tuple)) for d in documents):
        raise ValueError("next_sentence_pairs needs a TextCorpus or a list of documents, each a list of sentences")
    if passes < 1:
        raise ValueError(f"passes must be at least 1, got {passes}")
    documents = [list(d) for d in documents if len(d) > 0]
    lengths = np.array([len(d) for d in documents], dtype="int64")
    if len(documents) < 2:
        raise ValueError(
            f"next_sentence_pairs needs at least 2 non-empty documents (random sentences come from "
            f"another document), got {len(documents)}"
        )
    if lengths.max() < 2:
        raise ValueError("next_sentence_pairs needs a document with at least 2 sentences (every document has one)")
    sentences = np.array([s for d in documents for s in d], dtype=object)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    document_of = np.repeat(np.arange(len(documents)), lengths)
    position_of = np.arange(len(sentences)) - starts[document_of]
    total = len(sentences)

    # Sentence A: every sentence with a successor in its document.
    first = np.flatnonzero(position_of < lengths[document_of] - 1)
    rng = np.random.default_rng(seed)
    chunks = []
    for _ in range(passes):
        labels = np.where(rng.random(len(first)) < 0.5, IS_NEXT, NOT_NEXT).astype("int32")
        # A uniform draw over the sentences outside A's document: draw among
        # `total - len(doc)` and step over the document's contiguous range.
        own_start, own_length = starts[document_of[first]], lengths[document_of[first]]
        draw = (rng.random(len(first)) * (total - own_length)).astype("int64")
        random_second = np.where(draw < own_start, draw, draw + own_length)
        second = np.where(labels == IS_NEXT, first + 1, random_second)
        chunks.append((first, second, labels))
    first_all = np.concatenate([c[0] for c in chunks])
    second_all = np.concatenate([c[1] for c in chunks])
    labels_all = np.concatenate([c[2] for c in chunks])
    if max_pairs is not None and max_pairs < len(labels_all):
        keep = np.sort(rng.choice(len(labels_all), size=int(max_pairs), replace=False))
        first_all, second_all, labels_all = first_all[keep], second_all[keep], labels_all[keep]
    return SentencePairs(
        first=sentences[first_all].astype(str),
        second=sentences[second_all].astype(str),
        labels=labels_all,
        first_document=document_of[first_all],
        second_document=document_of[second_all],
        first_position=position_of[first_all],
        second_position=position_of[second_all],
    )
