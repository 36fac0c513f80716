"""Evaluation on streamed and large sets: features batch by batch, kNN in
query blocks, the Keras linear probe."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.backbones import ConvNet
from keras_ssl.data import load_digits
from keras_ssl.evaluation import (
    evaluate_encoder,
    extract_features,
    knn_accuracy,
    knn_predict,
    linear_probe_accuracy,
    raw_pixel_features,
)
from keras_ssl.evaluation import knn as knn_module
from keras_ssl.evaluation import linear_probe as linear_probe_module


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def encoder():
    keras.utils.set_random_seed(0)
    return ConvNet(input_shape=(8, 8, 1), filters=(4, 8))


# Features, batch by batch.


def test_array_features_match_predict_in_batches(encoder, digits):
    images = digits.x_test[:50]
    expected = encoder.predict(images, verbose=0).reshape(50, -1)
    features = extract_features(encoder, images, batch_size=16)  # 3 full batches and a partial one.
    assert features.dtype == np.float32 and features.shape == expected.shape
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-5)


def test_dataset_features_match_array_features(encoder, digits):
    images, labels = digits.x_test[:50], digits.y_test[:50]
    expected = extract_features(encoder, images)
    unlabelled = tf.data.Dataset.from_tensor_slices(images).batch(16)
    np.testing.assert_allclose(extract_features(encoder, unlabelled), expected, rtol=1e-5, atol=1e-5)
    single = tf.data.Dataset.from_tensor_slices((images,)).batch(16)  # (images,) elements
    np.testing.assert_allclose(extract_features(encoder, single), expected, rtol=1e-5, atol=1e-5)
    labelled = tf.data.Dataset.from_tensor_slices((images, labels)).batch(16)
    features, dataset_labels = extract_features(encoder, labelled)
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(dataset_labels, labels)
    assert dataset_labels.dtype == np.int64


def test_dataset_of_vectors_for_a_non_image_encoder(rng):
    dense = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    vectors = rng.normal(size=(10, 5)).astype("float32")
    features = extract_features(dense, tf.data.Dataset.from_tensor_slices(vectors).batch(4))
    np.testing.assert_allclose(features, vectors @ dense.get_weights()[0], rtol=1e-5, atol=1e-5)


def test_dataset_is_read_one_batch_at_a_time(encoder):
    # Batches made on the fly by a generator: the encoder sees each batch
    # as the generator yields it, and only `steps` of an endless stream.
    made = []

    def batches():
        for index in range(10**9):
            made.append(index)
            yield np.full((8, 8, 8, 1), index % 256, "uint8"), np.full((8,), index, "int64")

    spec = (tf.TensorSpec((None, 8, 8, 1), tf.uint8), tf.TensorSpec((None,), tf.int64))
    stream = tf.data.Dataset.from_generator(batches, output_signature=spec).repeat()
    features, labels = extract_features(encoder, stream, steps=3)
    assert features.shape[0] == 24 and labels.tolist() == [0] * 8 + [1] * 8 + [2] * 8
    assert len(made) <= 5  # At most a batch or two read ahead.
    np.testing.assert_allclose(
        features[8:16], extract_features(encoder, np.full((8, 8, 8, 1), 1, "uint8")), rtol=1e-5, atol=1e-5
    )


def test_traced_once_per_encoder_and_not_kept_alive():
    import gc
    import weakref

    from keras_ssl.evaluation import features as features_module

    encoder = ConvNet(input_shape=(8, 8, 1), filters=(4,))
    images = np.zeros((20, 8, 8, 1), "uint8")
    for _ in range(3):  # What a kNN monitor does every epoch.
        extract_features(encoder, images, batch_size=8)
    assert features_module._INFERENCE_FUNCTIONS[encoder].experimental_get_tracing_count() <= 2
    reference = weakref.ref(encoder)
    del encoder
    gc.collect()
    assert reference() is None


def test_dataset_errors_are_one_line(encoder, digits):
    with pytest.raises(ValueError, match="repeats forever: pass steps="):
        extract_features(encoder, tf.data.Dataset.from_tensor_slices(digits.x_test).batch(4).repeat())
    with pytest.raises(ValueError, match="not batches: batch it"):
        extract_features(encoder, tf.data.Dataset.from_tensor_slices(digits.x_test))
    with pytest.raises(ValueError, match="image batches or \\(images, labels\\) batches"):
        extract_features(encoder, tf.data.Dataset.from_tensor_slices({"image": digits.x_test}).batch(4))


def test_progress_bar_counts_batches(encoder, digits, capsys):
    extract_features(encoder, tf.data.Dataset.from_tensor_slices(digits.x_test[:40]).batch(16), verbose=1)
    assert "3/3" in capsys.readouterr().out


def test_raw_pixel_features_of_a_dataset(digits):
    images, labels = digits.x_test[:30], digits.y_test[:30]
    features, dataset_labels = raw_pixel_features(tf.data.Dataset.from_tensor_slices((images, labels)).batch(7))
    np.testing.assert_allclose(features, images.reshape(30, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(dataset_labels, labels)


def test_folder_eval_batches_give_features_and_labels(encoder, tmp_path):
    from keras_ssl.data.folders import FolderDataset

    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        os.makedirs(tmp_path / label)
        for index in range(6):
            image = rng.integers(0, 256, size=(8, 8, 1), dtype="uint8")
            tf.io.write_file(str(tmp_path / label / f"{index}.png"), tf.io.encode_png(image))
    data = FolderDataset(str(tmp_path), image_size=8, channels=1, test_fraction=0.5)
    features, labels = extract_features(encoder, data.eval_batches("test", batch_size=4))
    np.testing.assert_array_equal(labels, data.test_labels)
    images = np.stack([tf.io.decode_png(tf.io.read_file(file)).numpy() for file in data.test_files])
    np.testing.assert_allclose(features, extract_features(encoder, images), rtol=1e-5, atol=1e-5)


# kNN in query blocks.


def numpy_knn_full_matrix(train, train_y, test, k, temperature, num_classes):
    """Wu et al. 2018's weighted vote from the whole `[M, N]` similarity matrix."""
    train = train / np.linalg.norm(train, axis=1, keepdims=True)
    test = test / np.linalg.norm(test, axis=1, keepdims=True)
    similarity = test @ train.T
    top = np.argsort(-similarity, axis=1)[:, :k]
    weights = np.exp(np.take_along_axis(similarity, top, axis=1) / temperature)
    scores = np.zeros((len(test), num_classes))
    np.add.at(scores, (np.arange(len(test))[:, None], train_y[top]), weights)
    return scores


@pytest.mark.parametrize("k, temperature, chunk_size", [(1, 0.07, 7), (10, 0.07, 7), (25, 0.5, 64), (500, 1.0, 13)])
def test_knn_matches_full_matrix_reference(rng, k, temperature, chunk_size):
    train, test = rng.normal(size=(300, 16)), rng.normal(size=(50, 16))  # Continuous: no ties.
    train_y = rng.integers(0, 5, size=300)
    ours = knn_predict(train, train_y, test, num_classes=6, k=k, temperature=temperature, chunk_size=chunk_size)
    expected = numpy_knn_full_matrix(train, train_y, test, min(k, 300), temperature, 6)
    assert ours.shape == (50, 6) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6 * expected.max())


def test_knn_default_blocks_shrink_with_the_bank(rng, monkeypatch):
    # A block of at most 600 similarities: 2 queries at a time on a bank of 300.
    monkeypatch.setattr(knn_module, "MAX_SIMILARITY_BLOCK", 600)
    train, test = rng.normal(size=(300, 8)), rng.normal(size=(9, 8))
    train_y, test_y = rng.integers(0, 3, size=300), rng.integers(0, 3, size=9)
    expected = numpy_knn_full_matrix(train, train_y, test, 20, 0.1, 3)
    np.testing.assert_allclose(knn_predict(train, train_y, test, k=20, temperature=0.1), expected, rtol=1e-4)
    accuracy = knn_accuracy(train, train_y, test, test_y, k=20, temperature=0.1, chunk_size=4)
    assert accuracy == pytest.approx(np.mean(expected.argmax(1) == test_y))


# The Keras linear probe.


@pytest.fixture(scope="module")
def projected_digits():
    # A fixed random projection of the digits' pixels through tanh: not
    # separable (a logistic regression gets about 0.9).
    from sklearn.datasets import load_digits as sklearn_digits

    x, y = sklearn_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    features = np.tanh(x @ rng.normal(size=(64, 32)) / 20).astype("float32")
    order = rng.permutation(len(y))
    return features[order[:1200]], y[order[:1200]], features[order[1200:]], y[order[1200:]]


def test_keras_probe_is_within_two_points_of_sklearn(projected_digits):
    sklearn = linear_probe_accuracy(*projected_digits, solver="sklearn")
    ours = linear_probe_accuracy(*projected_digits, solver="keras", batch_size=128, epochs=30, learning_rate=0.05)
    assert 0.8 < sklearn < 0.97  # Not trivial.
    assert abs(ours - sklearn) <= 0.02


def test_keras_probe_on_pixels_with_constant_features(digits):
    # Raw pixels: a few border pixels are 0 in every training image (zero
    # variance, scaled by 1 as scikit-learn's StandardScaler does).
    train, test = raw_pixel_features(digits.x_train), raw_pixel_features(digits.x_test)
    assert np.any(train.std(axis=0) == 0)
    sklearn = linear_probe_accuracy(train, digits.y_train, test, digits.y_test, solver="sklearn")
    ours = linear_probe_accuracy(
        train, digits.y_train, test, digits.y_test, solver="keras", batch_size=128, epochs=20, learning_rate=0.05
    )
    assert abs(ours - sklearn) <= 0.02


def test_auto_solver_switches_to_keras_above_the_threshold(projected_digits, monkeypatch):
    calls = []
    monkeypatch.setattr(linear_probe_module, "_keras_probe_accuracy", lambda *a, **kw: calls.append(kw) or 0.5)
    assert linear_probe_accuracy(*projected_digits, max_sklearn_examples=1200) != 0.5  # 1200 examples: sklearn.
    assert linear_probe_accuracy(*projected_digits, max_sklearn_examples=1199, epochs=3) == 0.5
    assert calls == [dict(epochs=3, batch_size=1024, learning_rate=0.01, seed=0, verbose=0)]


def test_probe_rejects_unknown_solver_and_single_class(projected_digits):
    x, y, x_test, y_test = projected_digits
    with pytest.raises(ValueError, match="Unknown solver 'svm'"):
        linear_probe_accuracy(x, y, x_test, y_test, solver="svm")
    with pytest.raises(ValueError, match="at least 2 classes"):
        linear_probe_accuracy(x[:5], np.zeros(5), x_test, y_test, solver="keras")


def test_linear_protocol_takes_the_keras_solver(digits):
    accuracy = evaluate_encoder(None, digits, "linear", solver="keras", batch_size=128, epochs=10, learning_rate=0.05)
    assert accuracy > 0.9  # Digits are easy from pixels.


def test_evaluate_encoder_on_a_streamed_dataset_equals_it_in_memory(encoder, tmp_path):
    # The streams give every image once, in order: the same features, labelled
    # subset and accuracies as the whole collection decoded into memory.
    from keras_ssl.data.folders import FolderDataset
    from keras_ssl.evaluation import evaluate_encoder

    rng = np.random.default_rng(1)
    for label in ("a", "b"):
        os.makedirs(tmp_path / label)
        for index in range(10):
            image = rng.integers(0, 128 + 127 * (label == "b"), size=(8, 8, 1), dtype="uint8")
            tf.io.write_file(str(tmp_path / label / f"{index}.png"), tf.io.encode_png(image))
    data = FolderDataset(str(tmp_path), image_size=8, channels=1, test_fraction=0.3)
    memory = data.load_in_memory(progress=False)
    for protocol, kwargs in (("knn", {"k": 5}), ("linear", {})):
        for model in (encoder, None):
            streamed = evaluate_encoder(model, data, protocol, label_fraction=0.5, **kwargs)
            in_memory = evaluate_encoder(model, memory, protocol, label_fraction=0.5, **kwargs)
            assert streamed == pytest.approx(in_memory, abs=1e-6), (protocol, model)
