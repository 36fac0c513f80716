"""CIFAR-style residual network (He et al. 2016, section 4.2)."""

import keras

from keras_ssl.backbones.pixel_input import pixel_input


@keras.saving.register_keras_serializable(package="keras_ssl")
class ResNet(keras.Model):
    """CIFAR-style ResNet encoder from raw pixels to pooled features.

    He et al., "Deep Residual Learning for Image Recognition" (CVPR 2016),
    section 4.2: a 3x3 stem, then three stages of basic blocks with
    `width`, `2 * width` and `4 * width` filters (strides 1, 2, 2) and global
    average pooling. `depth = 6n + 2` gives n blocks per stage (ResNet-20:
    n=3). Sized for 28x28 and 32x32 inputs.

    Inputs are raw pixels in [0, 255] (any real or integer dtype); the
    scaling to [0, 1] is the first layer, so an exported encoder takes
    uint8 pixels as they come.

    Args:
        input_shape: tuple. `(height, width, channels)` of the images.
        depth: int. Total depth, `6n + 2` (8, 14, 20, 32, 56, ...).
        width: int. Filters of the first stage; later stages double it.
        synchronized_batch_norm: bool. Batch statistics over all replicas
            (needed for identical results on 1 and N replicas).
        name: str. Model name.

    Example:

    >>> backbone = ResNet(input_shape=(28, 28, 1), depth=8, width=8)
    >>> backbone(np.zeros((2, 28, 28, 1), "uint8")).shape
    TensorShape([2, 32])
    """

    def __init__(
        self,
        input_shape=(32, 32, 3),
        depth=20,
        width=16,
        synchronized_batch_norm=False,
        name="resnet",
        **kwargs,
    ):
        if (depth - 2) % 6 != 0 or depth < 8:
            raise ValueError(f"ResNet depth must be 6n + 2 with n >= 1 (8, 14, 20, ...), got {depth}")
        if width < 1:
            raise ValueError(f"ResNet width must be a positive number of filters, got {width}")
        blocks = (depth - 2) // 6

        def batch_norm(name):
            return keras.layers.BatchNormalization(
                synchronized=synchronized_batch_norm, momentum=0.9, epsilon=1e-5, name=name
            )

        # === Layers and forward pass ===
        inputs, x = pixel_input(input_shape)
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name="stem_conv")(x)
        x = batch_norm("stem_bn")(x)
        x = keras.layers.ReLU(name="stem_relu")(x)
        for stage in range(3):
            filters = width * 2**stage
            for block in range(blocks):
                strides = 2 if stage > 0 and block == 0 else 1
                prefix = f"stage{stage + 1}_block{block + 1}"
                shortcut = x
                y = keras.layers.Conv2D(
                    filters, 3, strides=strides, padding="same", use_bias=False, name=f"{prefix}_conv1"
                )(x)
                y = batch_norm(f"{prefix}_bn1")(y)
                y = keras.layers.ReLU(name=f"{prefix}_relu1")(y)
                y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{prefix}_conv2")(y)
                y = batch_norm(f"{prefix}_bn2")(y)
                if strides != 1 or shortcut.shape[-1] != filters:
                    shortcut = keras.layers.Conv2D(
                        filters, 1, strides=strides, use_bias=False, name=f"{prefix}_shortcut_conv"
                    )(shortcut)
                    shortcut = batch_norm(f"{prefix}_shortcut_bn")(shortcut)
                x = keras.layers.Add(name=f"{prefix}_add")([shortcut, y])
                x = keras.layers.ReLU(name=f"{prefix}_out")(x)
        outputs = keras.layers.GlobalAveragePooling2D(name="pool")(x)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)

        # === Config ===
        self.image_shape = tuple(input_shape)
        self.depth = depth
        self.width = width
        self.synchronized_batch_norm = synchronized_batch_norm

    @property
    def feature_dim(self):
        return self.output.shape[-1]

    def get_config(self):
        return {
            "input_shape": self.image_shape,
            "depth": self.depth,
            "width": self.width,
            "synchronized_batch_norm": self.synchronized_batch_norm,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
