"""Character-level LSTM language model (char-rnn) on Python's documentation.

    python -m zoo.train --method=char_lstm --model_dir=runs/char_lstm
    python -m zoo.train --method=char_lstm --dataset=lee --model_dir=runs/char_lstm_lee
    python -m zoo.train --method=char_lstm --model_dir=runs/char_lstm_quick --quick

Hyperparameters are char-rnn's defaults (2 x 128 LSTM cells, sequences of
50, batches of 50, RMSprop 2e-3, gradients clipped element-wise to 5).
Writes `vocabulary.json`, `samples.txt` (text generated at several
temperatures) and `evaluation.json` (held-out perplexity and bits per
character beside the add-one unigram model's) into the run directory.
"""


def get_config(quick=False):
    config = {
        "family": "language",
        "model": {"class": "CharLSTMLanguageModel", "units": 128, "num_layers": 2, "dropout": 0.0},
        "optimizer": {"class": "RMSprop", "learning_rate": 2e-3, "clipvalue": 5.0},
        "sequence_length": 50,
        "epochs": 30,
        "batch_size": 50,
        "steps_per_epoch": None,  # None: one pass over the training text.
        "seed": 0,
        "corpus": "pydoc",
    }
    if quick:  # A smaller model and Adam at a high rate: legible samples in about a minute.
        config["model"] = {**config["model"], "units": 64}
        config["optimizer"] = {"class": "Adam", "learning_rate": 1e-2, "clipvalue": 5.0}
        config["epochs"] = 2
        config["steps_per_epoch"] = 150
    return config
