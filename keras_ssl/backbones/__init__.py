"""Task-agnostic encoders from raw pixels to features."""

from keras_ssl.backbones.conv_net import ConvNet
from keras_ssl.backbones.imagenet_resnet import ImageNetResNet
from keras_ssl.backbones.mlp import MLP
from keras_ssl.backbones.resnet import ResNet
from keras_ssl.backbones.stages import feature_map_model, stage_layer_names, stage_model

__all__ = ["ConvNet", "ImageNetResNet", "MLP", "ResNet", "feature_map_model", "stage_layer_names", "stage_model"]
