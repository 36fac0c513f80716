"""What every exporter shares: reading the training run directory, the next
TF Serving version directory, and writing it atomically (a hidden temporary
directory beside it, renamed when complete) with
`assets.extra/metadata.json`."""

import datetime
import json
import os
import shutil
import tempfile


def read_run(model_dir, files=("model.keras",), config_required=True, train="python -m zoo.train"):
    """The `config.json` of a run directory written by `zoo.train` (`{}` if
    it is absent and not `config_required`), after checking that the
    directory and each of `files` exist. Raises ValueError with one line
    that says what is missing and how to make it (`train`: the command
    that writes such a run)."""
    if not os.path.isdir(model_dir):
        raise ValueError(f"model_dir {model_dir} does not exist: pass the run directory written by {train}")
    for name in files:
        if not os.path.isfile(os.path.join(model_dir, name)):
            raise ValueError(f"no {name} in {model_dir}: train first with {train} --model_dir={model_dir}")
    config_path = os.path.join(model_dir, "config.json")
    if not config_required and not os.path.exists(config_path):
        return {}
    try:
        with open(config_path) as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read {config_path} ({e}): pass a run directory written by {train}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{config_path} must hold a JSON object: pass a run directory written by {train}")
    return config


def next_version_path(export_base, version=None):
    """`(version, path)`: `export_base/<version>`, the next integer version
    by default. Raises FileExistsError (one line, with the fix) if that
    version exists: an export never overwrites a served version."""
    os.makedirs(export_base, exist_ok=True)
    versions = [int(n) for n in os.listdir(export_base) if n.isdigit()]
    version = int(version) if version is not None else max(versions, default=0) + 1
    path = os.path.join(export_base, str(version))
    if os.path.exists(path):
        raise FileExistsError(f"version {path} already exists: pass another --version or omit it to write the next one")
    return version, path


def base_metadata(version):
    """The metadata entries every export carries (versions, time, run)."""
    import tensorflow as tf

    import keras_ssl

    return {
        "dataset": None,
        "keras_ssl_version": keras_ssl.__version__,
        "tensorflow_version": tf.__version__,
        "training_run": None,
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "version": version,
    }


def write_version_atomically(export_base, path, write):
    """Calls `write(tmp)`, which writes the SavedModel into the empty
    directory `tmp` and returns `(metadata, assets)`: the dict for
    `assets.extra/metadata.json` and `{file name: text}` of other
    `assets.extra/` files. Then renames `tmp` to `path`. `tmp` is hidden (a
    leading '.', which TF Serving ignores) until the rename, and removed if
    anything fails: a server never sees half a version."""
    tmp = tempfile.mkdtemp(prefix=".tmp-export-", dir=export_base)
    try:
        metadata, assets = write(tmp)
        os.makedirs(os.path.join(tmp, "assets.extra"), exist_ok=True)
        with open(os.path.join(tmp, "assets.extra", "metadata.json"), "w") as f:
            json.dump(metadata, f, indent=2)
        for name, text in (assets or {}).items():
            with open(os.path.join(tmp, "assets.extra", name), "w", encoding="utf-8") as f:
                f.write(text)
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the server may run as another user.
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path
