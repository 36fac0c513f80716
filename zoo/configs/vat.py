"""Virtual adversarial training (Miyato et al. 2018) on 28x28 grey-scale images with 100 labels.

    python -m zoo.train --method=vat --dataset=fashion_mnist --num_labels=100 --model_dir=runs/vat
    python -m zoo.train --method=vat --dataset=fashion_mnist --num_labels=100 --model_dir=runs/quick --quick

From the paper: one power iteration, alpha = 1 without ramp-up, Adam at
1e-3, labelled batches of 32 and unlabelled batches of 128. epsilon = 2.0
is the L2 norm of the perturbation over the 784 pixels scaled to [0, 1]
(about 0.07 per pixel; the paper tunes epsilon per data set). xi = 1e-3
instead of the paper's 1e-6, which rounds away in float32 pixels. The
paper's VAT+EntMin variant is `"entropy_minimization": True`. Each step
costs about four forward-backward passes of plain supervised training.
"""

from zoo.configs.semi_supervised import semi_supervised_config


def get_config(quick=False):
    model = {
        "class": "VAT",
        "epsilon": 2.0,
        "xi": 1e-3,
        "power_iterations": 1,
        "entropy_minimization": False,
        "unsupervised_weight": 1.0,
        "dropout": 0.0,
    }
    return semi_supervised_config(model, quick, unlabelled_ratio=4, rampup_epochs=0, batch_size=32)
