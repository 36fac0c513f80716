"""Autoencoding methods: reconstruct clean inputs from corrupted ones."""

from keras_ssl.methods.autoencoding.denoising_autoencoder import DenoisingAutoencoder
from keras_ssl.methods.autoencoding.stacked_denoising_autoencoder import StackedDenoisingAutoencoder

__all__ = ["DenoisingAutoencoder", "StackedDenoisingAutoencoder"]
