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


def get_config(quick=False):
    config = {
        "model": {
            "class": "TemporalEnsembling",
            "ensemble_momentum": 0.6,
            "unsupervised_weight": 30.0,
            "dropout": 0.5,
        },
        "backbone": {"class": "ConvNet", "filters": [32, 64, 128]},
        "optimizer": {"class": "Adam", "learning_rate": 1e-3},
        "semi_supervised": True,
        "with_indices": True,
        "num_labels": 100,
        "unlabelled_ratio": 1,
        "rampup_epochs": 5,
        "epochs": 20,
        "batch_size": 64,
        "train_size": None,
        "seed": 0,
        "knn_every": 0,
    }
    if quick:
        config["epochs"] = 2
        config["rampup_epochs"] = 1
    return config
