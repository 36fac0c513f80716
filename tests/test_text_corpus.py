"""The offline English corpora of keras_ssl.data.text."""

import collections

import pytest

from keras_ssl.data import (
    TEXT_CORPUS_NAMES,
    WORDNET_LEXNAMES,
    TextSourceMissingError,
    load_text_corpus,
    load_wordnet,
    split_sentences,
    word_benchmark_path,
    word_tokenize,
)


@pytest.fixture(scope="module")
def wordnet():
    return load_wordnet()


def test_wordnet_synsets_have_the_45_lexicographer_categories(wordnet):
    assert len(wordnet) == 117659  # WordNet 3.0: 82115 nouns, 13767 verbs, 18156 adjectives, 3621 adverbs.
    counts = collections.Counter(s.lexname for s in wordnet)
    assert set(counts) == set(WORDNET_LEXNAMES) and len(WORDNET_LEXNAMES) == 45
    dog = next(s for s in wordnet if s.pos == "n" and s.words[:2] == ["dog", "domestic dog"])
    assert dog.lexname == "noun.animal"
    assert dog.definition.startswith("a member of the genus Canis")
    assert dog.examples == ["the dog barked all night"]


def test_wordnet_gloss_parsing_separates_examples(wordnet):
    able = wordnet[0]
    assert able.words == ["able"] and able.lexname == "adj.all"
    assert '"' not in able.definition and not able.definition.endswith(";")
    assert "she was able to program her computer" in able.examples


def test_missing_wordnet_names_the_package(tmp_path):
    with pytest.raises(TextSourceMissingError, match="wordnet-base"):
        load_wordnet(str(tmp_path))


@pytest.mark.parametrize("name", ["lee", "pydoc"])
def test_corpora_split_by_document(name):
    corpus = load_text_corpus(name, test_fraction=0.1, seed=0)
    total = len(corpus.train_documents) + len(corpus.test_documents)
    assert abs(len(corpus.test_documents) - 0.1 * total) <= 1
    train = {tuple(d) for d in corpus.train_documents}
    assert not any(tuple(d) in train for d in corpus.test_documents)
    assert all(isinstance(s, str) and s for d in corpus.train_documents for s in d)
    again = load_text_corpus(name, test_fraction=0.1, seed=0)
    assert again.test_documents == corpus.test_documents
    other = load_text_corpus(name, test_fraction=0.1, seed=1)
    assert other.test_documents != corpus.test_documents


def test_unknown_corpus_lists_the_names():
    with pytest.raises(ValueError, match="wordnet, lee, pydoc, all"):
        load_text_corpus("wikipedia")
    assert TEXT_CORPUS_NAMES == ("wordnet", "lee", "pydoc", "all")


def test_tokenizer_and_sentence_splitter():
    assert word_tokenize("The cat's 2 hats, (DON'T) run!") == ["the", "cat's", "2", "hats", "don't", "run"]
    assert split_sentences("It rained. Then it stopped! Did it? yes. 3 dogs ran.") == [
        "It rained.",
        "Then it stopped!",
        "Did it? yes.",
        "3 dogs ran.",
    ]


def test_word_benchmarks_are_found():
    with open(word_benchmark_path("questions-words.txt")) as f:
        assert f.readline().startswith(": capital-common-countries")
    with pytest.raises(TextSourceMissingError, match="gensim"):
        word_benchmark_path("no-such-file.txt")
