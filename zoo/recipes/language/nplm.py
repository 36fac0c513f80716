"""Neural language model runs: the word vocabulary, `NeuralLanguageModel`,
n-gram windows, held-out perplexity and samples (config: `zoo.configs.nplm`)."""

import json
import os

SAMPLE_PROMPTS = ("", "a", "the act of", "a person who", "relating to")


def build(config, corpus, model_dir):
    """`(model, data, fit_kwargs)`: the vocabulary of `corpus`'s training
    sentences (written to `model_dir/vocabulary.json`), a compiled
    `NeuralLanguageModel`, and shuffled batches of its n-gram windows, with
    the held-out windows as validation data."""
    import keras_ssl
    from keras_ssl.data import build_word_vocabulary, language_model_batches, word_ngram_windows
    from zoo.recipes.base import build_optimizer

    train_sentences = corpus.words("train")
    vocabulary = build_word_vocabulary(train_sentences, min_count=config["min_count"])
    os.makedirs(model_dir, exist_ok=True)
    with open(os.path.join(model_dir, "vocabulary.json"), "w") as f:
        json.dump(vocabulary, f)
    spec = dict(config["model"])
    cls = getattr(keras_ssl.methods, spec.pop("class"))
    model = cls(vocabulary, seed=config["seed"], **spec)
    contexts, targets = word_ngram_windows(train_sentences, vocabulary, model.context_size)
    steps = config.get("steps_per_epoch")
    full_steps = -(-len(targets) // config["batch_size"])
    model.compile(optimizer=build_optimizer(config, steps or full_steps))
    data = language_model_batches(contexts, targets, config["batch_size"], seed=config["seed"], repeat=bool(steps))
    held_out = model.ngram_windows(corpus.words("test"))
    fit_kwargs = {"validation_data": language_model_batches(*held_out, 1024, shuffle=False)}
    if steps:
        fit_kwargs["steps_per_epoch"] = steps
    return model, data, fit_kwargs


def evaluate(model, corpus, model_dir, num_samples=len(SAMPLE_PROMPTS)):
    """Held-out perplexity of `model` and of the add-one unigram model of
    the training words (same vocabulary, same predicted tokens), and the
    share of held-out tokens that are `<unk>`; writes generated sentences
    (greedy and at temperatures 0.7 and 1) to `model_dir/samples.txt`."""
    from keras_ssl.evaluation import generate_samples, perplexity, unigram_perplexity

    _, train_targets = model.ngram_windows(corpus.words("train"))
    contexts, targets = model.ngram_windows(corpus.words("test"))
    results = {
        "perplexity": perplexity(model, (contexts, targets), batch_size=1024),
        "unigram_perplexity": unigram_perplexity(train_targets, targets, model.vocabulary),
        "unknown_rate": float((targets == 0).mean()),
    }
    prompts = list(SAMPLE_PROMPTS[:num_samples])
    lines = []
    for temperature in (0.0, 0.7, 1.0):
        lines.append(f"# temperature {temperature}" + (" (greedy)" if temperature == 0 else ""))
        lines += generate_samples(model, prompts, length=30, temperature=temperature, seed=0)
        lines.append("")
    os.makedirs(model_dir, exist_ok=True)
    with open(os.path.join(model_dir, "samples.txt"), "w") as f:
        f.write("\n".join(lines))
    return results
