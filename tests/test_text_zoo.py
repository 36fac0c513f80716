"""`python -m zoo.train` for the language models (zoo/recipes/language/)."""

import json
import os
import zipfile

import pytest

from tests.test_case import run_python, train_here


@pytest.mark.slow
@pytest.mark.subprocess
def test_char_lstm_run_directory_and_held_out_evaluation(tmp_path, capsys):
    model_dir = str(tmp_path / "char")
    command = [
        "-m",
        "zoo.train",
        "--method=char_lstm",
        f"--model_dir={model_dir}",
        "--quick",
        "--epochs=1",
        "--verbose=0",
    ]
    result = run_python(command)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in (
        "config.json",
        "model.keras",
        "history.json",
        "history.png",
        "vocabulary.json",
        "samples.txt",
        "evaluation.json",
    ):
        assert os.path.exists(os.path.join(model_dir, name)), name
    config = json.load(open(os.path.join(model_dir, "config.json")))
    assert config["corpus"] == "pydoc" and config["epochs"] == 1
    held_out = json.load(open(os.path.join(model_dir, "evaluation.json")))["held_out"]
    # One quick epoch already beats the add-one unigram model on held-out documents.
    assert held_out["perplexity"] < held_out["unigram_perplexity"]
    assert len(json.load(open(os.path.join(model_dir, "history.json")))) == 1
    code, out, _ = train_here(command[2:], capsys)
    assert code == 0 and "Run already complete" in out


def test_image_flags_on_a_text_method_fail_in_one_line(tmp_path, capsys):
    code, _, err = train_here(["--method=nplm", f"--model_dir={tmp_path}/r", "--train_size=100"], capsys)
    assert code == 1
    assert err.strip().splitlines()[-1] == "error: --train_size is for image methods; nplm trains on text"


@pytest.mark.subprocess
def test_word2vec_run_writes_vectors_plot_and_evaluation(tmp_path):
    model_dir = str(tmp_path / "w2v")
    result = run_python(
        [
            "-m",
            "zoo.train",
            "--method=word2vec",
            "--dataset=lee",
            f"--model_dir={model_dir}",
            "--quick",
            "--epochs=1",
            "--verbose=0",
            "--batch_size=2048",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("config.json", "model.keras", "vocabulary.tsv", "words.png", "neighbours.txt", "evaluation.json"):
        assert os.path.exists(os.path.join(model_dir, name)), name
    # --batch_size keeps SGD updates of about 1024 examples: 2 per batch of 2048.
    with zipfile.ZipFile(os.path.join(model_dir, "model.keras")) as archive:
        assert json.load(archive.open("config.json"))["config"]["updates_per_batch"] == 2
    held_out = json.load(open(os.path.join(model_dir, "evaluation.json")))["held_out"]
    assert 0 <= held_out["analogy_accuracy"] <= 1 and 0 < held_out["analogy_coverage"] <= 1
    assert -1 <= held_out["wordsim353_spearman"] <= 1 and 0 < held_out["wordsim353_coverage"] <= 1
    assert held_out["held_out_loss"] > 0
    export = run_python(
        ["-m", "export.word_vectors", f"--model_dir={model_dir}", f"--export_base={tmp_path / 'serving'}"]
    )
    assert export.returncode == 0, export.stderr[-3000:]
    assert os.path.exists(tmp_path / "serving" / "1" / "saved_model.pb")
