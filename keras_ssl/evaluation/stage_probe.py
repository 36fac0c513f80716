"""Linear probes on every stage of a backbone (the pretext papers' table)."""

import numpy as np

from keras_ssl.evaluation.linear_probe import linear_probe_accuracy


def _pooled_stage_features(encoder, images, layer_names, max_dim, batch_size):
    import keras
    import tensorflow as tf

    from keras_ssl.backbones.stages import stage_model

    stages = stage_model(encoder, layer_names)
    shapes = [tuple(o.shape[1:]) for o in stages.outputs]
    # Average-pool each map to the largest g x g grid with g*g*c <= max_dim
    # (Zhang et al. 2016 resize each layer to ~9k dims; ours are smaller).
    # Vector stages (an MLP's dense layers) are used as they are.
    pooled = []
    for output, shape in zip(stages.outputs, shapes):
        if len(shape) == 1:
            pooled.append(output)
            continue
        h, w, c = shape
        g = max(1, min(h, w, int(np.sqrt(max_dim / c))))
        pooled.append(keras.layers.Lambda(lambda t, g=g: tf.image.resize(t, (g, g), method="area"))(output))
    pooled = [keras.layers.Flatten()(p) for p in pooled]
    model = keras.Model(stages.input, pooled)
    outputs = model.predict(images, batch_size=batch_size, verbose=0)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [np.asarray(o, "float32") for o in outputs]


def stage_probe_accuracies(
    encoder,
    x_train,
    y_train,
    x_test,
    y_test,
    layer_names=None,
    max_dim=2048,
    batch_size=256,
    regularization=1.0,
    max_iter=300,
):
    """Linear-probe accuracy of each stage of `encoder`, frozen.

    Each stage's feature map is average-pooled to a `g x g` grid with at
    most `max_dim` features, standardised, and classified by logistic
    regression (`linear_probe_accuracy`): the per-layer evaluation of the
    pretext papers (Zhang et al. 2016, table 2; Noroozi & Favaro 2016).

    Args:
        encoder: keras.Model. A `ConvNet`, `ResNet` or `MLP` backbone (raw
            pixels in); an MLP's dense layers are probed unpooled.
        x_train, y_train: uint8 images `[N, H, W, C]` and int labels.
        x_test, y_test: the same for the test split.
        layer_names: list of str. Stage layers (default: `stage_layer_names`).
        max_dim: int. Features per stage after pooling.
        batch_size: int.
        regularization, max_iter: the probe's `C` and L-BFGS iterations.

    Returns:
        dict `{layer name: accuracy}` in stage order.

    Example:

    >>> stage_probe_accuracies(model.encoder, x[:1000], y[:1000], x_test, y_test)
    {'block1_relu': 0.71, 'block2_relu': 0.78, 'block3_relu': 0.80}
    """
    from keras_ssl.backbones.stages import stage_layer_names

    layer_names = list(layer_names or stage_layer_names(encoder))
    train = _pooled_stage_features(encoder, x_train, layer_names, max_dim, batch_size)
    test = _pooled_stage_features(encoder, x_test, layer_names, max_dim, batch_size)
    return {
        name: linear_probe_accuracy(a, y_train, b, y_test, regularization=regularization, max_iter=max_iter)
        for name, a, b in zip(layer_names, train, test)
    }
