"""What the contrastive, clustering and MI configs share (not a method: see METHODS)."""


def contrastive_config(model, optimizer, quick=False, **extra):
    """A run config of the contrastive family around `model` (class name
    and arguments) and `optimizer`: ResNet-20 (width 16), batch 256, 100
    epochs over all the training images, a kNN monitor every 5 epochs;
    `quick` shrinks it to ResNet-8, 10 epochs on 10,000 images, kNN every 2.
    `extra` adds keys (e.g. `with_indices`, `model_from_data`)."""
    config = {
        "family": "contrastive",
        **extra,
        "model": model,
        "backbone": {"class": "ResNet", "depth": 20, "width": 16},
        "optimizer": optimizer,
        "epochs": 100,
        "batch_size": 256,
        "train_size": None,
        "seed": 0,
        "knn_every": 5,
    }
    if quick:
        config["backbone"] = {"class": "ResNet", "depth": 8, "width": 16}
        config["epochs"] = 10
        config["train_size"] = 10000
        config["knn_every"] = 2
    return config


def adam_cosine(learning_rate):
    """Adam with one warm-up epoch, then a cosine decay."""
    return {"class": "Adam", "learning_rate": learning_rate, "schedule": "cosine", "warmup_epochs": 1}
