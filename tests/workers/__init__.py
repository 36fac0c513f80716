"""Scripts the tests run in fresh processes (see each module's docstring)."""

import os


def on_one_then_two_replicas(run, output_dir):
    """The `--strategy=both` mode of the step workers: splits the CPU into
    two logical devices (before any TensorFlow op), then calls
    `run(strategy, output_dir, init_dir)` on `/cpu:0` alone into
    `output_dir/single`, and on both devices into `output_dir/mirrored`
    starting from the single run's weights. One process, one TensorFlow
    start, for the 1-vs-2-replica comparisons."""
    from keras_ssl.distribute import get_strategy

    mirrored = get_strategy("cpu:2")
    import tensorflow as tf

    single = os.path.join(output_dir, "single")
    run(tf.distribute.OneDeviceStrategy("/cpu:0"), single, None)
    return run(mirrored, os.path.join(output_dir, "mirrored"), single)
