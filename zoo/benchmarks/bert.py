"""BERT pretraining: speed against keras-hub's BertMaskedLM, held-out
accuracy, fine-tuning against random initialisation.

    python -m zoo.benchmark --suite=bert --output_dir=benchmarks/bert

On WordNet's glosses and examples (`load_text_corpus("wordnet")`):

1. Speed: tokens/s of `BertPretraining.fit` (masked LM + NSP) over tokens/s
   of `keras_hub.models.BertMaskedLM(preprocessor=None).fit` (masked LM
   only, keras-hub's compiled loss and weighted accuracy), on the same
   backbone config, optimiser and preprocessed batches (tokenised and
   masked once, beforehand, so only the models are timed), in alternating
   rounds of the same process; the ratio is the median of the rounds'
   paired ratios (goal >= 0.9). Tokens are the padded positions processed
   (batch x sequence length), the same for both.
2. Quality after a fixed budget of steps: held-out masked-LM and NSP
   accuracy on pairs of the test documents, beside always predicting the
   most frequent masked token and the majority label, and the same
   backbone at random initialisation.
3. Fine-tuning on WordNet gloss -> lexname (45 classes; the test synsets
   are the corpus' test documents, never pretrained on): the pretrained
   backbone against the same architecture at random initialisation, same
   settings and seed.
"""

import json
import os
import time

import numpy as np

SETTINGS = {
    "corpus": "wordnet",
    "backbone": {"num_layers": 2, "num_heads": 2, "hidden_dim": 128, "intermediate_dim": 512, "dropout": 0.1},
    "sequence_length": 48,
    "batch_size": 64,
    "vocabulary_size": 4000,
    "vocabulary_sentences": 10000,
    "learning_rate": 1e-3,
    "warmup_fraction": 0.05,
    "steps": 1500,
    "evaluation_pairs": 4096,
    "speed_steps": 30,
    "speed_rounds": 7,
    "fine_tune": {"train_size": 5000, "test_size": 2000, "epochs": 3, "batch_size": 32, "learning_rate": 3e-4},
}
QUICK = {
    "backbone": {"num_layers": 1, "num_heads": 2, "hidden_dim": 32, "intermediate_dim": 64, "dropout": 0.1},
    "sequence_length": 32,
    "batch_size": 16,
    "vocabulary_size": 500,
    "vocabulary_sentences": 1000,
    "steps": 20,
    "evaluation_pairs": 256,
    "speed_steps": 4,
    "speed_rounds": 1,
    "fine_tune": {"train_size": 256, "test_size": 128, "epochs": 1, "batch_size": 32, "learning_rate": 3e-4},
}


def speed_ratio(make_ours, make_keras_hub, arrays, batch_size, steps, rounds):
    """Tokens/s of our fit and of keras-hub's BertMaskedLM fit on the same
    batches, measured in alternation: `rounds` measured rounds after one
    warm-up round (tracing); each round fits `steps` steps of each model.
    Returns both throughputs (from the median step time over the measured
    rounds) and the ratio ours / keras-hub (median of the paired ratios)."""
    import tensorflow as tf

    from zoo.benchmarks.speed import alternating_step_seconds, fit_steps

    n = batch_size * steps
    sequence_length = arrays["token_ids"].shape[1]
    head = {k: v[:n] for k, v in arrays.items()}
    ours_data = tf.data.Dataset.from_tensor_slices(head).batch(batch_size).cache()
    features = {k: head[k] for k in ("token_ids", "segment_ids", "padding_mask", "mask_positions")}
    keras_hub_data = (
        tf.data.Dataset.from_tensor_slices((features, head["mask_ids"], head["mask_weights"])).batch(batch_size).cache()
    )
    fits = {"ours": fit_steps(make_ours(), ours_data), "keras_hub": fit_steps(make_keras_hub(), keras_hub_data)}
    measured = alternating_step_seconds(fits, rounds)
    tokens = batch_size * sequence_length
    paired = [k / o for o, k in zip(measured["ours"], measured["keras_hub"])]
    return {
        "ours_tokens_per_s": tokens / float(np.median(measured["ours"])),
        "keras_hub_tokens_per_s": tokens / float(np.median(measured["keras_hub"])),
        "ratio": float(np.median(paired)),
        "round_ratios": paired,
        "batch_size": batch_size,
        "sequence_length": int(sequence_length),
        "steps_per_round": steps,
        "rounds": rounds,
    }


def run(output_dir, quick=False, seed=0):
    """Runs the suite; writes `results.json` and `results.md` into
    `output_dir` and returns the results."""
    import keras
    import keras_hub

    from keras_ssl.data import (
        bert_pretraining_batches,
        bert_pretraining_preprocessor,
        bert_tokenizer,
        learn_word_piece_vocabulary,
        load_text_corpus,
        materialize_batches,
        next_sentence_pairs,
        save_vocabulary,
        wordnet_gloss_classification,
    )
    from keras_ssl.evaluation import fine_tune_text_classifier, pretraining_accuracies
    from keras_ssl.methods import BertPretraining
    from keras_ssl.optimizers import bert_optimizer

    settings = {**SETTINGS, **(QUICK if quick else {})}
    os.makedirs(output_dir, exist_ok=True)
    start_all = time.perf_counter()
    corpus = load_text_corpus(settings["corpus"], seed=seed)
    if quick:  # A slice of the documents, same split.
        corpus.train_documents, corpus.test_documents = corpus.train_documents[:5000], corpus.test_documents[:2000]
    keras.utils.set_random_seed(seed)

    start = time.perf_counter()
    vocabulary = learn_word_piece_vocabulary(
        corpus.sentences("train"),
        settings["vocabulary_size"],
        max_sentences=settings["vocabulary_sentences"],
        seed=seed,
    )
    vocabulary_seconds = time.perf_counter() - start
    save_vocabulary(vocabulary, os.path.join(output_dir, "vocab.txt"))
    tokenizer = bert_tokenizer(vocabulary)
    preprocessor = bert_pretraining_preprocessor(tokenizer, settings["sequence_length"])
    batch_size, steps = settings["batch_size"], settings["steps"]
    pairs_per_pass = len(next_sentence_pairs(corpus, "train", seed=seed))
    passes = max(1, int(np.ceil(batch_size * steps / pairs_per_pass)))
    train_pairs = next_sentence_pairs(corpus, "train", seed=seed, passes=passes)
    test_pairs = next_sentence_pairs(corpus, "test", seed=seed + 1, max_pairs=settings["evaluation_pairs"])
    held_out = materialize_batches(
        bert_pretraining_batches(test_pairs, preprocessor, 256, shuffle=False, drop_remainder=False)
    )

    def new_backbone():
        keras.utils.set_random_seed(seed)
        return keras_hub.models.BertBackbone(
            vocabulary_size=len(vocabulary), max_sequence_length=settings["sequence_length"], **settings["backbone"]
        )

    def optimizer(total):
        return bert_optimizer(
            settings["learning_rate"], warmup_steps=int(settings["warmup_fraction"] * total), decay_steps=total
        )

    def make_ours():
        model = BertPretraining(new_backbone())
        model.compile(optimizer=optimizer(10000))
        return model

    def make_keras_hub():
        model = keras_hub.models.BertMaskedLM(new_backbone(), preprocessor=None)
        model.compile(optimizer=optimizer(10000))  # keras-hub's default loss and weighted accuracy.
        return model

    speed_batches = materialize_batches(
        bert_pretraining_batches(
            train_pairs.take(slice(0, batch_size * settings["speed_steps"])), preprocessor, batch_size, shuffle=False
        )
    )
    speed = speed_ratio(
        make_ours, make_keras_hub, speed_batches, batch_size, settings["speed_steps"], settings["speed_rounds"]
    )
    print(
        f"BertPretraining {speed['ours_tokens_per_s']:.0f} tokens/s, keras-hub BertMaskedLM "
        f"{speed['keras_hub_tokens_per_s']:.0f} tokens/s, ratio {speed['ratio']:.3f}",
        flush=True,
    )

    model = BertPretraining(new_backbone())
    random_init = pretraining_accuracies(model, held_out)
    model.compile(optimizer=optimizer(steps))
    data = bert_pretraining_batches(train_pairs, preprocessor, batch_size, seed=seed, repeat=True)
    start = time.perf_counter()
    history = model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    pretrain_seconds = time.perf_counter() - start
    pretrained = pretraining_accuracies(model, held_out)
    print(
        f"held-out MLM accuracy {pretrained['mlm_accuracy']:.4f} (most frequent token "
        f"{pretrained['most_frequent_token_accuracy']:.4f}), NSP accuracy {pretrained['nsp_accuracy']:.4f} "
        f"after {steps} steps ({pretrain_seconds:.0f} s)",
        flush=True,
    )

    fine_tune = settings["fine_tune"]
    lexnames = wordnet_gloss_classification(
        seed=seed, train_size=fine_tune["train_size"], test_size=fine_tune["test_size"]
    )
    majority = float(np.mean(lexnames.test_labels == np.bincount(lexnames.train_labels).argmax()))
    fine_tuned = {}
    for name, from_random in (("pretrained", False), ("random_init", True)):
        start = time.perf_counter()
        fine_tuned[name] = fine_tune_text_classifier(
            model.backbone,
            tokenizer,
            lexnames.train_texts,
            lexnames.train_labels,
            lexnames.test_texts,
            lexnames.test_labels,
            num_classes=lexnames.num_classes,
            sequence_length=settings["sequence_length"],
            epochs=fine_tune["epochs"],
            batch_size=fine_tune["batch_size"],
            learning_rate=fine_tune["learning_rate"],
            random_init=from_random,
            seed=seed,
        )
        fine_tuned[f"{name}_seconds"] = time.perf_counter() - start
        print(f"WordNet lexname accuracy, fine-tuned from {name}: {fine_tuned[name]:.4f}", flush=True)

    results = {
        "suite": "bert",
        "quick": quick,
        "seed": seed,
        "settings": settings,
        "vocabulary": {"size": len(vocabulary), "seconds": vocabulary_seconds},
        "train_pairs": len(train_pairs),
        "speed": speed,
        "pretraining": {
            "steps": steps,
            "seconds": pretrain_seconds,
            "final_train_metrics": {k: float(v[-1]) for k, v in history.history.items()},
            "held_out": pretrained,
            "held_out_random_init": random_init,
        },
        "fine_tune": {
            **fine_tuned,
            "majority_class_accuracy": majority,
            "train_size": len(lexnames.train_texts),
            "test_size": len(lexnames.test_texts),
            "num_classes": lexnames.num_classes,
        },
        "total_seconds": time.perf_counter() - start_all,
    }
    with open(os.path.join(output_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2, default=float)
    with open(os.path.join(output_dir, "results.md"), "w") as f:
        f.write(markdown(results))
    return results


def markdown(results):
    s, speed, pre = results["settings"], results["speed"], results["pretraining"]
    held, rnd, ft = pre["held_out"], pre["held_out_random_init"], results["fine_tune"]
    b = s["backbone"]
    lines = [
        f"BERT pretraining on `{s['corpus']}` (seed {results['seed']}): BertBackbone {b['num_layers']} layers, "
        f"width {b['hidden_dim']}, {b['num_heads']} heads, sequence length {s['sequence_length']}, batch "
        f"{s['batch_size']}, WordPiece vocabulary {results['vocabulary']['size']}; AdamW {s['learning_rate']:g} "
        f"with warm-up; {pre['steps']} steps ({pre['seconds']:.0f} s)"
        + (f"; {results['machine']}" if results.get("machine") else "")
        + ".",
        "",
        "| speed | tokens/s | ratio to keras-hub BertMaskedLM |",
        "|---|---|---|",
        f"| BertPretraining (MLM + NSP) | {speed['ours_tokens_per_s']:.0f} | {speed['ratio']:.3f} |",
        f"| keras-hub BertMaskedLM (MLM) | {speed['keras_hub_tokens_per_s']:.0f} | 1 |",
        "",
        f"Held-out ({held['pairs']} pairs, {held['masked_tokens']} masked tokens of test documents):",
        "",
        "| model | MLM accuracy | NSP accuracy |",
        "|---|---|---|",
        f"| BertPretraining, {pre['steps']} steps | {held['mlm_accuracy']:.4f} | {held['nsp_accuracy']:.4f} |",
        f"| same backbone, random init | {rnd['mlm_accuracy']:.4f} | {rnd['nsp_accuracy']:.4f} |",
        f"| most frequent token / majority label | {held['most_frequent_token_accuracy']:.4f} | "
        f"{held['nsp_majority_accuracy']:.4f} |",
        "",
        f"WordNet gloss -> lexname ({ft['num_classes']} classes, {ft['train_size']} train / {ft['test_size']} "
        f"test glosses, {s['fine_tune']['epochs']} epochs at {s['fine_tune']['learning_rate']:g}):",
        "",
        "| fine-tuned from | test accuracy |",
        "|---|---|",
        f"| pretrained | {ft['pretrained']:.4f} |",
        f"| random init | {ft['random_init']:.4f} |",
        f"| (majority class) | {ft['majority_class_accuracy']:.4f} |",
        "",
    ]
    return "\n".join(lines)
