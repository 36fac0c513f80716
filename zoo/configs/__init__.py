"""One module per method, each with `get_config(quick=False)`.

A config is a plain dict: `model` (class name in `keras_ssl.methods` and
its arguments), `backbone` (class name in `keras_ssl.backbones` and its
arguments), `optimizer`, `epochs`, `batch_size`, `train_size`, `seed`.
"""

import importlib

SEMI_SUPERVISED = (
    "supervised",
    "entropy_minimization",
    "pseudo_label",
    "pi_model",
    "temporal_ensembling",
    "mean_teacher",
    "vat",
    "mix_match",
)
PRETEXT = (
    "rotation",
    "jigsaw",
    "relative_patch",
    "context_encoder",
    "colorization",
    "split_brain",
    "denoising_autoencoder",
)
TEXT_METHODS = ("word2vec", "bert", "nplm", "char_lstm")
METHODS = ("simclr", *SEMI_SUPERVISED, *PRETEXT, *TEXT_METHODS)


def get_config(method, quick=False):
    """The config of `method` (`quick=True` shrinks it for a smoke run)."""
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}: use one of {', '.join(METHODS)}")
    return importlib.import_module(f"zoo.configs.{method}").get_config(quick=quick)
