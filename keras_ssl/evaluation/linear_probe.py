"""Linear probe: logistic regression on frozen features."""

import keras
import numpy as np

SOLVERS = ("auto", "sklearn", "keras")


def linear_probe_accuracy(
    train_features,
    train_labels,
    test_features,
    test_labels,
    regularization=1.0,
    max_iter=1000,
    solver="auto",
    max_sklearn_examples=100_000,
    epochs=30,
    batch_size=1024,
    learning_rate=0.01,
    seed=0,
    verbose=0,
):
    """Accuracy of a multinomial logistic regression trained on frozen,
    standardised features: the linear evaluation protocol of the
    self-supervised literature (e.g. Zhang et al. 2016, Chen et al. 2020).

    Both solvers minimise the same objective, the mean softmax cross-entropy
    plus `1 / (2 * regularization * N)` times the squared L2 norm of the
    weights (scikit-learn's, divided by `regularization * N`):

    - `"sklearn"`: scikit-learn's L-BFGS `LogisticRegression` (inverse
      strength `C=regularization`), which converges to the optimum rather
      than depending on a learning-rate schedule. Its full-batch passes
      grow slow on large sets.
    - `"keras"`: a `Dense(num_classes)` layer after a `Normalization` layer
      (the training features' mean and variance), trained from zero weights
      with Adam and a cosine-decayed learning rate for `epochs` epochs of
      `batch_size` examples shuffled by `seed`: the usual probe of large
      sets. Batches are sliced from the features as they are needed (a
      `np.memmap` works): no copy of the training set is made.
    - `"auto"`: scikit-learn up to `max_sklearn_examples` training examples,
      Keras above.

    Args:
        train_features: float array `[N, D]`.
        train_labels: int array `[N]`.
        test_features: float array `[M, D]`.
        test_labels: int array `[M]`.
        regularization: float. scikit-learn's `C`.
        max_iter: int. L-BFGS iterations (scikit-learn).
        solver: str. One of `SOLVERS`.
        max_sklearn_examples: int. Largest training set `"auto"` gives to
            scikit-learn (100,000: the 60,000 images of Fashion-MNIST stay
            with scikit-learn, whose L-BFGS optimum the published tables
            report; on raw Fashion-MNIST pixels the Keras probe read 0.844
            against scikit-learn's 0.835).
        epochs: int. Passes over the training features (Keras).
        batch_size: int. Examples per step (Keras).
        learning_rate: float. Adam's initial learning rate (Keras).
        seed: int. The order of the batches (Keras).
        verbose: int. Keras' progress bar (Keras).

    Returns:
        float accuracy in [0, 1].

    Example:

    >>> accuracy = linear_probe_accuracy(train_f, train_y, test_f, test_y)
    >>> accuracy = linear_probe_accuracy(train_f, train_y, test_f, test_y, solver="keras", epochs=10)
    """
    if solver not in SOLVERS:
        raise ValueError(f"Unknown solver {solver!r}: use one of {', '.join(SOLVERS)}")
    train_labels, test_labels = np.asarray(train_labels).astype("int64"), np.asarray(test_labels).astype("int64")
    if len(np.unique(train_labels)) < 2:
        raise ValueError("linear probe needs labelled examples of at least 2 classes: raise the label fraction")
    if solver == "keras" or (solver == "auto" and len(train_labels) > max_sklearn_examples):
        return _keras_probe_accuracy(
            train_features,
            train_labels,
            test_features,
            test_labels,
            regularization,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            seed=seed,
            verbose=verbose,
        )
    return _sklearn_probe_accuracy(train_features, train_labels, test_features, test_labels, regularization, max_iter)


def _sklearn_probe_accuracy(train_features, train_labels, test_features, test_labels, regularization, max_iter):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=regularization, max_iter=max_iter))
    # One BLAS thread: these matrices are small, and on a busy machine (or
    # beside TensorFlow's threads) multi-threaded OpenBLAS spin-waits, which
    # made a 2000 x 400 probe take 85 s instead of 2 s.
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(train_features, train_labels)
        return float(probe.score(test_features, test_labels))


def _keras_probe_accuracy(
    train_features,
    train_labels,
    test_features,
    test_labels,
    regularization,
    epochs,
    batch_size,
    learning_rate,
    seed,
    verbose,
):
    num_examples = len(train_labels)
    num_classes = int(max(train_labels.max(), test_labels.max()) + 1)
    mean, variance = _mean_and_variance(train_features)
    model = keras.Sequential(
        [
            keras.Input((len(mean),)),
            # Constant features scaled by 1, as scikit-learn's StandardScaler.
            keras.layers.Normalization(mean=mean, variance=np.where(variance > 0, variance, 1.0)),
            keras.layers.Dense(
                num_classes,
                kernel_initializer="zeros",  # The optimum is unique: no random start needed.
                kernel_regularizer=keras.regularizers.L2(1.0 / (2.0 * regularization * num_examples)),
            ),
        ]
    )
    train = _FeatureBatches(train_features, train_labels, batch_size, seed=seed)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(1, epochs * len(train)))
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=False,
    )
    model.fit(train, epochs=epochs, verbose=verbose)
    test = _FeatureBatches(test_features, test_labels, max(batch_size, 4096))
    return float(model.evaluate(test, verbose=0, return_dict=True)["accuracy"])


def _mean_and_variance(features, chunk_size=65536):
    """Per-feature mean and variance (float64 sums, a chunk at a time)."""
    total = sum(
        np.sum(features[s : s + chunk_size], axis=0, dtype="float64") for s in range(0, len(features), chunk_size)
    )
    mean = total / len(features)
    squares = sum(
        np.sum(np.square(features[s : s + chunk_size] - mean), axis=0) for s in range(0, len(features), chunk_size)
    )
    return mean.astype("float32"), (squares / len(features)).astype("float32")


class _FeatureBatches(keras.utils.PyDataset):
    """`(features, labels)` batches sliced from the arrays as `fit` asks for
    them, in a new order every epoch when `seed` is given."""

    def __init__(self, features, labels, batch_size, seed=None):
        super().__init__()
        self.features, self.labels, self.batch_size = features, labels, batch_size
        self.rng = None if seed is None else np.random.default_rng(seed)
        self.order = np.arange(len(labels)) if self.rng is None else self.rng.permutation(len(labels))

    def __len__(self):
        return -(-len(self.labels) // self.batch_size)

    def __getitem__(self, index):
        # Sorted rows: sequential reads where the features are a memmap.
        rows = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        return np.asarray(self.features[rows], "float32"), self.labels[rows]

    def on_epoch_end(self):
        if self.rng is not None:
            self.order = self.rng.permutation(len(self.labels))
