import json

import keras
import numpy as np
import pytest

from tests.test_case import run_python
from zoo.benchmarks import contrastive


def scores(knn_1, linear_1=0.8):
    return {
        **{f"{p}|{f:g}": 0.5 for p in contrastive.PROTOCOLS for f in contrastive.LABEL_FRACTIONS},
        "knn|0.01": knn_1,
        "linear|1": linear_1,
    }


def test_goals_compare_with_random_init_simclr_and_the_speed_bounds():
    rows = {
        "simclr": {"scores": scores(0.70, linear_1=0.85), "speed": {"ratio": 0.5}},
        "moco": {"scores": scores(0.62, linear_1=0.84), "speed": {"ratio": 0.39}},
        "cpc": {"scores": scores(0.58), "speed": {"ratio": 0.2}},
        "cpc at random init": {"scores": scores(0.45)},  # CPC is compared with its own encoder's.
        "deep_cluster": {
            "scores": scores(0.40),
            "speed": {"ratio": 0.9},
            "clustering_share": 0.12,
            "clustering_parts": {"pca_seconds": 1.0, "kmeans_sklearn_seconds": 2.0},
            "median_epoch_seconds": 10.0,
        },
        "random init": {"scores": scores(0.50)},
    }
    checks = {g["goal"]: g["met"] for g in contrastive.goals({"rows": rows})}
    assert checks == {
        "simclr: kNN at 1% labels >= random init + 10 points": True,
        "moco: kNN at 1% labels >= random init + 10 points": True,
        "cpc: kNN at 1% labels >= random init + 10 points": True,
        "deep_cluster: kNN at 1% labels >= random init + 10 points": False,
        "MoCo within 2 points of SimCLR on linear 100%": True,
        "MoCo images/s ratio >= 0.4": False,
        "DeepCluster's clustering <= 15% of its epoch time": True,
        "DeepCluster's PCA + k-means (sklearn) alone <= 15% of its epoch time (no feature pass)": False,  # 30%
    }


def test_time_budget_stops_fit_and_logs_epoch_seconds():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    budget = contrastive._time_budget(0.0)
    history = model.fit(np.zeros((64, 3)), np.zeros(64), batch_size=8, epochs=5, verbose=0, callbacks=[budget])
    assert len(history.history["loss"]) == 1  # Stopped after the first batch of the first epoch.
    assert history.history["epoch_seconds"][0] > 0


@pytest.mark.slow
@pytest.mark.subprocess
def test_quick_suite_writes_the_table_and_reuses_finished_runs(tmp_path):
    out = tmp_path / "bench"
    args = ["-m", "zoo.benchmark", "--suite=contrastive", "--quick", "--methods=instance_discrimination"]
    result = run_python([*args, f"--output_dir={out}"], timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    table = (out / "results.md").read_text()
    for row in ("| instance_discrimination |", "| random init |", "| raw pixels |", "images/s ÷ supervised"):
        assert row in table
    saved = json.loads((out / "results.json").read_text())
    row = saved["rows"]["instance_discrimination"]
    assert set(row["scores"]) == {f"{p}|{f:g}" for p in ("knn", "linear") for f in (0.01, 0.1, 1.0)}
    assert row["speed"]["ratio"] > 0 and row["epochs_started"] >= 1 and row["train_seconds"] > 0
    assert saved["goals"][0]["goal"].startswith("instance_discrimination: kNN at 1%")
    again = run_python([*args, f"--output_dir={out}"], timeout=900)
    assert again.returncode == 0 and "instance_discrimination: reusing" in again.stdout, again.stderr[-3000:]


def test_unknown_method_gives_one_line(tmp_path):
    result = run_python(
        ["-m", "zoo.benchmark", "--suite=contrastive", "--methods=simclr,sift", "--quick", f"--output_dir={tmp_path}"]
    )
    assert result.returncode != 0
    assert "--methods names sift: use some of simclr, moco" in result.stderr
    assert "Traceback" not in result.stderr
