"""Video object segmentation by label propagation, and its DAVIS metrics.

Vondrick, Shrivastava, Fathi, Guadarrama and Murphy, "Tracking Emerges by
Colorizing Videos" (ECCV 2018): a network that learned to colourise a
frame by pointing into a reference frame also tracks, with no labels. At
test time the first frame's instance masks are copied forward by the same
pointer: each target pixel takes the labels of the reference pixels whose
features match its own (`propagate_masks`).

Perazzi, Pont-Tuset, McWilliams, Van Gool, Gross and Sorkine-Hornung, "A
Benchmark Dataset and Evaluation Methodology for Video Object Segmentation"
(DAVIS, CVPR 2016) score the masks by region similarity J (IoU,
`region_similarity`) and boundary accuracy F (`boundary_f_measure`), over
the frames after the given first one.

Masks are int arrays `[T, H, W]` of instance ids, 0 the background;
frames are uint8 RGB `[T, H, W, 3]`.
"""

import math

import keras
import numpy as np
import tensorflow as tf
from scipy import ndimage

from keras_ssl.augment.color_space import rgb_to_lab

# DAVIS' boundary tolerance: this fraction of the image diagonal.
BOUNDARY_TOLERANCE = 0.008
# `raw_pixel_embed`: one feature unit is this many Lab units (Delta E), and
# every feature lies on the sphere of radius `_RAW_PIXEL_RADIUS` (above the
# largest sRGB Lab norm, about 17.7 units).
_LAB_UNIT = 10.0
_RAW_PIXEL_RADIUS = 20.0


def label_affinities(reference_features, target_features, temperature=0.5, radius=None, top_k=None):
    """The attention of target pixels over reference pixels, as in Vondrick
    et al. 2018: `A_ij = softmax_i(f_i . f_j / temperature)`.

    Each row (a target pixel `j`) is a distribution over the reference
    pixels `i`, optionally restricted to a local window (reference pixels at
    most `radius` feature pixels away along each axis, as the paper does at
    test time) and then to the `top_k` largest affinities; the rest are 0 and
    the kept ones renormalised.

    Args:
        reference_features: float array `[n, h, w, D]` (n reference frames)
            or `[h, w, D]`.
        target_features: float array `[h, w, D]`.
        temperature: float > 0.
        radius: int >= 0 or None (every reference pixel).
        top_k: int >= 1 or None (all of them).

    Returns:
        float32 array `[h * w, n * h * w]`: rows are target pixels and
        columns reference pixels, both in row-major order (frame, row,
        column); each row sums to 1.

    Example:

    >>> weights = label_affinities(features[:1], features[1], radius=6, top_k=20)
    >>> next_labels = weights @ labels[:1].reshape(-1, num_labels)
    """
    reference = np.asarray(reference_features, "float32")
    target = np.asarray(target_features, "float32")
    if reference.ndim == 3:
        reference = reference[None]
    if reference.ndim != 4 or target.ndim != 3 or reference.shape[1:] != target.shape:
        raise ValueError(
            f"reference features {reference.shape} and target features {target.shape} do not match: "
            "pass references [n, h, w, D] and a target [h, w, D] of the same h, w and D"
        )
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if radius is not None and radius < 0:
        raise ValueError(f"radius must be a non-negative number of feature pixels or None, got {radius}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be at least 1 or None, got {top_k}")
    n, h, w, depth = reference.shape
    logits = target.reshape(h * w, depth) @ reference.reshape(n * h * w, depth).T / np.float32(temperature)
    if radius is not None:
        rows, columns = np.divmod(np.arange(h * w), w)
        near = (np.abs(rows[:, None] - rows[None, :]) <= radius) & (
            np.abs(columns[:, None] - columns[None, :]) <= radius
        )
        logits = np.where(np.tile(near, (1, n)), logits, -np.inf)
    if top_k is not None and top_k < logits.shape[1]:
        # Exactly top_k per row (ties broken by position); masked entries
        # are -inf, so they are never kept over an allowed one.
        kept = np.argpartition(-logits, top_k - 1, axis=1)[:, :top_k]
        kept_logits = np.take_along_axis(logits, kept, axis=1)
        logits = np.full_like(logits, -np.inf)
        np.put_along_axis(logits, kept, kept_logits, axis=1)
    # Each row keeps at least the target's own position, so its max is finite.
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (weights / weights.sum(axis=1, keepdims=True)).astype("float32")


def propagate_masks(
    embed,
    frames,
    first_mask,
    num_labels=None,
    temperature=0.5,
    radius=None,
    top_k=None,
    num_reference=1,
    batch_size=None,
):
    """Masks of a clip from its first frame's mask, by label propagation
    through feature affinities (Vondrick et al. 2018).

    The first mask becomes one-hot labels `[H, W, L]`, area-averaged to the
    `h x w` feature grid (soft labels at object edges). For each frame
    `t >= 1`, the labels of each target pixel are `sum_i A_ij l_i` over the
    pixels `i` of the previous `num_reference` frames, with their predicted
    soft labels (the ground truth for frame 0) and `A = label_affinities(...)`.
    The soft labels are upsampled bilinearly to `H x W` and argmax'ed to the
    frame's mask.

    Args:
        embed: callable from frames `[t, H, W, 3]` to features
            `[t, h, w, D]` (a TensorFlow tensor or NumPy array), e.g. the
            colourisation model's `embed`, or `raw_pixel_embed`.
        frames: uint8 array `[T, H, W, 3]`, one clip, T >= 2.
        first_mask: int array `[H, W]` of instance ids of frame 0.
        num_labels: int. Label channels; defaults to `max(first_mask) + 1`.
        temperature: float. Softmax temperature (0.5 in the paper).
        radius: int or None. Local window, in feature pixels.
        top_k: int or None. Reference pixels kept per target pixel.
        num_reference: int. Previous frames attended to.
        batch_size: int or None. Frames per `embed` call; None: the whole
            clip at once.

    Returns:
        int32 array `[T, H, W]`; frame 0 is `first_mask`.

    Example:

    >>> masks = propagate_masks(model.embed, frames, first_mask, radius=12, top_k=10)
    >>> region_similarity(masks, true_masks)
    """
    frames = _check_frames(frames)
    first_mask = _check_first_mask(first_mask, frames)
    num_labels = int(first_mask.max()) + 1 if num_labels is None else int(num_labels)
    if first_mask.max() >= num_labels:
        raise ValueError(
            f"first_mask holds id {first_mask.max()} but num_labels is {num_labels}: "
            "pass num_labels above the largest id, or None"
        )
    if num_reference < 1:
        raise ValueError(f"num_reference must be at least 1, got {num_reference}")
    features = _embed_clip(embed, frames, batch_size)
    height, width = first_mask.shape
    grid = features.shape[1:3]
    one_hot = np.eye(num_labels, dtype="float32")[first_mask]
    labels = [tf.image.resize(one_hot, grid, method="area").numpy()]
    masks = [first_mask]
    for t in range(1, len(frames)):
        start = max(0, t - num_reference)
        weights = label_affinities(features[start:t], features[t], temperature, radius, top_k)
        soft = (weights @ np.stack(labels[start:t]).reshape(-1, num_labels)).reshape(*grid, num_labels)
        labels.append(soft)
        upsampled = tf.image.resize(soft, (height, width), method="bilinear")
        masks.append(np.argmax(upsampled.numpy(), axis=-1).astype("int32"))
    return np.stack(masks)


def raw_pixel_embed(frames, stride=4, colour=True):
    """Raw-pixel features for `propagate_masks`: Lab pixels area-averaged
    over `stride x stride` cells (the baseline "same attention on raw
    pixels").

    Lab is (roughly) perceptually uniform, so L, a and b share one scale: a
    feature unit is 10 Lab units. A fourth coordinate puts every feature on
    one sphere, so that `f_i . f_j = const - |lab_i - lab_j|^2 / 2` (in
    those units): the attention is a Gaussian kernel on colour distance,
    never a preference for bright pixels, and the default temperature 0.5
    gives a weight `exp(-1)` to a colour 10 Delta E away.

    Args:
        frames: uint8 array `[T, H, W, 3]`.
        stride: int. Cell size; features are `[T, H // stride, W // stride, 4]`.
        colour: bool. Lab; False keeps L only (a and b zero), what a
            colourisation network sees.

    Returns:
        float32 array `[T, h, w, 4]`.

    Example:

    >>> masks = propagate_masks(raw_pixel_embed, frames, first_mask, radius=3)
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be RGB [T, H, W, 3], got shape {frames.shape}")
    if int(stride) < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    grid = (max(frames.shape[1] // int(stride), 1), max(frames.shape[2] // int(stride), 1))
    lab = rgb_to_lab(frames) / _LAB_UNIT
    if not colour:
        lab = lab * np.array([1.0, 0.0, 0.0], "float32")
    lab = tf.image.resize(lab, grid, method="area").numpy()
    height = np.sqrt(np.maximum(_RAW_PIXEL_RADIUS**2 - np.sum(lab**2, axis=-1, keepdims=True), 0.0))
    return np.concatenate([lab, height], axis=-1).astype("float32")


def copy_first_mask(frames, first_mask):
    """The trivial baseline: the first mask repeated for every frame.

    Example:

    >>> region_similarity(copy_first_mask(frames, masks[0]), masks)
    """
    frames = _check_frames(frames)
    first_mask = _check_first_mask(first_mask, frames)
    return np.repeat(first_mask[None], len(frames), axis=0)


def optical_flow_propagation(frames, first_mask):
    """The optical-flow baseline: each frame's mask is the previous
    predicted mask warped along the TV-L1 flow between the two grey frames
    (`skimage.registration.optical_flow_tvl1`).

    The flow is estimated from frame `t` back to frame `t - 1`, so that the
    previous labels, one-hot, are sampled bilinearly at the positions that
    frame `t`'s pixels came from (`skimage.transform.warp`, edges
    replicated) and argmax'ed.

    Args:
        frames: uint8 array `[T, H, W, 3]` (or `[T, H, W, 1]`).
        first_mask: int array `[H, W]`.

    Returns:
        int32 array `[T, H, W]`.

    Example:

    >>> masks = optical_flow_propagation(frames, first_mask)
    """
    from skimage.color import rgb2gray
    from skimage.registration import optical_flow_tvl1
    from skimage.transform import warp

    frames = _check_frames(frames)
    first_mask = _check_first_mask(first_mask, frames)
    if frames.shape[-1] not in (1, 3):
        raise ValueError(f"frames must be RGB or grey [T, H, W, 3 or 1], got shape {frames.shape}")
    grey = frames[..., 0] / 255.0 if frames.shape[-1] == 1 else rgb2gray(frames)
    ids, first = np.unique(first_mask, return_inverse=True)  # Compact ids: as many channels as objects.
    rows, columns = np.meshgrid(np.arange(first_mask.shape[0]), np.arange(first_mask.shape[1]), indexing="ij")
    previous = first.reshape(first_mask.shape)
    masks = [previous]
    for t in range(1, len(frames)):
        flow_rows, flow_columns = optical_flow_tvl1(grey[t], grey[t - 1])
        coordinates = np.array([rows + flow_rows, columns + flow_columns])
        warped = [
            warp((previous == label).astype("float32"), coordinates, order=1, mode="edge") for label in range(len(ids))
        ]
        previous = np.argmax(np.stack(warped, axis=-1), axis=-1)
        masks.append(previous)
    return ids[np.stack(masks)].astype("int32")


def region_similarity(predicted, truth, labels=None):
    """DAVIS region similarity J (Perazzi et al. 2016): the IoU of each
    object's predicted and true masks.

    Frame 0 (given) is excluded; an object absent from both masks of a
    frame is skipped for that frame. Each object's IoU is averaged over its
    frames, then over the objects.

    Args:
        predicted: int array `[T, H, W]`.
        truth: int array `[T, H, W]`.
        labels: ids to score, or None: every nonzero id of `truth`.

    Returns:
        float in [0, 1]; 1 when no object appears in frames 1..T-1 of
        either mask.

    Example:

    >>> region_similarity(propagate_masks(model.embed, frames, masks[0]), masks)
    """
    return _mean_over_objects(_iou, predicted, truth, labels)


def boundary_f_measure(predicted, truth, labels=None, tolerance=None):
    """DAVIS boundary F-measure F (Perazzi et al. 2016): how well the
    boundary of each object's predicted mask matches the true one.

    A boundary is the mask's pixels with a 4-neighbour outside it (the
    image border is no boundary). A predicted boundary pixel is correct when
    a true boundary pixel lies within `tolerance` (Euclidean distance, from
    `scipy.ndimage.distance_transform_edt`), and vice versa; precision and
    recall give `F = 2PR / (P + R)` per object and frame. As in DAVIS' code,
    an object with no predicted boundary has P = 1, R = 0, and one with no
    true boundary P = 0, R = 1 (F = 0 for both), unless neither has one.
    Frames and objects are treated as in `region_similarity`.

    Args:
        predicted: int array `[T, H, W]`.
        truth: int array `[T, H, W]`.
        labels: ids to score, or None: every nonzero id of `truth`.
        tolerance: float or None. Pixels; None: 0.008 of the image diagonal
            rounded up (DAVIS' tolerance; 1 pixel up to 125 x 125).

    Returns:
        float in [0, 1].

    Example:

    >>> boundary_f_measure(masks_predicted, masks)
    """
    if tolerance is None:
        tolerance = max(1.0, math.ceil(BOUNDARY_TOLERANCE * math.hypot(*np.shape(truth)[1:3])))
    if tolerance < 0:
        raise ValueError(f"tolerance must be a non-negative number of pixels or None, got {tolerance}")
    return _mean_over_objects(lambda p, t: _boundary_f(p, t, tolerance), predicted, truth, labels)


def evaluate_tracking(propagate, clips_frames, clips_masks, verbose=1):
    """Mean J and F (DAVIS, Perazzi et al. 2016) of a propagation method
    over clips.

    Args:
        propagate: callable `(frames, first_mask) -> masks [T, H, W]`, e.g.
            `copy_first_mask`, `optical_flow_propagation` or
            `lambda f, m: propagate_masks(model.embed, f, m, radius=12)`.
        clips_frames: sequence of uint8 arrays `[T, H, W, 3]`.
        clips_masks: sequence of int arrays `[T, H, W]`, the true masks;
            only the first is given to `propagate`.
        verbose: int. 1 shows a `keras.utils.Progbar`.

    Returns:
        dict: `"J"` and `"F"`, means over clips, and `"per_clip"`, a list of
        `{"J": ..., "F": ...}`.

    Example:

    >>> results = {"copy first mask": evaluate_tracking(copy_first_mask, frames, masks)}
    >>> print(tracking_table(results))
    """
    if len(clips_frames) != len(clips_masks):
        raise ValueError(f"{len(clips_frames)} clips of frames but {len(clips_masks)} of masks: pass one each")
    if len(clips_frames) == 0:
        raise ValueError("no clips to evaluate")
    progress = keras.utils.Progbar(len(clips_frames), unit_name="clip") if verbose else None
    per_clip = []
    for step, (frames, masks) in enumerate(zip(clips_frames, clips_masks), 1):
        frames, masks = np.asarray(frames), np.asarray(masks)
        if masks.shape != frames.shape[:3]:
            raise ValueError(
                f"clip {step - 1}: masks {masks.shape} do not match frames {frames.shape}: "
                "pass masks [T, H, W] of the frames [T, H, W, 3]"
            )
        predicted = np.asarray(propagate(frames, masks[0]))
        if predicted.shape != masks.shape:
            raise ValueError(
                f"clip {step - 1}: propagate returned masks {predicted.shape} for frames {frames.shape}: "
                "it must return [T, H, W]"
            )
        per_clip.append({"J": region_similarity(predicted, masks), "F": boundary_f_measure(predicted, masks)})
        if progress is not None:
            progress.update(step)
    return {
        "J": float(np.mean([clip["J"] for clip in per_clip])),
        "F": float(np.mean([clip["F"] for clip in per_clip])),
        "per_clip": per_clip,
    }


def tracking_table(results):
    """A markdown table `| method | J | F |` of `{name: {"J": .., "F": ..}}`
    (e.g. `evaluate_tracking` results), one row per method.

    Example:

    >>> print(tracking_table({"identity": {"J": 0.5, "F": 0.25}}))
    | method | J | F |
    | --- | --- | --- |
    | identity | 0.500 | 0.250 |
    """
    rows = ["| method | J | F |", "| --- | --- | --- |"]
    rows += [f"| {name} | {scores['J']:.3f} | {scores['F']:.3f} |" for name, scores in results.items()]
    return "\n".join(rows)


def _check_frames(frames):
    frames = np.asarray(frames)
    if frames.ndim != 4:
        raise ValueError(f"frames must be one clip [T, H, W, 3], got shape {frames.shape}")
    if len(frames) < 2:
        raise ValueError(f"a clip needs at least 2 frames (the first is given), got {len(frames)}")
    return frames


def _check_first_mask(first_mask, frames):
    first_mask = np.asarray(first_mask)
    if first_mask.shape != frames.shape[1:3]:
        raise ValueError(
            f"first_mask has shape {first_mask.shape} but the frames are {frames.shape[1:3]}: "
            "pass frame 0's mask [H, W]"
        )
    if not np.issubdtype(first_mask.dtype, np.integer) or first_mask.min() < 0:
        raise ValueError(f"first_mask must hold non-negative integer ids, got dtype {first_mask.dtype}")
    return first_mask.astype("int32")


def _embed_clip(embed, frames, batch_size):
    """float32 features `[T, h, w, D]` of `embed` over the clip, in batches
    of `batch_size` frames (all at once when None)."""
    batch_size = len(frames) if batch_size is None else int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1 or None, got {batch_size}")
    features = []
    for start in range(0, len(frames), batch_size):
        batch = frames[start : start + batch_size]
        batch_features = np.asarray(embed(batch), "float32")
        if batch_features.ndim != 4 or len(batch_features) != len(batch):
            raise ValueError(
                f"embed returned features of shape {batch_features.shape} for {len(batch)} frames: "
                "it must map frames [t, H, W, 3] to features [t, h, w, D]"
            )
        features.append(batch_features)
    return np.concatenate(features)


def _mean_over_objects(score, predicted, truth, labels):
    """`score(predicted_mask, true_mask)` of each object in frames 1..T-1
    (skipping frames where both masks lack it), averaged over its frames,
    then over the objects."""
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    if predicted.shape != truth.shape or truth.ndim != 3:
        raise ValueError(
            f"predicted masks {predicted.shape} and true masks {truth.shape} differ: pass both as [T, H, W]"
        )
    if len(truth) < 2:
        raise ValueError(f"the masks need at least 2 frames (frame 0 is given and not scored), got {len(truth)}")
    labels = np.unique(truth[truth > 0]) if labels is None else np.asarray(labels).ravel()
    per_object = []
    for label in labels:
        scores = [
            score(predicted[t] == label, truth[t] == label)
            for t in range(1, len(truth))
            if (predicted[t] == label).any() or (truth[t] == label).any()
        ]
        if scores:
            per_object.append(np.mean(scores))
    return float(np.mean(per_object)) if per_object else 1.0


def _iou(predicted, truth):
    return np.logical_and(predicted, truth).sum() / np.logical_or(predicted, truth).sum()


def _boundary(mask):
    """Pixels of `mask` with a 4-neighbour outside it; beyond the image
    counts as inside, so the image border is no boundary."""
    return mask & ~ndimage.binary_erosion(mask, border_value=1)


def _boundary_f(predicted, truth, tolerance):
    predicted_boundary, true_boundary = _boundary(predicted), _boundary(truth)
    num_predicted, num_true = predicted_boundary.sum(), true_boundary.sum()
    if num_predicted == 0 or num_true == 0:
        return 1.0 if num_predicted == num_true else 0.0
    # Distance of every pixel to the nearest boundary pixel of the other mask.
    to_true = ndimage.distance_transform_edt(~true_boundary)
    to_predicted = ndimage.distance_transform_edt(~predicted_boundary)
    precision = np.mean(to_true[predicted_boundary] <= tolerance)
    recall = np.mean(to_predicted[true_boundary] <= tolerance)
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))
