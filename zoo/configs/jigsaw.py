"""Jigsaw puzzles (Noroozi & Favaro 2016) on 28x28 grey-scale images.

    python -m zoo.train --method=jigsaw --dataset=fashion_mnist --model_dir=runs/jigsaw
    python -m zoo.train --method=jigsaw --dataset=fashion_mnist --model_dir=runs/quick --quick

A 3x3 grid of 9-px cells, an 8-px tile cut at a random place in each (the
paper's 64-px tiles of 75-px cells), each tile normalised on its own and
resized to the backbone's input; 100 permutations of maximal Hamming
distance (the set is stored in the model's config). The paper trains with
SGD for 350k iterations; Adam with a cosine decay here. The benchmark probes
`model.backbone`'s stages (the pretext suite's shared ConvNet).
"""


def get_config(quick=False):
    config = {
        "family": "pretext",
        "model": {
            "class": "JigsawPuzzle",
            "num_permutations": 100,
            "grid_size": 3,
            "normalize_tiles": True,
            "head_hidden_dims": [512],
        },
        "backbone": {"class": "ConvNet", "filters": [32, 64, 128]},
        "optimizer": {"class": "Adam", "learning_rate": 2e-3, "schedule": "cosine"},
        "epochs": 30,
        "batch_size": 64,
        "train_size": None,
        "seed": 0,
        "knn_every": 5,
    }
    if quick:
        config["epochs"] = 2
        config["train_size"] = 5000
        config["knn_every"] = None
    return config
