"""What every semi-supervised config shares (not a method: see METHODS)."""


def semi_supervised_config(model, quick=False, **overrides):
    """A semi-supervised run config around `model` (class name and
    hyperparameters): ConvNet(32, 64, 128), Adam 1e-3, 100 labels, labelled
    batch 64, 20 epochs with a 5-epoch ramp-up, unless `overrides` say
    otherwise. `quick` shrinks it to 2 epochs and a ramp-up of at most 1."""
    config = {
        "family": "semi_supervised",
        "model": model,
        "model_from_data": ["num_classes", "rampup_steps"],
        "backbone": {"class": "ConvNet", "filters": [32, 64, 128]},
        "optimizer": {"class": "Adam", "learning_rate": 1e-3},
        "num_labels": 100,
        "unlabelled_ratio": 1,
        "rampup_epochs": 5,
        "epochs": 20,
        "batch_size": 64,
        "train_size": None,
        "seed": 0,
        "knn_every": 0,
    }
    config.update(overrides)
    if quick:
        config["epochs"] = 2
        config["rampup_epochs"] = min(config["rampup_epochs"], 1)
    return config
