"""Supervised training on the labelled part only: the semi-supervised baseline.

    python -m zoo.train --method=supervised --dataset=fashion_mnist --num_labels=100 --model_dir=runs/supervised
    python -m zoo.train --method=supervised --dataset=fashion_mnist --num_labels=60000 --model_dir=runs/full

With every label (`--num_labels=60000`) it is the fully supervised reference.
"""


def get_config(quick=False):
    config = {
        "model": {"class": "SupervisedOnly", "dropout": 0.0},
        "backbone": {"class": "ConvNet", "filters": [32, 64, 128]},
        "optimizer": {"class": "Adam", "learning_rate": 1e-3},
        "semi_supervised": True,
        "num_labels": 100,
        "unlabelled_ratio": 1,
        "rampup_epochs": 0,
        "epochs": 20,
        "batch_size": 64,
        "train_size": None,
        "seed": 0,
        "knn_every": 0,
    }
    if quick:
        config["epochs"] = 2
    return config
