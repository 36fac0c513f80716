"""The Pi-model (Laine & Aila 2017) on 28x28 grey-scale images.

    python -m zoo.train --method=pi_model --dataset=fashion_mnist --num_labels=100 --model_dir=runs/pi_model
    python -m zoo.train --method=pi_model --dataset=fashion_mnist --num_labels=100 --model_dir=runs/quick --quick

The paper's `w_max = 100` (unscaled here: see `PiModel`), dropout 0.5 and
translation by 2 pixels and flip (the default `WeakAugmenter`); its ramp-up
over 80 of 300 epochs becomes 5 of 20.
"""


def get_config(quick=False):
    config = {
        "model": {"class": "PiModel", "unsupervised_weight": 100.0, "dropout": 0.5},
        "backbone": {"class": "ConvNet", "filters": [32, 64, 128]},
        "optimizer": {"class": "Adam", "learning_rate": 1e-3},
        "semi_supervised": True,
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
