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

from zoo.configs.contrastive import contrastive_config


def get_config(quick=False):
    model = {"class": "NoiseAsTargets", "target_dim": None, "reassign_every": 3}
    optimizer = {"class": "SGD", "learning_rate": 0.01, "momentum": 0.9}
    # (images, indices) batches: each image's target.
    return contrastive_config(
        model, optimizer, quick, model_from_data=["num_examples", "steps_per_epoch"], with_indices=True
    )
