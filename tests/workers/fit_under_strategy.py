"""Fits methods for a few steps under a strategy, in a fresh process.

Each case is `module:function`, a zero-argument builder in a test module
that returns `(model, data, fit_kwargs)`: a compiled model (the worker calls
the builder inside `strategy.scope()`), what `fit` takes as `x`, and extra
`fit` arguments (e.g. `batch_size`, `steps_per_epoch`). The worker fits
each case for one epoch (or `--steps`), under each of `--dtype_policies`
(the global policy is set before the builder runs), with XLA if
`--jit_compile`, and prints one JSON line per case and policy:

    {"case": "tests.test_rotation:build_for_strategy_test", "policy": "float32", "replicas": 2, "loss": 1.38,
     "finite": true, "jit_compile": false, "compute_dtype": "float32", "seconds": 2.5}

    python tests/workers/fit_under_strategy.py --strategy=cpu:2 \
        tests.test_rotation:build_for_strategy_test tests.test_jigsaw:build_for_strategy_test

A case that raises prints `"error"` with the exception's last line and the
worker exits 1 after the other cases.
"""

import argparse
import importlib
import json
import os
import sys
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", default="cpu:2")
    parser.add_argument("--jit_compile", action="store_true", help="train each case's step with XLA")
    parser.add_argument("--steps", type=int, help="steps per case (default: one epoch)")
    parser.add_argument(
        "--dtype_policies", default="float32", help="comma-separated Keras dtype policies, each case runs under each"
    )
    parser.add_argument("cases", nargs="+", help="module:function builders")
    args = parser.parse_args(argv)

    from keras_ssl.distribute import get_strategy

    strategy = get_strategy(args.strategy)  # Before any TF op.

    import keras
    import numpy as np

    failed = False
    for policy, case in [(p, c) for p in args.dtype_policies.split(",") for c in args.cases]:
        keras.mixed_precision.set_global_policy(policy)
        module_name, function_name = case.split(":")
        start = time.time()
        try:
            builder = getattr(importlib.import_module(module_name), function_name)
            with strategy.scope():
                model, data, fit_kwargs = builder()
                if args.jit_compile:
                    # Keras's setter falls back to False (with a warning) when
                    # a layer does not support XLA: reported below.
                    model.jit_compile = True
            if args.steps:
                fit_kwargs = {**fit_kwargs, "steps_per_epoch": args.steps}
            history = model.fit(data, epochs=1, verbose=0, **fit_kwargs)
            losses = {k: float(np.ravel(v)[-1]) for k, v in history.history.items()}
            loss = losses.get("loss", next(iter(losses.values())))
            result = {
                "case": case,
                "policy": policy,
                "replicas": int(strategy.num_replicas_in_sync),
                "loss": loss,
                "metrics": losses,
                "finite": bool(all(np.isfinite(v) for v in losses.values())),
                "jit_compile": bool(model.jit_compile),
                "compute_dtype": model.compute_dtype,
                "seconds": round(time.time() - start, 1),
            }
        except Exception as error:  # Reported per case; the test prints it.
            failed = True
            last = traceback.format_exc().strip().splitlines()[-1]
            # XLA's message names the op it has no kernel for on some line.
            last = next((line for line in str(error).splitlines() if "unsupported operations" in line), last)
            result = {"case": case, "policy": policy, "error": f"{type(error).__name__}: {last}"}
        print(json.dumps(result), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
