"""BERT pretraining (Devlin et al. 2019): masked LM + next-sentence
prediction on WordNet's glosses and examples, keras-hub's BertBackbone.

    python -m zoo.train --method=bert --model_dir=runs/bert
    python -m zoo.train --method=bert --dataset=all --model_dir=runs/bert_all
    python -m zoo.train --method=bert --model_dir=runs/bert_quick --quick
    python -m export.text_encoder --model_dir=runs/bert --export_base=serving/bert

Writes `vocab.txt` (the WordPiece vocabulary learned from the training
sentences) and `evaluation.json` (held-out masked-LM and NSP accuracy beside
the most-frequent-token and majority baselines; with `fine_tune` set, WordNet
gloss -> lexname accuracy fine-tuned from the pretrained and from a
random-init backbone) into the run directory.

Scaled down from BERT-base for a 2-core CPU: 4 layers of width 128
(Turc et al.'s "BERT-mini" depth at "BERT-tiny" width), sequences of 64
tokens, a 8000-piece vocabulary, a higher peak learning rate (1e-3; 1e-4 in
the paper, which trains 1M steps) with 5% warm-up.
"""

import os

VOCABULARY_FILE = "vocab.txt"


def get_config(quick=False):
    config = {
        "model": {"class": "BertPretraining", "next_sentence_weight": 1.0},
        "backbone": {"num_layers": 4, "num_heads": 4, "hidden_dim": 128, "intermediate_dim": 512, "dropout": 0.1},
        "vocabulary_size": 8000,
        "vocabulary_sentences": 50000,  # Learn the vocabulary from a sample (the learner is pure Python).
        "sequence_length": 64,
        "mask_selection_rate": 0.15,
        "mask_token_rate": 0.8,
        "random_token_rate": 0.1,
        "optimizer": {"class": "AdamW", "learning_rate": 1e-3, "weight_decay": 0.01, "warmup_fraction": 0.05},
        "epochs": 10,
        "batch_size": 64,
        "steps_per_epoch": None,  # None: one pass over the sentence pairs per epoch.
        "validation_pairs": 1024,
        "evaluation_pairs": 4096,
        "fine_tune": {"train_size": 10000, "test_size": 2000, "epochs": 3, "batch_size": 32, "learning_rate": 3e-4},
        "seed": 0,
        "corpus": "wordnet",
    }
    if quick:
        config["backbone"] = {"num_layers": 2, "num_heads": 2, "hidden_dim": 64, "intermediate_dim": 256,
                              "dropout": 0.1}
        config["vocabulary_size"] = 2000
        config["vocabulary_sentences"] = 5000
        config["optimizer"] = {**config["optimizer"], "learning_rate": 3e-3}
        config["sequence_length"] = 32
        config["epochs"] = 2
        config["batch_size"] = 32
        config["steps_per_epoch"] = 300
        config["validation_pairs"] = 256
        config["evaluation_pairs"] = 1024
        config["fine_tune"] = None
    return config


def _vocabulary(config, corpus, model_dir):
    """The run's vocabulary: read from `model_dir` when it is there (a
    resumed run must keep its token ids), else learned and written."""
    from keras_ssl.data import learn_word_piece_vocabulary, load_vocabulary, save_vocabulary

    path = os.path.join(model_dir, VOCABULARY_FILE)
    if os.path.exists(path):
        return load_vocabulary(path)
    vocabulary = learn_word_piece_vocabulary(corpus.sentences("train"), config["vocabulary_size"],
                                             max_sentences=config.get("vocabulary_sentences"), seed=config["seed"])
    os.makedirs(model_dir, exist_ok=True)
    save_vocabulary(vocabulary, path)
    return vocabulary


def _preprocessor(config, tokenizer):
    from keras_ssl.data import bert_pretraining_preprocessor

    return bert_pretraining_preprocessor(
        tokenizer, config["sequence_length"], mask_selection_rate=config["mask_selection_rate"],
        mask_token_rate=config["mask_token_rate"], random_token_rate=config["random_token_rate"],
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
    validation_pairs = next_sentence_pairs(corpus, "test", seed=config["seed"] + 1,
                                           max_pairs=config.get("validation_pairs"))
    validation = bert_pretraining_batches(validation_pairs, preprocessor, batch_size, shuffle=False,
                                          drop_remainder=False)

    backbone = keras_hub.models.BertBackbone(vocabulary_size=len(vocabulary),
                                             max_sequence_length=config["sequence_length"], **config["backbone"])
    spec = dict(config["model"])
    model = getattr(keras_ssl.methods, spec.pop("class"))(backbone, **spec)
    optimizer = dict(config["optimizer"])
    if optimizer.pop("class") != "AdamW":
        raise ValueError("the BERT config's optimizer must be AdamW (bert_optimizer)")
    total = epochs * steps
    model.compile(optimizer=bert_optimizer(
        optimizer["learning_rate"], optimizer.get("weight_decay", 0.01),
        warmup_steps=int(optimizer.get("warmup_fraction", 0.05) * total), decay_steps=total,
    ))
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
    batches = bert_pretraining_batches(pairs, _preprocessor(config, tokenizer), 128, shuffle=False,
                                       drop_remainder=False)
    results = pretraining_accuracies(model, batches)
    fine_tune = config.get("fine_tune")
    if fine_tune:
        data = wordnet_gloss_classification(seed=config["seed"], train_size=fine_tune["train_size"],
                                            test_size=fine_tune["test_size"])
        settings = {k: fine_tune[k] for k in ("epochs", "batch_size", "learning_rate") if k in fine_tune}
        for name, random_init in (("pretrained", False), ("random_init", True)):
            results[f"lexname_accuracy_{name}"] = fine_tune_text_classifier(
                model.backbone, tokenizer, data.train_texts, data.train_labels, data.test_texts, data.test_labels,
                num_classes=data.num_classes, random_init=random_init, seed=config["seed"], **settings,
            )
    return results
