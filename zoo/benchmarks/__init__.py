"""Benchmark suites, one module each, wired into `python -m zoo.benchmark --suite=NAME`."""

import os
import platform


def cpu_model():
    """The CPU's model name (as `lscpu` prints it), else the architecture."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def machine():
    """The line every results table ends with: CPU model, cores,
    TensorFlow version, GPU or not."""
    import tensorflow as tf

    return f"{cpu_model()}, {os.cpu_count()} CPU cores, TensorFlow {tf.__version__}, " + (
        "GPU" if tf.config.list_physical_devices("GPU") else "no GPU"
    )
