"""The recipe of the language methods (word2vec, BERT, NPLM, char-LSTM):
a text corpus instead of images.

Each model learns its vocabulary from the corpus and trains on its own
kind of batches, so the recipe hands `build` and `evaluate` to the module
of the config's model class (`MODELS`):

- `build(config, corpus, model_dir)` -> `(model, data, fit_kwargs)`: learns
  the vocabulary from the training documents (writing it into `model_dir`),
  builds and compiles the model (called inside `strategy.scope()`) and
  returns what `fit` trains on;
- `evaluate(model, corpus, model_dir)` -> `{metric: float}` on held-out
  documents (and PNG/text artefacts written into `model_dir`).

A run directory has the layout of `zoo.runs` plus `evaluation.json` and the
model's vocabulary and artefacts.
"""

import importlib
import os

from zoo.recipes.base import Recipe

MODELS = {
    "Word2Vec": "word2vec",
    "BertPretraining": "bert",
    "NeuralLanguageModel": "nplm",
    "CharLSTMLanguageModel": "char_lstm",
}
_IMAGE_ONLY = ("image methods", "trains on text")


def model_module(config):
    """The module that builds and evaluates the config's model class."""
    name = config["model"]["class"]
    if name not in MODELS:
        raise ValueError(f"the language recipe has no builder for {name}: use one of {', '.join(MODELS)}")
    return importlib.import_module(f"{__name__}.{MODELS[name]}")


class LanguageRecipe(Recipe):
    """A `keras_ssl.data` text corpus, the model's own vocabulary and
    batches, and a held-out evaluation written to `evaluation.json`."""

    data_key = "corpus"
    foreign_flags = {
        name: _IMAGE_ONLY
        for name in (
            "train_size",
            "image_size",
            "knn_every",
            "num_labels",
            "unlabelled_ratio",
            "unlabelled_dataset",
        )
    }

    def load_data(self, config):
        from keras_ssl.data import load_text_corpus

        return load_text_corpus(config["corpus"], seed=config["seed"])

    def build(self, config, corpus, model_dir, strategy):
        with strategy.scope():
            return model_module(config).build(config, corpus, model_dir)

    def finish(self, model, config, corpus, model_dir, history, chief):
        """`history.png`, then the held-out evaluation, printed and written
        to `evaluation.json`."""
        from keras_ssl.evaluation import plot_history
        from zoo.runs import EVALUATION_FILE, write_json_atomic

        plot_history(history, os.path.join(model_dir, "history.png"), title=f"{config['method']} on {corpus.name}")
        evaluation = model_module(config).evaluate(model, corpus, model_dir)
        write_json_atomic(os.path.join(model_dir, EVALUATION_FILE), {"held_out": evaluation})
        for name, value in evaluation.items():
            print(f"{name}: {value:.4f}" if isinstance(value, float) else f"{name}: {value}", flush=True)
        return evaluation
