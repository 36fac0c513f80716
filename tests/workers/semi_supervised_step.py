"""One training step of each semi-supervised method on a fixed global batch.

Run in a fresh process (the `cpu:N` strategy must split the CPU before
TensorFlow runs any op), first on one replica, then on two from the same
starting weights:

    python tests/workers/semi_supervised_step.py --strategy=default --output-dir=out/single
    python tests/workers/semi_supervised_step.py --strategy=cpu:2 --output-dir=out/mirrored \
        --init-dir=out/single

or both in one process (`--strategy=both --output-dir=out`: `out/single` on
logical device `/cpu:0` alone, then `out/mirrored` on both).

Each method is made deterministic: the identity as augmenter, no dropout,
the method's own switch for its other randomness (`DETERMINISTIC`), a tiny
ConvNet with synchronized batch norm and plain SGD with learning rate 1, so
each trainable variable moves by exactly minus its gradient. For every
method `<Class>.npz` holds `loss`, `num_replicas`, and every model weight
before (`init_<i>`) and after (`final_<i>`) the step.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

IMAGE_SHAPE = (16, 16, 1)
LABELLED, UNLABELLED = 8, 16
NUM_CLASSES = 4

# Constructor arguments that switch off each method's own randomness.
DETERMINISTIC = {
    "SupervisedOnly": {},
    "EntropyMinimization": {},
    "PseudoLabel": {"threshold": 0.0},
    "PiModel": {},
    "TemporalEnsembling": {"num_unlabelled": UNLABELLED},
    "MeanTeacher": {},
    "VAT": {"fixed_initial_direction": True},
    "MixMatch": {"mixup_alpha": 0.0},
}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", default="default", help="default, cpu:N, or both (one process)")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--init-dir", help="output dir of an earlier run: start from its init_<i> weights")
    parser.add_argument("--methods", default=",".join(DETERMINISTIC), help="comma-separated class names")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from keras_ssl.distribute import get_strategy

    if args.strategy == "both":
        from tests.workers import on_one_then_two_replicas

        return on_one_then_two_replicas(lambda strategy, out, init: run(args, strategy, out, init), args.output_dir)
    return run(args, get_strategy(args.strategy), args.output_dir, args.init_dir)


def run(args, strategy, output_dir, init_dir):

    import keras
    import numpy as np
    import tensorflow as tf

    import keras_ssl.methods as methods
    from keras_ssl.backbones import ConvNet

    rng = np.random.default_rng(0)
    x_l = rng.integers(0, 256, size=(LABELLED, *IMAGE_SHAPE), dtype=np.uint8)
    y_l = rng.integers(0, NUM_CLASSES, size=LABELLED)
    x_u = rng.integers(0, 256, size=(UNLABELLED, *IMAGE_SHAPE), dtype=np.uint8)
    os.makedirs(output_dir, exist_ok=True)

    for name in args.methods.split(","):
        cls = getattr(methods, name)
        kwargs = dict(DETERMINISTIC[name])
        unlabelled = (x_u, np.arange(UNLABELLED)) if name == "TemporalEnsembling" else x_u
        dataset = tf.data.Dataset.from_tensors(((x_l, y_l), unlabelled))
        keras.utils.set_random_seed(0)
        with strategy.scope():
            backbone = ConvNet(input_shape=IMAGE_SHAPE, filters=(4, 8), synchronized_batch_norm=True)
            model = cls(
                backbone, num_classes=NUM_CLASSES, augmenter=keras.layers.Identity(), dropout=0.0, seed=0, **kwargs
            )
            if init_dir:
                with np.load(os.path.join(init_dir, f"{name}.npz")) as saved:
                    model.set_weights([saved[f"init_{i}"] for i in range(len(model.weights))])
            model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0))
        init = [np.array(w) for w in model.get_weights()]
        history = model.fit(dataset, epochs=1, verbose=0)
        arrays = {
            "loss": np.float64(history.history["loss"][-1]),
            "num_replicas": np.int64(strategy.num_replicas_in_sync),
        }
        arrays.update({f"init_{i}": w for i, w in enumerate(init)})
        arrays.update({f"final_{i}": np.array(w) for i, w in enumerate(model.get_weights())})
        np.savez(os.path.join(output_dir, f"{name}.npz"), **arrays)
        print(
            f"{name}: replicas={strategy.num_replicas_in_sync} loss={arrays['loss']:.6f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
