"""The input convention shared by every image backbone."""

import keras


def pixel_input(input_shape):
    """Returns `(inputs, scaled)`: a float32 input of raw pixels in [0, 255]
    and the same tensor scaled to [0, 1] by the first layer.

    Keeping the scaling inside the backbone means the exported encoder takes
    raw uint8 pixels, and a method can augment in pixel units.
    """
    if len(tuple(input_shape)) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}")
    inputs = keras.Input(shape=tuple(input_shape), dtype="float32", name="images")
    scaled = keras.layers.Rescaling(1.0 / 255.0, name="pixel_scale")(inputs)
    return inputs, scaled
