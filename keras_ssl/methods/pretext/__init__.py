"""Pretext tasks: labels made from the images themselves (rotations, patch
positions, permutations, removed regions, colours)."""

from keras_ssl.methods.pretext.colorization import Colorization
from keras_ssl.methods.pretext.context_encoder import ContextEncoder
from keras_ssl.methods.pretext.jigsaw_puzzle import JigsawPuzzle
from keras_ssl.methods.pretext.relative_patch_position import RelativePatchPosition
from keras_ssl.methods.pretext.rotation_prediction import RotationPrediction
from keras_ssl.methods.pretext.split_brain_autoencoder import SplitBrainAutoencoder

__all__ = [
    "Colorization",
    "ContextEncoder",
    "JigsawPuzzle",
    "RelativePatchPosition",
    "RotationPrediction",
    "SplitBrainAutoencoder",
]
