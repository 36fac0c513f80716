"""Context encoder (Pathak et al. 2016) on 28x28 grey-scale images.

    python -m zoo.train --method=context_encoder --dataset=fashion_mnist --model_dir=runs/context_encoder
    python -m zoo.train --method=context_encoder --dataset=fashion_mnist --model_dir=runs/quick --quick

Random-region masks over a quarter of the image, L = 0.999 L2 + 0.001 adversarial,
Adam (2e-4, beta_1 = 0.5, as in the authors' DCGAN-based code) for the generator and a fresh copy of
it (made by `ContextEncoder.compile`) for the discriminator. The L2-only
variant is `adversarial_weight: 0`. The benchmark probes `model.backbone`'s
stages (the pretext suite's shared ConvNet).
"""


def get_config(quick=False):
    config = {
        "family": "pretext",
        "model": {
            "class": "ContextEncoder",
            "mask": "random_region",
            "mask_fraction": 0.25,
            "overlap": 1,
            "overlap_weight": 10.0,
            "reconstruction_weight": 0.999,
            "adversarial_weight": 0.001,
            "fill_value": 117.0,
            "discriminator_filters": [64, 128, 256],
        },
        "backbone": {"class": "ConvNet", "filters": [32, 64, 128]},
        "optimizer": {"class": "Adam", "learning_rate": 2e-4, "beta_1": 0.5},
        "epochs": 30,
        "batch_size": 64,
        "train_size": None,
        "seed": 0,
        "knn_every": 5,
    }
    if quick:
        config["model"]["discriminator_filters"] = [32, 64]
        config["epochs"] = 10
        config["train_size"] = 10000
        config["knn_every"] = None
    return config
