"""Split-brain autoencoder (Zhang et al. 2017) on 28x28 colour crops of the bundled photos.

    python -m zoo.train --method=split_brain --dataset=photos --model_dir=runs/split_brain
    python -m zoo.train --method=split_brain --dataset=photos --model_dir=runs/quick --quick

The L -> ab sub-network (`model.backbone`, `input_channels: 1`) is what the
pretext benchmark probes on grey-scale Fashion-MNIST; the ab -> L
sub-network is the same architecture with 2 input channels. The ab bins
(k-means on training pixels) are computed from the training crops when the
method is built. Photo crops carry no classes worth a kNN monitor, so
`knn_every` is off.
"""


def get_config(quick=False):
    config = {
        "family": "pretext",
        "model_from_data": ["ab_bins"],
        "model": {
            "class": "SplitBrainAutoencoder",
            "num_bins": 64,
            "num_lightness_bins": 50,
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
