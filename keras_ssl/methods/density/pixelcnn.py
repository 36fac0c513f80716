"""PixelCNN and the gated PixelCNN for binary images."""

import keras

from keras_ssl.layers.masked_conv import MaskedConv2D
from keras_ssl.methods.density.base import DensityMethod


def gate(x):
    """The gated activation `tanh(a) * sigmoid(b)` of the two halves of the
    channels of `x`."""
    a, b = keras.ops.split(x, 2, axis=-1)
    return keras.ops.tanh(a) * keras.ops.sigmoid(b)


def shift_down(x):
    """`x` moved down one row (a zero row on top, the last row dropped)."""
    return keras.ops.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


@keras.saving.register_keras_serializable(package="keras_ssl")
class PixelCNN(DensityMethod):
    """PixelCNN: an autoregressive density of binary images made of masked
    convolutions, plain or gated.

    van den Oord, Kalchbrenner and Kavukcuoglu, "Pixel Recurrent Neural
    Networks" (ICML 2016), section 3.5 and figure 5 (plain), and van den
    Oord, Kalchbrenner, Vinyals, Espeholt, Graves and Kavukcuoglu,
    "Conditional Image Generation with PixelCNN Decoders" (NeurIPS 2016),
    section 2 (gated, unconditional). `p(x) = prod_i p(x_i | x_<i)` over the
    pixels in raster order, each a Bernoulli whose logit the network
    computes for all pixels at once: the masks make the logit of pixel `i`
    depend only on the pixels before it, so the likelihood is exact and
    training is one pass per batch.

    Plain (`gated=False`): a `kernel_size` mask-A convolution
    (`MaskedConv2D`), then `num_layers - 1` residual blocks as in the
    paper's figure 5 (ReLU, 1x1 convolution to `filters // 2` maps, ReLU,
    3x3 mask-B convolution, ReLU, 1x1 convolution back to `filters`, added
    to the block's input). Its receptive field has a blind spot: stacked
    3x3 mask-B convolutions grow it by one column to the right per row up,
    so pixels above and to the right of the current one are never seen
    (row `r - 1` only up to `kernel_size // 2` columns right), however deep
    the network.

    Gated (`gated=True`): a vertical and a horizontal stack with the gated
    activation `tanh(W_f * x) * sigmoid(W_g * x)`. The vertical stack
    convolves `(k // 2 + 1) x k` over the rows above and the current row
    (no mask needed: it never feeds itself to the current row); its
    pre-activations, shifted down one row so that only rows above are seen,
    go through a 1x1 convolution into the horizontal stack's. The
    horizontal stack convolves `1 x k` masked to the left (mask A on the
    image in the first layer, mask B after: `MaskedConv2D` with a `(1, k)`
    kernel), then a 1x1 convolution, with a residual connection from the
    second layer on. `k` is `kernel_size` in the first layer and 3 after.
    Together the stacks see every pixel above (within the growing width of
    the vertical stack) and to the left: no blind spot.

    Both end with ReLU, 1x1 convolution of `filters` maps, ReLU, and a 1x1
    convolution to one Bernoulli logit per pixel. The defaults are small;
    the PixelRNN paper's CIFAR-10 PixelCNN has a 7x7 mask-A layer, 15
    residual blocks with h = 128 (256 maps) and two 1x1 layers of 1024
    maps, and the gated paper's models are larger still.

    Masks are the same for every channel pair: one-channel binary images
    only (see `MaskedConv2D`; the papers' RGB models also mask between
    colour channels).

    `fit` takes binary images (e.g. `keras_ssl.data.binarize`) and reports
    `loss` (NLL in nats per image) and `bits_per_dim`; `log_likelihood`
    gives exact log-probabilities. `sample` (inherited) draws the pixels one
    by one in raster order, re-running the whole network for each: `H * W`
    network passes (784 for 28x28), batched over the images; `complete`
    likewise for the rows it draws. `encoder` maps binary images
    `[B, H, W, 1]` to the last feature map (the horizontal stack for the
    gated variant) averaged over the positions, `[B, filters]`: the network
    `export.saved_model` exports as `serving_default`, beside the exact
    log-likelihood as `log_prob`.

    Args:
        input_shape: tuple of int. Shape of one binary image `(H, W, 1)`.
        filters: int. Feature maps of every layer (gated: of each stack).
        num_layers: int. Masked layers: the first (mask A) and
            `num_layers - 1` residual blocks or gated layers.
        kernel_size: odd int >= 3. Kernel of the first layer (`k x k`
            plain, `(k // 2 + 1) x k` and `1 x k` gated); later layers 3.
        gated: bool. The gated PixelCNN instead of the plain one.
        seed: int.

    Example:

    >>> data = load_digits()
    >>> model = PixelCNN(input_shape=(8, 8, 1), filters=32, num_layers=4, kernel_size=5, gated=True)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(binarize(data.x_train), batch_size=64, epochs=20)
    >>> model.evaluate(binarize(data.x_test), return_dict=True)["bits_per_dim"]
    >>> samples = model.sample(16, seed=0)  # 64 network passes.
    """

    def __init__(
        self,
        input_shape=(28, 28, 1),
        filters=64,
        num_layers=7,
        kernel_size=7,
        gated=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(input_shape, seed=seed, **kwargs)
        if len(self.image_shape) != 3 or self.image_shape[-1] != 1:
            raise ValueError(
                f"PixelCNN models one-channel binary images: input_shape must be (height, width, 1), "
                f"got {tuple(input_shape)}"
            )
        if int(filters) != filters or filters < (1 if gated else 2):
            raise ValueError(f"PixelCNN needs an int filters >= {1 if gated else 2}, got {filters}")
        if int(num_layers) != num_layers or num_layers < 1:
            raise ValueError(f"PixelCNN needs an int num_layers >= 1 (the first, mask-A layer), got {num_layers}")
        if int(kernel_size) != kernel_size or kernel_size < 3 or kernel_size % 2 == 0:
            raise ValueError(f"PixelCNN needs an odd kernel_size >= 3 for its first layer, got {kernel_size}")
        self.filters = int(filters)
        self.num_layers = int(num_layers)
        self.kernel_size = int(kernel_size)
        self.gated = bool(gated)
        height, width, _ = self.image_shape
        policy = self.dtype_policy

        def built(layer, channels):
            layer.build((None, height, width, channels))
            return layer

        def conv(filters, size, name):
            return keras.layers.Conv2D(filters, size, dtype=policy, name=name)

        f = self.filters
        if self.gated:
            self.vertical_convs, self.horizontal_convs = [], []
            self.vertical_to_horizontal, self.horizontal_outputs = [], []
            for i in range(self.num_layers):
                k = self.kernel_size if i == 0 else 3
                channels = 1 if i == 0 else f
                self.vertical_convs.append(built(conv(2 * f, (k // 2 + 1, k), f"vertical_{i}"), channels))
                self.horizontal_convs.append(
                    built(
                        MaskedConv2D(2 * f, (1, k), "A" if i == 0 else "B", dtype=policy, name=f"horizontal_{i}"),
                        channels,
                    )
                )
                self.vertical_to_horizontal.append(built(conv(2 * f, 1, f"vertical_to_horizontal_{i}"), 2 * f))
                self.horizontal_outputs.append(built(conv(f, 1, f"horizontal_output_{i}"), f))
        else:
            self.input_conv = built(MaskedConv2D(f, self.kernel_size, "A", dtype=policy, name="masked_conv_a"), 1)
            self.reduce_convs, self.masked_convs, self.expand_convs = [], [], []
            for i in range(1, self.num_layers):
                self.reduce_convs.append(built(conv(f // 2, 1, f"reduce_{i}"), f))
                self.masked_convs.append(
                    built(MaskedConv2D(f // 2, 3, "B", dtype=policy, name=f"masked_conv_b_{i}"), f // 2)
                )
                self.expand_convs.append(built(conv(f, 1, f"expand_{i}"), f // 2))
        self.output_hidden = built(conv(f, 1, "output_hidden"), f)
        self.output_logits = built(conv(1, 1, "output_logits"), f)
        self.built = True

    # --- network ---------------------------------------------------------
    def features(self, images, training=False):
        """The last feature map `[B, H, W, filters]` of float 0/1 images:
        at each position a function of the pixels before it."""
        images = keras.ops.cast(images, self.compute_dtype)
        if not self.gated:
            x = self.input_conv(images)
            for reduce, masked, expand in zip(self.reduce_convs, self.masked_convs, self.expand_convs):
                h = reduce(keras.ops.relu(x))
                h = masked(keras.ops.relu(h))
                x = x + expand(keras.ops.relu(h))
            return x
        vertical = horizontal = images
        for i in range(self.num_layers):
            p = self.vertical_convs[i].kernel_size[1] // 2
            # Rows r - p .. r (the current row included) and columns c - p .. c + p.
            vertical_pre = self.vertical_convs[i](keras.ops.pad(vertical, [[0, 0], [p, 0], [p, p], [0, 0]]))
            horizontal_pre = self.horizontal_convs[i](horizontal) + self.vertical_to_horizontal[i](
                shift_down(vertical_pre)
            )
            vertical = gate(vertical_pre)
            update = self.horizontal_outputs[i](gate(horizontal_pre))
            horizontal = update if i == 0 else horizontal + update
        return horizontal

    def logits(self, images, training=False):
        x = self.output_hidden(keras.ops.relu(self.features(images, training=training)))
        return keras.ops.cast(self.output_logits(keras.ops.relu(x)), "float32")

    @property
    def encoder(self):
        """Binary images `[B, H, W, 1]` -> the last feature map averaged
        over the positions, `[B, filters]`: what `export.saved_model`
        exports as `serving_default` (raw pixels binarised by
        `serving_inputs` first). It shares the model's weights."""
        inputs = keras.Input(self.image_shape, name="images")
        pooled = keras.layers.GlobalAveragePooling2D(name="pooled")(self.features(inputs))
        return keras.Model(inputs, pooled, name=f"{self.name}_encoder")

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "num_layers": self.num_layers,
            "kernel_size": self.kernel_size,
            "gated": self.gated,
        }
