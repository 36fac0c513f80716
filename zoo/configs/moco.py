"""MoCo (He et al. 2020) on 28x28 grey-scale images.

The v2 head and temperature (Chen et al. 2020: an MLP head, tau = 0.2) and
a lower key momentum (0.99) for this budget; the same backbone, optimizer
and epochs as SimCLR's config.

python -m zoo.train --method=moco --dataset=fashion_mnist --model_dir=runs/moco
python -m zoo.train --method=moco --dataset=fashion_mnist --model_dir=runs/quick --quick
"""

from zoo.configs.contrastive import adam_cosine, contrastive_config


def get_config(quick=False):
    model = {
        "class": "MoCo",
        "projection_dim": 128,
        "projection_hidden_dims": [512],
        "queue_size": 4096,
        "momentum": 0.99,
        "temperature": 0.2,
    }
    return contrastive_config(model, adam_cosine(2e-3), quick)
