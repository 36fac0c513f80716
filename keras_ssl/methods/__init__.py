"""Self-supervised and semi-supervised methods, one keras.Model subclass
each, grouped by family in subpackages (`contrastive`, `semi_supervised`,
`pretext`, `autoencoding`, `language`). Every public name is re-exported
here: `keras_ssl.methods.SimCLR` is `keras_ssl.methods.contrastive.SimCLR`."""

from keras_ssl.methods.autoencoding import DenoisingAutoencoder, StackedDenoisingAutoencoder
from keras_ssl.methods.autoencoding.denoising_autoencoder import plot_denoising_grid
from keras_ssl.methods.contrastive import SimCLR
from keras_ssl.methods.language import (
    BertPretraining,
    CharLSTMLanguageModel,
    LanguageModel,
    NeuralLanguageModel,
    Word2Vec,
    sample_next_token,
)
from keras_ssl.methods.language.bert_pretraining import bert_optimizer
from keras_ssl.methods.method import Method
from keras_ssl.methods.pretext import (
    Colorization,
    ContextEncoder,
    JigsawPuzzle,
    RelativePatchPosition,
    RotationPrediction,
    SplitBrainAutoencoder,
)
from keras_ssl.methods.pretext.colorization import plot_colorizations
from keras_ssl.methods.pretext.context_encoder import inpainting_reconstruction_loss
from keras_ssl.methods.semi_supervised import (
    VAT,
    EntropyMinimization,
    MeanTeacher,
    MixMatch,
    PiModel,
    PseudoLabel,
    SemiSupervisedMethod,
    SupervisedOnly,
    TemporalEnsembling,
    sigmoid_rampup,
)

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
