"""Self-supervised methods, one keras.Model subclass each."""

from keras_ssl.methods.method import Method
from keras_ssl.methods.simclr import SimCLR

__all__ = ["Method", "SimCLR"]
