"""Every pretext and language method trains under a 2-replica strategy.

One fresh process (tests/workers/fit_under_strategy.py) splits the CPU into
two logical devices and fits each method's tiny `build_for_strategy_test()`
model (defined in its own test module) for one epoch under
`MirroredStrategy`; every loss must be finite and reported by 2 replicas.
The memory bank and queue case also checks that each replica's rows land
in every replica's copy. The same-result-on-1-and-N-replicas checks of the contrastive and
semi-supervised methods live in test_distribute.py and
test_semi_supervised_distribute.py.
"""

import json

import pytest

from tests.test_case import run_python

CASES = [
    f"tests.test_{name}:build_for_strategy_test"
    for name in (
        "rotation_prediction",
        "jigsaw_puzzle",
        "relative_patch_position",
        "context_encoder",
        "colorization",
        "split_brain_autoencoder",
        "denoising_autoencoder",
        "stacked_denoising_autoencoder",
        "word2vec",
        "bert_pretraining",
        "neural_language_model",
        "char_lstm_language_model",
        "instance_discrimination",
        "moco",
        "noise_as_targets",
        "cpc",
        "deep_infomax",
        "deep_cluster",
    )
] + ["tests.test_word2vec:build_cbow_dataset_for_strategy_test", "tests.test_memory_bank:build_for_strategy_test"]


@pytest.mark.slow
@pytest.mark.subprocess
def test_every_method_fits_on_two_replicas():
    result = run_python(["tests/workers/fit_under_strategy.py", "--strategy=cpu:2", *CASES], timeout=900)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [line["case"] for line in lines] == CASES, result.stderr[-3000:]
    failures = [line for line in lines if "error" in line or not line["finite"] or line["replicas"] != 2]
    assert not failures, failures
    # Memory bank and queue: every replica's rows reach every replica's copy.
    state = lines[CASES.index("tests.test_memory_bank:build_for_strategy_test")]["metrics"]
    assert state["bank_rows"] == state["queue_pointer"] == 12.0, state
    assert result.returncode == 0, result.stderr[-3000:]
