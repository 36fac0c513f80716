"""One module per method, each with `get_config(quick=False)`: a method is
registered by adding its module here, and nowhere else.

A config is plain data: `family` (which recipe of `zoo.recipes` trains
it), `model` (class name in `keras_ssl.methods` and its arguments),
`model_from_data` (arguments the recipe computes from the data, e.g.
`num_classes`), `backbone` (class name in `keras_ssl.backbones` and its
arguments), `optimizer`, `epochs`, `batch_size`, `seed`, and what the
family's recipe reads (`train_size`, `num_labels`, `corpus`, ...).
Modules without `get_config` (e.g. `semi_supervised`, shared settings) are
not methods.
"""

import importlib
import pkgutil


def _discover():
    names = []
    for info in pkgutil.iter_modules(__path__):
        if hasattr(importlib.import_module(f"{__name__}.{info.name}"), "get_config"):
            names.append(info.name)
    return tuple(sorted(names))


METHODS = _discover()


def get_config(method, quick=False):
    """The config of `method` (`quick=True` shrinks it for a smoke run)."""
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}: use one of {', '.join(METHODS)}")
    return importlib.import_module(f"{__name__}.{method}").get_config(quick=quick)


def methods_of(*families):
    """The methods whose config's `family` is one of `families`."""
    return tuple(m for m in METHODS if get_config(m)["family"] in families)


SEMI_SUPERVISED = methods_of("semi_supervised")
PRETEXT = methods_of("pretext", "autoencoding")
TEXT_METHODS = methods_of("language")
