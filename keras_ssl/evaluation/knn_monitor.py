"""A callback that reports kNN accuracy during fit."""

import keras

from keras_ssl.evaluation.features import extract_features
from keras_ssl.evaluation.knn import knn_accuracy


class KNNMonitor(keras.callbacks.Callback):
    """Adds `val_knn_accuracy` to the logs every `every` epochs: weighted kNN
    (Wu et al. 2018) of the model's frozen representation, the usual way to
    watch a self-supervised run without training a classifier.

    Put it before `TensorBoard`, `CSVLogger` or checkpoint callbacks so they
    see the value.

    Args:
        train_images, train_labels: the memory bank (uint8 images, labels).
        test_images, test_labels: evaluated examples.
        k: int. Neighbours.
        temperature: float.
        every: int. Epoch interval.

    Example:

    >>> monitor = KNNMonitor(x_train[:5000], y_train[:5000], x_test, y_test)
    >>> model.fit(x_train, epochs=10, callbacks=[monitor])
    """

    def __init__(self, train_images, train_labels, test_images, test_labels, k=200, temperature=0.07, every=1):
        super().__init__()
        self.train_images, self.train_labels = train_images, train_labels
        self.test_images, self.test_labels = test_images, test_labels
        self.k, self.temperature, self.every = k, temperature, max(1, int(every))

    def accuracy(self):
        encoder = getattr(self.model, "encoder", None) or self.model
        return knn_accuracy(
            extract_features(encoder, self.train_images),
            self.train_labels,
            extract_features(encoder, self.test_images),
            self.test_labels,
            k=self.k,
            temperature=self.temperature,
        )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and (epoch + 1) % self.every == 0:
            logs["val_knn_accuracy"] = self.accuracy()
