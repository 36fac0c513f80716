"""The fully visible sigmoid belief network (FVSBN)."""

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.methods.density.base import DensityMethod


def strictly_lower_triangular(shape, dtype=None):
    """Initializer of the FVSBN mask: 1 where the column (the pixel read)
    comes before the row (the pixel predicted), 0 on and above the diagonal."""
    return tf.constant(np.tril(np.ones(shape), k=-1), dtype=dtype or "float32")


@keras.saving.register_keras_serializable(package="keras_ssl")
class AutoregressiveLinear(keras.layers.Layer):
    """`x -> x (W * M)^T + a`: a dense layer from `units` binary inputs to
    `units` logits whose output i reads only the inputs j < i.

    `kernel` W is `[units, units]`, row i holding the weights of output i;
    `mask` M is a non-trainable weight holding the strictly lower triangular
    0/1 matrix (never trained; saved with the model), so the masked entries of W get a zero gradient and never change
    an output; `bias` a is `[units]`. One matmul, O(units^2) per example.

    Args:
        units: int. Number of inputs, and of outputs.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"units must be a positive int (the number of pixels), got {units!r}")
        self.units = int(units)

    def build(self, input_shape=None):
        if input_shape is not None and input_shape[-1] != self.units:
            raise ValueError(f"{self.name} takes [batch, {self.units}] inputs, got {tuple(input_shape)}")
        self.kernel = self.add_weight(shape=(self.units, self.units), initializer="zeros", name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        self.mask = self.add_weight(
            shape=(self.units, self.units), initializer=strictly_lower_triangular, trainable=False, name="mask"
        )
        self.built = True

    def masked_kernel(self):
        """`W * M`, `[units, units]` in the compute dtype."""
        return keras.ops.cast(self.kernel * self.mask, self.compute_dtype)

    def call(self, inputs):
        inputs = keras.ops.cast(inputs, self.compute_dtype)
        return keras.ops.matmul(inputs, keras.ops.transpose(self.masked_kernel())) + keras.ops.cast(
            self.bias, self.compute_dtype
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="keras_ssl")
class FVSBN(DensityMethod):
    """Fully visible sigmoid belief network: logistic regressions in a chain.

    Frey, "Graphical Models for Machine Learning and Digital Communication"
    (MIT Press, 1998); the baseline of Larochelle & Murray, "The Neural
    Autoregressive Distribution Estimator" (AISTATS 2011). The D = H*W*C
    pixels, in raster order, are each a Bernoulli whose logit is a linear
    function of the pixels before it:

        p(x_i = 1 | x_<i) = sigmoid(a_i + sum_{j<i} W_ij x_j),

    so `p(x) = prod_i p(x_i | x_<i)` is exact and normalised. W is a
    `[D, D]` kernel times a fixed strictly lower triangular mask
    (`mask`, a non-trainable weight: 1 for j < i), so the entries on and above the diagonal get a
    zero gradient and never matter; a is `[D]`. All D logits of a batch are
    one matmul (O(D^2) per image; D^2 + D trainable weights, 615,440 for
    28x28). Kernel and bias start at zero: every pixel 1/2, a loss of
    D ln 2 nats per image.

    The loss is the negative log-likelihood in nats per image, and the logs
    add `bits_per_dim` (see `DensityMethod`). `sample` and `complete` draw
    pixel by pixel with the same random numbers as `DensityMethod`'s
    generic sampler, but update the D logits by one column of W per pixel,
    O(D^2) per image instead of O(D^3).

    `encoder` maps binary images `[B, H, W, C]` to the D conditional
    probabilities `sigmoid(logits)` of the pixels given those before them,
    flattened in raster order: float32 `[B, D]`. `export_encoder` serves it
    on raw pixels binarised by `serving_inputs`, with the exact
    log-likelihood as its `log_prob` signature.

    Args:
        input_shape: tuple of 3 int. Shape of one image, (H, W, C).
        seed: int. Seed of the method's random draws.

    Example:

    >>> data = keras_ssl.data.load_fashion_mnist()
    >>> model = FVSBN(input_shape=(28, 28, 1))
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(binarize(data.x_train), batch_size=100, epochs=10)
    >>> model.log_likelihood(binarize(data.x_test[:8]))  # nats per image
    >>> images = model.sample(16, seed=0)  # uint8 0/1 [16, 28, 28, 1]
    """

    def __init__(self, input_shape=(28, 28, 1), seed=None, **kwargs):
        if (
            not isinstance(input_shape, (tuple, list))
            or len(input_shape) != 3
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in input_shape)
        ):
            raise ValueError(f"input_shape must be 3 positive ints (height, width, channels), got {input_shape!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"seed must be an int or None, got {seed!r}")
        super().__init__(input_shape, seed=seed, **kwargs)
        self.conditionals = AutoregressiveLinear(self.num_dimensions, name="conditionals")
        self.conditionals.build((None, self.num_dimensions))
        self.built = True

    # --- weights ---------------------------------------------------------
    @property
    def kernel(self):
        """W, `[D, D]`: row i holds the weights of pixel i's logit."""
        return self.conditionals.kernel

    @property
    def bias(self):
        """a, `[D]`."""
        return self.conditionals.bias

    @property
    def mask(self):
        """The constant strictly lower triangular 0/1 mask of W, `[D, D]`."""
        return self.conditionals.mask

    # --- model -----------------------------------------------------------
    def logits(self, images, training=False):
        batch = tf.shape(images)[0]
        flat = tf.reshape(tf.cast(images, "float32"), [batch, self.num_dimensions])
        logits = tf.cast(self.conditionals(flat), "float32")
        return tf.reshape(logits, tf.shape(images))

    @property
    def encoder(self):
        """Binary images `[B, H, W, C]` -> the D conditional probabilities
        `p(x_i = 1 | x_<i)`, flattened in raster order: float32 `[B, D]`
        (the exported feature vector; it shares the model's weights and
        does not check that the pixels are 0/1)."""
        inputs = keras.Input(self.image_shape, name="images")
        flat = keras.layers.Flatten(name="flatten")(inputs)
        probabilities = keras.layers.Activation("sigmoid", dtype="float32", name="probabilities")(
            self.conditionals(flat)
        )
        return keras.Model(inputs, probabilities, name=f"{self.name}_encoder")

    # --- sampling --------------------------------------------------------
    def sample_pixels(self, images, start, seed):
        """`DensityMethod.sample_pixels` with the logits kept up to date: a
        drawn pixel adds its column of W to the later pixels' logits."""
        if getattr(self, "_incremental_draw_function", None) is None:
            self._incremental_draw_function = tf.function(self._draw_incrementally, reduce_retracing=True)
        drawn = self._incremental_draw_function(
            tf.convert_to_tensor(images, "float32"), tf.constant(int(start)), tf.constant(int(seed))
        )
        return np.asarray(drawn).astype("uint8")

    def _draw_incrementally(self, images, start, seed):
        batch = tf.shape(images)[0]
        dimensions = self.num_dimensions
        flat = tf.reshape(images, [batch, dimensions])
        weights = tf.cast(self.conditionals.masked_kernel(), "float32")
        given = flat * tf.cast(tf.range(dimensions) < start, "float32")[None, :]
        # The logits given the kept pixels; the drawn ones are added as drawn.
        logits = tf.matmul(given, weights, transpose_b=True) + tf.cast(self.bias, "float32")

        def body(i, flat, logits):
            probability = tf.sigmoid(logits[:, i])
            uniform = tf.random.stateless_uniform([batch], seed=tf.stack([seed, i]))  # As DensityMethod draws.
            pixel = tf.cast(uniform < probability, "float32")
            one_hot = tf.one_hot(i, dimensions)
            flat = flat * (1.0 - one_hot) + pixel[:, None] * one_hot
            return i + 1, flat, logits + pixel[:, None] * weights[:, i][None, :]

        _, flat, _ = tf.while_loop(lambda i, *_: i < dimensions, body, [start, flat, logits])
        return tf.reshape(flat, tf.shape(images))
