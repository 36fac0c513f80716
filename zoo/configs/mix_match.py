"""MixMatch (Berthelot et al. 2019) on 28x28 grey-scale images with 100 labels.

    python -m zoo.train --method=mix_match --dataset=fashion_mnist --num_labels=100 --model_dir=runs/mix_match
    python -m zoo.train --method=mix_match --dataset=fashion_mnist --num_labels=100 --model_dir=runs/quick --quick

From the paper: K=2, T=0.5, alpha=0.75, lambda_U=75 (its CIFAR-10 value),
Adam at 2e-3, labelled and unlabelled batches of the same size, a linear
ramp-up of lambda_U and evaluation on an exponential moving average of the
weights with decay 0.999 (the optimizer keeps it; `swap_ema_weights` makes
validation use it, and `fit` ends with it in the model). Sized for a CPU:
the paper ramps over 16,000 of about 260,000 steps and uses weight decay
0.02 x lr on a Wide ResNet-28; here the ramp covers the first 4 of 20
epochs (about 3,700 steps) and there is no weight decay.
"""

from zoo.configs.semi_supervised import semi_supervised_config


def get_config(quick=False):
    model = {
        "class": "MixMatch",
        "num_augmentations": 2,
        "temperature": 0.5,
        "mixup_alpha": 0.75,
        "unsupervised_weight": 75.0,
        "rampup": "linear",
        "dropout": 0.0,
    }
    # A shorter average for the quick run of about 1,900 steps.
    optimizer = {"class": "Adam", "learning_rate": 2e-3, "use_ema": True, "ema_momentum": 0.99 if quick else 0.999}
    return semi_supervised_config(model, quick, optimizer=optimizer, swap_ema_weights=True, rampup_epochs=4)
