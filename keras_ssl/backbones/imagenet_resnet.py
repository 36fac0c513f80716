"""ImageNet-style ResNet-18 and ResNet-50 from keras-hub, behind the
library's raw-pixel contract."""

import keras

from keras_ssl.backbones.pixel_input import pixel_input

# (block type, blocks per stage) of He et al. 2016, Table 1.
DEPTHS = {18: ("basic_block", (2, 2, 2, 2)), 50: ("bottleneck_block", (3, 4, 6, 3))}


@keras.saving.register_keras_serializable(package="keras_ssl")
class ImageNetResNet(keras.Model):
    """ResNet-18 or ResNet-50 (He, Zhang, Ren & Sun, "Deep Residual Learning
    for Image Recognition", CVPR 2016) for real image sizes: a 7x7 stride-2
    stem and a 3x3 max-pool, four stages of basic (18) or bottleneck (50)
    blocks, global average pooling (512 or 2048 features).

    The network is keras-hub's `ResNetBackbone`, built from its constructor
    (no preset download); this wrapper gives it the contract every backbone
    of the library keeps: float32 raw pixels in [0, 255] in (uint8 once
    exported), scaling to [0, 1] inside, pooled features out. Any input size
    of at least 32 pixels works (the stem and four stages divide it by 32);
    the CIFAR-style `ResNet` stays for 28x28 and 32x32 images.

    Args:
        input_shape: `(height, width, channels)`, height and width >= 32.
        depth: 18 or 50.
        name: str.

    Example:

    >>> backbone = ImageNetResNet(input_shape=(96, 96, 3), depth=18)
    >>> backbone.output_shape
    (None, 512)
    """

    def __init__(self, input_shape=(224, 224, 3), depth=18, name="imagenet_resnet", **kwargs):
        import keras_hub

        if depth not in DEPTHS:
            raise ValueError(f"ImageNetResNet depth must be 18 or 50, got {depth}")
        shape = tuple(input_shape)
        if len(shape) != 3 or min(shape[:2]) < 32:
            raise ValueError(
                f"ImageNetResNet needs images of at least 32x32 (its stem and stages divide the size by 32), got "
                f"input_shape {input_shape!r}: use keras_ssl.backbones.ResNet for smaller images"
            )
        block_type, blocks = DEPTHS[depth]
        network = keras_hub.models.ResNetBackbone(
            input_conv_filters=[64],
            input_conv_kernel_sizes=[7],
            stackwise_num_filters=[64, 128, 256, 512],
            stackwise_num_blocks=list(blocks),
            stackwise_num_strides=[1, 2, 2, 2],
            block_type=block_type,
            use_pre_activation=False,
            image_shape=shape,
            name="resnet_backbone",
        )
        inputs, scaled = pixel_input(shape)
        outputs = keras.layers.GlobalAveragePooling2D(name="pool")(network(scaled))
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.image_shape = shape
        self.depth = depth

    @property
    def feature_dim(self):
        return self.output.shape[-1]

    def get_config(self):
        return {"input_shape": self.image_shape, "depth": self.depth, "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
