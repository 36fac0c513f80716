"""Strategy factory and cross-replica helpers.

Build and compile models inside `get_strategy(name).scope()`. Inside a
`train_step` the helpers below work the same with one replica or many, so a
loss written with them gives the same value and gradients on 1 and N replicas
for the same global batch.
"""

import keras
import tensorflow as tf

STRATEGY_NAMES = ("default", "mirrored", "multi_worker", "tpu", "cpu:N")


def get_strategy(name="default", tpu=None):
    """Returns the `tf.distribute.Strategy` called `name`.

    Args:
        name: str. One of `"default"` (no distribution), `"mirrored"` (all
            local GPUs, or the CPU), `"multi_worker"` (reads `TF_CONFIG`),
            `"tpu"`, or `"cpu:N"` (N logical CPU replicas, for testing
            distribution on a CPU-only machine; must be called before
            TensorFlow has run any op).
        tpu: str. For `"tpu"`: the TPU's name or `grpc://` address
            (`TPUClusterResolver(tpu=...)`); None finds it from the
            environment (a Cloud TPU VM).

    Example:

    >>> strategy = get_strategy("default")
    >>> strategy.num_replicas_in_sync
    1
    """
    if not isinstance(name, str):
        raise ValueError(f"strategy must be a string, got {name!r}: use one of {STRATEGY_NAMES}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if name.startswith("cpu:"):
        try:
            count = int(name.split(":", 1)[1])
        except ValueError:
            count = 0
        if count < 1:
            raise ValueError(f"strategy {name!r} is not valid: write cpu:N with N >= 1, e.g. cpu:2")
        return _logical_cpu_strategy(count)
    raise ValueError(f"Unknown strategy {name!r}: use one of {', '.join(STRATEGY_NAMES)}")


def _logical_cpu_strategy(count):
    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is None or len(current) != count:
        try:
            tf.config.set_logical_device_configuration(cpu, wanted)
        except RuntimeError as error:
            raise RuntimeError(
                f"strategy cpu:{count} must be created before TensorFlow runs any op "
                "(it splits the CPU into logical devices): create it first in a fresh process"
            ) from error
    devices = [f"/cpu:{i}" for i in range(count)]
    if count == 1:
        return tf.distribute.OneDeviceStrategy(devices[0])
    return tf.distribute.MirroredStrategy(devices, cross_device_ops=tf.distribute.ReductionToOneDevice())


def num_replicas_in_sync():
    """Number of replicas taking part in the current step (1 outside a strategy)."""
    context = tf.distribute.get_replica_context()
    if context is None:  # Cross-replica context.
        return tf.distribute.get_strategy().num_replicas_in_sync
    return context.num_replicas_in_sync


def is_multi_worker(strategy=None):
    """Whether `strategy` (default: the current one) spans several workers.

    True for a `MultiWorkerMirroredStrategy` whose `TF_CONFIG` cluster has
    more than one task, the case where Keras reduces step logs with
    collective ops across workers.
    """
    strategy = strategy if strategy is not None else tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    # The check Keras's TF trainer makes (a private method of the strategy).
    in_multi_worker_mode = getattr(strategy.extended, "_in_multi_worker_mode", None)
    return bool(in_multi_worker_mode()) if in_multi_worker_mode is not None else False


def cross_replica_concat(tensor):
    """Concatenates `tensor` along axis 0 over all replicas.

    Returns `(global_tensor, offset)` where `offset` is the index of this
    replica's first row inside `global_tensor`. Gradients flow back to every
    replica's rows (the gather's gradient is summed across replicas and
    sliced), so a loss on the gathered tensor trains each replica's inputs.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tensor, 0
    gathered = context.all_gather(tensor, axis=0)
    local = tf.shape(tensor)[0]
    replica_id = tf.cast(context.replica_id_in_sync_group, tf.int32)
    return gathered, replica_id * local


def replica_rows_of_global_draw(draw, local_count):
    """This replica's rows of a random draw made for the whole global batch.

    Under a mirrored strategy every replica holds the same seed-generator
    state, so a plain draw of `local_count` rows gives every replica the
    same numbers, and a different draw than one replica taking the whole
    batch. Here each replica draws `local_count * num_replicas` rows with
    `draw(count)` and keeps its own slice (replica `r`: rows
    `r * local_count` onwards), so a global batch gets the same draws on 1 or
    N replicas (when the replicas' batches are equal in size) and replicas
    get different ones. Outside a strategy it is `draw(local_count)`.

    Example:

    >>> noise = replica_rows_of_global_draw(
    ...     lambda n: keras.random.randint((n, 16), 0, 100, seed=generator), batch_size)
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return draw(local_count)
    rows = draw(local_count * context.num_replicas_in_sync)
    start = tf.cast(context.replica_id_in_sync_group, tf.int32) * local_count
    return rows[start : start + local_count]


class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A `keras.random.SeedGenerator` that gives every replica its own draws.

    Under a mirrored strategy a seed generator's state is a mirrored
    variable: every replica reads the same seed, so a plain generator gives
    every replica the same crops, jitters, masks and noise, and a global
    batch of N replicas holds N copies of one set of views. This generator
    folds the replica's index into each seed it hands out (with
    `tf.random.experimental.stateless_fold_in`, which XLA compiles) when
    more than one replica is in sync, and hands out the plain seed
    otherwise, so one-replica results do not change.

    Use it wherever a layer would use `keras.random.SeedGenerator` for
    random draws that should differ between replicas, and pass it as the
    `seed` of Keras's augmentation layers' `get_random_transformation`.

    Example:

    >>> generator = ReplicaSeedGenerator(seed=1)
    >>> noise = keras.random.normal((4, 8), seed=generator)
    """

    def next(self, ordered=True):
        seed = super().next(ordered=ordered)
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return seed
        replica = tf.cast(context.replica_id_in_sync_group, seed.dtype)
        return tf.cast(tf.random.experimental.stateless_fold_in(seed, replica), seed.dtype)
