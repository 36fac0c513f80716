"""Noise As Targets (Bojanowski & Joulin 2017) on 28x28 grey-scale images.

python -m zoo.train --method=noise_as_targets --dataset=fashion_mnist --model_dir=runs/noise_as_targets
python -m zoo.train --method=noise_as_targets --dataset=fashion_mnist --model_dir=runs/quick --quick

One fixed random target per training image, so the model takes
`num_examples` from the data and trains on `(images, indices)` batches; it
takes `steps_per_epoch` too, to count the epochs between reassignments
(`model_from_data`). The paper's settings: targets of the feature dimension
(`target_dim` None), SGD with momentum at a constant step size, batches of
256, the batch-wise Hungarian reassignment every 3 epochs. On the digits
learns-test it beats random init by 2-3 kNN points
(tests/test_noise_as_targets.py).
"""


def get_config(quick=False):
    config = {
        "family": "contrastive",
        "model_from_data": ["num_examples", "steps_per_epoch"],
        "with_indices": True,  # (images, indices) batches: each image's target.
        "model": {
            "class": "NoiseAsTargets",
            "target_dim": None,
            "reassign_every": 3,
        },
        "backbone": {"class": "ResNet", "depth": 20, "width": 16},
        "optimizer": {
            "class": "SGD",
            "learning_rate": 0.01,
            "momentum": 0.9,
        },
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
