"""Stochastic view makers built on keras.layers augmentation layers."""

from keras_ssl.augment.mixup import mixup, sample_mixup_weights, sharpen
from keras_ssl.augment.random_apply import RandomApply
from keras_ssl.augment.random_resized_crop import RandomResizedCrop
from keras_ssl.augment.simclr_augmenter import SimCLRAugmenter
from keras_ssl.augment.weak_augmenter import WeakAugmenter

__all__ = [
    "RandomApply",
    "RandomResizedCrop",
    "SimCLRAugmenter",
    "WeakAugmenter",
    "mixup",
    "sample_mixup_weights",
    "sharpen",
]
