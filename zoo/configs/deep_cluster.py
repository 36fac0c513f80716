"""DeepCluster (Caron et al. 2018) on 28x28 grey-scale images.

python -m zoo.train --method=deep_cluster --dataset=fashion_mnist --model_dir=runs/deep_cluster
python -m zoo.train --method=deep_cluster --dataset=fashion_mnist --model_dir=runs/quick --quick

Every epoch starts with a clustering of the training images' features
(PCA to `pca_dim`, whitening, L2 normalisation, k-means with k clusters):
the pseudo-labels are one row per training image, so the model takes
`num_examples` from the data (`model_from_data`) and trains on
`(images, indices)` batches; the recipe adds the model's
`training_callbacks`, a `DeepClusterCallback(x_train, y_train)` that logs
`clustering_seconds`, `nmi_previous` and `nmi_labels` each epoch. The paper's settings: 20
k-means iterations, SGD 0.05 with momentum 0.9 and weight decay 1e-5,
crops and flips; k = 100 for Fashion-MNIST (the paper's 10000 is for
ImageNet; it finds k ~ 10x the classes best). The re-initialised head needs
enough steps between clusterings to learn: on the digits learns-test one
pass per clustering (21 steps) lost to random init and ~9 passes (100 steps)
beat it; one pass over Fashion-MNIST is 234 steps of 256 (39 for the quick
10000 images). Not yet measured on Fashion-MNIST at the full budget.
"""

from zoo.configs.contrastive import contrastive_config


def get_config(quick=False):
    model = {
        "class": "DeepCluster",
        "num_clusters": 100,
        "pca_dim": 256,
        "hidden_dims": [],
        "sobel": False,
        "uniform_sampling": True,
        "kmeans_iterations": 20,
        "kmeans_backend": "sklearn",
    }
    optimizer = {"class": "SGD", "learning_rate": 0.05, "momentum": 0.9, "weight_decay": 1e-5}
    # (images, indices) batches: the pseudo-labels' rows; one pass over the
    # training images per clustering.
    return contrastive_config(
        model, optimizer, quick, model_from_data=["num_examples"], with_indices=True, steps_per_epoch=None
    )
