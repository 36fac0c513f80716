"""Reusable layers and weight utilities shared by methods."""

from keras_ssl.layers.ema import ema_update
from keras_ssl.layers.projection_head import ProjectionHead

__all__ = ["ProjectionHead", "ema_update"]
