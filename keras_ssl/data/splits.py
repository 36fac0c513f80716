"""Class-balanced subsets fixed by a seed."""

import numpy as np


def balanced_indices(labels, size, seed=0):
    """Indices of a random subset of `size` examples, balanced over classes.

    Each class gets `size // num_classes` examples (the remainder goes to
    the first classes in a seeded random order); the same seed gives the
    same subset. A class with too few examples contributes all it has.

    Args:
        labels: int array `[N]`.
        size: int. Number of indices (at most N).
        seed: int.

    Returns:
        Sorted int array of indices.

    Example:

    >>> balanced_indices(np.array([0, 0, 1, 1, 1]), 2, seed=0).size
    2
    """
    labels = np.asarray(labels)
    size = int(size)
    if not 0 < size <= len(labels):
        raise ValueError(f"subset size must be between 1 and {len(labels)}, got {size}")
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = np.full(len(classes), size // len(classes))
    per_class[rng.permutation(len(classes))[: size % len(classes)]] += 1
    chosen = []
    spare = []
    for cls, count in zip(classes, per_class):
        members = rng.permutation(np.flatnonzero(labels == cls))
        chosen.append(members[:count])
        spare.append(members[count:])
    chosen = np.concatenate(chosen)
    if len(chosen) < size:  # Some class was too small: fill from the rest.
        spare = rng.permutation(np.concatenate(spare))
        chosen = np.concatenate([chosen, spare[: size - len(chosen)]])
    return np.sort(chosen)


def label_fraction_indices(labels, fraction, seed=0):
    """Balanced indices covering `fraction` (0 < fraction <= 1) of `labels`."""
    if not 0 < fraction <= 1:
        raise ValueError(f"label fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return np.arange(len(labels))
    return balanced_indices(labels, max(1, round(fraction * len(labels))), seed)
