"""Explicit density models: exact likelihoods of binary images."""

from keras_ssl.methods.density.base import DensityMethod

__all__ = ["DensityMethod"]
