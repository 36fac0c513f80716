"""Every method's train step compiles under XLA (TPUs run nothing else).

One fresh process (tests/workers/fit_under_strategy.py --jit_compile) sets
`model.jit_compile = True` on each method's tiny model, the one its own test
module builds for the strategy test (default augmenters: crops, jitter,
translations, masks), and fits two steps. Keras falls back to
`jit_compile=False` with only a warning when a layer says it does not
support XLA: the worker reports `model.jit_compile` after `fit`, and every
case must still say True. A step XLA cannot compile fails `fit` outright.
"""

import json

import keras
import numpy as np
import pytest

from keras_ssl.backbones import ConvNet
from tests.test_case import run_python
from tests.test_strategy_training import CASES as STRATEGY_CASES

SEMI_SUPERVISED = (
    "SupervisedOnly",
    "EntropyMinimization",
    "PseudoLabel",
    "PiModel",
    "TemporalEnsembling",
    "MeanTeacher",
    "VAT",
    "MixMatch",
)

# Noise As Targets solves its assignment with SciPy's Hungarian algorithm
# (`tf.numpy_function`), which XLA cannot compile: it says `supports_jit =
# False`, so `compile(jit_compile=True)` raises (tests/test_method_base.py).
NOT_YET = ("tests.test_noise_as_targets:build_for_strategy_test",)

# The language methods (word2vec's pairs and CBOW, BERT, the neural and the
# character language models) also train under XLA (README, "Accelerators");
# this test keeps to the image methods, whose augmenters were the problem.
LANGUAGE = ("word2vec", "bert_pretraining", "language_model", "memory_bank")

CASES = [case for case in STRATEGY_CASES if case not in NOT_YET and not any(name in case for name in LANGUAGE)] + [
    "tests.test_xla:build_simclr",
    *(f"tests.test_xla:build_{name}" for name in SEMI_SUPERVISED),
]


def build_simclr():
    from keras_ssl.methods import SimCLR

    model = SimCLR(ConvNet(input_shape=(16, 16, 3), filters=(4, 8)), projection_dim=8, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    images = np.random.default_rng(0).integers(0, 256, (32, 16, 16, 3), dtype="uint8")
    return model, images, {"batch_size": 16}


def _build_semi_supervised(name):
    import tensorflow as tf

    import keras_ssl.methods as methods

    rng = np.random.default_rng(0)
    x_l = rng.integers(0, 256, (8, 16, 16, 1), dtype="uint8")
    y_l = rng.integers(0, 4, 8)
    x_u = rng.integers(0, 256, (16, 16, 16, 1), dtype="uint8")
    kwargs = {"num_unlabelled": 16} if name == "TemporalEnsembling" else {}
    unlabelled = (x_u, np.arange(16)) if name == "TemporalEnsembling" else x_u
    model = getattr(methods, name)(ConvNet(input_shape=(16, 16, 1), filters=(4, 8)), num_classes=4, seed=0, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model, tf.data.Dataset.from_tensors(((x_l, y_l), unlabelled)).repeat(), {"steps_per_epoch": 2}


for _name in SEMI_SUPERVISED:
    globals()[f"build_{_name}"] = lambda name=_name: _build_semi_supervised(name)


@pytest.mark.slow
@pytest.mark.subprocess
def test_every_method_trains_two_steps_under_xla():
    result = run_python(
        ["tests/workers/fit_under_strategy.py", "--strategy=default", "--jit_compile", "--steps=2", *CASES],
        timeout=900,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [line["case"] for line in lines] == CASES, result.stderr[-3000:]
    failures = [line for line in lines if "error" in line or not line["finite"] or not line["jit_compile"]]
    assert not failures, failures
    assert result.returncode == 0, result.stderr[-3000:]
