"""Every pretext method's encoder exports with the image signature of docs/architecture.md
and loads in a process that cannot import keras or keras_ssl, with outputs
equal to `model.predict`."""

import importlib
import json

import numpy as np
import pytest

from export.saved_model import export_encoder
from tests.test_case import run_python

METHODS = (
    "rotation_prediction",
    "jigsaw_puzzle",
    "relative_patch_position",
    "context_encoder",
    "colorization",
    "split_brain_autoencoder",
    "denoising_autoencoder",
    "stacked_denoising_autoencoder",
)

LOAD_ALL_WITHOUT_KERAS = """
import json, sys
sys.modules["keras"] = None
sys.modules["keras_ssl"] = None
import numpy as np
import tensorflow as tf
report = {}
for name in sys.argv[2:]:
    serve = tf.saved_model.load(f"{sys.argv[1]}/{name}/1").signatures["serving_default"]
    images = np.load(f"{sys.argv[1]}/{name}.npy")
    outputs = serve(images=tf.constant(images))
    np.save(f"{sys.argv[1]}/{name}_out.npy", outputs["embedding"].numpy())
    try:
        serve(images=tf.constant(images.astype("float32")))
        refused = False
    except Exception:
        refused = True
    report[name] = {"outputs": sorted(outputs), "float32_refused": refused}
print(json.dumps(report))
"""


@pytest.mark.subprocess
def test_every_pretext_encoder_loads_without_keras_and_matches_predict(tmp_path):
    expected = {}
    for name in METHODS:
        model, images, _ = importlib.import_module(f"tests.test_{name}").build_for_strategy_test()
        images = np.asarray(images[:5], "uint8")
        export_encoder(model, str(tmp_path / name), metadata={"dataset": "test"})
        np.save(tmp_path / f"{name}.npy", images)
        expected[name] = np.asarray(model.predict(images, verbose=0))
        metadata = json.loads((tmp_path / name / "1" / "assets.extra" / "metadata.json").read_text())
        assert metadata["inputs"]["images"] == {"dtype": "uint8", "shape": [None, *images.shape[1:]]}, name
    result = run_python(["-c", LOAD_ALL_WITHOUT_KERAS, str(tmp_path), *METHODS])
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for name in METHODS:
        assert report[name] == {"outputs": ["embedding"], "float32_refused": True}, name
        np.testing.assert_allclose(np.load(tmp_path / f"{name}_out.npy"), expected[name], atol=1e-4, err_msg=name)
