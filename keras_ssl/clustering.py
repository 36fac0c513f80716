"""K-means and feature preprocessing for clustering-based methods (DeepCluster).

Everything here runs on the host, on NumPy arrays: `preprocess_features`
(PCA, whitening, L2 normalisation, as Caron et al. 2018 do before k-means)
and `kmeans` (Lloyd's algorithm with the empty-cluster split of faiss, the
library DeepCluster uses), with three selectable backends that give the same
kind of result: `"numpy"`, `"tf"` (the distances and means as TensorFlow ops,
on the default device) and `"sklearn"` (`sklearn.cluster.KMeans`).
"""

import numbers

import numpy as np

KMEANS_BACKENDS = ("numpy", "tf", "sklearn")

# faiss's relative perturbation of a split centroid (faiss/Clustering.cpp EPS).
SPLIT_EPS = 1.0 / 1024.0


def _as_features(features, name="features"):
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array [num_examples, dim], got shape {features.shape}")
    if not np.issubdtype(features.dtype, np.number):
        raise ValueError(f"{name} must be numbers, got dtype {features.dtype}")
    if not np.all(np.isfinite(features)):
        raise ValueError(f"{name} contain NaN or Inf: check the encoder's outputs")
    return features


def pca_whiten(features, dim, eps=1e-5):
    """Projects `features` on their `dim` principal components and whitens
    them: the result has zero mean and (up to `eps`) identity covariance.

    Args:
        features: float array `[N, D]`.
        dim: int. Number of components, capped at `min(N, D)`.
        eps: float. Added to each eigenvalue before dividing by its square
            root (keeps near-zero directions finite).

    Returns:
        float32 array `[N, min(dim, N, D)]`.
    """
    features = _as_features(features).astype("float64")
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
        raise ValueError(f"dim must be an int >= 1 (PCA components), got {dim!r}")
    dim = min(int(dim), features.shape[0], features.shape[1])
    centred = features - features.mean(axis=0)
    covariance = centred.T @ centred / max(len(features), 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1][:dim]
    projection = eigenvectors[:, order] / np.sqrt(np.maximum(eigenvalues[order], 0.0) + eps)
    return (centred @ projection).astype("float32")


def preprocess_features(features, dim=256, eps=1e-5):
    """DeepCluster's preprocessing before k-means: PCA to `dim` dimensions
    with whitening (`pca_whiten`), then L2 normalisation of every row.

    Example:

    >>> x = preprocess_features(np.random.rand(1000, 64), dim=32)
    >>> x.shape, np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    ((1000, 32), True)
    """
    whitened = pca_whiten(features, dim, eps=eps)
    norms = np.linalg.norm(whitened, axis=1, keepdims=True)
    return (whitened / np.maximum(norms, 1e-12)).astype("float32")


def _nearest_numpy(features, centroids, chunk_size=8192):
    assignments = np.empty(len(features), dtype="int32")
    squared_centroids = np.sum(centroids * centroids, axis=1)
    for start in range(0, len(features), chunk_size):
        block = features[start : start + chunk_size]
        # ||x - c||^2 up to the per-row constant ||x||^2.
        distances = squared_centroids[None, :] - 2.0 * (block @ centroids.T)
        assignments[start : start + chunk_size] = np.argmin(distances, axis=1)
    return assignments


def _means_numpy(features, assignments, centroids):
    k = len(centroids)
    counts = np.bincount(assignments, minlength=k)
    order = np.argsort(assignments, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sums = np.zeros_like(centroids)
    nonempty = counts > 0
    sums[nonempty] = np.add.reduceat(features[order], starts[nonempty], axis=0)
    means = centroids.copy()  # Empty clusters keep their centroid until split.
    nonempty = counts > 0
    means[nonempty] = sums[nonempty] / counts[nonempty, None]
    return means


def _nearest_tf(features, centroids):
    import tensorflow as tf

    x = tf.constant(features)
    c = tf.constant(centroids)
    distances = tf.reduce_sum(c * c, axis=1)[None, :] - 2.0 * tf.matmul(x, c, transpose_b=True)
    return tf.argmin(distances, axis=1, output_type=tf.int32).numpy()


def _means_tf(features, assignments, centroids):
    import tensorflow as tf

    k = len(centroids)
    sums = tf.math.unsorted_segment_sum(tf.constant(features), tf.constant(assignments), k).numpy()
    counts = np.bincount(assignments, minlength=k)
    means = centroids.copy()
    nonempty = counts > 0
    means[nonempty] = sums[nonempty] / counts[nonempty, None]
    return means


def _kmeans_plus_plus(features, k, rng):
    chosen = [int(rng.integers(len(features)))]
    distances = np.sum((features - features[chosen[0]]) ** 2, axis=1).astype("float64")
    for _ in range(1, k):
        total = distances.sum()
        if total <= 0:  # Every point is already a centroid: take distinct remaining ones.
            rest = np.setdiff1d(np.arange(len(features)), chosen)
            chosen.append(int(rng.choice(rest)))
        else:
            chosen.append(int(rng.choice(len(features), p=distances / total)))
        distances = np.minimum(distances, np.sum((features - features[chosen[-1]]) ** 2, axis=1))
    return features[chosen].copy()


def split_empty_clusters(features, centroids, assignments, rng, eps=SPLIT_EPS):
    """Fills every empty cluster by splitting a non-empty one (faiss's rule,
    which DeepCluster relies on).

    For each empty cluster `e`: a cluster `j` with at least two points is
    drawn at random with probability proportional to `size_j - 1` (faiss);
    `e` gets `j`'s centroid perturbed by `(1 + eps)` on even and `(1 - eps)`
    on odd dimensions, `j`'s centroid the opposite perturbation, and `j`'s
    points go to the nearer of the two (split by halves along the
    difference of their distances when all fall on one side, e.g. identical
    points), so both clusters are non-empty and no other point moves.

    Args:
        features: float array `[N, D]`.
        centroids: float array `[k, D]` (a copy is returned).
        assignments: int array `[N]` (a copy is returned).
        rng: `np.random.Generator`.
        eps: float. Relative perturbation.

    Returns:
        `(centroids, assignments)` with no empty cluster.
    """
    centroids = np.array(centroids, dtype="float32", copy=True)
    assignments = np.array(assignments, dtype="int32", copy=True)
    k = len(centroids)
    signs = np.where(np.arange(centroids.shape[1]) % 2 == 0, 1.0, -1.0).astype("float32")
    counts = np.bincount(assignments, minlength=k)
    for empty in np.flatnonzero(counts == 0):
        candidates = np.maximum(counts - 1, 0).astype("float64")
        if candidates.sum() <= 0:
            raise ValueError(
                f"k-means cannot fill {int(np.sum(counts == 0))} empty clusters: every cluster has one point; "
                "lower k or pass more examples"
            )
        donor = int(rng.choice(k, p=candidates / candidates.sum()))
        base = centroids[donor].copy()
        centroids[empty] = base * (1.0 + eps * signs)
        centroids[donor] = base * (1.0 - eps * signs)
        members = np.flatnonzero(assignments == donor)
        points = features[members].astype("float32")
        difference = np.sum((points - centroids[empty]) ** 2, axis=1) - np.sum((points - centroids[donor]) ** 2, axis=1)
        to_empty = difference < 0
        if to_empty.all() or not to_empty.any():
            order = np.argsort(difference, kind="stable")
            to_empty = np.zeros(len(members), dtype=bool)
            to_empty[order[: len(members) // 2]] = True
        assignments[members[to_empty]] = empty
        counts[empty] = int(to_empty.sum())
        counts[donor] -= counts[empty]
    return centroids, assignments


def kmeans(features, k, iterations=20, seed=0, backend="numpy", init="random"):
    """K-means (Lloyd's algorithm) with DeepCluster's empty-cluster split.

    Initial centroids are `k` distinct examples drawn with `seed` (faiss's
    initialisation, `init="random"`), or drawn by k-means++ (Arthur and
    Vassilvitskii 2007: each next one with probability proportional to the
    squared distance to the nearest chosen; fewer poor local minima), or
    given as an array. Each iteration assigns every
    example to its nearest centroid, fills empty clusters with
    `split_empty_clusters`, then moves each centroid to the mean of its
    examples. A last assignment (and split) gives the returned partition,
    whose clusters are all non-empty; the returned centroids are their
    means. The same inputs and seed give the same result on every call and
    process (what keeps replicas in agreement).

    Backends: `"numpy"` (default), `"tf"` (distances, argmin and sums as
    TensorFlow ops; faster on an accelerator), `"sklearn"`
    (`sklearn.cluster.KMeans` with the same initial centroids, `n_init=1`,
    `max_iter=iterations`; scikit-learn moves empty clusters to far points
    on its own, and the split is applied to its final partition if one is
    still empty).

    Args:
        features: float array `[N, D]`, N >= k.
        k: int >= 1. Number of clusters.
        iterations: int >= 1. Lloyd iterations (faiss and DeepCluster: 20).
        seed: int or `np.random.Generator`. Seed of the initialisation and
            of the splits.
        backend: str. One of "numpy", "tf", "sklearn".
        init: "random" (default), "k-means++", or a float array `[k, D]` of
            initial centroids.

    Returns:
        `(centroids, assignments)`: float32 `[k, D]` and int32 `[N]`.

    Example:

    >>> centroids, assignments = kmeans(np.random.rand(500, 8), k=10, seed=0)
    >>> centroids.shape, np.bincount(assignments).min() > 0
    ((10, 8), True)
    """
    features = _as_features(features).astype("float32")
    for name, value in (("k", k), ("iterations", iterations)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    k, iterations = int(k), int(iterations)
    if backend not in KMEANS_BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(KMEANS_BACKENDS)}, got {backend!r}")
    if k > len(features):
        raise ValueError(f"k-means needs at least k={k} examples, got {len(features)}: lower k or pass more examples")
    rng = np.random.default_rng(seed)
    if isinstance(init, str) and init == "random":
        centroids = features[np.sort(rng.choice(len(features), size=k, replace=False))].copy()
    elif isinstance(init, str) and init == "k-means++":
        centroids = _kmeans_plus_plus(features, k, rng)
    elif isinstance(init, str):
        raise ValueError(f"init must be 'random', 'k-means++' or an array [k, dim], got {init!r}")
    else:
        centroids = np.array(init, dtype="float32", copy=True)
        if centroids.shape != (k, features.shape[1]):
            raise ValueError(f"init must have shape (k, dim) = {(k, features.shape[1])}, got {centroids.shape}")
    if backend == "sklearn":
        from sklearn.cluster import KMeans

        fitted = KMeans(n_clusters=k, init=centroids, n_init=1, max_iter=iterations, tol=0.0, algorithm="lloyd")
        fitted.fit(features)
        centroids = fitted.cluster_centers_.astype("float32")
        assignments = _nearest_numpy(features, centroids)
        centroids, assignments = split_empty_clusters(features, centroids, assignments, rng)
        return _means_numpy(features, assignments, centroids), assignments
    nearest, means = (_nearest_tf, _means_tf) if backend == "tf" else (_nearest_numpy, _means_numpy)
    for _ in range(iterations):
        assignments = nearest(features, centroids)
        centroids, assignments = split_empty_clusters(features, centroids, assignments, rng)
        centroids = means(features, assignments, centroids)
    assignments = nearest(features, centroids)
    centroids, assignments = split_empty_clusters(features, centroids, assignments, rng)
    return means(features, assignments, centroids).astype("float32"), assignments.astype("int32")
