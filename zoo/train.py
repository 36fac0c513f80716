"""Trains a method and writes a resumable run directory.

    python -m zoo.train --method=simclr --dataset=fashion_mnist --model_dir=runs/simclr \
        --epochs=20 --batch_size=256 --strategy=default

Running the same command again after a crash (or Ctrl-C) continues from the
last completed epoch. See zoo/runs.py for what the run directory holds.
"""

import os
import sys
import tempfile

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("method", None, "Method name, e.g. simclr.")
flags.DEFINE_string("dataset", "fashion_mnist", "fashion_mnist, digits or tfds:NAME.")
flags.DEFINE_string("model_dir", None, "Run directory (created; reused to resume).")
flags.DEFINE_integer("epochs", None, "Epochs (default: the method's config).")
flags.DEFINE_integer("batch_size", None, "Global batch size (default: the method's config).")
flags.DEFINE_float("learning_rate", None, "Peak learning rate (default: the method's config).")
flags.DEFINE_integer("train_size", None, "Train on a class-balanced subset of this many images.")
flags.DEFINE_integer("seed", None, "Random seed (default: the method's config).")
flags.DEFINE_integer("knn_every", None, "Report kNN accuracy every N epochs (0: never).")
flags.DEFINE_string("strategy", "default", "default, mirrored, multi_worker, tpu or cpu:N.")
flags.DEFINE_bool("quick", False, "Shrink the config for a smoke run (small backbone, few epochs).")
flags.DEFINE_integer("verbose", None, "Keras fit verbosity (default: progress bar on a terminal, else one line per epoch).")

KNN_BANK_SIZE = 5000
KNN_TEST_SIZE = 2000


def resolve_config(method, dataset_name, quick=False, **overrides):
    """The method's config with flag overrides (those not None) applied."""
    from zoo import configs

    config = configs.get_config(method, quick=quick)
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
    from zoo import runs

    os.makedirs(model_dir, exist_ok=True)
    path = os.path.join(model_dir, runs.CONFIG_FILE)
    if os.path.exists(path):
        old = runs.read_json(path)
        changed = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
        if changed:
            key = changed[0]
            raise runs.RunError(
                f"{model_dir} holds a run with a different config ({key}: {old.get(key)!r} -> "
                f"{config.get(key)!r}): use a new --model_dir, or the same flags to resume"
            )
    else:
        runs.write_json_atomic(path, config)


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

    from keras_ssl.data import image_batches
    from keras_ssl.distribute import is_multi_worker
    from keras_ssl.evaluation import KNNMonitor, extract_features, plot_embedding, plot_history
    from zoo import runs

    strategy = strategy or tf.distribute.get_strategy()
    chief = is_chief(strategy)
    keras.utils.set_random_seed(config["seed"])
    if config.get("image_shape") is None:
        config["image_shape"] = list(dataset.image_shape)
    prepare_run_dir(model_dir, config)

    batches = image_batches(dataset.x_train, config["batch_size"], seed=config["seed"])
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    batches = batches.with_options(options)
    if is_multi_worker(strategy):
        # Keras averages the first batch over workers; collective ops reject uint8.
        batches = batches.map(lambda images: tf.cast(images, "float32"))
    steps_per_epoch = len(dataset.x_train) // config["batch_size"]

    with strategy.scope():
        backbone = runs.build_backbone(config, dataset.image_shape)
        model = runs.build_method(config, backbone)
        model.compile(optimizer=runs.build_optimizer(config, steps_per_epoch))

    # Workers other than the chief write their state to private directories.
    scratch = None if chief else tempfile.mkdtemp(prefix="keras_ssl-worker-")
    history = runs.JSONHistory(os.path.join(model_dir if chief else scratch, runs.HISTORY_FILE))
    callbacks = list(extra_callbacks)
    if config.get("knn_every"):
        bank = dataset.subset(train_size=min(KNN_BANK_SIZE, len(dataset.x_train)),
                              test_size=min(KNN_TEST_SIZE, len(dataset.x_test)), seed=config["seed"])
        callbacks.append(KNNMonitor(bank.x_train, bank.y_train, bank.x_test, bank.y_test, every=config["knn_every"]))
    callbacks += [
        history,
        keras.callbacks.BackupAndRestore(
            os.path.join(model_dir, runs.BACKUP_DIR) if chief else os.path.join(scratch, runs.BACKUP_DIR),
            double_checkpoint=True,
        ),
        keras.callbacks.TensorBoard(os.path.join(model_dir if chief else scratch, "logs")),
    ]
    done = runs.completed_epochs(model_dir)
    if done:
        print(f"Resuming {model_dir} from epoch {done} of {config['epochs']}", flush=True)
    print(f"Training {config['method']} on {dataset.describe()}", flush=True)
    model.fit(batches, epochs=config["epochs"], callbacks=callbacks, verbose=verbose, shuffle=False)

    history_dict = history.as_keras_history()
    if chief:
        runs.save_model_atomic(model, os.path.join(model_dir, runs.MODEL_FILE))
        plot_history(history_dict, os.path.join(model_dir, "history.png"), title=f"{config['method']} on {dataset.name}")
        test = dataset.subset(test_size=min(3000, len(dataset.x_test)), seed=config["seed"])
        plot_embedding(
            extract_features(model.encoder, test.x_test), test.y_test, os.path.join(model_dir, "embedding.png"),
            class_names=dataset.class_names, title=f"{config['method']} embedding of {dataset.name} test (PCA)",
        )
    return model, history_dict


def main(argv):
    del argv
    from zoo.errors import exit_on_user_error

    with exit_on_user_error():
        if not FLAGS.method:
            raise ValueError("--method is required, e.g. --method=simclr")
        if not FLAGS.model_dir:
            raise ValueError("--model_dir is required, e.g. --model_dir=runs/simclr")
        # The strategy comes first: cpu:N must split the CPU before any TF op.
        from keras_ssl.distribute import get_strategy

        strategy = get_strategy(FLAGS.strategy)
        from keras_ssl.data import load_dataset
        from zoo import runs

        config = resolve_config(
            FLAGS.method, FLAGS.dataset, quick=FLAGS.quick, epochs=FLAGS.epochs, batch_size=FLAGS.batch_size,
            learning_rate=FLAGS.learning_rate, train_size=FLAGS.train_size, seed=FLAGS.seed, knn_every=FLAGS.knn_every,
        )
        model_path = os.path.join(FLAGS.model_dir, runs.MODEL_FILE)
        if os.path.exists(model_path):
            print(f"Run already complete: {model_path} (use a new --model_dir to train again)")
            return 0
        dataset = load_dataset(FLAGS.dataset)
        if config["train_size"]:
            if config["train_size"] > len(dataset.x_train):
                raise ValueError(f"--train_size {config['train_size']} is larger than the dataset ({len(dataset.x_train)} images)")
            dataset = dataset.subset(train_size=config["train_size"], seed=config["seed"])
        verbose = FLAGS.verbose if FLAGS.verbose is not None else (1 if sys.stdout.isatty() else 2)
        train(config, dataset, FLAGS.model_dir, strategy=strategy, verbose=verbose)
        print(f"Saved {model_path}")
    return 0


if __name__ == "__main__":
    app.run(main)
