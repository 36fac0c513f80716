"""Frozen features of an encoder, extracted batch by batch."""

import math
import weakref

import keras
import numpy as np
import tensorflow as tf

# One traced inference function per encoder, kept while the encoder lives, so
# that repeated extractions (a kNN monitor every epoch) trace once.
_INFERENCE_FUNCTIONS = weakref.WeakKeyDictionary()


def extract_features(encoder, images, batch_size=512, verbose=0, steps=None):
    """Runs `encoder` in inference mode over `images`, one batch at a time,
    and returns float32 NumPy features `[N, D]`.

    Only the features are kept: a `tf.data.Dataset` is decoded a batch at a
    time, so a split larger than memory (a folder of images, TFRecords, a
    TFDS split) costs `N x D` floats, never its `N` decoded images.

    Args:
        encoder: keras.Model from raw pixels to features (a method's
            `encoder`, or the method itself).
        images: uint8 array `[N, H, W, C]`, or a `tf.data.Dataset` of batches
            `[B, H, W, C]` or `(images, labels)` batches (e.g.
            `StreamedImageDataset.eval_batches`).
        batch_size: int. Images per batch of an array (a dataset is already
            batched).
        verbose: int. 1 shows a `keras.utils.Progbar`.
        steps: int or None. Batches of a dataset to use; None runs it to its
            end (an infinite dataset needs `steps`).

    Returns:
        float32 array `[N, D]`; for a dataset of `(images, labels)` batches,
        the tuple `(features, labels)` with int64 labels `[N]`.

    Example:

    >>> features = extract_features(model.encoder, data.x_test)
    >>> features, labels = extract_features(model.encoder, data.eval_batches("test"), verbose=1)
    """
    function = _inference_function(encoder)
    return _map_batches(lambda batch: function(batch).numpy(), images, batch_size, verbose, steps, _input_rank(encoder))


def _input_rank(encoder):
    """The rank of the batches `encoder` takes, or None when not known."""
    try:
        inputs = encoder.inputs
    except (AttributeError, ValueError):
        return None
    return len(inputs[0].shape) if inputs and len(inputs) == 1 else None


def raw_pixel_features(images, steps=None):
    """The raw-pixel baseline: flattened pixels scaled to [0, 1].

    Args:
        images: uint8 array `[N, H, W, C]`, or a `tf.data.Dataset` of
            batches as in `extract_features` (then labels come back too when
            it yields them).
        steps: int or None. Batches of a dataset to use.

    Example:

    >>> train_features = raw_pixel_features(data.x_train)
    """
    if _is_dataset(images):
        return _map_batches(_flat_pixels, images, None, 0, steps, input_rank=4)
    return _flat_pixels(images)


def _flat_pixels(images):
    return np.asarray(images, dtype="float32").reshape(len(images), -1) / 255.0


def _inference_function(encoder):
    """`encoder(images, training=False)` as a `tf.function`."""
    function = _INFERENCE_FUNCTIONS.get(encoder)
    if function is None:
        reference = weakref.ref(encoder)  # The cache must not keep the encoder alive.

        @tf.function(reduce_retracing=True)
        def function(images):
            return tf.cast(reference()(images, training=False), tf.float32)

        _INFERENCE_FUNCTIONS[encoder] = function
    return function


def _is_dataset(images):
    return isinstance(images, tf.data.Dataset)


def _map_batches(features_of, images, batch_size, verbose, steps, input_rank=None):
    """`features_of` (a batch of images to a NumPy array) over an array in
    slices of `batch_size`, or over a dataset of batches (with labels when
    it yields them), flattened to `[N, D]` float32."""
    if _is_dataset(images):
        batches, labelled, num_batches = _dataset_batches(images, steps, input_rank)
        num_examples = None
    else:
        images = np.asarray(images)
        batches = (images[start : start + batch_size] for start in range(0, len(images), batch_size))
        labelled, num_batches, num_examples = False, math.ceil(len(images) / batch_size), len(images)
    progress = keras.utils.Progbar(num_batches, unit_name="batch") if verbose else None
    features, labels, filled = [], [], 0
    for step, batch in enumerate(batches, 1):
        if labelled:
            batch, batch_labels = batch
            labels.append(np.asarray(batch_labels, "int64").reshape(-1))
        batch_features = np.asarray(features_of(batch), "float32").reshape(len(batch), -1)
        if num_examples is None:
            features.append(batch_features)
        else:  # Preallocated: no second copy of the features at the end.
            if step == 1:
                features = np.empty((num_examples, batch_features.shape[1]), "float32")
            features[filled : filled + len(batch_features)] = batch_features
            filled += len(batch_features)
        if progress is not None:
            progress.update(step)
    if isinstance(features, list):
        features = np.concatenate(features) if features else np.zeros((0, 0), "float32")
    if labelled:
        return features, np.concatenate(labels) if labels else np.zeros((0,), "int64")
    return features


def _dataset_batches(dataset, steps, input_rank=None):
    """An iterator over `dataset`'s image batches or `(images, labels)`
    batches (at most `steps`), whether they hold labels, and the number of
    batches when it is known. `input_rank`: the rank of the batches the
    encoder takes, when known."""
    spec = dataset.element_spec
    if isinstance(spec, tuple) and len(spec) == 1:  # (images,) batches.
        dataset, spec = dataset.map(lambda images: images), spec[0]
    if isinstance(spec, tuple) and len(spec) == 2:
        labelled, image_spec = True, spec[0]
    elif isinstance(spec, tf.TensorSpec):
        labelled, image_spec = False, spec
    else:
        raise ValueError(f"the dataset must yield image batches or (images, labels) batches, got elements {spec}")
    if not isinstance(image_spec, tf.TensorSpec):
        raise ValueError(f"the dataset must yield image batches or (images, labels) batches, got elements {spec}")
    if input_rank is not None and image_spec.shape.rank == input_rank - 1:
        raise ValueError(
            f"the dataset yields single inputs of shape {image_spec.shape}, not batches: batch it (dataset.batch(256))"
        )
    count = int(dataset.cardinality())
    if steps is not None:
        dataset = dataset.take(steps)
        count = int(dataset.cardinality())
    elif count == tf.data.INFINITE_CARDINALITY:
        raise ValueError("the dataset repeats forever: pass steps=, the number of batches to extract")
    return iter(dataset), labelled, count if count >= 0 else None
