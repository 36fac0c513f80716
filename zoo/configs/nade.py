"""NADE (Larochelle & Murray 2011): one shared hidden layer computes every
pixel's conditional in one pass, on binarised Fashion-MNIST (500 hidden units,
the paper's).

    python -m zoo.train --method=nade --model_dir=runs/nade
    python -m zoo.train --method=nade --dataset=digits --model_dir=runs/nade_digits
    python -m zoo.train --method=nade --model_dir=runs/nade_quick --quick

Pixels are binarised at half the intensity range (`binarize_threshold`;
`stochastic_binarization: True` draws them as NADE's paper did for MNIST).
Writes `evaluation.json` (test negative log-likelihood in nats per image and
bits per dimension beside independent pixels), `samples.png` and
`completions.png` into the run directory.
"""


def get_config(quick=False):
    config = {
        "family": "density",
        "model": {"class": "NADE", "hidden_units": 500},
        "optimizer": {"class": "Adam", "learning_rate": 1e-3, "schedule": "cosine"},
        "binarize_threshold": 0.5,
        "stochastic_binarization": False,
        "epochs": 20,
        "batch_size": 100,
        "train_size": None,
        "seed": 0,
    }
    if quick:
        config["epochs"] = 2
        config["train_size"] = 10000
    return config
