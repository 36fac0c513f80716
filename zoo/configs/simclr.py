"""SimCLR (Chen et al. 2020) on 28x28 grey-scale images.

python -m zoo.train --method=simclr --dataset=fashion_mnist --model_dir=runs/simclr
python -m zoo.train --method=simclr --dataset=fashion_mnist --model_dir=runs/quick --quick
"""


def get_config(quick=False):
    config = {
        "family": "contrastive",
        "model": {
            "class": "SimCLR",
            "projection_dim": 128,
            "temperature": 0.5,
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
