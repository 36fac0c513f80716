"""The corruption processes of denoising autoencoders.

Vincent, Larochelle, Lajoie, Bengio and Manzagol, "Stacked Denoising
Autoencoders: Learning Useful Representations in a Deep Network with a
Local Denoising Criterion" (JMLR 2010), section 4.2: additive isotropic
Gaussian noise, masking noise and salt-and-pepper noise. Each is a Keras
layer that corrupts only in training (`layer(x, training=True)`) or when
asked explicitly (`layer.corrupt(x)`, which also returns which components
it corrupted: the set J(x~) of the paper's emphasised denoising).
"""

import keras
import tensorflow as tf

from keras_ssl.distribute import ReplicaSeedGenerator

NOISE_TYPES = ("gaussian", "masking", "salt_and_pepper")

# Levels on the [0, 1] scale of the paper's inputs: the fraction of
# components for masking and salt-and-pepper (25% masking is the level of
# the paper's MNIST experiments), the standard deviation for Gaussian noise.
DEFAULT_NOISE_LEVELS = {"gaussian": 0.3, "masking": 0.25, "salt_and_pepper": 0.25}


def _fraction_mask(shape, rate, seed_generator):
    """Boolean mask of `shape` `[batch, ...]` with exactly
    `round(rate * components)` True components per example, chosen
    uniformly at random for each example."""
    batch = shape[0]
    components = tf.reduce_prod(shape[1:])
    scores = keras.random.uniform(tf.stack([batch, components]), seed=seed_generator)
    # The rank of each score in its row: a random permutation of 0..D-1.
    ranks = tf.argsort(tf.argsort(scores, axis=-1), axis=-1)
    count = tf.cast(tf.round(rate * tf.cast(components, "float32")), ranks.dtype)
    return tf.reshape(ranks < count, shape)


def _check_rate(name, rate):
    rate = float(rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{name} rate must be a fraction in [0, 1], got {rate}")
    return rate


class _Corruption(keras.layers.Layer):
    """Shared behaviour: corrupt in training or through `corrupt`, identity
    otherwise; seeded with a `SeedGenerator`."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = ReplicaSeedGenerator(seed)

    def corrupt(self, inputs):
        """Returns `(corrupted, mask)`: the corrupted inputs (float) and a
        float mask of the same shape, 1 where a component was corrupted."""
        inputs = tf.cast(inputs, self.compute_dtype)
        corrupted, mask = self._corrupt(inputs)
        return corrupted, tf.cast(mask, inputs.dtype)

    def call(self, inputs, training=False):
        if not training:
            return tf.cast(inputs, self.compute_dtype)
        return self.corrupt(inputs)[0]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["seed"] = self.seed
        return config


@keras.saving.register_keras_serializable(package="keras_ssl")
class GaussianCorruption(_Corruption):
    """Additive isotropic Gaussian noise: x~ = x + N(0, stddev^2 I).

    Vincent et al., "Stacked Denoising Autoencoders" (JMLR 2010), section
    4.2 ("GS"). Every component is corrupted (the mask of `corrupt` is all
    ones); the result is not clipped, as in the paper. `stddev` is in the
    units of the inputs: pixels for raw images in [0, 255], so the paper's
    sigma on [0, 1] inputs is `stddev = 255 * sigma` (the default is
    sigma = 0.3).

    Args:
        stddev: float. Standard deviation of the noise, in input units.
        seed: int. Seed of the layer's `SeedGenerator`.

    Example:

    >>> noise = GaussianCorruption(stddev=0.3 * 255, seed=0)
    >>> noise(np.full((2, 28, 28, 1), 128.0, "float32"), training=True).shape
    TensorShape([2, 28, 28, 1])
    """

    def __init__(self, stddev=0.3 * 255.0, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if float(stddev) < 0:
            raise ValueError(f"GaussianCorruption stddev must be non-negative, got {stddev}")
        self.stddev = float(stddev)

    def _corrupt(self, inputs):
        noise = keras.random.normal(tf.shape(inputs), stddev=self.stddev, dtype=inputs.dtype, seed=self.seed_generator)
        return inputs + noise, tf.ones_like(inputs)

    def get_config(self):
        config = super().get_config()
        config["stddev"] = self.stddev
        return config


@keras.saving.register_keras_serializable(package="keras_ssl")
class MaskingCorruption(_Corruption):
    """Masking noise: a fraction `rate` of the components of each example,
    chosen at random for each example, is set to 0.

    Vincent et al., "Stacked Denoising Autoencoders" (JMLR 2010), section
    4.2 ("MN"; nu = 25% in its MNIST experiments). Exactly
    `round(rate * components)` components per example are masked, where the
    components are the pixels of a grey image (pixels x channels in colour)
    or the units of a code.

    Args:
        rate: float. Fraction nu of components set to 0.
        seed: int. Seed of the layer's `SeedGenerator`.

    Example:

    >>> noise = MaskingCorruption(rate=0.25, seed=0)
    >>> corrupted, mask = noise.corrupt(np.full((2, 28, 28, 1), 255.0, "float32"))
    >>> float(mask.numpy().mean())
    0.25
    """

    def __init__(self, rate=0.25, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_rate("MaskingCorruption", rate)

    def _corrupt(self, inputs):
        mask = _fraction_mask(tf.shape(inputs), self.rate, self.seed_generator)
        return tf.where(mask, tf.zeros_like(inputs), inputs), mask

    def get_config(self):
        config = super().get_config()
        config["rate"] = self.rate
        return config


@keras.saving.register_keras_serializable(package="keras_ssl")
class SaltAndPepperCorruption(_Corruption):
    """Salt-and-pepper noise: a fraction `rate` of the components of each
    example, chosen at random for each example, is set to `minval` or
    `maxval`, each with probability 1/2.

    Vincent et al., "Stacked Denoising Autoencoders" (JMLR 2010), section
    4.2 ("SP"). Exactly `round(rate * components)` components per example
    are corrupted. The extremes are those of raw pixels by default; use
    `(0, 1)` for codes in [0, 1].

    Args:
        rate: float. Fraction nu of components corrupted.
        minval: float. The "pepper" value (0).
        maxval: float. The "salt" value (255 for raw pixels).
        seed: int. Seed of the layer's `SeedGenerator`.

    Example:

    >>> noise = SaltAndPepperCorruption(rate=0.1, seed=0)
    >>> noise(np.full((2, 28, 28, 1), 128.0, "float32"), training=True).shape
    TensorShape([2, 28, 28, 1])
    """

    def __init__(self, rate=0.25, minval=0.0, maxval=255.0, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_rate("SaltAndPepperCorruption", rate)
        if not float(minval) < float(maxval):
            raise ValueError(f"SaltAndPepperCorruption needs minval < maxval, got {minval} and {maxval}")
        self.minval = float(minval)
        self.maxval = float(maxval)

    def _corrupt(self, inputs):
        shape = tf.shape(inputs)
        mask = _fraction_mask(shape, self.rate, self.seed_generator)
        salt = keras.random.uniform(shape, seed=self.seed_generator) < 0.5
        extremes = tf.where(salt, tf.cast(self.maxval, inputs.dtype), tf.cast(self.minval, inputs.dtype))
        return tf.where(mask, extremes, inputs), mask

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "minval": self.minval, "maxval": self.maxval})
        return config


def make_corruption(noise, level=None, value_range=(0.0, 255.0), seed=None, name="corruption"):
    """The corruption layer for a noise name, or `noise` itself if it is a
    layer, or None for `noise=None` (no corruption: a plain autoencoder).

    Args:
        noise: None, one of `NOISE_TYPES`, or a keras.layers.Layer.
        level: float. The paper's noise level on the [0, 1] scale: the
            fraction nu for masking and salt-and-pepper, the standard
            deviation sigma for Gaussian noise (scaled by the width of
            `value_range`). None: `DEFAULT_NOISE_LEVELS[noise]`.
        value_range: (low, high). Range of the inputs: (0, 255) for raw
            pixels, (0, 1) for codes.
        seed: int.
        name: str. Layer name.

    Example:

    >>> make_corruption("masking", 0.25, seed=0)
    <MaskingCorruption name=corruption, built=False>
    """
    if noise is None:
        return None
    if isinstance(noise, keras.layers.Layer):
        return noise
    if noise not in NOISE_TYPES:
        raise ValueError(f"unknown noise {noise!r}: use None, one of {', '.join(NOISE_TYPES)}, or a corruption layer")
    level = DEFAULT_NOISE_LEVELS[noise] if level is None else float(level)
    low, high = (float(v) for v in value_range)
    if noise == "gaussian":
        return GaussianCorruption(stddev=level * (high - low), seed=seed, name=name)
    if noise == "masking":
        return MaskingCorruption(rate=level, seed=seed, name=name)
    return SaltAndPepperCorruption(rate=level, minval=low, maxval=high, seed=seed, name=name)
