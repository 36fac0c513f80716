"""Rotation prediction (Gidaris et al. 2018) on 28x28 grey-scale images.

    python -m zoo.train --method=rotation --dataset=fashion_mnist --model_dir=runs/rotation
    python -m zoo.train --method=rotation --dataset=fashion_mnist --model_dir=runs/quick --quick

Every image in its four rotations in the same batch, a linear rotation
classifier on the pooled features. The paper trains with SGD (momentum 0.9,
learning rate 0.1, 100 CIFAR epochs); Adam with a cosine decay reaches the
same pretext accuracy in far fewer epochs on Fashion-MNIST. The benchmark
probes `model.backbone`'s stages (the pretext suite's shared ConvNet).
"""


def get_config(quick=False):
    config = {
        "family": "pretext",
        "model": {"class": "RotationPrediction", "head_hidden_dims": []},
        "backbone": {"class": "ConvNet", "filters": [32, 64, 128]},
        "optimizer": {"class": "Adam", "learning_rate": 2e-3, "schedule": "cosine"},
        "epochs": 30,
        "batch_size": 128,
        "train_size": None,
        "seed": 0,
        "knn_every": 5,
    }
    if quick:
        config["epochs"] = 3
        config["train_size"] = 5000
        config["knn_every"] = None
    return config
