import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.augment import SimCLRAugmenter
from keras_ssl.backbones import ConvNet
from keras_ssl.methods import SimCLR
from tests.test_case import TestCase


def tiny_simclr(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    model = SimCLR(ConvNet(input_shape=(16, 16, 1), filters=(4, 8)), projection_dim=8, seed=seed, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


@pytest.fixture
def images(rng):
    return rng.integers(0, 256, size=(32, 16, 16, 1), dtype="uint8")


class TestSimCLR(TestCase):
    def test_fit_on_arrays_and_datasets_and_predict(self, images):
        model = tiny_simclr()
        self.run_fit_test(model, images, expected_metrics=("loss", "contrast_accuracy"))
        assert model.predict(images, verbose=0).shape == (32, 8)

    def test_fit_accepts_images_with_labels(self, images):
        model = tiny_simclr()
        history = model.fit(images, np.zeros(len(images)), batch_size=16, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])

    def test_training_changes_backbone_and_head(self, images):
        model = tiny_simclr()
        before = [w.numpy().copy() for w in model.trainable_weights]
        model.fit(images, batch_size=16, epochs=1, verbose=0)
        changed = [not np.allclose(b, w.numpy()) for b, w in zip(before, model.trainable_weights)]
        assert all(changed), [w.path for w, c in zip(model.trainable_weights, changed) if not c]

    def test_config_round_trip(self):
        model = tiny_simclr(temperature=0.2)
        clone = self.run_config_test(model)
        assert clone.temperature == 0.2 and clone.projection_dim == 8
        assert isinstance(clone.augmenter, SimCLRAugmenter)

    def test_saving_round_trip_after_training(self, images, tmp_path):
        model = tiny_simclr()
        model.fit(images, batch_size=16, epochs=1, verbose=0)
        restored = self.run_model_saving_test(model, images, tmp_path)
        # The restored model trains on.
        restored.fit(images, batch_size=16, epochs=1, verbose=0)

    def test_evaluate_reports_the_same_metrics(self, images):
        model = tiny_simclr()
        result = model.evaluate(images, batch_size=16, verbose=0, return_dict=True)
        assert set(result) == {"loss", "contrast_accuracy"}

    def test_encoder_is_the_backbone(self):
        model = tiny_simclr()
        assert model.encoder is model.backbone

    def test_custom_augmenter_is_used(self, images):
        model = tiny_simclr(augmenter=keras.layers.Identity())
        # Identical views: the positive is the most similar other view.
        result = model.evaluate(images, batch_size=32, verbose=0, return_dict=True)
        assert result["contrast_accuracy"] == 1.0


class TestSimCLRBadInput:
    def test_wrong_rank(self, images):
        with pytest.raises(ValueError, match=r"add a channel axis"):
            tiny_simclr().fit(images[..., 0], batch_size=16, epochs=1, verbose=0)

    def test_wrong_dtype(self):
        with pytest.raises(ValueError, match="expects uint8 or float pixels"):
            tiny_simclr().predict(np.zeros((2, 16, 16, 1), bool), verbose=0)
        strings = tf.data.Dataset.from_tensor_slices(tf.fill((4, 16, 16, 1), "x")).batch(2)
        with pytest.raises(ValueError, match=r"expects uint8 or float pixels in \[0, 255\], got dtype string"):
            tiny_simclr().fit(strings, epochs=1, verbose=0)

    def test_shape_not_matching_backbone(self, rng):
        with pytest.raises(ValueError, match="to match its backbone"):
            tiny_simclr().fit(rng.integers(0, 255, (8, 20, 20, 1), dtype="uint8"), batch_size=8, verbose=0)

    def test_nan_pixels_fail_before_any_update(self, images):
        model = tiny_simclr()
        before = [w.numpy().copy() for w in model.weights]
        bad = images.astype("float32")
        bad[3, 2, 2, 0] = np.nan
        with pytest.raises(tf.errors.InvalidArgumentError, match="contain NaN or Inf"):
            model.fit(bad, batch_size=32, epochs=1, verbose=0)
        for b, w in zip(before, model.weights):
            np.testing.assert_array_equal(b, w.numpy())

    def test_non_finite_loss_fails_before_any_update(self, images):
        model = tiny_simclr()
        # An exploding backbone output makes the loss non-finite.
        model.backbone.get_layer("block1_conv").kernel.assign(
            np.full(model.backbone.get_layer("block1_conv").kernel.shape, 1e38, "float32")
        )
        before = [w.numpy().copy() for w in model.trainable_weights]
        with pytest.raises(tf.errors.InvalidArgumentError, match="loss is not finite"):
            model.fit(images, batch_size=32, epochs=1, verbose=0)
        for b, w in zip(before, model.trainable_weights):
            np.testing.assert_array_equal(b, w.numpy())

    def test_bad_backbone_and_temperature(self):
        with pytest.raises(ValueError, match="backbone must be a keras.Model"):
            SimCLR(keras.layers.Dense(3))
        with pytest.raises(ValueError, match="temperature must be positive"):
            SimCLR(ConvNet(input_shape=(16, 16, 1), filters=(4,)), temperature=-1)


@pytest.mark.slow
class TestSimCLRLearns(TestCase):
    def test_beats_random_init_on_digits(self):
        # Real data: the scikit-learn handwritten digits (8x8). Over three
        # seeds of this setting SimCLR's kNN error was 2.0-2.7% against
        # 5.3-6.7% for the same backbone at random initialisation.
        data, backbone, random_accuracy, augmenter = self.contrastive_digits_setup(seed=1)
        model = SimCLR(backbone, augmenter=augmenter, seed=1)
        model.compile(optimizer=keras.optimizers.Adam(2e-3))
        model.fit(data.x_train, batch_size=128, epochs=50, verbose=0)
        accuracy = self.representation_accuracy(model.encoder, data)
        print(f"kNN accuracy: SimCLR {accuracy:.3f}, random init {random_accuracy:.3f}")
        assert accuracy > random_accuracy + 0.02
        assert 1 - accuracy < 0.6 * (1 - random_accuracy)


class TestSimCLRMixedPrecision:
    def test_mixed_float16_updates_like_float32(self, images):
        # compile() wraps the optimizer in a LossScaleOptimizer under
        # mixed_float16; train_step must scale the loss, or updates come out
        # 32768x too small.
        deltas = {}
        for policy in ("float32", "mixed_float16"):
            keras.mixed_precision.set_global_policy(policy)
            try:
                model = tiny_simclr(augmenter=keras.layers.Identity(dtype="float32"))
                model.compile(optimizer=keras.optimizers.SGD(0.1))
                before = [w.numpy().copy() for w in model.trainable_weights]
                # 40 steps: the first few overflow in float16 and are skipped
                # while the dynamic loss scale comes down.
                model.fit(images, batch_size=4, epochs=5, verbose=0)
                deltas[policy] = np.mean(
                    [np.abs(w.numpy() - b).mean() for b, w in zip(before, model.trainable_weights)]
                )
                if policy == "mixed_float16":
                    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
                    assert model.backbone.compute_dtype == "float16"
            finally:
                keras.mixed_precision.set_global_policy("float32")
        assert 0.3 < deltas["mixed_float16"] / deltas["float32"] < 3.0, deltas


class TestPipelineViews:
    def test_views_made_in_the_pipeline_train_like_views_made_in_the_step(self, images):
        from keras_ssl.data import image_batches, with_pipeline_views

        model = tiny_simclr()
        batches = with_pipeline_views(image_batches(images, 16, seed=0), model.augmenter)
        (element,) = batches.take(1)
        assert element["views"].shape == (16, 2, 16, 16, 1)
        # Two different random views of each image, in pixel range.
        views = element["views"].numpy()
        assert 0 <= views.min() and views.max() <= 255 and np.abs(views[:, 0] - views[:, 1]).mean() > 1
        history = model.fit(batches, epochs=2, verbose=0).history
        assert all(np.isfinite(history["loss"])) and history["loss"][-1] < np.log(31) + 0.5

    def test_a_batch_of_views_is_the_views_and_a_wrong_count_fails_in_one_line(self, images):
        model = tiny_simclr()
        views = np.stack([images[:4], images[4:8]], axis=1).astype("float32")
        unpacked = model.unpack_images({"views": views})
        first, second = model.views(unpacked)
        np.testing.assert_array_equal(first.numpy(), views[:, 0])
        np.testing.assert_array_equal(second.numpy(), views[:, 1])
        with pytest.raises(ValueError, match="takes 2 views per image, got batches of 3"):
            model.views(tf.zeros((4, 3, 16, 16, 1)))
        with pytest.raises(ValueError, match="must be \\[batch, views, height, width, channels\\]"):
            model.unpack_images({"views": np.zeros((4, 16, 16, 1), "float32")})
