"""The evaluation protocols of the papers, behind one function."""

import numpy as np

from keras_ssl.data.splits import label_fraction_indices
from keras_ssl.evaluation.features import extract_features, raw_pixel_features
from keras_ssl.evaluation.fine_tune import fine_tune_accuracy
from keras_ssl.evaluation.knn import knn_accuracy
from keras_ssl.evaluation.linear_probe import linear_probe_accuracy

PROTOCOLS = ("linear", "knn", "finetune")


def evaluate_encoder(encoder, dataset, protocol="linear", label_fraction=1.0, seed=0, **kwargs):
    """Accuracy of a representation on `dataset` under one protocol.

    A class-balanced `label_fraction` of the training labels (fixed by
    `seed`) is used; the test split is always whole.

    - `linear`: logistic regression on frozen features.
    - `knn`: weighted kNN (k=200, temperature 0.07, Wu et al. 2018) with
      the labelled examples as the memory bank.
    - `finetune`: encoder and softmax trained end to end.

    Args:
        encoder: keras.Model from raw pixels to features, or `None` for the
            raw-pixel baseline (`linear` and `knn` only).
        dataset: `keras_ssl.data.ImageDataset`, or a streamed dataset
            (`keras_ssl.data.StreamedImageDataset`: `linear` and `knn`
            extract the features of all its training and test images batch
            by batch from its streams; `finetune` trains on its in-memory
            samples).
        protocol: str. One of `PROTOCOLS`.
        label_fraction: float in (0, 1].
        seed: int. Seed of the labelled subset.
        **kwargs: passed to the protocol's function (e.g. `k`, `epochs`).

    Returns:
        float accuracy in [0, 1].

    Example:

    >>> evaluate_encoder(model.encoder, data, protocol="knn", label_fraction=0.1)
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"Unknown protocol {protocol!r}: use one of {', '.join(PROTOCOLS)}")
    if protocol == "finetune":
        if encoder is None:
            raise ValueError("fine-tuning needs an encoder; raw pixels have nothing to fine-tune")
        labelled = label_fraction_indices(dataset.y_train, label_fraction, seed)
        return fine_tune_accuracy(
            encoder,
            dataset.x_train[labelled],
            dataset.y_train[labelled],
            dataset.x_test,
            dataset.y_test,
            num_classes=dataset.num_classes,
            **kwargs,
        )
    if hasattr(dataset, "eval_batches"):
        train_features, y_train, test_features, y_test = _streamed_features(encoder, dataset, label_fraction, seed)
    else:
        labelled = label_fraction_indices(dataset.y_train, label_fraction, seed)
        x_train, y_train, y_test = dataset.x_train[labelled], dataset.y_train[labelled], dataset.y_test
        if encoder is None:
            train_features, test_features = raw_pixel_features(x_train), raw_pixel_features(dataset.x_test)
        else:
            train_features = extract_features(encoder, x_train)
            test_features = extract_features(encoder, dataset.x_test)
    if protocol == "knn":
        return knn_accuracy(train_features, y_train, test_features, y_test, **kwargs)
    return linear_probe_accuracy(train_features, y_train, test_features, y_test, **kwargs)


RAW_PIXEL_BYTES = 2 << 30  # Most float32 raw-pixel features of a streamed dataset held for a probe.


def _streamed_features(encoder, dataset, label_fraction, seed):
    """`(train_features, y_train, test_features, y_test)` of a
    `StreamedImageDataset`, the training part cut to `label_fraction`:
    features of every training and test image, extracted batch by batch
    from its streams (`eval_batches`), the images never all in memory."""
    if encoder is None:
        size = (dataset.num_train + dataset.num_test) * int(np.prod(dataset.image_shape)) * 4
        if size > RAW_PIXEL_BYTES:
            raise ValueError(
                f"raw-pixel features of {dataset.name} would take {size / 2**30:.1f} GiB: "
                "evaluate without the raw-pixel baseline (zoo.evaluate --nobaselines)"
            )
        train_features, y_train = raw_pixel_features(dataset.eval_batches("train"))
        test_features, y_test = raw_pixel_features(dataset.eval_batches("test"))
    else:
        train_features, y_train = extract_features(encoder, dataset.eval_batches("train"))
        test_features, y_test = extract_features(encoder, dataset.eval_batches("test"))
    labelled = label_fraction_indices(y_train, label_fraction, seed)
    return train_features[labelled], y_train[labelled], test_features, y_test


def random_init_copy(encoder, seed=0):
    """The same architecture as `encoder`, freshly initialised (the
    random-initialisation baseline)."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(encoder))


def summarize(values):
    """Mean and standard deviation of a list of accuracies."""
    values = np.asarray(values, dtype="float64")
    return float(values.mean()), float(values.std())
