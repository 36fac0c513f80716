"""Self-supervised and semi-supervised methods, one keras.Model subclass
each, grouped by family in subpackages (`contrastive`, `semi_supervised`,
`pretext`, `autoencoding`, `language`, `density`, `video`). Every public name is re-exported
here: `keras_ssl.methods.SimCLR` is `keras_ssl.methods.contrastive.SimCLR`.

`plot_colorizations`, `plot_denoising_grid` (from `keras_ssl.evaluation`),
`inpainting_reconstruction_loss` (from `keras_ssl.losses`) and
`bert_optimizer` (from `keras_ssl.optimizers`) are re-exported here for
code written before they moved out."""

from keras_ssl.evaluation.image_grids import plot_colorizations, plot_denoising_grid
from keras_ssl.losses.inpainting import inpainting_reconstruction_loss
from keras_ssl.methods.autoencoding import DenoisingAutoencoder, StackedDenoisingAutoencoder
from keras_ssl.methods.base import Method, require_jit_compile
from keras_ssl.methods.contrastive import (
    CPC,
    ContrastiveMethod,
    DeepCluster,
    DeepClusterCallback,
    DeepInfoMax,
    InstanceDiscrimination,
    MoCo,
    NoiseAsTargets,
    SimCLR,
)
from keras_ssl.methods.density import FVSBN, NADE, DensityMethod, PixelCNN
from keras_ssl.methods.images import ImageMethod
from keras_ssl.methods.language import (
    BertPretraining,
    CharLSTMLanguageModel,
    LanguageModel,
    NeuralLanguageModel,
    Word2Vec,
    sample_next_token,
)
from keras_ssl.methods.pretext import (
    Colorization,
    ContextEncoder,
    JigsawPuzzle,
    RelativePatchPosition,
    RotationPrediction,
    SplitBrainAutoencoder,
)
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
from keras_ssl.methods.video import VideoColorization
from keras_ssl.optimizers import bert_optimizer

__all__ = [
    "VideoColorization",
    "Word2Vec",
    "BertPretraining",
    "bert_optimizer",
    "VAT",
    "ContextEncoder",
    "Colorization",
    "ContrastiveMethod",
    "DensityMethod",
    "FVSBN",
    "NADE",
    "PixelCNN",
    "DenoisingAutoencoder",
    "CharLSTMLanguageModel",
    "EntropyMinimization",
    "LanguageModel",
    "MeanTeacher",
    "ImageMethod",
    "InstanceDiscrimination",
    "Method",
    "require_jit_compile",
    "MixMatch",
    "MoCo",
    "CPC",
    "DeepCluster",
    "DeepClusterCallback",
    "DeepInfoMax",
    "NoiseAsTargets",
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
