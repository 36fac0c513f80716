"""tf.data pipelines over in-memory arrays."""

import tensorflow as tf


def image_batches(images, batch_size, labels=None, shuffle=True, seed=0, drop_remainder=True):
    """A `tf.data.Dataset` of raw image batches (and labels if given).

    Args:
        images: uint8 array `[N, H, W, C]`.
        batch_size: int. Global batch size (at most N).
        labels: optional int array `[N]`.
        shuffle: bool. Reshuffle every epoch.
        seed: int. Shuffle seed.
        drop_remainder: bool. Keep every batch full (static shapes; a
            contrastive batch then always has the same number of negatives).

    Example:

    >>> dataset = image_batches(np.zeros((10, 8, 8, 1), "uint8"), batch_size=4)
    >>> len(list(dataset))
    2
    """
    count = len(images)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if batch_size > count:
        raise ValueError(f"batch_size {batch_size} is larger than the dataset ({count} images): lower --batch_size")
    if labels is not None and len(labels) != count:
        raise ValueError(f"{count} images but {len(labels)} labels")
    elements = images if labels is None else (images, labels)
    dataset = tf.data.Dataset.from_tensor_slices(elements)
    if shuffle:
        dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def with_pipeline_views(dataset, augmenter, count=2):
    """Makes a contrastive method's views in the `tf.data` pipeline (on the
    host, overlapping the train step) instead of in the train step.

    By default SimCLR and MoCo augment inside `train_step` (on the
    accelerator, compiled with the step). This maps each batch of raw
    `images` (or `(images, labels)`) of `dataset` to `{"views": [B, count,
    H, W, C]}` float32 views drawn by a copy of `augmenter` (built from its
    config, outside any strategy scope), which the methods take as they
    are. The model and its training are otherwise the same.

    Args:
        dataset: `tf.data.Dataset` of raw image batches.
        augmenter: the method's augmenter (e.g. `model.augmenter`).
        count: int. Views per image (2 for SimCLR and MoCo).

    Example:

    >>> batches = with_pipeline_views(image_batches(x, 256), model.augmenter)
    >>> model.fit(batches, epochs=10)
    """
    copy = type(augmenter).from_config(augmenter.get_config())

    def make_views(images, *rest):
        images = tf.cast(images, "float32")
        return {"views": tf.stack([copy(images, training=True) for _ in range(count)], axis=1)}

    return dataset.map(make_views, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
