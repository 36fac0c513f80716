import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.augment import MaskingCorruption, SaltAndPepperCorruption
from keras_ssl.backbones import MLP, ConvNet
from keras_ssl.evaluation.image_grids import image_grid_size
from keras_ssl.losses import denoising_reconstruction_loss
from keras_ssl.methods import DenoisingAutoencoder, plot_denoising_grid
from tests.test_case import TestCase, pretext_stage_probes


def tiny_dae(seed=0, backbone=None, **kwargs):
    keras.utils.set_random_seed(seed)
    backbone = backbone or ConvNet(input_shape=(16, 16, 1), filters=(4, 8))
    model = DenoisingAutoencoder(backbone, seed=seed, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def build_for_strategy_test():
    """A tiny compiled DAE, its data and fit arguments (see tests/workers/fit_under_strategy.py)."""
    images = np.random.default_rng(0).integers(0, 256, size=(32, 16, 16, 1), dtype="uint8")
    return tiny_dae(noise="salt_and_pepper"), images, {"batch_size": 16}


@pytest.fixture
def images(rng):
    return rng.integers(0, 256, size=(32, 16, 16, 1), dtype="uint8")


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, "float64")))


def np_reconstruction_loss(targets, outputs, loss, corrupted=None, emphasis=(1.0, 1.0)):
    """Per-example loss in float64, written from the paper's formulas."""
    x = np.asarray(targets, "float64").reshape(len(targets), -1)
    a = np.asarray(outputs, "float64").reshape(len(outputs), -1)
    if loss == "cross_entropy":
        z = np_sigmoid(a)
        per = -(x * np.log(z) + (1 - x) * np.log(1 - z))
    else:
        per = (a - x) ** 2
    if corrupted is not None:
        c = np.asarray(corrupted, "float64").reshape(len(corrupted), -1)
        per = emphasis[0] * c * per + emphasis[1] * (1 - c) * per
    return per.mean(axis=1)


class TestReconstructionLoss:
    @pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
    def test_matches_numpy(self, rng, loss):
        targets = rng.uniform(0, 1, size=(4, 5, 5, 1)).astype("float32")
        outputs = rng.normal(0, 2, size=(4, 5, 5, 1)).astype("float32")
        np.testing.assert_allclose(
            denoising_reconstruction_loss(targets, outputs, loss),
            np_reconstruction_loss(targets, outputs, loss),
            rtol=1e-5,
        )

    @pytest.mark.parametrize("emphasis", [(1.0, 0.0), (1.0, 0.5), (2.0, 1.0)])
    def test_emphasis_matches_numpy(self, rng, emphasis):
        targets = rng.uniform(0, 1, size=(3, 20)).astype("float32")
        outputs = rng.normal(0, 2, size=(3, 20)).astype("float32")
        corrupted = (rng.uniform(size=(3, 20)) < 0.3).astype("float32")
        for loss in ("cross_entropy", "squared_error"):
            np.testing.assert_allclose(
                denoising_reconstruction_loss(targets, outputs, loss, corrupted, emphasis),
                np_reconstruction_loss(targets, outputs, loss, corrupted, emphasis),
                rtol=1e-5,
            )

    def test_full_emphasis_ignores_uncorrupted_components(self, rng):
        targets = rng.uniform(0, 1, size=(2, 10)).astype("float32")
        outputs = rng.normal(size=(2, 10)).astype("float32")
        corrupted = np.zeros((2, 10), "float32")
        corrupted[:, :3] = 1
        other = outputs.copy()
        other[:, 3:] += 5.0  # Only uncorrupted components change.
        a = denoising_reconstruction_loss(targets, outputs, "cross_entropy", corrupted, (1.0, 0.0))
        b = denoising_reconstruction_loss(targets, other, "cross_entropy", corrupted, (1.0, 0.0))
        np.testing.assert_allclose(a, b)

    def test_unknown_loss(self):
        with pytest.raises(ValueError, match="unknown reconstruction loss 'l1'"):
            denoising_reconstruction_loss(tf.zeros((1, 2)), tf.zeros((1, 2)), "l1")


class TestDenoisingAutoencoder(TestCase):
    # Masking and salt-and-pepper fit in the tests below and the strategy builder.
    @pytest.mark.parametrize("noise", [None, "gaussian"])
    def test_fit_on_arrays_and_datasets_and_predict(self, images, noise):
        model = tiny_dae(noise=noise)
        self.run_fit_test(model, images, expected_metrics=("loss", "reconstruction_mse"))
        assert model.predict(images, verbose=0).shape == (32, 8)

    def test_loss_is_against_the_clean_images(self, images):
        # Reference: the decoder's output on the images corrupted by a layer
        # with the model's seed (so the same mask), scored against the CLEAN
        # images with emphasis (1, 0.5). Scoring against the corrupted images,
        # or dropping the emphasis, changes the value.
        model = tiny_dae(noise="masking", noise_level=0.5, emphasis=(1.0, 0.5), seed=7)
        results = model.compute_losses(tf.constant(images, "float32"), training=False)
        corrupted, mask = MaskingCorruption(rate=0.5, seed=7).corrupt(images.astype("float32"))
        outputs = model.decode(corrupted).numpy()
        expected = np_reconstruction_loss(images / 255.0, outputs, "cross_entropy", mask.numpy(), (1.0, 0.5)).mean()
        np.testing.assert_allclose(float(results["loss"]), expected, rtol=1e-5)
        wrong = np_reconstruction_loss(corrupted.numpy() / 255.0, outputs, "cross_entropy", mask.numpy(), (1.0, 0.5))
        assert abs(wrong.mean() - expected) > 1e-3
        mse = np.mean((np_sigmoid(outputs) - images / 255.0) ** 2)
        np.testing.assert_allclose(float(results["reconstruction_mse"]), mse, rtol=1e-5)

    def test_plain_autoencoder_and_squared_error(self, images):
        model = tiny_dae(noise=None, loss="squared_error")
        results = model.compute_losses(tf.constant(images, "float32"), training=False)
        outputs = model.decode(tf.constant(images, "float32")).numpy()
        expected = np_reconstruction_loss(images / 255.0, outputs, "squared_error").mean()
        np.testing.assert_allclose(float(results["loss"]), expected, rtol=1e-5)
        np.testing.assert_array_equal(model.corrupt(images), images.astype("float32"))

    def test_reconstruct_and_corrupt(self, images):
        model = tiny_dae(noise="salt_and_pepper", noise_level=0.1)
        corrupted = model.corrupt(images).numpy()
        # round(0.1 * 256) pixels per image set to 0 or 255 (a few already were).
        assert 0.05 < np.mean(corrupted != images) <= 26 / 256
        reconstruction = model.reconstruct(corrupted).numpy()
        assert reconstruction.shape == images.shape
        assert reconstruction.min() >= 0 and reconstruction.max() <= 255

    def test_training_changes_backbone_and_decoder_and_lowers_the_loss(self, images):
        model = tiny_dae()
        before = [w.numpy().copy() for w in model.trainable_weights]
        history = model.fit(images, batch_size=8, epochs=5, verbose=0)
        changed = [not np.allclose(b, w.numpy()) for b, w in zip(before, model.trainable_weights)]
        assert all(changed), [w.path for w, c in zip(model.trainable_weights, changed) if not c]
        assert any("decoder" in w.path for w in model.trainable_weights)
        assert history.history["loss"][-1] < history.history["loss"][0]

    def test_decoder_shapes(self):
        # 28x28 with three blocks: 7x7 maps, two stride-2 transposed convs.
        model = DenoisingAutoencoder(ConvNet(input_shape=(28, 28, 1), filters=(8, 16, 32)))
        assert [layer.name for layer in model.decoder.layers] == ["decoder_up1", "decoder_up2", "decoder_out"]
        assert [layer.filters for layer in model.decoder.layers] == [16, 8, 1]
        assert model.decoder.output_shape == (None, 28, 28, 1)
        # 30x30 with four blocks: 3x3 maps, upsampled to 48 and resized.
        model = DenoisingAutoencoder(ConvNet(input_shape=(30, 30, 3), filters=(4, 4, 4, 4)), decoder_filters=(8,) * 4)
        assert model.decoder.output_shape == (None, 30, 30, 3)
        # An MLP: one Dense layer back to the pixels.
        model = tiny_dae(backbone=MLP(input_shape=(16, 16, 1), units=(32,)))
        assert model.decode(np.zeros((2, 16, 16, 1), "float32")).shape == (2, 16, 16, 1)

    def test_config_round_trip(self):
        model = tiny_dae(noise="gaussian", noise_level=0.1, loss="squared_error", decoder_filters=(6,))
        clone = self.run_config_test(model)
        assert clone.corruption.stddev == pytest.approx(25.5)
        assert clone.loss_type == "squared_error" and clone.decoder_filters == (6,)

    def test_saving_round_trip_after_training(self, images, tmp_path):
        model = tiny_dae(emphasis=(1.0, 0.5))
        model.fit(images, batch_size=16, epochs=1, verbose=0)
        restored = self.run_model_saving_test(model, images, tmp_path)
        np.testing.assert_allclose(restored.reconstruct(images[:4]), model.reconstruct(images[:4]), atol=1e-5)
        assert restored.emphasis == (1.0, 0.5)
        restored.fit(images, batch_size=16, epochs=1, verbose=0)

    def test_corruption_layer_as_noise_is_saved(self, images, tmp_path):
        model = tiny_dae(noise=SaltAndPepperCorruption(rate=0.2, seed=3))
        model.fit(images, batch_size=16, epochs=1, verbose=0)
        restored = self.run_model_saving_test(model, images, tmp_path)
        assert isinstance(restored.corruption, SaltAndPepperCorruption) and restored.corruption.rate == 0.2

    def test_evaluate_reports_the_same_metrics(self, images):
        result = tiny_dae().evaluate(images, batch_size=16, verbose=0, return_dict=True)
        assert set(result) == {"loss", "reconstruction_mse"}

    def test_exported_encoder_matches_predict(self, images, tmp_path):
        from export.saved_model import export_encoder

        model = tiny_dae()
        model.fit(images, batch_size=16, epochs=1, verbose=0)
        path = export_encoder(model, str(tmp_path / "serving"))
        loaded = tf.saved_model.load(path)
        embedding = loaded.signatures["serving_default"](images=tf.constant(images))["embedding"].numpy()
        np.testing.assert_allclose(embedding, model.encoder.predict(images.astype("float32"), verbose=0), atol=1e-5)

    def test_denoising_grid_png(self, images, tmp_path):
        model = tiny_dae()
        path = plot_denoising_grid(model, images[:5], str(tmp_path / "denoising.png"))
        from PIL import Image

        with Image.open(path) as png:
            # One clean row, then a corrupted and a reconstructed row per noise.
            assert png.size == image_grid_size(7, 5, row_titles=True)
        models = {"masking": model, "gaussian": tiny_dae(noise="gaussian")}
        path = plot_denoising_grid(models, images[:3], str(tmp_path / "two.png"), noises=("masking", "gaussian"))
        with Image.open(path) as png:
            assert png.size == image_grid_size(5, 3, row_titles=True)


class TestDenoisingAutoencoderBadInput:
    def test_bad_arguments(self):
        backbone = ConvNet(input_shape=(16, 16, 1), filters=(4, 8))
        with pytest.raises(ValueError, match="unknown noise 'speckle'"):
            DenoisingAutoencoder(backbone, noise="speckle")
        with pytest.raises(ValueError, match="unknown loss 'l1': use one of cross_entropy, squared_error"):
            DenoisingAutoencoder(backbone, loss="l1")
        with pytest.raises(ValueError, match="emphasis .* needs a noise that corrupts some components only"):
            DenoisingAutoencoder(backbone, noise="gaussian", emphasis=(1.0, 0.0))
        with pytest.raises(ValueError, match="emphasis must be"):
            DenoisingAutoencoder(backbone, emphasis=(0.0, 0.0))
        with pytest.raises(ValueError, match="decoder_filters needs 1 entries"):
            DenoisingAutoencoder(backbone, decoder_filters=(8, 8))
        with pytest.raises(ValueError, match="rate must be a fraction"):
            DenoisingAutoencoder(backbone, noise="masking", noise_level=2.0)

    def test_bad_images(self, images):
        with pytest.raises(ValueError, match=r"add a channel axis"):
            tiny_dae().fit(images[..., 0], batch_size=16, epochs=1, verbose=0)
        with pytest.raises(ValueError, match="to match its backbone"):
            tiny_dae().reconstruct(np.zeros((2, 20, 20, 1), "uint8"))


@pytest.mark.slow
class TestDenoisingAutoencoderLearns:
    def test_best_stage_probe_beats_random_init_on_fashion_mnist(self, fashion_mnist):
        # Masking noise 25%, batch 32, 1 epoch on 2000 images; ConvNet(16,
        # 32, 64), best stage, 256 features per stage, 2000 / 10000 probe
        # images. Measured: seed 0 0.8308 vs random init 0.8144, seed 1
        # 0.8346 vs 0.8259 (seed 1 stays 0.005-0.009 above random init for
        # every budget tried up to 3 epochs on 4000 images).
        trained, random, _ = pretext_stage_probes(
            lambda b: DenoisingAutoencoder(b, noise="masking", noise_level=0.25, seed=0),
            fashion_mnist,
            dict(batch_size=32, epochs=1),
            learning_rate=1e-3,
            pretrain_size=2000,
        )
        assert max(trained.values()) > max(random.values()) + 0.005
