"""Contrastive methods: views of an image pulled together against other images."""

from keras_ssl.methods.contrastive.simclr import SimCLR

__all__ = ["SimCLR"]
