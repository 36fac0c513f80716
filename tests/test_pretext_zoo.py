"""The vision pretext family through the zoo: every config trains, and the
pretext benchmark writes its tables and figures."""

import json
import os

import pytest

from tests.test_case import run_python, train_here


@pytest.mark.slow
@pytest.mark.subprocess
def test_pretext_benchmark_quick_trains_every_method_and_writes_tables_and_figures(tmp_path):
    out = tmp_path / "bench"
    # The methods of two of the four figures (every method's row is the
    # same code; each method's training has its own tests, the context
    # encoder's adversarial term too): 4 trainings, not 11.
    methods = ["colorization", "denoising_autoencoder"]
    result = run_python(
        ["-m", "zoo.benchmark", "--suite=pretext", "--quick", f"--methods={','.join(methods)}", f"--output_dir={out}"],
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = (out / "results.md").read_text()
    for name in (*methods, "random init", "supervised", "sdae"):
        assert f"| {name} |" in table, name
    assert "<= 256 features" in table and "<= 2048 features" in table
    saved = json.load(open(out / "results.json"))
    for name, row in saved["rows"].items():
        for dim in ("256", "2048"):
            assert list(row["stages"][dim]) == ["block1_relu", "block2_relu", "block3_relu"], name
            assert row["best"][dim] == max(row["stages"][dim].values())
            assert all(0 <= a <= 1 for a in row["stages"][dim].values())
    assert set(saved["figures"]) == {"colorization_photos", "denoising"}
    for path in saved["figures"].values():
        assert os.path.getsize(path) > 1000 and open(path, "rb").read(4) == b"\x89PNG"
    assert set(saved["stacked_denoising"]["fine_tuned"]) == {"sdae", "random init"}


@pytest.mark.subprocess
def test_colour_method_defaults_to_photos_and_exports_rgb(tmp_path, capsys):
    model_dir = str(tmp_path / "colour")
    result = run_python(
        [
            "-m",
            "zoo.train",
            "--method=colorization",
            f"--model_dir={model_dir}",
            "--quick",
            "--epochs=1",
            "--train_size=256",
            "--verbose=0",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    config = json.load(open(os.path.join(model_dir, "config.json")))
    assert config["dataset"] == "photos" and config["image_shape"] == [28, 28, 3]
    export = run_python(["-m", "export.saved_model", f"--model_dir={model_dir}", f"--export_base={tmp_path / 's'}"])
    assert export.returncode == 0, export.stderr[-3000:]
    metadata = json.load(open(tmp_path / "s" / "1" / "assets.extra" / "metadata.json"))
    assert metadata["inputs"]["images"]["shape"] == [None, 28, 28, 3]
    code, _, err = train_here(
        [
            "--method=colorization",
            "--dataset=fashion_mnist",
            f"--model_dir={tmp_path / 'grey'}",
            "--quick",
            "--epochs=1",
            "--train_size=256",
        ],
        capsys,
    )
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("error: ab bins need RGB images")
