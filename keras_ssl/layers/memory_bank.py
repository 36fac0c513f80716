"""Per-example state for contrastive methods: a memory bank and a queue.

Both hold non-trainable float32 variables created with `aggregation="none"`:
under a `tf.distribute` strategy every replica keeps a full copy, and every
update gathers all replicas' rows first (`cross_replica_concat`) and applies
the same write on each replica, so the copies stay identical. The updates are
plain variable ops (gather, scatter, assign): they run inside a `tf.function`
train step, also with `jit_compile=True`, and keep no Python-side state.
"""

import keras
import tensorflow as tf

from keras_ssl.distribute import cross_replica_concat, num_replicas_in_sync


def _resource(variable):
    """The `tf.Variable` behind a Keras variable (a `tf.Variable` is returned as is)."""
    return variable.value if isinstance(variable, keras.Variable) else variable


def _scatter_local(variable, indices, values):
    """Writes `values` at rows `indices` of `variable` on this replica only (no gathering)."""
    target = _resource(variable)
    values = tf.cast(values, target.dtype)
    target.scatter_update(tf.IndexedSlices(values, tf.cast(indices, tf.int32)))


def checked_indices(indices, size, message):
    """`indices` as int32, with checks that run with the step: every index
    is in `[0, size)`, else `tf.errors.InvalidArgumentError` with `message`
    (the one-line fix for the user). The rows of per-example state (memory
    banks, queues, ensembles, assignments) are looked up with it."""
    indices = tf.cast(indices, tf.int32)
    checks = [
        tf.debugging.assert_non_negative(indices, message=message),
        tf.debugging.assert_less(indices, size, message=message),
    ]
    with tf.control_dependencies([check for check in checks if check is not None]):
        return tf.identity(indices)


def scatter_rows(variable, indices, values, gathered=False):
    """Writes `values` at rows `indices` of `variable`, the same on every replica.

    Inside a replica of a `tf.distribute` strategy, `indices` and `values` of
    all replicas are concatenated (`cross_replica_concat`, in replica order)
    and every replica writes all of them into its own copy of `variable`, so
    copies of a variable created with `aggregation="none"` stay identical.
    Outside a strategy, or with one replica, it is a plain scatter update.
    When an index appears more than once, which of its rows is kept is
    unspecified.

    Args:
        variable: Keras variable or `tf.Variable` of shape `[N, ...]`,
            created with `aggregation="none"` under a strategy.
        indices: int tensor `[B]`. Rows of `variable` to write, in `[0, N)`.
        values: tensor `[B, ...]`. The new rows (cast to the variable's dtype).
        gathered: bool. `indices` and `values` already hold every replica's
            rows, the same on every replica (e.g. from `cross_replica_concat`):
            write them as they are, without gathering again.

    Example:

    >>> bank = keras.Variable(np.zeros((4, 2), "float32"), trainable=False)
    >>> scatter_rows(bank, [1, 3], np.ones((2, 2), "float32"))
    >>> keras.ops.convert_to_numpy(bank)[:, 0]
    array([0., 1., 0., 1.], dtype=float32)
    """
    indices, values = tf.cast(indices, tf.int32), tf.convert_to_tensor(values)
    if not gathered:
        indices, _ = cross_replica_concat(indices)
        values, _ = cross_replica_concat(values)
    _scatter_local(variable, indices, values)


def _unit_rows(rows):
    return tf.math.l2_normalize(rows, axis=-1)


def _seeded(initializer, seed):
    """`initializer` with `seed`, when it takes one and `seed` is given."""
    if seed is None:
        return initializer
    config = initializer.get_config()
    if "seed" not in config:
        return initializer
    return type(initializer).from_config({**config, "seed": seed})


def _check_size_and_dim(owner, size, dim):
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"{owner} size must be an int >= 1 (the number of rows to keep), got {size!r}")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"{owner} dim must be an int >= 1 (the size of each row), got {dim!r}")


def _check_rows(owner, values, dim):
    """Static check that `values` is `[B, dim]`; returns it as a float32 tensor."""
    values = tf.cast(tf.convert_to_tensor(values), tf.float32)
    if values.shape.rank is not None and values.shape.rank != 2:
        raise ValueError(f"{owner} takes values of shape [batch, {dim}], got shape {tuple(values.shape)}")
    if values.shape.rank == 2 and values.shape[-1] is not None and values.shape[-1] != dim:
        raise ValueError(
            f"{owner} holds rows of size dim={dim} but got values of shape {tuple(values.shape)}: "
            f"pass [batch, {dim}] values or build it with dim={values.shape[-1]}"
        )
    return values


@keras.saving.register_keras_serializable(package="keras_ssl")
class MemoryBank(keras.layers.Layer):
    """A table of one vector per training example, updated by a moving average.

    Wu, Xiong, Yu & Lin, "Unsupervised Feature Learning via Non-Parametric
    Instance Discrimination" (CVPR 2018): the bank keeps one 128-d unit
    vector per image; each step reads the vectors of sampled negatives and,
    after the step, moves the vectors of the batch's images towards their
    new features, `v <- normalize(m * v + (1 - m) * f)` with `m = 0.5`
    (`MemoryBank(size, 128, momentum=0.5, normalize=True)`).

    `call(indices)` returns the rows `indices` (int `[...]`) as float32
    `[..., dim]`. `update(indices, values)` writes
    `momentum * bank[indices] + (1 - momentum) * values`, L2-normalised
    when `normalize=True`, at rows `indices`; inside a replica of a
    `tf.distribute` strategy all replicas' rows are written on every replica
    (`scatter_rows`), so the copies of the bank stay identical. The bank is a
    non-trainable float32 variable `bank` of shape `[size, dim]`, created with
    `aggregation="none"`: create the layer inside `strategy.scope()`.

    Args:
        size: int >= 1. Number of rows (training examples).
        dim: int >= 1. Size of each row.
        momentum: float in [0, 1). Weight of the old row in an update; 0
            replaces rows.
        normalize: bool. Whether rows are unit vectors: the initial rows are
            the initializer's rows L2-normalised, and updated rows are
            L2-normalised.
        initializer: Keras initializer or its name, for the initial rows.
        seed: int or None. Seed of the initializer (when it takes one).
        **kwargs: passed to `keras.layers.Layer`.

    Example:

    >>> bank = MemoryBank(size=10, dim=4, momentum=0.5, normalize=True, seed=0)
    >>> bank.update(np.array([2, 7]), np.ones((2, 4), "float32"))
    >>> bank(np.array([2, 7])).shape
    TensorShape([2, 4])
    """

    def __init__(self, size, dim, momentum=0.0, normalize=False, initializer="random_normal", seed=None, **kwargs):
        super().__init__(**kwargs)
        _check_size_and_dim("MemoryBank", size, dim)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0.0 <= momentum < 1.0:
            raise ValueError(f"MemoryBank momentum must be a float in [0, 1) (0 replaces rows), got {momentum!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"MemoryBank seed must be an int or None, got {seed!r}")
        self.size = size
        self.dim = dim
        self.momentum = float(momentum)
        self.normalize = bool(normalize)
        self.initializer = keras.initializers.get(initializer)
        self.seed = seed
        base = _seeded(self.initializer, seed)
        if self.normalize:

            def initial_rows(shape, dtype=None):
                return _unit_rows(tf.cast(base(shape, dtype=dtype), tf.float32))
        else:
            initial_rows = base
        self.bank = self.add_weight(
            shape=(size, dim),
            initializer=initial_rows,
            dtype="float32",
            trainable=False,
            aggregation="none",
            autocast=False,
            name="bank",
        )
        self.built = True

    def _check_indices(self, indices):
        return checked_indices(
            indices,
            self.size,
            f"MemoryBank indices must be in [0, size={self.size}): index the training examples from 0",
        )

    def call(self, indices):
        return tf.gather(_resource(self.bank), self._check_indices(indices))

    def compute_output_shape(self, indices_shape):
        return tuple(indices_shape) + (self.dim,)

    def update(self, indices, values):
        """Moves rows `indices` (int `[B]`) towards `values` (`[B, dim]`):
        `momentum * old + (1 - momentum) * values`, L2-normalised when
        `normalize`; all replicas' rows are written on every replica."""
        values = _check_rows("MemoryBank.update", values, self.dim)
        indices = tf.convert_to_tensor(indices)
        if indices.shape.rank is not None and indices.shape.rank != 1:
            raise ValueError(f"MemoryBank.update takes indices of shape [batch], got shape {tuple(indices.shape)}")
        indices = self._check_indices(indices)
        # The copies are identical before the update, so this replica's old
        # rows are those every replica reads at the gathered indices.
        old = tf.gather(_resource(self.bank), indices)
        rows = self.momentum * old + (1.0 - self.momentum) * values
        if self.normalize:
            rows = _unit_rows(rows)
        scatter_rows(self.bank, indices, rows)

    def get_config(self):
        config = super().get_config()
        config.update(
            size=self.size,
            dim=self.dim,
            momentum=self.momentum,
            normalize=self.normalize,
            initializer=keras.initializers.serialize(self.initializer),
            seed=self.seed,
        )
        return config


@keras.saving.register_keras_serializable(package="keras_ssl")
class Queue(keras.layers.Layer):
    """A first-in first-out queue of the `size` most recent keys.

    He, Fan, Wu, Xie & Girshick, "Momentum Contrast for Unsupervised Visual
    Representation Learning" (CVPR 2020): the negatives of each step are the
    keys (momentum-encoder outputs) of the previous steps, kept in a queue;
    after each step the batch's keys are enqueued and the oldest dequeued.

    The queue is a non-trainable float32 variable `keys` of shape
    `[size, dim]` (random rows at the start) and a write position, the int32
    scalar variable `pointer`. `enqueue(values)` writes the rows of `values`
    (`[B, dim]`) at `(pointer + arange(n)) % size` and advances `pointer` by
    `n` (mod `size`); inside a replica of a `tf.distribute` strategy the keys
    of all replicas are gathered first (in replica order, `n` the global
    batch) and written on every replica, so the copies stay identical. Both
    variables are created with `aggregation="none"`: create the layer inside
    `strategy.scope()`. `call()` (or the `keys` variable) gives the contents
    in storage order, `size` rows, not in age order.

    Args:
        size: int >= 1. Number of keys kept; at least the global batch size.
        dim: int >= 1. Size of each key.
        normalize: bool. Whether keys are unit vectors: the initial rows are
            random unit vectors and enqueued keys are L2-normalised.
        seed: int or None. Seed of the initial random rows.
        **kwargs: passed to `keras.layers.Layer`.

    Example:

    >>> queue = Queue(size=8, dim=4, normalize=True, seed=0)
    >>> queue.enqueue(np.ones((3, 4), "float32"))
    >>> int(queue.pointer.numpy()), queue().shape
    (3, TensorShape([8, 4]))
    """

    def __init__(self, size, dim, normalize=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        _check_size_and_dim("Queue", size, dim)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"Queue seed must be an int or None, got {seed!r}")
        self.size = size
        self.dim = dim
        self.normalize = bool(normalize)
        self.seed = seed
        base = keras.initializers.RandomNormal(stddev=1.0, seed=seed)
        if self.normalize:

            def initial_rows(shape, dtype=None):
                return _unit_rows(tf.cast(base(shape, dtype=dtype), tf.float32))
        else:
            initial_rows = base
        self.keys = self.add_weight(
            shape=(size, dim),
            initializer=initial_rows,
            dtype="float32",
            trainable=False,
            aggregation="none",
            autocast=False,
            name="keys",
        )
        self.pointer = self.add_weight(
            shape=(),
            initializer="zeros",
            dtype="int32",
            trainable=False,
            aggregation="none",
            autocast=False,
            name="pointer",
        )
        self.built = True

    def call(self, inputs=None):
        """Returns the contents of the queue, float32 `[size, dim]` (`inputs` is ignored)."""
        return tf.identity(_resource(self.keys))

    def compute_output_shape(self, input_shape=None):
        return (self.size, self.dim)

    def enqueue(self, values):
        """Enqueues `values` (`[B, dim]`, this replica's keys; all replicas'
        keys in replica order under a strategy), replacing the oldest keys."""
        values = _check_rows("Queue.enqueue", values, self.dim)
        local = values.shape[0]
        if local is not None and local * num_replicas_in_sync() > self.size:
            raise ValueError(
                f"Queue of size {self.size} cannot take a global batch of {local * num_replicas_in_sync()} keys "
                f"({local} per replica x {num_replicas_in_sync()} replicas): build it with size >= the global batch"
            )
        values, _ = cross_replica_concat(values)
        if self.normalize:
            values = _unit_rows(values)
        count = tf.shape(values)[0]
        check = tf.debugging.assert_less_equal(
            count,
            self.size,
            message=f"Queue of size {self.size} got a larger global batch of keys: build it with size >= the batch",
        )
        with tf.control_dependencies([check] if check is not None else []):
            pointer = tf.identity(_resource(self.pointer).read_value())
        rows = (pointer + tf.range(count, dtype=tf.int32)) % self.size
        _scatter_local(self.keys, rows, values)
        _resource(self.pointer).assign((pointer + count) % self.size)

    def get_config(self):
        config = super().get_config()
        config.update(size=self.size, dim=self.dim, normalize=self.normalize, seed=self.seed)
        return config
