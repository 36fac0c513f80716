"""Video colourisation through the zoo: zoo.train on generated clips writes
the tracking table and strip, zoo.evaluate --protocol=tracking prints it,
and the exported embedding network loads without keras and equals `embed`."""

import json
import os

import numpy as np
import pytest

from tests.test_case import run_python, train_here

LOAD_WITHOUT_KERAS = """
import sys
sys.modules["keras"] = None
sys.modules["keras_ssl"] = None
import numpy as np
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
np.save(sys.argv[3], serve(frames=tf.constant(np.load(sys.argv[2])))["embedding_map"].numpy())
"""

TINY = ["--method=video_colorization", "--quick", "--train_size=32", "--epochs=1", "--batch_size=8"]


@pytest.mark.slow
@pytest.mark.subprocess
def test_trains_tracks_evaluates_and_exports(tmp_path, capsys):
    import keras

    from export.saved_model import export_frame_embedding
    from keras_ssl.data import load_video_clips

    run = tmp_path / "run"
    code, out, err = train_here([*TINY, f"--model_dir={run}"], capsys)
    assert code == 0, err[-3000:]
    assert "32 training clips and 8 test clips of 8 frames at (32, 32, 3)" in out
    tracking = json.load(open(run / "evaluation.json"))["tracking"]
    names = {"learned pointer", "random init", "raw-pixel attention (L)", "raw-pixel attention (Lab)"}
    names |= {"copy first mask", "optical flow (TV-L1)"}
    assert set(tracking) == names and all(0 <= s["J"] <= 1 and 0 <= s["F"] <= 1 for s in tracking.values())
    assert open(run / "tracking.png", "rb").read(4) == b"\x89PNG"

    evaluated = run_python(["-m", "zoo.evaluate", f"--model_dir={run}", "--protocol=tracking", "--nobaselines"])
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert "| learned pointer |" in evaluated.stdout and "| copy first mask |" not in evaluated.stdout

    model = keras.saving.load_model(run / "model.keras")
    path = export_frame_embedding(model, str(tmp_path / "serving"))
    metadata = json.load(open(os.path.join(path, "assets.extra", "metadata.json")))
    assert metadata["inputs"]["frames"]["shape"] == [None, 32, 32, 3]
    assert os.path.exists(os.path.join(path, "assets.extra", "tf_serving_warmup_requests"))
    frames = load_video_clips("test", num_clips=1, num_frames=3, size=32).frames[0]
    np.save(tmp_path / "frames.npy", frames)
    loaded = run_python(["-c", LOAD_WITHOUT_KERAS, path, str(tmp_path / "frames.npy"), str(tmp_path / "out.npy")])
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), model.embed(frames).numpy(), rtol=1e-5, atol=1e-5)


def test_bad_flags_give_one_line(tmp_path, capsys):
    code, _, err = train_here([*TINY, "--num_labels=10", f"--model_dir={tmp_path}"], capsys)
    assert code == 1 and "--num_labels is for semi-supervised methods" in err.strip().splitlines()[-1]
    code, _, err = train_here([*TINY, "--dataset=digits", f"--model_dir={tmp_path}"], capsys)
    assert code == 1 and "moving_objects or frames:PATH" in err.strip().splitlines()[-1]
