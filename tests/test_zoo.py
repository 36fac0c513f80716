import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.test_case import REPO_ROOT, run_python, train_here

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

TINY = ["--method=simclr", "--dataset=digits", "--quick", "--batch_size=64", "--train_size=512"]


def last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def assert_one_line_stderr(stderr, pattern):
    line = last_line(stderr)
    assert line.startswith("error: ") and pattern in line, stderr[-2000:]
    assert "Traceback" not in stderr


def assert_one_line_error(result, pattern):
    assert result.returncode != 0, result.stdout + result.stderr
    assert_one_line_stderr(result.stderr, pattern)


def test_train_evaluate_and_rerun(tmp_path, capsys):
    run = str(tmp_path / "run")
    # --views is not part of the config: the reruns below omit it. (--jit_compile's
    # wiring: test_bad_train_flags_give_one_line's Noise As Targets case.)
    result = run_python(
        ["-m", "zoo.train", *TINY, f"--model_dir={run}", "--epochs=2", "--knn_every=1", "--views=pipeline"]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Views made in the input pipeline" in result.stdout
    for name in ("config.json", "model.keras", "history.json", "history.png", "embedding.png"):
        assert os.path.exists(os.path.join(run, name)), name
    assert not os.path.exists(os.path.join(run, "backup"))  # removed once training ends
    assert any(f.startswith("events") for _, _, files in os.walk(os.path.join(run, "logs")) for f in files)
    history = json.load(open(os.path.join(run, "history.json")))
    assert [e["epoch"] for e in history] == [1, 2]
    assert all(np.isfinite(e["loss"]) and "val_knn_accuracy" in e for e in history)
    config = json.load(open(os.path.join(run, "config.json")))
    assert config["method"] == "simclr" and config["epochs"] == 2 and config["image_shape"] == [8, 8, 1]

    code, out, _ = train_here([*TINY, f"--model_dir={run}", "--epochs=2", "--knn_every=1"], capsys)
    assert code == 0 and "Run already complete" in out

    evaluated = run_python(["-m", "zoo.evaluate", f"--model_dir={run}", "--protocol=knn", "--label_fraction=0.1"])
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    table = json.load(open(os.path.join(run, "evaluation.json")))["knn@0.1"]
    assert set(table) == {"trained", "random_init", "raw_pixels"}
    assert all(0 <= v <= 1 for v in table.values())
    assert "random_init" in evaluated.stdout

    code, _, err = train_here([*TINY, f"--model_dir={run}", "--epochs=3", "--knn_every=1"], capsys)
    assert code == 1
    assert_one_line_stderr(err, "different config")


def test_killed_run_resumes_from_last_completed_epoch(tmp_path):
    run = str(tmp_path / "run")
    args = [sys.executable, "-m", "zoo.train", *TINY, f"--model_dir={run}", "--epochs=12", "--knn_every=0"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    metadata = os.path.join(run, "backup", "training_metadata.json")
    process = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and process.poll() is None:
            if os.path.exists(metadata) and json.load(open(metadata))["epoch"] >= 2:
                break
            time.sleep(0.05)
        assert process.poll() is None, "training finished before it could be killed"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed_at = json.load(open(os.path.join(run, "backup", "training_metadata.json")))["epoch"]
    assert 2 <= killed_at < 12
    assert not os.path.exists(os.path.join(run, "model.keras"))

    resumed = run_python(args[1:], env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resuming" in resumed.stdout and f"from epoch {killed_at}" in resumed.stdout
    assert f"Epoch {killed_at + 1}/12" in resumed.stdout and "Epoch 1/12" not in resumed.stdout
    history = json.load(open(os.path.join(run, "history.json")))
    assert [e["epoch"] for e in history] == list(range(1, 13))

    import keras

    import keras_ssl  # noqa: F401  (registers the classes model.keras names)

    # 512 images / 64 per batch = 8 steps per epoch: the optimizer state resumed too.
    assert int(keras.saving.load_model(os.path.join(run, "model.keras")).optimizer.iterations) == 96


BAD_TRAIN_FLAGS = [
    (["--method=byol", "--dataset=digits", "--model_dir={d}"], "Unknown method 'byol'"),
    (["--method=simclr", "--dataset=cifar", "--model_dir={d}"], "Unknown dataset 'cifar'"),
    (["--method=simclr", "--dataset=digits", "--model_dir={d}", "--batch_size=4096"], "larger than the dataset"),
    (["--method=simclr", "--dataset=digits", "--model_dir={d}", "--strategy=gpu:2"], "Unknown strategy"),
    (["--method=simclr", "--dataset=digits"], "--model_dir is required"),
    (["--method=simclr", "--dataset=digits", "--model_dir={d}", "--tpu=local"], "--tpu=local needs --strategy=tpu"),
    # Offline, with nothing prepared: at once, not TFDS's minutes of download retries.
    (["--method=simclr", "--dataset=tfds:cifar10", "--model_dir={d}", "--data_dir={d}_tfds"], "tfds build cifar10"),
    (["--method=vat", "--dataset=digits", "--model_dir={d}", "--views=pipeline"], "--views=pipeline is for simclr"),
    (["--method=noise_as_targets", "--dataset=digits", "--model_dir={d}", "--jit_compile"], "cannot train under XLA"),
    (
        ["--method=simclr", "--dataset=digits", "--model_dir={d}", "--unlabelled_dataset=digits"],
        "--unlabelled_dataset is for semi-supervised methods; simclr trains without labels",
    ),
]


def train_flags(args, tmp_path):
    return [a.format(d=tmp_path / "run") for a in args]


@pytest.mark.parametrize("args, message", BAD_TRAIN_FLAGS)
def test_bad_train_flags_give_one_line(tmp_path, capsys, args, message):
    code, _, err = train_here(train_flags(args, tmp_path), capsys)
    assert code == 1
    assert_one_line_stderr(err, message)
    assert not os.path.exists(tmp_path / "run" / "model.keras")


def test_model_dir_that_is_a_file_gives_one_line(tmp_path, capsys):
    (tmp_path / "run").write_text("notes")
    code, _, err = train_here(["--method=simclr", "--dataset=digits", f"--model_dir={tmp_path / 'run'}"], capsys)
    assert code == 1
    assert_one_line_stderr(err, "is a file: give a directory")
    assert (tmp_path / "run").read_text() == "notes"


def test_prepare_run_dir_refuses_a_file(tmp_path):
    from zoo import runs

    (tmp_path / "run").write_text("notes")
    with pytest.raises(runs.RunError, match="is a file: give a directory"):
        runs.prepare_run_dir(str(tmp_path / "run"), {"method": "simclr"})


def test_bad_train_flag_exits_with_one_line_from_the_command_line(tmp_path):
    args, message = BAD_TRAIN_FLAGS[0]
    result = run_python(["-m", "zoo.train", *train_flags(args, tmp_path)])
    assert_one_line_error(result, message)
    assert not os.path.exists(tmp_path / "run" / "model.keras")


def test_evaluate_missing_run_gives_one_line(tmp_path):
    result = run_python(["-m", "zoo.evaluate", f"--model_dir={tmp_path / 'nothing'}"])
    assert_one_line_error(result, "does not exist")


def test_simclr_benchmark_quick(tmp_path):
    out = tmp_path / "bench"
    result = run_python(["-m", "zoo.benchmark", "--suite=simclr", "--quick", f"--output_dir={out}"])
    assert result.returncode == 0, result.stderr[-3000:]
    table = (out / "results.md").read_text()
    for row in ("| SimCLR |", "| random init |", "| raw pixels |", "| ratio |"):
        assert row in table
    speed = json.load(open(out / "results.json"))["speed"]
    assert speed["ssl_images_per_s"] > 0 and speed["supervised_images_per_s"] > 0
    assert speed["ratio"] == pytest.approx(float(np.median(speed["round_ratios"])))
    assert 0 < speed["ratio"] < 2


def test_semi_supervised_benchmark_converged_keeps_finished_runs_and_resumes(tmp_path, capsys):
    from zoo.benchmarks import semi_supervised

    out = tmp_path / "bench"
    args = [
        "-m",
        "zoo.benchmark",
        "--suite=semi_supervised",
        "--budget=converged",
        "--quick",
        "--methods=supervised,pseudo_label",
        "--seeds=0",
        "--num_labels=100",
        f"--output_dir={out}",
    ]
    first = run_python(args)
    assert first.returncode == 0, first.stderr[-3000:]
    table = (out / "converged.md").read_text()
    assert "| supervised |" in table and "| pseudo_label |" in table and "fully supervised" in table
    assert (out / "curves.png").stat().st_size > 0 and not (out / "results.json").exists()
    finished = sorted(os.listdir(out / "finished"))
    assert finished == ["pseudo_label-100-seed0.json", "supervised-100-seed0.json", "supervised-2000-seed0.json"]
    result = json.load(open(out / "finished" / "pseudo_label-100-seed0.json"))
    assert result["curve"]["steps"] == [10, 20, 30, 40] and result["config"]["optimizer"]["schedule"] == "cosine"
    assert all(0 <= a <= 1 for a in result["curve"]["test_accuracy"])
    runs = json.load(open(out / "converged.json"))["runs"]
    assert len(runs) == 3 and all(0 <= r["accuracy"] <= 1 for r in runs)

    # Again (in this process): every run finished, nothing trains.
    capsys.readouterr()
    again = semi_supervised.run(str(out), [100], [0], ["supervised", "pseudo_label"], quick=True, budget="converged")
    printed = capsys.readouterr().out
    assert printed.count("finished earlier") == 3 and "Epoch" not in printed
    assert [r["accuracy"] for r in again["runs"]] == [r["accuracy"] for r in runs]

    # A run trained but whose result was not written is loaded, not trained again.
    os.remove(out / "finished" / "pseudo_label-100-seed0.json")
    semi_supervised.run(str(out), [100], [0], ["pseudo_label"], quick=True, budget="converged")
    printed = capsys.readouterr().out
    assert "finished training earlier: loading it" in printed and "Epoch" not in printed
    assert json.load(open(out / "finished" / "pseudo_label-100-seed0.json"))["accuracy"] == pytest.approx(
        [r["accuracy"] for r in runs if r["method"] == "pseudo_label"][0]
    )


def test_semi_supervised_benchmark_short_budget_and_study(tmp_path):
    from zoo.benchmarks import semi_supervised

    short = semi_supervised.run(str(tmp_path / "short"), [100], [0], ["supervised"], quick=True)
    assert [(r["method"], r["num_labels"]) for r in short["runs"]] == [("supervised", 100), ("supervised", 2000)]
    assert "| supervised |" in semi_supervised.markdown({**short, "machine": "test"})

    study = semi_supervised.run(str(tmp_path / "study"), [100], [0], quick=True, budget="study")
    assert [r["num_labels"] for r in study["runs"]] == [100, 1000, 2000]
    assert all(r["curve"]["steps"] == [10, 20, 30, 40] for r in study["runs"])
    assert study["budget_steps"] == max(r["converged_step"] for r in study["runs"])
    assert (tmp_path / "study" / "study.png").stat().st_size > 0
    assert "stopped improving at step" in semi_supervised.markdown({**study, "machine": "test"})


def test_converged_step_is_where_the_curve_stops_rising():
    from zoo.benchmarks.semi_supervised import converged_step

    steps = [500, 1000, 1500, 2000, 2500, 3000]
    # Smoothed over 3 points, the rise ends at 2500 (0.767 at 2000, 0.8 after).
    assert converged_step(steps, [0.5, 0.6, 0.7, 0.8, 0.8, 0.8]) == 2500
    # A late rise above the tolerance moves it; noise below it does not.
    assert converged_step(steps, [0.5, 0.8, 0.8, 0.8, 0.8, 0.9]) == 3000
    assert converged_step(steps, [0.5, 0.8, 0.801, 0.799, 0.802, 0.8], tolerance=0.005) == 1500


@pytest.mark.slow
@pytest.mark.subprocess
def test_simclr_trains_from_a_folder_evaluates_and_exports(tmp_path):
    import skimage.data
    from PIL import Image

    # 300 crops of two bundled photos (the classes), of mixed sizes, a
    # quarter grey, JPEG and PNG, and a corrupt file.
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    for name in ("coffee", "chelsea"):
        photo = getattr(skimage.data, name)()
        os.makedirs(root / name)
        for i in range(150):
            height, width = rng.integers(36, 96, 2)
            top, left = rng.integers(0, photo.shape[0] - height), rng.integers(0, photo.shape[1] - width)
            image = Image.fromarray(photo[top : top + height, left : left + width]).convert(
                "L" if i % 4 == 0 else "RGB"
            )
            image.save(root / name / f"{i}.{'png' if i % 2 else 'jpg'}")
    (root / "coffee" / "broken.jpg").write_bytes(b"\xff\xd8\xff truncated")
    run = str(tmp_path / "run")
    args = ["--method=simclr", f"--dataset=folder:{root}", "--image_size=32", "--quick", "--epochs=1"]
    result = run_python(["-m", "zoo.train", *args, "--batch_size=32", "--knn_every=1", f"--model_dir={run}"])
    assert result.returncode == 0, result.stderr[-3000:]
    # 301 files (the broken one included: it is skipped while streaming), 30 held out.
    assert "271 train / 30 test images streamed at (32, 32, 3)" in result.stdout
    assert "1 of 301 sampled images could not be decoded (skipped)" in result.stdout
    config = json.load(open(os.path.join(run, "config.json")))
    assert config["image_shape"] == [32, 32, 3] and config["image_size"] == 32
    history = json.load(open(os.path.join(run, "history.json")))
    assert np.isfinite(history[0]["loss"]) and "val_knn_accuracy" in history[0]

    evaluated = run_python(["-m", "zoo.evaluate", f"--model_dir={run}", "--protocol=knn", "--label_fraction=1.0"])
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert "random_init" in evaluated.stdout
    exported = run_python(["-m", "export.saved_model", f"--model_dir={run}", f"--export_base={tmp_path / 'serving'}"])
    assert exported.returncode == 0, exported.stderr[-3000:]
    metadata = json.load(open(tmp_path / "serving" / "1" / "assets.extra" / "metadata.json"))
    assert metadata["inputs"]["images"]["shape"] == [None, 32, 32, 3]

    # A client's JPEG and PNG files: the same embedding as predict on the
    # same decoded, resized images.
    import keras
    import tensorflow as tf

    from keras_ssl.data import decode_and_crop

    model = keras.saving.load_model(os.path.join(run, "model.keras"))
    files = [root / "chelsea" / "1.png", root / "chelsea" / "2.jpg", root / "coffee" / "4.jpg"]
    encoded = [tf.io.read_file(str(f)) for f in files]
    served = tf.saved_model.load(str(tmp_path / "serving" / "1")).signatures["image_bytes"]
    embeddings = served(image_bytes=tf.stack(encoded))["embedding"].numpy()
    expected = model.encoder.predict(np.stack([decode_and_crop(e, 32).numpy() for e in encoded]), verbose=0)
    np.testing.assert_allclose(embeddings, expected, atol=1e-4, rtol=1e-4)


def make_image_folder(root, sizes=(40, 60)):
    from PIL import Image

    os.makedirs(root / "a")
    for i in range(4):
        Image.fromarray(np.full((*sizes, 3), 50 * i, np.uint8)).save(root / "a" / f"{i}.png")
    return root


FOLDER_FLAGS = [
    (["--image_size=32", "--dataset=folder:/nonexistent/photos"], "image folder /nonexistent/photos does not exist"),
    (["--image_size=128"], "smaller than --image_size=128"),
    ([], "needs an image size"),
    (["--image_size=32", "--batch_size=8"], "batch_size 8 is larger than folder:"),
]


@pytest.mark.parametrize("args, message", FOLDER_FLAGS)
def test_bad_folder_runs_give_one_line(tmp_path, capsys, args, message):
    root = make_image_folder(tmp_path / "images")
    method = [] if any(a.startswith("--method") for a in args) else ["--method=simclr"]
    code, _, err = train_here([*method, f"--dataset=folder:{root}", f"--model_dir={tmp_path / 'run'}", *args], capsys)
    assert code == 1
    assert_one_line_stderr(err, message)
