"""Weighted k-nearest-neighbour classification on frozen features."""

import numpy as np
import tensorflow as tf

# Similarities held at once when `chunk_size` is None: 2**26 floats, 256 MB.
MAX_SIMILARITY_BLOCK = 2**26


def knn_predict(
    train_features, train_labels, test_features, num_classes=None, k=200, temperature=0.07, chunk_size=None
):
    """Weighted kNN class scores, as in Wu et al. 2018.

    Wu, Xiong, Yu and Lin, "Unsupervised Feature Learning via
    Non-Parametric Instance Discrimination" (CVPR 2018), equation 8: features
    are L2-normalised; each test example's k most cosine-similar training
    examples (the memory bank) vote for their class with weight
    `exp(similarity / temperature)`.

    The similarities are computed one block of test examples at a time (a
    matrix product with the bank, then `tf.math.top_k`), so memory grows as
    `chunk_size x N`, never `M x N`.

    Args:
        train_features: float array `[N, D]`. The memory bank.
        train_labels: int array `[N]`.
        test_features: float array `[M, D]`.
        num_classes: int. Defaults to `max(train_labels) + 1`.
        k: int. Neighbours (capped at N).
        temperature: float.
        chunk_size: int or None. Test examples per similarity block; None:
            1024, fewer when the bank is so large that a block would exceed
            `MAX_SIMILARITY_BLOCK` similarities.

    Returns:
        float32 array `[M, num_classes]` of class votes.

    Example:

    >>> scores = knn_predict(train_f, train_y, test_f, k=200)
    >>> accuracy = np.mean(scores.argmax(-1) == test_y)
    """
    train_labels = np.asarray(train_labels, dtype="int64")
    num_classes = int(num_classes or train_labels.max() + 1)
    k = min(int(k), len(train_labels))
    if chunk_size is None:
        chunk_size = int(np.clip(MAX_SIMILARITY_BLOCK // max(len(train_labels), 1), 1, 1024))
    bank = tf.math.l2_normalize(tf.constant(train_features, tf.float32), axis=1)
    bank_labels = tf.constant(train_labels)
    scores = np.zeros((len(test_features), num_classes), "float32")
    for start in range(0, len(test_features), chunk_size):
        queries = tf.math.l2_normalize(tf.constant(test_features[start : start + chunk_size], tf.float32), axis=1)
        similarity = tf.matmul(queries, bank, transpose_b=True)
        top_similarity, top_index = tf.math.top_k(similarity, k=k)
        weights = tf.exp(top_similarity / temperature)
        # Each vote added to its (query, class) cell: `chunk x classes`
        # memory, not the `chunk x k x classes` of one-hot votes.
        rows = tf.range(tf.shape(queries)[0], dtype=tf.int64)[:, None]
        cells = rows * num_classes + tf.gather(bank_labels, top_index)
        votes = tf.math.unsorted_segment_sum(weights, cells, tf.shape(queries)[0] * num_classes)
        scores[start : start + chunk_size] = tf.reshape(votes, (-1, num_classes)).numpy()
    return scores


def knn_accuracy(train_features, train_labels, test_features, test_labels, k=200, temperature=0.07, chunk_size=None):
    """Top-1 accuracy of `knn_predict` (weighted kNN, Wu et al. 2018) on
    labelled test features.

    Example:

    >>> knn_accuracy(train_f, train_y, test_f, test_y, k=20)
    0.93
    """
    scores = knn_predict(
        train_features,
        train_labels,
        test_features,
        k=k,
        temperature=temperature,
        num_classes=max(np.max(train_labels), np.max(test_labels)) + 1,
        chunk_size=chunk_size,
    )
    return float(np.mean(scores.argmax(axis=1) == np.asarray(test_labels)))
