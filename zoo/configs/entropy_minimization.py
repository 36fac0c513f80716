"""Entropy minimization (Grandvalet & Bengio 2005) on 28x28 grey-scale images with 100 labels.

    python -m zoo.train --method=entropy_minimization --dataset=fashion_mnist --num_labels=100 --model_dir=runs/entropy_minimization
    python -m zoo.train --method=entropy_minimization --dataset=fashion_mnist --num_labels=100 --model_dir=runs/quick --quick

The paper cross-validates lambda and names no value; lambda = 1 is the unit
weight of the MAP criterion (and of VAT+EntMin, Miyato et al. 2018) and did
best on the digits learns-test. The ramp-up over the first 5 of 15 epochs
keeps the untrained network from locking in confident wrong predictions.
Three unlabelled images per labelled one; the default `WeakAugmenter`.
"""


def get_config(quick=False):
    config = {
        "model": {"class": "EntropyMinimization", "unsupervised_weight": 1.0, "dropout": 0.0},
        "backbone": {"class": "ConvNet", "filters": [32, 64, 128]},
        "optimizer": {"class": "Adam", "learning_rate": 1e-3},
        "semi_supervised": True,
        "num_labels": 100,
        "unlabelled_ratio": 3,
        "rampup_epochs": 5,
        "epochs": 15,
        "batch_size": 64,
        "train_size": None,
        "seed": 0,
        "knn_every": 0,
    }
    if quick:
        config["epochs"] = 2
        config["rampup_epochs"] = 1
    return config
