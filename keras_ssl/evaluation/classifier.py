"""Accuracy of a model's own classifier (semi-supervised methods)."""

import numpy as np


def classifier_accuracy(model, images, labels, batch_size=1024):
    """Top-1 accuracy of `model.classify` (class probabilities from raw
    pixels) on labelled images.

    Example:

    >>> classifier_accuracy(mix_match, data.x_test, data.y_test)
    """
    if not hasattr(model, "classify"):
        raise ValueError(f"{type(model).__name__} has no classifier: use the linear, knn or finetune protocol")
    predictions = [
        np.argmax(np.asarray(model.classify(images[start : start + batch_size])), axis=-1)
        for start in range(0, len(images), batch_size)
    ]
    return float(np.mean(np.concatenate(predictions) == np.asarray(labels)))
