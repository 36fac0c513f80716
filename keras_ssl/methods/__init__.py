"""Self-supervised and semi-supervised methods, one keras.Model subclass each."""

from keras_ssl.methods.context_encoder import ContextEncoder, inpainting_reconstruction_loss
from keras_ssl.methods.colorization import Colorization, plot_colorizations
from keras_ssl.methods.denoising_autoencoder import DenoisingAutoencoder, plot_denoising_grid
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
from keras_ssl.methods.jigsaw_puzzle import JigsawPuzzle
from keras_ssl.methods.relative_patch_position import RelativePatchPosition
from keras_ssl.methods.rotation_prediction import RotationPrediction
from keras_ssl.methods.semi_supervised_method import SemiSupervisedMethod, sigmoid_rampup
from keras_ssl.methods.simclr import SimCLR
from keras_ssl.methods.split_brain_autoencoder import SplitBrainAutoencoder
from keras_ssl.methods.stacked_denoising_autoencoder import StackedDenoisingAutoencoder
from keras_ssl.methods.supervised_only import SupervisedOnly
from keras_ssl.methods.temporal_ensembling import TemporalEnsembling
from keras_ssl.methods.vat import VAT
from keras_ssl.methods.word2vec import Word2Vec

__all__ = [
    "Word2Vec",
    "BertPretraining",
    "bert_optimizer",
    "VAT",
    "ContextEncoder",
    "Colorization",
    "DenoisingAutoencoder",
    "CharLSTMLanguageModel",
    "EntropyMinimization",
    "LanguageModel",
    "MeanTeacher",
    "Method",
    "MixMatch",
    "NeuralLanguageModel",
    "PiModel",
    "PseudoLabel",
    "JigsawPuzzle",
    "RelativePatchPosition",
    "RotationPrediction",
    "SemiSupervisedMethod",
    "SimCLR",
    "SplitBrainAutoencoder",
    "StackedDenoisingAutoencoder",
    "SupervisedOnly",
    "TemporalEnsembling",
    "plot_colorizations",
    "inpainting_reconstruction_loss",
    "plot_denoising_grid",
    "sample_next_token",
    "sigmoid_rampup",
]
