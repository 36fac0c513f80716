"""MLP projection head."""

import keras


@keras.saving.register_keras_serializable(package="keras_ssl")
class ProjectionHead(keras.layers.Layer):
    """MLP head mapping representations to the space where a loss is applied.

    SimCLR (Chen et al. 2020) uses `g(h) = W2 relu(BN(W1 h))` with a 128-d
    output; the loss is computed on `g(h)` and `h` is kept as the
    representation.

    Args:
        output_dim: int. Size of the projection.
        hidden_dims: tuple of int. Sizes of the hidden layers (default one
            hidden layer as wide as the input features).
        batch_norm: bool. Batch normalisation after each hidden layer.
        synchronized_batch_norm: bool. Batch statistics over all replicas.

    Example:

    >>> head = ProjectionHead(output_dim=128)
    >>> head(np.zeros((4, 64), "float32")).shape
    TensorShape([4, 128])
    """

    def __init__(self, output_dim=128, hidden_dims=None, batch_norm=True, synchronized_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.output_dim = int(output_dim)
        self.hidden_dims = None if hidden_dims is None else tuple(int(d) for d in hidden_dims)
        self.batch_norm = batch_norm
        self.synchronized_batch_norm = synchronized_batch_norm

    def build(self, input_shape):
        hidden_dims = self.hidden_dims if self.hidden_dims is not None else (input_shape[-1],)
        self.hidden_layers = []
        shape = tuple(input_shape)
        for i, dim in enumerate(hidden_dims):
            dense = keras.layers.Dense(dim, use_bias=not self.batch_norm, name=f"hidden{i + 1}")
            dense.build(shape)
            shape = shape[:-1] + (dim,)
            norm = None
            if self.batch_norm:
                norm = keras.layers.BatchNormalization(synchronized=self.synchronized_batch_norm, name=f"bn{i + 1}")
                norm.build(shape)
            self.hidden_layers.append((dense, norm))
        self.output_layer = keras.layers.Dense(self.output_dim, name="output")
        self.output_layer.build(shape)

    def call(self, inputs, training=None):
        x = inputs
        for dense, norm in self.hidden_layers:
            x = dense(x)
            if norm is not None:
                x = norm(x, training=training)
            x = keras.ops.relu(x)
        return self.output_layer(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "output_dim": self.output_dim,
                "hidden_dims": self.hidden_dims,
                "batch_norm": self.batch_norm,
                "synchronized_batch_norm": self.synchronized_batch_norm,
            }
        )
        return config
