"""Trains a tiny SimCLR for a few steps under MultiWorkerMirroredStrategy.

Start one process per worker, each with the same cluster in `TF_CONFIG` and
its own task index, for example on one machine:

    TF_CONFIG='{"cluster": {"worker": ["127.0.0.1:12345", "127.0.0.1:12346"]},
                "task": {"type": "worker", "index": 0}}' \
        python tests/workers/multi_worker_simclr.py --output-dir=/tmp/simclr &
    TF_CONFIG='{"cluster": {"worker": ["127.0.0.1:12345", "127.0.0.1:12346"]},
                "task": {"type": "worker", "index": 1}}' \
        python tests/workers/multi_worker_simclr.py --output-dir=/tmp/simclr

The workers wait for each other, train in lockstep (gradients are summed
across workers with collective ops, NT-Xent negatives and synchronized batch
norm span the global batch) and then save. Every worker saves, because
writing a model may read distributed variables, but only the chief (worker 0
when the cluster has no "chief" task) writes to `--output-dir/model.keras`;
the others write to a temporary directory and delete it.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

IMAGE_SHAPE = (16, 16, 1)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", required=True, help="where the chief writes model.keras")
    parser.add_argument("--steps", type=int, default=3, help="training steps")
    parser.add_argument("--global-batch-size", type=int, default=16, help="images per step over all workers")
    return parser.parse_args(argv)


def is_chief(task_type, task_id, cluster):
    """The chief is the "chief" task, or worker 0 when there is none."""
    if task_type is None or task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in cluster


def make_dataset(global_batch_size, seed=0, size=64):
    """An endless dataset of global batches of raw images (float pixels in [0, 255]).

    Each worker builds the same pipeline; `DATA` auto-sharding makes the
    distributed dataset hand every worker its own part of each global batch
    (in-memory data has no files to shard by). The pixels are cast to
    float32 because Keras 3.15 mean-reduces the first distributed batch
    across workers to build the model, and collective ops reject uint8.
    """
    import numpy as np
    import tensorflow as tf

    images = np.random.default_rng(seed).integers(0, 256, size=(size, *IMAGE_SHAPE), dtype=np.uint8)
    dataset = tf.data.Dataset.from_tensor_slices(images).repeat().batch(global_batch_size, drop_remainder=True)
    dataset = dataset.map(lambda batch: tf.cast(batch, "float32"))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def main(argv=None):
    args = parse_args(argv)
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = tf_config.get("task", {})
    cluster = tf_config.get("cluster", {})

    # The strategy comes first: it starts this worker's server and waits for the others.
    from keras_ssl.distribute import get_strategy

    strategy = get_strategy("multi_worker")

    import keras

    from keras_ssl.backbones import ResNet
    from keras_ssl.methods import SimCLR

    keras.utils.set_random_seed(0)
    with strategy.scope():
        backbone = ResNet(input_shape=IMAGE_SHAPE, depth=8, width=4, synchronized_batch_norm=True)
        model = SimCLR(backbone, projection_dim=8, synchronized_batch_norm=True, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))

    history = model.fit(make_dataset(args.global_batch_size), epochs=1, steps_per_epoch=args.steps, verbose=0)

    chief = is_chief(task.get("type"), task.get("index"), cluster)
    save_dir = args.output_dir if chief else tempfile.mkdtemp(prefix=f"worker{task.get('index')}_")
    os.makedirs(save_dir, exist_ok=True)
    model.save(os.path.join(save_dir, "model.keras"))
    if not chief:
        shutil.rmtree(save_dir, ignore_errors=True)

    print(
        f"worker {task.get('index')} of {strategy.num_replicas_in_sync} replicas: "
        f"loss={history.history['loss'][-1]:.4f}" + (f", saved {save_dir}/model.keras" if chief else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
