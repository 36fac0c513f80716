"""Exponential moving averages of weights (mean teacher, BYOL-style targets)."""

import keras
import tensorflow as tf


def ema_update(averages, values, decay):
    """Moves each variable of `averages` towards the matching one of `values`:
    `average.assign(decay * average + (1 - decay) * value)`.

    The weight averaging of mean teacher (Tarvainen & Valpola, NeurIPS 2017)
    and of the target networks of BYOL-style methods. Variables that are not
    floating point (counters) are copied. Inside a replica of a
    `tf.distribute` strategy the update moves to the cross-replica context
    and is applied to every copy of each variable, like an optimizer's
    update (the values are the same on every replica).

    Args:
        averages: list of variables. The running averages, updated in place.
        values: list of variables or tensors, same shapes, in the same order.
        decay: float or scalar tensor in [0, 1]. Weight of the old average.

    Example:

    >>> average, value = keras.Variable([0.0, 2.0]), keras.Variable([1.0, 0.0])
    >>> ema_update([average], [value], decay=0.9)
    >>> average.numpy()
    array([0.1, 1.8], dtype=float32)
    """
    averages, values = list(averages), list(values)
    if len(averages) != len(values):
        raise ValueError(f"ema_update got {len(averages)} averages but {len(values)} values")
    for average, value in zip(averages, values):
        if tuple(average.shape) != tuple(value.shape):
            raise ValueError(
                f"ema_update: average {getattr(average, 'path', average.name)} has shape {tuple(average.shape)} "
                f"but its value has shape {tuple(value.shape)}"
            )
    if tf.distribute.has_strategy() and not tf.distribute.in_cross_replica_context():
        tf.distribute.get_replica_context().merge_call(_update_all_replicas, args=(averages, values, decay))
        return
    for average, value in zip(averages, values):
        _update_one(average, value, decay)


def _update_one(average, value, decay):
    dtype = tf.as_dtype(average.dtype)
    value = tf.cast(value, dtype)
    if not dtype.is_floating:
        average.assign(value)
        return
    decay = tf.cast(decay, dtype)
    average.assign(decay * tf.convert_to_tensor(average) + (1.0 - decay) * value)


def _update_all_replicas(strategy, averages, values, decay):
    for average, value in zip(averages, values):
        # Unwrap Keras variables so the strategy hands each device its copy.
        strategy.extended.update(_unwrap(average), _update_one, args=(_unwrap(value), decay), group=False)


def _unwrap(variable):
    """The `tf.Variable` under a Keras variable (anything else as is)."""
    return variable.value if isinstance(variable, keras.Variable) else variable


def momentum_copy(network, name):
    """A copy of `network` (same architecture and weights, named `name`)
    whose weights are not trainable: the target network that
    `ema_update` moves towards `network` (mean teacher's teacher, MoCo's
    key encoder).

    The copy is made through Keras serialisation, so `network` must
    round-trip through `keras.saving.serialize_keras_object`; its weights
    are listed in the same order as `network`'s (checked), which is how
    `momentum_pairs` pairs them.

    Example:

    >>> teacher = momentum_copy(student, name="teacher")
    >>> ema_update(*momentum_pairs([(teacher, student)]), decay=0.999)
    """
    config = keras.saving.serialize_keras_object(network)
    if isinstance(config.get("config"), dict) and "name" in config["config"]:
        config["config"]["name"] = name
    copy = keras.saving.deserialize_keras_object(config)
    build_config = network.get_build_config() if network.built else None
    if not copy.built and build_config:  # A layer built by `build(shape)`.
        copy.build_from_config(build_config)
    names = [(w.name, tuple(w.shape)) for w in network.weights]
    if names != [(w.name, tuple(w.shape)) for w in copy.weights]:
        raise ValueError(
            f"could not copy {network.name}: the copy's weights differ in name or shape (the network must "
            "round-trip through keras.saving.serialize_keras_object)"
        )
    for average, value in zip(copy.weights, network.weights):
        average.assign(value)
        average.trainable = False
    return copy


def momentum_pairs(pairs):
    """`(averages, values)` for `ema_update` from `(target, source)` pairs
    of layers (e.g. from `momentum_copy`): the weights of each target that
    its source trains (the source's non-trainable weights, such as batch
    norm statistics, stay each network's own)."""
    matched = []
    for target, source in pairs:
        if len(target.weights) != len(source.weights):
            raise ValueError(
                f"{target.name} has {len(target.weights)} weights but {source.name} has "
                f"{len(source.weights)}: pair a network with its momentum_copy"
            )
        matched += [(t, s) for t, s in zip(target.weights, source.weights) if s.trainable]
    return [t for t, _ in matched], [s for _, s in matched]
