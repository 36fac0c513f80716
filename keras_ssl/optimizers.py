"""Optimizer factories of the papers' recipes."""

import keras


def bert_optimizer(learning_rate=1e-4, weight_decay=0.01, warmup_steps=10000, decay_steps=1000000):
    """BERT's optimiser: Adam with decoupled weight decay (AdamW; beta_1
    0.9, beta_2 0.999, epsilon 1e-6), no decay on biases and layer-norm
    scales, the learning rate warmed up linearly over `warmup_steps` to
    `learning_rate` and then decayed to 0 over `decay_steps` (cosine here,
    linear in the paper). Paper defaults: 1e-4, 0.01, 10k warm-up steps,
    1M steps.

    Example:

    >>> model.compile(optimizer=bert_optimizer(warmup_steps=100, decay_steps=5000))
    """
    if learning_rate <= 0 or weight_decay < 0 or warmup_steps < 0 or decay_steps < 1:
        raise ValueError(
            f"bert_optimizer needs learning_rate > 0, weight_decay >= 0, warmup_steps >= 0, decay_steps >= 1; got "
            f"{learning_rate}, {weight_decay}, {warmup_steps}, {decay_steps}"
        )
    if warmup_steps:
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0,
            decay_steps=int(decay_steps),
            warmup_target=float(learning_rate),
            warmup_steps=int(warmup_steps),
        )
    else:
        schedule = keras.optimizers.schedules.CosineDecay(float(learning_rate), int(decay_steps))
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule, weight_decay=weight_decay, beta_1=0.9, beta_2=0.999, epsilon=1e-6
    )
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer
