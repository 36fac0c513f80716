"""The word2vec-against-gensim benchmark suite runs end to end (quick
budget) and reports paired ratios."""

import json

import pytest

from tests.test_case import TestCase


class TestWord2VecBenchmark(TestCase):
    def test_quick_suite_writes_paired_table(self, tmp_path):
        from zoo.benchmarks import word2vec

        results = word2vec.run(str(tmp_path), quick=True, architectures=("cbow",), repeats=2)
        gensim, ours = results["rows"]
        assert (gensim["implementation"], ours["implementation"]) == ("gensim", "keras_ssl")
        assert results["repeats"] == 2 and ours["repeats"] == 2
        # The ratio is the median of the paired ratios, inside their range.
        low, high = ours["time_ratio_range"]
        assert low <= ours["time_ratio_vs_gensim"] <= high
        assert ours["seconds"] > 0 and gensim["seconds"] > 0
        assert ours["updates_per_batch"] == word2vec.BATCH_SIZE["cbow"] // word2vec.UPDATE_SIZE
        # A batch size of the command line keeps updates of about UPDATE_SIZE.
        assert [word2vec.updates_per_batch(b) for b in (100, 1024, 4096, 5000)] == [1, 1, 4, 5]
        # Both sets of vectors are scored on the same vocabulary.
        assert ours["vocabulary"] == gensim["vocabulary"] and ours["analogy_coverage"] == gensim["analogy_coverage"]
        with open(tmp_path / "results.json") as f:
            assert json.load(f)["rows"][1]["time_ratio_vs_gensim"] == pytest.approx(ours["time_ratio_vs_gensim"])
        table = (tmp_path / "results.md").read_text()
        assert "| cbow | keras_ssl |" in table and f"({low:.2f}-{high:.2f})" in table
