"""FVSBN (Frey 1998): a logistic regression per pixel on the pixels before it,
on binarised Fashion-MNIST.

    python -m zoo.train --method=fvsbn --model_dir=runs/fvsbn
    python -m zoo.train --method=fvsbn --dataset=digits --model_dir=runs/fvsbn_digits
    python -m zoo.train --method=fvsbn --model_dir=runs/fvsbn_quick --quick

Pixels are binarised at half the intensity range (`binarize_threshold`;
`stochastic_binarization: True` draws them as NADE's paper did for MNIST).
Writes `evaluation.json` (test negative log-likelihood in nats per image and
bits per dimension beside independent pixels), `samples.png` and
`completions.png` into the run directory.
"""

from zoo.configs.density import density_config


def get_config(quick=False):
    return density_config({"class": "FVSBN"}, quick, learning_rate=5e-3)
