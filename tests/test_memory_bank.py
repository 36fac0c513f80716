"""MemoryBank, Queue and scatter_rows: NumPy references, saving, errors, replicas.

The replica tests run in this process under a one-replica
`MirroredStrategy` (mirrored variables, replica context) and with a stand-in
for `cross_replica_concat` that adds a second replica's rows; a real
two-replica strategy needs logical CPUs configured before TensorFlow runs any
op, which only the subprocess workers of tests/test_distribute.py do.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.layers import MemoryBank, Queue, scatter_rows
from keras_ssl.layers import memory_bank as memory_bank_module
from keras_ssl.methods.base import Method
from tests.test_case import TestCase


def np_unit_rows(rows):
    return rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-6)


def np_memory_update(bank, indices, values, momentum, normalize):
    expected = bank.copy()
    rows = momentum * bank[indices] + (1.0 - momentum) * values
    expected[indices] = np_unit_rows(rows) if normalize else rows
    return expected


class NumpyQueue:
    """Reference FIFO: a ring buffer of `size` rows and a write position."""

    def __init__(self, keys):
        self.keys = keys.copy()
        self.pointer = 0

    def enqueue(self, values):
        for row in values:
            self.keys[self.pointer] = row
            self.pointer = (self.pointer + 1) % len(self.keys)


def numpy(variable):
    return keras.ops.convert_to_numpy(variable)


@keras.saving.register_keras_serializable(package="keras_ssl_tests")
class StateModel(keras.Model):
    """A model holding a MemoryBank and a Queue: returns the bank's rows."""

    def __init__(self, size=6, dim=3, queue_size=5, **kwargs):
        super().__init__(**kwargs)
        self.size, self.dim, self.queue_size = size, dim, queue_size
        self.memory = MemoryBank(size, dim, momentum=0.5, normalize=True, seed=1)
        self.queue = Queue(queue_size, dim, seed=2)

    def call(self, indices):
        return self.memory(indices)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "dim": self.dim, "queue_size": self.queue_size}


class TestMemoryBank(TestCase):
    @pytest.mark.parametrize("momentum,normalize", [(0.0, False), (0.5, True), (0.9, False)])
    def test_update_matches_numpy(self, rng, momentum, normalize):
        bank = MemoryBank(8, 4, momentum=momentum, normalize=normalize, seed=0)
        expected = numpy(bank.bank)
        for indices in ([1, 5, 6], [0, 5], [7]):
            indices = np.array(indices)
            values = rng.normal(size=(len(indices), 4)).astype("float32")
            expected = np_memory_update(expected, indices, values, momentum, normalize)
            bank.update(indices, values)
            np.testing.assert_allclose(numpy(bank.bank), expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(numpy(bank(np.array([5, 0]))), expected[[5, 0]], rtol=1e-5, atol=1e-6)

    def test_update_leaves_other_rows(self, rng):
        bank = MemoryBank(6, 3, momentum=0.5)
        before = numpy(bank.bank)
        bank.update(np.array([2, 4]), rng.normal(size=(2, 3)).astype("float32"))
        after = numpy(bank.bank)
        untouched = [0, 1, 3, 5]
        np.testing.assert_array_equal(after[untouched], before[untouched])
        assert not np.allclose(after[[2, 4]], before[[2, 4]])

    def test_initial_rows(self):
        unit = numpy(MemoryBank(16, 5, normalize=True, seed=3).bank)
        np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-5)
        np.testing.assert_array_equal(unit, numpy(MemoryBank(16, 5, normalize=True, seed=3).bank))
        assert not np.allclose(unit, numpy(MemoryBank(16, 5, normalize=True, seed=4).bank))
        np.testing.assert_array_equal(numpy(MemoryBank(4, 2, initializer="zeros").bank), np.zeros((4, 2)))
        bank = MemoryBank(4, 2)
        assert bank.bank.dtype == "float32" and not bank.bank.trainable
        assert len(bank.trainable_weights) == 0

    def test_tf_function_and_jit(self, rng):
        bank = MemoryBank(8, 4, momentum=0.5, normalize=True, seed=0)
        expected = numpy(bank.bank)

        @tf.function(jit_compile=True)
        def step(indices, values):
            bank.update(indices, values)
            return bank(indices)

        for _ in range(2):
            indices = rng.permutation(8)[:3].astype("int32")
            values = rng.normal(size=(3, 4)).astype("float32")
            expected = np_memory_update(expected, indices, values, 0.5, True)
            rows = step(tf.constant(indices), tf.constant(values))
            np.testing.assert_allclose(numpy(rows), expected[indices], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(numpy(bank.bank), expected, rtol=1e-5, atol=1e-6)

    def test_config_round_trip(self):
        clone = self.run_config_test(
            MemoryBank(7, 3, momentum=0.5, normalize=True, initializer="glorot_uniform", seed=5, name="bank")
        )
        assert (clone.size, clone.dim, clone.momentum, clone.normalize, clone.seed) == (7, 3, 0.5, True, 5)
        assert tuple(clone.bank.shape) == (7, 3)

    @pytest.mark.parametrize(
        "kwargs,match",
        [
            (dict(size=0, dim=2), "size must be an int >= 1"),
            (dict(size=4, dim=0), "dim must be an int >= 1"),
            (dict(size=4, dim=2, momentum=1.0), r"momentum must be a float in \[0, 1\)"),
            (dict(size=4, dim=2, momentum=-0.1), r"momentum must be a float in \[0, 1\)"),
            (dict(size=4.0, dim=2), "size must be an int"),
            (dict(size=4, dim=2, seed="0"), "seed must be an int or None"),
        ],
    )
    def test_bad_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            MemoryBank(**kwargs)

    def test_bad_values_and_indices(self):
        bank = MemoryBank(4, 3)
        with pytest.raises(ValueError, match="dim=3"):
            bank.update(np.array([0]), np.zeros((1, 2), "float32"))
        with pytest.raises(ValueError, match=r"indices of shape \[batch\]"):
            bank.update(np.array([[0]]), np.zeros((1, 3), "float32"))
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, size=4\)"):
            bank.update(np.array([4]), np.zeros((1, 3), "float32"))
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, size=4\)"):
            bank(np.array([-1]))


class TestQueue(TestCase):
    def test_fifo_and_wrap_around(self, rng):
        queue = Queue(7, 3, seed=0)
        reference = NumpyQueue(numpy(queue.keys))
        for batch in (3, 2, 4, 7, 1, 5):
            values = rng.normal(size=(batch, 3)).astype("float32")
            queue.enqueue(values)
            reference.enqueue(values)
            np.testing.assert_array_equal(numpy(queue()), reference.keys)
            assert int(numpy(queue.pointer)) == reference.pointer
        assert reference.pointer == 22 % 7

    def test_normalize(self, rng):
        queue = Queue(6, 4, normalize=True, seed=1)
        np.testing.assert_allclose(np.linalg.norm(numpy(queue.keys), axis=1), 1.0, rtol=1e-5)
        values = rng.normal(size=(4, 4)).astype("float32") * 3.0
        queue.enqueue(values)
        np.testing.assert_allclose(numpy(queue.keys)[:4], np_unit_rows(values), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(numpy(Queue(6, 4, seed=1).keys), numpy(Queue(6, 4, seed=1).keys))

    def test_tf_function_and_jit(self, rng):
        queue = Queue(5, 2, seed=0)
        reference = NumpyQueue(numpy(queue.keys))

        @tf.function(jit_compile=True)
        def step(values):
            queue.enqueue(values)
            return queue()

        for _ in range(4):
            values = rng.normal(size=(3, 2)).astype("float32")
            reference.enqueue(values)
            np.testing.assert_array_equal(numpy(step(tf.constant(values))), reference.keys)
        assert int(numpy(queue.pointer)) == reference.pointer == 12 % 5
        assert queue.pointer.dtype == "int32" and len(queue.trainable_weights) == 0

    def test_config_round_trip(self):
        clone = self.run_config_test(Queue(9, 4, normalize=True, seed=3, name="queue"))
        assert (clone.size, clone.dim, clone.normalize, clone.seed) == (9, 4, True, 3)
        assert tuple(clone.keys.shape) == (9, 4)

    @pytest.mark.parametrize(
        "kwargs,match",
        [
            (dict(size=0, dim=2), "size must be an int >= 1"),
            (dict(size=4, dim=-1), "dim must be an int >= 1"),
            (dict(size=4, dim=2, seed=1.5), "seed must be an int or None"),
        ],
    )
    def test_bad_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            Queue(**kwargs)

    def test_batch_larger_than_queue(self):
        queue = Queue(4, 2)
        with pytest.raises(ValueError, match="size >= the global batch"):
            queue.enqueue(np.zeros((5, 2), "float32"))
        with pytest.raises(ValueError, match="dim=2"):
            queue.enqueue(np.zeros((2, 3), "float32"))

        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
        def step(values):  # Batch size unknown while tracing: checked when run.
            queue.enqueue(values)

        step(tf.zeros((4, 2)))
        with pytest.raises(tf.errors.InvalidArgumentError, match="size >= the batch"):
            step(tf.zeros((5, 2)))


def test_saved_model_keeps_contents(tmp_path, rng):
    model = StateModel()
    model(np.array([0, 1]))
    model.memory.update(np.array([1, 4]), rng.normal(size=(2, 3)).astype("float32"))
    model.queue.enqueue(rng.normal(size=(3, 3)).astype("float32"))
    path = os.path.join(str(tmp_path), "state.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, StateModel)
    np.testing.assert_array_equal(numpy(restored.memory.bank), numpy(model.memory.bank))
    np.testing.assert_array_equal(numpy(restored.queue.keys), numpy(model.queue.keys))
    assert int(numpy(restored.queue.pointer)) == 3
    np.testing.assert_array_equal(numpy(restored(np.array([4, 1]))), numpy(model(np.array([4, 1]))))


def test_functional_model_saving(tmp_path, rng):
    indices = keras.Input(shape=(), dtype="int32")
    bank = MemoryBank(5, 2, seed=0)
    model = keras.Model(indices, bank(indices))
    bank.update(np.array([3]), np.ones((1, 2), "float32"))
    path = os.path.join(str(tmp_path), "functional.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(restored.predict(np.arange(5), verbose=0), numpy(bank.bank))


def test_scatter_rows():
    variable = keras.Variable(np.zeros((4, 2), "float32"), trainable=False)
    scatter_rows(variable, [1, 3], np.array([[1.0, 2.0], [3.0, 4.0]], "float32"))
    np.testing.assert_array_equal(numpy(variable), [[0, 0], [1, 2], [0, 0], [3, 4]])
    plain = tf.Variable(np.zeros((3, 1), "float32"))
    scatter_rows(plain, tf.constant([2]), tf.constant([[5.0]]))
    np.testing.assert_array_equal(plain.numpy(), [[0], [0], [5]])


class TestReplicas:
    def test_one_replica_mirrored_strategy(self, rng):
        """Mirrored variables updated in replica context under `strategy.run`."""
        strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
        with strategy.scope():
            bank = MemoryBank(6, 3, momentum=0.5, seed=0)
            queue = Queue(4, 3, seed=0)
        expected_bank = numpy(bank.bank)
        reference = NumpyQueue(numpy(queue.keys))
        indices = np.array([0, 5], "int32")
        values = rng.normal(size=(2, 3)).astype("float32")

        @tf.function
        def step(indices, values):
            def replica_step(indices, values):
                bank.update(indices, values)
                queue.enqueue(values)

            strategy.run(replica_step, args=(indices, values))

        for _ in range(3):
            step(tf.constant(indices), tf.constant(values))
            expected_bank = np_memory_update(expected_bank, indices, values, 0.5, False)
            reference.enqueue(values)
        for copy in strategy.experimental_local_results(bank.bank.value):
            np.testing.assert_allclose(copy.numpy(), expected_bank, rtol=1e-5, atol=1e-6)
        for copy in strategy.experimental_local_results(queue.keys.value):
            np.testing.assert_array_equal(copy.numpy(), reference.keys)
        assert int(numpy(queue.pointer)) == reference.pointer == 6 % 4

    def test_all_replicas_rows_are_written(self, rng, monkeypatch):
        """With a second replica's rows gathered in (a stand-in for
        `cross_replica_concat` on replica 1), both replicas' rows land, in
        replica order, and the queue gathers once."""
        other = {
            tf.int32: tf.constant([0, 2], tf.int32),
            tf.float32: tf.constant(rng.normal(size=(2, 3)).astype("float32")),
        }
        calls = []

        def two_replica_concat(tensor):
            calls.append(tensor)
            return tf.concat([other[tensor.dtype], tensor], axis=0), tf.shape(tensor)[0]

        monkeypatch.setattr(memory_bank_module, "cross_replica_concat", two_replica_concat)
        queue = Queue(5, 3, seed=0)
        reference = NumpyQueue(numpy(queue.keys))
        keys = rng.normal(size=(2, 3)).astype("float32")
        queue.enqueue(keys)
        assert len(calls) == 1
        reference.enqueue(np.concatenate([numpy(other[tf.float32]), keys]))
        np.testing.assert_array_equal(numpy(queue.keys), reference.keys)
        assert int(numpy(queue.pointer)) == 4

        other[tf.float32] = tf.constant(rng.normal(size=(2, 3)).astype("float32"))
        bank = MemoryBank(6, 3, momentum=0.0, seed=0)
        before = numpy(bank.bank)
        rows = rng.normal(size=(2, 3)).astype("float32")
        bank.update(np.array([3, 5]), rows)
        after = numpy(bank.bank)
        assert len(calls) == 3  # The queue's keys, then the bank's indices and rows.
        np.testing.assert_array_equal(after[[0, 2]], numpy(other[tf.float32]))
        np.testing.assert_allclose(after[[3, 5]], rows, rtol=1e-6)
        np.testing.assert_array_equal(after[[1, 4]], before[[1, 4]])


class _StateUnderReplicas(Method):
    """A tiny method whose `after_update` writes a memory bank and a queue;
    its metrics read how much of them earlier steps wrote."""

    metric_names = ("loss", "bank_rows", "queue_pointer")

    def __init__(self, size=32, dim=4, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(dim, name="dense")
        self.dense.build((None, 1))
        self.bank = MemoryBank(size, dim, initializer="zeros", name="bank")
        self.queue = Queue(2 * size, dim, name="queue")
        self.built = True

    def compute_losses(self, batch, training):
        features = self.dense(tf.cast(batch[:, None], "float32"))
        rows = tf.reduce_sum(tf.cast(tf.reduce_any(self.bank.bank.value != 0.0, axis=1), "float32"))
        return {
            "loss": tf.reduce_mean(tf.square(features)),
            "bank_rows": rows,
            "queue_pointer": tf.cast(self.queue.pointer.value, "float32"),
        }

    def after_update(self, batch):
        values = tf.ones([tf.shape(batch)[0], self.bank.dim]) * tf.cast(batch[:, None] + 1, "float32")
        self.bank.update(batch, values)
        self.queue.enqueue(values)


def build_for_strategy_test():
    """4 steps of global batches of 8 indices (0-31) for the cpu:2 worker:
    with every replica's rows written on every replica, the metrics average
    (0 + 8 + 16 + 24) / 4 = 12 over the epoch (6 if each replica kept only
    its own)."""
    model = _StateUnderReplicas(seed=0)
    model.compile(optimizer="sgd")
    return model, tf.data.Dataset.range(32).batch(8).map(lambda x: tf.cast(x, "int32")), {}
