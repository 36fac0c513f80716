"""Patch pairs for relative position prediction (context prediction)."""

import keras
import tensorflow as tf

# (row, column) step of each neighbour label from the centre patch, in
# reading order with the centre left out: 0 1 2 / 3 . 4 / 5 6 7.
NEIGHBOUR_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def crop_patches(images, image_index, top, left, size, output_size=None):
    """Square patches cut at integer positions, optionally resized.

    Args:
        images: tensor `[batch, height, width, channels]`.
        image_index: int tensor `[num_patches]`. Image each patch is cut from.
        top, left: int tensors `[num_patches]`. Top-left pixel of each patch;
            the patches must lie inside the images.
        size: int. Side of the patches in pixels.
        output_size: int. Each patch is resized (bilinear) to an
            `output_size` square; `None` keeps `size`.

    Returns:
        float32 tensor `[num_patches, out, out, channels]`; without resizing
        the patches are exact copies of the pixels.

    Example:

    >>> crop_patches(images, [0, 0], [0, 10], [0, 10], 8, output_size=28).shape
    TensorShape([2, 28, 28, 1])
    """
    images = tf.cast(images, "float32")
    offsets = tf.range(size, dtype="int32")
    rows = tf.cast(top, "int32")[:, None] + offsets  # [n, size]
    cols = tf.cast(left, "int32")[:, None] + offsets
    n = tf.shape(rows)[0]
    index = tf.stack(
        [
            tf.broadcast_to(tf.cast(image_index, "int32")[:, None, None], (n, size, size)),
            tf.broadcast_to(rows[:, :, None], (n, size, size)),
            tf.broadcast_to(cols[:, None, :], (n, size, size)),
        ],
        axis=-1,
    )
    patches = tf.gather_nd(images, index)
    if output_size is not None and int(output_size) != size:
        patches = tf.image.resize(patches, (int(output_size), int(output_size)), method="bilinear")
    return patches


def patch_layout(image_size, patch_size=None, gap=None, jitter=None):
    """The default `(patch_size, gap, jitter)` of a 3x3 patch grid on
    square images of side `image_size`, scaled from Doersch et al. (96-px
    patches, 48-px gaps, up to 7 px of jitter): a quarter of the side for
    the patch, jitter of 7/96 of the patch (at least 1 px), and the widest
    gap that still fits with the jitter. Given values are checked.

    Example:

    >>> patch_layout(28)
    (7, 2, 1)
    """
    patch_size = int(patch_size) if patch_size is not None else image_size // 4
    jitter = int(jitter) if jitter is not None else max(1, round(patch_size * 7 / 96))
    gap = int(gap) if gap is not None else max(0, (image_size - 3 * patch_size - 2 * jitter) // 2)
    if patch_size < 1 or gap < 0 or jitter < 0:
        raise ValueError(
            f"patch_size must be positive and gap, jitter non-negative, got patch_size={patch_size}, "
            f"gap={gap}, jitter={jitter}"
        )
    extent = 3 * patch_size + 2 * gap + 2 * jitter
    if extent > image_size:
        raise ValueError(
            f"a 3x3 grid of {patch_size}-px patches with {gap}-px gaps and {jitter}-px jitter spans {extent} "
            f"pixels, more than the {image_size}-px images: lower patch_size, gap or jitter"
        )
    return patch_size, gap, jitter


def sample_patch_pairs(images, patch_size, gap, jitter, output_size=None, seed=None, training=True):
    """A centre patch and one random neighbour of each image, with labels.

    Doersch, Gupta and Efros, "Unsupervised Visual Representation Learning
    by Context Prediction" (ICCV 2015): a 3x3 grid of `patch_size` squares
    separated by `gap` pixels is placed at a random position in the image;
    every patch then moves by up to `jitter` pixels in each direction, so
    that neither the gap nor the alignment gives the position away. The
    label `k` says which neighbour it is: it lies `NEIGHBOUR_OFFSETS[k]`
    grid steps of `patch_size + gap` pixels from the centre (up to the
    jitter). With `training=False` the grid is centred and not jittered.

    Args:
        images: tensor `[batch, size, size, channels]`, square.
        patch_size: int. Side of the patches.
        gap: int. Pixels between neighbouring patches before jitter.
        jitter: int. Largest shift of each patch along each axis.
        output_size: int. Patches are resized to `output_size` squares
            (e.g. the backbone's input); `None` keeps `patch_size`.
        seed: int or `keras.random.SeedGenerator`.
        training: bool. Random placement and jitter if True.

    Returns:
        `(centre, neighbour, labels)`: float32 `[batch, out, out, channels]`
        twice and int32 `[batch]` in `[0, 8)`.

    Example:

    >>> centre, neighbour, labels = sample_patch_pairs(images, 7, 2, 1, output_size=28, seed=0)
    """
    images = tf.cast(images, "float32")
    if images.shape.rank != 4:
        raise ValueError(f"sample_patch_pairs expects images [batch, height, width, channels], got {images.shape}")
    size = images.shape[1]
    if size is None or images.shape[2] != size:
        raise ValueError(f"sample_patch_pairs needs square images of known size, got {tuple(images.shape[1:3])}")
    patch_size, gap, jitter = patch_layout(size, patch_size, gap, jitter)
    batch = tf.shape(images)[0]
    step = patch_size + gap
    extent = 3 * patch_size + 2 * gap + 2 * jitter
    offsets = tf.constant(NEIGHBOUR_OFFSETS, "int32")
    if training:
        # Grid origin (top-left of the unjittered top-left patch) and labels.
        origin = keras.random.randint((batch, 2), 0, size - extent + 1, seed=seed, dtype="int32") + jitter
        labels = keras.random.randint((batch,), 0, len(NEIGHBOUR_OFFSETS), seed=seed, dtype="int32")
        shifts = keras.random.randint((2, batch, 2), -jitter, jitter + 1, seed=seed, dtype="int32")
    else:
        origin = tf.fill((batch, 2), (size - extent) // 2 + jitter)
        labels = tf.math.floormod(tf.range(batch, dtype="int32"), len(NEIGHBOUR_OFFSETS))
        shifts = tf.zeros((2, batch, 2), "int32")
    centre_corner = origin + step + shifts[0]
    neighbour_corner = origin + (1 + tf.gather(offsets, labels)) * step + shifts[1]
    corners = tf.concat([centre_corner, neighbour_corner], axis=0)
    index = tf.tile(tf.range(batch), [2])
    patches = crop_patches(images, index, corners[:, 0], corners[:, 1], patch_size, output_size)
    centre, neighbour = tf.split(patches, 2, axis=0)
    return centre, neighbour, labels


def drop_channels(patches, seed=None, noise_fraction=0.01):
    """Doersch et al.'s colour dropping against chromatic aberration: in
    each patch, all channels but one random one are replaced by Gaussian
    noise with `noise_fraction` of that channel's standard deviation (around
    its mean). A one-channel patch is returned unchanged: there is no colour
    to drop, and no chromatic aberration to exploit.

    Args:
        patches: float tensor `[n, h, w, channels]`.
        seed: int or `keras.random.SeedGenerator`.
        noise_fraction: float. Noise standard deviation over the channel's.

    Returns:
        Tensor like `patches`.
    """
    channels = patches.shape[-1]
    if channels == 1:
        return patches
    num = tf.shape(patches)[0]
    keep = keras.random.randint((num,), 0, channels, seed=seed, dtype="int32")
    keep_mask = tf.one_hot(keep, channels, dtype=patches.dtype)[:, None, None, :]
    mean, variance = tf.nn.moments(patches, axes=[1, 2], keepdims=True)
    noise = mean + noise_fraction * tf.sqrt(variance) * keras.random.normal(
        tf.shape(patches), seed=seed, dtype=patches.dtype
    )
    return keep_mask * patches + (1.0 - keep_mask) * noise
