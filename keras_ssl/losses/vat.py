"""Virtual adversarial training: the KL divergence between predictions and
the adversarial direction found by power iteration."""

import keras
import tensorflow as tf


def kl_divergence_from_logits(p_logits, q_logits):
    """Per-example `KL(softmax(p_logits) || softmax(q_logits))`.

    Computed from `log_softmax`, so it stays finite for saturated logits.

    Args:
        p_logits: float tensor `[B, C]`. Logits of the reference
            distribution (stop its gradient where it is a target).
        q_logits: float tensor `[B, C]`, same dtype.

    Returns:
        float tensor `[B]` (nats).

    Example:

    >>> kl_divergence_from_logits(np.zeros((1, 2), "float32"), np.array([[0.0, 1.0]], "float32")).numpy()
    array([0.12011445], dtype=float32)
    """
    log_p = tf.nn.log_softmax(p_logits, axis=-1)
    log_q = tf.nn.log_softmax(q_logits, axis=-1)
    return tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), axis=-1)


def l2_normalize_per_example(d):
    """Scales each example of `d` (all axes but the first) to unit L2 norm.

    As in the paper's code, `d` is first divided by its largest absolute
    value, so a tiny finite-difference gradient does not underflow when
    squared (the paper's code adds 1e-12 to that value; here an all-zero
    example stays zero and any other is scaled exactly).
    """
    d = tf.convert_to_tensor(d)
    axes = list(range(1, d.shape.rank))
    d = tf.math.divide_no_nan(d, tf.reduce_max(tf.abs(d), axis=axes, keepdims=True))
    return d / tf.sqrt(1e-6 + tf.reduce_sum(tf.square(d), axis=axes, keepdims=True))


def virtual_adversarial_perturbation(
    logit_fn, x, clean_logits, xi, eps, power_iterations=1, seed_generator=None, initial_direction=None
):
    """The virtual adversarial perturbation `r_adv` of each example of `x`.

    Miyato, Maeda, Koyama & Ishii, "Virtual Adversarial Training: A
    Regularization Method for Supervised and Semi-Supervised Learning"
    (TPAMI 2018), section 3.3. `r_adv` (norm `eps`) approximates the
    direction that most increases `D(r) = KL(p(y|x) || p(y|x + r))`, i.e.
    the dominant eigenvector of its Hessian `H` at `r = 0`, by power
    iteration with a finite difference: starting from `d ~ N(0, I)`,
    `power_iterations` times `g = grad_r D(r)` at `r = xi d` (which is
    about `xi H d`, since `D` and its gradient vanish at 0) and
    `d = g / ||g||`; then `r_adv = eps d`. `p(y|x)` is held constant
    (`clean_logits`, gradient stopped). Norms are L2 over all axes of one
    example, in the units of `x`.

    The result carries no gradient: the LDS loss is then
    `KL(stop_gradient(p(y|x)) || p(y|x + r_adv))`.

    Args:
        logit_fn: callable. Images to class logits; called
            `power_iterations` times (pass a function that does not update
            batch norm statistics, e.g. `lambda x: model(x, training=False)`).
        x: float tensor `[B, ...]`. The inputs.
        clean_logits: float tensor `[B, C]`. `logit_fn`'s logits of `x`
            (computed the same way, or the finite difference measures the
            gap between two modes instead of the curvature).
        xi: float. Length of the finite-difference step, in the units of `x`.
        eps: float. Norm of the returned perturbation, in the units of `x`.
        power_iterations: int. Power iterations (the paper's K, 1 is
            enough in practice; 0 returns a random direction of norm `eps`).
        seed_generator: `keras.random.SeedGenerator` (or int seed) of the
            random start.
        initial_direction: float tensor like `x`. The start instead of a
            Gaussian draw (normalised here); for tests and determinism.

    Returns:
        Tensor like `x`: `eps` times a unit direction per example.

    Example:

    >>> logit_fn = lambda images: model.logits(images, training=False)
    >>> clean = logit_fn(x)
    >>> r_adv = virtual_adversarial_perturbation(logit_fn, x, clean, xi=1e-6, eps=2.0, power_iterations=1,
    ...                                          seed_generator=keras.random.SeedGenerator(0))
    >>> lds = tf.reduce_mean(kl_divergence_from_logits(tf.stop_gradient(clean), logit_fn(x + r_adv)))
    """
    if int(power_iterations) < 0:
        raise ValueError(f"power_iterations must be non-negative, got {power_iterations}")
    if xi <= 0 or eps < 0:
        raise ValueError(f"xi must be positive and eps non-negative, got xi={xi}, eps={eps}")
    x = tf.stop_gradient(tf.convert_to_tensor(x))
    clean_logits = tf.stop_gradient(clean_logits)
    if initial_direction is None:
        d = keras.random.normal(tf.shape(x), dtype=x.dtype, seed=seed_generator)
    else:
        d = tf.cast(initial_direction, x.dtype)
    d = l2_normalize_per_example(d)
    for _ in range(int(power_iterations)):
        r = xi * d
        with tf.GradientTape() as tape:
            tape.watch(r)
            # Summed over examples: each example's gradient is its own.
            divergence = tf.reduce_sum(
                kl_divergence_from_logits(clean_logits, tf.cast(logit_fn(x + r), clean_logits.dtype))
            )
        d = l2_normalize_per_example(tf.stop_gradient(tape.gradient(divergence, r)))
    return tf.stop_gradient(eps * d)
