"""The Pi-model (Laine & Aila 2017) on 28x28 grey-scale images.

    python -m zoo.train --method=pi_model --dataset=fashion_mnist --num_labels=100 --model_dir=runs/pi_model
    python -m zoo.train --method=pi_model --dataset=fashion_mnist --num_labels=100 --model_dir=runs/quick --quick

The paper's `w_max = 100` (unscaled here: see `PiModel`), dropout 0.5 and
translation by 2 pixels and flip (the default `WeakAugmenter`); its ramp-up
over 80 of 300 epochs becomes 5 of 20.
"""

from zoo.configs.semi_supervised import semi_supervised_config


def get_config(quick=False):
    return semi_supervised_config({"class": "PiModel", "unsupervised_weight": 100.0, "dropout": 0.5}, quick)
