"""Neural probabilistic language model (Bengio et al. 2003) on WordNet glosses.

    python -m zoo.train --method=nplm --model_dir=runs/nplm
    python -m zoo.train --method=nplm --dataset=lee --model_dir=runs/nplm_lee
    python -m zoo.train --method=nplm --model_dir=runs/nplm_quick --quick

Writes `vocabulary.json`, `samples.txt` (generated sentences) and
`evaluation.json` (held-out perplexity beside the add-one unigram model's)
into the run directory.
"""


def get_config(quick=False):
    config = {
        "family": "language",
        "model": {
            "class": "NeuralLanguageModel",
            "context_size": 4,  # n = 5, the paper's best order.
            "embedding_dim": 30,
            "hidden_units": 100,
            "direct_connections": False,
            "dropout": 0.0,
        },
        "optimizer": {"class": "AdamW", "learning_rate": 1e-3, "weight_decay": 1e-4},
        "min_count": 3,  # Rarer words are <unk> (the paper: fewer than 3 occurrences in Brown).
        "epochs": 5,
        "batch_size": 256,
        "steps_per_epoch": None,  # None: one pass over the n-gram windows.
        "seed": 0,
        "corpus": "wordnet",
    }
    if quick:
        config["epochs"] = 2
        config["steps_per_epoch"] = 300
        config["optimizer"] = {**config["optimizer"], "learning_rate": 5e-3}
    return config
