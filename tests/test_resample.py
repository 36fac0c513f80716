"""The XLA-compatible crops, resizes and shifts against TensorFlow's and
SciPy's own, and the XLA-compatible Gamma / Beta draws against SciPy."""

import keras
import numpy as np
import pytest
import scipy.ndimage
import scipy.stats
import tensorflow as tf

from keras_ssl.augment import ColorJitter, area_resize, crop_and_resize, sample_beta, sample_gamma, translate


@pytest.fixture
def images(rng):
    return rng.uniform(0, 255, (5, 28, 20, 3)).astype("float32")


@pytest.mark.parametrize("size", [(28, 20), (13, 7), (1, 1), (32, 32)])
def test_crop_and_resize_matches_tf_image(images, rng, size):
    corner = rng.uniform(0, 1, (5, 2))
    boxes = np.stack(
        [corner[:, 0] * 0.5, corner[:, 1] * 0.4, 0.5 + corner[:, 0] * 0.5, 0.6 + corner[:, 1] * 0.4], axis=1
    ).astype("float32")
    expected = tf.image.crop_and_resize(images, boxes, tf.range(5), size).numpy()
    # Pixel values up to 255: float32 rounding of the two einsums.
    np.testing.assert_allclose(crop_and_resize(images, boxes, size).numpy(), expected, atol=5e-3)


@pytest.mark.parametrize("size", [(7, 5), (14, 10), (9, 6), (3, 17), (28, 20)])
def test_area_resize_matches_tf_image(images, size):
    expected = tf.image.resize(images, size, method="area").numpy()
    np.testing.assert_allclose(area_resize(tf.constant(images), size).numpy(), expected, atol=5e-3)


def test_translate_matches_scipy_shift_with_reflected_edges(images, rng):
    shifts = rng.uniform(-3, 3, (5, 2)).astype("float32")
    expected = np.stack(
        [scipy.ndimage.shift(images[i].astype("float64"), (*shifts[i], 0), order=1, mode="reflect") for i in range(5)]
    )
    np.testing.assert_allclose(translate(tf.constant(images), shifts).numpy(), expected, atol=5e-3)
    # A whole-pixel shift moves pixels exactly.
    moved = translate(tf.constant(images), np.array([[2.0, -1.0]] * 5, "float32")).numpy()
    np.testing.assert_allclose(moved[:, 2:, :-1], images[:, :-2, 1:], atol=5e-3)


def test_the_ops_compile_under_xla(images):
    boxes = np.tile(np.array([[0.1, 0.2, 0.7, 0.9]], "float32"), (5, 1))

    @tf.function(jit_compile=True)
    def run(x):
        return crop_and_resize(x, boxes, (16, 16)), area_resize(x, (7, 5)), translate(x, tf.ones((5, 2)))

    crops, small, moved = run(tf.constant(images))
    np.testing.assert_allclose(crops.numpy(), crop_and_resize(images, boxes, (16, 16)).numpy(), atol=5e-3)
    assert small.shape == (5, 7, 5, 3) and moved.shape == images.shape


@pytest.mark.parametrize("concentration", [0.3, 0.75, 2.0, 5.0])
def test_gamma_draws_follow_the_gamma_distribution(concentration):
    draws = np.asarray(sample_gamma([50000], concentration, seed=keras.random.SeedGenerator(1)))
    # Kolmogorov-Smirnov: a wrong sampler (e.g. shape a + 1 for a < 1, or a
    # dropped rejection step) gives p-values below 1e-10 at this size.
    assert scipy.stats.kstest(draws, "gamma", args=(concentration,)).pvalue > 1e-3
    assert abs(draws.mean() - concentration) < 0.05 * concentration


def test_beta_draws_follow_the_beta_distribution_and_compile_under_xla():
    draws = np.asarray(sample_beta([50000], 0.75, 0.75, seed=keras.random.SeedGenerator(2)))
    assert scipy.stats.kstest(draws, "beta", args=(0.75, 0.75)).pvalue > 1e-3
    seed = keras.random.SeedGenerator(3)
    compiled = tf.function(lambda: sample_beta([8], 0.75, 0.75, seed=seed), jit_compile=True)()
    assert compiled.shape == (8,) and np.all((compiled.numpy() >= 0) & (compiled.numpy() <= 1))


def test_bad_gamma_concentration():
    with pytest.raises(ValueError, match="concentration must be positive"):
        sample_gamma([4], 0.0)


def test_color_jitter_changes_colours_keeps_range_and_round_trips(rng):
    x = rng.uniform(0, 255, (16, 8, 8, 3)).astype("float32")
    jitter = ColorJitter((0, 255), 0.4, 0.4, (0.1, 0.9), 0.1, seed=0)
    out = jitter(x, training=True).numpy()
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 255
    assert np.abs(out - x).mean() > 1.0
    np.testing.assert_array_equal(jitter(x, training=False), x)
    restored = ColorJitter.from_config(jitter.get_config())
    assert restored.get_config() == jitter.get_config()


def test_sample_axes_matches_keras_affine_transform_with_zero_fill(images, rng):
    from keras_ssl.augment.resample import sample_axes

    scale = rng.uniform(0.5, 2.0, 5).astype("float32")
    offset = rng.uniform(-6, 6, (5, 2)).astype("float32")
    rows = np.arange(28, dtype="float32")[None] * scale[:, None] + offset[:, :1]
    columns = np.arange(20, dtype="float32")[None] * scale[:, None] + offset[:, 1:]
    zeros = np.zeros(5, "float32")
    transform = np.stack([scale, zeros, offset[:, 1], zeros, scale, offset[:, 0], zeros, zeros], axis=1)
    expected = keras.ops.image.affine_transform(
        images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0.0
    )
    np.testing.assert_allclose(sample_axes(tf.constant(images), rows, columns).numpy(), expected, atol=5e-3)
