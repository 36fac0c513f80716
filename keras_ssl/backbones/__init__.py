"""Task-agnostic encoders from raw pixels to features."""

from keras_ssl.backbones.conv_net import ConvNet
from keras_ssl.backbones.resnet import ResNet

__all__ = ["ConvNet", "ResNet"]
