"""Intermediate feature maps of a backbone: its stages and its last map.

Pretext methods need more than the pooled vector: a context encoder decodes
the last feature map, and the pretext papers evaluate every stage of the
network with a linear probe (the conv1 ... conv5 tables of Zhang et al.
2016, Noroozi & Favaro 2016, Zhang et al. 2017).
"""

import re

import keras

# Output layer of each stage, by backbone: ConvNet's blocks, ResNet's stem and
# the last block of each of its three stages, MLP's dense layers.
_STAGE_PATTERNS = (
    re.compile(r"^block\d+_relu$"),
    re.compile(r"^stem_relu$|^stage\d+_block\d+_out$"),
    re.compile(r"^dense\d+_act$"),
)


def stage_layer_names(backbone):
    """Names of the layers whose outputs are the backbone's stages, from
    the input side to the output side.

    ConvNet: `block1_relu`, `block2_relu`, ...; ResNet: `stem_relu` and the
    last `stage{s}_block{b}_out` of each stage; MLP: `dense1_act`, ....

    Example:

    >>> stage_layer_names(ConvNet(input_shape=(28, 28, 1), filters=(16, 32)))
    ['block1_relu', 'block2_relu']
    """
    names = [layer.name for layer in backbone.layers]
    for pattern in _STAGE_PATTERNS:
        matched = [n for n in names if pattern.match(n)]
        if matched:
            if matched[0].startswith("stage") or matched[0] == "stem_relu":
                # Keep the stem and the last block of each ResNet stage.
                last = {}
                for n in matched:
                    last[n.split("_block")[0]] = n
                matched = list(last.values())
            return matched
    raise ValueError(
        f"cannot find the stages of backbone {backbone.name!r}: use keras_ssl.backbones.ConvNet, ResNet or MLP, "
        "or pass stage layer names explicitly"
    )


def feature_map_model(backbone, name=None):
    """A model sharing `backbone`'s layers that returns its last feature
    map `[batch, h, w, c]` (the input of its global pooling layer `pool`).

    Example:

    >>> maps = feature_map_model(ConvNet(input_shape=(28, 28, 1), filters=(16, 32)))
    >>> maps(np.zeros((2, 28, 28, 1), "float32")).shape
    TensorShape([2, 14, 14, 32])
    """
    try:
        pool = backbone.get_layer("pool")
    except ValueError:
        raise ValueError(
            f"backbone {backbone.name!r} has no global pooling layer named 'pool': use "
            "keras_ssl.backbones.ConvNet or ResNet"
        ) from None
    return keras.Model(backbone.input, pool.input, name=name or f"{backbone.name}_feature_map")


def stage_model(backbone, layer_names=None, name=None):
    """A model sharing `backbone`'s layers that returns the list of its
    stage feature maps (see `stage_layer_names`)."""
    layer_names = list(layer_names or stage_layer_names(backbone))
    outputs = [backbone.get_layer(n).output for n in layer_names]
    return keras.Model(backbone.input, outputs, name=name or f"{backbone.name}_stages")
