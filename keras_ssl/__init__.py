"""keras_ssl: self-supervised and semi-supervised learning for Keras 3.

Every method is a `keras.Model`: build it on a backbone, `compile`, `fit` on
raw images, `predict` embeddings, export its `encoder` for TF Serving.

>>> import keras, keras_ssl
>>> backbone = keras_ssl.backbones.ResNet(input_shape=(28, 28, 1), depth=8)
>>> model = keras_ssl.methods.SimCLR(backbone)
>>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
"""

from keras_ssl import augment, backbones, clustering, data, distribute, evaluation, layers, losses, methods, optimizers

__version__ = "0.1.0"

__all__ = [
    "augment",
    "backbones",
    "clustering",
    "data",
    "distribute",
    "evaluation",
    "layers",
    "losses",
    "methods",
    "optimizers",
]
