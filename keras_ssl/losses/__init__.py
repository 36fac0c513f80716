"""Losses as standalone functions and serializable Keras losses."""

from keras_ssl.losses.nt_xent import NTXentLoss, nt_xent

__all__ = ["NTXentLoss", "nt_xent"]
