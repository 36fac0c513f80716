"""Offline English text: WordNet, gensim's test corpora, Python's docs.

Every corpus is a list of documents, each a list of sentences (str), split
into train and test by document, so held-out metrics never see a training
document and next-sentence pairs can avoid their own document.

Sources (no network):

- `wordnet`: the glosses and example sentences of the Debian package
  `wordnet-base` (`/usr/share/wordnet/data.{noun,verb,adj,adv}`); one
  document per synset: its definition, then its examples.
- `lee`: gensim's `lee_background.cor` (300 news stories, one per line).
- `pydoc`: the topic texts of Python's bundled documentation
  (`pydoc_data.topics`), one document per topic, paragraphs as sentences.
- `all`: the three together.

Word-embedding benchmarks come from gensim's test data too:
`word_benchmark_path("questions-words.txt")`, `"wordsim353.tsv"`.
"""

import dataclasses
import os
import re

import numpy as np

from keras_ssl.data.sources import DataSourceMissingError

WORDNET_DIR = "/usr/share/wordnet"
TEXT_CORPUS_NAMES = ("wordnet", "lee", "pydoc", "all")

# The 45 lexicographer files of WordNet 3.0 (lexnames(5WN)), by number.
WORDNET_LEXNAMES = (
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
)

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


class TextSourceMissingError(DataSourceMissingError):
    """A text source is not installed; the message names the package."""


@dataclasses.dataclass
class Synset:
    """One WordNet synset: `offset`, `pos` (n, v, a, s, r), `lexname`
    (its lexicographer category, e.g. `noun.animal`), `words`,
    `definition` and `examples`."""

    offset: int
    pos: str
    lexname: str
    words: list
    definition: str
    examples: list


@dataclasses.dataclass
class TextCorpus:
    """Documents (lists of sentences) split into train and test."""

    name: str
    train_documents: list
    test_documents: list
    source: str = ""

    def sentences(self, split="train"):
        """All sentences of a split, in document order."""
        documents = self.train_documents if split == "train" else self.test_documents
        return [s for d in documents for s in d]

    def words(self, split="train"):
        """Sentences of a split as lists of lower-case words (`word_tokenize`)."""
        return [word_tokenize(s) for s in self.sentences(split)]

    def describe(self):
        n = sum(len(word_tokenize(s)) for s in self.sentences("train"))
        return (
            f"{self.name}: {len(self.train_documents)} train / {len(self.test_documents)} test documents, "
            f"{n} train words ({self.source})"
        )


def word_tokenize(text):
    """Lower-case words and numbers (apostrophe suffixes kept: `don't`).

    Example:

    >>> word_tokenize("The cat's 2 hats.")
    ['the', "cat's", '2', 'hats']
    """
    return _WORD.findall(text.lower())


def split_sentences(text):
    """Splits running text after `.`, `!` or `?` followed by a capital."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _parse_gloss(gloss):
    # "definition; more definition; \"example one\"; \"example two\""
    examples = re.findall(r'"([^"]+)"', gloss)
    definition = re.sub(r'"[^"]*"', "", gloss)
    definition = re.sub(r"[;\s]+$", "", definition.strip()).strip()
    return definition, [e.strip() for e in examples if e.strip()]


def load_wordnet(directory=WORDNET_DIR):
    """Every synset of WordNet's data files, with its lexicographer category.

    Raises:
        TextSourceMissingError: `wordnet-base` is not installed.

    Example:

    >>> synsets = load_wordnet()
    >>> synsets[0].lexname, synsets[0].definition
    ('adj.all', '(usually followed by `to') having the necessary means or skill ...')
    """
    files = [os.path.join(directory, f"data.{pos}") for pos in ("adj", "adv", "noun", "verb")]
    if not all(os.path.exists(f) for f in files):
        raise TextSourceMissingError(
            f"WordNet data files not found in {directory}: install the Debian package wordnet-base "
            "(apt-get install wordnet-base; make setup does it as root)"
        )
    synsets = []
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):  # Licence header.
                    continue
                head, _, gloss = line.partition(" | ")
                fields = head.split()
                count = int(fields[3], 16)
                words = [fields[4 + 2 * i].replace("_", " ") for i in range(count)]
                definition, examples = _parse_gloss(gloss)
                synsets.append(
                    Synset(int(fields[0]), fields[2], WORDNET_LEXNAMES[int(fields[1])], words, definition, examples)
                )
    return synsets


def _lee_documents():
    from gensim.test.utils import datapath

    with open(datapath("lee_background.cor"), encoding="utf-8", errors="replace") as f:
        return [split_sentences(line.strip()) for line in f if line.strip()]


def _pydoc_documents():
    from pydoc_data.topics import topics

    documents = []
    for name in sorted(topics):
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", topics[name])]
        sentences = [s for p in paragraphs if len(p.split()) >= 3 for s in split_sentences(p)]
        if sentences:
            documents.append(sentences)
    return documents


def _wordnet_documents(directory):
    return [[s.definition, *s.examples] for s in load_wordnet(directory) if s.definition]


def _split(documents, test_fraction, seed):
    # Repeated documents (lee_background.cor has some) would leak into the test split.
    documents = list({tuple(d): d for d in documents}.values())
    order = np.random.default_rng(seed).permutation(len(documents))
    num_test = int(round(len(documents) * test_fraction))
    test = set(order[:num_test].tolist())
    return ([d for i, d in enumerate(documents) if i not in test], [d for i, d in enumerate(documents) if i in test])


def load_text_corpus(name, test_fraction=0.1, seed=0, wordnet_dir=WORDNET_DIR):
    """Loads an offline English corpus by name (see `TEXT_CORPUS_NAMES`),
    split by document into train and test (`test_fraction`, fixed by `seed`).

    Example:

    >>> corpus = load_text_corpus("lee")
    >>> corpus.train_documents[0][0][:40]
    'Hundreds of people have been forced to v'
    """
    if name not in TEXT_CORPUS_NAMES:
        raise ValueError(f"Unknown text corpus {name!r}: use one of {', '.join(TEXT_CORPUS_NAMES)}")
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    if name == "all":
        parts = [load_text_corpus(n, test_fraction, seed, wordnet_dir) for n in ("wordnet", "lee", "pydoc")]
        return TextCorpus(
            "all",
            [d for p in parts for d in p.train_documents],
            [d for p in parts for d in p.test_documents],
            "; ".join(p.source for p in parts),
        )
    if name == "wordnet":
        documents, source = _wordnet_documents(wordnet_dir), f"WordNet glosses in {wordnet_dir}"
    elif name == "lee":
        documents, source = _lee_documents(), "gensim test data lee_background.cor"
    else:
        documents, source = _pydoc_documents(), "Python's pydoc_data.topics"
    train, test = _split(documents, test_fraction, seed)
    return TextCorpus(name, train, test, source)


def word_benchmark_path(name):
    """Path of a word-embedding benchmark in gensim's test data:
    `questions-words.txt` (Mikolov et al. 2013 analogies) or
    `wordsim353.tsv` (Finkelstein et al. 2002 similarity)."""
    from gensim.test.utils import datapath

    path = datapath(name)
    if not os.path.exists(path):
        raise TextSourceMissingError(f"{name} not found in gensim's test data ({path}): pip install gensim")
    return path
