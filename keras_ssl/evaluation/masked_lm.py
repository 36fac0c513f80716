"""Held-out masked-LM and next-sentence accuracy of BERT pretraining, with
the trivial baselines they must beat."""

import numpy as np


def pretraining_accuracies(model, batches, batch_size=64):
    """Masked-LM and NSP accuracy of a `BertPretraining` model on held-out
    batches, next to the baselines of predicting without the input.

    The batches are drawn once (masks are random) so that the model and the
    baselines are scored on the very same chosen tokens:

    - `mlm_accuracy`: share of the chosen tokens the model predicts;
    - `most_frequent_token_accuracy`: share of the chosen tokens equal to
      the most frequent token among them (always predicting that token, the
      best constant guess on these very targets);
    - `nsp_accuracy` and `nsp_majority_accuracy` (always the majority
      label); also `mlm_loss`, `nsp_loss` (mean cross-entropies),
      `masked_tokens`, `pairs`.

    The model need not be compiled (a random-init baseline works too).

    Args:
        model: BertPretraining.
        batches: tf.data.Dataset of batch dicts (from
            `keras_ssl.data.bert_pretraining_batches`, built on held-out
            documents) or such a dict of NumPy arrays.
        batch_size: int. Batch size of the forward passes.

    Returns:
        dict of floats.

    Example:

    >>> test_pairs = next_sentence_pairs(corpus, split="test", seed=1)
    >>> pretraining_accuracies(model, bert_pretraining_batches(test_pairs, preprocessor, 64, shuffle=False))
    {'mlm_accuracy': 0.31, 'most_frequent_token_accuracy': 0.06, 'nsp_accuracy': 0.71, ...}
    """
    import tensorflow as tf

    from keras_ssl.data.bert_inputs import materialize_batches

    arrays = batches if isinstance(batches, dict) else materialize_batches(batches)
    weights = np.asarray(arrays["mask_weights"]) > 0
    targets = np.asarray(arrays["mask_ids"])[weights]
    if targets.size == 0:
        raise ValueError("the held-out batches hold no masked tokens: use longer or more sentences")
    labels = np.asarray(arrays["nsp_labels"])

    @tf.function
    def logits_of(batch):
        mlm_logits, nsp_logits = model.pretraining_logits(batch, training=False)
        return tf.cast(mlm_logits, "float32"), tf.cast(nsp_logits, "float32")

    mlm_correct = mlm_loss = nsp_correct = nsp_loss = 0.0
    for start in range(0, len(labels), batch_size):
        batch = {key: value[start : start + batch_size] for key, value in arrays.items()}
        mlm_logits, nsp_logits = (t.numpy().astype("float64") for t in logits_of(batch))
        chosen = weights[start : start + batch_size]
        mlm_logits, ids = mlm_logits[chosen], batch["mask_ids"][chosen]
        mlm_correct += np.sum(mlm_logits.argmax(-1) == ids)
        mlm_loss -= np.sum(_log_softmax(mlm_logits)[np.arange(len(ids)), ids])
        nsp = batch["nsp_labels"]
        nsp_correct += np.sum(nsp_logits.argmax(-1) == nsp)
        nsp_loss -= np.sum(_log_softmax(nsp_logits)[np.arange(len(nsp)), nsp])
    return {
        "mlm_accuracy": float(mlm_correct / targets.size),
        "most_frequent_token_accuracy": float(np.bincount(targets).max() / targets.size),
        "nsp_accuracy": float(nsp_correct / len(labels)),
        "nsp_majority_accuracy": float(max(labels.mean(), 1 - labels.mean())),
        "mlm_loss": float(mlm_loss / targets.size),
        "nsp_loss": float(nsp_loss / len(labels)),
        "masked_tokens": int(targets.size),
        "pairs": int(len(labels)),
    }


def _log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
