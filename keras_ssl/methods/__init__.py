"""Self-supervised and semi-supervised methods, one keras.Model subclass each."""

from keras_ssl.methods.method import Method
from keras_ssl.methods.semi_supervised_method import SemiSupervisedMethod, sigmoid_rampup
from keras_ssl.methods.simclr import SimCLR
from keras_ssl.methods.supervised_only import SupervisedOnly

__all__ = ["Method", "SemiSupervisedMethod", "SimCLR", "SupervisedOnly", "sigmoid_rampup"]
