"""Self-supervised and semi-supervised methods, one keras.Model subclass each."""

from keras_ssl.methods.bert_pretraining import BertPretraining, bert_optimizer
from keras_ssl.methods.char_lstm_language_model import CharLSTMLanguageModel
from keras_ssl.methods.entropy_minimization import EntropyMinimization
from keras_ssl.methods.language_model import LanguageModel, sample_next_token
from keras_ssl.methods.mean_teacher import MeanTeacher
from keras_ssl.methods.method import Method
from keras_ssl.methods.mix_match import MixMatch
from keras_ssl.methods.neural_language_model import NeuralLanguageModel
from keras_ssl.methods.pi_model import PiModel
from keras_ssl.methods.pseudo_label import PseudoLabel
from keras_ssl.methods.semi_supervised_method import SemiSupervisedMethod, sigmoid_rampup
from keras_ssl.methods.simclr import SimCLR
from keras_ssl.methods.supervised_only import SupervisedOnly
from keras_ssl.methods.temporal_ensembling import TemporalEnsembling
from keras_ssl.methods.vat import VAT
from keras_ssl.methods.word2vec import Word2Vec

__all__ = [
    "BertPretraining",
    "Word2Vec",
    "bert_optimizer",
    "CharLSTMLanguageModel",
    "LanguageModel",
    "NeuralLanguageModel",
    "sample_next_token",
    "VAT",
    "EntropyMinimization",
    "MeanTeacher",
    "Method",
    "MixMatch",
    "PiModel",
    "PseudoLabel",
    "SemiSupervisedMethod",
    "SimCLR",
    "SupervisedOnly",
    "TemporalEnsembling",
    "sigmoid_rampup",
]
