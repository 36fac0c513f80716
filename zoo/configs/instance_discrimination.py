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

from zoo.configs.contrastive import adam_cosine, contrastive_config


def get_config(quick=False):
    model = {
        "class": "InstanceDiscrimination",
        "embedding_dim": 128,
        "num_negatives": 4096,
        "temperature": 0.07,
        "bank_momentum": 0.5,
        "proximal_weight": 0.0,
    }
    # (images, indices) batches: the bank's rows.
    return contrastive_config(model, adam_cosine(1e-3), quick, model_from_data=["num_examples"], with_indices=True)
