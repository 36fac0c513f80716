import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.augment import SimCLRAugmenter
from keras_ssl.backbones import ConvNet
from keras_ssl.data import image_batches
from keras_ssl.methods.contrastive.instance_discrimination import InstanceDiscrimination, nce_loss
from tests.test_case import TestCase, assert_same_step, one_step_on_one_and_two_replicas

NUM_EXAMPLES = 32


def tiny_model(seed=0, identity=True, **kwargs):
    keras.utils.set_random_seed(seed)
    kwargs.setdefault("num_examples", NUM_EXAMPLES)
    kwargs.setdefault("embedding_dim", 8)
    kwargs.setdefault("num_negatives", 16)
    if identity:
        kwargs.setdefault("augmenter", keras.layers.Identity())
    model = InstanceDiscrimination(ConvNet(input_shape=(16, 16, 1), filters=(4, 8)), seed=seed, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def build_for_strategy_test():
    """A tiny model and a dataset of (images, indices), 2 batches of 16."""
    model = tiny_model(identity=False)
    images = np.random.default_rng(0).integers(0, 256, (NUM_EXAMPLES, 16, 16, 1), dtype="uint8")
    return model, image_batches(images, 16, labels=np.arange(NUM_EXAMPLES, dtype="int32")), {}


def build_for_step_test():
    """tests/workers/one_step.py: identity views, synchronised batch norm, one global batch of 8."""
    model = InstanceDiscrimination(
        ConvNet(input_shape=(16, 16, 1), filters=(4, 8), synchronized_batch_norm=True),
        num_examples=NUM_EXAMPLES,
        embedding_dim=8,
        num_negatives=16,
        augmenter=keras.layers.Identity(),
        seed=0,
    )
    images = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 1), dtype="uint8")
    return model, images, np.arange(3, 11, dtype="int32")


@pytest.fixture
def images(rng):
    return rng.integers(0, 256, size=(NUM_EXAMPLES, 16, 16, 1), dtype="uint8")


@pytest.fixture
def indices():
    return np.arange(NUM_EXAMPLES, dtype="int32")


def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def np_nce_loss(features, positive_rows, noise_rows, temperature, normalizer, num_examples):
    """The paper's eq. 5-7 written out directly."""
    m = noise_rows.shape[1]
    noise_mass = m / num_examples
    p_positive = np.exp(np.sum(features * positive_rows, -1) / temperature) / normalizer
    p_noise = np.exp(np.einsum("bd,bmd->bm", features, noise_rows) / temperature) / normalizer
    h_positive = p_positive / (p_positive + noise_mass)
    h_noise = p_noise / (p_noise + noise_mass)
    return -np.log(h_positive) - np.sum(np.log(1 - h_noise), axis=-1)


def unit_bank(model, row):
    """Every bank row set to the same unit vector (NCE then ignores which noise rows were drawn)."""
    model.bank.bank.assign(np.tile(unit(row)[None], (model.num_examples, 1)).astype("float32"))


class TestNCELoss:
    def test_matches_numpy_reference(self, rng):
        features = unit(rng.normal(size=(5, 6)))
        positive = unit(rng.normal(size=(5, 6)))
        noise = unit(rng.normal(size=(5, 7, 6)))
        for temperature, normalizer in ((0.07, 300.0), (0.5, 20.0)):
            expected = np_nce_loss(features, positive, noise, temperature, normalizer, 50)
            actual = nce_loss(features, positive, noise, temperature, normalizer, 50).numpy()
            np.testing.assert_allclose(actual, expected, rtol=1e-5)

    def test_finite_for_large_similarities(self):
        features = np.ones((2, 4), "float32") / 2
        loss = nce_loss(features, features, np.stack([features] * 3, 1), 0.001, 1.0, 10).numpy()
        assert np.all(np.isfinite(loss))


class TestInstanceDiscrimination(TestCase):
    def test_fit_on_a_dataset_of_images_and_indices(self, images, indices):
        model = tiny_model(identity=False)
        history = model.fit(image_batches(images, 16, labels=indices), epochs=2, verbose=0)
        for name in ("loss", "contrast_accuracy"):
            assert np.all(np.isfinite(history.history[name]))
        # Arrays (x, indices) work too; predict gives the backbone's features.
        model.fit(images, indices, batch_size=16, epochs=1, verbose=0)
        assert model.predict(images, verbose=0).shape == (NUM_EXAMPLES, 8)
        assert model.encoder is model.backbone
        result = model.evaluate(images, indices, batch_size=16, verbose=0, return_dict=True)
        assert set(result) == {"loss", "contrast_accuracy"}

    def test_normalizer_is_estimated_on_the_first_step_then_fixed(self, images, indices):
        model = tiny_model()
        assert model.normalizer.numpy() == 0.0
        unit_bank(model, np.arange(1.0, 9.0))
        x, idx = images[:8], indices[:8]
        features = model.embed(tf.cast(x, "float32"), training=True).numpy()
        row = model.bank.bank.numpy()[0]
        expected = NUM_EXAMPLES * np.mean(np.exp(features @ row / model.temperature))
        model.fit(x, idx, batch_size=8, epochs=1, verbose=0)
        np.testing.assert_allclose(model.normalizer.numpy(), expected, rtol=1e-4)
        model.fit(images, indices, batch_size=8, epochs=2, verbose=0)
        np.testing.assert_allclose(model.normalizer.numpy(), expected, rtol=1e-4)

    def test_evaluate_before_training_does_not_store_the_normalizer(self, images, indices):
        model = tiny_model()
        model.evaluate(images, indices, batch_size=16, verbose=0)
        assert model.normalizer.numpy() == 0.0

    def test_step_moves_the_batch_rows_by_the_momentum_rule_only(self, images, indices):
        model = tiny_model(bank_momentum=0.5)
        x, idx = images[:8], indices[3:11]
        before = model.bank.bank.numpy().copy()
        features = model.embed(tf.cast(x, "float32"), training=True).numpy()
        model.fit(x, idx, batch_size=8, epochs=1, shuffle=False, verbose=0)
        after = model.bank.bank.numpy()
        np.testing.assert_allclose(after[idx], unit(0.5 * before[idx] + 0.5 * features), atol=1e-5)
        others = np.setdiff1d(np.arange(NUM_EXAMPLES), idx)
        np.testing.assert_array_equal(after[others], before[others])

    def test_no_gradient_reaches_the_bank(self, images, indices):
        model = tiny_model()
        assert all(w.path != model.bank.bank.path for w in model.trainable_weights)
        bank = model.bank.bank.value
        batch = model.unpack_batch((images[:8], indices[:8]))
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(bank)
            loss = model.compute_losses(batch, training=True)["loss"]
        assert tape.gradient(loss, bank) is None
        gradients = tape.gradient(loss, model.trainable_weights)
        assert all(g is not None for g in gradients)

    def test_proximal_term_adds_lambda_times_the_squared_distance(self, images, indices):
        model = tiny_model()
        unit_bank(model, np.arange(1.0, 9.0))
        model.normalizer.assign(100.0)
        batch = dict(model.unpack_batch((images[:8], indices[:8])))
        plain = model.compute_losses(dict(batch), training=False)["loss"].numpy()
        model.proximal_weight = 0.5
        proximal = model.compute_losses(dict(batch), training=False)["loss"].numpy()
        features = model.embed(tf.cast(images[:8], "float32")).numpy()
        distance = np.mean(np.sum((features - model.bank.bank.numpy()[:8]) ** 2, -1))
        np.testing.assert_allclose(proximal - plain, 0.5 * distance, rtol=1e-4)

    def test_config_round_trip(self):
        model = tiny_model(identity=False, num_negatives=5, temperature=0.2, bank_momentum=0.3, proximal_weight=0.1)
        clone = self.run_config_test(model)
        assert (clone.num_examples, clone.embedding_dim, clone.num_negatives) == (NUM_EXAMPLES, 8, 5)
        assert (clone.temperature, clone.bank_momentum, clone.proximal_weight) == (0.2, 0.3, 0.1)
        assert isinstance(clone.augmenter, SimCLRAugmenter)

    def test_saving_round_trip_restores_the_bank(self, images, indices, tmp_path):
        model = tiny_model()
        model.fit(images, indices, batch_size=16, epochs=1, verbose=0)
        restored = self.run_model_saving_test(model, images, tmp_path)
        np.testing.assert_array_equal(restored.bank.bank.numpy(), model.bank.bank.numpy())
        assert restored.normalizer.numpy() == model.normalizer.numpy() > 0
        restored.fit(images, indices, batch_size=16, epochs=1, verbose=0)


class TestInstanceDiscriminationBadInput:
    def test_missing_indices(self, images):
        with pytest.raises(ValueError, match=r"needs each image's index: fit on \(images, indices\)"):
            tiny_model().fit(images, batch_size=16, epochs=1, verbose=0)

    def test_out_of_range_indices(self, images, indices):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices must be in \[0, num_examples=32\)"):
            tiny_model().fit(images, indices + 1, batch_size=32, epochs=1, verbose=0)
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices must be in \[0, num_examples=32\)"):
            tiny_model().fit(images, indices - 1, batch_size=32, epochs=1, verbose=0)

    def test_wrong_rank_or_dtype(self, images, indices):
        with pytest.raises(ValueError, match=r"takes indices of shape \[batch\]"):
            tiny_model().fit(images, np.stack([indices, indices], 1), batch_size=16, epochs=1, verbose=0)
        with pytest.raises(ValueError, match=r"takes int indices .* got dtype float32"):
            tiny_model().fit(images, indices.astype("float32"), batch_size=16, epochs=1, verbose=0)
        with pytest.raises(ValueError, match=r"add a channel axis"):
            tiny_model().fit(images[..., 0], indices, batch_size=16, epochs=1, verbose=0)

    def test_bad_arguments(self):
        backbone = ConvNet(input_shape=(16, 16, 1), filters=(4,))
        with pytest.raises(ValueError, match="backbone must be a keras.Model"):
            InstanceDiscrimination(keras.layers.Dense(3), num_examples=4)
        for kwargs, message in (
            ({"num_examples": 0}, "num_examples must be an int >= 1"),
            ({"num_examples": 4.0}, "num_examples must be an int >= 1"),
            ({"num_examples": 4, "num_negatives": 0}, "num_negatives must be an int >= 1"),
            ({"num_examples": 4, "embedding_dim": -1}, "embedding_dim must be an int >= 1"),
            ({"num_examples": 4, "temperature": 0}, "temperature must be positive"),
            ({"num_examples": 4, "bank_momentum": 1.0}, r"bank_momentum must be in \[0, 1\)"),
            ({"num_examples": 4, "proximal_weight": -1}, "proximal_weight must be >= 0"),
        ):
            with pytest.raises(ValueError, match=message):
                InstanceDiscrimination(backbone, **kwargs)


@pytest.mark.slow
class TestInstanceDiscriminationLearns(TestCase):
    def test_beats_random_init_on_digits(self):
        # Real data: the scikit-learn handwritten digits (8x8, 1347 training
        # images). m = 256 noise samples, not the paper's 4096: with n = 1347
        # that already draws a fifth of the bank per image (m P_n = 0.19 against
        # the paper's 0.003), and gathering 4096 x 128 rows per image would
        # make each step 16x dearer. tau = 0.2, not 0.07: with 0.07 (and with
        # 0.1) 600 steps of Adam lowered the kNN accuracy below random init
        # (0.62-0.93 against 0.94). Measured here, kNN accuracy: seed 1 0.960
        # against 0.942 at random init (+1.8 points), seed 2 0.956 against
        # 0.933 (+2.3 points).
        data, backbone, random_accuracy, augmenter = self.contrastive_digits_setup(seed=1)
        model = InstanceDiscrimination(
            backbone,
            num_examples=len(data.x_train),
            num_negatives=256,
            temperature=0.2,
            augmenter=augmenter,
            seed=1,
        )
        model.compile(optimizer=keras.optimizers.Adam(3e-4))
        batches = image_batches(data.x_train, 128, labels=np.arange(len(data.x_train)), seed=1)
        model.fit(batches, epochs=60, verbose=0)
        accuracy = self.representation_accuracy(model.encoder, data)
        print(f"kNN accuracy: InstanceDiscrimination {accuracy:.3f}, random init {random_accuracy:.3f}")
        assert accuracy > random_accuracy + 0.01
        assert 1 - accuracy < 0.85 * (1 - random_accuracy)


@pytest.mark.slow
@pytest.mark.subprocess
def test_one_step_on_two_replicas_equals_one_replica(tmp_path):
    # The same global batch and starting weights: the noise indices are drawn
    # for the global batch and sliced per replica, Z is estimated over both
    # replicas' samples, and each replica's rows reach both copies of the bank.
    one, two = one_step_on_one_and_two_replicas("tests.test_instance_discrimination:build_for_step_test", tmp_path)
    assert_same_step(one, two)
    names = list(one["names"])
    bank = one[f"final_{names.index('bank/bank')}"]
    assert not np.allclose(bank[3:11], one[f"init_{names.index('bank/bank')}"][3:11])  # The batch's rows moved.
    assert float(one[f"final_{names.index('instance_discrimination/normalizer')}"]) > 0


def test_zoo_recipe_gives_the_bank_its_size_and_indices(tmp_path):
    from zoo import runs

    config = runs.resolve_config("instance_discrimination", "digits", quick=True, epochs=1, batch_size=64)
    config.update(backbone={"class": "ConvNet", "filters": [8, 16]}, train_size=None, knn_every=None)
    config["model"] = {**config["model"], "num_negatives": 64}
    data = runs.load_data(config)
    model, history = runs.train(config, data, str(tmp_path / "run"), verbose=0)
    assert model.num_examples == len(data.x_train) and np.isfinite(history["loss"]).all()
    assert float(model.normalizer.numpy()) > 0.0  # Estimated on the first step, from indexed batches.
