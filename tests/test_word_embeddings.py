"""Tests of keras_ssl.evaluation.word_embeddings against gensim's own
KeyedVectors evaluation on the same vectors."""

import numpy as np
import pytest
from gensim.models import KeyedVectors

from keras_ssl.data import word_benchmark_path
from keras_ssl.evaluation import analogy_accuracy, nearest_neighbours, plot_words, word_similarity_spearman
from tests.test_case import TestCase

DIM = 16


def question_words():
    words, capitals = [], []
    section = None
    with open(word_benchmark_path("questions-words.txt")) as f:
        for line in f:
            if line.startswith(": "):
                section = line[2:].strip()
                continue
            quad = line.split()
            words += quad
            if section == "capital-common-countries":
                capitals.append(quad)
    return list(dict.fromkeys(w.lower() for w in words)), capitals


@pytest.fixture(scope="module")
def analogy_vectors():
    """Vectors for the analogy words where capital -> country is one offset
    (plus noise), so some sections are mostly right and others wrong; some
    words are missing (coverage < 1) and one word has a second spelling."""
    rng = np.random.default_rng(0)
    words, capitals = question_words()
    words = [w for i, w in enumerate(words) if i % 7 != 3]  # Drop some: questions with them are not counted.
    words.insert(40, "Athens")  # A rarer second spelling of "athens".
    index = {w: i for i, w in enumerate(words)}
    vectors = rng.normal(size=(len(words), DIM)).astype("float32")
    offset = 2.0 * rng.normal(size=DIM)
    for capital, country, _, _ in capitals:
        if capital.lower() in index and country.lower() in index:
            vectors[index[country.lower()]] = vectors[index[capital.lower()]] + offset + 0.8 * rng.normal(size=DIM)
    return words, vectors


def keyed_vectors(words, vectors):
    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(words, vectors)
    return kv


class TestAnalogies(TestCase):
    @pytest.mark.parametrize("restrict_vocab", [300000, 400])
    def test_matches_gensim(self, analogy_vectors, restrict_vocab):
        words, vectors = analogy_vectors
        ours = analogy_accuracy(vectors, words, restrict_vocab=restrict_vocab)
        path = word_benchmark_path("questions-words.txt")
        score, sections = keyed_vectors(words, vectors).evaluate_word_analogies(path, restrict_vocab=restrict_vocab)
        total = sections[-1]
        assert ours["correct"] == len(total["correct"]) and ours["counted"] == ours["correct"] + len(total["incorrect"])
        assert ours["accuracy"] == pytest.approx(score, abs=1e-12)
        for section in sections[:-1]:
            mine = ours["sections"][section["section"]]
            assert (mine["correct"], mine["counted"]) == (
                len(section["correct"]),
                len(section["correct"]) + len(section["incorrect"]),
            )
        assert ours["questions"] == 19544
        # A strong test: some but not all counted, some right and some wrong.
        assert 0 < ours["coverage"] < 1 and 0 < ours["accuracy"] < 1
        assert ours["sections"]["capital-common-countries"]["accuracy"] > 0.5

    def test_coverage_counts_every_question(self, analogy_vectors):
        words, vectors = analogy_vectors
        full = analogy_accuracy(vectors, words)
        part = analogy_accuracy(vectors, words, restrict_vocab=400)
        assert part["questions"] == full["questions"] and part["counted"] < full["counted"]
        assert full["coverage"] == pytest.approx(full["counted"] / 19544)


class TestSimilarity(TestCase):
    def test_matches_gensim(self):
        rng = np.random.default_rng(1)
        pairs = []
        with open(word_benchmark_path("wordsim353.tsv")) as f:
            pairs = [line.split("\t")[:2] for line in f if not line.startswith("#")]
        words = list(dict.fromkeys(w.lower() for pair in pairs for w in pair))
        words = [w for i, w in enumerate(words) if i % 9 != 4]
        vectors = rng.normal(size=(len(words), DIM)).astype("float32")
        ours = word_similarity_spearman(vectors, words)
        pearson, spearman, oov_percent = keyed_vectors(words, vectors).evaluate_word_pairs(
            word_benchmark_path("wordsim353.tsv")
        )
        assert ours["spearman"] == pytest.approx(spearman.statistic, abs=1e-6)
        assert ours["pearson"] == pytest.approx(pearson.statistic, abs=1e-6)
        assert ours["coverage"] == pytest.approx(1 - oov_percent / 100, abs=1e-12)
        assert 0 < ours["coverage"] < 1 and ours["pairs"] == 353

    def test_identical_scores_correlate_perfectly(self, tmp_path):
        # A model whose cosines rank the pairs as the gold scores do.
        path = tmp_path / "pairs.tsv"
        angles = np.array([0.1, 0.5, 0.9, 1.3])
        words = ["a", "b", "c", "d", "e", "f", "g", "h"]
        vectors = np.zeros((8, 2), "float32")
        lines = ["# comment"]
        for k, angle in enumerate(angles):
            vectors[2 * k] = [1, 0]
            vectors[2 * k + 1] = [np.cos(angle), np.sin(angle)]
            lines.append(f"{words[2 * k]}\t{words[2 * k + 1]}\t{10 - k}")
        lines.append("a\tzzz\t3.0")
        path.write_text("\n".join(lines) + "\n")
        result = word_similarity_spearman(vectors, words, path=str(path))
        assert result["spearman"] == pytest.approx(1.0)
        assert result["coverage"] == pytest.approx(4 / 5)


class TestNeighboursAndPlot(TestCase):
    def test_nearest_neighbours_match_gensim(self):
        rng = np.random.default_rng(2)
        words = [f"w{i}" for i in range(300)]
        vectors = rng.normal(size=(300, DIM)).astype("float32")
        ours = nearest_neighbours(vectors, words, "w7", k=5)
        theirs = keyed_vectors(words, vectors).most_similar("w7", topn=5)
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-6)
        with pytest.raises(KeyError, match="not in the vocabulary"):
            nearest_neighbours(vectors, words, "nope")

    @pytest.mark.parametrize("method", ["pca", "tsne"])
    def test_plot_words(self, tmp_path, method):
        rng = np.random.default_rng(3)
        words = [f"w{i}" for i in range(40)]
        path = tmp_path / "words.png"
        shown = plot_words(
            rng.normal(size=(40, DIM)), words, ["w1", "w2", "w3", "missing", "w4"], str(path), method=method
        )
        assert shown == ["w1", "w2", "w3", "w4"]
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def test_bad_input(self, tmp_path):
        with pytest.raises(ValueError, match="method"):
            plot_words(np.zeros((3, 2)), ["a", "b", "c"], ["a", "b", "c"], str(tmp_path / "x.png"), method="umap")
        with pytest.raises(ValueError, match="at least 3"):
            plot_words(np.ones((3, 2)), ["a", "b", "c"], ["a", "z"], str(tmp_path / "x.png"))
        with pytest.raises(ValueError, match="vectors must be"):
            analogy_accuracy(np.zeros((2, 3)), ["a", "b", "c"])
