"""Mean teacher (Tarvainen & Valpola 2017) on 28x28 grey-scale images with 100 labels.

    python -m zoo.train --method=mean_teacher --dataset=fashion_mnist --num_labels=100 --model_dir=runs/mean_teacher
    python -m zoo.train --method=mean_teacher --dataset=fashion_mnist --num_labels=100 --model_dir=runs/quick --quick

From the paper: consistency cost = mean squared error of the softmax
outputs (summed over classes, divided by their number) with maximum weight
100 (its CIFAR-10 value) and a sigmoid ramp-up; teacher EMA decay 0.99
during the ramp-up and 0.999 after; Adam; independent translation
augmentation for student and teacher; the teacher is evaluated. Sized for a
CPU: the ramp-up covers the first 4 of 20 epochs (one epoch is one pass
over the unlabelled images, about 940 steps) instead of the paper's 80
epochs, and there is no dropout (the paper's ConvNet has dropout 0.5 in its
body).
"""

from zoo.configs.semi_supervised import semi_supervised_config


def get_config(quick=False):
    model = {
        "class": "MeanTeacher",
        "ema_decay": 0.99,
        "ema_decay_after_rampup": 0.999,
        "evaluate_teacher": True,
        "unsupervised_weight": 100.0,
        "dropout": 0.0,
    }
    return semi_supervised_config(model, quick, rampup_epochs=4)
