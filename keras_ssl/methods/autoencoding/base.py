"""What the denoising autoencoders share: their noise, loss and emphasis
settings (checked, serialised) and applying a corruption layer."""

import keras
import tensorflow as tf

from keras_ssl.losses.reconstruction import LOSSES


def check_emphasis(emphasis, noise):
    """`emphasis` as a `(alpha, beta)` pair of floats, checked."""
    emphasis = tuple(float(e) for e in emphasis)
    if len(emphasis) != 2 or min(emphasis) < 0 or max(emphasis) == 0:
        raise ValueError(f"emphasis must be (alpha, beta), non-negative and not both 0, got {emphasis}")
    if emphasis != (1.0, 1.0) and (noise is None or noise == "gaussian"):
        raise ValueError(
            f"emphasis {emphasis} needs a noise that corrupts some components only: use noise='masking' or "
            "'salt_and_pepper' (Gaussian noise corrupts every component; noise=None none)"
        )
    return emphasis


def set_denoising_settings(model, noise, noise_level, loss, emphasis):
    """Checks and sets the settings every denoising autoencoder shares:
    `noise`, `noise_level` (float or None), `loss_type`, `emphasis`."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}: use one of {', '.join(LOSSES)}")
    model.noise = noise
    model.noise_level = None if noise_level is None else float(noise_level)
    model.loss_type = loss
    model.emphasis = check_emphasis(emphasis, noise)


def denoising_settings_config(model):
    """`get_config` entries of those settings; a corruption layer passed
    as `noise` is serialized (`deserialize_noise` restores it)."""
    noise = model.noise
    if isinstance(noise, keras.layers.Layer):
        noise = keras.saving.serialize_keras_object(noise)
    return {"noise": noise, "noise_level": model.noise_level, "loss": model.loss_type, "emphasis": model.emphasis}


def deserialize_noise(config):
    """`config` with a serialized corruption layer under `noise` rebuilt."""
    config = dict(config)
    if isinstance(config.get("noise"), dict):
        config["noise"] = keras.saving.deserialize_keras_object(config["noise"])
    return config


def corrupt_with(corruption, inputs):
    """`(corrupted, mask)` from a corruption layer: its `corrupt` method
    if it has one, else the layer in training mode and no mask."""
    if corruption is None:
        return inputs, None
    if hasattr(corruption, "corrupt"):
        return corruption.corrupt(inputs)
    return tf.cast(corruption(inputs, training=True), inputs.dtype), None
