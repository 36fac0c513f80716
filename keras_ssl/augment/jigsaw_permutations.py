"""Jigsaw puzzles: the permutation set, cutting tiles and shuffling them."""

import functools
import math

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.augment.patch_pairs import crop_patches

# Above this many tiles the candidates are a sample of all permutations.
_MAX_ENUMERATED_TILES = 9
_CANDIDATE_POOL_SIZE = 200_000


def _all_permutations(n):
    """All permutations of `range(n)` in lexicographic order, `[n!, n]` int8."""
    perms = np.zeros((1, 0), "int8")
    for size in range(1, n + 1):
        # Permutations of range(size): each first value, then the
        # permutations of range(size - 1) shifted to skip that value.
        rest = perms
        perms = np.concatenate(
            [
                np.concatenate([np.full((len(rest), 1), first, "int8"), rest + (rest >= first)], axis=1)
                for first in range(size)
            ],
            axis=0,
        ).astype("int8")
    return perms


@functools.lru_cache(maxsize=8)
def _maximal_hamming_permutations(num_permutations, num_tiles, seed):
    rng = np.random.default_rng(seed)
    if num_tiles <= _MAX_ENUMERATED_TILES:
        candidates = _all_permutations(num_tiles)
    else:
        pool = np.argsort(rng.random((_CANDIDATE_POOL_SIZE, num_tiles)), axis=1).astype("int16")
        candidates = np.unique(pool, axis=0)
    columns = [np.ascontiguousarray(candidates[:, i]) for i in range(num_tiles)]
    count = len(candidates)
    summed = np.zeros(count, "int32")  # The paper's criterion: total distance to the set.
    nearest = np.full(count, num_tiles + 1, "int32")  # Distance to the nearest chosen one.
    chosen = []
    j = int(rng.integers(count))  # Algorithm 1 starts from a random permutation.
    for _ in range(num_permutations):
        chosen.append(j)
        distance = np.full(count, num_tiles, "int32")
        for i in range(num_tiles):
            distance -= columns[i] == candidates[j, i]
        summed += distance
        np.minimum(nearest, distance, out=nearest)
        # Farthest candidate: largest distance to its nearest chosen
        # permutation, ties broken by the paper's summed distance.
        score = nearest * (num_tiles * num_permutations + 1) + summed
        score[chosen] = -1
        j = int(np.argmax(score))
    result = candidates[chosen].astype("int32")
    result.setflags(write=False)
    return result


def maximal_hamming_permutations(num_permutations=100, num_tiles=9, seed=0):
    """A set of tile permutations far apart in Hamming distance.

    Noroozi and Favaro, "Unsupervised Learning of Visual Representations by
    Solving Jigsaw Puzzles" (ECCV 2016), Algorithm 1: start from a random
    permutation and greedily add the candidate farthest from those already
    chosen. The paper's score is the summed Hamming distance to the chosen
    set, which maximises the average distance but lets near-duplicates in
    (its 1000-permutation set has minimum distance 2, like a random set).
    Here the score is first the distance to the nearest chosen permutation
    and then, among ties, the paper's sum: the average distance stays
    maximal (8.0 for 9 tiles) and the minimum distance becomes 6 for 100
    permutations of 9 tiles (random sets of 100: 2 to 4).

    The candidates are all `num_tiles!` permutations (362,880 for 9 tiles,
    enumerated with NumPy) when `num_tiles <= 9`, else a pool of 200,000
    random permutations drawn with `seed`. The result depends only on the
    arguments; it is cached.

    Args:
        num_permutations: int. Size of the set (100 by default; the paper's
            best is 1000).
        num_tiles: int. Tiles per puzzle (9 for a 3x3 grid).
        seed: int. Seed of the first permutation (and of the pool).

    Returns:
        int32 NumPy array `[num_permutations, num_tiles]`; row `p` is
        permutation `p`: slot `j` of a shuffled puzzle shows tile `row[j]`.

    Example:

    >>> maximal_hamming_permutations(100).shape
    (100, 9)
    """
    num_permutations, num_tiles = int(num_permutations), int(num_tiles)
    if num_tiles < 2:
        raise ValueError(f"num_tiles must be at least 2, got {num_tiles}")
    available = math.factorial(num_tiles) if num_tiles <= _MAX_ENUMERATED_TILES else _CANDIDATE_POOL_SIZE // 2
    if not 1 <= num_permutations <= available:
        raise ValueError(
            f"num_permutations must be between 1 and {available} for {num_tiles} tiles, got {num_permutations}"
        )
    return _maximal_hamming_permutations(num_permutations, num_tiles, int(seed)).copy()


def pairwise_hamming_distances(permutations):
    """Hamming distances `[P, P]` between the rows of `permutations`."""
    permutations = np.asarray(permutations)
    return (permutations[:, None, :] != permutations[None, :, :]).sum(axis=-1)


def jigsaw_layout(image_size, grid_size=3, tile_size=None):
    """`(cell_size, tile_size)` of a puzzle on square images of side
    `image_size`: the grid covers `grid_size * cell_size <= image_size`
    pixels, and each tile is cut from its cell at a random position. The
    default tile is 64/75 of the cell, the paper's 64-px tiles in 75-px
    cells (8 of 9 px on 28x28 images).

    Example:

    >>> jigsaw_layout(28)
    (9, 8)
    """
    cell_size = image_size // grid_size
    if cell_size < 1:
        raise ValueError(f"{image_size}-px images are too small for a {grid_size}x{grid_size} grid")
    tile_size = int(tile_size) if tile_size is not None else max(1, round(cell_size * 64 / 75))
    if not 1 <= tile_size <= cell_size:
        raise ValueError(
            f"tile_size must be between 1 and the cell size {cell_size} ({image_size}-px images, "
            f"{grid_size}x{grid_size} grid), got {tile_size}"
        )
    return cell_size, tile_size


def cut_tiles(images, grid_size=3, tile_size=None, output_size=None, seed=None, training=True):
    """Cuts each image into a `grid_size x grid_size` puzzle of tiles.

    As in Noroozi and Favaro: a square of `grid_size` cells (e.g. 225 px of
    a 256-px image, 27 px of a 28-px one) is placed at a random position;
    in each cell a `tile_size` tile is cut at a random position, so that
    tiles are separated by random gaps and their edges do not line up (a
    shortcut). With `training=False` the grid and the tiles are centred.

    Args:
        images: tensor `[batch, size, size, channels]`, square.
        grid_size: int. Tiles per side.
        tile_size: int. Side of a tile (default: `jigsaw_layout`).
        output_size: int. Tiles are resized to `output_size` squares (the
            tile encoder's input); `None` keeps `tile_size`.
        seed: int or `keras.random.SeedGenerator`.
        training: bool.

    Returns:
        float32 tensor `[batch, grid_size**2, out, out, channels]`; tile `t`
        comes from grid row `t // grid_size`, column `t % grid_size`.

    Example:

    >>> cut_tiles(np.zeros((2, 28, 28, 1)), output_size=28, seed=0).shape
    TensorShape([2, 9, 28, 28, 1])
    """
    images = tf.cast(images, "float32")
    if images.shape.rank != 4 or images.shape[1] is None or images.shape[1] != images.shape[2]:
        raise ValueError(f"cut_tiles expects square images [batch, size, size, channels], got {images.shape}")
    size = images.shape[1]
    cell_size, tile_size = jigsaw_layout(size, grid_size, tile_size)
    num_tiles = grid_size * grid_size
    batch = tf.shape(images)[0]
    cells = tf.constant([[r * cell_size, c * cell_size] for r in range(grid_size) for c in range(grid_size)], "int32")
    if training:
        origin = keras.random.randint((batch, 1, 2), 0, size - grid_size * cell_size + 1, seed=seed, dtype="int32")
        inside = keras.random.randint((batch, num_tiles, 2), 0, cell_size - tile_size + 1, seed=seed, dtype="int32")
    else:
        origin = tf.fill((batch, 1, 2), (size - grid_size * cell_size) // 2)
        inside = tf.fill((batch, num_tiles, 2), (cell_size - tile_size) // 2)
    corners = tf.reshape(origin + cells[None] + inside, (-1, 2))
    index = tf.repeat(tf.range(batch), num_tiles)
    tiles = crop_patches(images, index, corners[:, 0], corners[:, 1], tile_size, output_size)
    return tf.reshape(tiles, tf.concat([[batch, num_tiles], tf.shape(tiles)[1:]], axis=0))


def shuffle_tiles(tiles, permutations, indices):
    """Shuffles each puzzle by its permutation: slot `j` of puzzle `b`
    shows tile `permutations[indices[b], j]`.

    Args:
        tiles: tensor `[batch, num_tiles, ...]`.
        permutations: int tensor `[P, num_tiles]`.
        indices: int tensor `[batch]`. Permutation of each puzzle.

    Returns:
        Tensor like `tiles`.
    """
    order = tf.gather(tf.cast(permutations, "int32"), tf.cast(indices, "int32"))
    return tf.gather(tiles, order, batch_dims=1)


def normalize_tiles(tiles, pixel_mean=127.5, pixel_std=63.75, epsilon=1.0):
    """Per-tile normalisation (Noroozi and Favaro): each tile gets zero
    mean and unit standard deviation over its pixels and channels, so its
    brightness and contrast do not tell its neighbours; then it is mapped
    back to pixel units, mean `pixel_mean` and standard deviation
    `pixel_std`, which a backbone taking [0, 255] pixels expects. A flat
    tile (std below `epsilon` grey levels) becomes flat `pixel_mean`.

    Args:
        tiles: float tensor `[..., h, w, channels]`.

    Returns:
        float32 tensor like `tiles`.
    """
    tiles = tf.cast(tiles, "float32")
    mean, variance = tf.nn.moments(tiles, axes=[-3, -2, -1], keepdims=True)
    std = tf.sqrt(variance)
    return pixel_mean + pixel_std * (tiles - mean) / tf.maximum(std, epsilon)
