"""NADE: the one-pass running sum against the per-conditional reference, the
autoregressive property, an exactly normalised likelihood, the loss against
NumPy, learning on the digits, saving, sampling and argument checks."""

import itertools
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.data import binarize, load_digits
from keras_ssl.methods.density.base import DensityMethod
from keras_ssl.methods.density.nade import NADE
from tests.test_case import REPO_ROOT, TestCase


def randomised(model, seed=0, scale=1.0):
    """`model` with every weight, biases included, drawn from N(0, scale^2)."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign((scale * rng.normal(size=variable.shape)).astype("float32"))
    return model


def random_binary(rng, n, shape):
    return (rng.random((n, *shape)) < 0.5).astype("uint8")


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_nade_nll(model, images):
    """NLL (nats) of each image from NADE's weights, float64, one conditional
    at a time from its definition."""
    W, c = model.input_kernel.numpy().astype("float64"), model.hidden_bias.numpy().astype("float64")
    V, b = model.output_kernel.numpy().astype("float64"), model.output_bias.numpy().astype("float64")
    x = images.reshape(len(images), -1).astype("float64")
    nll = np.zeros(len(x))
    for i in range(x.shape[1]):
        h = np_sigmoid(c + x[:, :i] @ W[:, :i].T)
        p = np_sigmoid(b[i] + h @ V[i])
        nll -= x[:, i] * np.log(p) + (1 - x[:, i]) * np.log(1 - p)
    return nll


def assert_autoregressive(jacobian):
    """`jacobian[i, j] = d logit_i / d x_j` of one image: exactly zero for
    every j >= i (no pixel sees itself or a later one) and nonzero somewhere
    below the diagonal (the pixels do see earlier ones)."""
    jacobian = np.asarray(jacobian)
    assert jacobian.ndim == 2 and jacobian.shape[0] == jacobian.shape[1], jacobian.shape
    leaks = np.argwhere(np.triu(jacobian) != 0)
    assert len(leaks) == 0, (
        f"{len(leaks)} logits depend on their own or later pixels, e.g. (i, j) = {leaks[:3].tolist()}"
    )
    assert np.any(np.tril(jacobian, -1) != 0), "no logit depends on any earlier pixel"


def logit_jacobian(model, image):
    """`d logits / d pixels` of one image, `[D, D]` (pixels flattened)."""
    flat = tf.constant(np.asarray(image, "float32").reshape(1, -1))
    with tf.GradientTape() as tape:
        tape.watch(flat)
        logits = tf.reshape(model.logits(tf.reshape(flat, [1, *model.image_shape])), [1, -1])
    return tape.batch_jacobian(logits, flat).numpy()[0]


class InclusiveNADE(NADE):
    """A broken NADE: the running sum includes pixel i in h_i (one mask
    entry per row wrong: the diagonal)."""

    def hidden_states(self, flat):
        contributions = flat[:, :, None] * tf.transpose(self.input_kernel)[None]
        return tf.sigmoid(self.hidden_bias + tf.cumsum(contributions, axis=1, exclusive=False))


class TestNADEModel(TestCase):
    def test_one_pass_logits_equal_the_per_conditional_reference(self, rng):
        model = randomised(NADE((5, 5, 1), hidden_units=7, seed=0))
        images = random_binary(rng, 6, (5, 5, 1))
        logits = model.logits(tf.constant(images, "float32"))
        assert logits.dtype == tf.float32 and tuple(logits.shape) == (6, 5, 5, 1)
        np.testing.assert_allclose(logits.numpy(), model.naive_logits(images).numpy(), atol=1e-5)
        np.testing.assert_allclose(model.predict(images, verbose=0), logits.numpy(), atol=1e-6)  # call = logits.

    def test_autoregressive_on_the_whole_28x28_grid(self, rng):
        model = NADE((28, 28, 1), hidden_units=8, seed=0)
        jacobian = logit_jacobian(model, random_binary(rng, 1, (28, 28, 1)))
        assert jacobian.shape == (784, 784)
        assert_autoregressive(jacobian)
        # Stronger than "somewhere": every pixel's logit depends on the pixel just before it.
        assert np.all(np.diag(jacobian, -1) != 0)

    def test_the_check_fails_on_a_leaky_model_and_on_one_wrong_entry(self, rng):
        image = random_binary(rng, 1, (5, 5, 1))
        leaky = InclusiveNADE((5, 5, 1), hidden_units=4, seed=0)
        with pytest.raises(AssertionError, match="depend on their own or later pixels"):
            assert_autoregressive(logit_jacobian(leaky, image))
        jacobian = logit_jacobian(NADE((5, 5, 1), hidden_units=4, seed=0), image)
        assert_autoregressive(jacobian)
        jacobian[3, 17] = 1e-6  # One entry above the diagonal.
        with pytest.raises(AssertionError, match=r"\(i, j\) = \[\[3, 17\]\]"):
            assert_autoregressive(jacobian)
        with pytest.raises(AssertionError, match="no logit depends on any earlier pixel"):
            assert_autoregressive(np.zeros((4, 4)))

    def test_probabilities_of_all_binary_4x4_images_sum_to_one(self):
        model = randomised(NADE((4, 4, 1), hidden_units=6, seed=0), seed=1)
        images = np.array(list(itertools.product([0, 1], repeat=16)), "uint8").reshape(-1, 4, 4, 1)
        log_p = model.log_likelihood(images).numpy()
        assert log_p.shape == (65536,) and np.all(log_p < 0)
        # float32 log-probabilities (error ~1e-6 each) summed in float64: 1e-5 is reachable.
        np.testing.assert_allclose(np.exp(log_p.astype("float64")).sum(), 1.0, atol=1e-5)
        assert np.exp(log_p).max() > 20 * np.exp(log_p).min()  # Far from uniform: the test has teeth.

    def test_loss_is_the_numpy_nll_and_bits_per_dim_follows(self, rng):
        model = randomised(NADE((3, 4, 1), hidden_units=5, seed=0), seed=2, scale=0.5)
        model.compile(optimizer="adam")
        images = random_binary(rng, 10, (3, 4, 1))
        nll = np_nade_nll(model, images)
        np.testing.assert_allclose(model.log_likelihood(images).numpy(), -nll, rtol=1e-5)
        logs = model.evaluate(images, batch_size=10, return_dict=True, verbose=0)
        np.testing.assert_allclose(logs["loss"], nll.mean(), rtol=1e-5)
        np.testing.assert_allclose(logs["bits_per_dim"], nll.mean() / (12 * np.log(2)), rtol=1e-5)

    def test_encoder_is_the_hidden_layer_after_the_whole_image_and_exports(self, rng, tmp_path):
        model = randomised(NADE((4, 4, 1), hidden_units=6, seed=0))
        images = random_binary(rng, 5, (4, 4, 1))
        encoder = model.encoder
        assert encoder.output_shape == (None, 6)
        W, c = model.input_kernel.numpy(), model.hidden_bias.numpy()
        expected = np_sigmoid(images.reshape(5, -1).astype("float64") @ W.T + c)
        np.testing.assert_allclose(encoder.predict(images.astype("float32"), verbose=0), expected, atol=1e-6)
        if REPO_ROOT not in sys.path:
            sys.path.insert(0, REPO_ROOT)
        from export.saved_model import export_encoder

        loaded = tf.saved_model.load(export_encoder(model, str(tmp_path / "nade")))
        raw = tf.constant(images * 255, tf.uint8)  # Served: raw pixels, binarised at 128.
        embedding = loaded.signatures["serving_default"](images=raw)["embedding"].numpy()
        np.testing.assert_allclose(embedding, expected, atol=1e-6)
        log_prob = loaded.signatures["log_prob"](images=raw)["log_prob"].numpy()
        np.testing.assert_allclose(log_prob, model.log_likelihood(images).numpy(), rtol=1e-6)
        model.input_kernel.assign(np.zeros_like(W))  # The encoder shares NADE's weights.
        np.testing.assert_allclose(encoder(images.astype("float32")).numpy(), np.tile(np_sigmoid(c), (5, 1)), atol=1e-6)


class TestNADELearns(TestCase):
    # Test NLL (nats/image) on the binarised digits test split after 10
    # epochs (hidden 32, Adam 1e-2, batch 64) vs 25.18 for independent
    # Bernoullis of the training marginals (add-one smoothing): NADE 19.67 at
    # seed 0, 19.70 at seed 1, margins 5.51 and 5.48 nats; asserted > 3.
    @pytest.mark.parametrize("seed", [0, 1])
    def test_beats_independent_pixels_on_the_digits(self, seed):
        data = load_digits()
        x_train, x_test = binarize(data.x_train, 0.5), binarize(data.x_test, 0.5)  # uint8 [0, 255] -> 0/1.
        p = (x_train.reshape(len(x_train), -1).sum(axis=0) + 1.0) / (len(x_train) + 2.0)
        x = x_test.reshape(len(x_test), -1)
        independent = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=1).mean()
        keras.utils.set_random_seed(seed)
        model = NADE((8, 8, 1), hidden_units=32, seed=seed)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        history = model.fit(x_train, batch_size=64, epochs=10, verbose=0).history
        assert set(history) == {"loss", "bits_per_dim"}
        nll = -model.log_likelihood(x_test).numpy().mean()
        print(f"digits test NLL, seed {seed}: NADE {nll:.3f}, independent {independent:.3f}")
        assert nll < independent - 3.0, (nll, independent)


class TestNADESavingAndSampling(TestCase):
    def test_keras_file_round_trip_keeps_the_likelihood(self, rng, tmp_path):
        model = randomised(NADE((4, 3, 1), hidden_units=5, seed=4))
        model.compile(optimizer="adam")
        images = random_binary(rng, 8, (4, 3, 1))
        model.fit(images, batch_size=4, epochs=1, verbose=0)
        restored = self.run_model_saving_test(model, images, tmp_path)
        assert restored.hidden_units == 5 and restored.image_shape == (4, 3, 1) and restored.seed == 4
        np.testing.assert_array_equal(restored.log_likelihood(images).numpy(), model.log_likelihood(images).numpy())
        restored.fit(images, batch_size=4, epochs=1, verbose=0)

    def test_config_round_trips(self):
        model = NADE((6, 5, 1), hidden_units=9, seed=2, name="nade")
        clone = self.run_config_test(model)
        assert model.get_config()["input_shape"] == [6, 5, 1] and clone.get_config()["hidden_units"] == 9
        # The seed fixes the initial weights.
        for a, b in zip(model.weights, clone.weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())

    def test_samples_are_binary_deterministic_and_match_the_generic_sampler(self):
        model = randomised(NADE((5, 4, 1), hidden_units=6, seed=0))
        samples = model.sample(40, seed=3)
        assert samples.shape == (40, 5, 4, 1) and samples.dtype == np.uint8
        assert set(np.unique(samples)) <= {0, 1} and 0 < samples.mean() < 1
        np.testing.assert_array_equal(model.sample(40, seed=3), samples)
        assert not np.array_equal(model.sample(40, seed=4), samples)
        # The running-sum sampler makes the base class's draws (a logits pass per pixel).
        generic = DensityMethod.sample_pixels(model, np.zeros((40, 5, 4, 1), "float32"), 0, 3)
        np.testing.assert_array_equal(samples, generic)

    def test_samples_follow_the_model(self):
        model = NADE((2, 2, 1), hidden_units=3, seed=0)  # Four pixels: compare with the exact distribution.
        images = np.array(list(itertools.product([0, 1], repeat=4)), "uint8").reshape(16, 2, 2, 1)
        probability = np.exp(model.log_likelihood(images).numpy())
        samples = model.sample(4000, seed=1).reshape(4000, 4)
        counts = np.bincount(samples @ np.array([8, 4, 2, 1]), minlength=16) / 4000
        np.testing.assert_allclose(counts, probability, atol=0.025)  # ~3.5 standard errors at p = 1/16.

    def test_completion_keeps_the_given_rows(self, rng):
        model = randomised(NADE((4, 3, 1), hidden_units=5, seed=0))
        images = random_binary(rng, 6, (4, 3, 1))
        completed = model.complete(images, rows=2, seed=5)
        assert completed.shape == images.shape and completed.dtype == np.uint8
        np.testing.assert_array_equal(completed[:, :2], images[:, :2])
        generic = DensityMethod.sample_pixels(model, images.astype("float32"), 6, 5)
        np.testing.assert_array_equal(completed, generic)
        np.testing.assert_array_equal(model.complete(images, rows=4), images)
        with pytest.raises(ValueError, match="rows must be in"):
            model.complete(images, rows=5)


class TestNADEArguments(TestCase):
    def test_non_binary_or_misshapen_images_fail_clearly(self):
        model = NADE((4, 4, 1), hidden_units=3)
        model.compile(optimizer="adam")
        with pytest.raises(tf.errors.InvalidArgumentError, match="NADE expects binary images"):
            model.log_likelihood(np.full((2, 4, 4, 1), 0.5, "float32"))
        with pytest.raises(tf.errors.InvalidArgumentError, match="binarise them first"):
            model.fit(np.full((4, 4, 4, 1), 255, "uint8"), batch_size=4, verbose=0)
        with pytest.raises(ValueError, match=r"NADE expects binary images of shape \[batch, 4, 4, 1\]"):
            model.log_likelihood(np.zeros((2, 5, 4, 1), "float32"))
        with pytest.raises(ValueError, match="sample needs n >= 1"):
            model.sample(0)

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            ({"hidden_units": 0}, "hidden_units must be a positive int"),
            ({"hidden_units": 2.5}, "hidden_units must be a positive int"),
            ({"hidden_units": True}, "hidden_units must be a positive int"),
            ({"input_shape": (28, 28)}, r"input_shape must be \(height, width, channels\)"),
            ({"input_shape": 28}, r"input_shape must be \(height, width, channels\)"),
            ({"input_shape": (28, 0, 1)}, "input_shape must be the positive shape of one image"),
            ({"seed": "0"}, "seed must be an int or None"),
        ],
    )
    def test_bad_constructor_arguments_fail_clearly(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            NADE(**{"input_shape": (4, 4, 1), "hidden_units": 3, **kwargs})
