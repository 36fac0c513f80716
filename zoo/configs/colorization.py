"""Colourisation (Zhang et al. 2016) on 28x28 colour crops of the bundled photos.

    python -m zoo.train --method=colorization --dataset=photos --model_dir=runs/colorization
    python -m zoo.train --method=colorization --dataset=photos --model_dir=runs/quick --quick

The backbone sees the L channel only (`input_channels: 1`), so the trained
`model.backbone` is probed on grey-scale Fashion-MNIST. The ab bins (k-means
on training pixels, `num_bins` of them) and their prior are computed from
the training crops when the method is built (`Colorization.arguments_from_data`).
Photo crops carry no classes worth a kNN monitor (the label is the photo),
so `knn_every` is off.
"""


def get_config(quick=False):
    config = {
        "family": "pretext",
        "model_from_data": ["ab_bins"],
        "model": {
            "class": "Colorization",
            "num_bins": 64,
            "rebalance_lambda": 0.5,
            "sigma": 5.0,
            "num_neighbours": 5,
            "temperature": 0.38,
            "prediction_stride": 4,
        },
        "backbone": {"class": "ConvNet", "filters": [32, 64, 128], "input_channels": 1},
        "optimizer": {"class": "Adam", "learning_rate": 1e-3, "schedule": "cosine"},
        "dataset": "photos",  # colour crops; zoo.train's --dataset overrides it
        "epochs": 30,
        "batch_size": 128,
        "train_size": None,
        "seed": 0,
        "knn_every": None,
    }
    if quick:
        # The setting of the learns-test (20000 crops, 10 epochs): its L
        # network's best-stage probe on grey Fashion-MNIST beats random init.
        config["epochs"] = 10
    return config
