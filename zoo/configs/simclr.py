"""SimCLR (Chen et al. 2020) on 28x28 grey-scale images.

python -m zoo.train --method=simclr --dataset=fashion_mnist --model_dir=runs/simclr
python -m zoo.train --method=simclr --dataset=fashion_mnist --model_dir=runs/quick --quick
"""

from zoo.configs.contrastive import adam_cosine, contrastive_config

# The tuned width of `make demo` (zoo/demo.py says what it bought) and of
# `python -m zoo.benchmark --suite=simclr`: ResNet-8 at width 32 (128
# features) instead of the quick config's 16.
TUNED_BACKBONE = {"width": 32}


def get_config(quick=False):
    return contrastive_config({"class": "SimCLR", "projection_dim": 128, "temperature": 0.5}, adam_cosine(2e-3), quick)
