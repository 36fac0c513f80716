"""word2vec runs: the vocabulary, `Word2Vec`, its batches, and the analogy and
similarity evaluation (config: `zoo.configs.word2vec`)."""

import json
import os

from zoo.configs.word2vec import get_config

# Words for the map: a few groups the vectors should keep apart.
PLOT_WORDS = (
    "dog",
    "cat",
    "horse",
    "bird",
    "fish",
    "cow",
    "red",
    "blue",
    "green",
    "yellow",
    "black",
    "white",
    "one",
    "two",
    "three",
    "four",
    "five",
    "ten",
    "france",
    "germany",
    "italy",
    "spain",
    "china",
    "japan",
    "run",
    "walk",
    "swim",
    "fly",
    "jump",
    "move",
    "water",
    "wine",
    "milk",
    "bread",
    "meat",
    "fruit",
    "function",
    "string",
    "list",
    "class",
    "module",
    "object",
)


PROBE_WORDS = ("water", "king", "red", "music", "run", "france", "function", "plant", "money", "war")


def _dataset(config, corpus_sentences, vocabulary, seed, shuffle=True, epochs=None):
    from keras_ssl.data import word2vec_dataset

    # `epochs`: how often the dataset is iterated (no epoch beyond it is
    # drawn ahead; a resumed run reads fewer, which costs only those draws).
    ids, sentence_ids = vocabulary.encode(corpus_sentences)
    return word2vec_dataset(
        ids,
        sentence_ids,
        vocabulary.counts,
        config["model"].get("architecture", "skip_gram"),
        window=config["window"],
        sample=config["sample"],
        batch_size=config["batch_size"],
        seed=seed,
        shuffle=shuffle,
        epochs=epochs,
    )


def build(config, corpus, model_dir):
    """`(model, data, fit_kwargs)`: the vocabulary of `corpus`'s training
    sentences (written to `model_dir/vocabulary.tsv`), a compiled
    `Word2Vec`, a dataset drawing a new epoch of examples per Keras epoch,
    and the held-out documents' examples as validation data."""
    import keras

    import keras_ssl
    from keras_ssl.data import WordVocabulary
    from keras_ssl.methods.language.word2vec import updates_per_batch

    vocabulary = WordVocabulary.build(corpus.words("train"), min_count=config["min_count"])
    os.makedirs(model_dir, exist_ok=True)
    with open(os.path.join(model_dir, "vocabulary.tsv"), "w") as f:
        f.writelines(f"{w}\t{c}\n" for w, c in zip(vocabulary.words, vocabulary.counts.tolist()))
    spec = dict(config["model"])
    cls = getattr(keras_ssl.methods, spec.pop("class"))
    # Each batch is SGD updates of about 1024 examples (16 for the default
    # 16384; one XLA program, compiled once), whatever --batch_size.
    spec.setdefault("updates_per_batch", updates_per_batch(config["batch_size"]))
    model = cls(vocabulary.words, vocabulary.counts.tolist(), seed=config["seed"], **spec)
    data = _dataset(config, corpus.words("train"), vocabulary, config["seed"], epochs=config["epochs"])
    optimizer = dict(config["optimizer"])
    optimizer_cls = getattr(keras.optimizers, optimizer.pop("class"))
    learning_rate = keras.optimizers.schedules.PolynomialDecay(
        optimizer.pop("learning_rate"),
        decay_steps=config["epochs"] * len(data),
        end_learning_rate=optimizer.pop("end_learning_rate", 1e-4),
    )
    model.compile(
        optimizer=optimizer_cls(learning_rate=learning_rate, **optimizer),
        steps_per_execution=config.get("steps_per_execution", 1),
    )
    fit_kwargs = {}
    test_sentences = corpus.words("test")
    if test_sentences:
        try:
            fit_kwargs["validation_data"] = _dataset(
                config, test_sentences, vocabulary, config["seed"] + 1, shuffle=False, epochs=config["epochs"]
            )
        except ValueError:  # No held-out example (a tiny test split).
            pass
    return model, data, fit_kwargs


def evaluate(model, corpus, model_dir):
    """Analogy accuracy (3CosAdd on questions-words.txt) and coverage,
    wordsim353 Spearman and coverage, the held-out negative-sampling loss;
    writes `words.png` and `neighbours.txt` into `model_dir`."""
    from keras_ssl.data import WordVocabulary
    from keras_ssl.evaluation import analogy_accuracy, plot_words, word_similarity_spearman

    vectors, vocabulary = model.vectors, model.vocabulary
    analogies = analogy_accuracy(vectors, vocabulary)
    similarity = word_similarity_spearman(vectors, vocabulary)
    results = {
        "analogy_accuracy": analogies["accuracy"],
        "analogy_coverage": analogies["coverage"],
        "wordsim353_spearman": similarity["spearman"],
        "wordsim353_coverage": similarity["coverage"],
    }
    test_sentences = corpus.words("test")
    if test_sentences and model.counts is not None:
        # The run's window, sample and batch size (config.json), else the defaults.
        config = get_config()
        config_path = os.path.join(model_dir, "config.json")
        if os.path.exists(config_path):
            with open(config_path) as f:
                config.update(json.load(f))
        config["model"] = {"architecture": model.architecture}
        try:
            data = _dataset(
                config, test_sentences, WordVocabulary(vocabulary, model.counts), 1, shuffle=False, epochs=1
            )
            results["held_out_loss"] = float(model.evaluate(data, verbose=0))
        except ValueError:
            pass
    os.makedirs(model_dir, exist_ok=True)
    try:
        plot_words(
            vectors,
            vocabulary,
            PLOT_WORDS,
            os.path.join(model_dir, "words.png"),
            title=f"word2vec ({model.architecture}) on {corpus.name}: PCA of unit vectors",
        )
    except ValueError:  # Fewer than 3 of the words in the vocabulary.
        pass
    # Frequent words (ranks 50-70, past the function words) and probes.
    words = list(vocabulary[50:70]) + [w for w in PROBE_WORDS if w in model.word_index]
    lines = [f"{w}: " + ", ".join(f"{n} ({s:.2f})" for n, s in model.most_similar(w, k=8)) for w in words]
    with open(os.path.join(model_dir, "neighbours.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return results
