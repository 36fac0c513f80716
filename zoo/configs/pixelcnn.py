"""PixelCNN (van den Oord et al. 2016): masked convolutions (mask A, then residual
mask-B blocks) predict each pixel from those above and to its left, on binarised
Fashion-MNIST; `"gated": True` is the gated variant without blind spot.

    python -m zoo.train --method=pixelcnn --model_dir=runs/pixelcnn
    python -m zoo.train --method=pixelcnn --dataset=digits --model_dir=runs/pixelcnn_digits
    python -m zoo.train --method=pixelcnn --model_dir=runs/pixelcnn_quick --quick

Pixels are binarised at half the intensity range (`binarize_threshold`;
`stochastic_binarization: True` draws them as NADE's paper did for MNIST).
Writes `evaluation.json` (test negative log-likelihood in nats per image and
bits per dimension beside independent pixels), `samples.png` and
`completions.png` into the run directory.
"""

from zoo.configs.density import density_config


def get_config(quick=False):
    return density_config({"class": "PixelCNN", "gated": False}, quick)
