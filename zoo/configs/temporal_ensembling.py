"""Temporal ensembling (Laine & Aila 2017) on 28x28 grey-scale images.

    python -m zoo.train --method=temporal_ensembling --dataset=fashion_mnist --num_labels=100 --model_dir=runs/temporal_ensembling
    python -m zoo.train --method=temporal_ensembling --dataset=fashion_mnist --num_labels=100 --model_dir=runs/quick --quick

The paper's ensemble momentum 0.6, `w_max = 30` (unscaled here: see
`TemporalEnsembling`), dropout 0.5 and translation by 2 pixels and flip (the
default `WeakAugmenter`); its ramp-up over 80 of 300 epochs becomes 5 of
20. The batches carry each unlabelled image's index (`with_indices`), and
zoo.train sets `num_unlabelled` (the rows of the ensemble) from the data.
The targets are updated after each pass over the unlabelled set.
"""

from zoo.configs.semi_supervised import semi_supervised_config


def get_config(quick=False):
    model = {"class": "TemporalEnsembling", "ensemble_momentum": 0.6, "unsupervised_weight": 30.0, "dropout": 0.5}
    return semi_supervised_config(
        model, quick, with_indices=True, model_from_data=["num_classes", "rampup_steps", "num_unlabelled"]
    )
