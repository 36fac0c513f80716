"""Reusable layers and weight utilities shared by methods."""

from keras_ssl.layers.channel_wise_dense import ChannelWiseDense
from keras_ssl.layers.ema import ema_update
from keras_ssl.layers.projection_head import ProjectionHead

__all__ = ["ChannelWiseDense", "ProjectionHead", "ema_update"]
