"""The density family's base: exact likelihoods of binary images."""

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.methods.base import Method

LN2 = float(np.log(2.0))


class DensityMethod(Method):
    """Base class of the explicit density models of binary images.

    A subclass implements `logits(images, training)`: the Bernoulli logit of
    every pixel given the pixels before it in its order (an autoregressive
    model: FVSBN, NADE, PixelCNN), float32 of the images' shape. This class
    adds to the contract of `Method`:

    - `fit` takes binary images (0/1 values, any numeric dtype) of
      `input_shape`, as arrays or a `tf.data.Dataset` (labels ignored);
      binarise grey images first (e.g. `images >= 128`).
    - The loss is the negative log-likelihood in nats per image, the mean
      over this replica's images; the logs also give `bits_per_dim`
      (the NLL over the number of pixels and ln 2).
    - `log_likelihood(images)`: the exact log-probability (nats) of each
      image; `export.saved_model` serves it as the `log_prob` signature (raw
      uint8 pixels in, binarised by `serving_inputs`).
    - `sample(n, seed)` draws images pixel by pixel in raster order, and
      `complete(images, rows)` keeps the top `rows` rows of images and draws
      the rest: one `logits` pass per drawn pixel (batched over the images),
      correct for any autoregressive model; a model with a cheaper exact
      sampler may override `sample_pixels`.

    Args:
        input_shape: tuple of int. Shape of one image, e.g. (28, 28, 1).
        seed: int. Seed of the method's random draws.

    Example:

    >>> class Independent(DensityMethod):  # Every pixel on its own.
    ...     def __init__(self, input_shape, **kwargs):
    ...         super().__init__(input_shape, **kwargs)
    ...         self.bias = self.add_weight(shape=input_shape, initializer="zeros")
    ...     def logits(self, images, training=False):
    ...         return tf.zeros_like(images) + self.bias
    >>> model = Independent((28, 28, 1))
    >>> model.compile(optimizer="adam")
    >>> model.fit(binary_images, batch_size=64)
    """

    metric_names = ("loss",)

    def __init__(self, input_shape, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        shape = tuple(int(s) for s in input_shape)
        if not shape or min(shape) < 1:
            raise ValueError(
                f"input_shape must be the positive shape of one image, e.g. (28, 28, 1), got {input_shape}"
            )
        self.image_shape = shape
        self.num_dimensions = int(np.prod(shape))

    def logits(self, images, training=False):
        raise NotImplementedError(f"{type(self).__name__} must implement logits(images, training)")

    def call(self, inputs, training=False):
        return self.logits(self.prepare_images(inputs), training=training)

    def prepare_images(self, images):
        """Checks a batch of binary images and returns it as float32."""
        images = tf.convert_to_tensor(images)
        name = type(self).__name__
        if tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"{name} expects binary images of shape [batch, {', '.join(map(str, self.image_shape))}], "
                f"got {tuple(images.shape)}: binarise and reshape them, or build the model for that shape"
            )
        if not (images.dtype.is_integer or images.dtype.is_floating or images.dtype.is_bool):
            raise ValueError(f"{name} expects 0/1 pixels, got dtype {images.dtype.name}")
        images = tf.cast(images, "float32")
        check = tf.debugging.assert_equal(
            tf.reduce_all((images == 0.0) | (images == 1.0)),
            True,
            message=f"{name} expects binary images (0/1 values): binarise them first, e.g. images >= 128",
        )
        with tf.control_dependencies([check]):
            return tf.identity(images)

    def serving_inputs(self, pixels):
        """Raw float pixels in [0, 255] binarised at half the range, as the
        exported signatures (`export.saved_model`) take them."""
        return tf.cast(pixels >= 127.5, "float32")

    def unpack_batch(self, data):
        images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.prepare_images(images)

    def negative_log_likelihood(self, images, training=False):
        """NLL (nats) of each float 0/1 image, `[batch]`."""
        logits = tf.cast(self.logits(images, training=training), "float32")
        per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=logits)
        return tf.reduce_sum(tf.reshape(per_pixel, [tf.shape(images)[0], -1]), axis=-1)

    def log_likelihood(self, images):
        """Exact log-probability (nats) of each binary image, float32 `[batch]`."""
        return -self.negative_log_likelihood(self.prepare_images(images))

    # --- sampling -------------------------------------------------------
    def sample(self, n, seed=0):
        """`n` images drawn from the model: uint8 0/1 NumPy `[n, *input_shape]`."""
        if int(n) < 1:
            raise ValueError(f"sample needs n >= 1 images, got {n}")
        return self.sample_pixels(tf.zeros((int(n), *self.image_shape)), 0, seed)

    def complete(self, images, rows, seed=0):
        """`images` (binary) with their top `rows` rows kept and every later
        pixel drawn from the model given those before it (image completion):
        uint8 0/1 NumPy of the images' shape."""
        images = self.prepare_images(images)
        height = self.image_shape[0]
        if not 0 <= int(rows) <= height:
            raise ValueError(f"rows must be in [0, {height}] (the rows kept), got {rows}")
        per_row = self.num_dimensions // height
        return self.sample_pixels(images, int(rows) * per_row, seed)

    def sample_pixels(self, images, start, seed):
        """`images` (float32 0/1) with the pixels from raster index `start` on
        drawn one at a time, each from its conditional given the pixels before
        it; uint8 NumPy."""
        if getattr(self, "_draw_function", None) is None:
            self._draw_function = tf.function(self._draw_from, reduce_retracing=True)
        drawn = self._draw_function(
            tf.convert_to_tensor(images, "float32"), tf.constant(int(start)), tf.constant(int(seed))
        )
        return np.asarray(drawn).astype("uint8")

    def _draw_from(self, images, start, seed):
        batch = tf.shape(images)[0]
        flat = tf.reshape(images, [batch, self.num_dimensions])

        def body(i, flat):
            logits = tf.reshape(
                tf.cast(self.logits(tf.reshape(flat, tf.shape(images)), training=False), "float32"),
                [batch, self.num_dimensions],
            )
            probability = tf.sigmoid(logits[:, i])
            uniform = tf.random.stateless_uniform([batch], seed=tf.stack([seed, i]))
            pixel = tf.cast(uniform < probability, "float32")
            mask = tf.one_hot(i, self.num_dimensions)
            return i + 1, flat * (1.0 - mask) + pixel[:, None] * mask

        _, flat = tf.while_loop(lambda i, _: i < self.num_dimensions, body, [start, flat])
        return tf.reshape(flat, tf.shape(images))

    def compute_losses(self, batch, training):
        return {"loss": tf.reduce_mean(self.negative_log_likelihood(batch, training=training))}

    def derived_logs(self, logs):
        return {**logs, "bits_per_dim": logs["loss"] / (self.num_dimensions * LN2)}

    def get_config(self):
        return {**super().get_config(), "input_shape": list(self.image_shape)}
