"""Backbone stages and the per-stage linear probe."""

import numpy as np
import pytest

from keras_ssl.backbones import ConvNet, ResNet, feature_map_model, stage_layer_names, stage_model
from keras_ssl.evaluation import stage_probe_accuracies


def test_stage_names_of_the_backbones():
    assert stage_layer_names(ConvNet((16, 16, 1), (4, 8, 16))) == ["block1_relu", "block2_relu", "block3_relu"]
    assert stage_layer_names(ResNet((16, 16, 1), depth=14, width=4)) == [
        "stem_relu",
        "stage1_block2_out",
        "stage2_block2_out",
        "stage3_block2_out",
    ]


def test_stage_and_feature_map_models_share_the_backbone_weights():
    backbone = ConvNet((16, 16, 1), (4, 8))
    images = np.random.default_rng(0).uniform(0, 255, (3, 16, 16, 1)).astype("float32")
    maps = feature_map_model(backbone)
    stages = stage_model(backbone)
    assert maps(images).shape == (3, 8, 8, 8)
    assert [tuple(s.shape) for s in stages(images)] == [(3, 16, 16, 4), (3, 8, 8, 8)]
    # The pooled backbone output is the mean of the last map: same weights.
    np.testing.assert_allclose(backbone(images), np.mean(maps(images), axis=(1, 2)), rtol=1e-5, atol=1e-6)
    kernel = backbone.get_layer("block1_conv").kernel
    kernel.assign(kernel * 0)
    assert float(np.abs(stages(images)[0]).max()) == 0.0


def test_backbone_without_pool_layer_fails_clearly():
    import keras

    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no global pooling layer named 'pool'"):
        feature_map_model(plain)
    with pytest.raises(ValueError, match="cannot find the stages"):
        stage_layer_names(plain)


def test_stage_probe_separates_a_signal_only_a_stage_sees():
    # Class 1 images are bright in the top half, class 0 in the bottom half:
    # linearly separable from any stage's pooled map.
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    images = rng.uniform(0, 60, (200, 16, 16, 1)).astype("float32")
    images[labels == 1, :8] += 150
    images[labels == 0, 8:] += 150
    accuracies = stage_probe_accuracies(
        ConvNet((16, 16, 1), (4, 8)), images[:150], labels[:150], images[150:], labels[150:], max_dim=64
    )
    assert list(accuracies) == ["block1_relu", "block2_relu"]
    assert min(accuracies.values()) > 0.95
    shuffled = stage_probe_accuracies(
        ConvNet((16, 16, 1), (4, 8)),
        images[:150],
        rng.permutation(labels[:150]),
        images[150:],
        labels[150:],
        max_dim=64,
    )
    assert max(shuffled.values()) < 0.8


def test_stage_probe_uses_an_mlps_dense_layers_unpooled():
    from keras_ssl.backbones import MLP

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    images = rng.uniform(0, 60, (200, 8, 8, 1)).astype("float32")
    images[labels == 1, :4] += 150
    mlp = MLP((8, 8, 1), units=(16, 4))
    assert stage_layer_names(mlp) == ["dense1_act", "dense2_act"]
    accuracies = stage_probe_accuracies(mlp, images[:150], labels[:150], images[150:], labels[150:], max_dim=8)
    assert list(accuracies) == ["dense1_act", "dense2_act"]
    assert accuracies["dense1_act"] > 0.9
