"""Fine-tuning: the whole encoder plus a linear classifier, end to end."""

import keras
import numpy as np


def copy_encoder(encoder):
    """An independent copy of `encoder` with the same weights."""
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(encoder))
    copy.set_weights(encoder.get_weights())
    return copy


def fine_tune_accuracy(
    encoder,
    x_train,
    y_train,
    x_test,
    y_test,
    num_classes=None,
    epochs=20,
    batch_size=128,
    learning_rate=1e-3,
    min_steps=300,
    verbose=0,
):
    """Test accuracy after training a copy of `encoder` and a softmax layer
    end to end on the labelled examples (the encoder passed in is left
    untouched). Random flips and small translations regularise the few-label
    regimes.

    Args:
        encoder: keras.Model from raw pixels to features.
        x_train, y_train: labelled uint8 images and int labels.
        x_test, y_test: test images and labels.
        num_classes: int. Defaults to `max(label) + 1`.
        epochs: int. Raised so that training takes at least `min_steps`
            steps (few labels make short epochs).
        batch_size: int. Capped at the number of labelled examples.
        learning_rate: float. Adam learning rate.
        min_steps: int. Least number of optimizer steps.
        verbose: int. Keras verbosity.

    Example:

    >>> accuracy = fine_tune_accuracy(model.encoder, x_l, y_l, x_test, y_test)
    """
    num_classes = int(num_classes or max(np.max(y_train), np.max(y_test)) + 1)
    backbone = copy_encoder(encoder)
    inputs = keras.Input(shape=backbone.input_shape[1:], name="images")
    x = keras.layers.RandomFlip("horizontal")(inputs)
    x = keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant")(x)
    outputs = keras.layers.Dense(num_classes, name="classifier")(backbone(x))
    classifier = keras.Model(inputs, outputs)
    classifier.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    batch_size = min(batch_size, len(x_train))
    steps_per_epoch = -(-len(x_train) // batch_size)
    epochs = max(epochs, -(-min_steps // steps_per_epoch))
    classifier.fit(np.asarray(x_train, "float32"), y_train, batch_size=batch_size, epochs=epochs, verbose=verbose)
    _, accuracy = classifier.evaluate(np.asarray(x_test, "float32"), y_test, batch_size=512, verbose=0)
    return float(accuracy)
