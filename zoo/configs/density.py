"""What every density config shares (not a method: see METHODS)."""


def density_config(model, quick=False, learning_rate=1e-3):
    """A density run config around `model` (class name and arguments):
    binarised at half the intensity range, Adam with a cosine decay, batch
    100, 20 epochs; `quick` shrinks it to 2 epochs on 10,000 images."""
    config = {
        "family": "density",
        "model": model,
        "optimizer": {"class": "Adam", "learning_rate": learning_rate, "schedule": "cosine"},
        "binarize_threshold": 0.5,
        "stochastic_binarization": False,
        "epochs": 20,
        "batch_size": 100,
        "train_size": None,
        "seed": 0,
    }
    if quick:
        config["epochs"] = 2
        config["train_size"] = 10000
    return config
