"""Weighted k-nearest-neighbour classification on frozen features."""

import numpy as np
import tensorflow as tf


def knn_predict(
    train_features, train_labels, test_features, num_classes=None, k=200, temperature=0.07, chunk_size=1024
):
    """Weighted kNN class scores, as in Wu et al. 2018.

    Wu, Xiong, Yu and Lin, "Unsupervised Feature Learning via
    Non-Parametric Instance Discrimination" (CVPR 2018), equation 8: features
    are L2-normalised; each test example's k most cosine-similar training
    examples vote for their class with weight `exp(similarity /
    temperature)`.

    Args:
        train_features: float array `[N, D]`.
        train_labels: int array `[N]`.
        test_features: float array `[M, D]`.
        num_classes: int. Defaults to `max(train_labels) + 1`.
        k: int. Neighbours (capped at N).
        temperature: float.
        chunk_size: int. Test examples per similarity block (memory).

    Returns:
        float32 array `[M, num_classes]` of class votes.

    Example:

    >>> scores = knn_predict(train_f, train_y, test_f, k=200)
    >>> accuracy = np.mean(scores.argmax(-1) == test_y)
    """
    train_labels = np.asarray(train_labels, dtype="int64")
    num_classes = int(num_classes or train_labels.max() + 1)
    k = min(int(k), len(train_labels))
    bank = tf.math.l2_normalize(tf.constant(train_features, tf.float32), axis=1)
    bank_labels = tf.constant(train_labels)
    scores = []
    for start in range(0, len(test_features), chunk_size):
        queries = tf.math.l2_normalize(tf.constant(test_features[start : start + chunk_size], tf.float32), axis=1)
        similarity = tf.matmul(queries, bank, transpose_b=True)
        top_similarity, top_index = tf.math.top_k(similarity, k=k)
        weights = tf.exp(top_similarity / temperature)
        votes = tf.one_hot(tf.gather(bank_labels, top_index), num_classes) * weights[..., None]
        scores.append(tf.reduce_sum(votes, axis=1).numpy())
    return np.concatenate(scores, axis=0)


def knn_accuracy(train_features, train_labels, test_features, test_labels, k=200, temperature=0.07):
    """Top-1 accuracy of `knn_predict` on labelled test features."""
    scores = knn_predict(
        train_features,
        train_labels,
        test_features,
        k=k,
        temperature=temperature,
        num_classes=max(np.max(train_labels), np.max(test_labels)) + 1,
    )
    return float(np.mean(scores.argmax(axis=1) == np.asarray(test_labels)))
