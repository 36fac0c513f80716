import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.losses import NTXentLoss, nt_xent


def numpy_nt_xent(z1, z2, temperature):
    """Equation 1 of Chen et al. 2020, anchor by anchor."""
    z = np.concatenate([z1, z2]).astype("float64")
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    n = len(z1)
    sim = z @ z.T / temperature
    losses = []
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        others = [sim[i, k] for k in range(2 * n) if k != i]
        losses.append(-sim[i, j] + np.log(np.sum(np.exp(others))))
    return np.mean(losses)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
@pytest.mark.parametrize("batch", [1, 4, 13])
def test_matches_numpy_reference(temperature, batch, rng):
    z1 = rng.normal(size=(batch, 7)).astype("float32")
    z2 = rng.normal(size=(batch, 7)).astype("float32")
    loss, logits, labels = nt_xent(z1, z2, temperature=temperature)
    np.testing.assert_allclose(float(loss), numpy_nt_xent(z1, z2, temperature), rtol=1e-5, atol=1e-5)
    assert logits.shape == (2 * batch, 2 * batch)
    np.testing.assert_array_equal(labels.numpy(), np.concatenate([np.arange(batch) + batch, np.arange(batch)]))


def test_accuracy_is_perfect_for_identical_well_separated_views():
    z = np.eye(6, dtype="float32")
    _, logits, labels = nt_xent(z, z, temperature=0.1)
    np.testing.assert_array_equal(np.argmax(logits.numpy(), axis=1), labels.numpy())


def test_loss_is_lower_when_views_agree(rng):
    z1 = rng.normal(size=(16, 8)).astype("float32")
    close, _, _ = nt_xent(z1, z1 + 0.01 * rng.normal(size=z1.shape).astype("float32"))
    far, _, _ = nt_xent(z1, rng.normal(size=z1.shape).astype("float32"))
    assert float(close) < float(far)


def test_gradient_matches_numpy_finite_difference(rng):
    z1 = rng.normal(size=(3, 4)).astype("float64")
    z2 = rng.normal(size=(3, 4)).astype("float64")
    x = tf.Variable(z1.astype("float32"))
    with tf.GradientTape() as tape:
        loss, _, _ = nt_xent(x, z2.astype("float32"), temperature=0.5)
    grad = tape.gradient(loss, x).numpy()
    eps = 1e-4
    numeric = np.zeros_like(z1)
    for index in np.ndindex(z1.shape):
        plus, minus = z1.copy(), z1.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = (numpy_nt_xent(plus, z2, 0.5) - numpy_nt_xent(minus, z2, 0.5)) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, atol=2e-3)


def test_loss_object_config_and_value(rng):
    loss = NTXentLoss(temperature=0.2)
    restored = NTXentLoss.from_config(loss.get_config())
    assert restored.temperature == 0.2
    z1 = rng.normal(size=(5, 3)).astype("float32")
    z2 = rng.normal(size=(5, 3)).astype("float32")
    np.testing.assert_allclose(float(restored(z1, z2)), numpy_nt_xent(z1, z2, 0.2), rtol=1e-5)
    assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss)).temperature == 0.2


def test_rejects_non_positive_temperature():
    with pytest.raises(ValueError, match="temperature must be positive"):
        nt_xent(np.ones((2, 2), "float32"), np.ones((2, 2), "float32"), temperature=0.0)
