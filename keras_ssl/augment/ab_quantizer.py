"""Quantised ab colour space: the classes of colourisation."""

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.augment.color_space import rgb_to_lab


def sample_ab(images, sample_size=100000, seed=0):
    """ab values `[sample_size, 2]` (float32) of pixels drawn uniformly,
    with replacement, from sRGB images `[N, H, W, 3]` in [0, 255]."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"ab bins need RGB images [N, H, W, 3], got shape {images.shape}: pass colour images "
            "(keras_ssl.data.load_photos(), --dataset=photos in zoo.train)"
        )
    if images.size == 0:
        raise ValueError("ab bins need at least one image, got an empty array")
    rng = np.random.default_rng(seed)
    pixels = images.reshape(-1, 3)
    pixels = pixels[rng.integers(0, len(pixels), size=int(sample_size))]
    return rgb_to_lab(pixels).numpy()[:, 1:]


def fit_ab_bins(images, num_bins=64, sample_size=50000, seed=0):
    """Centres `[num_bins, 2]` of ab bins, by k-means on training pixels.

    Zhang et al. (2016) use the Q = 313 cells of a grid of size 10 that are
    in the sRGB gamut; here, as the issue asks, the bins are the k-means
    centres of the ab values of `sample_size` pixels drawn from `images`,
    so they follow the data (64 by default: a few photos fill few cells of
    the paper's grid). Centres come sorted (by a, then b) and are the same
    for the same images and seed.

    Args:
        images: uint8 or float sRGB images `[N, H, W, 3]` in [0, 255].
        num_bins: int. Number of bins.
        sample_size: int. Pixels used for k-means.
        seed: int. Seed of the pixel sample and of k-means.

    Returns:
        float32 NumPy array `[num_bins, 2]`.

    Example:

    >>> bins = fit_ab_bins(keras_ssl.data.load_photos(num_train=1000).x_train, num_bins=32)
    >>> bins.shape
    (32, 2)
    """
    from sklearn.cluster import KMeans

    ab = sample_ab(images, sample_size, seed).astype("float64")
    num_bins = int(num_bins)
    distinct = len(np.unique(np.round(ab, 3), axis=0))
    if not 2 <= num_bins <= distinct:
        raise ValueError(
            f"num_bins must be between 2 and the number of distinct ab values sampled ({distinct}), got "
            f"{num_bins}: lower num_bins or pass more colourful images"
        )
    centres = KMeans(n_clusters=num_bins, n_init=1, random_state=seed).fit(ab).cluster_centers_
    order = np.lexsort((centres[:, 1], centres[:, 0]))
    return centres[order].astype("float32")


def ab_bin_prior(images, bins, sigma=5.0, sample_size=50000, seed=0):
    """Empirical distribution `[Q]` of ab bins over pixels of `images`,
    smoothed with a Gaussian kernel of `sigma` in ab space (Zhang et al.
    2016, section 2.2: the prior behind class rebalancing).

    Each sampled pixel counts for its nearest bin; each bin's mass is then
    spread over the bins by `exp(-d^2 / (2 sigma^2))` (normalised per bin,
    so the total stays 1). `sigma=0` gives the raw histogram.
    """
    bins = np.asarray(bins, "float64")
    ab = sample_ab(images, sample_size, seed).astype("float64")
    nearest = np.argmin(((ab[:, None, :] - bins[None]) ** 2).sum(-1), axis=1)
    prior = np.bincount(nearest, minlength=len(bins)).astype("float64")
    prior /= prior.sum()
    if sigma > 0:
        d2 = ((bins[:, None, :] - bins[None]) ** 2).sum(-1)
        kernel = np.exp(-d2 / (2 * sigma**2))
        prior = prior @ (kernel / kernel.sum(axis=1, keepdims=True))
    return prior.astype("float32")


@keras.saving.register_keras_serializable(package="keras_ssl")
class ABQuantizer(keras.layers.Layer):
    """Maps ab colour values to distributions over ab bins and back.

    Zhang, Isola and Efros, "Colorful Image Colorization" (ECCV 2016):
    colourisation as classification over Q quantised ab values. `encode`
    (the layer's call) gives the paper's soft encoding: a Gaussian
    (`sigma`) over the `num_neighbours` nearest bins, normalised to sum to
    one (5 and 5 in the paper). `decode` maps a distribution over bins back
    to ab with the paper's annealed mean: the mean of the bins under the
    distribution sharpened by a temperature T (0.38 in the paper; T = 1 is
    the plain mean, T = 0 the mode).

    The bins are data: get them with `fit_ab_bins` (k-means on training
    pixels). With hard encoding, `decode(encode_hard(ab), temperature=0)`
    returns the nearest bin, so colours round-trip within the bin size (the
    largest distance of a training pixel to its nearest centre).

    Args:
        bins: array-like `[Q, 2]`. ab centres of the bins.
        sigma: float. Width of the soft encoding's Gaussian (ab units).
        num_neighbours: int. Bins that share a value's soft encoding.
        temperature: float. Default temperature of `decode`.

    Example:

    >>> quantizer = ABQuantizer(fit_ab_bins(photos.x_train, num_bins=64))
    >>> targets = quantizer(rgb_to_lab(images)[..., 1:])  # [B, H, W, 64]
    >>> ab = quantizer.decode(targets)                     # [B, H, W, 2]
    """

    def __init__(self, bins, sigma=5.0, num_neighbours=5, temperature=0.38, **kwargs):
        super().__init__(**kwargs)
        bins = np.asarray(bins, "float32")
        if bins.ndim != 2 or bins.shape[1] != 2 or len(bins) < 2:
            raise ValueError(
                f"ABQuantizer bins must be an array [Q, 2] of ab centres with Q >= 2, got shape {bins.shape}: "
                "compute them with keras_ssl.augment.fit_ab_bins(images)"
            )
        if not np.all(np.isfinite(bins)):
            raise ValueError("ABQuantizer bins contain NaN or Inf: compute them with fit_ab_bins(images)")
        if sigma <= 0:
            raise ValueError(f"ABQuantizer sigma must be positive, got {sigma}")
        if not 1 <= int(num_neighbours) <= len(bins):
            raise ValueError(
                f"ABQuantizer num_neighbours must be between 1 and {len(bins)} (the bins), got {num_neighbours}"
            )
        if temperature < 0:
            raise ValueError(f"ABQuantizer temperature must be >= 0 (0: the mode), got {temperature}")
        # === Config ===
        self.bins = bins
        self.sigma = float(sigma)
        self.num_neighbours = int(num_neighbours)
        self.temperature = float(temperature)
        self.built = True

    @property
    def num_bins(self):
        return len(self.bins)

    def _squared_distances(self, ab):
        ab = tf.cast(ab, "float32")
        bins = tf.constant(self.bins)
        # |x - c|^2 expanded: no [..., Q, 2] intermediate.
        return tf.maximum(
            tf.reduce_sum(ab**2, -1, keepdims=True)
            - 2.0 * tf.tensordot(ab, tf.transpose(bins), axes=1)
            + tf.reduce_sum(bins**2, -1),
            0.0,
        )

    def nearest(self, ab):
        """Index `[...]` (int32) of the nearest bin of each ab value `[..., 2]`."""
        return tf.argmin(self._squared_distances(ab), axis=-1, output_type=tf.int32)

    def encode_hard(self, ab):
        """One-hot `[..., Q]` of the nearest bin."""
        return tf.one_hot(self.nearest(ab), self.num_bins)

    def encode(self, ab):
        """Soft encoding `[..., Q]` of ab values `[..., 2]`."""
        neg_d2, indices = tf.math.top_k(-self._squared_distances(ab), k=self.num_neighbours)
        weights = tf.nn.softmax(neg_d2 / (2.0 * self.sigma**2), axis=-1)
        return tf.einsum("...k,...kq->...q", weights, tf.one_hot(indices, self.num_bins))

    def call(self, ab):
        return self.encode(ab)

    def decode(self, values, temperature=None, from_logits=False):
        """ab `[..., 2]` of distributions (or logits) `[..., Q]` over the
        bins: the annealed mean at `temperature` (the layer's by default),
        the mode at 0."""
        temperature = self.temperature if temperature is None else float(temperature)
        values = tf.cast(values, "float32")
        if temperature == 0:
            weights = tf.one_hot(tf.argmax(values, axis=-1), self.num_bins)
        else:
            # Annealed mean: exp(log z / T) renormalised = softmax(log z / T).
            logits = values if from_logits else tf.math.log(tf.maximum(values, 1e-30))
            weights = tf.nn.softmax(logits / temperature, axis=-1)
        return tf.tensordot(weights, tf.constant(self.bins), axes=1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_bins)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "bins": self.bins.tolist(),
                "sigma": self.sigma,
                "num_neighbours": self.num_neighbours,
                "temperature": self.temperature,
            }
        )
        return config
