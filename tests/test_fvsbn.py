"""FVSBN: autoregressive masking (and a test that catches a wrong mask), exact
normalised likelihood, loss against NumPy, learns on digits, sampling,
saving, export and argument checks."""

import itertools
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.data import binarize, load_digits
from keras_ssl.methods.density.base import DensityMethod
from keras_ssl.methods.density.fvsbn import FVSBN
from tests.test_case import REPO_ROOT, TestCase


def randomize(model, seed=0, scale=1.0):
    """Gives `model` a random normal kernel (every entry, masked ones too) and bias."""
    rng = np.random.default_rng(seed)
    dimensions = model.num_dimensions
    model.kernel.assign(rng.normal(scale=scale, size=(dimensions, dimensions)).astype("float32"))
    model.bias.assign(rng.normal(scale=scale, size=(dimensions,)).astype("float32"))
    return model


def random_binary(shape, n, seed=0):
    return (np.random.default_rng(seed).random((n, *shape)) < 0.5).astype("uint8")


def np_negative_log_likelihood(model, images):
    """NLL (nats) of each image from the model's weights, in float64 NumPy."""
    x = images.reshape(len(images), -1).astype("float64")
    weights = model.kernel.numpy().astype("float64") * np.tril(np.ones((x.shape[1],) * 2), k=-1)
    logits = x @ weights.T + model.bias.numpy().astype("float64")
    # -log sigmoid(z) for x = 1 and -log(1 - sigmoid(z)) for x = 0, stably.
    return (np.logaddexp(0.0, logits) - x * logits).sum(axis=1)


def assert_autoregressive(model, shape, seed=0):
    """d logit_i / d x_j is exactly 0 for every j >= i (pixel i reads only
    earlier pixels) and nonzero for some j < i, on a random binary image."""
    dimensions = int(np.prod(shape))
    flat = tf.constant(random_binary(shape, 1, seed).reshape(1, dimensions), "float32")
    with tf.GradientTape() as tape:
        tape.watch(flat)
        logits = tf.reshape(model.logits(tf.reshape(flat, [1, *shape])), [1, dimensions])
    jacobian = tape.batch_jacobian(logits, flat)[0].numpy()  # [i, j] = d logit_i / d x_j.
    assert jacobian.shape == (dimensions, dimensions)
    on_or_above = np.triu(np.ones((dimensions, dimensions), bool))
    leaks = np.argwhere((jacobian != 0) & on_or_above)
    assert len(leaks) == 0, f"logit i depends on pixel j >= i at (i, j) = {leaks[:5].tolist()}"
    assert np.any(jacobian[~on_or_above] != 0), "no logit depends on any earlier pixel"


class TestAutoregressive(TestCase):
    shape = (28, 28, 1)

    def test_logits_read_only_earlier_pixels_with_a_random_kernel(self):
        assert_autoregressive(randomize(FVSBN(self.shape), seed=1), self.shape)

    def test_logits_read_only_earlier_pixels_after_training(self):
        model = FVSBN(self.shape, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        model.fit(random_binary(self.shape, 32), batch_size=16, epochs=1, verbose=0)
        assert int(model.optimizer.iterations) == 2
        assert_autoregressive(model, self.shape)
        # The masked entries get a zero gradient, so Adam leaves them at 0.
        kernel = model.kernel.numpy()
        assert np.all(np.triu(kernel) == 0) and np.any(np.tril(kernel, k=-1) != 0)

    @pytest.mark.parametrize("entry", [(300, 300), (5, 700), (0, 783)])
    def test_the_check_fails_when_one_mask_entry_is_wrong(self, entry):
        model = randomize(FVSBN(self.shape), seed=1)
        mask = model.mask.numpy()
        mask[entry] = 1.0  # Pixel i now reads pixel j >= i.
        model.mask.assign(mask)
        with pytest.raises(AssertionError, match=rf"\(i, j\) = \[\[{entry[0]}, {entry[1]}\]\]"):
            assert_autoregressive(model, self.shape)


class TestLikelihood(TestCase):
    def test_probabilities_of_all_binary_images_sum_to_one(self):
        model = randomize(FVSBN((4, 4, 1)), seed=2)
        images = np.array(list(itertools.product([0, 1], repeat=16)), "uint8").reshape(-1, 4, 4, 1)
        log_probabilities = model.log_likelihood(images).numpy()
        assert log_probabilities.dtype == np.float32 and log_probabilities.shape == (2**16,)
        # Summed in float64: a float32 log-probability (~-10 nats here) is
        # off by ~1e-6 nats, so each term by ~1e-6 relative, well below 1e-5.
        np.testing.assert_allclose(np.exp(log_probabilities.astype("float64")).sum(), 1.0, rtol=1e-5)
        np.testing.assert_allclose(-log_probabilities, np_negative_log_likelihood(model, images), rtol=1e-5)

    def test_loss_matches_numpy_and_bits_per_dim_follows(self):
        model = randomize(FVSBN((5, 6, 1)), seed=3, scale=0.5)
        model.compile(optimizer="adam")
        images = random_binary((5, 6, 1), 20, seed=4)
        nll = np_negative_log_likelihood(model, images)
        logs = model.evaluate(images, batch_size=8, return_dict=True, verbose=0)  # Batches 8, 8, 4.
        np.testing.assert_allclose(logs["loss"], nll.mean(), rtol=1e-5)
        np.testing.assert_allclose(logs["bits_per_dim"], nll.mean() / (30 * np.log(2)), rtol=1e-5)

    def test_a_new_model_gives_every_pixel_one_half(self):
        model = FVSBN((3, 3, 1))
        np.testing.assert_allclose(model.log_likelihood(random_binary((3, 3, 1), 4)), -9 * np.log(2), rtol=1e-6)


class TestLearns(TestCase):
    @pytest.mark.parametrize("seed", [0, 1])
    def test_beats_independent_pixels_on_digits(self, seed):
        data = load_digits()  # uint8 in [0, 255].
        x_train, x_test = binarize(data.x_train), binarize(data.x_test)  # pixel >= 127.5.
        counts = x_train.reshape(len(x_train), -1).sum(axis=0)
        p = (counts + 1.0) / (len(x_train) + 2.0)  # Add-one (Laplace) smoothing.
        y = x_test.reshape(len(x_test), -1)
        independent = -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum(axis=1).mean()
        keras.utils.set_random_seed(seed)
        model = FVSBN((8, 8, 1), seed=seed)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        model.fit(x_train, batch_size=32, epochs=10, verbose=0)
        fvsbn = model.evaluate(x_test, batch_size=len(x_test), return_dict=True, verbose=0)["loss"]
        # Measured test NLL (nats/image): independent 25.18; FVSBN 18.73
        # (seed 0) and 18.70 (seed 1), a margin of ~6.4 nats. Required: 4.
        assert fvsbn < independent - 4.0, (fvsbn, independent)


class TestSampling(TestCase):
    def test_samples_are_binary_images_and_deterministic(self):
        model = randomize(FVSBN((28, 28, 1)), seed=5, scale=0.05)
        samples = model.sample(3, seed=7)
        assert samples.shape == (3, 28, 28, 1) and samples.dtype == np.uint8
        assert set(np.unique(samples)) <= {0, 1}
        np.testing.assert_array_equal(model.sample(3, seed=7), samples)
        assert not np.array_equal(model.sample(3, seed=8), samples)

    def test_sampler_draws_what_the_generic_sampler_draws(self):
        model = randomize(FVSBN((4, 4, 1)), seed=6)
        generic = DensityMethod.sample_pixels(model, np.zeros((64, 4, 4, 1), "float32"), 0, 9)
        np.testing.assert_array_equal(model.sample(64, seed=9), generic)
        images = random_binary((4, 4, 1), 16, seed=1)
        generic = DensityMethod.sample_pixels(model, images.astype("float32"), 8, 2)
        np.testing.assert_array_equal(model.complete(images, rows=2, seed=2), generic)

    def test_samples_follow_the_conditionals(self):
        model = FVSBN((1, 2, 1))
        # Pixel 0 is 1 w.p. sigmoid(0) = 1/2; pixel 1 copies pixel 0.
        model.bias.assign(np.array([0.0, -20.0], "float32"))
        model.kernel.assign(np.array([[0.0, 0.0], [40.0, 0.0]], "float32"))
        samples = model.sample(400, seed=0)[:, 0, :, 0]
        np.testing.assert_array_equal(samples[:, 0], samples[:, 1])
        assert 0.4 < samples[:, 0].mean() < 0.6

    def test_complete_keeps_the_given_rows(self):
        model = FVSBN((4, 3, 1))
        model.bias.assign(np.full((12,), 20.0, "float32"))  # Every drawn pixel is 1...
        kernel = np.zeros((12, 12), "float32")
        kernel[9:, 0] = -60.0  # ...except row 3's when pixel 0 is 1.
        model.kernel.assign(kernel)
        images = np.zeros((2, 4, 3, 1), "uint8")
        images[1, 0, 0, 0] = 1
        completed = model.complete(images, rows=1, seed=0)
        np.testing.assert_array_equal(completed[:, 0], images[:, 0])
        np.testing.assert_array_equal(completed[:, 1:3], 1)
        np.testing.assert_array_equal(completed[:, 3, :, 0], [[1, 1, 1], [0, 0, 0]])
        with pytest.raises(ValueError, match="rows must be in"):
            model.complete(images, rows=5)


class TestSerialization(TestCase):
    def test_config_round_trips(self):
        model = FVSBN((5, 4, 2), seed=3)
        clone = self.run_config_test(model)
        assert clone.image_shape == (5, 4, 2) and clone.seed == 3 and clone.num_dimensions == 40
        assert model.get_config()["input_shape"] == [5, 4, 2]

    def test_keras_file_round_trip_keeps_the_likelihood(self, tmp_path):
        images = random_binary((6, 6, 1), 16, seed=2)
        model = FVSBN((6, 6, 1), seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        model.fit(images, batch_size=8, epochs=1, verbose=0)
        restored = self.run_model_saving_test(model, images, tmp_path)
        np.testing.assert_array_equal(restored.log_likelihood(images), model.log_likelihood(images))
        np.testing.assert_array_equal(restored.mask.numpy(), np.tril(np.ones((36, 36)), k=-1))
        assert int(restored.optimizer.iterations) == 2

    def test_encoder_gives_the_conditional_probabilities_and_exports(self, tmp_path):
        model = randomize(FVSBN((4, 4, 1)), seed=8)
        images = random_binary((4, 4, 1), 5, seed=3)
        expected = tf.sigmoid(tf.reshape(model.logits(tf.constant(images, "float32")), [5, 16])).numpy()
        encoder = model.encoder
        assert encoder.output_shape == (None, 16) and len(encoder.trainable_weights) == 2
        np.testing.assert_allclose(encoder.predict(images, verbose=0), expected, rtol=1e-6)
        if REPO_ROOT not in sys.path:
            sys.path.insert(0, REPO_ROOT)
        from export.saved_model import export_encoder

        loaded = tf.saved_model.load(export_encoder(model, str(tmp_path / "fvsbn")))
        raw = tf.constant(images * 255, tf.uint8)  # Served: raw pixels, binarised at 128.
        embedding = loaded.signatures["serving_default"](images=raw)["embedding"].numpy()
        np.testing.assert_allclose(embedding, expected, rtol=1e-6)
        log_prob = loaded.signatures["log_prob"](images=raw)["log_prob"].numpy()
        np.testing.assert_allclose(log_prob, model.log_likelihood(images).numpy(), rtol=1e-6)


class TestArguments(TestCase):
    def test_non_binary_or_misshapen_images_fail_clearly(self):
        model = FVSBN((4, 4, 1))
        with pytest.raises(tf.errors.InvalidArgumentError, match="expects binary images"):
            model.log_likelihood(np.full((1, 4, 4, 1), 0.5, "float32"))
        with pytest.raises(tf.errors.InvalidArgumentError, match="expects binary images"):
            model.log_likelihood(np.full((1, 4, 4, 1), 255, "uint8"))
        with pytest.raises(ValueError, match=r"expects binary images of shape \[batch, 4, 4, 1\]"):
            model.log_likelihood(np.zeros((1, 16), "uint8"))
        model.compile(optimizer="adam")
        with pytest.raises(ValueError, match=r"expects binary images of shape \[batch, 4, 4, 1\]"):
            model.fit(np.zeros((4, 5, 5, 1), "uint8"), verbose=0)

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            ({"input_shape": (28, 28)}, "input_shape must be 3 positive ints"),
            ({"input_shape": 28}, "input_shape must be 3 positive ints"),
            ({"input_shape": (28, 28.0, 1)}, "input_shape must be 3 positive ints"),
            ({"input_shape": (0, 28, 1)}, "input_shape must be the positive shape"),
            ({"seed": "zero"}, "seed must be an int or None"),
            ({"seed": 1.5}, "seed must be an int or None"),
        ],
    )
    def test_bad_arguments_raise(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            FVSBN(**kwargs)

    def test_bad_sample_count_raises(self):
        with pytest.raises(ValueError, match="sample needs n >= 1"):
            FVSBN((2, 2, 1)).sample(0)
