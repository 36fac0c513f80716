"""Tests of export.word_vectors: TF Serving layout, keras-free loading,
unknown words, atomicity, CLI."""

import json
import os
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_ssl.methods import Word2Vec
from tests.test_case import REPO_ROOT, TestCase, run_python

if REPO_ROOT not in sys.path:  # `export/` is a top-level folder, not part of the installed package.
    sys.path.insert(0, REPO_ROOT)

from export.word_vectors import export_word_vectors  # noqa: E402

WORDS = ["the", "cat", "sat", "on", "mat", "Ünïcode", "a b"]

# Runs where keras and keras_ssl cannot be imported: the SavedModel must
# stand on TensorFlow alone, as in TF Serving.
LOAD_WITHOUT_KERAS = """
import json, sys
sys.modules["keras"] = None
sys.modules["keras_ssl"] = None
import numpy as np
import tensorflow as tf
try:
    import keras
    keras_blocked = False
except ImportError:
    keras_blocked = True
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
words = json.loads(sys.argv[2])
outputs = serve(words=tf.constant(words))
np.save(sys.argv[3], outputs["vectors"].numpy())
errors = {}
for name, bad in {"scalar": tf.constant("cat"), "ints": tf.constant([1, 2]), "matrix": tf.constant([["cat"]])}.items():
    try:
        serve(words=bad)
        errors[name] = None
    except Exception as e:
        errors[name] = f"{type(e).__name__}: {e}"[:300]
print(json.dumps({"keras_blocked": keras_blocked, "outputs": sorted(outputs),
                  "in_vocabulary": outputs["in_vocabulary"].numpy().tolist(),
                  "dtype": outputs["vectors"].dtype.name, "errors": errors}))
"""


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return Word2Vec(WORDS, [50, 40, 30, 20, 10, 5, 5], dimension=6, seed=0)


@pytest.fixture(scope="module")
def export_base(model, tmp_path_factory):
    base = tmp_path_factory.mktemp("serving")
    assert export_word_vectors(model, str(base), metadata={"dataset": "wordnet"}) == str(base / "1")
    assert export_word_vectors(model, str(base)) == str(base / "2")
    return base


class TestExport(TestCase):
    def test_layout_and_metadata(self, export_base):
        assert sorted(os.listdir(export_base)) == ["1", "2"]  # No temporary directory left.
        assert (export_base / "1" / "saved_model.pb").is_file()
        metadata = json.loads((export_base / "1" / "assets.extra" / "metadata.json").read_text())
        assert metadata["method"] == "word2vec" and metadata["dataset"] == "wordnet"
        assert metadata["inputs"] == {"words": {"dtype": "string", "shape": [None]}}
        assert metadata["outputs"]["vectors"]["dim"] == 6 and metadata["vocabulary_size"] == 7
        assert metadata["oov_vector"] == "zeros" and metadata["version"] == 1

    @pytest.mark.subprocess
    def test_loads_without_keras_and_matches_model(self, model, export_base, tmp_path):
        words = ["cat", "dog", "the", "", "Ünïcode", "a b", "CAT", "mat"]
        result = run_python(
            ["-c", LOAD_WITHOUT_KERAS, str(export_base / "1"), json.dumps(words), str(tmp_path / "out.npy")]
        )
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert report["keras_blocked"] and report["outputs"] == ["in_vocabulary", "vectors"]
        assert report["dtype"] == "float32"
        known = [w in WORDS for w in words]
        assert report["in_vocabulary"] == known  # Exact match: "CAT" and "" are unknown.
        vectors = np.load(tmp_path / "out.npy")
        for word, row, is_known in zip(words, vectors, known):
            expected = model.vector(word) if is_known else np.zeros(6)
            np.testing.assert_array_equal(row, expected)
        # Wrong rank or dtype fails at the signature, never silently.
        errors = report["errors"]
        assert "string" in (errors["ints"] or ""), errors
        assert "shape" in (errors["scalar"] or "") and "shape" in (errors["matrix"] or ""), errors

    def test_failed_export_leaves_nothing(self, model, tmp_path, monkeypatch):
        import tensorflow as tf

        def write_half_then_fail(obj, path, signatures=None, options=None):
            Path(path, "saved_model.pb").write_bytes(b"half")
            raise RuntimeError("disk full")

        monkeypatch.setattr(tf.saved_model, "save", write_half_then_fail)
        with pytest.raises(RuntimeError, match="disk full"):
            export_word_vectors(model, str(tmp_path / "serving"))
        assert os.listdir(tmp_path / "serving") == []

    def test_refuses_existing_version_and_bad_model(self, model, export_base):
        saved = (export_base / "1" / "saved_model.pb").read_bytes()
        with pytest.raises(FileExistsError, match="already exists"):
            export_word_vectors(model, str(export_base), version=1)
        assert (export_base / "1" / "saved_model.pb").read_bytes() == saved
        with pytest.raises(ValueError, match="vocabulary"):
            export_word_vectors(keras.Sequential(), str(export_base))

    @pytest.mark.subprocess
    def test_cli(self, model, tmp_path):
        model_dir = tmp_path / "run"
        model_dir.mkdir()
        model.save(model_dir / "model.keras")
        config = {"method": "word2vec", "corpus": "wordnet", "epochs": 1}
        (model_dir / "config.json").write_text(json.dumps(config))
        base = tmp_path / "serving"
        result = run_python(["-m", "export.word_vectors", f"--model_dir={model_dir}", f"--export_base={base}"])
        assert result.returncode == 0, result.stderr[-3000:]
        lines = result.stdout.strip().splitlines()
        assert Path(lines[-2]) == base / "1" and (base / "1" / "saved_model.pb").is_file()
        metadata = json.loads((base / "1" / "assets.extra" / "metadata.json").read_text())
        assert metadata["training_run"] == {"model_dir": str(model_dir), "config": config}
        assert metadata["dataset"] == "wordnet"
        result = run_python(
            ["-m", "export.word_vectors", f"--model_dir={tmp_path / 'missing'}", f"--export_base={base}"]
        )
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith("error: model_dir")
        # A config.json that is not an object: one error line (it crashed
        # with a traceback before the exporters shared read_run).
        (model_dir / "config.json").write_text("[1, 2]")
        result = run_python(["-m", "export.word_vectors", f"--model_dir={model_dir}", f"--export_base={base}"])
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert (
            result.stderr.strip()
            .splitlines()[-1]
            .endswith("must hold a JSON object: pass a run directory written by python -m zoo.train --method=word2vec")
        )
        assert sorted(os.listdir(base)) == ["1"]
