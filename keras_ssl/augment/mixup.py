"""MixUp and sharpening: the label-mixing pieces of MixMatch.

MixUp (Zhang, Cisse, Dauphin & Lopez-Paz, "mixup: Beyond Empirical Risk
Minimization", ICLR 2018) trains on convex combinations of pairs of examples
and of their labels. MixMatch (Berthelot et al., NeurIPS 2019) mixes with
`lambda' = max(lambda, 1 - lambda)`, so each mixed example stays closer to
its first argument, and sharpens its guessed labels with a temperature.
"""

import keras
from keras import ops


def sharpen(probabilities, temperature):
    """Sharpens class distributions with a temperature (MixMatch, eq. 7):
    `p_i^(1/T) / sum_j p_j^(1/T)` along the last axis.

    `temperature=1` leaves `probabilities` unchanged; as it goes to 0 the
    output goes to the one-hot vector of the arg max. Computed in log space
    so that small temperatures do not underflow to 0 / 0.

    Args:
        probabilities: float tensor `[..., classes]`, rows summing to 1.
        temperature: float. `T > 0`.

    Returns:
        A float tensor of the same shape, rows summing to 1.

    Example:

    >>> sharpen(np.array([[0.6, 0.4]], "float32"), temperature=0.5)  # [[0.692, 0.308]]
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    probabilities = ops.convert_to_tensor(probabilities)
    # log(0) = -inf would give NaN gradients; the floor changes nothing
    # visible in float32 after the softmax.
    logs = ops.log(ops.maximum(probabilities, 1e-30))
    return ops.softmax(logs / temperature, axis=-1)


def sample_mixup_weights(batch_size, alpha, seed=None, keep_first=True, dtype="float32"):
    """One MixUp weight per example, `lambda ~ Beta(alpha, alpha)`.

    Args:
        batch_size: int or scalar int tensor. Number of weights.
        alpha: float. Beta parameter; 0 means no mixing (every weight 1).
        seed: int or `keras.random.SeedGenerator`.
        keep_first: bool. Return MixMatch's `max(lambda, 1 - lambda)`, so
            each mixed example stays closer to its first argument.
        dtype: str.

    Returns:
        A float tensor `[batch_size]` in [0, 1] (in [0.5, 1] with
        `keep_first`).

    Example:

    >>> weights = sample_mixup_weights(64, alpha=0.75, seed=keras.random.SeedGenerator(0))
    """
    if alpha < 0:
        raise ValueError(f"mixup alpha must be non-negative, got {alpha}")
    if alpha == 0:
        return ops.ones([batch_size], dtype=dtype)
    weights = sample_beta([batch_size], alpha, alpha, seed=seed, dtype=dtype)
    return ops.maximum(weights, 1.0 - weights) if keep_first else weights


def sample_gamma(shape, concentration, seed=None, dtype="float32", candidates=8):
    """Draws from Gamma(`concentration`, 1) with ops XLA compiles.

    `tf.random.stateless_gamma` (behind `keras.random.gamma` and `beta`)
    has no XLA kernel, so a MixMatch step that used it could not run on a
    TPU. This is Marsaglia and Tsang's method ("A Simple Method for
    Generating Gamma Variables", ACM TOMS 2000): for shape `a >= 1`, with
    `d = a - 1/3`, `c = 1 / sqrt(9 d)`, `x ~ N(0, 1)`, `v = (1 + c x)^3`,
    accept `d v` when `log u < x^2 / 2 + d - d v + d log v`; a shape
    `a < 1` draws shape `a + 1` and multiplies by `u^(1/a)`. The rejection
    loop is vectorised: `candidates` proposals per draw, the first accepted
    one kept (each is accepted with probability above 0.95, so all 8 fail
    with probability below 4e-11; then `d` is returned).

    Args:
        shape: list or tensor. Shape of the draws.
        concentration: float. Shape `a > 0`.
        seed: int or `keras.random.SeedGenerator`.
        dtype: str.
        candidates: int. Proposals per draw.

    Example:

    >>> sample_gamma([1000], 0.75, seed=keras.random.SeedGenerator(0)).shape
    TensorShape([1000])
    """
    if concentration <= 0:
        raise ValueError(f"the Gamma concentration must be positive, got {concentration}")
    boosted = concentration < 1
    a = concentration + 1.0 if boosted else float(concentration)
    d = a - 1.0 / 3.0
    c = 1.0 / (9.0 * d) ** 0.5
    shape = ops.convert_to_tensor(shape, "int32")
    proposals = ops.concatenate([ops.convert_to_tensor([candidates], "int32"), shape], axis=0)
    x = keras.random.normal(proposals, dtype="float32", seed=seed)
    u = keras.random.uniform(proposals, dtype="float32", seed=seed)
    v = (1.0 + c * x) ** 3
    safe_v = ops.maximum(v, 1e-30)
    accepted = (v > 0) & (ops.log(ops.maximum(u, 1e-30)) < 0.5 * x**2 + d - d * safe_v + d * ops.log(safe_v))
    first = ops.argmax(ops.cast(accepted, "int32"), axis=0)
    chosen = ops.take_along_axis(d * safe_v, ops.expand_dims(first, 0), axis=0)[0]
    draws = ops.where(ops.any(accepted, axis=0), chosen, d)
    if boosted:
        boost = keras.random.uniform(shape, dtype="float32", seed=seed)
        draws = draws * ops.maximum(boost, 1e-30) ** (1.0 / concentration)
    return ops.cast(draws, dtype)


def sample_beta(shape, alpha, beta, seed=None, dtype="float32"):
    """Draws from Beta(`alpha`, `beta`) as `G_a / (G_a + G_b)` of two
    `sample_gamma` draws, with ops XLA compiles (`keras.random.beta` does
    not compile).

    Example:

    >>> sample_beta([64], 0.75, 0.75, seed=keras.random.SeedGenerator(0)).shape
    TensorShape([64])
    """
    first = sample_gamma(shape, alpha, seed=seed)
    second = sample_gamma(shape, beta, seed=seed)
    return ops.cast(first / ops.maximum(first + second, 1e-30), dtype)


def mixup(x1, x2, y1, y2, weights):
    """MixUp of two batches and of their labels with per-example weights:
    `weights * x1 + (1 - weights) * x2`, and the same for the labels.

    Which of the two the result stays closer to is the caller's choice
    (MixMatch passes `max(lambda, 1 - lambda)`; see `sample_mixup_weights`).

    Args:
        x1: float tensor `[batch, ...]`. First inputs.
        x2: float tensor, same shape. Second inputs.
        y1: float tensor `[batch, classes]`. First (soft) labels.
        y2: float tensor, same shape. Second labels.
        weights: float tensor `[batch]` or scalar. Weight of the first
            argument.

    Returns:
        `(mixed_x, mixed_y)`.

    Example:

    >>> mixed_x, mixed_y = mixup(x, x[::-1], y, y[::-1], weights=np.full([len(x)], 0.7, "float32"))
    """
    x1, x2 = ops.convert_to_tensor(x1), ops.convert_to_tensor(x2)
    y1, y2 = ops.cast(y1, x1.dtype), ops.cast(y2, x1.dtype)
    weights = ops.cast(weights, x1.dtype)

    def mix(a, b):
        # Per-example weights broadcast over every axis but the batch.
        w = ops.reshape(weights, [-1] + [1] * (len(a.shape) - 1)) if len(weights.shape) else weights
        return w * a + (1.0 - w) * b

    return mix(x1, x2), mix(y1, y2)
