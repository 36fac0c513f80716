"""The masked convolution of PixelCNN."""

import keras
import numpy as np

MASK_TYPES = ("A", "B")


def raster_mask(kernel_size, mask_type):
    """The `(kh, kw)` float32 0/1 mask of a kernel centred on the current
    pixel: 1 on the rows above the centre and left of it in its row, and on
    the centre itself for mask `"B"`."""
    kh, kw = kernel_size
    mask = np.zeros((kh, kw), "float32")
    mask[: kh // 2, :] = 1.0
    mask[kh // 2, : kw // 2] = 1.0
    if mask_type == "B":
        mask[kh // 2, kw // 2] = 1.0
    return mask


@keras.saving.register_keras_serializable(package="keras_ssl")
class MaskedConv2D(keras.layers.Layer):
    """A 2-D convolution (stride 1, "same" padding) whose kernel is
    multiplied by a constant raster-order mask.

    van den Oord, Kalchbrenner and Kavukcuoglu, "Pixel Recurrent Neural
    Networks" (ICML 2016), section 3.4: an output position sees only the
    input positions before it in raster order (the rows above, then the
    pixels to the left in its own row). Mask `"A"` (the network's first
    layer, on the image) also excludes the centre, so a pixel's prediction
    does not see the pixel itself; mask `"B"` (every later layer, on
    features) includes it, since the features at a position depend only on
    the pixels before it. For a `(1, N)` kernel the mask keeps the pixels to
    the left (and the centre for `"B"`): the horizontal stack of the gated
    PixelCNN.

    The mask is the same for every pair of input and output channels, which
    is right for one-channel (grey or binary) images, where all features at
    a position belong to the one colour. The paper's RGB models also mask
    the centre between channel groups (R, then G, then B); that is not
    implemented here.

    `mask` is a non-trainable `(kh, kw, 1, 1)` variable (saved with the
    weights); `masked_kernel()` is what the convolution uses.

    Args:
        filters: int. Output channels.
        kernel_size: int or pair of odd ints. Kernel height and width (odd,
            so that the centre is the current pixel).
        mask_type: "A" (centre excluded) or "B" (centre included).
        activation: str or callable. Activation after the convolution.
        use_bias: bool.
        kernel_initializer, bias_initializer: initializers.

    Example:

    >>> layer = MaskedConv2D(16, 7, mask_type="A")
    >>> layer(np.zeros((2, 28, 28, 1), "float32")).shape
    TensorShape([2, 28, 28, 16])
    >>> layer.mask.numpy()[:, :, 0, 0][3]  # The centre row.
    array([1., 1., 1., 0., 0., 0., 0.], dtype=float32)
    """

    def __init__(
        self,
        filters,
        kernel_size,
        mask_type="B",
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(filters) < 1:
            raise ValueError(f"MaskedConv2D needs filters >= 1, got {filters}")
        size = (kernel_size, kernel_size) if np.isscalar(kernel_size) else tuple(kernel_size)
        if len(size) != 2 or any(int(s) != s or s < 1 or s % 2 == 0 for s in size):
            raise ValueError(
                f"MaskedConv2D needs an odd kernel_size (an int or a pair, so the centre is the current pixel), "
                f"got {kernel_size}"
            )
        if mask_type not in MASK_TYPES:
            raise ValueError(f'mask_type must be "A" (centre excluded) or "B" (centre included), got {mask_type!r}')
        self.filters = int(filters)
        self.kernel_size = tuple(int(s) for s in size)
        self.mask_type = mask_type
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                f"MaskedConv2D expects images or feature maps [batch, height, width, channels], "
                f"got {tuple(input_shape)}"
            )
        channels = int(input_shape[-1])
        self.kernel = self.add_weight(
            name="kernel", shape=(*self.kernel_size, channels, self.filters), initializer=self.kernel_initializer
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer)
            if self.use_bias
            else None
        )
        mask = raster_mask(self.kernel_size, self.mask_type)[:, :, None, None]
        self.mask = self.add_weight(
            name="mask",
            shape=mask.shape,
            initializer=keras.initializers.Constant(mask),
            trainable=False,
        )

    def masked_kernel(self):
        return self.kernel * keras.ops.cast(self.mask, self.kernel.dtype)

    def call(self, inputs):
        outputs = keras.ops.conv(inputs, self.masked_kernel(), strides=1, padding="same")
        if self.bias is not None:
            outputs = outputs + self.bias
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": list(self.kernel_size),
                "mask_type": self.mask_type,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
