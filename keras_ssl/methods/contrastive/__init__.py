"""Contrastive methods: views of an image pulled together against other images."""

from keras_ssl.methods.contrastive.base import ContrastiveMethod, contrast_accuracy
from keras_ssl.methods.contrastive.cpc import CPC
from keras_ssl.methods.contrastive.deep_cluster import DeepCluster, DeepClusterCallback
from keras_ssl.methods.contrastive.deep_infomax import DeepInfoMax
from keras_ssl.methods.contrastive.instance_discrimination import InstanceDiscrimination
from keras_ssl.methods.contrastive.moco import MoCo
from keras_ssl.methods.contrastive.noise_as_targets import NoiseAsTargets
from keras_ssl.methods.contrastive.simclr import SimCLR

__all__ = [
    "CPC",
    "ContrastiveMethod",
    "DeepCluster",
    "DeepClusterCallback",
    "DeepInfoMax",
    "InstanceDiscrimination",
    "MoCo",
    "NoiseAsTargets",
    "SimCLR",
    "contrast_accuracy",
]
