"""Supervised training on the labelled part only: the semi-supervised baseline.

    python -m zoo.train --method=supervised --dataset=fashion_mnist --num_labels=100 --model_dir=runs/supervised
    python -m zoo.train --method=supervised --dataset=fashion_mnist --num_labels=60000 --model_dir=runs/full

With every label (`--num_labels=60000`) it is the fully supervised reference.
"""

from zoo.configs.semi_supervised import semi_supervised_config


def get_config(quick=False):
    return semi_supervised_config(
        {"class": "SupervisedOnly", "dropout": 0.0}, quick, rampup_epochs=0, model_from_data=["num_classes"]
    )
