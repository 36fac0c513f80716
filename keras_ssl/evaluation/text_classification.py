"""Fine-tuning a BERT backbone on sentence classification (Devlin et al.
2019, section 4.1): a dense softmax layer on the pooled `[CLS]` output,
every weight trained, AdamW with warm-up, a few epochs."""

import math

import keras
import numpy as np


def copy_bert_backbone(backbone, random_init=False, seed=0):
    """A new `BertBackbone` with `backbone`'s config: with its weights, or
    freshly initialised (seeded by `seed`) when `random_init` is True. The
    given backbone is never changed."""
    import keras_hub

    keras.utils.set_random_seed(seed)
    copy = keras_hub.models.BertBackbone.from_config(backbone.get_config())
    if not random_init:
        copy.set_weights(backbone.get_weights())
    return copy


def fine_tune_text_classifier(
    backbone,
    tokenizer,
    train_texts,
    train_labels,
    test_texts,
    test_labels,
    num_classes=None,
    sequence_length=None,
    epochs=3,
    batch_size=32,
    learning_rate=1e-4,
    weight_decay=0.01,
    warmup_fraction=0.1,
    dropout=0.1,
    random_init=False,
    seed=0,
    verbose=0,
    return_model=False,
):
    """Fine-tunes a copy of a BERT backbone on text classification and
    returns its test accuracy.

    The classifier is `keras_hub.models.BertTextClassifier` (dropout and a
    dense layer on `pooled_output`) with a `BertTextClassifierPreprocessor`
    built from `tokenizer`, so `fit` takes raw strings and tokenises them in
    `tf.data`. Every weight is trained with `bert_optimizer` (AdamW, weight
    decay 0.01, warm-up over the first `warmup_fraction` of the steps).
    The paper fine-tunes 2-4 epochs at 2e-5 to 5e-5 with batch 32; small
    backbones trained briefly want a larger rate (1e-4 by default).
    `random_init=True` trains the same architecture from scratch: the
    baseline that pretraining must beat.

    Args:
        backbone: keras_hub.models.BertBackbone. Copied, never changed.
        tokenizer: keras_hub.models.BertTokenizer of the backbone's
            vocabulary.
        train_texts, test_texts: list or array of str.
        train_labels, test_labels: int arrays.
        num_classes: int. Default: 1 + the largest label.
        sequence_length: int. Default: the backbone's
            `max_sequence_length`.
        epochs, batch_size, learning_rate, weight_decay, warmup_fraction,
            dropout: training settings.
        random_init: bool. Start from fresh weights instead of
            `backbone`'s.
        seed: int. Seed of the initialisation, dropout and shuffling.
        verbose: int. Keras verbosity of `fit`.
        return_model: bool. Also return the classifier.

    Returns:
        float test accuracy, or `(accuracy, classifier)`.

    Example:

    >>> data = keras_ssl.data.wordnet_gloss_classification(train_size=5000, test_size=1000)
    >>> fine_tune_text_classifier(model.encoder, tokenizer, data.train_texts, data.train_labels,
    ...                           data.test_texts, data.test_labels, num_classes=data.num_classes)
    0.43
    """
    import keras_hub
    import tensorflow as tf

    from keras_ssl.optimizers import bert_optimizer

    if not isinstance(backbone, keras_hub.models.BertBackbone):
        raise ValueError(f"backbone must be a keras_hub.models.BertBackbone, got {type(backbone).__name__}")
    train_texts, test_texts = np.asarray(train_texts, dtype=str), np.asarray(test_texts, dtype=str)
    train_labels, test_labels = np.asarray(train_labels, "int32"), np.asarray(test_labels, "int32")
    if len(train_texts) != len(train_labels) or len(test_texts) != len(test_labels):
        raise ValueError(
            f"texts and labels differ in length: {len(train_texts)} vs {len(train_labels)} (train), "
            f"{len(test_texts)} vs {len(test_labels)} (test)"
        )
    if len(train_texts) == 0 or len(test_texts) == 0:
        raise ValueError("fine_tune_text_classifier needs at least one training and one test text")
    num_classes = int(num_classes or max(train_labels.max(), test_labels.max()) + 1)
    if train_labels.min() < 0 or max(train_labels.max(), test_labels.max()) >= num_classes:
        raise ValueError(f"labels must be in [0, {num_classes}): got {train_labels.min()}..{train_labels.max()}")
    sequence_length = int(sequence_length or backbone.max_sequence_length)

    copy = copy_bert_backbone(backbone, random_init=random_init, seed=seed)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=sequence_length)
    classifier = keras_hub.models.BertTextClassifier(copy, num_classes, preprocessor=preprocessor, dropout=dropout)
    steps = epochs * math.ceil(len(train_texts) / batch_size)
    classifier.compile(
        optimizer=bert_optimizer(
            learning_rate, weight_decay, warmup_steps=int(warmup_fraction * steps), decay_steps=max(steps, 1)
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    train = (
        tf.data.Dataset.from_tensor_slices((train_texts, train_labels))
        .shuffle(len(train_texts), seed=seed)
        .batch(batch_size)
    )
    classifier.fit(train, epochs=epochs, verbose=verbose)
    test = tf.data.Dataset.from_tensor_slices((test_texts, test_labels)).batch(max(batch_size, 128))
    accuracy = float(classifier.evaluate(test, verbose=0, return_dict=True)["accuracy"])
    return (accuracy, classifier) if return_model else accuracy
