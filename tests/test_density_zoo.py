"""The density family through the zoo, the export and two replicas:
`zoo.train` runs of FVSBN, NADE and PixelCNN, the `log_prob` serving
signature (an anomaly score), one step on `cpu:2` against one replica, and
the density benchmark."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from export.saved_model import export_encoder
from keras_ssl.data import binarize, load_digits, load_fashion_mnist
from keras_ssl.methods import FVSBN
from tests.test_case import run_python
from zoo import runs
from zoo.recipes.density import independent_pixels_nll

# Small versions of each model, for runs of seconds.
SMALL = {
    "fvsbn": {"class": "FVSBN"},
    "nade": {"class": "NADE", "hidden_units": 16},
    "pixelcnn": {"class": "PixelCNN", "filters": 8, "num_layers": 2, "kernel_size": 3},
}


def small_run(method, tmp_path, **changes):
    config = runs.resolve_config(method, "digits", quick=True, epochs=1, batch_size=32, **changes)
    config.update(model=SMALL[method], train_size=None)  # Every digit.
    model_dir = str(tmp_path / method)
    model, history = runs.train(config, runs.load_data(config), model_dir, verbose=0)
    return model, history, model_dir


@pytest.mark.parametrize("method", list(SMALL))
def test_zoo_run_writes_likelihoods_samples_and_completions(method, tmp_path):
    model, history, model_dir = small_run(method, tmp_path)
    assert {"loss", "bits_per_dim", "val_loss", "val_bits_per_dim"} <= set(history)
    with open(os.path.join(model_dir, "evaluation.json")) as f:
        test = json.load(f)["test"]
    digits = load_digits()
    binary_test = binarize(digits.x_test, seed=1)
    nll = -model.log_likelihood(binary_test).numpy().mean()
    np.testing.assert_allclose(test["test_nll_nats"], nll, rtol=1e-5)
    np.testing.assert_allclose(test["test_bits_per_dim"], nll / (64 * np.log(2)), rtol=1e-5)
    np.testing.assert_allclose(
        test["independent_pixels_nll_nats"], independent_pixels_nll(binarize(digits.x_train), binary_test), rtol=1e-6
    )
    for name in ("samples.png", "completions.png", "history.png", "model.keras"):
        path = os.path.join(model_dir, name)
        assert os.path.getsize(path) > 500, name
    assert open(os.path.join(model_dir, "samples.png"), "rb").read(4) == b"\x89PNG"
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    assert config["family"] == "density" and config["image_shape"] == [8, 8, 1]


def test_flags_of_other_families_and_colour_data_are_refused(tmp_path):
    with pytest.raises(ValueError, match="--num_labels is for semi-supervised methods; nade models images"):
        runs.resolve_config("nade", "digits", num_labels=100)
    config = runs.resolve_config("fvsbn", "photos", quick=True)
    with pytest.raises(ValueError, match="density models take grey images"):
        runs.load_data(config)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """An FVSBN trained briefly on binarised Fashion-MNIST, exported."""
    fashion = load_fashion_mnist().subset(train_size=2000, test_size=500, seed=0)
    keras.utils.set_random_seed(0)
    model = FVSBN(input_shape=(28, 28, 1), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(5e-3))
    model.fit(binarize(fashion.x_train), batch_size=100, epochs=3, verbose=0)
    path = export_encoder(model, str(tmp_path_factory.mktemp("serving")), metadata={"method": "fvsbn"})
    return model, fashion, path


def test_log_prob_signature_scores_out_of_distribution_images_lower(exported):
    model, fashion, path = exported
    serving = tf.saved_model.load(path)
    raw = fashion.x_test[:64]  # Raw pixels in: the signature binarises at 128.
    log_prob = serving.signatures["log_prob"](images=tf.constant(raw))["log_prob"].numpy()
    np.testing.assert_allclose(log_prob, model.log_likelihood(binarize(raw)).numpy(), rtol=1e-4)
    embedding = serving.signatures["serving_default"](images=tf.constant(raw))["embedding"].numpy()
    assert embedding.shape == (64, 784)
    with open(os.path.join(path, "assets.extra", "metadata.json")) as f:
        assert json.load(f)["log_prob"]["signature"] == "log_prob"

    def mean_log_prob(images):
        return float(serving.signatures["log_prob"](images=tf.constant(images))["log_prob"].numpy().mean())

    in_distribution = mean_log_prob(fashion.x_test)
    noise = np.random.default_rng(0).integers(0, 256, size=(200, 28, 28, 1), dtype="uint8")
    digits = load_digits().x_test[:200]
    digits = tf.image.resize(digits, (28, 28), method="nearest").numpy().astype("uint8")
    assert mean_log_prob(noise) < in_distribution - 100, (mean_log_prob(noise), in_distribution)
    assert mean_log_prob(digits) < in_distribution, (mean_log_prob(digits), in_distribution)
    train, test = binarize(fashion.x_train), binarize(fashion.x_test)
    assert -model.log_likelihood(test).numpy().mean() < independent_pixels_nll(train, test)


# The SavedModel stands on TensorFlow alone, as in TF Serving.
LOG_PROB_WITHOUT_KERAS = """
import sys
sys.modules["keras"] = None
sys.modules["keras_ssl"] = None
import numpy as np
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["log_prob"]
np.save(sys.argv[3], serve(images=tf.constant(np.load(sys.argv[2])))["log_prob"].numpy())
"""


@pytest.mark.subprocess
def test_log_prob_loads_without_keras(exported, tmp_path):
    model, fashion, path = exported
    np.save(tmp_path / "images.npy", fashion.x_test[:32])
    result = run_python(
        ["-c", LOG_PROB_WITHOUT_KERAS, path, str(tmp_path / "images.npy"), str(tmp_path / "log_prob.npy")]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    expected = model.log_likelihood(binarize(fashion.x_test[:32])).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "log_prob.npy"), expected, rtol=1e-4)


def test_binarize_threshold_and_seeded_draws():
    images = np.array([[0, 127, 128, 255]], "uint8")
    np.testing.assert_array_equal(binarize(images), [[0, 0, 1, 1]])
    np.testing.assert_array_equal(binarize(images, threshold=0.25), [[0, 1, 1, 1]])
    grey = np.full((20000,), 64, "uint8")
    drawn = binarize(grey, stochastic=True, seed=3)
    assert drawn.dtype == np.uint8 and set(np.unique(drawn)) <= {0, 1}
    assert abs(drawn.mean() - 64 / 255) < 0.01
    np.testing.assert_array_equal(drawn, binarize(grey, stochastic=True, seed=3))
    assert not np.array_equal(drawn, binarize(grey, stochastic=True, seed=4))
    np.testing.assert_array_equal(binarize(np.array([0, 255]), stochastic=True), [0, 1])
    with pytest.raises(ValueError, match="threshold must be in"):
        binarize(images, threshold=1.5)


def test_benchmark_writes_its_table(tmp_path):
    from zoo.benchmarks import density

    result = density.run(str(tmp_path), quick=True, methods=["fvsbn"])
    table = density.markdown({**result, "machine": "test"})
    assert list(result["rows"]) == ["FVSBN"]
    row = result["rows"]["FVSBN"]
    assert row["parameters"] == 784 * 784 + 784 and row["train_seconds"] > 0 and row["samples_per_second"] > 0
    assert "| independent pixels |" in table and "| FVSBN |" in table
    for path in result["figures"].values():
        assert os.path.getsize(path) > 500 and open(path, "rb").read(4) == b"\x89PNG"
    again = density.run(str(tmp_path), quick=True, methods=["fvsbn"])  # Finished: reused.
    assert again["rows"]["FVSBN"]["train_seconds"] == row["train_seconds"]


WORKER = os.path.join("tests", "workers", "density_step.py")


@pytest.mark.slow
@pytest.mark.subprocess
def test_one_step_on_two_replicas_equals_one_replica(tmp_path):
    from tests.workers.density_step import CASES

    result = run_python([WORKER, "--strategy=both", f"--output-dir={tmp_path}"], timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in CASES:
        with np.load(tmp_path / "single" / f"{name}.npz") as one, np.load(tmp_path / "mirrored" / f"{name}.npz") as two:
            assert int(one["num_replicas"]) == 1 and int(two["num_replicas"]) == 2
            np.testing.assert_allclose(two["loss"], one["loss"], rtol=1e-5)
            count = len([k for k in one.files if k.startswith("final_")])
            moved = 0
            for i in range(count):
                np.testing.assert_allclose(two[f"final_{i}"], one[f"final_{i}"], rtol=1e-5, atol=1e-5, err_msg=name)
                moved += not np.allclose(one[f"final_{i}"], one[f"init_{i}"])
            assert moved >= 2, name  # The step changed the weights it trains.
