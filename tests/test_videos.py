"""Synthetic video clips with instance masks, frame folders, VideoClips checks, clip strips."""

import os

import numpy as np
import pytest
from PIL import Image

from keras_ssl.data import sources
from keras_ssl.data.videos import (
    VideoClips,
    _item_images,
    clip_strip,
    load_frame_folders,
    load_video_clips,
    make_video_clips,
)

SHAPE = dict(num_frames=4, size=32)


@pytest.fixture(scope="module")
def train():
    return make_video_clips(6, **SHAPE)


@pytest.fixture(scope="module")
def test_clips():
    return load_video_clips("test", num_clips=6, **SHAPE)


def _one_line(error):
    message = str(error.value)
    assert message and "\n" not in message, message
    return message


def _mean_colours(frame, mask, count):
    return np.stack([frame[mask == k].reshape(-1, 3).mean(0) for k in range(count + 1)])


class TestSyntheticClips:
    def test_shapes_dtypes_and_contiguous_labels(self, train):
        assert isinstance(train, VideoClips) and train.name == "video_clips:train"
        assert train.frames.shape == (6, 4, 32, 32, 3) and train.frames.dtype == np.uint8
        assert train.masks.shape == (6, 4, 32, 32) and train.masks.dtype == np.uint8
        assert (train.num_clips, train.num_frames, train.frame_shape) == (6, 4, (32, 32, 3))
        counts = train.num_objects
        assert counts.dtype == np.int64 and set(counts) <= {2, 3}
        for masks, count in zip(train.masks, counts):
            # Ids 0..K, every one of them (and the background) in the first frame.
            assert list(np.unique(masks)) == list(range(count + 1))
            assert list(np.unique(masks[0])) == list(range(count + 1))
        assert "\n" not in train.describe() and "6 clips of 4 frames" in train.describe()

    def test_every_object_is_visible_in_the_first_frame(self, train):
        for masks, count in zip(train.masks, train.num_objects):
            pixels = np.bincount(masks[0].ravel(), minlength=count + 1)
            assert pixels[1:].min() >= 4, pixels
            assert pixels[0] >= 0.1 * 32 * 32, pixels

    def test_masks_cover_colours_of_their_own(self, train, test_clips):
        # Each object's masked pixels differ in mean colour from the
        # background's and from every other object's: the masks sit on the
        # objects drawn in the frames.
        for clips in (train, test_clips):
            for frames, masks, count in zip(clips.frames, clips.masks, clips.num_objects):
                colours = _mean_colours(frames[0], masks[0], count)
                distance = np.linalg.norm(colours[:, None] - colours[None], axis=-1)
                assert distance[~np.eye(count + 1, dtype=bool)].min() > 20, colours.round()

    def test_objects_and_background_move(self, train):
        changes = []
        for frames, masks, count in zip(train.frames, train.masks, train.num_objects):
            shifts = []
            for k in range(1, count + 1):
                if (masks[-1] == k).any():  # not hidden at the end
                    first, last = (np.argwhere(m == k).mean(0) for m in (masks[0], masks[-1]))
                    shifts.append(np.linalg.norm(last - first))
            assert max(shifts) > 0.5, shifts
            # The background pans: where no object is in frames 0 and 1, the pixels change.
            background = (masks[0] == 0) & (masks[1] == 0)
            changes.append(np.abs(frames[1].astype(int) - frames[0])[background].mean())
        # Sub-pixel pans change smooth backgrounds (a cat's fur) little.
        assert min(changes) > 0.1 and np.mean(changes) > 1.0, changes

    def test_deterministic_and_seeded(self, train):
        again = make_video_clips(6, **SHAPE)
        np.testing.assert_array_equal(again.frames, train.frames)
        np.testing.assert_array_equal(again.masks, train.masks)
        # Each clip has its own seed: fewer clips are the first clips.
        fewer = make_video_clips(2, **SHAPE)
        np.testing.assert_array_equal(fewer.frames, train.frames[:2])
        other = make_video_clips(2, seed=1, **SHAPE)
        assert not np.array_equal(other.frames[:, 0], train.frames[:2, 0])

    def test_train_and_test_are_disjoint(self, train, test_clips):
        assert test_clips.name == "video_clips:test" and test_clips.num_clips == 6
        for a in train.frames[:, 0]:
            for b in test_clips.frames[:, 0]:
                assert not np.array_equal(a, b)
        assert "train clips" in train.source and "train items" in train.source and "train regions" in train.source
        assert "test clips" in test_clips.source and "test items" in test_clips.source
        assert "test regions" in test_clips.source

    def test_items_come_from_the_split(self, monkeypatch):
        from keras_ssl.data import ImageDataset

        train_items = np.full((3, 28, 28, 1), 200, np.uint8)
        test_items = np.full((2, 28, 28, 1), 100, np.uint8)
        fake = ImageDataset("fashion_mnist", train_items, np.zeros(3), test_items, np.zeros(2), ["a"], "fake")
        monkeypatch.setattr(sources, "load_fashion_mnist", lambda: fake)
        np.testing.assert_array_equal(_item_images("train")[0], train_items)
        np.testing.assert_array_equal(_item_images("test")[0], test_items)
        assert "Fashion-MNIST test items" in _item_images("test")[1]

    def test_digits_stand_in_for_a_missing_fashion_mnist(self, monkeypatch):
        def missing(*args, **kwargs):
            raise sources.DataSourceMissingError("Fashion-MNIST not found")

        monkeypatch.setattr(sources, "load_fashion_mnist", missing)
        clips = make_video_clips(2, num_frames=2, size=32, num_objects=1, split="test")
        assert clips.frames.shape == (2, 2, 32, 32, 3) and set(clips.num_objects) == {1}
        assert "digits test items" in clips.source and "dataset-fashion-mnist" in clips.source

    def test_more_objects_and_other_sizes(self):
        clips = make_video_clips(3, num_frames=3, size=48, num_objects=6, seed=2)
        assert clips.frames.shape == (3, 3, 48, 48, 3) and set(clips.num_objects) == {6}
        for masks in clips.masks:
            assert list(np.unique(masks[0])) == list(range(7))

    @pytest.mark.parametrize(
        "kwargs, match",
        [
            (dict(split="validation"), "unknown split"),
            (dict(num_frames=1), "num_frames >= 2"),
            (dict(size=8), "size >= 16"),
            (dict(num_objects=(3, 2)), "num_objects"),
            (dict(num_objects=9), "num_objects"),
        ],
    )
    def test_bad_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=match) as error:
            make_video_clips(2, **kwargs)
        _one_line(error)


class TestVideoClips:
    def test_validation_errors_are_one_line(self):
        frames = np.zeros((2, 3, 8, 8, 3), np.uint8)
        cases = [
            (dict(frames=frames.astype("float32")), "uint8 NumPy array \\[N, T, H, W, 3\\]"),
            (dict(frames=frames[..., 0]), "uint8 NumPy array \\[N, T, H, W, 3\\]"),
            (dict(frames=frames[..., :1]), "uint8 NumPy array \\[N, T, H, W, 3\\]"),
            (dict(frames=frames[:, :1]), "at least 2 frames"),
            (dict(frames=frames, masks=np.zeros((2, 3, 8, 9), np.uint8)), "masks must be uint8"),
            (dict(frames=frames, masks=np.zeros((2, 3, 8, 8), np.int32)), "masks must be uint8"),
        ]
        for kwargs, match in cases:
            with pytest.raises(ValueError, match=match) as error:
                VideoClips(name="clips", **kwargs)
            assert _one_line(error).startswith("VideoClips clips:")

    def test_without_masks(self):
        clips = VideoClips(name="clips", frames=np.zeros((2, 3, 8, 8, 3), np.uint8))
        assert clips.num_objects is None and "no masks" in clips.describe()


class TestClipStrip:
    def test_shapes_and_overlay(self, train):
        strip = clip_strip(train, 1)
        assert strip.shape == (32, 4 * 32, 3) and strip.dtype == np.uint8
        np.testing.assert_array_equal(strip[:, 32:64], train.frames[1, 1])
        both = clip_strip(train, 1, masks=True)
        assert both.shape == (64, 4 * 32, 3) and both.dtype == np.uint8
        np.testing.assert_array_equal(both[:32], strip)
        objects = train.masks[1, 0] > 0
        assert not np.array_equal(both[32:, :32][objects], train.frames[1, 0][objects])
        # A tracker's masks instead of the clip's own.
        predicted = np.zeros((4, 32, 32), np.int64)
        predicted[:, :8, :8] = 5
        overlay = clip_strip(train, 1, masks=predicted)[32:]
        assert not np.array_equal(overlay[:8, :8], overlay[8:16, :8])

    def test_errors(self, train):
        with pytest.raises(ValueError, match="no masks"):
            clip_strip(VideoClips(name="clips", frames=train.frames), 0, masks=True)
        with pytest.raises(ValueError, match="\\[T, H, W\\]"):
            clip_strip(train, 0, masks=np.zeros((3, 32, 32)))


def _write_clip(folder, frames, masks=None, mask_mode="L"):
    os.makedirs(folder)
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(os.path.join(folder, f"{t:05d}.png"))
    if masks is not None:
        os.makedirs(os.path.join(folder, "masks"))
        for t, mask in enumerate(masks):
            image = Image.fromarray(mask)
            if mask_mode == "P":
                image = image.convert("P")
                image.putpalette([v for i in range(256) for v in (i * 40 % 256, i * 90 % 256, i * 10 % 256)])
            image.save(os.path.join(folder, "masks", f"{t:05d}.png"))


@pytest.fixture
def frames_and_masks():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 3, 12, 16, 3), dtype=np.uint8)
    masks = rng.integers(0, 4, (2, 3, 12, 16), dtype=np.uint8)
    return frames, masks


class TestFrameFolders:
    def test_round_trip_with_grey_and_palette_masks(self, tmp_path, frames_and_masks):
        frames, masks = frames_and_masks
        _write_clip(tmp_path / "clips" / "a", frames[0], masks[0], "L")
        _write_clip(tmp_path / "clips" / "b", frames[1], masks[1], "P")
        (tmp_path / "clips" / "a" / "notes.txt").write_text("not a frame")
        clips = load_frame_folders(tmp_path / "clips")
        assert clips.name == "clips" and clips.source.endswith("clips")
        np.testing.assert_array_equal(clips.frames, frames)
        np.testing.assert_array_equal(clips.masks, masks)

    def test_without_masks_resized_and_trimmed(self, tmp_path, frames_and_masks):
        frames, masks = frames_and_masks
        _write_clip(tmp_path / "plain" / "a", frames[0])
        _write_clip(tmp_path / "plain" / "b", frames[1][:2])
        with pytest.raises(ValueError, match="has 2 frames but .* has 3: pass num_frames=") as error:
            load_frame_folders(tmp_path / "plain")
        _one_line(error)
        clips = load_frame_folders(tmp_path / "plain", num_frames=2)
        assert clips.masks is None
        np.testing.assert_array_equal(clips.frames, frames[:, :2])
        # Resizing: frames bilinear, masks nearest (ids stay ids).
        _write_clip(tmp_path / "sized" / "a", frames[0], masks[0])
        _write_clip(tmp_path / "sized" / "b", frames[1, :, :8, :8], masks[1, :, :8, :8])
        clips = load_frame_folders(tmp_path / "sized", size=(6, 10))
        assert clips.frames.shape == (2, 3, 6, 10, 3) and clips.masks.shape == (2, 3, 6, 10)
        assert set(np.unique(clips.masks)) <= set(np.unique(masks))

    def test_one_line_errors_name_the_clip(self, tmp_path, frames_and_masks):
        frames, masks = frames_and_masks
        _write_clip(tmp_path / "short" / "a", frames[0])
        _write_clip(tmp_path / "short" / "b", frames[1][:1])
        with pytest.raises(ValueError, match="at least 2") as error:
            load_frame_folders(tmp_path / "short")
        assert os.path.join("short", "b") in _one_line(error)

        _write_clip(tmp_path / "sizes" / "a", frames[0])
        _write_clip(tmp_path / "sizes" / "b", frames[1, :, :8])
        with pytest.raises(ValueError, match="one frame size") as error:
            load_frame_folders(tmp_path / "sizes")
        assert os.path.join("sizes", "b") in _one_line(error) and "size=" in str(error.value)

        _write_clip(tmp_path / "count" / "a", frames[0], masks[0, :2])
        with pytest.raises(ValueError, match="3 frames but 2 mask PNGs") as error:
            load_frame_folders(tmp_path / "count")
        assert os.path.join("count", "a") in _one_line(error)

        _write_clip(tmp_path / "mask_size" / "a", frames[0], masks[0, :, :6])
        with pytest.raises(ValueError, match="masks must have their frames' size") as error:
            load_frame_folders(tmp_path / "mask_size")
        assert os.path.join("mask_size", "a") in _one_line(error)

        _write_clip(tmp_path / "some" / "a", frames[0], masks[0])
        _write_clip(tmp_path / "some" / "b", frames[1])
        with pytest.raises(ValueError, match="masks for every clip or for none") as error:
            load_frame_folders(tmp_path / "some")
        assert os.path.join("some", "b") in _one_line(error)

        _write_clip(tmp_path / "broken" / "a", frames[0])
        (tmp_path / "broken" / "a" / "00009.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
        with pytest.raises(ValueError, match="cannot read") as error:
            load_frame_folders(tmp_path / "broken")
        assert "00009.jpg" in _one_line(error)

        os.makedirs(tmp_path / "empty")
        with pytest.raises(ValueError, match="no clip folders") as error:
            load_frame_folders(tmp_path / "empty")
        _one_line(error)
        with pytest.raises(FileNotFoundError, match="not a folder"):
            load_frame_folders(tmp_path / "missing")
