"""Stochastic view makers built on keras.layers augmentation layers."""

from keras_ssl.augment.ab_quantizer import ABQuantizer, ab_bin_prior, fit_ab_bins
from keras_ssl.augment.color_space import lab_to_rgb, rgb_to_lab
from keras_ssl.augment.corruptions import (
    GaussianCorruption,
    MaskingCorruption,
    SaltAndPepperCorruption,
    make_corruption,
)
from keras_ssl.augment.inpainting_masks import (
    central_mask,
    random_block_mask,
    random_region_mask,
    reconstruction_weights,
)
from keras_ssl.augment.jigsaw_permutations import (
    cut_tiles,
    maximal_hamming_permutations,
    normalize_tiles,
    pairwise_hamming_distances,
    shuffle_tiles,
)
from keras_ssl.augment.mixup import mixup, sample_beta, sample_gamma, sample_mixup_weights, sharpen
from keras_ssl.augment.patch_pairs import NEIGHBOUR_OFFSETS, drop_channels, patch_layout, sample_patch_pairs
from keras_ssl.augment.random_apply import RandomApply
from keras_ssl.augment.random_resized_crop import RandomResizedCrop
from keras_ssl.augment.resample import area_resize, crop_and_resize, translate
from keras_ssl.augment.rotations import all_rotations, rotate_images
from keras_ssl.augment.seeded import ColorJitter, random_transform
from keras_ssl.augment.simclr_augmenter import SimCLRAugmenter
from keras_ssl.augment.weak_augmenter import WeakAugmenter

__all__ = [
    "ABQuantizer",
    "ab_bin_prior",
    "fit_ab_bins",
    "lab_to_rgb",
    "rgb_to_lab",
    "GaussianCorruption",
    "MaskingCorruption",
    "SaltAndPepperCorruption",
    "make_corruption",
    "central_mask",
    "random_block_mask",
    "random_region_mask",
    "reconstruction_weights",
    "ColorJitter",
    "RandomApply",
    "random_transform",
    "area_resize",
    "crop_and_resize",
    "translate",
    "RandomResizedCrop",
    "SimCLRAugmenter",
    "WeakAugmenter",
    "mixup",
    "sample_beta",
    "sample_gamma",
    "sample_mixup_weights",
    "sharpen",
    "cut_tiles",
    "maximal_hamming_permutations",
    "normalize_tiles",
    "pairwise_hamming_distances",
    "shuffle_tiles",
    "NEIGHBOUR_OFFSETS",
    "drop_channels",
    "patch_layout",
    "sample_patch_pairs",
    "all_rotations",
    "rotate_images",
]
