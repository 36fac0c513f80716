"""Run directories of the language methods (word2vec, BERT, NPLM, char-LSTM).

The image methods' `zoo.runs` builds a backbone from an image shape; a text
method instead builds its vocabulary from the corpus. Each text method's
config module (`zoo/configs/<method>.py`) therefore provides, beside
`get_config(quick)`:

- `build(config, corpus, model_dir)` -> `(model, data, fit_kwargs)`: learns
  the vocabulary from the training documents (writing it into `model_dir`),
  builds and compiles the model (called inside `strategy.scope()`) and
  returns what `fit` trains on;
- `evaluate(model, corpus, model_dir)` -> `{metric: float}` on held-out
  documents (and PNG/text artefacts written into `model_dir`).

The run directory has the layout of `zoo.runs` (config.json, backup/,
history.json, logs/, model.keras, history.png) plus `evaluation.json` and
the method's vocabulary and artefacts.
"""

import importlib
import os

from zoo import runs


def resolve_text_config(method, corpus_name, quick=False, **overrides):
    """The method's config with flag overrides (those not None) applied."""
    from zoo import configs

    config = configs.get_config(method, quick=quick)
    config.update({k: v for k, v in overrides.items() if v is not None})
    if overrides.get("learning_rate") is not None:
        config["optimizer"] = {**config["optimizer"], "learning_rate": overrides["learning_rate"]}
        config.pop("learning_rate")
    config["method"] = method
    config["corpus"] = corpus_name or config.get("corpus")
    config["quick"] = bool(quick)
    for key in ("epochs", "batch_size"):
        if config.get(key) is not None and config[key] < 1:
            raise ValueError(f"--{key} must be at least 1, got {config[key]}")
    return config


def train_text(config, corpus, model_dir, strategy=None, verbose="auto"):
    """Trains the text method of `config` on `corpus` (a `TextCorpus`),
    resumably, in `model_dir`; evaluates it on the held-out documents.

    Returns `(model, history, evaluation)`.
    """
    import keras
    import tensorflow as tf

    from keras_ssl.evaluation import plot_history

    strategy = strategy or tf.distribute.get_strategy()
    module = importlib.import_module(f"zoo.configs.{config['method']}")
    keras.utils.set_random_seed(config["seed"])
    runs.prepare_run_dir(model_dir, config)
    with strategy.scope():
        model, data, fit_kwargs = module.build(config, corpus, model_dir)
    history = runs.JSONHistory(os.path.join(model_dir, runs.HISTORY_FILE))
    callbacks = [
        history,
        keras.callbacks.BackupAndRestore(os.path.join(model_dir, runs.BACKUP_DIR), double_checkpoint=True),
        keras.callbacks.TensorBoard(os.path.join(model_dir, "logs")),
    ]
    done = runs.completed_epochs(model_dir)
    if done:
        print(f"Resuming {model_dir} from epoch {done} of {config['epochs']}", flush=True)
    print(f"Training {config['method']} on {corpus.describe()}", flush=True)
    model.fit(data, epochs=config["epochs"], callbacks=callbacks, verbose=verbose, **fit_kwargs)
    history_dict = history.as_keras_history()
    runs.save_model_atomic(model, os.path.join(model_dir, runs.MODEL_FILE))
    plot_history(history_dict, os.path.join(model_dir, "history.png"), title=f"{config['method']} on {corpus.name}")
    evaluation = module.evaluate(model, corpus, model_dir)
    runs.write_json_atomic(os.path.join(model_dir, runs.EVALUATION_FILE), {"held_out": evaluation})
    for name, value in evaluation.items():
        print(f"{name}: {value:.4f}" if isinstance(value, float) else f"{name}: {value}", flush=True)
    return model, history_dict, evaluation
