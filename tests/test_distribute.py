"""Distribution: 1 vs 2 replicas give the same step; two workers train from a folder and the chief saves.

Each configuration runs in a fresh process (scripts in `tests/workers/`):
splitting the CPU into logical devices and starting a multi-worker server
must both happen before TensorFlow runs any op.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

ROOT = Path(__file__).resolve().parents[1]
WORKERS = ROOT / "tests" / "workers"

# Gradients of the step are O(1); float32 sums in another order differ by
# ~1e-6, and once (a loaded 2-core machine) by 1.1e-5 of 0.064. A wrong
# reduction is off by a factor (e.g. 2), far above this.
ATOL = 1e-4
RTOL = 1e-4


def _env(tf_config=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return env


def _run_together(commands, logs, timeout, envs=None):
    """Runs `commands` at once; returns their exit codes. Kills them all on failure or timeout."""
    envs = envs or [_env()] * len(commands)
    processes = []
    try:
        for command, log, env in zip(commands, logs, envs):
            with open(log, "wb") as out:
                processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + timeout
        codes = []
        for process in processes:
            try:
                codes.append(process.wait(timeout=max(1.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                codes.append(None)  # Timed out.
                break
        return codes
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def _check_ran(codes, logs, what):
    for index, (code, log) in enumerate(zip(codes, logs)):
        tail = Path(log).read_text(errors="replace")[-3000:]
        assert code is not None, f"{what} {index} timed out; log tail:\n{tail}"
        assert code == 0, f"{what} {index} exited with {code}; log tail:\n{tail}"


def _simclr_steps(tmp_path, timeout=240):
    """Runs tests/workers/simclr_step.py --strategy=all (one process: one
    replica, then two from its weights, with and without gathering the
    negatives); returns the three loaded outputs."""
    log = tmp_path / "simclr_step.log"
    command = [sys.executable, str(WORKERS / "simclr_step.py"), "--strategy=all", f"--output={tmp_path}"]
    _check_ran(_run_together([command], [log], timeout), [log], "simclr_step run")
    return [dict(np.load(tmp_path / f"{name}.npz")) for name in ("single", "mirrored", "local_negatives")]


def _gradients(run):
    """Per-variable `before - after`: the gradient, since the step is SGD with learning rate 1."""
    return [run[f"before_{i}"] - run[f"after_{i}"] for i in range(len(run["names"]))]


def _count(run, prefix):
    return sum(key.startswith(prefix) for key in run)


def _max_abs_difference(arrays_a, arrays_b):
    return max(float(np.max(np.abs(a - b))) for a, b in zip(arrays_a, arrays_b))


def test_two_replicas_match_one_replica_on_the_global_batch(tmp_path):
    # The single replica first: its initial weights start the 2-replica runs.
    single, mirrored, local_only = _simclr_steps(tmp_path)

    assert int(single["num_replicas"]) == 1
    assert int(mirrored["num_replicas"]) == 2
    assert int(local_only["num_replicas"]) == 2
    names = list(single["names"])
    assert list(mirrored["names"]) == names
    count = len(names)
    for run in (mirrored, local_only):  # Same starting point, bit for bit.
        for i in range(count):
            np.testing.assert_array_equal(run[f"before_{i}"], single[f"before_{i}"], err_msg=names[i])

    # Same loss and gradients on 1 and 2 replicas.
    np.testing.assert_allclose(mirrored["loss"], single["loss"], rtol=RTOL, atol=ATOL)
    gradients, gradients_2 = _gradients(single), _gradients(mirrored)
    assert max(float(np.max(np.abs(g))) for g in gradients) > 1e-2, "the step did not move the weights"
    for name, gradient, gradient_2 in zip(names, gradients, gradients_2):
        np.testing.assert_allclose(gradient_2, gradient, rtol=RTOL, atol=ATOL, err_msg=f"gradient of {name}")
    # Synchronized batch norm: the moving statistics match too.
    for i in range(_count(single, "final_")):
        np.testing.assert_allclose(
            mirrored[f"final_{i}"], single[f"final_{i}"], rtol=RTOL, atol=ATOL, err_msg=f"weight {i} after the step"
        )

    # The comparison can fail: negatives from the local batch only give
    # another loss and other gradients.
    assert abs(float(local_only["loss"]) - float(single["loss"])) > 0.1, (local_only["loss"], single["loss"])
    assert _max_abs_difference(_gradients(local_only), gradients) > 1e-2


def _free_loopback_ports(count):
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def test_zoo_trains_on_two_workers_from_a_folder_and_the_chief_saves(tmp_path):
    """`zoo.train --strategy=multi_worker` on a streamed folder: the input is
    built per worker (`distribute_datasets_from_function`, each reading its
    own files: tests/test_streams.py), the two train in lockstep, and only
    the chief writes the run."""
    from tests.test_streams import numbered_folder

    folder = numbered_folder(tmp_path / "images", count=48)
    ports = _free_loopback_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    model_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "zoo.train",
        "--method=simclr",
        f"--dataset=folder:{folder}",
        "--image_size=16",
        "--quick",
        "--batch_size=8",
        "--epochs=1",
        "--knn_every=0",
        "--strategy=multi_worker",
        f"--model_dir={model_dir}",
        "--verbose=2",
    ]
    logs = [tmp_path / f"worker{index}.log" for index in range(2)]
    envs = [_env({"cluster": cluster, "task": {"type": "worker", "index": index}}) for index in range(2)]

    codes = _run_together([command, command], logs, timeout=240, envs=envs)

    _check_ran(codes, logs, "worker")
    history = json.loads((model_dir / "history.json").read_text())
    assert [entry["epoch"] for entry in history] == [1]
    # 43 training files (5 held out) / global batch 8: 5 steps an epoch on each worker.
    assert "5/5" in logs[0].read_text(errors="replace")

    import keras

    import keras_ssl  # noqa: F401  (registers the classes the saved model names)

    model = keras.saving.load_model(model_dir / "model.keras")
    images = np.random.default_rng(1).integers(0, 256, size=(4, 16, 16, 3), dtype=np.uint8)
    embeddings = model.predict(images, verbose=0)
    assert embeddings.shape == (4, model.backbone.feature_dim) and np.all(np.isfinite(embeddings))


def test_two_workers_read_disjoint_shards_of_a_folder(tmp_path):
    """Each worker of a two-worker cluster reads its own half of the files
    through the zoo's input path (distribute_datasets_from_function)."""
    from tests.test_streams import numbered_folder

    folder = numbered_folder(tmp_path / "images", count=40)
    ports = _free_loopback_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    outputs = [tmp_path / f"ids{index}.json" for index in range(2)]
    commands = [
        [sys.executable, str(WORKERS / "multi_worker_shards.py"), f"--folder={folder}", f"--output={output}"]
        for output in outputs
    ]
    logs = [tmp_path / f"worker{index}.log" for index in range(2)]
    envs = [_env({"cluster": cluster, "task": {"type": "worker", "index": index}}) for index in range(2)]
    _check_ran(_run_together(commands, logs, timeout=240, envs=envs), logs, "worker")
    reads = [json.loads(output.read_text()) for output in outputs]
    assert [r["replicas"] for r in reads] == [2, 2]
    first, second = (set(r["ids"]) for r in reads)
    # 40 files, global batch 4 (2 per worker): 10 steps read 20 distinct files on each worker.
    assert len(reads[0]["ids"]) == len(first) == len(second) == 20
    assert not first & second and first | second == set(range(40))
