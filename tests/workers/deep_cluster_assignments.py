"""One DeepCluster clustering (the callback's, at the start of an epoch), on one or two replicas.

Run in a fresh process (the `cpu:N` strategy must split the CPU before
TensorFlow runs any op), first on one replica, then on two from the same
weights:

    python tests/workers/deep_cluster_assignments.py --strategy=default --output-dir=out/single
    python tests/workers/deep_cluster_assignments.py --strategy=cpu:2 --output-dir=out/mirrored --init-dir=out/single

The model is built in the strategy's scope; `DeepClusterCallback` clusters
48 random 16x16 images (features by `predict` under the strategy, k-means
on the host), then one epoch trains on them and a second clustering
follows (the pseudo-labels and the re-initialised head must be in every
replica). `DeepCluster.npz` holds `num_replicas`, the features, the first
clustering's `assignments`, the classifier's new `kernel`, the
`pseudo_labels` and `clusterings` as every replica holds them, the
`loss` of the epoch, and every weight before training (`init_<i>`).
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

NUM_EXAMPLES = 48


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", default="default", help="default or cpu:N")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--init-dir", help="output dir of an earlier run: start from its init_<i> weights")
    args = parser.parse_args(argv)
    from keras_ssl.distribute import get_strategy

    strategy = get_strategy(args.strategy)

    import keras
    import numpy as np

    from keras_ssl.backbones import ConvNet
    from keras_ssl.evaluation import extract_features
    from keras_ssl.methods.contrastive.deep_cluster import DeepCluster, DeepClusterCallback

    images = np.random.default_rng(0).integers(0, 256, size=(NUM_EXAMPLES, 16, 16, 1), dtype="uint8")
    labels = np.arange(NUM_EXAMPLES) % 3
    os.makedirs(args.output_dir, exist_ok=True)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        backbone = ConvNet(input_shape=(16, 16, 1), filters=(4, 8))
        model = DeepCluster(
            backbone, num_examples=NUM_EXAMPLES, num_clusters=6, pca_dim=6, augmenter=keras.layers.Identity(), seed=0
        )
        if args.init_dir:
            with np.load(os.path.join(args.init_dir, "DeepCluster.npz")) as saved:
                model.set_weights([saved[f"init_{i}"] for i in range(len(model.weights))])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9))
    init = [np.array(w) for w in model.get_weights()]
    features = extract_features(model.encoder, images)
    callback = DeepClusterCallback(images, labels)
    callback.set_model(model)
    callback.on_epoch_begin(0)  # What fit runs before the first step.
    assignments = np.array(callback.previous)

    def per_replica(variable):
        values = getattr(variable.value, "values", None) or [variable.value]
        return np.stack([v.numpy() for v in values])

    kernel = per_replica(model.classifier.kernel)
    history = model.fit(
        images,
        np.arange(NUM_EXAMPLES),
        batch_size=16,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[DeepClusterCallback(images, labels)],
    )
    arrays = {
        "num_replicas": np.int64(strategy.num_replicas_in_sync),
        "features": features,
        "assignments": assignments,
        "kernel": kernel,
        "pseudo_labels": per_replica(model.pseudo_labels),
        "clusterings": per_replica(model.clusterings),
        "loss": np.array(history.history["loss"]),
        "nmi_previous": np.array(history.history["nmi_previous"]),
    }
    arrays.update({f"init_{i}": w for i, w in enumerate(init)})
    np.savez(os.path.join(args.output_dir, "DeepCluster.npz"), **arrays)
    print(
        f"DeepCluster: replicas={strategy.num_replicas_in_sync} clusters={np.bincount(assignments).tolist()} "
        f"loss={arrays['loss'].tolist()}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
