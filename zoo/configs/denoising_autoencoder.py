"""Denoising autoencoder (Vincent et al. 2010) on 28x28 grey-scale images.

A convolutional DAE on the shared pretext ConvNet: 25% masking noise (the
paper's MNIST level), cross-entropy reconstruction of the clean image.

    python -m zoo.train --method=denoising_autoencoder --dataset=fashion_mnist --model_dir=runs/dae
    python -m zoo.train --method=denoising_autoencoder --dataset=fashion_mnist --model_dir=runs/quick --quick
"""


def get_config(quick=False):
    config = {
        "family": "autoencoding",
        "model": {
            "class": "DenoisingAutoencoder",
            "noise": "masking",
            "noise_level": 0.25,
            "loss": "cross_entropy",
        },
        "backbone": {"class": "ConvNet", "filters": [32, 64, 128]},
        "optimizer": {"class": "Adam", "learning_rate": 1e-3},
        "epochs": 30,
        "batch_size": 64,
        "train_size": None,
        "seed": 0,
        "knn_every": 5,
    }
    if quick:
        config["epochs"] = 3
        config["train_size"] = 8000
        config["knn_every"] = None
    return config
