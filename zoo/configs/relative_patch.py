"""Relative patch position (Doersch et al. 2015) on 28x28 grey-scale images.

    python -m zoo.train --method=relative_patch --dataset=fashion_mnist --model_dir=runs/relative_patch
    python -m zoo.train --method=relative_patch --dataset=fashion_mnist --model_dir=runs/quick --quick

A centre patch and one of its 8 neighbours: 7-px patches, 2-px gaps and up
to 1 px of jitter (the paper's 96 / 48 / 7 px scaled to 28x28), both resized
to the backbone's input and embedded by the shared backbone, late fusion by
concatenation and an MLP head. Channel dropping is a no-op on grey images.
The paper trains with SGD for weeks on ImageNet; Adam with a cosine decay
here. The benchmark probes `model.backbone`'s stages (the pretext suite's
shared ConvNet).
"""


def get_config(quick=False):
    config = {
        "family": "pretext",
        "model": {
            "class": "RelativePatchPosition",
            "patch_size": 7,
            "gap": 2,
            "jitter": 1,
            "channel_dropping": True,
            "head_hidden_dims": [512],
        },
        "backbone": {"class": "ConvNet", "filters": [32, 64, 128]},
        "optimizer": {"class": "Adam", "learning_rate": 2e-3, "schedule": "cosine"},
        "epochs": 30,
        "batch_size": 64,
        "train_size": None,
        "seed": 0,
        "knn_every": 5,
    }
    if quick:
        config["epochs"] = 3
        config["train_size"] = 5000
        config["knn_every"] = None
    return config
