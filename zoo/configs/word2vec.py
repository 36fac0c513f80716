"""word2vec (Mikolov et al. 2013): skip-gram or CBOW with negative sampling.

    python -m zoo.train --method=word2vec --model_dir=runs/word2vec
    python -m zoo.train --method=word2vec --dataset=wordnet --model_dir=runs/word2vec_wordnet
    python -m zoo.train --method=word2vec --model_dir=runs/word2vec_quick --quick

CBOW: set `"architecture": "cbow"` and learning rate 0.05 in the config.
Hyperparameters are gensim's defaults (dimension 100, window 5, 5 noise
words, min_count 5, sample 1e-3, 5 epochs, learning rate 0.025 decayed
linearly to 1e-4). Writes `vocabulary.tsv`, `words.png` (PCA of chosen
words), `neighbours.txt` (nearest neighbours of frequent words) and
`evaluation.json` (analogy accuracy and coverage, wordsim353 Spearman and
coverage, held-out loss) into the run directory. Export the vectors for
TF Serving with `python -m export.word_vectors --model_dir=RUN --export_base=DIR`.
"""


def get_config(quick=False):
    config = {
        "family": "language",
        "model": {
            "class": "Word2Vec",
            "architecture": "skip_gram",
            "dimension": 100,
            "negatives": 5,
            "noise_exponent": 0.75,
        },
        # word2vec's SGD: linear decay to end_learning_rate over the run.
        "optimizer": {"class": "SGD", "learning_rate": 0.025, "end_learning_rate": 1e-4},
        "window": 5,
        "min_count": 5,
        "sample": 1e-3,
        "epochs": 5,
        "batch_size": 16384,
        # Train steps per call into the graph: saves Keras's per-step
        # Python work, a large share of a word2vec step.
        "steps_per_execution": 16,
        "seed": 0,
        "corpus": "all",
    }
    if quick:
        # Fewer, smaller vectors; smaller batches learn more per epoch.
        config["model"]["dimension"] = 50
        config["epochs"] = 2
        config["batch_size"] = 1024
        config["optimizer"]["learning_rate"] = 0.05
        config["corpus"] = "wordnet"
    return config
