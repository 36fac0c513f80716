"""BERT runs: the WordPiece vocabulary, `BertPretraining` on a fresh
`BertBackbone`, next-sentence pairs, and the held-out evaluation (config:
`zoo.configs.bert`)."""

import os

from zoo.configs.bert import get_config

VOCABULARY_FILE = "vocab.txt"


def _vocabulary(config, corpus, model_dir):
    """The run's vocabulary: read from `model_dir` when it is there (a
    resumed run must keep its token ids), else learned and written."""
    from keras_ssl.data import learn_word_piece_vocabulary, load_vocabulary, save_vocabulary

    path = os.path.join(model_dir, VOCABULARY_FILE)
    if os.path.exists(path):
        return load_vocabulary(path)
    vocabulary = learn_word_piece_vocabulary(
        corpus.sentences("train"),
        config["vocabulary_size"],
        max_sentences=config.get("vocabulary_sentences"),
        seed=config["seed"],
    )
    os.makedirs(model_dir, exist_ok=True)
    save_vocabulary(vocabulary, path)
    return vocabulary


def _preprocessor(config, tokenizer):
    from keras_ssl.data import bert_pretraining_preprocessor

    return bert_pretraining_preprocessor(
        tokenizer,
        config["sequence_length"],
        mask_selection_rate=config["mask_selection_rate"],
        mask_token_rate=config["mask_token_rate"],
        random_token_rate=config["random_token_rate"],
    )


def build(config, corpus, model_dir):
    """`(model, data, fit_kwargs)`: the WordPiece vocabulary of `corpus`'s
    training sentences (`model_dir/vocab.txt`), a compiled `BertPretraining`
    on a fresh `BertBackbone`, and repeated batches of next-sentence pairs
    (drawn anew for every epoch's worth of steps) with held-out pairs as
    validation data."""
    import keras_hub

    import keras_ssl
    from keras_ssl.data import bert_pretraining_batches, bert_tokenizer, next_sentence_pairs
    from keras_ssl.optimizers import bert_optimizer

    vocabulary = _vocabulary(config, corpus, model_dir)
    tokenizer = bert_tokenizer(vocabulary)
    preprocessor = _preprocessor(config, tokenizer)
    batch_size, epochs = config["batch_size"], config["epochs"]
    # One pass of pairs per epoch, each pass with new coins and new random
    # sentences, shuffled together.
    pairs = next_sentence_pairs(corpus, "train", seed=config["seed"], passes=epochs)
    steps = config.get("steps_per_epoch") or max(1, len(pairs) // (epochs * batch_size))
    data = bert_pretraining_batches(pairs, preprocessor, batch_size, seed=config["seed"], repeat=True)
    validation_pairs = next_sentence_pairs(
        corpus, "test", seed=config["seed"] + 1, max_pairs=config.get("validation_pairs")
    )
    validation = bert_pretraining_batches(
        validation_pairs, preprocessor, batch_size, shuffle=False, drop_remainder=False
    )

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), max_sequence_length=config["sequence_length"], **config["backbone"]
    )
    spec = dict(config["model"])
    model = getattr(keras_ssl.methods, spec.pop("class"))(backbone, **spec)
    optimizer = dict(config["optimizer"])
    if optimizer.pop("class") != "AdamW":
        raise ValueError("the BERT config's optimizer must be AdamW (bert_optimizer)")
    total = epochs * steps
    model.compile(
        optimizer=bert_optimizer(
            optimizer["learning_rate"],
            optimizer.get("weight_decay", 0.01),
            warmup_steps=int(optimizer.get("warmup_fraction", 0.05) * total),
            decay_steps=total,
        )
    )
    return model, data, {"steps_per_epoch": steps, "validation_data": validation}


def evaluate(model, corpus, model_dir):
    """Held-out masked-LM and NSP accuracy on pairs of the test documents,
    beside always predicting the most frequent masked token and the majority
    NSP label; with the config's `fine_tune`, also WordNet gloss -> lexname
    test accuracy fine-tuned from the pretrained backbone and from the same
    architecture at random initialisation."""
    import keras

    from keras_ssl.data import (
        bert_pretraining_batches,
        bert_tokenizer,
        load_vocabulary,
        next_sentence_pairs,
        wordnet_gloss_classification,
    )
    from keras_ssl.evaluation import fine_tune_text_classifier, pretraining_accuracies
    from zoo import runs

    config_path = os.path.join(model_dir, runs.CONFIG_FILE)
    config = {**get_config(), **(runs.read_json(config_path) if os.path.exists(config_path) else {})}
    config["sequence_length"] = int(model.backbone.max_sequence_length)
    tokenizer = bert_tokenizer(load_vocabulary(os.path.join(model_dir, VOCABULARY_FILE)))
    keras.utils.set_random_seed(config["seed"] + 2)  # The held-out masks.
    pairs = next_sentence_pairs(corpus, "test", seed=config["seed"] + 2, max_pairs=config.get("evaluation_pairs"))
    batches = bert_pretraining_batches(
        pairs, _preprocessor(config, tokenizer), 128, shuffle=False, drop_remainder=False
    )
    results = pretraining_accuracies(model, batches)
    fine_tune = config.get("fine_tune")
    if fine_tune:
        data = wordnet_gloss_classification(
            seed=config["seed"], train_size=fine_tune["train_size"], test_size=fine_tune["test_size"]
        )
        settings = {k: fine_tune[k] for k in ("epochs", "batch_size", "learning_rate") if k in fine_tune}
        for name, random_init in (("pretrained", False), ("random_init", True)):
            results[f"lexname_accuracy_{name}"] = fine_tune_text_classifier(
                model.backbone,
                tokenizer,
                data.train_texts,
                data.train_labels,
                data.test_texts,
                data.test_labels,
                num_classes=data.num_classes,
                random_init=random_init,
                seed=config["seed"],
                **settings,
            )
    return results
