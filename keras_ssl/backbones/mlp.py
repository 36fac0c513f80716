"""A fully connected encoder on flattened pixels."""

import keras

from keras_ssl.backbones.pixel_input import pixel_input


@keras.saving.register_keras_serializable(package="keras_ssl")
class MLP(keras.Model):
    """Fully connected encoder: flattened pixels through Dense layers, the
    network of the stacked autoencoder papers (Bengio et al. 2007; Vincent
    et al., "Stacked Denoising Autoencoders", JMLR 2010, whose SDAE-3 has
    three sigmoid layers of 1000 or more units).

    Inputs are raw pixels in [0, 255]; scaling to [0, 1] is the first
    layer. Layer `k` (from 1) is `dense{k}` followed by its activation
    `dense{k}_act`, the output of stage `k` (`stage_layer_names`); the
    output is the last stage.

    Args:
        input_shape: tuple. `(height, width, channels)` of the images.
        units: tuple of int. Width of each hidden layer.
        activation: str. Activation of every layer ("sigmoid", as in the
            paper, keeps codes in [0, 1]).
        name: str. Model name.

    Example:

    >>> backbone = MLP(input_shape=(28, 28, 1), units=(256, 128))
    >>> backbone(np.zeros((2, 28, 28, 1), "uint8")).shape
    TensorShape([2, 128])
    """

    def __init__(self, input_shape=(28, 28, 1), units=(1000, 1000, 1000), activation="sigmoid", name="mlp", **kwargs):
        units = tuple(int(u) for u in units)
        if not units or min(units) < 1:
            raise ValueError(f"MLP units must be a non-empty tuple of positive ints, got {units!r}")

        # === Layers and forward pass ===
        inputs, x = pixel_input(input_shape)
        x = keras.layers.Flatten(name="flatten")(x)
        for i, width in enumerate(units):
            x = keras.layers.Dense(width, name=f"dense{i + 1}")(x)
            x = keras.layers.Activation(activation, name=f"dense{i + 1}_act")(x)
        super().__init__(inputs=inputs, outputs=x, name=name, **kwargs)

        # === Config ===
        self.image_shape = tuple(input_shape)
        self.units = units
        self.activation = activation

    @property
    def feature_dim(self):
        return self.output.shape[-1]

    def get_config(self):
        return {
            "input_shape": self.image_shape,
            "units": self.units,
            "activation": self.activation,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
