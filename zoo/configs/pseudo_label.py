"""Pseudo-Label (Lee 2013) on 28x28 grey-scale images with 100 labels.

    python -m zoo.train --method=pseudo_label --dataset=fashion_mnist --num_labels=100 --model_dir=runs/pseudo_label
    python -m zoo.train --method=pseudo_label --dataset=fashion_mnist --num_labels=100 --model_dir=runs/quick --quick

From the paper: alpha_f = 3, dropout 0.5, pseudo-labels refreshed at every
update. The confidence threshold 0.95 is that of Oliver et al. (2018) and
FixMatch (0.0 gives Lee's rule, every unlabelled image counts). Lee's linear
ramp of alpha between epochs 100 and 600 becomes the shared sigmoid ramp-up
over the first 5 of 15 epochs. Three unlabelled images per labelled one; the
default `WeakAugmenter`.
"""

from zoo.configs.semi_supervised import semi_supervised_config


def get_config(quick=False):
    return semi_supervised_config(
        {"class": "PseudoLabel", "threshold": 0.95, "unsupervised_weight": 3.0, "dropout": 0.5},
        quick,
        unlabelled_ratio=3,
        epochs=15,
    )
