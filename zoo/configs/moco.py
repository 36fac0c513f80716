"""MoCo (He et al. 2020) on 28x28 grey-scale images.

The v2 head and temperature (Chen et al. 2020: an MLP head, tau = 0.2) and
a lower key momentum (0.99) for this budget; the same backbone, optimizer
and epochs as SimCLR's config.

python -m zoo.train --method=moco --dataset=fashion_mnist --model_dir=runs/moco
python -m zoo.train --method=moco --dataset=fashion_mnist --model_dir=runs/quick --quick
"""


def get_config(quick=False):
    config = {
        "family": "contrastive",
        "model": {
            "class": "MoCo",
            "projection_dim": 128,
            "projection_hidden_dims": [512],
            "queue_size": 4096,
            "momentum": 0.99,
            "temperature": 0.2,
        },
        "backbone": {"class": "ResNet", "depth": 20, "width": 16},
        "optimizer": {
            "class": "Adam",
            "learning_rate": 2e-3,
            "schedule": "cosine",
            "warmup_epochs": 1,
        },
        "epochs": 100,
        "batch_size": 256,
        "train_size": None,
        "seed": 0,
        "knn_every": 5,
    }
    if quick:
        config["backbone"] = {"class": "ResNet", "depth": 8, "width": 16}
        config["epochs"] = 10
        config["train_size"] = 10000
        config["knn_every"] = 2
    return config
