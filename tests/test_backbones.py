import keras
import numpy as np
import pytest

from keras_ssl.backbones import ConvNet, ResNet
from tests.test_case import TestCase


class TestBackbones(TestCase):
    @pytest.mark.parametrize(
        "backbone, shape, dim",
        [
            (lambda: ResNet(input_shape=(28, 28, 1), depth=8, width=4), (28, 28, 1), 16),
            (lambda: ResNet(input_shape=(32, 32, 3), depth=14, width=4), (32, 32, 3), 16),
            (lambda: ConvNet(input_shape=(28, 28, 1), filters=(4, 8, 12)), (28, 28, 1), 12),
        ],
    )
    def test_features_and_round_trip(self, backbone, shape, dim, tmp_path, rng):
        model = backbone()
        images = rng.integers(0, 256, size=(3, *shape), dtype="uint8")
        features = model(images)
        assert features.shape == (3, dim) and model.feature_dim == dim
        self.run_config_test(model)
        path = str(tmp_path / "backbone.keras")
        model.save(path)
        np.testing.assert_allclose(
            keras.saving.load_model(path).predict(images, verbose=0), model.predict(images, verbose=0)
        )

    def test_resnet_depth_sets_blocks(self):
        def count(depth):
            return sum("_conv1" in layer.name for layer in ResNet(input_shape=(28, 28, 1), depth=depth, width=2).layers)

        assert count(8) == 3 and count(20) == 9

    def test_scaling_is_inside(self):
        # uint8 pixels and the same pixels as float give the same features.
        model = ConvNet(input_shape=(8, 8, 1), filters=(3,))
        images = np.arange(64, dtype="uint8").reshape(1, 8, 8, 1)
        np.testing.assert_allclose(model(images), model(images.astype("float32")))
        assert model.get_layer("pixel_scale").scale == pytest.approx(1 / 255)

    def test_synchronized_batch_norm_option(self):
        model = ResNet(input_shape=(8, 8, 1), depth=8, width=2, synchronized_batch_norm=True)
        assert all(layer.synchronized for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization))

    @pytest.mark.parametrize(
        "kwargs, match",
        [
            ({"depth": 9}, "6n \\+ 2"),
            ({"width": 0}, "positive"),
            ({"input_shape": (28, 28)}, "height, width, channels"),
        ],
    )
    def test_bad_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            ResNet(**kwargs)


class TestImageNetResNet:
    # torchvision's resnet18 / resnet50 trainable parameters, less the
    # 1000-way classifier (513,000 / 2,049,000).
    @pytest.mark.parametrize("depth, features, parameters", [(18, 512, 11_176_512), (50, 2048, 23_508_032)])
    def test_he_et_al_architectures_on_raw_pixels(self, depth, features, parameters):
        from keras_ssl.backbones import ImageNetResNet

        backbone = ImageNetResNet(input_shape=(64, 64, 3), depth=depth)
        # He et al.'s ResNet-18 / ResNet-50 without the 1000-way classifier.
        trainable = sum(int(np.prod(w.shape)) for w in backbone.trainable_weights)
        assert backbone.output_shape == (None, features) and trainable == parameters
        x = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3)).astype("float32")
        # Scaling is inside: raw pixels and the same pixels scaled give different features.
        assert not np.allclose(backbone(x), backbone(x / 255.0), atol=1e-3)

    def test_any_size_from_32_grey_or_colour_and_a_round_trip(self, tmp_path):
        from keras_ssl.backbones import ImageNetResNet

        grey = ImageNetResNet(input_shape=(33, 47, 1), depth=18)
        assert grey(np.zeros((1, 33, 47, 1), "float32")).shape == (1, 512)
        path = str(tmp_path / "backbone.keras")
        grey.save(path)
        restored = keras.saving.load_model(path)
        x = np.random.default_rng(1).integers(0, 256, (2, 33, 47, 1)).astype("float32")
        np.testing.assert_allclose(restored(x), grey(x), atol=1e-5)

    def test_bad_arguments_fail_in_one_line(self):
        from keras_ssl.backbones import ImageNetResNet

        with pytest.raises(ValueError, match="depth must be 18 or 50"):
            ImageNetResNet(input_shape=(64, 64, 3), depth=34)
        with pytest.raises(ValueError, match="at least 32x32.*keras_ssl.backbones.ResNet"):
            ImageNetResNet(input_shape=(28, 28, 1))
