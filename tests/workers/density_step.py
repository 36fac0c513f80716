"""One training step of each density model on a fixed global batch.

Run in a fresh process (the `cpu:N` strategy must split the CPU before
TensorFlow runs any op), first on one replica, then on two from the same
starting weights:

    python tests/workers/density_step.py --strategy=default --output-dir=out/single
    python tests/workers/density_step.py --strategy=cpu:2 --output-dir=out/mirrored --init-dir=out/single

or both in one process (`--strategy=both --output-dir=out`: `out/single` on
logical device `/cpu:0` alone, then `out/mirrored` on both).

The models draw nothing at random while training; plain SGD with learning
rate 1 moves each trainable variable by exactly minus its gradient. For
every case `<name>.npz` holds `loss`, `num_replicas`, and every model weight
before (`init_<i>`) and after (`final_<i>`) the step.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

IMAGE_SHAPE = (8, 8, 1)
BATCH = 8
# name -> (class, constructor arguments): small models of each kind.
CASES = {
    "FVSBN": ("FVSBN", {}),
    "NADE": ("NADE", {"hidden_units": 8}),
    "PixelCNN": ("PixelCNN", {"filters": 8, "num_layers": 2, "kernel_size": 3}),
    "GatedPixelCNN": ("PixelCNN", {"filters": 8, "num_layers": 2, "kernel_size": 3, "gated": True}),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", default="default", help="default, cpu:N, or both (one process)")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--init-dir", help="output dir of an earlier run: start from its init_<i> weights")
    args = parser.parse_args(argv)
    from keras_ssl.distribute import get_strategy

    if args.strategy == "both":
        from tests.workers import on_one_then_two_replicas

        return on_one_then_two_replicas(lambda strategy, out, init: run(args, strategy, out, init), args.output_dir)
    return run(args, get_strategy(args.strategy), args.output_dir, args.init_dir)


def run(args, strategy, output_dir, init_dir):

    import keras
    import numpy as np

    import keras_ssl.methods as methods

    images = (np.random.default_rng(0).random((BATCH, *IMAGE_SHAPE)) < 0.4).astype("uint8")
    os.makedirs(output_dir, exist_ok=True)
    for name, (class_name, kwargs) in CASES.items():
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = getattr(methods, class_name)(input_shape=IMAGE_SHAPE, seed=0, **kwargs)
            if init_dir:
                with np.load(os.path.join(init_dir, f"{name}.npz")) as saved:
                    model.set_weights([saved[f"init_{i}"] for i in range(len(model.weights))])
            model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0))
        init = [np.array(w) for w in model.get_weights()]
        history = model.fit(images, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
        arrays = {
            "loss": np.float64(history.history["loss"][-1]),
            "num_replicas": np.int64(strategy.num_replicas_in_sync),
        }
        arrays.update({f"init_{i}": w for i, w in enumerate(init)})
        arrays.update({f"final_{i}": np.array(w) for i, w in enumerate(model.get_weights())})
        np.savez(os.path.join(output_dir, f"{name}.npz"), **arrays)
        print(f"{name}: replicas={strategy.num_replicas_in_sync} loss={arrays['loss']:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
