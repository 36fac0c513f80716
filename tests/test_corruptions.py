import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.augment import GaussianCorruption, MaskingCorruption, SaltAndPepperCorruption, make_corruption
from tests.test_case import TestCase


@pytest.fixture
def pixels(rng):
    # Values strictly inside (0, 255): every masked or salted pixel changes.
    return rng.integers(1, 255, size=(64, 28, 28, 1)).astype("float32")


def changed(a, b):
    return np.asarray(a) != np.asarray(b)


class TestMaskingCorruption(TestCase):
    @pytest.mark.parametrize("rate", [0.0, 0.1, 0.25, 0.5, 1.0])
    def test_masks_the_stated_fraction_of_each_example(self, pixels, rate):
        corrupted, mask = MaskingCorruption(rate=rate, seed=0).corrupt(pixels)
        corrupted, mask = corrupted.numpy(), mask.numpy()
        expected = round(rate * 28 * 28)
        # Exactly round(rate * 784) pixels of every example, and only those.
        np.testing.assert_array_equal(mask.reshape(64, -1).sum(axis=1), expected)
        np.testing.assert_array_equal(changed(corrupted, pixels), mask == 1)
        assert np.all(corrupted[mask == 1] == 0)
        np.testing.assert_array_equal(corrupted[mask == 0], pixels[mask == 0])

    def test_positions_differ_between_examples_and_are_spread(self, pixels):
        _, mask = MaskingCorruption(rate=0.25, seed=0).corrupt(pixels)
        mask = mask.numpy().reshape(64, -1)
        assert len({m.tobytes() for m in mask}) == 64
        # Each pixel position is masked in about a quarter of the examples.
        frequency = mask.mean(axis=0)
        assert 0.2 < frequency.mean() < 0.3 and frequency.max() < 0.7

    def test_only_in_training_or_when_asked(self, pixels):
        layer = MaskingCorruption(rate=0.5, seed=0)
        np.testing.assert_array_equal(layer(pixels), pixels)
        np.testing.assert_array_equal(layer(pixels, training=False), pixels)
        assert changed(layer(pixels, training=True), pixels).mean() == pytest.approx(0.5)

    def test_seeded_determinism(self, pixels):
        a = MaskingCorruption(rate=0.25, seed=3)(pixels, training=True)
        b = MaskingCorruption(rate=0.25, seed=3)(pixels, training=True)
        c = MaskingCorruption(rate=0.25, seed=4)(pixels, training=True)
        np.testing.assert_array_equal(a, b)
        assert changed(a, c).any()
        # Successive calls draw new masks.
        layer = MaskingCorruption(rate=0.25, seed=3)
        assert changed(layer(pixels, training=True), layer(pixels, training=True)).any()

    def test_in_a_graph_with_unknown_batch_size_and_codes(self, rng):
        layer = MaskingCorruption(rate=0.25, seed=0)
        fn = tf.function(lambda x: layer.corrupt(x), input_signature=[tf.TensorSpec([None, 40], "float32")])
        codes = rng.uniform(0.1, 1.0, size=(10, 40)).astype("float32")
        corrupted, mask = fn(codes)
        np.testing.assert_array_equal(mask.numpy().sum(axis=1), 10)
        np.testing.assert_array_equal(corrupted.numpy()[mask.numpy() == 0], codes[mask.numpy() == 0])

    def test_config_and_bad_rate(self):
        clone = self.run_config_test(MaskingCorruption(rate=0.3, seed=1, name="m"))
        assert clone.rate == 0.3 and clone.seed == 1
        with pytest.raises(ValueError, match=r"rate must be a fraction in \[0, 1\], got 1.5"):
            MaskingCorruption(rate=1.5)


class TestSaltAndPepperCorruption(TestCase):
    @pytest.mark.parametrize("rate", [0.1, 0.25])
    def test_sets_the_stated_fraction_to_min_or_max(self, pixels, rate):
        corrupted, mask = SaltAndPepperCorruption(rate=rate, seed=0).corrupt(pixels)
        corrupted, mask = corrupted.numpy(), mask.numpy()
        np.testing.assert_array_equal(mask.reshape(64, -1).sum(axis=1), round(rate * 784))
        np.testing.assert_array_equal(changed(corrupted, pixels), mask == 1)
        values = corrupted[mask == 1]
        assert set(np.unique(values)) == {0.0, 255.0}
        # A fair coin: about half salt (over ~5,000-12,500 pixels).
        assert np.mean(values == 255.0) == pytest.approx(0.5, abs=0.03)
        np.testing.assert_array_equal(corrupted[mask == 0], pixels[mask == 0])

    def test_custom_extremes_for_codes(self, rng):
        codes = rng.uniform(0.1, 0.9, size=(32, 100)).astype("float32")
        corrupted, mask = SaltAndPepperCorruption(rate=0.2, minval=0.0, maxval=1.0, seed=0).corrupt(codes)
        assert set(np.unique(corrupted.numpy()[mask.numpy() == 1])) == {0.0, 1.0}

    def test_only_in_training_and_seeded(self, pixels):
        np.testing.assert_array_equal(SaltAndPepperCorruption(rate=0.2, seed=0)(pixels), pixels)
        a = SaltAndPepperCorruption(rate=0.2, seed=5)(pixels, training=True)
        b = SaltAndPepperCorruption(rate=0.2, seed=5)(pixels, training=True)
        np.testing.assert_array_equal(a, b)

    def test_config_and_bad_arguments(self):
        clone = self.run_config_test(SaltAndPepperCorruption(rate=0.1, minval=-1.0, maxval=1.0, seed=2))
        assert (clone.rate, clone.minval, clone.maxval) == (0.1, -1.0, 1.0)
        with pytest.raises(ValueError, match="minval < maxval"):
            SaltAndPepperCorruption(minval=1.0, maxval=0.0)
        with pytest.raises(ValueError, match="rate must be a fraction"):
            SaltAndPepperCorruption(rate=-0.1)


class TestGaussianCorruption(TestCase):
    def test_adds_zero_mean_noise_of_the_stated_variance(self):
        # 50,176 noise samples: the sample variance is within ~1% of sigma^2.
        images = np.full((64, 28, 28, 1), 128.0, "float32")
        corrupted, mask = GaussianCorruption(stddev=25.5, seed=0).corrupt(images)
        noise = corrupted.numpy() - images
        assert noise.mean() == pytest.approx(0.0, abs=0.5)
        assert noise.var() == pytest.approx(25.5**2, rel=0.03)
        # Isotropic and independent: no correlation between neighbours.
        assert abs(np.corrcoef(noise[:, :, :-1].ravel(), noise[:, :, 1:].ravel())[0, 1]) < 0.03
        # Every component is corrupted, and the noise is not clipped.
        assert np.all(mask.numpy() == 1)
        assert (GaussianCorruption(stddev=100.0, seed=0)(images, training=True).numpy() > 255).any()

    def test_only_in_training_and_seeded(self, pixels):
        np.testing.assert_array_equal(GaussianCorruption(stddev=10.0, seed=0)(pixels), pixels)
        a = GaussianCorruption(stddev=10.0, seed=1)(pixels, training=True)
        b = GaussianCorruption(stddev=10.0, seed=1)(pixels, training=True)
        c = GaussianCorruption(stddev=10.0, seed=2)(pixels, training=True)
        np.testing.assert_array_equal(a, b)
        assert changed(a, c).all()

    def test_config_and_bad_stddev(self):
        clone = self.run_config_test(GaussianCorruption(stddev=12.0, seed=1))
        assert clone.stddev == 12.0
        with pytest.raises(ValueError, match="stddev must be non-negative"):
            GaussianCorruption(stddev=-1.0)


class TestMakeCorruption:
    def test_levels_on_the_papers_scale(self):
        gaussian = make_corruption("gaussian", 0.1)
        assert isinstance(gaussian, GaussianCorruption) and gaussian.stddev == pytest.approx(25.5)
        assert make_corruption("gaussian", 0.1, value_range=(0, 1)).stddev == pytest.approx(0.1)
        masking = make_corruption("masking")
        assert isinstance(masking, MaskingCorruption) and masking.rate == 0.25
        salt = make_corruption("salt_and_pepper", 0.1, value_range=(0, 1))
        assert isinstance(salt, SaltAndPepperCorruption) and (salt.rate, salt.minval, salt.maxval) == (0.1, 0.0, 1.0)
        assert make_corruption(None) is None
        layer = keras.layers.GaussianNoise(1.0)
        assert make_corruption(layer) is layer

    def test_unknown_noise(self):
        with pytest.raises(ValueError, match="unknown noise 'speckle': use None, one of gaussian, masking"):
            make_corruption("speckle")

    def test_saved_inside_a_model(self, pixels, tmp_path):
        inputs = keras.Input((28, 28, 1))
        model = keras.Model(inputs, MaskingCorruption(rate=0.25, seed=0)(inputs))
        path = str(tmp_path / "m.keras")
        model.save(path)
        restored = keras.saving.load_model(path)
        assert isinstance(restored.layers[-1], MaskingCorruption) and restored.layers[-1].rate == 0.25
        np.testing.assert_array_equal(restored.predict(pixels, verbose=0), pixels)
