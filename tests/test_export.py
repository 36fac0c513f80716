"""Tests of export.saved_model: TF Serving layout, keras-free loading, atomicity, CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_ssl

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `export/` is a top-level folder, not part of the installed package.
    sys.path.insert(0, str(ROOT))

from export.saved_model import export_encoder  # noqa: E402

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}

# Runs in a process where keras and keras_ssl cannot be imported: the
# SavedModel must stand on TensorFlow alone, like in TF Serving.
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
loaded = tf.saved_model.load(sys.argv[1])
serve = loaded.signatures["serving_default"]
images = np.load(sys.argv[2])
outputs = serve(images=tf.constant(images))
np.save(sys.argv[3], outputs["embedding"].numpy())
# Each image as a PNG of its own size: decoded and resized in the graph (to the same size).
pngs = tf.stack([tf.io.encode_png(image) for image in images])
np.save(sys.argv[4], loaded.signatures["image_bytes"](image_bytes=pngs)["embedding"].numpy())
other_size = serve(images=tf.zeros([2, 32, 40, 1], tf.uint8))["embedding"].shape.as_list()
bad_inputs = {
    "float32": images.astype("float32"),
    "no_channel_axis": images[..., 0],
    "3_channels": np.zeros((2, 28, 28, 3), "uint8"),
}
errors = {}
for name, bad in bad_inputs.items():
    try:
        serve(images=tf.constant(bad))
        errors[name] = None
    except Exception as e:
        errors[name] = f"{type(e).__name__}: {e}"[:300]
report = {"outputs": sorted(outputs), "signatures": sorted(loaded.signatures), "other_size": other_size}
print(json.dumps({"keras_blocked": keras_blocked, **report, "errors": errors}))
"""


def run_python(args, **kwargs):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=ENV, timeout=300, **kwargs)


def hidden_entries(path):
    return [n for n in os.listdir(path) if not n.isdigit()]


@pytest.fixture(scope="module")
def model():
    backbone = keras_ssl.backbones.ConvNet(input_shape=(28, 28, 1), filters=(4, 8))
    return keras_ssl.methods.SimCLR(backbone, seed=0)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (5, 28, 28, 1)).astype("uint8")


@pytest.fixture(scope="module")
def export_base(model, tmp_path_factory):
    base = tmp_path_factory.mktemp("serving")
    assert export_encoder(model, str(base), metadata={"dataset": "fashion_mnist"}) == str(base / "1")
    assert export_encoder(model, str(base)) == str(base / "2")
    return base


def test_versions_layout_and_metadata(export_base):
    assert sorted(os.listdir(export_base)) == ["1", "2"]  # no temporary directory left
    for version in ("1", "2"):
        assert (export_base / version / "saved_model.pb").is_file()
        assert (export_base / version / "assets.extra" / "metadata.json").is_file()
        assert (export_base / version / "assets.extra" / "tf_serving_warmup_requests").is_file()
    metadata = json.loads((export_base / "1" / "assets.extra" / "metadata.json").read_text())
    assert metadata["method"] == "simclr"
    assert metadata["dataset"] == "fashion_mnist"
    assert metadata["inputs"]["images"] == {"dtype": "uint8", "shape": [None, 28, 28, 1]}  # The model's own size.
    assert metadata["inputs"]["image_bytes"]["dtype"] == "string"
    assert "shorter side resized to 28" in metadata["inputs"]["image_bytes"]["decoded"]
    assert sorted(metadata["signatures"]) == ["image_bytes", "serving_default"]
    assert metadata["signatures"]["serving_default"]["inputs"] == {
        "images": {"dtype": "uint8", "shape": [None, None, None, 1], "resized_to": [28, 28]}
    }
    assert metadata["signatures"]["image_bytes"]["outputs"] == {"embedding": {"dtype": "float32", "shape": [None, 8]}}
    assert metadata["warmup_requests"] == {
        "file": "assets.extra/tf_serving_warmup_requests",
        "signatures": ["serving_default", "image_bytes"],
    }
    assert metadata["outputs"]["embedding"]["dim"] == 8
    assert metadata["keras_ssl_version"] == keras_ssl.__version__
    assert metadata["version"] == 1 and metadata["exported_at"]


@pytest.mark.subprocess
def test_loads_without_keras_and_matches_predict(model, images, export_base, tmp_path):
    np.save(tmp_path / "images.npy", images)
    out, bytes_out = tmp_path / "out.npy", tmp_path / "bytes_out.npy"
    result = run_python(
        ["-c", LOAD_WITHOUT_KERAS, str(export_base / "1"), str(tmp_path / "images.npy"), str(out), str(bytes_out)]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["keras_blocked"]
    assert report["outputs"] == ["embedding"]
    assert report["signatures"] == ["image_bytes", "serving_default"]
    assert report["other_size"] == [2, 8]  # Another height and width is resized in the graph.
    # Wrong dtype, rank or channel count is refused at the signature with
    # TensorFlow's own error, never silently accepted (or a crash of the process).
    errors = report["errors"]
    assert "uint8" in (errors["float32"] or ""), errors
    assert "shape" in (errors["no_channel_axis"] or ""), errors
    assert "shape" in (errors["3_channels"] or ""), errors
    expected = model.predict(images, verbose=0)
    np.testing.assert_allclose(np.load(out), expected, atol=1e-5)
    np.testing.assert_allclose(np.load(bytes_out), expected, atol=1e-5)


def contrastive_family_model(name):
    """A tiny model of each method of the contrastive, clustering and MI
    family, for 28x28 grey images (DeepCluster with its Sobel input, CPC
    with its patch encoder: encoders that are more than the backbone)."""
    from keras_ssl.backbones import ConvNet

    methods = keras_ssl.methods
    keras.utils.set_random_seed(0)
    backbone = ConvNet(input_shape=(28, 28, 1), filters=(4, 8))
    if name == "moco":
        return methods.MoCo(backbone, projection_dim=8, queue_size=32, seed=0)
    if name == "instance_discrimination":
        return methods.InstanceDiscrimination(backbone, num_examples=16, embedding_dim=8, num_negatives=4, seed=0)
    if name == "cpc":
        patch_encoder = ConvNet(input_shape=(8, 8, 1), filters=(4,))
        return methods.CPC(
            patch_encoder, image_shape=(28, 28, 1), prediction_steps=1, context_dim=8, context_layers=1, seed=0
        )
    if name == "deep_infomax":
        return methods.DeepInfoMax(backbone, discriminator_dim=8, seed=0)
    if name == "deep_cluster":
        backbone = ConvNet(input_shape=(28, 28, 2), filters=(4, 8))  # The Sobel filter's two gradients.
        return methods.DeepCluster(backbone, num_examples=16, num_clusters=4, pca_dim=4, sobel=True, seed=0)
    return methods.NoiseAsTargets(backbone, num_examples=16, target_dim=8, seed=0)


CONTRASTIVE_FAMILY = ("moco", "instance_discrimination", "cpc", "deep_infomax", "deep_cluster", "noise_as_targets")
# Loads each export given as PATH=OUT in one keras-free process.
LOAD_MANY_WITHOUT_KERAS = """
import sys
sys.modules["keras"] = None
sys.modules["keras_ssl"] = None
import numpy as np
import tensorflow as tf
images = tf.constant(np.load(sys.argv[1]))
for pair in sys.argv[2:]:
    path, out = pair.split("=")
    np.save(out, tf.saved_model.load(path).signatures["serving_default"](images=images)["embedding"].numpy())
print("ok")
"""


@pytest.mark.subprocess
def test_contrastive_family_exports_load_without_keras(images, tmp_path):
    np.save(tmp_path / "images.npy", images)
    models, pairs = {}, []
    for name in CONTRASTIVE_FAMILY:
        models[name] = contrastive_family_model(name)
        path = export_encoder(models[name], str(tmp_path / name))
        pairs.append(f"{path}={tmp_path / name}.npy")
    result = run_python(["-c", LOAD_MANY_WITHOUT_KERAS, str(tmp_path / "images.npy"), *pairs])
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
    for name, model in models.items():
        np.testing.assert_allclose(
            np.load(tmp_path / f"{name}.npy"), model.predict(images, verbose=0), atol=1e-5, err_msg=name
        )


def test_failed_export_leaves_nothing(model, tmp_path, monkeypatch):
    def write_half_then_fail(self, filepath, options=None, verbose=True):
        Path(filepath, "saved_model.pb").write_bytes(b"half")
        raise RuntimeError("disk full")

    # ExportArchive() returns a backend subclass: patch the class actually used.
    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", write_half_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        export_encoder(model, str(tmp_path / "serving"))
    assert os.listdir(tmp_path / "serving") == []


def test_existing_version_is_refused_and_untouched(model, export_base):
    saved = (export_base / "1" / "saved_model.pb").read_bytes()
    metadata = (export_base / "1" / "assets.extra" / "metadata.json").read_text()
    with pytest.raises(FileExistsError, match="already exists"):
        export_encoder(model, str(export_base), version=1)
    assert (export_base / "1" / "saved_model.pb").read_bytes() == saved
    assert (export_base / "1" / "assets.extra" / "metadata.json").read_text() == metadata
    assert hidden_entries(export_base) == []


@pytest.mark.subprocess
def test_read_run_checks_the_run_directory(tmp_path):
    from export.versions import read_run

    run = tmp_path / "run"
    with pytest.raises(ValueError, match=r"model_dir .*run does not exist: pass the run directory written by x"):
        read_run(str(run), train="x")
    run.mkdir()
    (run / "model.keras").write_text("")
    with pytest.raises(ValueError, match=r"no vocab.txt in .*run: train first with x --model_dir="):
        read_run(str(run), files=("model.keras", "vocab.txt"), train="x")
    assert read_run(str(run), config_required=False) == {}
    with pytest.raises(ValueError, match="cannot read .*config.json"):
        read_run(str(run))
    (run / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot read .*config.json"):
        read_run(str(run), config_required=False)
    (run / "config.json").write_text("[1]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        read_run(str(run))
    (run / "config.json").write_text(json.dumps({"method": "simclr"}))
    assert read_run(str(run)) == {"method": "simclr"}


def test_cli(model, tmp_path):
    model_dir = tmp_path / "run"
    model_dir.mkdir()
    model.save(model_dir / "model.keras")
    config = {"method": "simclr", "dataset": "fashion_mnist", "image_shape": [28, 28, 1], "epochs": 1}
    (model_dir / "config.json").write_text(json.dumps(config))
    base = tmp_path / "serving"

    result = run_python(["-m", "export.saved_model", f"--model_dir={model_dir}", f"--export_base={base}"], cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    path = Path(lines[-2])
    assert path == base / "1" and (path / "saved_model.pb").is_file()
    assert f"saved_model_cli show --dir {path} --all" in lines[-1]
    metadata = json.loads((path / "assets.extra" / "metadata.json").read_text())
    assert metadata["training_run"] == {"model_dir": str(model_dir), "config": config}

    result = run_python(
        ["-m", "export.saved_model", f"--model_dir={tmp_path / 'missing'}", f"--export_base={base}"], cwd=ROOT
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "does not exist" in errors[0]
    assert result.stderr.strip().splitlines()[-1] == errors[0]
    assert sorted(os.listdir(base)) == ["1"]


def test_bfloat16_model_exports_uint8_in_float32_out(images, tmp_path):
    import tensorflow as tf

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        backbone = keras_ssl.backbones.ConvNet(input_shape=(28, 28, 1), filters=(4, 8))
        bf16 = keras_ssl.methods.SimCLR(backbone, seed=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert bf16.backbone.compute_dtype == "bfloat16"
    serve = tf.saved_model.load(export_encoder(bf16, str(tmp_path))).signatures["serving_default"]
    assert serve.structured_input_signature[1]["images"].dtype == tf.uint8
    embedding = serve(images=tf.constant(images))["embedding"]
    assert embedding.dtype == tf.float32
    # bfloat16 keeps 8 bits of mantissa: about 1% of each feature.
    np.testing.assert_allclose(
        embedding.numpy(), bf16.predict(images, verbose=0).astype("float32"), rtol=0.05, atol=0.05
    )


# --- the image_bytes signature, any-size images, warm-up requests ----------


def load_signatures(path):
    import tensorflow as tf

    return tf.saved_model.load(path).signatures


def random_photo(height, width, channels=3, seed=1):
    return np.random.default_rng(seed).integers(0, 256, (height, width, channels)).astype("uint8")


@pytest.fixture(scope="module")
def colour_model():
    backbone = keras_ssl.backbones.ConvNet(input_shape=(16, 16, 3), filters=(4, 8))
    return keras_ssl.methods.SimCLR(backbone, seed=0)


@pytest.fixture(scope="module")
def colour_export(colour_model, tmp_path_factory):
    return export_encoder(colour_model, str(tmp_path_factory.mktemp("colour")))


def test_image_bytes_is_the_evaluation_preprocessing(colour_model, colour_export):
    import tensorflow as tf

    from keras_ssl.data import decode_and_crop

    serve = load_signatures(colour_export)["image_bytes"]
    photo = random_photo(40, 52)  # Not the model's 16x16: resized and centre-cropped.
    for encoded in (tf.io.encode_jpeg(photo), tf.io.encode_png(photo)):
        served = serve(image_bytes=tf.stack([encoded, encoded]))["embedding"].numpy()
        expected = colour_model.encoder.predict(decode_and_crop(encoded, 16, 3)[None].numpy(), verbose=0)
        assert served.shape == (2, 8)
        np.testing.assert_allclose(served, np.concatenate([expected, expected]), rtol=1e-5, atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown image file format"):
        serve(image_bytes=tf.constant([b"not an image"]))  # Fails the request: no silent fallback.


def test_grey_model_takes_a_colour_jpeg(model, export_base):
    import tensorflow as tf

    from keras_ssl.data import decode_and_crop

    jpeg = tf.io.encode_jpeg(random_photo(30, 45))
    served = load_signatures(str(export_base / "1"))["image_bytes"](image_bytes=tf.stack([jpeg]))["embedding"]
    expected = model.encoder.predict(decode_and_crop(jpeg, 28, 1)[None].numpy(), verbose=0)
    np.testing.assert_allclose(served.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_images_of_any_size_are_resized_in_the_graph(model, images, export_base):
    import tensorflow as tf

    serve = load_signatures(str(export_base / "1"))["serving_default"]
    native = serve(images=tf.constant(images))["embedding"].numpy()
    np.testing.assert_allclose(native, model.predict(images, verbose=0), atol=1e-5)
    larger = np.random.default_rng(2).integers(0, 256, (3, 40, 52, 1)).astype("uint8")
    resized = tf.image.resize(larger, [28, 28], method="bilinear", antialias=True).numpy()
    resized = np.clip(np.round(resized), 0, 255).astype("uint8")
    served = serve(images=tf.constant(larger))["embedding"].numpy()
    np.testing.assert_allclose(served, model.predict(resized, verbose=0), rtol=1e-5, atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"not compatible with expected shape \[\?,\?,\?,1\]"):
        serve(images=tf.zeros([2, 40, 52, 3], tf.uint8))  # The channel count stays strict.


def test_non_square_model_resizes_decoded_images_to_its_shape(tmp_path):
    import tensorflow as tf

    encoder = keras_ssl.backbones.ConvNet(input_shape=(12, 20, 3), filters=(4,))
    signatures = load_signatures(export_encoder(encoder, str(tmp_path)))
    grey = random_photo(30, 31, channels=1)
    decoded = tf.image.decode_png(tf.io.encode_png(grey), channels=3)  # A colour model takes a grey PNG.
    expected = tf.image.resize(decoded, [12, 20], antialias=True).numpy()
    expected = encoder.predict(np.clip(np.round(expected), 0, 255).astype("uint8")[None], verbose=0)
    served = signatures["image_bytes"](image_bytes=tf.stack([tf.io.encode_png(grey)]))["embedding"].numpy()
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-5)
    assert signatures["serving_default"](images=tf.zeros([1, 12, 20, 3], tf.uint8))["embedding"].shape == (1, 4)


def warmup_requests(path):
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    file = os.path.join(path, "assets.extra", "tf_serving_warmup_requests")
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in tf.data.TFRecordDataset(file)]
    return [log.predict_log.request for log in logs]


def test_warmup_requests_cover_and_run_every_signature(export_base, tmp_path):
    import tensorflow as tf

    nade = keras_ssl.methods.NADE((4, 4, 1), hidden_units=6, seed=0)  # A density model: log_prob too.
    for path in (str(export_base / "1"), export_encoder(nade, str(tmp_path))):
        signatures = load_signatures(path)
        requests = warmup_requests(path)
        names = [request.model_spec.signature_name for request in requests]
        assert sorted(names) == sorted(signatures), path
        for request in requests:
            inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
            outputs = signatures[request.model_spec.signature_name](**inputs)
            assert all(np.all(np.isfinite(t.numpy())) for t in outputs.values()), request.model_spec
    assert sorted(names) == ["image_bytes", "log_prob", "serving_default"]


def test_failed_warmup_leaves_nothing(model, tmp_path, monkeypatch):
    import export.saved_model

    def write_half_then_fail(path, requests):
        Path(path).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(export.saved_model, "write_warmup_requests", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        export_encoder(model, str(tmp_path / "serving"))
    assert os.listdir(tmp_path / "serving") == []
