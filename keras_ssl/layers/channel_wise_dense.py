"""The channel-wise fully-connected layer of the context encoder."""

import math

import keras


@keras.saving.register_keras_serializable(package="keras_ssl")
class ChannelWiseDense(keras.layers.Layer):
    """Channel-wise fully-connected layer: a dense layer over the spatial
    positions of each channel separately, then a 1x1 convolution that mixes
    the channels.

    Pathak, Krähenbühl, Donahue, Darrell and Efros, "Context Encoders:
    Feature Learning by Inpainting" (CVPR 2016), section 3.1: a fully
    connected layer between encoder and decoder lets every output position
    see the whole context, but on `m` maps of `n x n` it has `m^2 n^4`
    weights; the channel-wise version connects each map only to itself
    (`m n^4` weights) and "is followed by a stride 1 convolution to
    propagate information across channels". Channel `c` of the output is
    `act(W_c x_c + b_c)` with `x_c` the flattened map `c` and `W_c` an
    `(h w) x (h w)` matrix; the 1x1 convolution (with the same activation)
    follows when `mix_channels` is True.

    Args:
        activation: str or callable. Activation after the channel-wise dense
            part and after the 1x1 convolution (None: linear).
        mix_channels: bool. Whether the 1x1 convolution follows.
        use_bias: bool. Biases in both parts.

    Example:

    >>> layer = ChannelWiseDense(activation="relu")
    >>> layer(np.zeros((2, 7, 7, 32), "float32")).shape
    TensorShape([2, 7, 7, 32])
    """

    def __init__(self, activation=None, mix_channels=True, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.activation = keras.activations.get(activation)
        self.mix_channels = bool(mix_channels)
        self.use_bias = bool(use_bias)
        self.mix = None

    def build(self, input_shape):
        if len(input_shape) != 4 or any(d is None for d in input_shape[1:]):
            raise ValueError(
                f"ChannelWiseDense expects feature maps [batch, height, width, channels] of known size, "
                f"got {tuple(input_shape)}"
            )
        h, w, c = (int(d) for d in input_shape[1:])
        positions = h * w
        # Glorot uniform for each channel's (h w) -> (h w) matrix (Keras'
        # own fan computation would treat the channel axis as a receptive field).
        limit = math.sqrt(6.0 / (positions + positions))
        self.kernel = self.add_weight(
            name="kernel",
            shape=(c, positions, positions),
            initializer=keras.initializers.RandomUniform(-limit, limit),
        )
        self.bias = self.add_weight(name="bias", shape=(positions, c), initializer="zeros") if self.use_bias else None
        if self.mix_channels:
            self.mix = keras.layers.Conv2D(
                c, 1, activation=self.activation, use_bias=self.use_bias, dtype=self.dtype_policy, name="mix"
            )
            self.mix.build((None, h, w, c))

    def call(self, inputs):
        _, h, w, c = inputs.shape
        x = keras.ops.reshape(inputs, (-1, h * w, c))
        x = keras.ops.einsum("bpc,cpq->bqc", x, self.kernel)
        if self.bias is not None:
            x = x + self.bias
        x = keras.ops.reshape(x, (-1, h, w, c))
        if self.activation is not None:
            x = self.activation(x)
        if self.mix is not None:
            x = self.mix(x)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "activation": keras.activations.serialize(self.activation),
                "mix_channels": self.mix_channels,
                "use_bias": self.use_bias,
            }
        )
        return config
