"""Reusable layers: heads and building blocks shared by methods."""

from keras_ssl.layers.projection_head import ProjectionHead

__all__ = ["ProjectionHead"]
