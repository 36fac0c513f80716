"""Each replica of a distributed step draws its own views, masks and noise.

tests/workers/replica_randomness.py runs every augmenter and per-example
draw on two logical CPU replicas fed the same images. Before
`ReplicaSeedGenerator`, every case was equal on both replicas (the seed
state is a mirrored variable): a global batch of N replicas held N copies of
one set of crops and jitters.
"""

import json

import pytest

from tests.test_case import run_python


@pytest.mark.subprocess
def test_replicas_fed_the_same_images_draw_different_views():
    result = run_python(["tests/workers/replica_randomness.py"], timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    equal = {line["case"]: line["equal"] for line in map(json.loads, result.stdout.splitlines()) if line}
    # The control: a plain keras.random.SeedGenerator draws the same on both.
    assert equal.pop("plain_seed_generator") is True
    assert len(equal) >= 15 and not any(equal.values()), equal
