"""Entropy minimization (Grandvalet & Bengio 2005) on 28x28 grey-scale images with 100 labels.

    python -m zoo.train --method=entropy_minimization --dataset=fashion_mnist --num_labels=100 --model_dir=runs/entropy_minimization
    python -m zoo.train --method=entropy_minimization --dataset=fashion_mnist --num_labels=100 --model_dir=runs/quick --quick

The paper cross-validates lambda and names no value; lambda = 1 is the unit
weight of the MAP criterion (and of VAT+EntMin, Miyato et al. 2018) and did
best on the digits learns-test. The ramp-up over the first 5 of 15 epochs
keeps the untrained network from locking in confident wrong predictions.
Three unlabelled images per labelled one; the default `WeakAugmenter`.
"""

from zoo.configs.semi_supervised import semi_supervised_config


def get_config(quick=False):
    return semi_supervised_config(
        {"class": "EntropyMinimization", "unsupervised_weight": 1.0, "dropout": 0.0},
        quick,
        unlabelled_ratio=3,
        epochs=15,
    )
