"""The DCGAN adversarial losses (generator and discriminator), from logits."""

import tensorflow as tf


def generator_adversarial_loss(fake_logits):
    """Per-example non-saturating generator loss `-log D(G(z))`.

    The generator side of Goodfellow et al., "Generative Adversarial Nets"
    (NeurIPS 2014), in the non-saturating form that DCGAN (Radford, Metz and
    Chintala, ICLR 2016) and the context encoder (Pathak et al., CVPR 2016)
    train with: `-log sigmoid(l) = softplus(-l)` for the discriminator's
    logit `l` on a generated (filled-in) image, computed stably from logits.

    Args:
        fake_logits: float tensor `[B]` or `[B, 1]`. Discriminator logits
            on generated images.

    Returns:
        float32 tensor `[B]`; average it over the examples for the loss.

    Example:

    >>> generator_adversarial_loss(np.array([0.0]))  # -log(1/2)
    <tf.Tensor: shape=(1,), dtype=float32, numpy=array([0.6931472], dtype=float32)>
    """
    fake_logits = tf.reshape(tf.cast(fake_logits, tf.float32), [-1])
    return tf.nn.softplus(-fake_logits)


def discriminator_adversarial_loss(real_logits, fake_logits):
    """Per-example DCGAN discriminator loss: binary cross-entropy with real
    images labelled 1 and generated ones 0, summed over the two terms,
    `-log D(x) - log(1 - D(G(z)))` (Goodfellow et al. 2014; DCGAN's
    `errD_real + errD_fake`).

    Args:
        real_logits: float tensor `[B]` or `[B, 1]`. Logits on real images.
        fake_logits: float tensor `[B]` or `[B, 1]`. Logits on generated
            images, paired with the real ones by position.

    Returns:
        float32 tensor `[B]`; average it over the examples for the loss.

    Example:

    >>> discriminator_adversarial_loss(np.array([0.0]), np.array([0.0]))  # 2 log 2
    <tf.Tensor: shape=(1,), dtype=float32, numpy=array([1.3862944], dtype=float32)>
    """
    real_logits = tf.reshape(tf.cast(real_logits, tf.float32), [-1])
    fake_logits = tf.reshape(tf.cast(fake_logits, tf.float32), [-1])
    # -log sigmoid(r) = softplus(-r); -log(1 - sigmoid(f)) = softplus(f).
    return tf.nn.softplus(-real_logits) + tf.nn.softplus(fake_logits)
