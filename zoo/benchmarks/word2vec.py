"""word2vec against gensim: same corpus, same hyperparameters, same run.

    python -m zoo.benchmark --suite=word2vec --output_dir=benchmarks/word2vec

Both train on the same token lists (the training documents of a
`load_text_corpus` corpus, `word_tokenize`d) with the same dimension,
window, negatives, epochs, min_count, sample and learning rate (linear
decay from alpha to 1e-4). gensim runs with `workers=2` (the machine's two
cores); keras_ssl's `fit` runs `STEPS_PER_EXECUTION` train steps per call
(its XLA train step is `Word2Vec`'s default). Wall time counts everything from the token lists to trained vectors
for both: vocabulary, example generation and training (not imports, nor
the process's one-time start-up: each first trains once, untimed, on a
fiftieth of the corpus). Each trains `REPEATS` times, in turn. Both
sets of vectors are scored by the same functions
(`keras_ssl.evaluation.word_embeddings`, which match gensim's own
evaluation): analogy accuracy on questions-words.txt (3CosAdd, coverage
reported) and Spearman correlation on wordsim353.tsv.
"""

import json
import os
import platform
import time

import numpy as np

from keras_ssl.methods.language.word2vec import UPDATE_SIZE, updates_per_batch  # noqa: F401  (UPDATE_SIZE re-exported)

HYPERPARAMETERS = {
    "vector_size": 100,
    "window": 5,
    "negative": 5,
    "epochs": 5,
    "min_count": 5,
    "sample": 1e-3,
    "min_alpha": 1e-4,
}
ALPHA = {"skip_gram": 0.025, "cbow": 0.05}  # word2vec.c's defaults.
# Examples per train step: 16 SGD updates (`Word2Vec`'s `updates_per_batch`)
# of `UPDATE_SIZE` = 1024 examples, which keep gensim's quality and run
# fastest on CPU (measured, 2 cores, per example: skip-gram 0.63 / 0.49 /
# 0.38 / 0.38 us at updates of 256 / 512 / 1024 / 2048, CBOW 0.91 / 0.77 /
# 0.63 / 0.68 us); 16 per step halve the per-step work (sampling, padding,
# Keras's loop) against 8, and the update program compiles once, whatever
# the count. `--batch_size` changes the number of updates per step, not
# their size.
BATCH_SIZE = {"skip_gram": 16384, "cbow": 16384}
GENSIM_WORKERS = 2
# Train steps per `fit` execution (Keras's `steps_per_execution`): one
# call into the graph runs this many steps, saving Keras's per-step Python
# work.
STEPS_PER_EXECUTION = 16
# gensim and keras_ssl train in turn this many times; times are medians and
# the time ratio is the median of the paired ratios (the 2-core machine's
# speed drifts by tens of percent between runs).
REPEATS = 3


def train_gensim(sentences, architecture, hyperparameters, seed=0, workers=GENSIM_WORKERS):
    """Returns `(words, vectors, seconds)` of gensim's Word2Vec."""
    from gensim.models import Word2Vec as GensimWord2Vec

    h = hyperparameters
    start = time.perf_counter()
    model = GensimWord2Vec(
        sentences,
        vector_size=h["vector_size"],
        window=h["window"],
        negative=h["negative"],
        epochs=h["epochs"],
        min_count=h["min_count"],
        sample=h["sample"],
        alpha=h.get("alpha", ALPHA[architecture]),
        min_alpha=h["min_alpha"],
        sg=int(architecture == "skip_gram"),
        hs=0,
        workers=workers,
        seed=seed,
    )
    seconds = time.perf_counter() - start
    return list(model.wv.index_to_key), np.asarray(model.wv.vectors), seconds


def train_keras_ssl(sentences, architecture, hyperparameters, seed=0, batch_size=None, shuffle=True):
    """Returns `(words, vectors, seconds)` of keras_ssl's Word2Vec."""
    import keras

    from keras_ssl.data import WordVocabulary, word2vec_dataset
    from keras_ssl.methods import Word2Vec

    h = hyperparameters
    batch_size = batch_size or BATCH_SIZE[architecture]
    alpha = h.get("alpha", ALPHA[architecture])
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    vocabulary = WordVocabulary.build(sentences, min_count=h["min_count"])
    ids, sentence_ids = vocabulary.encode(sentences)
    # Every later epoch is drawn while `fit` compiles (on the core it leaves
    # idle), none beyond the last.
    data = word2vec_dataset(
        ids,
        sentence_ids,
        vocabulary.counts,
        architecture,
        window=h["window"],
        sample=h["sample"],
        batch_size=batch_size,
        seed=seed,
        shuffle=shuffle,
        epochs=h["epochs"],
        epochs_ahead=h["epochs"] - 1,
    )
    model = Word2Vec(
        vocabulary.words,
        vocabulary.counts,
        architecture=architecture,
        dimension=h["vector_size"],
        negatives=h["negative"],
        updates_per_batch=updates_per_batch(batch_size),
        seed=seed,
    )
    schedule = keras.optimizers.schedules.PolynomialDecay(alpha, len(data) * h["epochs"], h["min_alpha"])
    model.compile(optimizer=keras.optimizers.SGD(schedule), steps_per_execution=STEPS_PER_EXECUTION)
    model.fit(data, epochs=h["epochs"], verbose=0)
    seconds = time.perf_counter() - start
    return vocabulary.words, model.vectors, seconds


def score(words, vectors):
    from keras_ssl.evaluation.word_embeddings import analogy_accuracy, word_similarity_spearman

    analogies = analogy_accuracy(vectors, words)
    similarity = word_similarity_spearman(vectors, words)
    return {
        "analogy_accuracy": analogies["accuracy"],
        "analogy_coverage": analogies["coverage"],
        "wordsim353_spearman": similarity["spearman"],
        "wordsim353_coverage": similarity["coverage"],
        "vocabulary": len(words),
    }


def run(
    output_dir,
    quick=False,
    corpus="all",
    architectures=("skip_gram", "cbow"),
    seed=0,
    epochs=None,
    batch_size=None,
    repeats=None,
):
    """Trains gensim and keras_ssl word2vec per architecture, in turn
    `repeats` times; writes `results.json` and `results.md` into
    `output_dir`; returns the results."""
    from keras_ssl.data import load_text_corpus

    os.makedirs(output_dir, exist_ok=True)
    hyperparameters = dict(HYPERPARAMETERS)
    text = load_text_corpus(corpus)
    sentences = text.words("train")
    if quick:
        sentences = sentences[::10]  # A tenth of the sentences, from every part of the corpus.
        hyperparameters["epochs"] = 1
    if epochs:
        hyperparameters["epochs"] = int(epochs)
    repeats = int(repeats or (1 if quick else REPEATS))
    num_words = sum(len(s) for s in sentences)
    rows = []
    for architecture in architectures:
        # One untimed warm-up run of each on a fiftieth of the sentences, 1
        # epoch: the process's one-time start-up (TensorFlow's XLA compiler
        # and tf.function machinery, gensim's first thread pool) is not part
        # of either's training time.
        for train in (train_gensim, train_keras_ssl):
            train(sentences[::50], architecture, {**hyperparameters, "epochs": 1}, seed=seed)
        runs = {"gensim": [], "keras_ssl": []}
        for repeat in range(repeats):
            for name, train in (("gensim", train_gensim), ("keras_ssl", train_keras_ssl)):
                kwargs = {"batch_size": batch_size} if name == "keras_ssl" and batch_size else {}
                cpu_start = time.process_time()
                words, vectors, seconds = train(sentences, architecture, hyperparameters, seed=seed, **kwargs)
                cpu_seconds = time.process_time() - cpu_start  # All threads of the process (gensim's workers too).
                runs[name].append({"seconds": seconds, "cpu_seconds": cpu_seconds, **score(words, vectors)})
                print(
                    json.dumps(
                        {"architecture": architecture, "implementation": name, "repeat": repeat, **runs[name][-1]}
                    ),
                    flush=True,
                )
        ratios = [ours["seconds"] / theirs["seconds"] for ours, theirs in zip(runs["keras_ssl"], runs["gensim"])]
        for name, measured in runs.items():
            # Medians over the repeats (gensim's vectors differ between runs:
            # its worker threads race; keras_ssl's are the same every run).
            row = {key: float(np.median([m[key] for m in measured])) for key in measured[0]}
            row.update(
                implementation=name,
                architecture=architecture,
                repeats=repeats,
                seconds_range=[min(m["seconds"] for m in measured), max(m["seconds"] for m in measured)],
                words_per_second=num_words * hyperparameters["epochs"] / row["seconds"],
            )
            if name == "gensim":
                row["workers"] = GENSIM_WORKERS
            else:
                row["batch_size"] = batch_size or BATCH_SIZE[architecture]
                row["updates_per_batch"] = updates_per_batch(row["batch_size"])
                row["steps_per_execution"] = STEPS_PER_EXECUTION
                row["time_ratio_vs_gensim"] = float(np.median(ratios))
                row["time_ratio_range"] = [min(ratios), max(ratios)]
                row["cpu_ratio_vs_gensim"] = row["cpu_seconds"] / rows[-1]["cpu_seconds"]
            rows.append(row)
    results = {
        "suite": "word2vec",
        "corpus": corpus,
        "train_sentences": len(sentences),
        "train_words": num_words,
        "hyperparameters": {**hyperparameters, "alpha": {a: ALPHA[a] for a in architectures}},
        "gensim_workers": GENSIM_WORKERS,
        "repeats": repeats,
        "quick": bool(quick),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "rows": rows,
    }
    with open(os.path.join(output_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(output_dir, "results.md"), "w") as f:
        f.write(markdown(results))
    return results


def markdown(results):
    h = results["hyperparameters"]
    lines = [
        f"word2vec on `{results['corpus']}` ({results['train_words']} training words, "
        f"{results['train_sentences']} sentences): dimension {h['vector_size']}, window {h['window']}, "
        f"{h['negative']} negatives, {h['epochs']} epochs, min_count {h['min_count']}, sample {h['sample']}, "
        f"alpha {h['alpha']} -> {h['min_alpha']}; gensim with workers={results['gensim_workers']}; "
        f"{results['machine']}. Each implementation trained {results.get('repeats', 1)} times, in turn with the "
        "other: medians, time ratio = median of the paired ratios (range in brackets).",
        "",
        "| architecture | implementation | analogy accuracy | analogy coverage | wordsim353 Spearman | "
        "wall time (s) | words/s | time / gensim | CPU time (s) | CPU / gensim |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        ratio = "1"
        if "time_ratio_vs_gensim" in r:
            low, high = r.get("time_ratio_range", [r["time_ratio_vs_gensim"]] * 2)
            ratio = f"{r['time_ratio_vs_gensim']:.2f} ({low:.2f}-{high:.2f})"
        cpu_ratio = f"{r['cpu_ratio_vs_gensim']:.2f}" if "cpu_ratio_vs_gensim" in r else "1"
        lines.append(
            f"| {r['architecture']} | {r['implementation']} | {r['analogy_accuracy']:.4f} | "
            f"{r['analogy_coverage']:.3f} | {r['wordsim353_spearman']:.4f} | {r['seconds']:.1f} | "
            f"{r['words_per_second']:.0f} | {ratio} | {r['cpu_seconds']:.1f} | {cpu_ratio} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output_dir", default="benchmarks/word2vec")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--corpus", default="all")
    parser.add_argument("--architectures", default="skip_gram,cbow")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch_size", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    run(
        args.output_dir,
        quick=args.quick,
        corpus=args.corpus,
        architectures=args.architectures.split(","),
        epochs=args.epochs,
        batch_size=args.batch_size,
        repeats=args.repeats,
    )
