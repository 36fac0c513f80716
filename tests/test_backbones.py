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
