"""One SimCLR training step on a fixed global batch, saved for comparison.

Run in a fresh process (the `cpu:N` strategy must split the CPU before
TensorFlow runs any op):

    python tests/workers/simclr_step.py --strategy=cpu:2 --output=step.npz \
        --init-weights=init.npz

or all three runs the comparison needs, in one process (`--strategy=all`):
one replica into OUTPUT_DIR/single.npz, then two replicas from its weights
into mirrored.npz, and the same without gathering into local_negatives.npz:

    python tests/workers/simclr_step.py --strategy=all --output=OUTPUT_DIR

The model is tiny and deterministic: a seeded ResNet-8 with synchronized
batch norm, the identity as augmenter (both views are the image itself) and
plain SGD with learning rate 1, so each trainable variable moves by exactly
minus its gradient. The output `.npz` holds:

- `loss`: the step's loss as `fit` reports it;
- `num_replicas`: `strategy.num_replicas_in_sync`;
- `names`: the trainable variables' paths;
- `before_<i>` / `after_<i>`: trainable variable `i` before and after the step;
- `init_<i>` / `final_<i>`: every model weight (`model.get_weights()`
  order, batch-norm statistics included) before and after the step; start
  another run from the same point with `--init-weights`.

`--no-gather` computes NT-Xent on this replica's embeddings only (negatives
from the local batch), the bug the comparison must catch.
"""

import argparse
import functools
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GLOBAL_BATCH = 16
IMAGE_SHAPE = (16, 16, 1)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", default="default", help="default, cpu:N or all (the three runs)")
    parser.add_argument("--output", required=True, help=".npz file to write (a directory with --strategy=all)")
    parser.add_argument("--init-weights", help=".npz written by an earlier run: start from its init_<i> weights")
    parser.add_argument("--no-gather", action="store_true", help="NT-Xent without gathering across replicas")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)

    # The strategy comes first: cpu:N must split the CPU before any TF op.
    from keras_ssl.distribute import get_strategy

    if args.strategy != "all":
        return run(get_strategy(args.strategy), args.output, args.init_weights, args.no_gather)
    mirrored = get_strategy("cpu:2")
    import tensorflow as tf

    single = os.path.join(args.output, "single.npz")
    os.makedirs(args.output, exist_ok=True)
    run(tf.distribute.OneDeviceStrategy("/cpu:0"), single, None, False)
    run(mirrored, os.path.join(args.output, "mirrored.npz"), single, False)
    return run(mirrored, os.path.join(args.output, "local_negatives.npz"), single, True)


def run(strategy, output, init_weights, no_gather):
    """One step under `strategy`, saved to `output` (see the module docstring)."""
    import keras
    import numpy as np

    import keras_ssl.methods.contrastive.simclr as simclr_module
    from keras_ssl.backbones import ResNet
    from keras_ssl.losses.nt_xent import nt_xent
    from keras_ssl.methods import SimCLR

    simclr_module.nt_xent = functools.partial(nt_xent, gather=False) if no_gather else nt_xent

    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).integers(0, 256, size=(GLOBAL_BATCH, *IMAGE_SHAPE), dtype=np.uint8)

    with strategy.scope():
        backbone = ResNet(input_shape=IMAGE_SHAPE, depth=8, width=4, synchronized_batch_norm=True)
        model = SimCLR(
            backbone,
            projection_dim=8,
            synchronized_batch_norm=True,
            augmenter=keras.layers.Identity(),
        )
        if init_weights:
            with np.load(init_weights) as saved:
                model.set_weights([saved[f"init_{i}"] for i in range(len(model.weights))])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0))

    init = [np.array(w) for w in model.get_weights()]
    before = [v.numpy() for v in model.trainable_variables]
    history = model.fit(images, batch_size=GLOBAL_BATCH, epochs=1, shuffle=False, verbose=0)
    after = [v.numpy() for v in model.trainable_variables]
    final = [np.array(w) for w in model.get_weights()]

    arrays = {
        "loss": np.float64(history.history["loss"][-1]),
        "num_replicas": np.int64(strategy.num_replicas_in_sync),
        "names": np.array([v.path for v in model.trainable_variables]),
    }
    arrays.update({f"init_{i}": w for i, w in enumerate(init)})
    arrays.update({f"before_{i}": w for i, w in enumerate(before)})
    arrays.update({f"after_{i}": w for i, w in enumerate(after)})
    arrays.update({f"final_{i}": w for i, w in enumerate(final)})
    np.savez(output, **arrays)
    print(f"{output}: replicas={strategy.num_replicas_in_sync} loss={arrays['loss']:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
