"""A grid of (overlapping) square patches cut from images, optionally encoded."""

import numbers

import keras
import tensorflow as tf


def grid_size(length, patch_size, stride):
    """Patches along an axis of `length` pixels (as many whole ones as fit)."""
    return (int(length) - int(patch_size)) // int(stride) + 1


@keras.saving.register_keras_serializable(package="keras_ssl")
class Patches(keras.layers.Layer):
    """Cuts images into a grid of square patches, and optionally encodes
    every patch with one network.

    Patch `(i, j)` is `images[:, i * stride : i * stride + patch_size,
    j * stride : j * stride + patch_size, :]`; with `stride < patch_size`
    neighbouring patches overlap (by half with `stride = patch_size / 2`, as
    in CPC). Pixels past the last whole patch are dropped ("valid").
    Without `encoder` the output is the patches,
    `[batch, rows, cols, patch_size, patch_size, channels]`, in the input's
    dtype. With `encoder` (a network from `[n, patch_size, patch_size,
    channels]` to `[n, D]`), every patch of the batch goes through it as one
    batch of `batch * rows * cols` patches (so its batch norm, if any,
    pools statistics over all of them, as in a plain call) and the output is
    the grid of features `[batch, rows, cols, D]`. `grid_shape(image_shape)`
    gives `(rows, cols)`. The layer has no weights of its own; the encoder's
    are shared with wherever else it is used.

    Args:
        patch_size: int. Side of the square patches, in pixels.
        stride: int. Pixels between the corners of neighbouring patches.
        encoder: keras.Model or None. Network applied to every patch.

    Example:

    >>> layer = Patches(patch_size=8, stride=4)
    >>> layer(np.zeros((2, 28, 28, 1), "float32")).shape
    TensorShape([2, 6, 6, 8, 8, 1])
    >>> encoded = Patches(8, 4, encoder=ConvNet(input_shape=(8, 8, 1), filters=(4, 8)))
    >>> encoded(np.zeros((2, 28, 28, 1), "float32")).shape
    TensorShape([2, 6, 6, 8])
    """

    def __init__(self, patch_size, stride, encoder=None, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("patch_size", patch_size), ("stride", stride)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"Patches needs {name} to be an int >= 1, got {value!r}")
        if encoder is not None and not isinstance(encoder, keras.layers.Layer):
            raise ValueError(f"Patches needs a keras.Model (or None) as encoder, got {type(encoder).__name__}")
        self.patch_size = int(patch_size)
        self.stride = int(stride)
        self.encoder = encoder

    def grid_shape(self, image_shape):
        """`(rows, cols)` of the grid cut from images of `image_shape`."""
        height, width = image_shape[:2]
        if height < self.patch_size or width < self.patch_size:
            raise ValueError(
                f"patches of {self.patch_size}x{self.patch_size} do not fit in {height}x{width} images: use a "
                "patch_size of at most the image's side"
            )
        return grid_size(height, self.patch_size, self.stride), grid_size(width, self.patch_size, self.stride)

    def build(self, input_shape):
        if self.encoder is not None and not self.encoder.built:
            self.encoder.build((None, self.patch_size, self.patch_size, input_shape[-1]))

    def cut(self, images):
        """The patches `[batch, rows, cols, patch_size, patch_size, channels]`."""
        if images.shape.rank != 4 or None in tuple(images.shape[1:]):
            raise ValueError(
                f"Patches expects images [batch, height, width, channels] of known size, got {tuple(images.shape)}"
            )
        rows, cols = self.grid_shape(tuple(images.shape[1:3]))
        size, stride = self.patch_size, self.stride
        # Strided slices: any dtype, XLA and SavedModel friendly.
        grid = [
            tf.stack(
                [images[:, i * stride : i * stride + size, j * stride : j * stride + size, :] for j in range(cols)], 1
            )
            for i in range(rows)
        ]
        return tf.stack(grid, axis=1)

    def call(self, images, training=None):
        patches = self.cut(images)
        if self.encoder is None:
            return patches
        rows, cols = patches.shape[1], patches.shape[2]
        flat = tf.reshape(patches, [-1, *patches.shape[3:]])
        features = self.encoder(flat, training=training)
        return tf.reshape(features, [-1, rows, cols, features.shape[-1]])

    def compute_output_shape(self, input_shape):
        rows, cols = self.grid_shape(tuple(input_shape[1:3]))
        if self.encoder is None:
            return (input_shape[0], rows, cols, self.patch_size, self.patch_size, input_shape[3])
        dim = self.encoder.compute_output_shape((None, self.patch_size, self.patch_size, input_shape[3]))[-1]
        return (input_shape[0], rows, cols, dim)

    def get_config(self):
        config = {**super().get_config(), "patch_size": self.patch_size, "stride": self.stride}
        config["encoder"] = None if self.encoder is None else keras.saving.serialize_keras_object(self.encoder)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("encoder") is not None:
            config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)
