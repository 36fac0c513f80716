"""Every semi-supervised method through the zoo: config, training run,
classifier evaluation and a TF Serving export with probabilities."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from export.saved_model import export_encoder
from keras_ssl.data import load_digits
from zoo import configs, runs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.mark.parametrize("method", configs.SEMI_SUPERVISED)
def test_train_evaluate_export(method, digits, tmp_path):
    config = runs.resolve_config(method, "digits", quick=True, num_labels=50, batch_size=16)
    config.update({"epochs": 2, "steps_per_epoch": 3, "backbone": {"class": "ConvNet", "filters": [4, 8]}})
    model_dir = str(tmp_path / "run")
    model, history = runs.train(config, digits, model_dir, verbose=0)
    assert {"loss", "supervised_loss", "unsupervised_loss", "accuracy", "val_accuracy"} <= set(history)
    assert all(np.isfinite(history["loss"]))
    assert os.path.exists(os.path.join(model_dir, "model.keras"))

    accuracy = runs.evaluate_run(model, digits, "classifier", 1.0)["trained"]
    assert 0.0 <= accuracy <= 1.0

    path = export_encoder(model, str(tmp_path / "serving"), metadata={"method": method})
    serving = tf.saved_model.load(path).signatures["serving_default"]
    outputs = serving(images=tf.constant(digits.x_test[:5]))
    probabilities = outputs["probabilities"].numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(probabilities, model.classify(digits.x_test[:5]), atol=1e-5)
    np.testing.assert_allclose(outputs["embedding"].numpy(), model.predict(digits.x_test[:5], verbose=0), atol=1e-5)
    with open(os.path.join(path, "assets.extra", "metadata.json")) as f:
        assert json.load(f)["outputs"]["probabilities"]["dim"] == 10


def test_num_labels_is_for_semi_supervised_methods():
    with pytest.raises(ValueError, match="for semi-supervised methods"):
        runs.resolve_config("simclr", "digits", num_labels=100)


def test_too_few_labels(digits, tmp_path):
    config = runs.resolve_config("supervised", "digits", num_labels=5)
    with pytest.raises(ValueError, match="fewer than the 10 classes"):
        runs.train(config, digits, str(tmp_path / "run"), verbose=0)
