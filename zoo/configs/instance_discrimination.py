"""Instance discrimination (Wu et al. 2018) on 28x28 grey-scale images.

python -m zoo.train --method=instance_discrimination --dataset=fashion_mnist --model_dir=runs/instance_discrimination
python -m zoo.train --method=instance_discrimination --dataset=fashion_mnist --model_dir=runs/quick --quick

The memory bank has one row per training image, so the model takes
`num_examples` from the data (`model_from_data`) and trains on
`(images, indices)` batches. The paper's settings: 128-d embeddings,
m = 4096 noise samples, tau = 0.07, bank momentum 0.5. Not yet measured on
Fashion-MNIST at the full budget; on the digits learns-test tau = 0.07 lost
to random init and tau = 0.2 beat it (tests/test_instance_discrimination.py).
"""


def get_config(quick=False):
    config = {
        "family": "contrastive",
        "model_from_data": ["num_examples"],
        "with_indices": True,  # (images, indices) batches: the bank's rows.
        "model": {
            "class": "InstanceDiscrimination",
            "embedding_dim": 128,
            "num_negatives": 4096,
            "temperature": 0.07,
            "bank_momentum": 0.5,
            "proximal_weight": 0.0,
        },
        "backbone": {"class": "ResNet", "depth": 20, "width": 16},
        "optimizer": {
            "class": "Adam",
            "learning_rate": 1e-3,
            "schedule": "cosine",
            "warmup_epochs": 1,
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
