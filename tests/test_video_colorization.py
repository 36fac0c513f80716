import keras
import numpy as np
import pytest
import skimage.color
import tensorflow as tf

from keras_ssl.backbones import ConvNet, feature_map_model
from keras_ssl.methods.video.video_colorization import (
    MIN_PROBABILITY,
    VideoColorization,
    copy_colours_loss,
    copy_labels,
)
from tests.test_case import TestCase, assert_same_step, np_softmax, one_step_on_one_and_two_replicas

# Four colours of distinct lightness: a grey frame tells them apart.
PALETTE = np.array([[200, 30, 30], [30, 150, 30], [60, 60, 230], [230, 200, 40]], "uint8")


def grid_centres():
    a, b = np.meshgrid(np.arange(-60, 61, 40.0), np.arange(-60, 61, 40.0), indexing="ij")
    return np.stack([a.ravel(), b.ravel()], -1).astype("float32")  # 16 centres


def tiny_embedding(synchronized_batch_norm=False):
    """A ConvNet(4, 8)'s last feature map: 16x16 grey frames to [8, 8, 8]."""
    backbone = ConvNet(input_shape=(16, 16, 1), filters=(4, 8), synchronized_batch_norm=synchronized_batch_norm)
    return feature_map_model(backbone, name="embedding")


def tiny_model(seed=0, compile=True, **kwargs):
    keras.utils.set_random_seed(seed)
    kwargs.setdefault("colour_centres", grid_centres())
    model = VideoColorization(tiny_embedding(), seed=seed, **kwargs)
    if compile:
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def random_clips(rng, num_clips=8, frames=4, size=16):
    return rng.integers(0, 256, (num_clips, frames, size, size, 3), dtype="uint8")


def moving_texture_clips(num_clips=64, frames=4, size=16, block=2, seed=0):
    """Clips of a random texture of `PALETTE` colours in `block`-pixel
    squares, moving by whole squares (one per frame at most, per axis,
    wrapping around): each pixel's colour is a function of its grey level
    and every colour square is one pixel of a stride-2 feature map."""
    rng = np.random.default_rng(seed)
    cells = size // block
    clips = np.zeros((num_clips, frames, size, size, 3), "uint8")
    for clip in range(num_clips):
        texture = rng.integers(0, len(PALETTE), (cells, cells))
        velocity = rng.integers(-1, 2, 2)
        for t in range(frames):
            moved = np.roll(texture, tuple(velocity * t), axis=(0, 1))
            clips[clip, t] = PALETTE[np.kron(moved, np.ones((block, block), int))]
    return clips


def np_copy_colours_loss(reference, reference_ids, target, target_ids, num_colours, temperature=1.0):
    """The paper's loss in float64: the masked logsumexp over the reference
    pixels of the target's colour minus the logsumexp over all of them,
    the probability clipped at MIN_PROBABILITY; and the copied colours."""
    reference, target = np.asarray(reference, "float64"), np.asarray(target, "float64")
    logits = np.einsum("bjd,bid->bji", target, reference) / temperature
    shift = logits.max(-1, keepdims=True)
    log_total = np.log(np.exp(logits - shift).sum(-1)) + shift[..., 0]
    same = reference_ids[:, None, :] == target_ids[:, :, None]
    with np.errstate(divide="ignore"):
        masked = np.where(same, logits, -np.inf)
        log_same = np.log(np.exp(masked - shift).sum(-1)) + shift[..., 0]  # -inf where no pixel has the colour
    loss = -np.maximum(log_same - log_total, np.log(MIN_PROBABILITY))
    attention = np_softmax(logits)
    return loss, attention @ np.eye(num_colours)[reference_ids]


def np_colour_targets(frames, centres, stride):
    """Cluster ids of frames `[N, H, W, 3]`: scikit-image's ab averaged over
    `stride` x `stride` squares, then the nearest centre."""
    ab = skimage.color.rgb2lab(frames)[..., 1:]
    n, h, w, _ = ab.shape
    ab = ab.reshape(n, h // stride, stride, w // stride, stride, 2).mean(axis=(2, 4))
    return np.argmin(((ab[..., None, :] - centres) ** 2).sum(-1), axis=-1)


class TestCopyColoursLoss:
    def test_matches_numpy_in_float64(self, rng):
        reference = rng.normal(size=(2, 12, 3))
        target = rng.normal(size=(2, 5, 3))
        reference_ids = rng.integers(0, 3, (2, 12))  # Colour 3 is in no reference frame...
        target_ids = rng.integers(0, 4, (2, 5))
        target_ids[0, 0] = 3  # ... but in a target pixel.
        for temperature in (1.0, 0.4):
            loss, probabilities = copy_colours_loss(
                tf.constant(reference, "float32"),
                tf.one_hot(reference_ids, 4),
                tf.constant(target, "float32"),
                tf.constant(target_ids, "int32"),
                temperature,
            )
            expected_loss, expected_probabilities = np_copy_colours_loss(
                reference, reference_ids, target, target_ids, 4, temperature
            )
            np.testing.assert_allclose(loss.numpy(), expected_loss, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(probabilities.numpy(), expected_probabilities, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(probabilities.numpy().sum(-1), 1.0, atol=1e-5)
            # The absent colour costs exactly -log(1e-6).
            np.testing.assert_allclose(loss.numpy()[0, 0], -np.log(MIN_PROBABILITY), rtol=1e-6)

    def test_large_logits_stay_finite_and_exact(self, rng):
        # Logits of several thousand: a naive exp overflows, the shifted
        # logsumexp does not, and gradients stay finite (absent colour too).
        reference = tf.constant(rng.normal(size=(1, 10, 4)) * 40, "float32")
        target = tf.constant(rng.normal(size=(1, 6, 4)) * 40, "float32")
        reference_ids = rng.integers(0, 2, (1, 10))
        target_ids = np.array([[0, 1, 2, 0, 1, 2]])
        with tf.GradientTape() as tape:
            tape.watch([reference, target])
            loss, _ = copy_colours_loss(reference, tf.one_hot(reference_ids, 3), target, target_ids)
            total = tf.reduce_sum(loss)
        gradients = tape.gradient(total, [reference, target])
        expected, _ = np_copy_colours_loss(reference.numpy(), reference_ids, target.numpy(), target_ids, 3)
        np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-4, atol=1e-3)
        assert all(np.all(np.isfinite(g.numpy())) for g in gradients)

    def test_gradient_matches_finite_differences(self, rng):
        reference = rng.normal(size=(1, 6, 2))
        target = rng.normal(size=(1, 3, 2))
        reference_ids = np.array([[0, 1, 2, 0, 1, 2]])
        target_ids = np.array([[0, 2, 1]])
        variable = tf.constant(target, "float32")
        with tf.GradientTape() as tape:
            tape.watch(variable)
            loss, _ = copy_colours_loss(
                tf.constant(reference, "float32"), tf.one_hot(reference_ids, 3), variable, target_ids
            )
            total = tf.reduce_sum(loss)
        gradient = tape.gradient(total, variable).numpy()
        numeric = np.zeros_like(target)
        for index in np.ndindex(target.shape):
            step = np.zeros_like(target)
            step[index] = 1e-6
            plus = np_copy_colours_loss(reference, reference_ids, target + step, target_ids, 3)[0].sum()
            minus = np_copy_colours_loss(reference, reference_ids, target - step, target_ids, 3)[0].sum()
            numeric[index] = (plus - minus) / 2e-6
        np.testing.assert_allclose(gradient, numeric, rtol=1e-4, atol=1e-5)

    def test_copy_labels_is_the_attention_weighted_sum(self, rng):
        reference, target = rng.normal(size=(2, 7, 3)), rng.normal(size=(2, 4, 3))
        labels = rng.dirichlet(np.ones(5), size=(2, 7))  # Soft labels propagate as well.
        copied = copy_labels(tf.constant(reference, "float32"), labels, tf.constant(target, "float32"), 0.5)
        expected = np_softmax(np.einsum("bjd,bid->bji", target, reference) / 0.5) @ labels
        np.testing.assert_allclose(copied.numpy(), expected, rtol=1e-5, atol=1e-6)


class TestVideoColorization(TestCase):
    @pytest.mark.parametrize("frames, num_reference", [(5, 3), (4, 3), (2, 3), (4, 1)])
    def test_loss_matches_numpy_over_the_windows(self, rng, frames, num_reference):
        # Every frame t >= r is a target of the r = min(num_reference, T - 1)
        # frames before it; the loss averages all target pixels.
        model = tiny_model(num_reference=num_reference, temperature=0.7)
        clips = random_clips(rng, num_clips=3, frames=frames)
        embeddings = model.embed(clips).numpy().reshape(3, frames, 64, -1)
        ids = model.colour_targets(clips).numpy().reshape(3, frames, 64)
        r = min(num_reference, frames - 1)
        losses, hits = [], []
        for t in range(r, frames):
            loss, probabilities = np_copy_colours_loss(
                embeddings[:, t - r : t].reshape(3, r * 64, -1),
                ids[:, t - r : t].reshape(3, r * 64),
                embeddings[:, t],
                ids[:, t],
                16,
                temperature=0.7,
            )
            losses.append(loss)
            hits.append(probabilities.argmax(-1) == ids[:, t])
        results = model.compute_losses(tf.constant(clips, "float32"), training=False)
        np.testing.assert_allclose(float(results["loss"]), np.mean(losses), rtol=1e-5)
        # The argmax may flip on a float32 near-tie: compare at one pixel's weight.
        assert abs(float(results["accuracy"]) - np.mean(hits)) <= 1.0 / np.size(hits) + 1e-6

    def test_colour_targets_are_nearest_centres_of_area_averaged_ab(self, rng):
        model = tiny_model()
        clips = random_clips(rng, num_clips=2, frames=3)
        ids = model.colour_targets(clips).numpy()
        assert ids.shape == (2, 3, 8, 8) and ids.dtype == np.int32
        expected = np_colour_targets(clips.reshape(-1, 16, 16, 3), grid_centres(), stride=2).reshape(2, 3, 8, 8)
        assert np.mean(ids == expected) > 0.99  # float32 Lab vs scikit-image's float64 at centre-distance ties

    def test_embed_takes_any_leading_axes(self, rng):
        model = tiny_model()
        clips = random_clips(rng, num_clips=2, frames=3)
        maps = model.embed(clips).numpy()
        assert maps.shape == (2, 3, 8, 8, 8)
        np.testing.assert_allclose(model.embed(clips[1, 2]).numpy(), maps[1, 2], atol=1e-5)
        np.testing.assert_allclose(model.embed(clips[0]).numpy(), maps[0], atol=1e-5)
        np.testing.assert_allclose(model.predict(clips, verbose=0), maps, atol=1e-5)
        assert model.encoder is model.embedding

    def test_colourise_copies_a_frame_onto_itself(self, rng):
        # An embedding that is one-hot per pixel position (a feature map at
        # full resolution): at a low temperature each pixel points to
        # itself, so a frame colourised from itself gets its own clusters.
        positions = np.eye(64, dtype="float32").reshape(8, 8, 64)
        inputs = keras.Input((8, 8, 1))
        outputs = keras.layers.Lambda(lambda x: keras.ops.zeros_like(x) + positions)(inputs)
        model = VideoColorization(keras.Model(inputs, outputs), colour_centres=grid_centres())
        frames = rng.integers(0, 256, (3, 8, 8, 3), dtype="uint8")
        colours = model.colourise(frames, frames, temperature=0.05).numpy()
        assert colours.shape == (3, 8, 8, 16)
        np.testing.assert_allclose(colours.sum(-1), 1.0, atol=1e-5)
        np.testing.assert_array_equal(colours.argmax(-1), model.colour_targets(frames).numpy())
        assert colours.max(-1).min() > 0.99
        # At T = 1 a pixel's own weight is only e / (e + 63): the copy is a
        # blur of the whole frame's colours.
        assert model.colourise(frames, frames).numpy().max(-1).max() < 0.5

    def test_colourise_from_several_references(self, rng):
        # Every pixel of the 3 references is a candidate: the attention over
        # their embeddings times their one-hot clusters.
        model = tiny_model()
        clips = random_clips(rng, num_clips=2, frames=4)
        colours = model.colourise(clips[:, :3], clips[:, 3], temperature=0.5).numpy()
        assert colours.shape == (2, 8, 8, 16)
        reference = model.embed(clips[:, :3]).numpy().reshape(2, 3 * 64, -1)
        target = model.embed(clips[:, 3]).numpy().reshape(2, 64, -1)
        ids = model.colour_targets(clips[:, :3]).numpy().reshape(2, 3 * 64)
        expected = np_softmax(np.einsum("bjd,bid->bji", target, reference) / 0.5) @ np.eye(16)[ids]
        np.testing.assert_allclose(colours.reshape(2, 64, 16), expected, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(colours.sum(-1), 1.0, atol=1e-5)
        # The model's temperature by default.
        np.testing.assert_allclose(
            model.colourise(clips[:, :3], clips[:, 3]).numpy(),
            model.colourise(clips[:, :3], clips[:, 3], temperature=1.0).numpy(),
        )

    def test_fit_on_arrays_and_datasets_with_labels(self, rng):
        model = tiny_model()
        clips = random_clips(rng)
        before = [w.numpy().copy() for w in model.trainable_weights]
        history = model.fit(clips, batch_size=4, epochs=1, verbose=0)
        assert set(history.history) == {"loss", "accuracy"} and np.isfinite(history.history["loss"][-1])
        assert all(not np.allclose(b, w.numpy()) for b, w in zip(before, model.trainable_weights))
        labels = np.zeros(len(clips), "int32")
        dataset = tf.data.Dataset.from_tensor_slices((clips, labels)).batch(4)
        history = model.fit(dataset, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][-1])
        assert np.isfinite(model.evaluate(clips, batch_size=4, verbose=0, return_dict=True)["loss"])

    def test_config_round_trip(self):
        model = tiny_model(num_reference=2, temperature=0.5)
        clone = self.run_config_test(model)
        assert clone.num_reference == 2 and clone.temperature == 0.5
        np.testing.assert_array_equal(clone.colour_centres, grid_centres())

    def test_saving_round_trip_after_training(self, rng, tmp_path):
        model = tiny_model()
        clips = random_clips(rng)
        model.fit(clips, batch_size=4, epochs=1, verbose=0)
        restored = self.run_model_saving_test(model, clips, tmp_path)
        np.testing.assert_array_equal(restored.embed(clips).numpy(), model.embed(clips).numpy())
        np.testing.assert_array_equal(restored.colour_centres, model.colour_centres)
        np.testing.assert_array_equal(
            restored.colourise(clips[:, :3], clips[:, 3]).numpy(), model.colourise(clips[:, :3], clips[:, 3]).numpy()
        )
        restored.fit(clips, batch_size=4, epochs=1, verbose=0)

    def test_arguments_from_data(self, rng):
        clips = random_clips(rng, num_clips=4)
        arguments = VideoColorization.arguments_from_data(clips)
        centres = np.asarray(arguments["colour_centres"])
        assert set(arguments) == {"colour_centres"} and centres.shape == (16, 2)
        # Inside the ab range of sRGB colours (a in [-86, 98], b in [-108, 95]).
        assert np.all(centres[:, 0] > -87) and np.all(centres[:, 0] < 99)
        assert np.all(centres[:, 1] > -108) and np.all(centres[:, 1] < 95)
        assert len(np.unique(centres, axis=0)) == 16
        np.testing.assert_array_equal(VideoColorization.arguments_from_data(clips)["colour_centres"], centres)
        model = VideoColorization(tiny_embedding(), **VideoColorization.arguments_from_data(clips[:, 0], 8))
        assert model.num_colours == 8

    def test_learns_to_copy_colours_of_moving_textures(self):
        # Colours are a function of the grey texture, which moves between
        # frames: 40 steps of Adam(1e-2) cut the loss by more than half
        # (measured: 1.36 -> 0.53, evaluated in inference mode).
        clips = moving_texture_clips()
        keras.utils.set_random_seed(0)
        embedding = feature_map_model(ConvNet(input_shape=(16, 16, 1), filters=(8, 16)))
        model = VideoColorization(embedding, **VideoColorization.arguments_from_data(clips, num_colours=4))
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        before = model.evaluate(clips, batch_size=16, verbose=0, return_dict=True)
        model.fit(clips, batch_size=16, epochs=10, verbose=0)
        after = model.evaluate(clips, batch_size=16, verbose=0, return_dict=True)
        assert int(model.optimizer.iterations) == 40
        assert after["loss"] < 0.8 * before["loss"], (before, after)
        assert after["accuracy"] > before["accuracy"] + 0.2, (before, after)

    def test_trains_under_xla(self, rng):
        model = tiny_model(compile=False)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
        assert model.jit_compile is True
        history = model.fit(random_clips(rng), batch_size=4, epochs=1, verbose=0)
        assert model.jit_compile is True
        assert int(model.optimizer.iterations) == 2 and np.isfinite(history.history["loss"][-1])

    def test_trains_in_mixed_bfloat16(self, rng):
        # Issue 19's bfloat16 check for this (video) method: the embedding
        # computes in bfloat16, the loss stays finite and float32.
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        try:
            model = tiny_model()
            history = model.fit(random_clips(rng), batch_size=4, epochs=1, verbose=0)
            assert model.embedding.compute_dtype == "bfloat16"
        finally:
            keras.mixed_precision.set_global_policy("float32")
        assert int(model.optimizer.iterations) == 2 and np.isfinite(history.history["loss"][-1])


class TestVideoColorizationBadInput:
    def fit_error(self, data, **kwargs):
        with pytest.raises(ValueError) as error:
            tiny_model(**kwargs).fit(data, batch_size=2, epochs=1, verbose=0)
        message = str(error.value)
        assert "\n" not in message, message
        return message

    def test_clips_of_one_frame(self, rng):
        message = self.fit_error(random_clips(rng, num_clips=4, frames=1))
        assert "at least 2 frames" in message and "longer clips" in message

    def test_frames_instead_of_clips(self, rng):
        message = self.fit_error(rng.integers(0, 256, (4, 16, 16, 3), dtype="uint8"))
        assert "[batch, frames, height, width, 3]" in message and "stack consecutive frames" in message

    def test_grey_clips(self, rng):
        message = self.fit_error(rng.integers(0, 256, (4, 4, 16, 16, 1), dtype="uint8"))
        assert "3 channels" in message and "colour clips" in message

    def test_wrong_frame_size(self, rng):
        message = self.fit_error(random_clips(rng, num_clips=4, size=20))
        assert "16x16 to match its embedding" in message and "input_shape=(20, 20, 1)" in message

    @pytest.mark.parametrize("centres", [np.zeros((16, 3)), np.zeros(16), np.zeros((1, 2)), None])
    def test_colour_centres_not_k_by_2(self, centres):
        with pytest.raises(ValueError, match=r"colour_centres must be an array \[K, 2\].*arguments_from_data"):
            VideoColorization(tiny_embedding(), colour_centres=centres)

    def test_colour_centres_not_finite(self):
        with pytest.raises(ValueError, match="NaN or Inf"):
            VideoColorization(tiny_embedding(), colour_centres=np.full((4, 2), np.nan))

    def test_bad_embedding_and_arguments(self):
        backbone = ConvNet(input_shape=(16, 16, 1), filters=(4,))
        with pytest.raises(ValueError, match="feature_map_model"):
            VideoColorization(backbone, colour_centres=grid_centres())
        with pytest.raises(ValueError, match=r"grey frames of a fixed size \[H, W, 1\]"):
            VideoColorization(
                feature_map_model(ConvNet(input_shape=(16, 16, 3), filters=(4,))), colour_centres=grid_centres()
            )
        with pytest.raises(ValueError, match="must be a keras.Model"):
            VideoColorization(keras.layers.Conv2D(4, 1), colour_centres=grid_centres())
        with pytest.raises(ValueError, match="num_reference must be a positive int"):
            VideoColorization(tiny_embedding(), colour_centres=grid_centres(), num_reference=0)
        with pytest.raises(ValueError, match="temperature must be positive"):
            VideoColorization(tiny_embedding(), colour_centres=grid_centres(), temperature=0.0)
        with pytest.raises(ValueError, match=r"RGB frames \[\.\.\., H, W, 3\]"):
            VideoColorization.arguments_from_data(np.zeros((2, 4, 16, 16, 1), "uint8"))


def build_for_step_test():
    """tests/workers/one_step.py: batch norm synchronised over replicas, one
    global batch of 4 float clips of 4 frames (the paper's 3 + 1)."""
    model = VideoColorization(tiny_embedding(synchronized_batch_norm=True), colour_centres=grid_centres(), seed=0)
    clips = random_clips(np.random.default_rng(0), num_clips=4).astype("float32")
    return model, clips, None


def build_for_strategy_test():
    """tests/workers/fit_under_strategy.py: a tiny compiled model, 8 clips of
    5 frames (two target windows each) and the fit arguments."""
    model = tiny_model()
    return model, random_clips(np.random.default_rng(0), frames=5), {"batch_size": 4}


@pytest.mark.slow
@pytest.mark.subprocess
def test_one_step_on_two_replicas_equals_one_replica(tmp_path):
    # The same global batch and starting weights: the loss is the mean over
    # each replica's target pixels divided by the replicas, batch norm is
    # synchronised, so the loss and every weight after one SGD step match.
    one, two = one_step_on_one_and_two_replicas("tests.test_video_colorization:build_for_step_test", tmp_path)
    assert_same_step(one, two)
    for i, name in enumerate(one["names"]):
        if "moving" not in name:
            assert not np.array_equal(one[f"final_{i}"], one[f"init_{i}"]), f"{name} did not move"
