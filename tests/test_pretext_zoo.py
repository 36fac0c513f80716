"""The vision pretext family through the zoo: every config trains, and the
pretext benchmark writes its tables and figures."""

import json
import os

import pytest

from tests.test_case import run_python
from zoo import configs


@pytest.mark.slow
@pytest.mark.subprocess
def test_pretext_benchmark_quick_trains_every_method_and_writes_tables_and_figures(tmp_path):
    out = tmp_path / "bench"
    result = run_python(["-m", "zoo.benchmark", "--suite=pretext", "--quick", f"--output_dir={out}"], timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    table = (out / "results.md").read_text()
    for name in (*configs.PRETEXT, "random init", "supervised", "sdae"):
        assert f"| {name} |" in table, name
    assert "<= 256 features" in table and "<= 2048 features" in table
    saved = json.load(open(out / "results.json"))
    for name, row in saved["rows"].items():
        for dim in ("256", "2048"):
            assert list(row["stages"][dim]) == ["block1_relu", "block2_relu", "block3_relu"], name
            assert row["best"][dim] == max(row["stages"][dim].values())
            assert all(0 <= a <= 1 for a in row["stages"][dim].values())
    assert set(saved["figures"]) == {"inpainting", "colorization_photos", "split_brain_photos", "denoising"}
    for path in saved["figures"].values():
        assert os.path.getsize(path) > 1000 and open(path, "rb").read(4) == b"\x89PNG"
    assert set(saved["stacked_denoising"]["fine_tuned"]) == {"sdae", "random init"}
