"""Video clips with ground-truth instance masks, offline: synthetic clips made
from Fashion-MNIST items and the photos bundled with scikit-image and
scikit-learn, and a user's own clips stored as folders of frames.

They are made for tracking by colourisation: Vondrick, Shrivastava, Fathi,
Guadarrama, Murphy, "Tracking Emerges by Colorizing Videos" (ECCV 2018)
learn to colour a grey frame by pointing to pixels of a coloured reference
frame; the same pointers then carry the first frame's instance masks through
the clip, and the ground-truth masks of the later frames score the result.

In a synthetic clip a photo crop larger than the frame pans at a constant
velocity (the background moves too), and on it K objects, each a Fashion-MNIST
item tinted in its own saturated hue or a photo crop cut to an ellipse, move
with their own velocities (bouncing off the frame's borders), rotate and scale
slowly and occlude each other in a fixed depth order.
"""

import colorsys
import dataclasses
import os

import numpy as np

# Clips of the standard sets (`load_video_clips`).
DEFAULT_NUM_CLIPS = {"train": 2000, "test": 100}
SPLITS = ("train", "test")
# Each clip is drawn from its own seed (so the first clips of a set do not
# depend on how many are asked for) and rendered in chunks of this many.
CHUNK_CLIPS = 50
# Photo crops drawn per clip as candidates for its photo objects.
PHOTO_CANDIDATES = 8
MAX_OBJECTS = 8
# A Fashion-MNIST pixel brighter than this belongs to the item (its alpha).
ITEM_THRESHOLD = 25
# Mean colours (RGB, 0..255) of the first frame's background and of each object of a
# clip are drawn at least this far apart (Euclidean), when some of the
# candidates allow it, so each mask covers a colour of its own.
MIN_COLOUR_DISTANCE = 60.0
COLOUR_ATTEMPTS = 16
# In the first frame each object shows at least this fraction of its own
# pixels (the rest may be occluded) and the background this fraction of the
# frame; positions are redrawn until they do.
MIN_VISIBLE_FRACTION = 0.3
MIN_BACKGROUND_FRACTION = 0.1
PLACEMENT_ATTEMPTS = 100
FRAME_EXTENSIONS = (".jpg", ".jpeg", ".png")
# Float samples rendered at once (memory: about 100 bytes each).
_SAMPLES_PER_BATCH = 2**21


@dataclasses.dataclass
class VideoClips:
    """Clips of frames with per-frame instance masks.

    Attributes:
        name: str. Name of the set (`"video_clips:train"`, a folder's name).
        frames: uint8 NumPy array `[N, T, H, W, 3]`. RGB frames of `N`
            clips of `T >= 2` frames each.
        masks: uint8 NumPy array `[N, T, H, W]` or None. Instance masks:
            0 is the background, 1..K the objects of the clip (K <= 255);
            None when unknown.
        source: str. Where the clips come from.

    Example:

    >>> clips = load_video_clips("test", num_clips=10)
    >>> clips.frames.shape, clips.masks.shape, clips.num_objects[:3]
    ((10, 8, 64, 64, 3), (10, 8, 64, 64), array([3, 3, 3]))
    """

    name: str
    frames: np.ndarray
    masks: np.ndarray = None
    source: str = ""

    def __post_init__(self):
        frames, masks = self.frames, self.masks
        if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 5 or frames.shape[-1] != 3:
            raise ValueError(
                f"VideoClips {self.name}: frames must be a uint8 NumPy array [N, T, H, W, 3] (RGB), got "
                f"{getattr(frames, 'dtype', type(frames).__name__)} {getattr(frames, 'shape', '')}: convert with "
                "np.asarray(frames, 'uint8') and stack the clips"
            )
        if frames.shape[1] < 2:
            raise ValueError(
                f"VideoClips {self.name}: clips need at least 2 frames to track through, got {frames.shape[1]} "
                f"(frames {frames.shape}): give longer clips"
            )
        if masks is not None and (
            not isinstance(masks, np.ndarray) or masks.dtype != np.uint8 or masks.shape != frames.shape[:4]
        ):
            raise ValueError(
                f"VideoClips {self.name}: masks must be uint8 [N, T, H, W] = {frames.shape[:4]} like the frames, got "
                f"{getattr(masks, 'dtype', type(masks).__name__)} {getattr(masks, 'shape', '')}: give one instance "
                "id per pixel of every frame (0 background), or masks=None"
            )

    @property
    def num_clips(self):
        return self.frames.shape[0]

    @property
    def num_frames(self):
        return self.frames.shape[1]

    @property
    def frame_shape(self):
        """`(H, W, 3)`."""
        return tuple(self.frames.shape[2:])

    @property
    def num_objects(self):
        """int64 `[N]`: the largest instance id of each clip (its number of
        objects when ids are 1..K), or None without masks."""
        if self.masks is None:
            return None
        return self.masks.max(axis=(1, 2, 3)).astype("int64")

    def describe(self):
        objects = "no masks"
        if self.masks is not None:
            low, high = self.num_objects.min(), self.num_objects.max()
            objects = f"{low} to {high} objects per clip" if low != high else f"{low} object(s) per clip"
        return (
            f"{self.name}: {self.num_clips} clips of {self.num_frames} frames of shape {self.frame_shape}, "
            f"{objects} ({self.source})"
        )


def _object_range(num_objects):
    if np.ndim(num_objects) == 0:
        low = high = int(num_objects)
    else:
        low, high = (int(n) for n in num_objects)
    if not 1 <= low <= high <= MAX_OBJECTS:
        raise ValueError(
            f"make_video_clips: num_objects must be an int or an inclusive (low, high) range within 1..{MAX_OBJECTS} "
            f"(more would not all be visible in the first frame), got {num_objects}"
        )
    return low, high


def _sprite_size(size):
    """Side of the square canvas of an object (it is drawn at size / 4 to
    size / 2.5, up to 10% larger while it scales): Fashion-MNIST's 28, or
    more for large frames so objects are not upsampled."""
    return max(28, int(np.ceil(size / 2.5 * 1.1)))


def _item_images(split):
    """`(images [M, 28, 28, 1] uint8, description)`: the Fashion-MNIST items of
    `split`, or scikit-learn's digits upscaled when it is not installed."""
    from keras_ssl.data import sources

    try:
        data = sources.load_fashion_mnist()
        description = f"Fashion-MNIST {split} items ({data.source})"
    except sources.DataSourceMissingError:
        from PIL import Image

        data = sources.load_digits()
        x = data.x_train if split == "train" else data.x_test
        upscaled = [np.asarray(Image.fromarray(d[..., 0]).resize((28, 28), Image.Resampling.BILINEAR)) for d in x]
        return np.stack(upscaled)[..., None], (
            f"scikit-learn digits {split} items upscaled to 28x28 (Fashion-MNIST is not installed: "
            "apt-get install dataset-fashion-mnist)"
        )
    x = data.x_train if split == "train" else data.x_test
    return x, description


def _resize(image, side, resample):
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((side, side), resample))


def _pad(sprite):
    """A zero border of one pixel, so bilinear sampling fades to nothing
    outside the sprite."""
    return np.pad(sprite, ((1, 1), (1, 1), (0, 0)))


def _item_sprite(item, hue, side):
    """Premultiplied RGBA float32 `[side + 2, side + 2, 4]` of a grey item
    tinted with a saturated `hue`; its intensity shades the tint (texture
    kept, hue unchanged) and its pixels above `ITEM_THRESHOLD` are opaque."""
    from PIL import Image

    if item.shape[0] != side:
        item = _resize(item, side, Image.Resampling.BILINEAR)
    intensity = item.astype("float32") / 255.0
    alpha = (item > ITEM_THRESHOLD).astype("float32")
    tint = np.asarray(colorsys.hsv_to_rgb(hue % 1.0, 1.0, 1.0), "float32") * 255.0
    rgb = tint * (0.5 + 0.5 * intensity)[..., None]
    return _pad(np.concatenate([rgb * alpha[..., None], alpha[..., None]], axis=-1))


def _ellipse_sprite(crop, axes):
    """Premultiplied RGBA `[side + 2, side + 2, 4]` of a photo crop cut to
    an axis-aligned ellipse of semi-axes `axes` (fractions of half the side)."""
    side = crop.shape[0]
    centre = (side - 1) / 2
    y, x = np.mgrid[:side, :side].astype("float32")
    inside = ((y - centre) / (axes[0] * side / 2)) ** 2 + ((x - centre) / (axes[1] * side / 2)) ** 2 <= 1
    alpha = inside.astype("float32")
    return _pad(np.concatenate([crop.astype("float32") * alpha[..., None], alpha[..., None]], axis=-1))


def _mean_colour(sprite):
    alpha = sprite[..., 3].sum()
    return sprite[..., :3].reshape(-1, 3).sum(0) / max(alpha, 1e-6)


def _min_distance(colours):
    colours = np.asarray(colours)
    d = np.linalg.norm(colours[:, None] - colours[None], axis=-1)
    return d[~np.eye(len(colours), dtype=bool)].min()


def _triangle(u, low, high):
    """`u` reflected into `[low, high]`: a point moving at constant speed
    that bounces off both ends."""
    span = high - low
    phase = np.mod(u - low, 2 * span)
    return low + span - np.abs(phase - span)


def _sample(sprites, centres, angles, scales, size):
    """Each sprite drawn into a `size x size` frame: bilinear samples of the
    premultiplied RGBA `sprites [n, P, P, 4]` (zero border) rotated by
    `angles [n, T]` (radians), scaled by `scales [n, T]` (frame pixels per
    sprite pixel) and centred at `centres [n, T, 2]` (y, x). Returns float32
    `[n, T, size, size, 4]`."""
    n, p = sprites.shape[:2]
    num_frames = centres.shape[1]
    middle = (p - 1) / 2
    cos = (np.cos(angles) / scales).astype("float32")[..., None, None]
    sin = (np.sin(angles) / scales).astype("float32")[..., None, None]
    grid = np.arange(size, dtype="float32")
    dy = grid[:, None] - centres[..., 0, None, None].astype("float32")  # [n, T, H, 1]
    dx = grid[None, :] - centres[..., 1, None, None].astype("float32")  # [n, T, 1, W]
    uy = middle + cos * dy + sin * dx  # [n, T, H, W], padded sprite coordinates
    ux = middle - sin * dy + cos * dx
    # Only pixels whose sample reaches inside the border can be non-zero:
    # the others (most of the frame) are skipped.
    inside = np.flatnonzero((uy > 0) & (uy < p - 1) & (ux > 0) & (ux < p - 1))
    uy, ux = uy.ravel()[inside], ux.ravel()[inside]
    y0 = np.minimum(np.floor(uy), p - 2)
    x0 = np.minimum(np.floor(ux), p - 2)
    fy, fx = (uy - y0)[:, None], (ux - x0)[:, None]
    clip = inside // (num_frames * size * size)
    index = clip * (p * p) + y0.astype("int64") * p + x0.astype("int64")
    flat = sprites.reshape(-1, 4)
    top = flat[index] * (1 - fx) + flat[index + 1] * fx
    bottom = flat[index + p] * (1 - fx) + flat[index + p + 1] * fx
    out = np.zeros((n * num_frames * size * size, 4), "float32")
    out[inside] = top * (1 - fy) + bottom * fy
    return out.reshape(n, num_frames, size, size, 4)


def _pan(backgrounds, starts, velocities, num_frames, size):
    """Frames `[n, T, size, size, 3]` float32 of `backgrounds [n, B, B, 3]`
    seen through a window whose top-left corner moves from `starts [n, 2]`
    at `velocities [n, 2]` pixels per frame (bilinear, sub-pixel)."""
    n, side = backgrounds.shape[:2]
    offsets = starts[:, None] + velocities[:, None] * np.arange(num_frames)[:, None]  # [n, T, 2]
    first = np.minimum(np.floor(offsets), side - size - 1).astype("int64")
    frac = (offsets - first).astype("float32")
    steps = np.arange(size + 1)
    rows = first[..., 0, None] + steps  # [n, T, size + 1]
    cols = first[..., 1, None] + steps
    patch = backgrounds[np.arange(n)[:, None, None, None], rows[..., :, None], cols[..., None, :]].astype("float32")
    fy = frac[..., 0, None, None, None]
    fx = frac[..., 1, None, None, None]
    top = patch[:, :, :-1, :-1] * (1 - fx) + patch[:, :, :-1, 1:] * fx
    bottom = patch[:, :, 1:, :-1] * (1 - fx) + patch[:, :, 1:, 1:] * fx
    return top * (1 - fy) + bottom * fy


def _composite(frames, masks, sprites, centres, angles, scales, size):
    """Draws the objects (`sprites [n, K, P, P, 4]`, motion `[n, K, T, ...]`)
    over `frames [n, T, H, W, 3]` float32 in depth order, later ones on
    top, and writes into `masks [n, T, H, W]` the id (k + 1) of the top-most
    object whose alpha exceeds 0.5 at each pixel. Returns per object its own
    pixel count `[n, K, T]` (alpha > 0.5, occluded or not)."""
    n, num_objects = sprites.shape[:2]
    num_frames = centres.shape[2]
    per_clip = num_frames * size * size
    step = max(1, _SAMPLES_PER_BATCH // per_clip)
    own = np.zeros((n, num_objects, num_frames), "int64")
    for k in range(num_objects):
        for lo in range(0, n, step):
            part = slice(lo, lo + step)
            drawn = _sample(sprites[part, k], centres[part, k], angles[part, k], scales[part, k], size)
            alpha = drawn[..., 3]
            frames[part] = frames[part] * (1 - alpha[..., None]) + drawn[..., :3]
            covered = alpha > 0.5
            masks[part][covered] = k + 1
            own[part, k] = covered.sum(axis=(2, 3))
    return own


def _draw_clip(rng, num_frames, size, object_range, split, items):
    """The content and motion of one clip, drawn with its own `rng`."""
    from PIL import Image

    from keras_ssl.data.photos import load_photos

    low, high = object_range
    side = size + size // 2  # background crop: room to pan by half a frame
    sprite_side = _sprite_size(size)
    count = int(rng.integers(low, high + 1))

    # The background and a few candidate photo objects, from the split's
    # photo regions.
    num_photos = 1 + PHOTO_CANDIDATES
    photos = load_photos(
        crop_size=side,
        num_train=num_photos if split == "train" else 1,
        num_test=num_photos if split == "test" else 1,
        seed=int(rng.integers(2**31)),
        short_sides=(3 * side, 4 * side),
    )
    crops, photo_ids = (photos.x_train, photos.y_train) if split == "train" else (photos.x_test, photos.y_test)
    background = crops[0]

    # Background pan: a few pixels per frame, within the crop's margin.
    margin = side - size
    heading = rng.uniform(0, 2 * np.pi)
    pan = rng.uniform(1, 3) * size / 64 * np.array([np.sin(heading), np.cos(heading)])
    pan *= min(1.0, (margin - 1) / (np.abs(pan).max() * (num_frames - 1)))
    travel = pan * (num_frames - 1)
    pan_start = rng.uniform(np.maximum(0, -travel), margin - 1 - np.maximum(0, travel))

    # Objects: kind, item, colours (hues evenly spaced, far from each other
    # and from the first frame's background where the candidates allow).
    others = np.flatnonzero(photo_ids[1:] != photo_ids[0]) + 1  # photos other than the background's
    is_photo = rng.random(count) < 0.5
    items = items[rng.integers(0, len(items), size=count), ..., 0]
    # Semi-axes of each photo's ellipse: one full, the other 0.6 to 1.
    ellipses = np.ones((len(crops), 2))
    ellipses[np.arange(len(crops)), rng.integers(0, 2, len(crops))] = rng.uniform(0.6, 1.0, len(crops))
    sprite_cache = {}

    def sprite_of(key):
        if key not in sprite_cache:
            if key[0] == "photo":
                crop = _resize(crops[key[1]], sprite_side, Image.Resampling.LANCZOS)
                sprite_cache[key] = _ellipse_sprite(crop, ellipses[key[1]])
            else:
                sprite_cache[key] = _item_sprite(items[key[1]], key[2], sprite_side)
        return sprite_cache[key]

    background_colour = _pan(background[None], pan_start[None], pan[None], 1, size).reshape(-1, 3).mean(0)
    best = None
    for attempt in range(COLOUR_ATTEMPTS):
        # After half the attempts, photo objects give way to tinted items,
        # whose evenly spaced saturated hues stand apart.
        photo = is_photo & (attempt < COLOUR_ATTEMPTS // 2)
        photo &= np.cumsum(photo) <= len(others)
        picks = iter(rng.choice(others, photo.sum(), replace=False))
        first_hue = rng.random()
        keys = [
            ("photo", next(picks)) if photo[k] else ("item", k, (first_hue + k / count) % 1.0) for k in range(count)
        ]
        distance = _min_distance([background_colour] + [_mean_colour(sprite_of(key)) for key in keys])
        if best is None or distance > best[0]:
            best = (distance, keys)
        if distance >= MIN_COLOUR_DISTANCE:
            break
    # Slots past `count` stay empty (zero alpha) so clips stack.
    sprites = np.zeros((high, sprite_side + 2, sprite_side + 2, 4), "float32")
    sprites[:count] = [sprite_of(key) for key in best[1]]

    # Motion: drawn size, rotation, scaling and velocity (bouncing).
    t = np.arange(num_frames)
    extent = rng.uniform(size / 4, size / 2.5, high)  # drawn side of the canvas, frame pixels
    growth = rng.uniform(-0.1, 0.1, high)
    spin = rng.choice([-1, 1], high) * rng.uniform(1, 4, high)  # degrees per frame
    angles = np.deg2rad(rng.uniform(-15, 15, high)[:, None] + spin[:, None] * t)
    heading = rng.uniform(0, 2 * np.pi, high)
    speed = rng.uniform(1, 3, high) * size / 64
    return {
        "count": count,
        "background": background,
        "pan_start": pan_start,
        "pan": pan,
        "sprites": sprites,
        "extent": extent,
        "scales": (extent / sprite_side)[:, None] * (1 + growth[:, None] * (2 * t / (num_frames - 1) - 1)),
        "angles": angles,
        "velocity": speed[:, None] * np.stack([np.sin(heading), np.cos(heading)], -1),
    }


def _make_clips(rngs, num_frames, size, object_range, split, items):
    """`(frames, masks)` of one clip per generator of `rngs`; each clip's
    content comes from its generator only, the rendering is vectorised."""
    clips = [_draw_clip(rng, num_frames, size, object_range, split, items) for rng in rngs]
    clip = {key: np.stack([c[key] for c in clips]) for key in clips[0]}
    high = object_range[1]
    radius = (0.55 * clip["extent"])[..., None]  # half the drawn side at its largest
    low_edge, high_edge = radius, size - 1 - radius
    t = np.arange(num_frames)

    # First positions: redrawn until every object and the background show.
    starts = np.stack([rng.uniform(low_edge[i], high_edge[i], (high, 2)) for i, rng in enumerate(rngs)])
    todo = np.arange(len(rngs))
    for _ in range(PLACEMENT_ATTEMPTS):
        frame = np.zeros((len(todo), 1, size, size, 3), "float32")
        mask = np.zeros((len(todo), 1, size, size), "uint8")
        # The same centres as the first frame's below, to the last bit.
        first = _triangle(starts[todo, :, None], low_edge[todo, ..., None], high_edge[todo, ..., None])
        own = _composite(
            frame, mask, clip["sprites"][todo], first, clip["angles"][todo, :, :1], clip["scales"][todo, :, :1], size
        )
        visible = (mask[:, 0, None] == np.arange(1, high + 1)[None, :, None, None]).sum(axis=(2, 3))
        used = np.arange(high)[None] < clip["count"][todo, None]
        ok = np.where(used, (visible >= MIN_VISIBLE_FRACTION * own[..., 0]) & (visible > 0), True).all(1)
        ok &= (mask[:, 0] == 0).mean(axis=(1, 2)) >= MIN_BACKGROUND_FRACTION
        todo = todo[~ok]
        if not len(todo):
            break
        for i in todo:
            starts[i] = rngs[i].uniform(low_edge[i], high_edge[i], (high, 2))
    else:
        raise RuntimeError(
            f"make_video_clips: could not place {clip['count'][todo[0]]} objects visibly in a {size}x{size} "
            "frame: ask for fewer objects (num_objects) or larger frames (size)"
        )
    centres = _triangle(
        starts[:, :, None] + clip["velocity"][:, :, None] * t[:, None], low_edge[..., None], high_edge[..., None]
    )
    frames = _pan(clip["background"], clip["pan_start"], clip["pan"], num_frames, size)
    masks = np.zeros(frames.shape[:4], "uint8")
    _composite(frames, masks, clip["sprites"], centres, clip["angles"], clip["scales"], size)
    return np.rint(np.clip(frames, 0, 255)).astype("uint8"), masks


def make_video_clips(num_clips, num_frames=8, size=64, num_objects=(2, 3), split="train", seed=0):
    """Synthetic clips of moving, occluding objects over a panning photo, with
    their instance masks: an offline stand-in for DAVIS-style tracking data,
    for tracking by colourisation (Vondrick et al. 2018).

    Each clip pans over a crop of a bundled colour photo (`load_photos`: the
    photo's training or test region, by `split`) at a constant velocity of 1
    to 3 pixels per frame (at 64 pixels; proportionally at other sizes). On
    it, K objects (K drawn uniformly from `num_objects`), each with
    probability 1/2 a Fashion-MNIST item (its pixels above a threshold form
    its shape) tinted in a saturated hue (hues evenly spaced within a clip)
    or a crop of another photo cut to an ellipse, are drawn with a side of
    size/4 to size/2.5. Each moves at 1 to 3 pixels per frame, bouncing off
    the frame's borders, rotates by 1 to 4 degrees per frame and grows or
    shrinks by up to 10% over the clip; later objects are drawn on top.

    Guarantees: the same arguments give the same arrays; object ids are
    1..K in depth order and every object, and the background, is visible in
    the first frame (at least 30% of each object's pixels); the mean colours
    of the background and of the objects of a clip are drawn apart where the
    candidates allow; `split="test"` uses Fashion-MNIST's test items, the
    photos' test regions and other seeds than `"train"`. Each clip is drawn
    from its own seed, so the first clips of a set are the same whatever
    `num_clips`. Without Fashion-MNIST (the Debian
    package `dataset-fashion-mnist`) the items are scikit-learn's digits,
    upscaled, and `source` says so.

    Args:
        num_clips: int. Number of clips.
        num_frames: int. Frames per clip, at least 2.
        size: int. Side of the square frames, at least 16.
        num_objects: int or `(low, high)`. Objects per clip, an inclusive
            range within 1..8.
        split: `"train"` or `"test"`.
        seed: int. Seed of the clips (non-negative).

    Returns:
        `VideoClips` named `"video_clips:<split>"`: frames uint8
        `[num_clips, num_frames, size, size, 3]`, masks uint8
        `[num_clips, num_frames, size, size]`.

    Example:

    >>> clips = make_video_clips(6, num_frames=4, size=32)
    >>> clips.frames.shape, sorted(set(clips.masks[0].ravel())) == list(range(clips.num_objects[0] + 1))
    ((6, 4, 32, 32, 3), True)
    """
    if split not in SPLITS:
        raise ValueError(f"make_video_clips: unknown split {split!r}: use 'train' or 'test'")
    num_clips, num_frames, size, seed = int(num_clips), int(num_frames), int(size), int(seed)
    if num_clips < 1 or num_frames < 2 or size < 16 or seed < 0:
        raise ValueError(
            "make_video_clips needs num_clips >= 1, num_frames >= 2, size >= 16 and seed >= 0, got "
            f"{num_clips}, {num_frames}, {size}, {seed}"
        )
    object_range = _object_range(num_objects)
    items, item_source = _item_images(split)
    frames = np.empty((num_clips, num_frames, size, size, 3), "uint8")
    masks = np.empty((num_clips, num_frames, size, size), "uint8")
    split_index = SPLITS.index(split)
    for lo in range(0, num_clips, CHUNK_CLIPS):
        rngs = [
            np.random.default_rng(np.random.SeedSequence([seed, split_index, i]))
            for i in range(lo, min(lo + CHUNK_CLIPS, num_clips))
        ]
        frames[lo : lo + len(rngs)], masks[lo : lo + len(rngs)] = _make_clips(
            rngs, num_frames, size, object_range, split, items
        )
    return VideoClips(
        name=f"video_clips:{split}",
        frames=frames,
        masks=masks,
        source=(
            f"synthetic {split} clips (seed {seed}): {item_source} and {split} regions of the photos of "
            "skimage.data and sklearn.datasets.load_sample_images"
        ),
    )


def load_video_clips(split="train", num_clips=None, num_frames=8, size=64, seed=0):
    """The standard synthetic clips (`make_video_clips` with 2 or 3 objects
    per clip): `"train"` holds 2000 clips and `"test"` 100 by default; the
    two share no Fashion-MNIST item, photo region or seed.

    Args:
        split: `"train"` or `"test"`.
        num_clips: int or None. Number of clips (None: the split's
            default); fewer clips are the first clips of the full set.
        num_frames: int. Frames per clip.
        size: int. Side of the square frames.
        seed: int. Seed of the clips.

    Returns:
        `VideoClips`, frames uint8 `[N, num_frames, size, size, 3]` with
        their masks.

    Example:

    >>> test = load_video_clips("test")
    >>> test.describe()
    'video_clips:test: 100 clips of 8 frames of shape (64, 64, 3), 2 to 3 objects per clip (...)'
    """
    if split not in SPLITS:
        raise ValueError(f"load_video_clips: unknown split {split!r}: use 'train' or 'test'")
    if num_clips is None:
        num_clips = DEFAULT_NUM_CLIPS[split]
    return make_video_clips(num_clips, num_frames=num_frames, size=size, num_objects=(2, 3), split=split, seed=seed)


def _image_files(folder, extensions=FRAME_EXTENSIONS):
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(extensions) and not n.startswith("."))
    return [os.path.join(folder, n) for n in names if os.path.isfile(os.path.join(folder, n))]


def _open(path):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except (OSError, UnidentifiedImageError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"load_frame_folders: cannot read {path} ({message}): replace or remove the file") from None


def _read_mask(path):
    """Instance ids `[H, W]` uint8 of a mask PNG: grey values, or the palette
    indices of a palette PNG (DAVIS's format)."""
    image = _open(path)
    if image.mode == "LA":
        image = image.getchannel(0)
    if image.mode in ("P", "L", "1"):
        return np.asarray(image).astype("uint8")
    values = np.asarray(image)
    if values.ndim == 3:
        if not (values[..., :3] == values[..., :1]).all():
            raise ValueError(
                f"load_frame_folders: mask {path} is a colour image: save instance ids as grey values (mode L) "
                "or palette indices (mode P)"
            )
        values = values[..., 0]
    if values.min() < 0 or values.max() > 255:
        raise ValueError(f"load_frame_folders: mask {path} has ids up to {values.max()}: ids must be 0..255")
    return values.astype("uint8")


def _size_pair(size):
    pair = (int(size), int(size)) if np.ndim(size) == 0 else tuple(int(s) for s in size)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"load_frame_folders: size must be an int or (height, width) of positive ints, got {size}")
    return pair


def load_frame_folders(path, size=None, num_frames=None):
    """A user's own clips with their masks: one subfolder of `path` per clip
    (clips sorted by folder name) holding the clip's frames as JPEG or PNG
    files, sorted by file name, and optionally a `masks/` subfolder with one
    PNG per frame (sorted by name, in the frames' order) whose grey values or
    palette indices (DAVIS's annotations) are the instance ids, 0 the
    background. No video codec is needed: extract frames first (e.g.
    `ffmpeg -i clip.mp4 clip/%05d.jpg`).

    Args:
        path: str or path. The folder of clip folders.
        size: int, `(height, width)` or None. Resize every frame to this
            size (frames bilinear, masks nearest); None keeps the files'
            size, which must then be the same for all clips.
        num_frames: int or None. Keep the first `num_frames` frames of each
            clip (clips of different lengths); None needs every clip to have
            the same number of frames.

    Returns:
        `VideoClips` named after the folder; masks None when no clip has a
        `masks/` folder.

    Raises:
        FileNotFoundError: `path` is not a folder.
        ValueError: in one line naming the clip folder or file: a clip with
            fewer than 2 frames, frame sizes or counts that differ, a
            `masks/` folder whose count or sizes differ from the frames', an
            unreadable file, masks in some clips only.

    Example:

    >>> clips = load_frame_folders("davis_clips/", size=(64, 112), num_frames=16)
    >>> clips.frames.shape
    (30, 16, 64, 112, 3)
    """
    from PIL import Image

    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"load_frame_folders: {path} is not a folder: give a folder with one subfolder of frames per clip"
        )
    folders = sorted(
        os.path.join(path, n)
        for n in os.listdir(path)
        if not n.startswith(".") and os.path.isdir(os.path.join(path, n))
    )
    if not folders:
        raise ValueError(
            f"load_frame_folders: no clip folders in {path}: put each clip's frames (JPEG or PNG) in a subfolder"
        )
    target = None if size is None else _size_pair(size)
    if num_frames is not None and int(num_frames) < 2:
        raise ValueError(f"load_frame_folders: num_frames must be at least 2, got {num_frames}")
    all_frames, all_masks, first = [], [], None
    for folder in folders:
        files = _image_files(folder)
        if len(files) < 2:
            raise ValueError(
                f"load_frame_folders: clip folder {folder} has {len(files)} frame file(s): a clip needs at least 2 "
                "(JPEG or PNG); remove the folder or add frames"
            )
        mask_folder = os.path.join(folder, "masks")
        mask_files = _image_files(mask_folder, (".png",)) if os.path.isdir(mask_folder) else None
        if mask_files is not None and len(mask_files) != len(files):
            raise ValueError(
                f"load_frame_folders: clip folder {folder} has {len(files)} frames but {len(mask_files)} mask PNGs "
                "in masks/: give one mask per frame"
            )
        if num_frames is not None:
            if len(files) < int(num_frames):
                raise ValueError(
                    f"load_frame_folders: clip folder {folder} has {len(files)} frames, fewer than "
                    f"num_frames={num_frames}: lower num_frames or remove the clip"
                )
            files = files[: int(num_frames)]
            mask_files = None if mask_files is None else mask_files[: int(num_frames)]
        frames = [np.asarray(_open(f).convert("RGB")) for f in files]
        for f, frame in zip(files, frames):
            if frame.shape != frames[0].shape:
                raise ValueError(
                    f"load_frame_folders: clip folder {folder}: {os.path.basename(f)} is {frame.shape[1]}x"
                    f"{frame.shape[0]} but {os.path.basename(files[0])} is {frames[0].shape[1]}x{frames[0].shape[0]}: "
                    "the frames of a clip must have one size"
                )
        masks = None
        if mask_files is not None:
            masks = [_read_mask(f) for f in mask_files]
            for f, mask in zip(mask_files, masks):
                if mask.shape != frames[0].shape[:2]:
                    raise ValueError(
                        f"load_frame_folders: clip folder {folder}: mask {os.path.basename(f)} is {mask.shape[1]}x"
                        f"{mask.shape[0]} but the frames are {frames[0].shape[1]}x{frames[0].shape[0]}: masks must "
                        "have their frames' size"
                    )
        if target is not None and frames[0].shape[:2] != target:
            resize = (target[1], target[0])
            frames = [np.asarray(Image.fromarray(f).resize(resize, Image.Resampling.BILINEAR)) for f in frames]
            if masks is not None:
                masks = [np.asarray(Image.fromarray(m).resize(resize, Image.Resampling.NEAREST)) for m in masks]
        frames = np.stack(frames)
        if first is None:
            first = (folder, frames.shape, masks is not None)
        elif frames.shape[1:] != first[1][1:]:
            raise ValueError(
                f"load_frame_folders: clip folder {folder} has frames of {frames.shape[2]}x{frames.shape[1]} but "
                f"{first[0]} has {first[1][2]}x{first[1][1]}: all clips need one frame size (pass size= to resize)"
            )
        elif len(frames) != first[1][0]:
            raise ValueError(
                f"load_frame_folders: clip folder {folder} has {len(frames)} frames but {first[0]} has "
                f"{first[1][0]}: pass num_frames= to keep the first frames of each clip"
            )
        if (masks is not None) != first[2]:
            with_masks, without = (folder, first[0]) if masks is not None else (first[0], folder)
            raise ValueError(
                f"load_frame_folders: clip folder {with_masks} has a masks/ folder but {without} has none: give "
                "masks for every clip or for none"
            )
        all_frames.append(frames)
        all_masks.append(None if masks is None else np.stack(masks))
    return VideoClips(
        name=os.path.basename(os.path.normpath(path)),
        frames=np.stack(all_frames),
        masks=np.stack(all_masks) if first[2] else None,
        source=f"frame folders in {path}",
    )


def _palette(label):
    """A distinct saturated colour per instance id (golden-ratio hues)."""
    return np.asarray(colorsys.hsv_to_rgb((label * 0.618034) % 1.0, 0.9, 1.0)) * 255.0


def clip_strip(clips, index, masks=None):
    """The frames of clip `index` side by side, as a uint8 image ready for
    `PIL.Image.fromarray(...).save("clip.png")`.

    Args:
        clips: `VideoClips`.
        index: int. The clip.
        masks: None, True, or an int array `[T, H, W]`. None: frames only.
            True: a second row of the frames with the clip's own masks
            overlaid, one colour per object; an array: these masks overlaid
            instead (e.g. masks a tracker propagated).

    Returns:
        uint8 `[H, T * W, 3]`, or `[2 * H, T * W, 3]` with masks.

    Example:

    >>> from PIL import Image
    >>> Image.fromarray(clip_strip(clips, 0, masks=True)).save("clip0.png")
    """
    frames = clips.frames[index]
    num_frames, height, width = frames.shape[:3]
    row = frames.transpose(1, 0, 2, 3).reshape(height, num_frames * width, 3)
    if masks is None or masks is False:
        return row
    if masks is True:
        if clips.masks is None:
            raise ValueError(f"clip_strip: {clips.name} has no masks: pass masks=None or an array [T, H, W]")
        masks = clips.masks[index]
    masks = np.asarray(masks)
    if masks.shape != frames.shape[:3]:
        raise ValueError(f"clip_strip: masks must be [T, H, W] = {frames.shape[:3]} like the clip, got {masks.shape}")
    labels = masks.astype("int64")
    colours = np.stack([_palette(label) for label in range(int(labels.max()) + 1)])
    overlay = np.where((labels > 0)[..., None], 0.4 * frames + 0.6 * colours[labels], 0.6 * frames)
    overlay = np.rint(overlay).astype("uint8").transpose(1, 0, 2, 3).reshape(height, num_frames * width, 3)
    return np.concatenate([row, overlay], axis=0)
