"""Every image method trains under `mixed_bfloat16` (TPUs, recent GPUs)
with finite losses. (`mixed_float16`, with its loss scaling, is tested on
SimCLR and the context encoder in their modules: the worker takes
`--dtype_policies=mixed_bfloat16,mixed_float16` for both, 35 s more.)

One fresh process (tests/workers/fit_under_strategy.py --dtype_policies)
builds each image method's tiny model (the cases of tests/test_xla.py, which
includes Noise As Targets here, and no language method) with the global
policy set, and fits two steps: the backbone computes in bfloat16 and the
losses stay finite. That the export stays float32 in and out is
tests/test_export.py's.
"""

import json

import pytest

from tests.test_case import run_python
from tests.test_strategy_training import CASES as STRATEGY_CASES
from tests.test_xla import CASES as XLA_CASES
from tests.test_xla import LANGUAGE

CASES = [case for case in dict.fromkeys(STRATEGY_CASES + XLA_CASES) if not any(name in case for name in LANGUAGE)]
POLICIES = ("mixed_bfloat16",)


@pytest.mark.slow
@pytest.mark.subprocess
def test_every_image_method_trains_in_bfloat16():
    result = run_python(
        [
            "tests/workers/fit_under_strategy.py",
            "--strategy=default",
            "--steps=2",
            f"--dtype_policies={','.join(POLICIES)}",
            *CASES,
        ],
        timeout=900,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(line["policy"], line["case"]) for line in lines] == [(p, c) for p in POLICIES for c in CASES], (
        result.stderr[-3000:]
    )
    failures = [line for line in lines if "error" in line or not line["finite"]]
    assert not failures, failures
    assert {line["compute_dtype"] for line in lines} == {"bfloat16"}
    # 23 image methods; the context encoder and Noise As Targets twice (region masks, auction solver).
    assert len(CASES) == 25 and result.returncode == 0, result.stderr[-3000:]
