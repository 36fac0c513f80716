"""Deep InfoMax (Hjelm et al. 2019) on 28x28 grey-scale images.

python -m zoo.train --method=deep_infomax --dataset=fashion_mnist --model_dir=runs/deep_infomax
python -m zoo.train --method=deep_infomax --dataset=fashion_mnist --model_dir=runs/quick --quick

DIM(L): the local objective only (alpha = 0, beta = 1) with the JSD
estimator, a 64-d global vector and the paper's 2048-unit encode-and-dot-
product discriminator, on the 7x7x64 map of ConvNet(32, 64, 128) (the input
of its last block; the global vector comes from its pooled features). No
prior matching (gamma = 0, the class default: on the digits learns-test the
paper's gamma = 0.1 lowered the kNN accuracy below random init), so there is
no prior discriminator and the recipe's single optimizer is all it needs;
with `gamma > 0` the prior discriminator gets a fresh copy of that optimizer
from `DeepInfoMax.compile`. No augmentation, as the paper on CIFAR-10. Adam
1e-3 as in tests/test_deep_infomax.py (the paper: 1e-4 over longer runs).
Not yet measured on Fashion-MNIST at this budget.
"""


def get_config(quick=False):
    config = {
        "family": "contrastive",
        "model": {
            "class": "DeepInfoMax",
            "global_dim": 64,
            "estimator": "jsd",
            "alpha": 0.0,
            "beta": 1.0,
            "gamma": 0.0,
            "discriminator_dim": 2048,
        },
        "backbone": {"class": "ConvNet", "filters": [32, 64, 128]},
        "optimizer": {"class": "Adam", "learning_rate": 1e-3},
        "epochs": 50,
        "batch_size": 128,
        "train_size": None,
        "seed": 0,
        "knn_every": 5,
    }
    if quick:
        config["model"]["discriminator_dim"] = 256
        config["epochs"] = 5
        config["train_size"] = 10000
        config["knn_every"] = None
    return config
