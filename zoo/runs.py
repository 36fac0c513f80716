"""Run directories: building a method from a config, resuming, saving.

A run directory holds:

    config.json          the resolved config (method, dataset, image_shape, ...)
    backup/              Keras BackupAndRestore state (deleted when training ends)
    history.json         one entry per completed epoch, kept across resumes
    logs/                TensorBoard event files
    model.keras          the trained method, written when training ends
    history.png          training curves
    embedding.png        PCA map of the test embeddings
"""

import json
import os
import tempfile

import keras

import keras_ssl

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
HISTORY_FILE = "history.json"
BACKUP_DIR = "backup"


class RunError(Exception):
    """A user-facing problem with a run; its message is one line with the fix."""


def write_json_atomic(path, value):
    """Writes JSON to `path` through a temporary file and a rename, so a
    reader never sees half a file."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(value, f, indent=2, sort_keys=True, default=float)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_json(path):
    with open(path) as f:
        return json.load(f)


def save_model_atomic(model, path):
    """`model.save(path)` through a temporary `.keras` file and a rename."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".partial-{os.getpid()}-{os.path.basename(path)}")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def build_backbone(config, image_shape):
    spec = dict(config["backbone"])
    cls = getattr(keras_ssl.backbones, spec.pop("class"))
    return cls(input_shape=tuple(image_shape), **spec)


def build_method(config, backbone):
    spec = dict(config["model"])
    cls = getattr(keras_ssl.methods, spec.pop("class"))
    return cls(backbone, seed=config.get("seed"), **spec)


def build_optimizer(config, steps_per_epoch):
    """The optimizer of `config["optimizer"]`, with an optional cosine decay
    (and linear warm-up) over the whole run."""
    spec = dict(config["optimizer"])
    cls = getattr(keras.optimizers, spec.pop("class"))
    learning_rate = spec.pop("learning_rate")
    schedule = spec.pop("schedule", None)
    warmup_epochs = spec.pop("warmup_epochs", 0)
    if schedule == "cosine":
        total = max(1, config["epochs"] * steps_per_epoch)
        warmup = min(total - 1, warmup_epochs * steps_per_epoch)
        learning_rate = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup else learning_rate,
            decay_steps=total - warmup,
            warmup_target=learning_rate if warmup else None,
            warmup_steps=warmup,
        )
    elif schedule is not None:
        raise RunError(f"unknown learning-rate schedule {schedule!r}: use 'cosine' or none")
    return cls(learning_rate=learning_rate, **spec)


def load_run(model_dir):
    """Returns `(model, config)` of a finished run directory."""
    config_path = os.path.join(model_dir, CONFIG_FILE)
    model_path = os.path.join(model_dir, MODEL_FILE)
    if not os.path.isdir(model_dir):
        raise RunError(f"model_dir {model_dir} does not exist: train first with python -m zoo.train --model_dir={model_dir}")
    if not os.path.exists(model_path):
        raise RunError(
            f"{model_path} is missing: the run has not finished; run the same zoo.train command again to resume it"
        )
    config = read_json(config_path) if os.path.exists(config_path) else {}
    return keras.saving.load_model(model_path), config


class JSONHistory(keras.callbacks.Callback):
    """Appends each finished epoch's logs to a JSON list, atomically, and
    keeps the epochs of earlier (interrupted) runs of the same directory.

    Place it before `BackupAndRestore`: an epoch is then either in both or
    redone, and a redone epoch replaces its old entry.
    """

    def __init__(self, path):
        super().__init__()
        self.path = path

    def read(self):
        return read_json(self.path) if os.path.exists(self.path) else []

    def on_epoch_end(self, epoch, logs=None):
        entries = [e for e in self.read() if e["epoch"] != epoch + 1]
        entries.append({"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}})
        entries.sort(key=lambda e: e["epoch"])
        write_json_atomic(self.path, entries)

    def as_keras_history(self):
        """`{metric: [value per epoch]}` like `History.history`."""
        entries = self.read()
        names = sorted({k for e in entries for k in e if k != "epoch"})
        return {n: [e.get(n, float("nan")) for e in entries] for n in names}


def completed_epochs(model_dir):
    """Epochs a resumable run has finished, from its Keras backup."""
    path = os.path.join(model_dir, BACKUP_DIR, "training_metadata.json")
    if not os.path.exists(path):
        return 0
    try:
        return int(read_json(path)["epoch"])
    except (ValueError, KeyError):
        return 0
