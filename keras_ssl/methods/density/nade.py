"""NADE: the neural autoregressive distribution estimator."""

import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.methods.density.base import DensityMethod


class _FinalHidden(keras.layers.Layer):
    """`h_D = sigmoid(c + W x)`: NADE's hidden layer after the whole image.

    Holds NADE's own `W` and `c` (shared, not copies), so the encoder
    follows the training and an export tracks them.
    """

    def __init__(self, input_kernel, hidden_bias, **kwargs):
        super().__init__(**kwargs)
        self.input_kernel = input_kernel
        self.hidden_bias = hidden_bias
        self.built = True

    def call(self, images):
        flat = tf.reshape(tf.cast(images, "float32"), [tf.shape(images)[0], -1])
        return tf.sigmoid(tf.matmul(flat, self.input_kernel, transpose_b=True) + self.hidden_bias)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.input_kernel.shape[0])


@keras.saving.register_keras_serializable(package="keras_ssl")
class NADE(DensityMethod):
    """NADE: every pixel a logistic regression on a hidden layer of the
    pixels before it, with one weight matrix shared by all conditionals.

    Larochelle & Murray, "The Neural Autoregressive Distribution Estimator"
    (AISTATS 2011). The D = H*W*C pixels are taken in raster order and

        p(x) = prod_i p(x_i | x_<i),
        h_i = sigmoid(c + W[:, <i] x_<i),
        p(x_i = 1 | x_<i) = sigmoid(b_i + V_i . h_i),

    with `W` `[hidden_units, D]` (the tied input weights: column j serves
    every conditional after pixel j, as in the paper), `V` `[D,
    hidden_units]`, `b` `[D]` and `c` `[hidden_units]`. The likelihood is
    exact and normalised.

    Running sum: `a_i = c + sum_{j<i} W[:, j] x_j` is an exclusive
    cumulative sum over the pixel axis of the `[batch, D, hidden_units]`
    products `x_j W[:, j]`, so `logits` computes all D conditionals in one
    pass of O(hidden_units D) per image instead of D passes of that cost
    (`naive_logits`, the O(hidden_units D^2) reference, computes each one
    separately). Sampling uses the same recurrence, `a_{i+1} = a_i + W[:, i]
    x_i`: O(hidden_units D) per image for all its pixels.

    `W` and `V` start uniform in +-1/sqrt(fan-in) (`D` and `hidden_units`),
    seeded by `seed` (`seed` and `seed + 1`); the biases start at zero.
    `encoder` is `h_D = sigmoid(c + W x)`, the hidden layer after seeing the
    whole image: the representation `export.saved_model` exports.

    `fit` takes binary images (see `keras_ssl.data.binarize`) and reports
    `loss` (the NLL, nats per image) and `bits_per_dim`.

    Args:
        input_shape: tuple of int. Shape of one image, (height, width,
            channels), e.g. (28, 28, 1).
        hidden_units: int. Size of the hidden layer (500 in the paper).
        seed: int. Seed of the initial weights and of the method's draws.

    Example:

    >>> data = load_fashion_mnist()
    >>> model = NADE(input_shape=(28, 28, 1), hidden_units=500, seed=0)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(binarize(data.x_train), batch_size=64, epochs=10)
    >>> log_p = model.log_likelihood(binarize(data.x_test[:100]))  # nats per image
    >>> samples = model.sample(16, seed=0)  # uint8 0/1 [16, 28, 28, 1]
    """

    def __init__(self, input_shape=(28, 28, 1), hidden_units=500, seed=None, **kwargs):
        if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__len__") or len(input_shape) != 3:
            raise ValueError(f"input_shape must be (height, width, channels), e.g. (28, 28, 1), got {input_shape!r}")
        if isinstance(hidden_units, bool) or not isinstance(hidden_units, numbers.Integral) or hidden_units < 1:
            raise ValueError(f"hidden_units must be a positive int (500 in the paper), got {hidden_units!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"seed must be an int or None, got {seed!r}")
        super().__init__(input_shape, seed=seed, **kwargs)
        self.hidden_units = int(hidden_units)
        dims, hidden = self.num_dimensions, self.hidden_units

        def uniform(fan_in, offset):
            limit = 1.0 / float(np.sqrt(fan_in))
            return keras.initializers.RandomUniform(-limit, limit, seed=None if seed is None else seed + offset)

        self.input_kernel = self.add_weight(shape=(hidden, dims), initializer=uniform(dims, 0), name="input_kernel")
        self.hidden_bias = self.add_weight(shape=(hidden,), initializer="zeros", name="hidden_bias")
        self.output_kernel = self.add_weight(shape=(dims, hidden), initializer=uniform(hidden, 1), name="output_kernel")
        self.output_bias = self.add_weight(shape=(dims,), initializer="zeros", name="output_bias")
        self.built = True

    # --- the model ------------------------------------------------------
    def hidden_states(self, flat):
        """`h_i` for every pixel i of float32 `[batch, D]` images: `[batch,
        D, hidden_units]`, from the exclusive running sum over the pixels."""
        contributions = flat[:, :, None] * tf.transpose(self.input_kernel)[None]  # x_j W[:, j]: [B, D, H].
        return tf.sigmoid(self.hidden_bias + tf.cumsum(contributions, axis=1, exclusive=True))

    def logits(self, images, training=False):
        """Logit of `p(x_i = 1 | x_<i)` for every pixel, one pass: float32 of
        the images' shape."""
        images = tf.cast(images, "float32")
        flat = tf.reshape(images, [tf.shape(images)[0], self.num_dimensions])
        hidden = self.hidden_states(flat)
        logits = tf.reduce_sum(hidden * self.output_kernel[None], axis=-1) + self.output_bias
        return tf.reshape(logits, tf.shape(images))

    def naive_logits(self, images):
        """The same logits, each conditional computed on its own from the
        pixels before it (`x_<i` by slicing): O(hidden_units D^2) per image,
        a reference for tests."""
        images = self.prepare_images(images)
        flat = tf.reshape(images, [tf.shape(images)[0], self.num_dimensions])
        kernel, bias = tf.convert_to_tensor(self.input_kernel), tf.convert_to_tensor(self.hidden_bias)
        columns = []
        for i in range(self.num_dimensions):
            before = tf.matmul(flat[:, :i], kernel[:, :i], transpose_b=True)  # W[:, <i] x_<i: [B, H].
            hidden = tf.sigmoid(bias + before)
            columns.append(tf.linalg.matvec(hidden, self.output_kernel[i]) + self.output_bias[i])
        return tf.reshape(tf.stack(columns, axis=1), tf.shape(images))

    @property
    def encoder(self):
        """Binary images `[batch, H, W, C]` (0/1 values; binarise first) ->
        `h_D = sigmoid(c + W x)` `[batch, hidden_units]`, the hidden layer
        after seeing the whole image: the representation that
        `export.saved_model` exports as `serving_default` (which binarises
        raw pixels before it). It shares NADE's weights."""
        inputs = keras.Input(self.image_shape, name="images")
        hidden = _FinalHidden(self.input_kernel, self.hidden_bias, name="final_hidden")(inputs)
        return keras.Model(inputs, hidden, name=f"{self.name}_encoder")

    # --- sampling -------------------------------------------------------
    def sample_pixels(self, images, start, seed):
        """`DensityMethod.sample_pixels` with the running sum: the same
        draws (uniforms seeded by `(seed, i)`), O(hidden_units) per pixel
        instead of a whole `logits` pass."""
        if getattr(self, "_running_draw_function", None) is None:
            self._running_draw_function = tf.function(self._running_draw, reduce_retracing=True)
        drawn = self._running_draw_function(
            tf.convert_to_tensor(images, "float32"), tf.constant(int(start)), tf.constant(int(seed))
        )
        return np.asarray(drawn).astype("uint8")

    def _running_draw(self, images, start, seed):
        batch = tf.shape(images)[0]
        flat = tf.reshape(images, [batch, self.num_dimensions])
        kernel = tf.convert_to_tensor(self.input_kernel)
        given = flat * tf.cast(tf.range(self.num_dimensions) < start, "float32")
        running = self.hidden_bias + tf.matmul(given, kernel, transpose_b=True)  # a_start: [B, H].

        def body(i, flat, running):
            logit = tf.linalg.matvec(tf.sigmoid(running), self.output_kernel[i]) + self.output_bias[i]
            uniform = tf.random.stateless_uniform([batch], seed=tf.stack([seed, i]))
            pixel = tf.cast(uniform < tf.sigmoid(logit), "float32")
            mask = tf.one_hot(i, self.num_dimensions)
            flat = flat * (1.0 - mask) + pixel[:, None] * mask
            return i + 1, flat, running + pixel[:, None] * kernel[:, i]

        _, flat, _ = tf.while_loop(lambda i, *_: i < self.num_dimensions, body, [start, flat, running])
        return tf.reshape(flat, tf.shape(images))

    def get_config(self):
        return {**super().get_config(), "hidden_units": self.hidden_units}
