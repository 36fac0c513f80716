import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _threads_per_worker():
    """CPU threads each test process may use: the cores shared among
    pytest-xdist's workers (`make test` runs one worker per core)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, (os.cpu_count() or 1) // workers)


# Before TensorFlow, NumPy or OpenBLAS start their thread pools: with several
# workers on few cores, each pool sized to the whole machine oversubscribes it
# (threads spin-wait on each other). Subprocesses that tests start inherit it.
_THREADS = str(_threads_per_worker())
for _name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, _THREADS)

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_collection_modifyitems(config, items):
    """Runs the modules that hold slow tests first (stable otherwise), so that
    pytest-xdist's workers do not end on one long module while the other idles."""
    slow_modules = {item.module.__name__ for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.module.__name__ not in slow_modules)


@pytest.fixture(scope="session")
def fashion_mnist():
    """The real Fashion-MNIST (make test installs the Debian package as root)."""
    from keras_ssl.data import load_fashion_mnist

    return load_fashion_mnist()


@pytest.fixture
def rng():
    return np.random.default_rng(0)
