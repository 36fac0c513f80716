"""The modality-free root `Method` and its extension points: the training
contract (finite-checked update, tracker weights, derived logs), several
optimizers, momentum copies; and the density family's base."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.backbones import ConvNet
from keras_ssl.layers import ema_update, momentum_copy, momentum_pairs
from keras_ssl.methods import DensityMethod, Method
from tests.test_case import TestCase


@keras.saving.register_keras_serializable(package="keras_ssl_tests")
class Regression(Method):
    """Least squares on vectors: no images, no tokens."""

    metric_names = ("loss", "mean_target")

    def __init__(self, dim=3, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.dim = dim
        self.dense = keras.layers.Dense(1, kernel_initializer="zeros", name="dense")
        self.dense.build((None, dim))
        self.built = True

    def unpack_batch(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        return tf.cast(x, "float32"), tf.cast(y, "float32")

    def compute_losses(self, batch, training):
        x, y = batch
        return {"loss": tf.reduce_mean(tf.square(self.dense(x)[:, 0] - y)), "mean_target": tf.reduce_mean(y)}

    def derived_logs(self, logs):
        return {**logs, "rmse": tf.sqrt(logs["loss"])}

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}


@keras.saving.register_keras_serializable(package="keras_ssl_tests")
class WithCritic(Regression):
    """A second network trained by its own optimizer."""

    extra_optimizers = ("critic",)

    def __init__(self, critic=True, **kwargs):
        super().__init__(**kwargs)
        self.use_critic = critic
        self.critic = keras.layers.Dense(1, name="critic") if critic else None
        if critic:
            self.critic.build((None, self.dim))

    def optimizer_variables(self, name="optimizer"):
        if name == "optimizer":
            return self.dense.trainable_variables
        return self.critic.trainable_variables if self.critic is not None else None

    def train_step(self, data):
        x, y = self.unpack_batch(data)
        logs = super().train_step(data)
        with tf.GradientTape() as tape:
            critic_loss = tf.reduce_mean(tf.square(self.critic(x)[:, 0] - y))
        gradients = tape.gradient(critic_loss, self.critic.trainable_variables)
        self.critic_optimizer.apply(gradients, self.critic.trainable_variables)
        return logs

    def get_config(self):
        return {**super().get_config(), "critic": self.use_critic}


def regression_data(n=40, dim=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype("float32")
    return x, (x @ np.array([1.0, -2.0, 0.5][:dim], "float32") + 0.5).astype("float32")


class TestMethodContract(TestCase):
    def test_fit_trains_and_logs_the_trackers_and_derived_values(self):
        x, y = regression_data()
        model = Regression(seed=0)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        history = model.fit(x, y, batch_size=8, epochs=3, verbose=0).history
        assert set(history) == {"loss", "mean_target", "rmse"}
        assert history["loss"][-1] < history["loss"][0] / 2
        np.testing.assert_allclose(history["rmse"], np.sqrt(history["loss"]), rtol=1e-6)

    def test_evaluate_weighs_a_short_last_batch_by_its_examples(self):
        x, y = regression_data(n=10)
        model = Regression(seed=0)
        model.compile(optimizer="sgd")
        logs = model.evaluate(x, y, batch_size=8, return_dict=True, verbose=0)  # Batches of 8 and 2.
        np.testing.assert_allclose(logs["mean_target"], y.mean(), rtol=1e-5)  # Unweighted: 0.8/0.2 mix differs.
        np.testing.assert_allclose(logs["loss"], np.mean(y**2), rtol=1e-5)  # Zero kernel: predictions are 0.

    def test_non_finite_loss_raises_before_any_update(self):
        x, y = regression_data(n=8)
        y[3] = np.nan
        model = Regression(seed=0)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        before = model.dense.kernel.numpy().copy()
        with pytest.raises(tf.errors.InvalidArgumentError, match="Regression loss is not finite"):
            model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        np.testing.assert_array_equal(model.dense.kernel.numpy(), before)

    def test_compile_without_optimizer_uses_the_default(self):
        model = Regression()
        model.compile()
        assert isinstance(model.optimizer, keras.optimizers.RMSprop)

    def test_root_has_no_encoder_and_config_round_trips(self):
        model = Regression(dim=2, seed=3)
        assert model.encoder is None
        clone = Regression.from_config(model.get_config())
        assert clone.get_config() == model.get_config() and clone.seed == 3


class TestSeveralOptimizers(TestCase):
    def test_extra_optimizer_is_a_fresh_copy_built_on_its_variables(self):
        model = WithCritic(seed=0)
        model.compile(optimizer=keras.optimizers.Adam(0.01, beta_1=0.5))
        critic = model.critic_optimizer
        assert critic is not model.optimizer and type(critic) is keras.optimizers.Adam and critic.beta_1 == 0.5
        assert critic.built and model.optimizer.built
        x, y = regression_data(n=16)
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        assert int(model.optimizer.iterations) == 2 and int(critic.iterations) == 2

    def test_each_optimizer_updates_only_its_network(self):
        x, y = regression_data(n=16)
        model = WithCritic(seed=0)
        model.compile(optimizer=keras.optimizers.SGD(0.0), critic_optimizer=keras.optimizers.SGD(0.1))
        dense, critic = model.dense.kernel.numpy().copy(), model.critic.kernel.numpy().copy()
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        np.testing.assert_array_equal(model.dense.kernel.numpy(), dense)
        assert not np.allclose(model.critic.kernel.numpy(), critic)

    def test_an_optimizer_for_an_absent_network_is_refused(self):
        model = WithCritic(critic=False)
        model.compile(optimizer="sgd")
        assert model.critic_optimizer is None
        with pytest.raises(ValueError, match="has no critic to train: drop critic_optimizer"):
            WithCritic(critic=False).compile(optimizer="sgd", critic_optimizer="adam")

    def test_both_optimizers_and_their_state_survive_saving(self, tmp_path):
        x, y = regression_data(n=16)
        model = WithCritic(seed=0)
        model.compile(optimizer=keras.optimizers.Adam(0.01), critic_optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        path = str(tmp_path / "model.keras")
        model.save(path)
        restored = keras.saving.load_model(path)
        assert type(restored.critic_optimizer) is keras.optimizers.SGD and restored.critic_optimizer.momentum == 0.9
        assert int(restored.optimizer.iterations) == 2 and int(restored.critic_optimizer.iterations) == 2
        for a, b in zip(model.critic_optimizer.variables, restored.critic_optimizer.variables):
            np.testing.assert_allclose(a.numpy(), b.numpy())

    def test_mixed_precision_wraps_every_optimizer(self):
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_float16")
        try:
            model = WithCritic(seed=0)
            model.compile(optimizer="adam")
            assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
            assert isinstance(model.critic_optimizer, keras.optimizers.LossScaleOptimizer)
        finally:
            keras.config.set_dtype_policy(previous)


class TestMomentumCopies(TestCase):
    def network(self):
        inputs = keras.Input((4,))
        x = keras.layers.Dense(3, name="hidden")(inputs)
        x = keras.layers.BatchNormalization(name="bn")(x)
        return keras.Model(inputs, keras.layers.Dense(2, name="out")(x), name="student")

    def test_copy_starts_equal_and_is_not_trained(self):
        keras.utils.set_random_seed(0)
        student = self.network()
        teacher = momentum_copy(student, name="teacher")
        assert teacher.name == "teacher" and teacher is not student
        assert not teacher.trainable_weights and len(teacher.weights) == len(student.weights)
        for t, s in zip(teacher.weights, student.weights):
            np.testing.assert_array_equal(t.numpy(), s.numpy())
        dense = keras.layers.Dense(2, name="classifier")
        dense.build((None, 3))
        copy = momentum_copy(dense, name="teacher_classifier")
        assert copy.built and [w.shape for w in copy.weights] == [w.shape for w in dense.weights]

    def test_pairs_hold_the_trained_weights_and_ema_moves_them(self):
        keras.utils.set_random_seed(0)
        student = self.network()
        teacher = momentum_copy(student, name="teacher")
        averages, values = momentum_pairs([(teacher, student)])
        assert len(averages) == len(student.trainable_weights) == 6  # Batch-norm statistics are each one's own.
        for v in student.trainable_weights:
            v.assign(v + 1.0)
        before = [a.numpy() for a in averages]
        ema_update(averages, values, decay=0.75)
        for a, b, v in zip(averages, before, values):
            np.testing.assert_allclose(a.numpy(), 0.75 * b + 0.25 * v.numpy(), rtol=1e-6)

    def test_pairs_of_unrelated_networks_are_refused(self):
        with pytest.raises(ValueError, match="pair a network with its momentum_copy"):
            dense = keras.layers.Dense(2)
            dense.build((None, 3))
            momentum_pairs([(self.network(), dense)])


class Independent(DensityMethod):
    """One Bernoulli per pixel: the simplest model with an exact likelihood."""

    def __init__(self, input_shape, **kwargs):
        super().__init__(input_shape, **kwargs)
        self.bias = self.add_weight(shape=self.image_shape, initializer="random_normal", name="bias")

    def logits(self, images, training=False):
        return tf.zeros_like(images) + self.bias


class TestDensityBase(TestCase):
    def test_probabilities_of_every_binary_image_sum_to_one(self):
        keras.utils.set_random_seed(0)
        model = Independent((2, 2, 1))
        images = np.array(list(itertools.product([0, 1], repeat=4)), "float32").reshape(16, 2, 2, 1)
        np.testing.assert_allclose(np.exp(model.log_likelihood(images).numpy()).sum(), 1.0, rtol=1e-5)

    def test_loss_is_nats_per_image_and_bits_per_dim_follows(self):
        keras.utils.set_random_seed(0)
        model = Independent((2, 3, 1))
        model.compile(optimizer="sgd")
        images = (np.random.default_rng(0).random((8, 2, 3, 1)) > 0.5).astype("uint8")
        p = 1.0 / (1.0 + np.exp(-model.bias.numpy().astype("float64")))
        nll = -(images * np.log(p) + (1 - images) * np.log(1 - p)).reshape(8, -1).sum(axis=1)
        logs = model.evaluate(images, batch_size=8, return_dict=True, verbose=0)
        np.testing.assert_allclose(logs["loss"], nll.mean(), rtol=1e-5)
        np.testing.assert_allclose(logs["bits_per_dim"], nll.mean() / (6 * np.log(2)), rtol=1e-5)

    def test_non_binary_or_misshapen_images_fail_clearly(self):
        model = Independent((2, 2, 1))
        with pytest.raises(tf.errors.InvalidArgumentError, match="expects binary images"):
            model.log_likelihood(np.full((1, 2, 2, 1), 0.5, "float32"))
        with pytest.raises(ValueError, match=r"expects binary images of shape \[batch, 2, 2, 1\]"):
            model.log_likelihood(np.zeros((1, 3, 3, 1), "float32"))


class TestDensitySampling(TestCase):
    def test_samples_follow_an_independent_model(self):
        model = Independent((2, 2, 1))
        model.bias.assign(np.array([-20.0, 20.0, 0.0, 20.0], "float32").reshape(2, 2, 1))
        samples = model.sample(400, seed=1)
        assert samples.shape == (400, 2, 2, 1) and samples.dtype == np.uint8
        np.testing.assert_array_equal(samples[:, 0, 0, 0], 0)
        np.testing.assert_array_equal(samples[:, 0, 1, 0], 1)
        assert 0.4 < samples[:, 1, 0, 0].mean() < 0.6
        np.testing.assert_array_equal(model.sample(5, seed=3), model.sample(5, seed=3))

    def test_completion_keeps_the_given_rows(self):
        model = Independent((3, 2, 1))
        model.bias.assign(np.full((3, 2, 1), 20.0, "float32"))  # Every drawn pixel is 1.
        images = np.zeros((4, 3, 2, 1), "uint8")
        completed = model.complete(images, rows=1)
        np.testing.assert_array_equal(completed[:, 0], 0)
        np.testing.assert_array_equal(completed[:, 1:], 1)
        with pytest.raises(ValueError, match="rows must be in"):
            model.complete(images, rows=4)


class TestRequireJitCompile:
    def test_a_layer_without_xla_support_fails_in_one_line_instead_of_falling_back(self):
        from keras_ssl.methods import RotationPrediction

        model = RotationPrediction(
            ConvNet(input_shape=(16, 16, 1), filters=(4,)), augmenter=keras.layers.RandomTranslation(0.1, 0.1)
        )
        with pytest.raises(ValueError, match="cannot train under XLA.*random_translation") as error:
            model.compile(optimizer="adam", jit_compile=True)
        assert "\n" not in str(error.value)
        # Keras alone would have trained without XLA, with a warning only.
        model.compile(optimizer="adam", jit_compile="auto")
        with pytest.warns(UserWarning, match="jit_compile"):
            model.jit_compile = True
        assert model.jit_compile is False

    def test_xla_compatible_method_keeps_jit_compile(self):
        from keras_ssl.methods import RotationPrediction, require_jit_compile

        model = RotationPrediction(ConvNet(input_shape=(16, 16, 1), filters=(4,)))
        model.compile(optimizer="adam", jit_compile=True)
        assert model.jit_compile is True
        model.compile(optimizer="adam")
        require_jit_compile(model)
        assert model.jit_compile is True

    def test_noise_as_targets_says_it_cannot_compile(self):
        from keras_ssl.methods import NoiseAsTargets

        model = NoiseAsTargets(ConvNet(input_shape=(16, 16, 1), filters=(4,)), num_examples=32, seed=0)
        with pytest.raises(ValueError, match="cannot train under XLA.*assignment_solver='auction'"):
            model.compile(optimizer="adam", jit_compile=True)
