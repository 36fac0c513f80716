"""WordNet gloss classification: a synset's definition -> its lexicographer
category (noun.animal, noun.food, verb.motion, ...; 45 classes).

A real sentence-classification task that needs no network: the Debian
package `wordnet-base` files every synset under one of 45 lexicographer
files (`WORDNET_LEXNAMES`). The text is the synset's definition (its gloss
without the example sentences), optionally followed by the examples.
"""

import dataclasses

import numpy as np

from keras_ssl.data.text import WORDNET_DIR, WORDNET_LEXNAMES, _split, load_wordnet


@dataclasses.dataclass
class TextClassificationData:
    """Texts (arrays of str) with integer labels, split into train and test;
    `class_names[label]` names a label."""

    train_texts: np.ndarray
    train_labels: np.ndarray
    test_texts: np.ndarray
    test_labels: np.ndarray
    class_names: tuple

    @property
    def num_classes(self):
        return len(self.class_names)


def wordnet_gloss_classification(
    seed=0, test_fraction=0.1, train_size=None, test_size=None, include_examples=False, wordnet_dir=WORDNET_DIR
):
    """WordNet glosses labelled with their lexicographer category.

    One example per synset, split by synset exactly as
    `load_text_corpus("wordnet", test_fraction, seed)` splits its documents
    (a synset is a test example when its document is a test document), so a
    BERT pretrained on that corpus' train split never saw a test gloss; the
    few test synsets with a sentence that is also a training sentence
    (WordNet repeats some definitions across synsets) are dropped.

    Args:
        seed: int. Seed of the split and of the size caps.
        test_fraction: float. Share of synsets held out.
        train_size: int. Keep a random subset of this many training
            examples (all if None).
        test_size: int. Same for the test examples.
        include_examples: bool. Append the synset's example sentences to
            its definition.
        wordnet_dir: str. Directory of WordNet's data files.

    Returns:
        TextClassificationData with 45 classes (`WORDNET_LEXNAMES`).

    Example:

    >>> data = wordnet_gloss_classification(seed=0, train_size=5000, test_size=1000)
    >>> data.train_texts[0], data.class_names[data.train_labels[0]]
    ('(usually followed by `to\\') having the necessary means ...', 'adj.all')
    """
    synsets = [s for s in load_wordnet(wordnet_dir) if s.definition]
    # The documents of load_text_corpus("wordnet") and its very split; a
    # synset is a test example when its document is a test document (synsets
    # with identical documents fall on the same side).
    documents = [[s.definition, *s.examples] for s in synsets]
    train_documents, test_documents = _split(documents, test_fraction, seed)
    test_keys = {tuple(d) for d in test_documents}
    # Some synsets share a definition: a test gloss that is also a training
    # sentence would be seen in pretraining and fine-tuning. Drop it.
    train_sentences = {sentence for d in train_documents for sentence in d}
    index = {name: i for i, name in enumerate(WORDNET_LEXNAMES)}
    train, test = [], []
    for synset, document in zip(synsets, documents):
        text = " ".join(document) if include_examples else synset.definition
        if tuple(document) not in test_keys:
            train.append((text, index[synset.lexname]))
        elif not train_sentences.intersection(document):
            test.append((text, index[synset.lexname]))
    rng = np.random.default_rng(seed)

    def cap(examples, size):
        if size is not None and size < len(examples):
            keep = np.sort(rng.choice(len(examples), size=int(size), replace=False))
            examples = [examples[i] for i in keep]
        return np.array([t for t, _ in examples], dtype=str), np.array([y for _, y in examples], dtype="int32")

    train_texts, train_labels = cap(train, train_size)
    test_texts, test_labels = cap(test, test_size)
    if len(test_texts) == 0:
        raise ValueError(f"test_fraction {test_fraction} leaves no test synsets: raise it")
    return TextClassificationData(train_texts, train_labels, test_texts, test_labels, tuple(WORDNET_LEXNAMES))
