import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.augment import RandomApply, RandomResizedCrop, SimCLRAugmenter


def test_crop_boxes_lie_inside_and_cover_the_stated_area():
    crop = RandomResizedCrop(28, 28, scale=(0.3, 0.6), ratio=(1.0, 1.0), seed=0)
    boxes = crop.crop_boxes(2000).numpy()
    assert boxes.min() >= 0 and boxes.max() <= 1 + 1e-6
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    assert area.min() >= 0.3 - 1e-5 and area.max() <= 0.6 + 1e-5
    assert abs(area.mean() - 0.45) < 0.01


def test_crop_of_a_gradient_image_keeps_order_and_zooms():
    ramp = np.tile(np.arange(16, dtype="float32")[None, :, None], (16, 1, 1))[None]
    crop = RandomResizedCrop(16, 16, scale=(0.25, 0.25), ratio=(1.0, 1.0), seed=3)
    out = crop(ramp, training=True).numpy()[0, 0, :, 0]
    assert np.all(np.diff(out) >= 0)  # still a left-to-right ramp
    assert out[-1] - out[0] < 15  # a zoomed-in part of it
    np.testing.assert_allclose(crop(ramp, training=False), ramp)


def test_random_apply_rate_is_per_image():
    layer = RandomApply(keras.layers.Lambda(lambda x: x + 1.0), rate=0.3, seed=0)
    out = layer(np.zeros((4000, 1, 1, 1), "float32"), training=True).numpy()
    assert abs(out.mean() - 0.3) < 0.03
    assert set(np.unique(out)) == {0.0, 1.0}


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
def test_simclr_views_differ_stay_in_range_and_work_in_tf_data(shape, rng):
    augmenter = SimCLRAugmenter(shape, seed=0, blur_rate=0.5)
    images = rng.integers(0, 256, size=(8, *shape)).astype("float32")
    view1, view2 = augmenter(images, training=True), augmenter(images, training=True)
    assert view1.shape == images.shape
    assert float(tf.reduce_min(view1)) >= 0 and float(tf.reduce_max(view1)) <= 255
    assert not np.allclose(view1, view2)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(4).map(lambda x: augmenter(x, training=True))
    assert next(iter(dataset)).shape == (4, *shape)
    np.testing.assert_array_equal(augmenter(images, training=False), images)


def test_same_seed_same_views(rng):
    images = rng.integers(0, 256, size=(4, 28, 28, 1)).astype("float32")
    a = SimCLRAugmenter((28, 28, 1), seed=7)(images, training=True)
    b = SimCLRAugmenter((28, 28, 1), seed=7)(images, training=True)
    np.testing.assert_allclose(a, b)


def test_config_round_trip():
    augmenter = SimCLRAugmenter((32, 32, 3), crop_scale=(0.3, 1.0), jitter_strength=1.0, seed=1)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(augmenter))
    assert clone.get_config() == augmenter.get_config()


def test_bad_arguments():
    with pytest.raises(ValueError, match="image_shape"):
        SimCLRAugmenter((28, 28, 2))
    with pytest.raises(ValueError, match="scale"):
        RandomResizedCrop(8, 8, scale=(0.5, 0.1))
    with pytest.raises(ValueError, match="probability"):
        RandomApply(keras.layers.Identity(), rate=1.5)
