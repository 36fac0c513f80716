"""Runs: one `train` for every method (its family's recipe in `zoo.recipes`
builds the model and data), resuming, saving, evaluating.

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
import shutil
import tempfile

import keras

from zoo.errors import RunError  # noqa: F401  (re-exported: zoo.runs.RunError)

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
HISTORY_FILE = "history.json"
BACKUP_DIR = "backup"
EVALUATION_FILE = "evaluation.json"


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


def load_run(model_dir):
    """Returns `(model, config)` of a finished run directory."""
    config_path = os.path.join(model_dir, CONFIG_FILE)
    model_path = os.path.join(model_dir, MODEL_FILE)
    if not os.path.isdir(model_dir):
        raise RunError(
            f"model_dir {model_dir} does not exist: train first with python -m zoo.train --model_dir={model_dir}"
        )
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


def resolve_config(method, data_name=None, quick=False, **overrides):
    """The method's config with flag overrides (those not None) applied and
    its data named: `data_name`, else the config's default (e.g. colour
    photos for colourisation, a text method's corpus), else its family's.
    A flag of another family raises a one-line ValueError."""
    from zoo import configs
    from zoo.recipes import recipe_for

    config = configs.get_config(method, quick=quick)
    recipe = recipe_for(config)
    recipe.check_overrides(method, overrides)
    config.update({k: v for k, v in overrides.items() if v is not None})
    if overrides.get("learning_rate") is not None:
        config["optimizer"] = {**config["optimizer"], "learning_rate": overrides["learning_rate"]}
        config.pop("learning_rate")
    config["method"] = method
    config[recipe.data_key] = data_name or config.get(recipe.data_key) or recipe.default_data
    config["quick"] = bool(quick)
    for key in ("epochs", "batch_size"):
        if config.get(key) is not None and config[key] < 1:
            raise ValueError(f"--{key} must be at least 1, got {config[key]}")
    return config


def load_data(config):
    """The data the config names, loaded by its family's recipe (an image
    dataset cut to `train_size`, a text corpus)."""
    from zoo.recipes import recipe_for

    return recipe_for(config).load_data(config)


def peek_data(config):
    """The data as far as `complete_config` needs it, without decoding a
    streamed set into memory (`Recipe.peek_data`)."""
    from zoo.recipes import recipe_for

    return recipe_for(config).peek_data(config)


def complete_config(config, data):
    """`config` with what is known once the data is (an image shape)."""
    from zoo.recipes import recipe_for

    return recipe_for(config).complete_config(config, data)


def prepare_run_dir(model_dir, config):
    """Creates `model_dir`, or checks that it holds a run of this config."""
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise RunError(f"--model_dir {model_dir} is a file: give a directory (a new one, or a run's to resume it)")
    os.makedirs(model_dir, exist_ok=True)
    path = os.path.join(model_dir, CONFIG_FILE)
    if os.path.exists(path):
        old = read_json(path)
        changed = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
        if changed:
            key = changed[0]
            raise RunError(
                f"{model_dir} holds a run with a different config ({key}: {old.get(key)!r} -> "
                f"{config.get(key)!r}): use a new --model_dir, or the same flags to resume"
            )
    else:
        write_json_atomic(path, config)


def is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)


def train(config, data, model_dir, strategy=None, verbose="auto", extra_callbacks=(), jit_compile=False, views="step"):
    """Trains the method of `config` on `data` (what its recipe's
    `load_data` returns), resumably, in `model_dir`, then runs the recipe's
    `finish` (plots, evaluation). The same for every method. `jit_compile`
    compiles the train step with XLA (`keras_ssl.methods.require_jit_compile`:
    an error, not Keras's silent fallback, when a layer cannot). `views`:
    where SimCLR and MoCo make their views, `"step"` (in the train step, on
    the device) or `"pipeline"` (`keras_ssl.data.with_pipeline_views`).

    Returns `(model, history)`, history as `{metric: [per epoch]}` over the
    whole run (resumed parts included).
    """
    import tensorflow as tf

    from zoo.recipes import recipe_for

    recipe = recipe_for(config)
    strategy = strategy or tf.distribute.get_strategy()
    chief = is_chief(strategy)
    keras.utils.set_random_seed(config["seed"])
    complete_config(config, data)
    prepare_run_dir(model_dir, config)
    model, fit_data, fit_kwargs = recipe.build(config, data, model_dir, strategy)
    if jit_compile:
        from keras_ssl.methods import require_jit_compile

        require_jit_compile(model)
        print("Compiling the train step with XLA (jit_compile=True)", flush=True)
    if views not in ("step", "pipeline"):
        raise ValueError(f"--views must be step or pipeline, got {views!r}")
    if views == "pipeline":
        from keras_ssl.data import with_pipeline_views

        if not getattr(model, "takes_pipeline_views", False):
            raise ValueError(
                f"--views=pipeline is for simclr and moco; {config['method']} makes its inputs in its step"
            )
        fit_data = _mapped(fit_data, lambda batches: with_pipeline_views(batches, model.augmenter))
        print("Views made in the input pipeline (--views=pipeline)", flush=True)
    if callable(fit_data):  # A function of the input context: one input pipeline per worker.
        fit_data = distribute_input(fit_data, strategy)

    # Workers other than the chief write their state to private directories.
    scratch = None if chief else tempfile.mkdtemp(prefix="keras_ssl-worker-")
    history = JSONHistory(os.path.join(model_dir if chief else scratch, HISTORY_FILE))
    callbacks = [
        *extra_callbacks,
        *recipe.callbacks(config, data),
        history,
        keras.callbacks.BackupAndRestore(
            os.path.join(model_dir if chief else scratch, BACKUP_DIR), double_checkpoint=True
        ),
        keras.callbacks.TensorBoard(os.path.join(model_dir if chief else scratch, "logs")),
    ]
    done = completed_epochs(model_dir)
    if done:
        print(f"Resuming {model_dir} from epoch {done} of {config['epochs']}", flush=True)
    print(f"Training {config['method']} on {data.describe()}", flush=True)
    model.fit(fit_data, epochs=config["epochs"], callbacks=callbacks, verbose=verbose, **fit_kwargs)

    history_dict = history.as_keras_history()
    # Every worker saves (collective under a multi-worker strategy); only
    # the chief writes where it counts.
    save_model_atomic(model, os.path.join(model_dir if chief else scratch, MODEL_FILE))
    recipe.finish(model, config, data, model_dir, history_dict, chief)
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
    return model, history_dict


def _mapped(fit_data, transform):
    """`transform` applied to a dataset, or to what a dataset function returns."""
    if callable(fit_data):
        return lambda input_context=None: transform(fit_data(input_context))
    return transform(fit_data)


def distribute_input(dataset_fn, strategy):
    """`dataset_fn(input_context)` as `fit` takes it under `strategy`: with
    several replicas, `strategy.distribute_datasets_from_function` (each
    worker builds its own pipeline, reading its own shard of the files, at
    the per-replica batch size); with one, the dataset itself."""
    from keras_ssl.distribute import is_multi_worker

    if strategy.num_replicas_in_sync == 1 and not is_multi_worker(strategy):
        return dataset_fn(None)
    return strategy.distribute_datasets_from_function(dataset_fn)


def evaluate_run(model, dataset, protocol, label_fraction, seed=0, baselines=True, finetune_epochs=20):
    """Returns `{name: accuracy}` for the trained encoder and its baselines."""
    from keras_ssl.evaluation import classifier_accuracy, evaluate_encoder, random_init_copy

    if protocol == "classifier":  # The method's own classifier (semi-supervised methods).
        return {"trained": classifier_accuracy(model, dataset.x_test, dataset.y_test)}
    kwargs = {"epochs": finetune_epochs} if protocol == "finetune" else {}
    encoder = model.encoder
    results = {"trained": evaluate_encoder(encoder, dataset, protocol, label_fraction, seed, **kwargs)}
    if baselines:
        results["random_init"] = evaluate_encoder(
            random_init_copy(encoder, seed), dataset, protocol, label_fraction, seed, **kwargs
        )
        if protocol != "finetune":
            results["raw_pixels"] = evaluate_encoder(None, dataset, protocol, label_fraction, seed)
    return results


def record_evaluation(model_dir, protocol, label_fraction, results):
    """Merges results into `model_dir/evaluation.json`."""

    path = os.path.join(model_dir, EVALUATION_FILE)
    table = read_json(path) if os.path.exists(path) else {}
    table[f"{protocol}@{label_fraction:g}"] = results
    write_json_atomic(path, table)
    return path
