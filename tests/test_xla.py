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

# Noise As Targets' default solver is SciPy's Hungarian algorithm
# (`tf.numpy_function`), which XLA cannot compile: it says `supports_jit =
# False` (tests/test_method_base.py); its case here uses the auction solver.
NOT_YET = ("tests.test_noise_as_targets:build_for_strategy_test",)

# The language methods (word2vec's pairs and CBOW, BERT, the neural and the
# character language models) also train under XLA (README, "Accelerators");
# this test keeps to the image methods, whose augmenters were the problem.
LANGUAGE = ("word2vec", "bert_pretraining", "language_model", "memory_bank")

CASES = [case for case in STRATEGY_CASES if case not in NOT_YET and not any(name in case for name in LANGUAGE)] + [
    "tests.test_xla:build_simclr",
    "tests.test_xla:build_context_encoder_with_region_masks",
    "tests.test_xla:build_noise_as_targets_with_auction",
    *(f"tests.test_xla:build_{name}" for name in SEMI_SUPERVISED),
]


def build_simclr():
    from keras_ssl.methods import SimCLR

    model = SimCLR(ConvNet(input_shape=(16, 16, 3), filters=(4, 8)), projection_dim=8, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    images = np.random.default_rng(0).integers(0, 256, (32, 16, 16, 3), dtype="uint8")
    return model, images, {"batch_size": 16}


def build_context_encoder_with_region_masks():
    """The zoo's (and the paper's) random-region masks; the strategy case uses blocks."""
    from tests.test_context_encoder import tiny_context_encoder

    images = np.random.default_rng(0).integers(0, 256, size=(32, 16, 16, 1), dtype="uint8")
    return tiny_context_encoder(mask="random_region"), images, {"batch_size": 16}


def build_noise_as_targets_with_auction():
    from tests.test_noise_as_targets import build_for_strategy_test

    model, data, fit_kwargs = build_for_strategy_test()
    model = type(model).from_config({**model.get_config(), "assignment_solver": "auction"})
    model.compile(optimizer=keras.optimizers.SGD(0.01))
    return model, data, fit_kwargs


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
    # LLVM optimisation off: the test asks whether XLA compiles and trains
    # each step, not how fast; it halves the compile time.
    env = {"XLA_FLAGS": "--xla_backend_optimization_level=0"}
    result = run_python(
        ["tests/workers/fit_under_strategy.py", "--strategy=default", "--jit_compile", "--steps=2", *CASES],
        timeout=900,
        env=env,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [line["case"] for line in lines] == CASES, result.stderr[-3000:]
    failures = [line for line in lines if "error" in line or not line["finite"] or not line["jit_compile"]]
    assert not failures, failures
    assert result.returncode == 0, result.stderr[-3000:]


def test_accelerator_suite_counts_resnet18_flops_and_knows_peaks():
    from keras_ssl.backbones import ImageNetResNet
    from zoo.benchmarks import accelerator

    # ResNet-18 at 224x224: 1.82 G multiply-adds (He et al. 2016, Table 1),
    # the profiler counts each as 2 operations.
    flops = accelerator.forward_flops(ImageNetResNet(input_shape=(224, 224, 3), depth=18), (224, 224, 3))
    assert abs(flops / 3.64e9 - 1) < 0.02, flops
    assert accelerator.peak_flops("NVIDIA H200", "mixed_bfloat16") == 989.4e12
    assert accelerator.peak_flops("NVIDIA A100-SXM4-40GB", "float32") == 156.0e12
    assert accelerator.peak_flops("CPU", "float32") is None
    table = accelerator.markdown(
        {
            "device": "NVIDIA H200",
            "steps": 20,
            "rows": [
                {
                    "image_size": 96,
                    "jit_compile": True,
                    "policy": "mixed_bfloat16",
                    "batch_size": 512,
                    "images_per_s": 9000.0,
                    "achieved_tflops": 100.0,
                    "peak_share": 0.101,
                },
                {"image_size": 96, "jit_compile": False, "policy": "float32", "batch_size": 512, "error": "OOM"},
            ],
        }
    )
    assert "| 96 | on | mixed_bfloat16 | 512 | 9000 | 100.00 | 10.1% |" in table and "OOM" in table


def test_xla_suite_covers_every_image_method_but_noise_as_targets():
    from zoo.benchmarks import xla

    methods = xla.image_methods()
    assert "noise_as_targets" not in methods and {"simclr", "mix_match", "colorization", "cpc"} <= set(methods)
    row = {
        "batch_size": 256,
        "backbone": {"class": "ResNet", "depth": 8},
        "xla_speedup": 0.5,
        "images_per_s": {"no_xla": 600.0, "xla": 300.0, "pipeline_views": 700.0},
    }
    table = xla.markdown({"steps": 8, "rounds": 3, "rows": {"simclr": row}})
    assert "| simclr | ResNet-8 | 256 | 600 | 300 | 0.50x |" in table and "| in the pipeline | 700 |" in table
