"""CPC (van den Oord et al. 2018; Hénaff et al. 2020) on 28x28 grey-scale images.

8x8 patches with stride 4 (half overlap, as the paper's 64-of-256 with
stride 32) give a 6x6 grid (the paper's is 7x7); the context predicts up
to 3 rows ahead against every patch of the batch, with cosine scores at
temperature 0.1 (the papers' plain dot products did not beat random init
in the digits learns-test) and per-patch augmentation (Hénaff et al.). The backbone is a patch
encoder: `"backbone_input": "patch"` builds it for the patch shape (8, 8,
channels), and the model takes the full image shape from the data
(`model_from_data`).

python -m zoo.train --method=cpc --dataset=fashion_mnist --model_dir=runs/cpc
python -m zoo.train --method=cpc --dataset=fashion_mnist --model_dir=runs/quick --quick
"""


def get_config(quick=False):
    config = {
        "family": "contrastive",
        "model_from_data": ["image_shape"],
        "model": {
            "class": "CPC",
            "patch_size": 8,
            "patch_stride": 4,
            "prediction_steps": 3,
            "context_dim": 256,
            "context_layers": 2,
            "projection_dim": None,
            "temperature": 0.1,
            "per_patch_augmentation": True,
        },
        # Built for (patch_size, patch_size, channels), not the full image.
        "backbone_input": "patch",
        "backbone": {"class": "ConvNet", "filters": [32, 64, 128]},
        "optimizer": {
            "class": "Adam",
            "learning_rate": 1e-3,
            "schedule": "cosine",
            "warmup_epochs": 1,
        },
        "epochs": 50,
        "batch_size": 64,
        "train_size": None,
        "seed": 0,
        "knn_every": 5,
    }
    if quick:
        config["backbone"] = {"class": "ConvNet", "filters": [16, 32]}
        config["model"] = {**config["model"], "context_dim": 64}
        config["epochs"] = 5
        config["train_size"] = 10000
        config["knn_every"] = 1
    return config
