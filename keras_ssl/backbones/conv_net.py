"""A small VGG-style convolutional encoder."""

import keras

from keras_ssl.backbones.pixel_input import pixel_input


@keras.saving.register_keras_serializable(package="keras_ssl")
class ConvNet(keras.Model):
    """Small convolutional encoder: conv-BN-ReLU blocks, max pooling, global
    average pooling. Cheap enough for tests and quick runs on a CPU.

    Inputs are raw pixels in [0, 255]; scaling to [0, 1] is the first layer.

    Args:
        input_shape: tuple. `(height, width, channels)` of the images.
        filters: tuple of int. Filters of each block; every block but the
            last is followed by 2x2 max pooling.
        synchronized_batch_norm: bool. Batch statistics over all replicas.
        name: str. Model name.

    Example:

    >>> backbone = ConvNet(input_shape=(28, 28, 1), filters=(16, 32))
    >>> backbone(np.zeros((2, 28, 28, 1), "uint8")).shape
    TensorShape([2, 32])
    """

    def __init__(
        self,
        input_shape=(28, 28, 1),
        filters=(32, 64, 128),
        synchronized_batch_norm=False,
        name="conv_net",
        **kwargs,
    ):
        filters = tuple(int(f) for f in filters)
        if not filters or min(filters) < 1:
            raise ValueError(f"ConvNet filters must be a non-empty tuple of positive ints, got {filters!r}")

        # === Layers and forward pass ===
        inputs, x = pixel_input(input_shape)
        for i, count in enumerate(filters):
            x = keras.layers.Conv2D(count, 3, padding="same", use_bias=False, name=f"block{i + 1}_conv")(x)
            x = keras.layers.BatchNormalization(
                synchronized=synchronized_batch_norm, momentum=0.9, epsilon=1e-5, name=f"block{i + 1}_bn"
            )(x)
            x = keras.layers.ReLU(name=f"block{i + 1}_relu")(x)
            if i < len(filters) - 1:
                x = keras.layers.MaxPooling2D(2, name=f"block{i + 1}_pool")(x)
        outputs = keras.layers.GlobalAveragePooling2D(name="pool")(x)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)

        # === Config ===
        self.image_shape = tuple(input_shape)
        self.filters = filters
        self.synchronized_batch_norm = synchronized_batch_norm

    @property
    def feature_dim(self):
        return self.output.shape[-1]

    def get_config(self):
        return {
            "input_shape": self.image_shape,
            "filters": self.filters,
            "synchronized_batch_norm": self.synchronized_batch_norm,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
