"""Character LSTM runs: the characters, `CharLSTMLanguageModel`, fixed-length
sequences, held-out bits per character and samples (config:
`zoo.configs.char_lstm`)."""

import json
import math
import os

# Held-out text is scored in windows of this many characters, each from
# zero LSTM states (as the model trains).
EVALUATION_SEQUENCE_LENGTH = 100


SAMPLE_PROMPTS = ("The ", "def ", "If the ")


def build(config, corpus, model_dir):
    """`(model, data, fit_kwargs)`: the characters of `corpus`'s training
    documents (written to `model_dir/vocabulary.json`), a compiled
    `CharLSTMLanguageModel`, and shuffled batches of fixed-length
    sequences, with the held-out sequences as validation data."""
    import keras_ssl
    from keras_ssl.data import char_sequences, char_vocabulary, documents_text, language_model_batches
    from zoo.recipes.base import build_optimizer

    text = documents_text(corpus.train_documents)
    vocabulary = char_vocabulary(text)
    os.makedirs(model_dir, exist_ok=True)
    with open(os.path.join(model_dir, "vocabulary.json"), "w") as f:
        json.dump(vocabulary, f, ensure_ascii=False)
    spec = dict(config["model"])
    cls = getattr(keras_ssl.methods, spec.pop("class"))
    model = cls(vocabulary, seed=config["seed"], **spec)
    inputs, targets = char_sequences(text, vocabulary, config["sequence_length"])
    steps = config.get("steps_per_epoch")
    full_steps = -(-len(inputs) // config["batch_size"])
    model.compile(optimizer=build_optimizer(config, steps or full_steps))
    data = language_model_batches(inputs, targets, config["batch_size"], seed=config["seed"], repeat=bool(steps))
    held_out = char_sequences(documents_text(corpus.test_documents), vocabulary, config["sequence_length"])
    fit_kwargs = {"validation_data": language_model_batches(*held_out, 256, shuffle=False)}
    if steps:
        fit_kwargs["steps_per_epoch"] = steps
    return model, data, fit_kwargs


def evaluate(model, corpus, model_dir):
    """Held-out perplexity and bits per character of `model` and of the
    add-one unigram model of the training characters; writes samples
    (greedy and at temperatures 0.5, 0.8 and 1) to `model_dir/samples.txt`."""
    from keras_ssl.data import char_ids, char_sequences, documents_text
    from keras_ssl.evaluation import generate_samples, negative_log_likelihood, unigram_perplexity

    held_out = char_sequences(documents_text(corpus.test_documents), model.vocabulary, EVALUATION_SEQUENCE_LENGTH)
    total, count = negative_log_likelihood(model, held_out)
    unigram = unigram_perplexity(
        char_ids(documents_text(corpus.train_documents), model.vocabulary), held_out[1], model.vocabulary
    )
    results = {
        "perplexity": math.exp(total / count),
        "bits_per_char": total / count / math.log(2.0),
        "unigram_perplexity": unigram,
        "unigram_bits_per_char": math.log2(unigram),
    }
    lines = []
    for temperature in (0.0, 0.5, 0.8, 1.0):
        lines.append(f"# temperature {temperature}" + (" (greedy)" if temperature == 0 else ""))
        for sample in generate_samples(model, SAMPLE_PROMPTS, length=300, temperature=temperature, seed=0):
            lines += [sample, ""]
    os.makedirs(model_dir, exist_ok=True)
    with open(os.path.join(model_dir, "samples.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return results
