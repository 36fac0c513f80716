"""The semi-supervised speed suite (zoo/benchmarks/semi_supervised_speed.py)
on a tiny budget: what it measures and how it reports it, not how fast."""

import numpy as np
import pytest


def test_measures_a_method_against_supervised_fit_on_as_many_images():
    from zoo.benchmarks import semi_supervised_speed

    row = semi_supervised_speed.measure("entropy_minimization", quick=True)
    # Entropy minimisation's config: 64 labelled and 3 x 64 unlabelled images a step.
    assert (row["batch_size"], row["unlabelled_ratio"], row["images_per_step"]) == (64, 3, 256)
    assert row["steps_per_s"] > 0 and row["supervised_images_per_s"] > 0
    assert row["images_per_s"] == pytest.approx(256 * row["steps_per_s"])
    assert row["ratio"] == pytest.approx(float(np.median(row["round_ratios"])))
    result = {"rounds": 1, "steps": 3, "rows": {"entropy_minimization": row}, "machine": "test"}
    table = semi_supervised_speed.markdown(result)
    assert "| entropy_minimization | 256 (64 + 192) |" in table and "Machine: test." in table
