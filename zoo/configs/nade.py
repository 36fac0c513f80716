"""NADE (Larochelle & Murray 2011): one shared hidden layer computes every
pixel's conditional in one pass, on binarised Fashion-MNIST (500 hidden units,
the paper's).

    python -m zoo.train --method=nade --model_dir=runs/nade
    python -m zoo.train --method=nade --dataset=digits --model_dir=runs/nade_digits
    python -m zoo.train --method=nade --model_dir=runs/nade_quick --quick

Pixels are binarised at half the intensity range (`binarize_threshold`;
`stochastic_binarization: True` draws them as NADE's paper did for MNIST).
Writes `evaluation.json` (test negative log-likelihood in nats per image and
bits per dimension beside independent pixels), `samples.png` and
`completions.png` into the run directory.
"""

from zoo.configs.density import density_config


def get_config(quick=False):
    return density_config({"class": "NADE", "hidden_units": 500}, quick)
