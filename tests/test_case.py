"""Shared test helpers, in the spirit of keras-hub's TestCase.

Every method's test file subclasses `TestCase` and calls, for its model:

- `run_config_test(obj)`: `from_config(get_config())` gives the same config;
- `run_fit_test(model, images)`: a short `fit` on NumPy and on `tf.data`
  with finite, reported metrics, and `predict` gives embeddings;
- `run_model_saving_test(model, images)`: `.keras` save and
  `keras.saving.load_model` (no `custom_objects`) give identical outputs;
- `representation_accuracy(encoder, dataset)`: weighted-kNN accuracy, for
  learns-tests against the random-initialised backbone.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import tensorflow as tf

import keras_ssl  # noqa: F401  (registers the classes)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class TestCase:
    def run_config_test(self, obj):
        config = obj.get_config()
        clone = type(obj).from_config(config)
        assert clone.get_config() == config
        return clone

    def run_fit_test(self, model, images, batch_size=16, expected_metrics=("loss",)):
        history = model.fit(images, batch_size=batch_size, epochs=1, verbose=0)
        dataset = tf.data.Dataset.from_tensor_slices(images).batch(batch_size, drop_remainder=True)
        history_ds = model.fit(dataset, epochs=1, verbose=0)
        for hist in (history.history, history_ds.history):
            for name in expected_metrics:
                assert name in hist, f"{name} not reported: {sorted(hist)}"
                assert np.isfinite(hist[name][-1]), f"{name} is not finite: {hist[name]}"
        embeddings = model.predict(images[:batch_size], verbose=0)
        assert embeddings.shape[0] == batch_size and embeddings.ndim == 2
        assert np.all(np.isfinite(embeddings))
        return history

    def run_model_saving_test(self, model, images, tmp_path):
        path = os.path.join(str(tmp_path), "model.keras")
        model.save(path)
        restored = keras.saving.load_model(path)
        assert type(restored) is type(model)
        np.testing.assert_array_equal(model.predict(images, verbose=0), restored.predict(images, verbose=0))
        assert len(restored.weights) == len(model.weights)
        for a, b in zip(model.weights, restored.weights):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
        return restored

    def representation_accuracy(self, encoder, dataset, k=20):
        from keras_ssl.evaluation import extract_features, knn_accuracy

        return knn_accuracy(
            extract_features(encoder, dataset.x_train), dataset.y_train,
            extract_features(encoder, dataset.x_test), dataset.y_test, k=k,
        )


def run_python(args, timeout=600, env=None, **kwargs):
    """Runs `python ARGS` in the repository root; returns the CompletedProcess."""
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=full_env, capture_output=True, text=True, timeout=timeout, **kwargs
    )
