"""The Makefile's own targets that need no virtualenv."""

import os
import shutil
import subprocess

import pytest

from tests.test_case import REPO_ROOT


@pytest.mark.skipif(shutil.which("git") is None or shutil.which("make") is None, reason="needs git and make")
def test_clean_keeps_committed_benchmark_results(tmp_path):
    """`make clean` removes run directories, exports and benchmarks' ignored
    run files, but not the committed results (it once deleted benchmarks/)."""
    for name in ("Makefile", ".gitignore"):
        shutil.copy(os.path.join(REPO_ROOT, name), tmp_path / name)
    kept = [
        "benchmarks/simclr/results.md",
        "benchmarks/simclr/results.json",
        "benchmarks/semi_supervised/converged.md",
        "benchmarks/semi_supervised/finished/vat-100-seed0.json",
        "benchmarks/pretext/inpainting.png",
    ]
    removed = ["benchmarks/simclr/simclr_run/model.keras", "benchmarks/semi_supervised/runs/a/log.csv"]
    removed += ["runs/demo/model.keras", "serving/simclr/1/saved_model.pb"]
    for path in kept + removed:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "fixture"], check=True)
    tracked = subprocess.run([*git, "ls-files"], check=True, capture_output=True, text=True).stdout.split()
    assert sorted(tracked) == sorted([".gitignore", "Makefile", *kept]), tracked

    subprocess.run(["make", "-C", str(tmp_path), "clean"], check=True, capture_output=True)

    for path in kept:
        assert (tmp_path / path).exists(), path
    for path in removed:
        assert not (tmp_path / path).exists(), path
    assert not (tmp_path / "runs").exists() and not (tmp_path / "serving").exists()
