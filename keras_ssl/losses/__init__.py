"""Losses as standalone functions and serializable Keras losses."""

from keras_ssl.losses.adversarial import discriminator_adversarial_loss, generator_adversarial_loss
from keras_ssl.losses.assignment import auction_assignment
from keras_ssl.losses.consistency import probability_mse, softmax_mse
from keras_ssl.losses.entropy import prediction_entropy
from keras_ssl.losses.inpainting import inpainting_reconstruction_loss
from keras_ssl.losses.nt_xent import NTXentLoss, nt_xent
from keras_ssl.losses.pseudo_label_cross_entropy import pseudo_label_cross_entropy
from keras_ssl.losses.reconstruction import denoising_reconstruction_loss, reconstruction_to_unit
from keras_ssl.losses.vat import kl_divergence_from_logits, virtual_adversarial_perturbation

__all__ = [
    "NTXentLoss",
    "auction_assignment",
    "denoising_reconstruction_loss",
    "discriminator_adversarial_loss",
    "generator_adversarial_loss",
    "inpainting_reconstruction_loss",
    "kl_divergence_from_logits",
    "nt_xent",
    "prediction_entropy",
    "probability_mse",
    "pseudo_label_cross_entropy",
    "reconstruction_to_unit",
    "softmax_mse",
    "virtual_adversarial_perturbation",
]
