"""Semi-supervised methods: a classifier trained on a few labels plus an
unsupervised term on the unlabelled images."""

from keras_ssl.methods.semi_supervised.base import SemiSupervisedMethod, sigmoid_rampup
from keras_ssl.methods.semi_supervised.entropy_minimization import EntropyMinimization
from keras_ssl.methods.semi_supervised.mean_teacher import MeanTeacher
from keras_ssl.methods.semi_supervised.mix_match import MixMatch
from keras_ssl.methods.semi_supervised.pi_model import PiModel
from keras_ssl.methods.semi_supervised.pseudo_label import PseudoLabel
from keras_ssl.methods.semi_supervised.supervised_only import SupervisedOnly
from keras_ssl.methods.semi_supervised.temporal_ensembling import TemporalEnsembling
from keras_ssl.methods.semi_supervised.vat import VAT

__all__ = [
    "EntropyMinimization",
    "MeanTeacher",
    "MixMatch",
    "PiModel",
    "PseudoLabel",
    "SemiSupervisedMethod",
    "SupervisedOnly",
    "TemporalEnsembling",
    "VAT",
    "sigmoid_rampup",
]
