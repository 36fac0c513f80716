"""Tests of export.text_encoder: a BERT encoder with its tokenizer in the
graph, loaded with TensorFlow and TF Text's ops only."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.data.bert_inputs import BERT_RESERVED_TOKENS, bert_tokenizer, save_vocabulary
from keras_ssl.methods.language.bert_pretraining import BertPretraining

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `export/` is a top-level folder, not part of the installed package.
    sys.path.insert(0, str(ROOT))

from export.text_encoder import export_text_encoder  # noqa: E402

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
SEQUENCE_LENGTH = 16
TEXTS = ["The cat sat on the mat.", "", "Éléphant, naïve CAFÉ!", "a " * 40, "unseen zyxqv words 1234"]
TEXTS_B = ["It purred.", "nothing before me", "b", "short", "x " * 30]

# Runs where keras, keras_hub and keras_ssl cannot be imported: the
# SavedModel must stand on TensorFlow alone, like in TF Serving. `import
# tensorflow_text` itself imports keras (its Keras layers), so the TF Text
# op libraries are registered directly, as a TF Serving build has them.
LOAD_WITHOUT_KERAS = """
import glob, importlib.util, json, os, sys
for name in ("keras", "keras_hub", "keras_ssl"):
    sys.modules[name] = None
import numpy as np
import tensorflow as tf
ops_dir = os.path.join(importlib.util.find_spec("tensorflow_text").submodule_search_locations[0], "python", "ops")
for library in sorted(glob.glob(os.path.join(ops_dir, "*.so"))):
    tf.load_op_library(library)
try:
    import keras
    keras_blocked = False
except ImportError:
    keras_blocked = True
loaded = tf.saved_model.load(sys.argv[1])
inputs = np.load(sys.argv[2])
texts = [t for t in inputs["texts"].tolist()]
texts_b = [t for t in inputs["texts_b"].tolist()]
results = {}
for key, value in loaded.signatures["serving_default"](text=tf.constant(texts)).items():
    results["single/" + key] = value.numpy()
for key, value in loaded.signatures["text_pair"](text=tf.constant(texts), text_b=tf.constant(texts_b)).items():
    results["pair/" + key] = value.numpy()
ids = {k: tf.constant(inputs[k]) for k in ("token_ids", "segment_ids", "padding_mask")}
for key, value in loaded.signatures["token_ids"](**ids).items():
    results["ids/" + key] = value.numpy()
np.savez(sys.argv[3], **results)
errors = {}
too_long = tf.zeros([1, 1000], tf.int32)
for name, call in {
    "int_text": lambda: loaded.signatures["serving_default"](text=tf.constant([1, 2])),
    "text_matrix": lambda: loaded.signatures["serving_default"](text=tf.constant([["a"]])),
    "pair_lengths": lambda: loaded.signatures["text_pair"](text=tf.constant(["a", "b"]), text_b=tf.constant(["c"])),
    "too_long": lambda: loaded.signatures["token_ids"](token_ids=too_long, segment_ids=too_long,
                                                       padding_mask=too_long),
}.items():
    try:
        call()
        errors[name] = None
    except Exception as e:
        errors[name] = f"{type(e).__name__}: {e}"[:300]
print(json.dumps({"keras_blocked": keras_blocked, "signatures": sorted(loaded.signatures), "errors": errors}))
"""


def run_python(args, **kwargs):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=ENV, timeout=600, **kwargs)


def vocabulary():
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    return [
        *BERT_RESERVED_TOKENS,
        *letters,
        *("##" + c for c in letters),
        ".",
        ",",
        "!",
        "the",
        "cat",
        "sat",
        "mat",
        "on",
        "##at",
        "it",
        "pur",
        "##red",
        "elephant",
        "naive",
        "cafe",
    ]


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary()),
        num_layers=1,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=32,
    )
    return BertPretraining(backbone)


@pytest.fixture(scope="module")
def export_base(model, tmp_path_factory):
    base = tmp_path_factory.mktemp("serving")
    path = export_text_encoder(
        model, vocabulary(), str(base), sequence_length=SEQUENCE_LENGTH, metadata={"dataset": "lee"}
    )
    assert path == str(base / "1")
    return base


def keras_reference(model, texts, texts_b=None):
    """Tokenise and pack with keras-hub outside the SavedModel, run the
    Keras backbone: what the export must reproduce."""
    tokenizer = bert_tokenizer(vocabulary())
    packer = keras_hub.layers.MultiSegmentPacker(
        sequence_length=SEQUENCE_LENGTH,
        start_value=tokenizer.start_token_id,
        end_value=tokenizer.end_token_id,
        pad_value=tokenizer.pad_token_id,
    )
    segments = [texts] if texts_b is None else [texts, texts_b]
    token_ids, segment_ids = tf.function(lambda *s: packer(tuple(tokenizer(x) for x in s)))(
        *(tf.constant(s) for s in segments)
    )
    inputs = {
        "token_ids": token_ids.numpy(),
        "segment_ids": segment_ids.numpy(),
        "padding_mask": (token_ids.numpy() != tokenizer.pad_token_id).astype("int32"),
    }
    return inputs, model.predict(inputs, verbose=0)


def test_layout_and_metadata(export_base):
    assert sorted(os.listdir(export_base)) == ["1"]  # No temporary directory left.
    version = export_base / "1"
    assert (version / "saved_model.pb").is_file()
    metadata = json.loads((version / "assets.extra" / "metadata.json").read_text())
    assert metadata["method"] == "bert" and metadata["dataset"] == "lee" and metadata["version"] == 1
    assert sorted(metadata["signatures"]) == ["serving_default", "text_pair", "token_ids"]
    assert metadata["signatures"]["serving_default"]["inputs"] == {"text": {"dtype": "string", "shape": [None]}}
    assert sorted(metadata["signatures"]["text_pair"]["inputs"]) == ["text", "text_b"]
    assert metadata["outputs"]["pooled_output"] == {"dtype": "float32", "shape": [None, 16]}
    assert metadata["outputs"]["sequence_output"] == {"dtype": "float32", "shape": [None, SEQUENCE_LENGTH, 16]}
    assert metadata["sequence_length"] == SEQUENCE_LENGTH and metadata["vocabulary_size"] == len(vocabulary())
    assert (version / "assets.extra" / "vocab.txt").read_text().split("\n")[:-1] == vocabulary()


@pytest.mark.subprocess
def test_loads_without_keras_and_matches_the_keras_model(model, export_base, tmp_path):
    single_inputs, single = keras_reference(model, TEXTS)
    pair_inputs, pair = keras_reference(model, TEXTS, TEXTS_B)
    assert pair_inputs["segment_ids"].max() == 1 and single_inputs["segment_ids"].max() == 0
    np.savez(tmp_path / "inputs.npz", texts=np.array(TEXTS), texts_b=np.array(TEXTS_B), **pair_inputs)
    result = run_python(
        ["-c", LOAD_WITHOUT_KERAS, str(export_base / "1"), str(tmp_path / "inputs.npz"), str(tmp_path / "out.npz")]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["keras_blocked"]
    assert report["signatures"] == ["serving_default", "text_pair", "token_ids"]
    out = np.load(tmp_path / "out.npz")
    for prefix, expected, inputs in (
        ("single", single, single_inputs),
        ("pair", pair, pair_inputs),
        ("ids", pair, pair_inputs),
    ):
        for key in ("pooled_output", "sequence_output"):
            np.testing.assert_allclose(out[f"{prefix}/{key}"], expected[key], atol=1e-5, err_msg=f"{prefix}/{key}")
        if prefix != "ids":
            np.testing.assert_array_equal(out[f"{prefix}/padding_mask"], inputs["padding_mask"])
    # The pair signature really reads text_b.
    assert out["pair/padding_mask"].sum() > out["single/padding_mask"].sum()
    assert np.abs(out["pair/sequence_output"] - out["single/sequence_output"]).max() > 1e-2
    errors = report["errors"]
    assert "string" in (errors["int_text"] or ""), errors
    assert "shape" in (errors["text_matrix"] or "").lower(), errors
    assert "same number of strings" in (errors["pair_lengths"] or ""), errors
    assert "max_sequence_length" in (errors["too_long"] or ""), errors


def test_failed_export_leaves_nothing_and_versions_are_kept(model, export_base, tmp_path, monkeypatch):
    saved = (export_base / "1" / "saved_model.pb").read_bytes()
    with pytest.raises(FileExistsError, match="already exists"):
        export_text_encoder(model, vocabulary(), str(export_base), version=1)
    assert (export_base / "1" / "saved_model.pb").read_bytes() == saved

    def write_half_then_fail(self, filepath, options=None, verbose=True):
        Path(filepath, "saved_model.pb").write_bytes(b"half")
        raise RuntimeError("disk full")

    # ExportArchive() returns a backend subclass: patch the class actually used.
    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", write_half_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        export_text_encoder(model, vocabulary(), str(tmp_path / "serving"))
    assert os.listdir(tmp_path / "serving") == []


def test_bad_arguments(model, tmp_path):
    with pytest.raises(ValueError, match="vocabulary has"):
        export_text_encoder(model, vocabulary()[:-1], str(tmp_path / "a"))
    with pytest.raises(ValueError, match="sequence_length"):
        export_text_encoder(model, vocabulary(), str(tmp_path / "b"), sequence_length=64)
    with pytest.raises(ValueError, match="BertBackbone"):
        export_text_encoder(
            keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), vocabulary(), str(tmp_path / "c")
        )


@pytest.mark.subprocess
@pytest.mark.slow
def test_cli(model, tmp_path):
    model_dir = tmp_path / "run"
    model_dir.mkdir()
    model.save(model_dir / "model.keras")
    save_vocabulary(vocabulary(), str(model_dir / "vocab.txt"))
    (model_dir / "config.json").write_text(json.dumps({"method": "bert", "corpus": "lee", "sequence_length": 24}))
    base = tmp_path / "serving"
    result = run_python(["-m", "export.text_encoder", f"--model_dir={model_dir}", f"--export_base={base}"], cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[0] == str(base / "1")
    metadata = json.loads((base / "1" / "assets.extra" / "metadata.json").read_text())
    assert metadata["sequence_length"] == 24 and metadata["dataset"] == "lee"
    assert metadata["training_run"]["model_dir"] == str(model_dir)
    missing = run_python(
        ["-m", "export.text_encoder", f"--model_dir={tmp_path / 'nope'}", f"--export_base={base}"], cwd=ROOT
    )
    assert missing.returncode != 0 and "does not exist" in missing.stderr
