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

import inspect
import json
import os
import shutil
import tempfile

import keras

import keras_ssl

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
HISTORY_FILE = "history.json"
BACKUP_DIR = "backup"
EVALUATION_FILE = "evaluation.json"
KNN_BANK_SIZE = 5000
KNN_TEST_SIZE = 2000


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
    """The backbone of `config["backbone"]` for images of `image_shape`; an
    `input_channels` entry overrides the channel count (colourisation's
    backbone sees only the L channel of RGB images)."""
    spec = dict(config["backbone"])
    cls = getattr(keras_ssl.backbones, spec.pop("class"))
    channels = spec.pop("input_channels", None)
    if channels is not None:
        image_shape = (*tuple(image_shape)[:2], int(channels))
    return cls(input_shape=tuple(image_shape), **spec)


def build_method(config, backbone, num_classes=None, steps_per_epoch=None, num_unlabelled=None, images=None):
    """The method of `config["model"]` on `backbone`. Semi-supervised
    methods also get the number of classes, their ramp-up in steps
    (`rampup_epochs` x `steps_per_epoch`) and, where they keep per-example
    state, the number of unlabelled examples. A method class with an
    `arguments_from_data(images, arguments, seed)` classmethod (e.g.
    colourisation's ab bins, k-means on training pixels) completes its
    arguments from the training `images`."""
    spec = dict(config["model"])
    cls = getattr(keras_ssl.methods, spec.pop("class"))
    if hasattr(cls, "arguments_from_data"):
        if images is None:
            raise RunError(f"{cls.__name__} computes some arguments from data: pass images=dataset.x_train to build_method")
        spec = cls.arguments_from_data(images, spec, seed=config.get("seed"))
    if config.get("semi_supervised"):
        parameters = inspect.signature(cls).parameters
        spec["num_classes"] = num_classes
        if config.get("rampup_epochs") and "rampup_steps" in parameters:
            spec["rampup_steps"] = int(config["rampup_epochs"] * steps_per_epoch)
        if "num_unlabelled" in parameters:
            spec["num_unlabelled"] = num_unlabelled
        if "steps_per_epoch" in parameters:
            spec["steps_per_epoch"] = steps_per_epoch
    return cls(backbone, seed=config.get("seed"), **spec)


def training_data(config, dataset):
    """`(batches, steps_per_epoch, num_unlabelled)` for the method of
    `config`: raw image batches, or for semi-supervised methods
    `((x_l, y_l), x_u)` batches over a class-balanced labelled subset of
    `num_labels` examples (fixed by the seed) and the unlabelled rest."""

    from keras_ssl.data import image_batches, labelled_split, semi_supervised_batches

    if not config.get("semi_supervised"):
        batches = image_batches(dataset.x_train, config["batch_size"], seed=config["seed"])
        return batches, len(dataset.x_train) // config["batch_size"], None
    num_labels = config["num_labels"]
    if not 0 < num_labels <= len(dataset.y_train):
        raise ValueError(f"--num_labels must be between 1 and {len(dataset.y_train)}, got {num_labels}")
    if num_labels < dataset.num_classes:
        raise ValueError(f"--num_labels {num_labels} is fewer than the {dataset.num_classes} classes: raise it")
    labelled, unlabelled = labelled_split(dataset.y_train, num_labels, seed=config["seed"])
    if len(unlabelled) == 0:  # Every label kept (the fully supervised reference).
        unlabelled = labelled
    ratio = config.get("unlabelled_ratio", 1)
    if config["batch_size"] > num_labels:
        raise ValueError(f"--batch_size {config['batch_size']} is larger than --num_labels {num_labels}: lower it")
    batches = semi_supervised_batches(
        dataset.x_train[labelled], dataset.y_train[labelled], dataset.x_train[unlabelled], config["batch_size"],
        unlabelled_ratio=ratio, with_indices=bool(config.get("with_indices")), seed=config["seed"],
    )
    steps_per_epoch = len(unlabelled) // (config["batch_size"] * ratio)
    if config.get("steps_per_epoch"):  # A fixed step budget: epochs of that many steps.
        batches, steps_per_epoch = batches.repeat(), config["steps_per_epoch"]
    return batches, steps_per_epoch, len(unlabelled)


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


def resolve_config(method, dataset_name, quick=False, **overrides):
    """The method's config with flag overrides (those not None) applied."""
    from zoo import configs

    config = configs.get_config(method, quick=quick)
    for key in ("num_labels", "unlabelled_ratio"):
        if overrides.get(key) is not None and not config.get("semi_supervised"):
            raise ValueError(f"--{key} is for semi-supervised methods; {method} trains without labels")
    config.update({k: v for k, v in overrides.items() if v is not None})
    if overrides.get("learning_rate") is not None:
        config["optimizer"] = {**config["optimizer"], "learning_rate": overrides["learning_rate"]}
        config.pop("learning_rate")
    config["method"] = method
    config["dataset"] = dataset_name
    config["quick"] = bool(quick)
    for key in ("epochs", "batch_size"):
        if config[key] < 1:
            raise ValueError(f"--{key} must be at least 1, got {config[key]}")
    return config


def prepare_run_dir(model_dir, config):
    """Creates `model_dir`, or checks that it holds a run of this config."""

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


def train(config, dataset, model_dir, strategy=None, verbose="auto", extra_callbacks=()):
    """Trains the method of `config` on `dataset`, resumably, in `model_dir`.

    Returns `(model, history)`, history as `{metric: [per epoch]}` over the
    whole run (resumed parts included).
    """
    import keras
    import tensorflow as tf

    from keras_ssl.distribute import is_multi_worker
    from keras_ssl.evaluation import KNNMonitor, extract_features, plot_embedding, plot_history

    strategy = strategy or tf.distribute.get_strategy()
    chief = is_chief(strategy)
    keras.utils.set_random_seed(config["seed"])
    if config.get("image_shape") is None:
        config["image_shape"] = list(dataset.image_shape)
    prepare_run_dir(model_dir, config)

    batches, steps_per_epoch, num_unlabelled = training_data(config, dataset)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    batches = batches.with_options(options)
    if is_multi_worker(strategy):
        # Keras averages the first batch over workers; collective ops reject uint8.
        batches = batches.map(lambda *x: tf.nest.map_structure(
            lambda t: tf.cast(t, "float32") if t.dtype == tf.uint8 else t, x if len(x) > 1 else x[0]))

    with strategy.scope():
        backbone = build_backbone(config, dataset.image_shape)
        model = build_method(config, backbone, dataset.num_classes, steps_per_epoch, num_unlabelled,
                             images=dataset.x_train)
        model.compile(optimizer=build_optimizer(config, steps_per_epoch))

    # Workers other than the chief write their state to private directories.
    scratch = None if chief else tempfile.mkdtemp(prefix="keras_ssl-worker-")
    history = JSONHistory(os.path.join(model_dir if chief else scratch, HISTORY_FILE))
    callbacks = list(extra_callbacks)
    if config.get("knn_every"):
        bank = dataset.subset(train_size=min(KNN_BANK_SIZE, len(dataset.x_train)),
                              test_size=min(KNN_TEST_SIZE, len(dataset.x_test)), seed=config["seed"])
        callbacks.append(KNNMonitor(bank.x_train, bank.y_train, bank.x_test, bank.y_test, every=config["knn_every"]))
    if config.get("swap_ema_weights"):  # Validate on the averaged weights; fit ends on them.
        callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=False))
    callbacks += [
        history,
        keras.callbacks.BackupAndRestore(
            os.path.join(model_dir, BACKUP_DIR) if chief else os.path.join(scratch, BACKUP_DIR),
            double_checkpoint=True,
        ),
        keras.callbacks.TensorBoard(os.path.join(model_dir if chief else scratch, "logs")),
    ]
    done = completed_epochs(model_dir)
    if done:
        print(f"Resuming {model_dir} from epoch {done} of {config['epochs']}", flush=True)
    print(f"Training {config['method']} on {dataset.describe()}", flush=True)
    validation = (dataset.x_test, dataset.y_test) if config.get("semi_supervised") else None
    model.fit(batches, epochs=config["epochs"], callbacks=callbacks, verbose=verbose, shuffle=False,
              validation_data=validation, steps_per_epoch=config.get("steps_per_epoch"))

    history_dict = history.as_keras_history()
    # Every worker saves and predicts (under a multi-worker strategy these
    # are collective); only the chief writes where it counts.
    save_model_atomic(model, os.path.join(model_dir if chief else scratch, MODEL_FILE))
    test = dataset.subset(test_size=min(3000, len(dataset.x_test)), seed=config["seed"])
    features = extract_features(model.encoder, test.x_test)
    if chief:
        plot_history(history_dict, os.path.join(model_dir, "history.png"), title=f"{config['method']} on {dataset.name}")
        plot_embedding(
            features, test.y_test, os.path.join(model_dir, "embedding.png"),
            class_names=dataset.class_names, title=f"{config['method']} embedding of {dataset.name} test (PCA)",
        )
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
    return model, history_dict


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
