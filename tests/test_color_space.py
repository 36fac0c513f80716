import warnings

import keras
import numpy as np
import pytest
import skimage.color
import tensorflow as tf

from keras_ssl.augment import ABQuantizer, ab_bin_prior, fit_ab_bins, lab_to_rgb, rgb_to_lab
from keras_ssl.augment.ab_quantizer import sample_ab
from keras_ssl.augment.color_space import ab_pixels, lightness_pixels
from keras_ssl.data import load_photos
from tests.test_case import TestCase


@pytest.fixture(scope="module")
def photos():
    return load_photos(num_train=400, num_test=200, seed=0)


@pytest.fixture(scope="module")
def photo_bins(photos):
    return fit_ab_bins(photos.x_train, num_bins=32, sample_size=20000, seed=0)


def grid_bins():
    a, b = np.meshgrid(np.arange(-40, 41, 20.0), np.arange(-40, 41, 20.0), indexing="ij")
    return np.stack([a.ravel(), b.ravel()], -1).astype("float32")  # 25 bins, spacing 20


class TestColorSpace:
    def test_rgb_to_lab_matches_skimage(self, rng):
        pixels = rng.integers(0, 256, size=(2, 8, 8, 3), dtype="uint8")
        pixels[0, 0, :8] = [
            [0, 0, 0],
            [255, 255, 255],
            [255, 0, 0],
            [0, 255, 0],
            [0, 0, 255],
            [10, 10, 10],
            [1, 2, 3],
            [128, 128, 128],
        ]
        expected = skimage.color.rgb2lab(pixels)
        np.testing.assert_allclose(rgb_to_lab(pixels).numpy(), expected, atol=1e-3)
        # Float pixels in [0, 255] give the same.
        np.testing.assert_allclose(rgb_to_lab(pixels.astype("float32")).numpy(), expected, atol=1e-3)

    def test_lab_to_rgb_matches_skimage_in_and_out_of_gamut(self, rng):
        lab = np.stack([rng.uniform(0, 100, 4000), rng.uniform(-128, 127, 4000), rng.uniform(-128, 127, 4000)], -1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # skimage warns about negative Z values it clips.
            expected = skimage.color.lab2rgb(lab) * 255.0
        np.testing.assert_allclose(lab_to_rgb(lab).numpy(), expected, atol=1e-3)

    def test_round_trip(self, rng):
        pixels = rng.integers(0, 256, size=(1000, 3), dtype="uint8")
        np.testing.assert_allclose(lab_to_rgb(rgb_to_lab(pixels)).numpy(), pixels, atol=0.01)

    def test_inside_tf_data_and_tf_function(self, rng):
        pixels = rng.integers(0, 256, size=(4, 6, 6, 3), dtype="uint8")
        eager = rgb_to_lab(pixels).numpy()
        mapped = next(iter(tf.data.Dataset.from_tensor_slices(pixels).batch(4).map(rgb_to_lab))).numpy()
        traced = tf.function(lambda x: lab_to_rgb(rgb_to_lab(x)))(pixels).numpy()
        np.testing.assert_allclose(mapped, eager, atol=1e-5)
        np.testing.assert_allclose(traced, pixels, atol=0.01)

    def test_gradients_are_finite_at_black_and_white(self):
        pixels = tf.constant([[0.0, 0.0, 0.0], [255.0, 255.0, 255.0], [0.0, 255.0, 1.0]])
        with tf.GradientTape() as tape:
            tape.watch(pixels)
            lab = rgb_to_lab(pixels)
        assert np.all(np.isfinite(tape.gradient(lab, pixels).numpy()))

    def test_lightness_and_ab_pixels(self):
        grey = np.repeat(np.arange(0, 256, 5, dtype="uint8")[None, None, :, None], 3, axis=-1)  # [1, 1, 52, 3]
        lightness = lightness_pixels(grey).numpy()
        assert lightness.shape == (1, 1, 52, 1)
        # L x 2.55 of a grey level stays within ~10 levels of it (what lets
        # the L network read grey images directly); black and white exact.
        np.testing.assert_allclose(lightness[..., 0], grey[..., 0], atol=11)
        np.testing.assert_allclose(lightness[0, 0, [0, -1], 0], [0, 255], atol=1e-3)
        np.testing.assert_allclose(ab_pixels(grey).numpy(), 128.0, atol=0.01)


class TestFitABBins:
    def test_shape_sorted_and_deterministic(self, photos, photo_bins):
        assert photo_bins.shape == (32, 2) and photo_bins.dtype == np.float32
        order = np.lexsort((photo_bins[:, 1], photo_bins[:, 0]))
        np.testing.assert_array_equal(order, np.arange(32))
        again = fit_ab_bins(photos.x_train, num_bins=32, sample_size=20000, seed=0)
        np.testing.assert_array_equal(photo_bins, again)
        other = fit_ab_bins(photos.x_train, num_bins=32, sample_size=20000, seed=1)
        assert not np.array_equal(photo_bins, other)

    def test_bad_input(self, photos):
        with pytest.raises(ValueError, match=r"RGB images \[N, H, W, 3\]"):
            fit_ab_bins(photos.x_train[..., :1])
        with pytest.raises(ValueError, match="num_bins must be between 2"):
            fit_ab_bins(np.zeros((4, 8, 8, 3), "uint8"), num_bins=8)
        with pytest.raises(ValueError, match="empty"):
            fit_ab_bins(np.zeros((0, 8, 8, 3), "uint8"))

    def test_prior_is_the_smoothed_histogram(self, photos, photo_bins):
        ab = sample_ab(photos.x_train, 5000, seed=3).astype("float64")
        nearest = np.argmin(((ab[:, None] - photo_bins[None]) ** 2).sum(-1), axis=1)
        histogram = np.bincount(nearest, minlength=32) / len(ab)
        raw = ab_bin_prior(photos.x_train, photo_bins, sigma=0, sample_size=5000, seed=3)
        np.testing.assert_allclose(raw, histogram, atol=1e-6)
        smooth = ab_bin_prior(photos.x_train, photo_bins, sigma=5.0, sample_size=5000, seed=3)
        d2 = ((photo_bins[:, None].astype("float64") - photo_bins[None]) ** 2).sum(-1)
        kernel = np.exp(-d2 / 50.0)
        expected = histogram @ (kernel / kernel.sum(1, keepdims=True))
        np.testing.assert_allclose(smooth, expected, atol=1e-6)
        assert abs(smooth.sum() - 1) < 1e-5
        # Smoothing spreads the mass: the largest bin loses some.
        assert smooth.max() < raw.max()


class TestABQuantizer(TestCase):
    def test_round_trip_within_the_bin_size(self, photos, photo_bins):
        # The bin size: the largest distance of a training pixel to its
        # nearest centre. Held-out pixels (test photo regions) round-trip
        # through hard quantisation and mode decoding within it (99.9%).
        quantizer = ABQuantizer(photo_bins)
        train_ab = sample_ab(photos.x_train, 20000, seed=0)
        bin_size = np.sqrt(((train_ab[:, None] - photo_bins[None]) ** 2).sum(-1).min(1)).max()
        test_ab = sample_ab(photos.x_test, 20000, seed=5)
        decoded = quantizer.decode(quantizer.encode_hard(test_ab), temperature=0).numpy()
        errors = np.linalg.norm(decoded - test_ab, axis=-1)
        print(f"bin size {bin_size:.2f}, held-out errors: mean {errors.mean():.2f}, max {errors.max():.2f}")
        assert np.quantile(errors, 0.999) <= bin_size
        # Decoding is the nearest centre, exactly.
        nearest = np.argmin(((test_ab[:, None] - photo_bins[None]) ** 2).sum(-1), axis=1)
        np.testing.assert_allclose(decoded, photo_bins[nearest], atol=1e-5)
        # The paper's soft encoding, decoded by its mean (T = 1), stays within a bin too.
        soft = quantizer.decode(quantizer.encode(test_ab), temperature=1.0).numpy()
        assert np.quantile(np.linalg.norm(soft - test_ab, axis=-1), 0.999) <= bin_size

    def test_soft_encoding_matches_numpy(self, rng):
        bins = grid_bins()
        quantizer = ABQuantizer(bins, sigma=5.0, num_neighbours=5)
        ab = rng.uniform(-50, 50, size=(3, 7, 2)).astype("float32")
        encoded = quantizer(ab).numpy()
        assert encoded.shape == (3, 7, 25)
        d2 = ((ab[..., None, :].astype("float64") - bins) ** 2).sum(-1)
        expected = np.zeros_like(d2)
        for idx in np.ndindex(d2.shape[:-1]):
            five = np.argsort(d2[idx])[:5]
            weights = np.exp(-d2[idx][five] / (2 * 25.0))
            expected[idx][five] = weights / weights.sum()
        np.testing.assert_allclose(encoded, expected, atol=1e-5)
        np.testing.assert_allclose(encoded.sum(-1), 1.0, atol=1e-5)
        assert np.all((encoded > 0).sum(-1) == 5)

    def test_annealed_mean_and_mode_match_numpy(self, rng):
        bins = grid_bins()
        quantizer = ABQuantizer(bins, temperature=0.38)
        probabilities = rng.dirichlet(np.ones(25), size=6).astype("float32")
        annealed = np.exp(np.log(probabilities) / 0.38)
        annealed /= annealed.sum(-1, keepdims=True)
        np.testing.assert_allclose(quantizer.decode(probabilities).numpy(), annealed @ bins, atol=1e-3)
        np.testing.assert_allclose(
            quantizer.decode(probabilities, temperature=1).numpy(), probabilities @ bins, atol=1e-3
        )
        np.testing.assert_allclose(
            quantizer.decode(probabilities, temperature=0).numpy(), bins[probabilities.argmax(-1)]
        )
        # From logits: the same as from their softmax.
        logits = rng.normal(size=(6, 25)).astype("float32")
        np.testing.assert_allclose(
            quantizer.decode(logits, from_logits=True).numpy(),
            quantizer.decode(tf.nn.softmax(logits)).numpy(),
            atol=1e-3,
        )

    def test_config_round_trip(self):
        quantizer = ABQuantizer(grid_bins(), sigma=3.0, num_neighbours=4, temperature=0.5)
        clone = self.run_config_test(quantizer)
        np.testing.assert_array_equal(clone.bins, quantizer.bins)
        assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(quantizer)).sigma == 3.0

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match=r"array \[Q, 2\]"):
            ABQuantizer(np.zeros((4, 3)))
        with pytest.raises(ValueError, match="NaN"):
            ABQuantizer(np.full((4, 2), np.nan))
        with pytest.raises(ValueError, match="num_neighbours must be between 1 and 25"):
            ABQuantizer(grid_bins(), num_neighbours=30)
        with pytest.raises(ValueError, match="sigma must be positive"):
            ABQuantizer(grid_bins(), sigma=0)
