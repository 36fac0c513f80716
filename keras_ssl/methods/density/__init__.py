"""Explicit density models: exact likelihoods of binary images."""

from keras_ssl.methods.density.base import DensityMethod
from keras_ssl.methods.density.fvsbn import FVSBN
from keras_ssl.methods.density.nade import NADE
from keras_ssl.methods.density.pixelcnn import PixelCNN

__all__ = ["FVSBN", "NADE", "DensityMethod", "PixelCNN"]
