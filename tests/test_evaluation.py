import os

import keras
import numpy as np
import pytest

from keras_ssl.backbones import ConvNet
from keras_ssl.data import load_digits
from keras_ssl.evaluation import (
    KNNMonitor,
    evaluate_encoder,
    fine_tune_accuracy,
    knn_predict,
    linear_probe_accuracy,
    plot_embedding,
    plot_history,
    random_init_copy,
)


def numpy_knn(train, train_y, test, k, temperature, num_classes):
    train = train / np.linalg.norm(train, axis=1, keepdims=True)
    test = test / np.linalg.norm(test, axis=1, keepdims=True)
    scores = np.zeros((len(test), num_classes))
    for i, q in enumerate(test):
        sim = train @ q
        top = np.argsort(-sim)[:k]
        for j in top:
            scores[i, train_y[j]] += np.exp(sim[j] / temperature)
    return scores


def test_knn_matches_numpy_reference(rng):
    train, test = rng.normal(size=(60, 5)), rng.normal(size=(7, 5))
    train_y = rng.integers(0, 3, size=60)
    ours = knn_predict(train, train_y, test, k=10, temperature=0.5, chunk_size=3)
    np.testing.assert_allclose(ours, numpy_knn(train, train_y, test, 10, 0.5, 3), rtol=1e-4)


def test_linear_probe_separates_separable_classes(rng):
    centers = rng.normal(size=(4, 10)) * 5
    y = rng.integers(0, 4, size=400)
    x = centers[y] + rng.normal(size=(400, 10))
    assert linear_probe_accuracy(x[:300], y[:300], x[300:], y[300:]) > 0.95
    with pytest.raises(ValueError, match="at least 2 classes"):
        linear_probe_accuracy(x[:3], np.zeros(3), x, y)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_protocols_on_digits(digits):
    encoder = ConvNet(input_shape=(8, 8, 1), filters=(8, 16))
    pixels_knn = evaluate_encoder(None, digits, "knn", label_fraction=1.0)
    pixels_linear = evaluate_encoder(None, digits, "linear", label_fraction=1.0)
    assert pixels_knn > 0.9 and pixels_linear > 0.9  # digits are easy from pixels
    few = evaluate_encoder(encoder, digits, "linear", label_fraction=0.1)
    assert 0.2 < few <= 1.0
    with pytest.raises(ValueError, match="Unknown protocol"):
        evaluate_encoder(encoder, digits, "svm")


def test_fine_tune_learns_and_leaves_encoder_untouched(digits):
    keras.utils.set_random_seed(0)
    encoder = ConvNet(input_shape=(8, 8, 1), filters=(16, 32))
    before = [w.copy() for w in encoder.get_weights()]
    accuracy = fine_tune_accuracy(encoder, digits.x_train, digits.y_train, digits.x_test, digits.y_test, epochs=15)
    assert accuracy > 0.7  # chance is 0.1
    for a, b in zip(before, encoder.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_random_init_copy_has_same_architecture_new_weights():
    encoder = ConvNet(input_shape=(8, 8, 1), filters=(4,))
    copy = random_init_copy(encoder, seed=1)
    assert copy.get_config() == encoder.get_config()
    assert not np.allclose(copy.get_weights()[0], encoder.get_weights()[0])


def test_knn_monitor_adds_logs(digits):
    model = keras.Sequential([ConvNet(input_shape=(8, 8, 1), filters=(4,)), keras.layers.Dense(10)])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    monitor = KNNMonitor(digits.x_train, digits.y_train, digits.x_test, digits.y_test, k=10, every=2)
    history = model.fit(digits.x_train.astype("float32"), digits.y_train, epochs=2, verbose=0, callbacks=[monitor])
    assert "val_knn_accuracy" in history.history
    assert len(history.history["val_knn_accuracy"]) == 1  # only every second epoch


def test_plots_write_png(tmp_path, rng):
    history = {"loss": [3.0, 2.0, 1.5], "contrast_accuracy": [0.1, 0.2, 0.3]}
    for path in (
        plot_history(history, str(tmp_path / "h.png")),
        plot_embedding(rng.normal(size=(100, 8)), rng.integers(0, 3, 100), str(tmp_path / "e.png"), ["a", "b", "c"]),
    ):
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        assert os.path.getsize(path) > 5000
