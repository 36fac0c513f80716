"""Labelled / unlabelled splits and their tf.data pipeline."""

import numpy as np
import tensorflow as tf

from keras_ssl.data.splits import balanced_indices


def labelled_split(labels, num_labels, seed=0):
    """Splits example indices into a class-balanced labelled subset of
    `num_labels` (fixed by `seed`) and the unlabelled rest.

    Returns:
        `(labelled_indices, unlabelled_indices)`, sorted int arrays.

    Example:

    >>> labelled, unlabelled = labelled_split(data.y_train, num_labels=100, seed=0)
    """
    labelled = balanced_indices(labels, num_labels, seed)
    unlabelled = np.setdiff1d(np.arange(len(labels)), labelled)
    return labelled, unlabelled


def semi_supervised_batches(x_l, y_l, x_u, batch_size, unlabelled_ratio=1, with_indices=False, seed=0):
    """A `tf.data.Dataset` of `((x_l, y_l), x_u)` batches for the
    semi-supervised methods.

    One epoch is one pass over the unlabelled images in batches of
    `batch_size * unlabelled_ratio`; the (few) labelled examples are
    reshuffled and repeated alongside in batches of `batch_size`.

    Args:
        x_l: uint8 array `[L, H, W, C]`. Labelled images.
        y_l: int array `[L]`. Their labels.
        x_u: uint8 array `[U, H, W, C]`. Unlabelled images.
        batch_size: int. Labelled images per batch.
        unlabelled_ratio: int. Unlabelled images per labelled image.
        with_indices: bool. Yield `((x_l, y_l), (x_u, index_u))` with each
            unlabelled image's index in `x_u` (temporal ensembling).
        seed: int. Shuffle seed.

    Example:

    >>> dataset = semi_supervised_batches(x_l, y_l, x_u, batch_size=64, unlabelled_ratio=1)
    >>> (images_l, labels_l), images_u = next(iter(dataset))
    """
    if len(x_l) != len(y_l):
        raise ValueError(f"{len(x_l)} labelled images but {len(y_l)} labels")
    if batch_size < 1 or unlabelled_ratio < 1:
        raise ValueError(f"batch_size and unlabelled_ratio must be at least 1, got {batch_size} and {unlabelled_ratio}")
    unlabelled_batch = batch_size * int(unlabelled_ratio)
    if unlabelled_batch > len(x_u):
        raise ValueError(
            f"an unlabelled batch of {unlabelled_batch} is larger than the {len(x_u)} unlabelled images: "
            "lower --batch_size or --unlabelled_ratio"
        )
    labelled = (
        tf.data.Dataset.from_tensor_slices((x_l, np.asarray(y_l, "int64")))
        .shuffle(len(x_l), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size, drop_remainder=True)
    )
    elements = (x_u, np.arange(len(x_u), dtype="int64")) if with_indices else x_u
    unlabelled = (
        tf.data.Dataset.from_tensor_slices(elements)
        .shuffle(len(x_u), seed=seed + 1, reshuffle_each_iteration=True)
        .batch(unlabelled_batch, drop_remainder=True)
    )
    return tf.data.Dataset.zip((labelled, unlabelled)).prefetch(tf.data.AUTOTUNE)
