"""One training step of a method on a fixed global batch, on one or two replicas.

Run in a fresh process (the `cpu:N` strategy must split the CPU before
TensorFlow runs any op), first on one replica, then on two from the same
starting weights:

    python tests/workers/one_step.py --strategy=default --output-dir=out/single CASE
    python tests/workers/one_step.py --strategy=cpu:2 --output-dir=out/mirrored --init-dir=out/single CASE

or both in one process (`out/single` on logical device `/cpu:0` alone, then
`out/mirrored` on both; one TensorFlow start instead of two):

    python tests/workers/one_step.py --strategy=both --output-dir=out CASE

CASE is `module:function`, a zero-argument builder in a test module that
returns `(model, x, y)`: a model (built inside `strategy.scope()` after
`keras.utils.set_random_seed(0)`, not yet compiled) and one global batch
(`y` may be None). The worker compiles it with plain SGD at learning rate 1
(so any difference in the gradients shows in the weights), fits one step
and writes `step.npz` with `loss`, `num_replicas`, `names` and every weight
before (`init_<i>`) and after (`final_<i>`) the step (state variables such
as memory banks included). Builders make the step deterministic: the
identity as augmenter and batch statistics synchronised over replicas.
"""

import argparse
import importlib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def run_case(case, strategy, output_dir, init_dir=None):
    """Builds `case` under `strategy`, fits one step and writes `step.npz`."""
    import keras
    import numpy as np

    module_name, function_name = case.split(":")
    builder = getattr(importlib.import_module(module_name), function_name)
    os.makedirs(output_dir, exist_ok=True)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model, x, y = builder()
        if init_dir:
            with np.load(os.path.join(init_dir, "step.npz")) as saved:
                model.set_weights([saved[f"init_{i}"] for i in range(len(model.weights))])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0))
    init = [np.array(w) for w in model.get_weights()]
    history = model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    arrays = {"loss": np.float64(history.history["loss"][-1]), "num_replicas": np.int64(strategy.num_replicas_in_sync)}
    arrays.update({f"init_{i}": w for i, w in enumerate(init)})
    arrays.update({f"final_{i}": np.array(w) for i, w in enumerate(model.get_weights())})
    arrays["names"] = np.array([w.path for w in model.weights])
    np.savez(os.path.join(output_dir, "step.npz"), **arrays)
    print(f"{case}: replicas={strategy.num_replicas_in_sync} loss={arrays['loss']:.6f}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", default="default", help="default, cpu:N, or both (see the module docstring)")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--init-dir", help="output dir of an earlier run: start from its init_<i> weights")
    parser.add_argument("case", help="module:function builder")
    args = parser.parse_args(argv)
    from keras_ssl.distribute import get_strategy

    if args.strategy != "both":
        strategy = get_strategy(args.strategy)  # Before any TF op.
        run_case(args.case, strategy, args.output_dir, args.init_dir)
        return 0
    from tests.workers import on_one_then_two_replicas

    on_one_then_two_replicas(lambda strategy, out, init: run_case(args.case, strategy, out, init), args.output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
