import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest


@pytest.fixture(scope="session")
def fashion_mnist():
    """The real Fashion-MNIST (make test installs the Debian package as root)."""
    from keras_ssl.data import load_fashion_mnist

    return load_fashion_mnist()


@pytest.fixture
def rng():
    return np.random.default_rng(0)
