import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage
from skimage.color import rgb2lab

from keras_ssl.evaluation.tracking import (
    boundary_f_measure,
    copy_first_mask,
    evaluate_tracking,
    label_affinities,
    optical_flow_propagation,
    propagate_masks,
    raw_pixel_embed,
    region_similarity,
    tracking_table,
)


def moving_square_clip(rng, size=32, num_frames=6, step=2, square=8, sigma=0.0, textured_square=False):
    """A square moving `step` pixels down and right per frame over a static
    textured grey background (white noise, or smooth noise when `sigma`),
    and its masks (1 inside)."""

    def texture(shape, low, high):
        noise = rng.normal(size=shape)
        noise = ndimage.gaussian_filter(noise, sigma) if sigma else noise
        return low + (high - low) * (noise - noise.min()) / (noise.max() - noise.min())

    background = texture((size, size), 0, 120)
    patch = texture((square, square), 130, 255) if textured_square else None
    frames, masks = [], []
    for t in range(num_frames):
        frame = np.repeat(background[..., None], 3, axis=-1)
        mask = np.zeros((size, size), "int32")
        top, left = 8 + step * t, 6 + step * t
        frame[top : top + square, left : left + square] = (
            patch[..., None] if textured_square else np.array([220.0, 30.0, 30.0])
        )
        mask[top : top + square, left : left + square] = 1
        frames.append(frame.astype("uint8"))
        masks.append(mask)
    return np.stack(frames), np.stack(masks)


def position_embed(stride):
    """Features: a one-hot of each feature pixel's position, so each pixel
    attends only to its own position (identity affinities at a low
    temperature)."""

    def embed(frames):
        height, width = frames.shape[1] // stride, frames.shape[2] // stride
        one_hot = np.eye(height * width, dtype="float32").reshape(height, width, height * width)
        return tf.constant(np.repeat(one_hot[None], len(frames), axis=0))

    return embed


def numpy_affinities(reference, target, temperature, radius, top_k):
    """The affinity rows one target pixel at a time, with loops."""
    n, h, w, _ = reference.shape
    positions = [(y, x) for _ in range(n) for y in range(h) for x in range(w)]
    flat_reference = reference.reshape(n * h * w, -1).astype("float64")
    rows = []
    for j, f in enumerate(target.reshape(h * w, -1).astype("float64")):
        y, x = divmod(j, w)
        allowed = [
            i for i, (yi, xi) in enumerate(positions) if radius is None or max(abs(yi - y), abs(xi - x)) <= radius
        ]
        logits = {i: flat_reference[i] @ f / temperature for i in allowed}
        if top_k is not None:
            allowed = sorted(allowed, key=lambda i: -logits[i])[:top_k]
        row = np.zeros(n * h * w)
        for i in allowed:
            row[i] = np.exp(logits[i] - max(logits.values()))
        rows.append(row / row.sum())
    return np.array(rows)


class TestLabelAffinities:
    @pytest.mark.parametrize("radius, top_k", [(None, None), (1, None), (None, 5), (1, 4), (2, 100)])
    def test_matches_numpy_reference(self, rng, radius, top_k):
        reference = rng.normal(size=(2, 4, 5, 3)).astype("float32")
        target = rng.normal(size=(4, 5, 3)).astype("float32")
        weights = label_affinities(reference, target, temperature=0.7, radius=radius, top_k=top_k)
        assert weights.shape == (20, 40) and weights.dtype == np.float32
        np.testing.assert_allclose(weights, numpy_affinities(reference, target, 0.7, radius, top_k), atol=1e-6)

    def test_rows_sum_to_one_within_the_radius_and_top_k(self, rng):
        h, w, radius, top_k = 6, 7, 1, 4
        reference = rng.normal(size=(2, h, w, 8))
        weights = label_affinities(reference, rng.normal(size=(h, w, 8)), temperature=0.5, radius=radius, top_k=top_k)
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
        assert np.all(np.count_nonzero(weights, axis=1) <= top_k)
        rows, columns = np.divmod(np.arange(h * w), w)
        far = (np.abs(rows[:, None] - rows) > radius) | (np.abs(columns[:, None] - columns) > radius)
        assert np.all(weights[np.tile(far, (1, 2))] == 0)
        # Without top_k, every reference pixel in the window has weight.
        windowed = label_affinities(reference, rng.normal(size=(h, w, 8)), temperature=0.5, radius=radius)
        np.testing.assert_array_equal(windowed > 0, ~np.tile(far, (1, 2)))

    def test_single_reference_frame_may_drop_its_axis(self, rng):
        reference, target = rng.normal(size=(3, 3, 2)), rng.normal(size=(3, 3, 2))
        np.testing.assert_array_equal(
            label_affinities(reference, target, top_k=2), label_affinities(reference[None], target, top_k=2)
        )


class TestPropagateMasks:
    def test_identity_affinities_keep_the_first_mask_on_a_static_clip(self, rng):
        frames = np.repeat(rng.integers(0, 256, size=(1, 16, 24, 3), dtype="uint8"), 4, axis=0)
        first_mask = np.zeros((16, 24), "int32")
        first_mask[4:8], first_mask[8:12], first_mask[12:] = 2, 1, 3  # Bands aligned to the stride.
        masks = propagate_masks(position_embed(4), frames, first_mask, temperature=0.01)
        assert masks.shape == (4, 16, 24) and masks.dtype == np.int32
        for mask in masks:
            np.testing.assert_array_equal(mask, first_mask)

    def test_identity_affinities_keep_a_square_but_its_corner_pixels(self, rng):
        # Bilinear upsampling then argmax rounds each convex corner of a mask
        # by one pixel; identity propagation changes nothing else, in any frame.
        frames = np.repeat(rng.integers(0, 256, size=(1, 16, 16, 3), dtype="uint8"), 3, axis=0)
        first_mask = np.zeros((16, 16), "int32")
        first_mask[4:12, 4:12] = 1
        masks = propagate_masks(position_embed(4), frames, first_mask, temperature=0.01, num_reference=2)
        np.testing.assert_array_equal(masks[0], first_mask)
        for mask in masks[1:]:
            expected = first_mask.copy()
            expected[[4, 4, 11, 11], [4, 11, 4, 11]] = 0
            np.testing.assert_array_equal(mask, expected)

    def test_raw_pixel_attention_follows_a_moving_square(self, rng):
        frames, masks = moving_square_clip(rng)
        propagated = propagate_masks(lambda f: raw_pixel_embed(f, stride=2), frames, masks[0], radius=3)
        copied = copy_first_mask(frames, masks[0])
        assert region_similarity(propagated, masks) > 0.9
        assert region_similarity(propagated, masks) > region_similarity(copied, masks) + 0.5
        assert boundary_f_measure(propagated, masks) > boundary_f_measure(copied, masks) + 0.5

    def test_soft_labels_of_previous_frames_match_numpy_reference(self, rng):
        # At full resolution (features h x w = H x W) no resizing happens:
        # each frame's mask is the argmax of the affinity-weighted soft
        # labels of the previous two frames (frame 0: the one-hot truth).
        features = rng.normal(size=(4, 5, 6, 3)).astype("float32")
        frames = np.zeros((4, 5, 6, 3), "uint8")
        first_mask = rng.integers(0, 3, size=(5, 6)).astype("int32")
        masks = propagate_masks(lambda f: features[: len(f)], frames, first_mask, temperature=0.3, num_reference=2)
        soft = [np.eye(3)[first_mask].reshape(30, 3)]
        for t in range(1, 4):
            start = max(0, t - 2)
            weights = numpy_affinities(features[start:t], features[t], 0.3, None, None)
            soft.append(weights @ np.concatenate(soft[start:t]))
            np.testing.assert_array_equal(masks[t], soft[t].argmax(axis=1).reshape(5, 6))

    def test_batches_and_extra_label_channels_change_nothing(self, rng):
        frames, masks = moving_square_clip(rng, size=16, num_frames=4, square=6)
        calls = []

        def embed(batch):
            calls.append(len(batch))
            return raw_pixel_embed(batch, stride=2)

        whole = propagate_masks(embed, frames, masks[0], radius=2, top_k=5)
        batched = propagate_masks(embed, frames, masks[0], radius=2, top_k=5, batch_size=3)
        assert calls == [4, 3, 1]
        np.testing.assert_array_equal(whole, batched)
        # Extra label channels stay empty.
        np.testing.assert_array_equal(whole, propagate_masks(embed, frames, masks[0], radius=2, top_k=5, num_labels=4))


class TestRawPixelEmbed:
    def test_lab_on_a_sphere(self, rng):
        frames = rng.integers(0, 256, size=(2, 8, 12, 3), dtype="uint8")
        features = raw_pixel_embed(frames, stride=2)
        assert features.shape == (2, 4, 6, 4) and features.dtype == np.float32
        lab = rgb2lab(frames).reshape(2, 4, 2, 6, 2, 3).mean(axis=(2, 4)) / 10.0
        np.testing.assert_allclose(features[..., :3], lab, atol=1e-3)
        # Same norm everywhere: dot products are a negative squared colour distance.
        np.testing.assert_allclose(np.linalg.norm(features, axis=-1), 20.0, rtol=1e-5)


class TestOpticalFlowPropagation:
    def test_follows_a_translating_textured_square(self, rng):
        frames, masks = moving_square_clip(rng, num_frames=4, square=10, sigma=1.0, textured_square=True)
        flowed = optical_flow_propagation(frames, masks[0])
        assert flowed.shape == masks.shape and flowed.dtype == np.int32
        np.testing.assert_array_equal(flowed[0], masks[0])
        assert region_similarity(flowed, masks) > region_similarity(copy_first_mask(frames, masks[0]), masks) + 0.3

    def test_keeps_the_ids_of_the_first_mask(self, rng):
        frames = np.repeat(rng.integers(0, 256, size=(1, 16, 16, 3), dtype="uint8"), 2, axis=0)
        first_mask = np.zeros((16, 16), "int32")
        first_mask[2:8, 2:8], first_mask[9:14, 9:14] = 7, 3
        np.testing.assert_array_equal(optical_flow_propagation(frames, first_mask)[1], first_mask)


def square(top, left, height, width, size=8, label=1):
    mask = np.zeros((size, size), "int32")
    mask[top : top + height, left : left + width] = label
    return mask


class TestMetrics:
    def test_iou_of_a_half_covered_object_is_one_half(self):
        truth = np.stack([square(0, 0, 2, 2), square(0, 0, 2, 2)])
        predicted = np.stack([np.zeros((8, 8), "int32"), square(0, 0, 2, 4)])  # Frame 0 not scored.
        assert region_similarity(predicted, truth) == pytest.approx(0.5)

    def test_objects_are_averaged_over_their_frames_then_over_objects(self):
        both = square(4, 4, 3, 3, label=2)
        truth = np.stack([both, square(0, 0, 2, 2) + both, both])
        predicted = np.stack([both, square(0, 0, 2, 4) + both, both])
        # Object 1: IoU 1/2 in frame 1, absent from both masks in frame 2
        # (skipped); object 2: 1 and 1. (0.5 + 1) / 2, not (0.5 + 1 + 1) / 3.
        assert region_similarity(predicted, truth) == pytest.approx(0.75)
        assert region_similarity(predicted, truth, labels=[2]) == pytest.approx(1.0)

    def test_perfect_and_empty_predictions(self):
        truth = np.stack([square(2, 2, 4, 4), square(2, 3, 4, 4), square(3, 3, 4, 4)])
        assert region_similarity(truth, truth) == 1.0 and boundary_f_measure(truth, truth) == 1.0
        empty = np.zeros_like(truth)
        empty[0] = truth[0]
        assert region_similarity(empty, truth) == 0.0 and boundary_f_measure(empty, truth) == 0.0
        # An object predicted where there is none scores 0 too.
        assert (
            region_similarity(truth, empty, labels=[1]) == 0.0 and boundary_f_measure(truth, empty, labels=[1]) == 0.0
        )

    def test_boundary_f_of_a_square_shifted_by_one_pixel(self):
        truth = np.stack([square(2, 2, 4, 4), square(2, 2, 4, 4)])
        predicted = np.stack([square(2, 2, 4, 4), square(2, 3, 4, 4)])
        assert region_similarity(predicted, truth) == pytest.approx(12 / 20)
        # Rings of 12 pixels sharing 6 (the top and bottom rows' overlap).
        assert boundary_f_measure(predicted, truth, tolerance=0) == pytest.approx(0.5)
        # Every boundary pixel is 1 pixel from the other: matched at DAVIS'
        # tolerance (1 pixel at 8 x 8).
        assert boundary_f_measure(predicted, truth) == pytest.approx(1.0)

    def test_the_image_border_is_no_boundary(self):
        truth = np.stack([square(0, 0, 8, 4), square(0, 0, 8, 4)])  # Left half: one boundary column.
        predicted = np.stack([truth[0], square(0, 0, 8, 5)])
        assert boundary_f_measure(predicted, truth) == pytest.approx(1.0)  # 1 pixel apart.
        assert boundary_f_measure(predicted, truth, tolerance=0) == pytest.approx(0.0)


class TestEvaluateTracking:
    def test_means_over_clips_and_table(self, rng):
        clips = [moving_square_clip(rng, size=16, num_frames=3, square=6, step=step) for step in (0, 2)]
        frames, masks = [c[0] for c in clips], [c[1] for c in clips]
        results = evaluate_tracking(copy_first_mask, frames, masks, verbose=0)
        static = {"J": 1.0, "F": 1.0}
        moving = {"J": region_similarity(copy_first_mask(frames[1], masks[1][0]), masks[1])}
        moving["F"] = boundary_f_measure(copy_first_mask(frames[1], masks[1][0]), masks[1])
        assert results["per_clip"] == [static, moving]
        assert results["J"] == pytest.approx((1 + moving["J"]) / 2) and results["F"] == pytest.approx(
            (1 + moving["F"]) / 2
        )
        table = tracking_table({"copy first mask": results, "ours": {"J": 0.5, "F": 0.25}})
        assert table.splitlines() == [
            "| method | J | F |",
            "| --- | --- | --- |",
            f"| copy first mask | {results['J']:.3f} | {results['F']:.3f} |",
            "| ours | 0.500 | 0.250 |",
        ]


class TestBadInput:
    def test_one_frame(self, rng):
        frames = rng.integers(0, 256, size=(1, 8, 8, 3), dtype="uint8")
        for propagate in (copy_first_mask, optical_flow_propagation):
            with pytest.raises(ValueError, match="at least 2 frames"):
                propagate(frames, np.zeros((8, 8), "int32"))
        with pytest.raises(ValueError, match="at least 2 frames"):
            propagate_masks(raw_pixel_embed, frames, np.zeros((8, 8), "int32"))
        with pytest.raises(ValueError, match="at least 2 frames"):
            region_similarity(np.zeros((1, 8, 8), "int32"), np.zeros((1, 8, 8), "int32"))

    def test_first_mask_of_another_size(self, rng):
        frames = rng.integers(0, 256, size=(3, 8, 8, 3), dtype="uint8")
        for propagate in (copy_first_mask, optical_flow_propagation):
            with pytest.raises(ValueError, match=r"first_mask has shape \(8, 6\) but the frames are \(8, 8\)"):
                propagate(frames, np.zeros((8, 6), "int32"))
        with pytest.raises(ValueError, match="first_mask has shape"):
            propagate_masks(raw_pixel_embed, frames, np.zeros((4, 4), "int32"))

    def test_embed_of_the_wrong_number_of_frames(self, rng):
        frames = rng.integers(0, 256, size=(3, 8, 8, 3), dtype="uint8")
        with pytest.raises(ValueError, match=r"embed returned features of shape \(1, 2, 2, 4\) for 3 frames"):
            propagate_masks(lambda f: raw_pixel_embed(f[:1]), frames, np.zeros((8, 8), "int32"))
        with pytest.raises(ValueError, match="must map frames"):
            propagate_masks(lambda f: np.zeros((3, 4)), frames, np.zeros((8, 8), "int32"))

    def test_too_few_labels_and_bad_arguments(self, rng):
        frames = rng.integers(0, 256, size=(2, 8, 8, 3), dtype="uint8")
        with pytest.raises(ValueError, match="first_mask holds id 2 but num_labels is 2"):
            propagate_masks(raw_pixel_embed, frames, np.full((8, 8), 2), num_labels=2)
        with pytest.raises(ValueError, match="non-negative integer ids"):
            propagate_masks(raw_pixel_embed, frames, np.full((8, 8), 0.5))
        with pytest.raises(ValueError, match="temperature must be positive"):
            label_affinities(np.zeros((2, 2, 1)), np.zeros((2, 2, 1)), temperature=0)
        with pytest.raises(ValueError, match="top_k must be at least 1"):
            label_affinities(np.zeros((2, 2, 1)), np.zeros((2, 2, 1)), top_k=0)
        with pytest.raises(ValueError, match="do not match"):
            label_affinities(np.zeros((2, 2, 1)), np.zeros((2, 3, 1)))

    def test_masks_of_different_shapes(self, rng):
        with pytest.raises(ValueError, match=r"predicted masks \(3, 8, 8\) and true masks \(3, 8, 6\) differ"):
            region_similarity(np.zeros((3, 8, 8), "int32"), np.zeros((3, 8, 6), "int32"))
        with pytest.raises(ValueError, match="differ"):
            boundary_f_measure(np.zeros((2, 8, 8), "int32"), np.zeros((3, 8, 8), "int32"))
        frames = rng.integers(0, 256, size=(3, 8, 8, 3), dtype="uint8")
        with pytest.raises(ValueError, match=r"clip 0: masks \(3, 8, 6\) do not match frames"):
            evaluate_tracking(copy_first_mask, [frames], [np.zeros((3, 8, 6), "int32")], verbose=0)
        with pytest.raises(ValueError, match=r"propagate returned masks \(2, 8, 8\)"):
            evaluate_tracking(lambda f, m: np.zeros((2, 8, 8)), [frames], [np.zeros((3, 8, 8), "int32")], verbose=0)
        with pytest.raises(ValueError, match="2 clips of frames but 1 of masks"):
            evaluate_tracking(copy_first_mask, [frames, frames], [np.zeros((3, 8, 8), "int32")], verbose=0)


def test_raw_pixel_embed_without_colour_keeps_lightness_only():
    frames = np.random.default_rng(3).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    colour, grey = raw_pixel_embed(frames, stride=2), raw_pixel_embed(frames, stride=2, colour=False)
    assert grey.shape == colour.shape == (2, 4, 4, 4)
    np.testing.assert_allclose(grey[..., 0], colour[..., 0], rtol=1e-5)
    assert np.all(grey[..., 1:3] == 0) and np.any(np.abs(colour[..., 1:3]) > 0.1)
    # Still on the sphere: the attention is a kernel on lightness distance.
    np.testing.assert_allclose(np.linalg.norm(grey, axis=-1), np.linalg.norm(colour, axis=-1), rtol=1e-5)
