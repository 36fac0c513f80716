"""Reusable layers and weight utilities shared by methods."""

from keras_ssl.layers.channel_wise_dense import ChannelWiseDense
from keras_ssl.layers.ema import ema_update, momentum_copy, momentum_pairs
from keras_ssl.layers.masked_conv import MaskedConv2D
from keras_ssl.layers.memory_bank import MemoryBank, Queue, checked_indices, scatter_rows
from keras_ssl.layers.patches import Patches
from keras_ssl.layers.projection_head import ProjectionHead

__all__ = [
    "ChannelWiseDense",
    "MaskedConv2D",
    "MemoryBank",
    "Patches",
    "ProjectionHead",
    "Queue",
    "checked_indices",
    "ema_update",
    "momentum_copy",
    "momentum_pairs",
    "scatter_rows",
]
