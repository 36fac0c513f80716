"""One MoCo training step on a fixed global batch, on one or two replicas.

Run in a fresh process (the `cpu:N` strategy must split the CPU before
TensorFlow runs any op), first on one replica, then on two from the same
starting weights:

    python tests/workers/moco_step.py --strategy=default --output-dir=out/single
    python tests/workers/moco_step.py --strategy=cpu:2 --output-dir=out/mirrored --init-dir=out/single

Deterministic: the identity as augmenter, a tiny ConvNet with synchronised
batch norm (so shuffling the keys across replicas changes no statistic),
plain SGD with learning rate 1. `MoCo.npz` holds `loss`, `num_replicas`, and
every weight (queue and pointer included) before (`init_<i>`) and after
(`final_<i>`) the step.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", default="default", help="default or cpu:N")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--init-dir", help="output dir of an earlier run: start from its init_<i> weights")
    args = parser.parse_args(argv)
    from keras_ssl.distribute import get_strategy

    strategy = get_strategy(args.strategy)

    import keras
    import numpy as np

    from keras_ssl.backbones import ConvNet
    from keras_ssl.methods import MoCo

    images = np.random.default_rng(0).integers(0, 256, size=(8, 16, 16, 1), dtype="uint8")
    os.makedirs(args.output_dir, exist_ok=True)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        backbone = ConvNet(input_shape=(16, 16, 1), filters=(4, 8), synchronized_batch_norm=True)
        model = MoCo(
            backbone,
            projection_dim=8,
            queue_size=32,
            momentum=0.9,
            temperature=0.2,
            augmenter=keras.layers.Identity(),
            seed=0,
        )
        if args.init_dir:
            with np.load(os.path.join(args.init_dir, "MoCo.npz")) as saved:
                model.set_weights([saved[f"init_{i}"] for i in range(len(model.weights))])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0))
    init = [np.array(w) for w in model.get_weights()]
    history = model.fit(images, batch_size=8, epochs=1, shuffle=False, verbose=0)
    arrays = {"loss": np.float64(history.history["loss"][-1]), "num_replicas": np.int64(strategy.num_replicas_in_sync)}
    arrays.update({f"init_{i}": w for i, w in enumerate(init)})
    arrays.update({f"final_{i}": np.array(w) for i, w in enumerate(model.get_weights())})
    arrays["names"] = np.array([w.path for w in model.weights])
    np.savez(os.path.join(args.output_dir, "MoCo.npz"), **arrays)
    print(f"MoCo: replicas={strategy.num_replicas_in_sync} loss={arrays['loss']:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
