"""DeepCluster: k-means pseudo-labels of the network's own features (Caron et al. 2018)."""

import numbers
import time

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.augment.simclr_augmenter import SimCLRAugmenter
from keras_ssl.clustering import KMEANS_BACKENDS, kmeans, preprocess_features
from keras_ssl.methods.contrastive.base import ContrastiveMethod


def cluster_balancing_weights(assignments, num_clusters):
    """Per-example loss weights that give every non-empty cluster the same
    total weight: `w_i = N / (K * size(c_i))`, with `K` the number of
    non-empty clusters, so the weights average 1 over the `N` examples.

    Weighting the loss of a fixed dataset this way equals, in expectation,
    DeepCluster's sampling of images uniformly over the clusters (draw a
    cluster uniformly, then an image in it).

    Args:
        assignments: int `[N]`. Cluster of every example, in `[0, num_clusters)`.
        num_clusters: int.

    Returns:
        float32 `[N]`.
    """
    assignments = tf.cast(assignments, tf.int32)
    sizes = tf.cast(tf.math.bincount(assignments, minlength=num_clusters, maxlength=num_clusters), tf.float32)
    nonempty = tf.reduce_sum(tf.cast(sizes > 0, tf.float32))
    count = tf.cast(tf.size(assignments), tf.float32)
    return count / (nonempty * tf.gather(sizes, assignments))


@keras.saving.register_keras_serializable(package="keras_ssl")
class SobelFilter(keras.layers.Layer):
    """DeepCluster's fixed input transform: grey scale, then the two Sobel
    gradients (horizontal, vertical), zero padded to the same size.

    Takes pixels in [0, 255] with any number of channels (their mean is the
    grey level) and returns 2 channels divided by 4, so they stay in
    [-255, 255] (a backbone's 1/255 rescaling puts them in [-1, 1]).

    Example:

    >>> SobelFilter()(np.zeros((2, 28, 28, 1), "float32")).shape
    TensorShape([2, 28, 28, 2])
    """

    def call(self, inputs):
        inputs = tf.cast(inputs, tf.float32)
        grey = tf.reduce_mean(inputs, axis=-1, keepdims=True)
        gx = tf.constant([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]) / 4.0
        kernel = tf.stack([gx, tf.transpose(gx)], axis=-1)[:, :, None, :]  # [3, 3, 1, 2]
        return tf.nn.conv2d(grey, kernel, strides=1, padding="SAME")

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], 2)


@keras.saving.register_keras_serializable(package="keras_ssl")
class DeepCluster(ContrastiveMethod):
    """DeepCluster: the network classifies images into the k-means clusters
    of its own features, re-clustered every epoch.

    Caron, Bojanowski, Joulin and Douze, "Deep Clustering for Unsupervised
    Learning of Visual Features" (ECCV 2018). Each epoch alternates two
    steps. Clustering (`cluster`, run by `DeepClusterCallback` at the start
    of every epoch, before its first step): the features of every training
    image (un-augmented, inference mode) are PCA-reduced to `pca_dim`
    dimensions, whitened and L2-normalised (`keras_ssl.clustering.
    preprocess_features`), and k-means (`keras_ssl.clustering.kmeans`,
    20 iterations, empty clusters filled by splitting a non-empty one) gives
    every image a pseudo-label in `[0, num_clusters)`; the classifier head is
    then re-initialised (new random weights, zero bias, and its optimizer
    slots set to zero: the paper builds a new optimizer for the top layer
    each epoch). Training: a cross-entropy between the head's prediction on
    an augmented view and the image's pseudo-label. To avoid the trivial
    solution where a few clusters take every image, the paper samples
    images uniformly over clusters; here `fit` runs over a fixed dataset, so
    (with `uniform_sampling`) each example's loss is weighted by
    `N / (K * size of its cluster)` (`cluster_balancing_weights`: every
    cluster has the same total weight and the weights average 1), which
    equals uniform sampling over clusters in expectation.

    The pseudo-labels live in the non-trainable int32 weight
    `pseudo_labels` `[num_examples]` (-1 before the first clustering;
    `fit` refuses to train then), `aggregation="none"` and written whole by
    the callback, so every replica holds the same labels; `clusterings`
    counts the clusterings done (it seeds k-means and the head's new
    weights, so a resumed run continues the same sequence). Under a strategy
    the clustering runs on the host from `predict` features, so 1 and N
    replicas give the same assignments.

    The paper's defaults are kept: k = 10000 clusters (ImageNet), PCA to 256
    dimensions, 20 k-means iterations, SGD with learning rate 0.05, momentum
    0.9 and weight decay 1e-5 (`default_optimizer`), random resized crops
    and horizontal flips. Sobel filtering (grey scale, then 2 gradient
    channels; the paper's input for its best models) is an option: the
    backbone then takes 2 channels and the raw images `input_channels`.
    Changed for 28x28 / 8x8 images: k = 100 for Fashion-MNIST (zoo config)
    and 30-50 for the 1347 digits (the paper finds k ~ 10x the classes
    best); PCA is capped at the feature size (a small ConvNet gives 64
    features, fewer than 256); crops cover 20-100% of the image (8-100% on
    ImageNet) since small crops of 28x28 images keep little; the classifier
    is one linear layer on the pooled features (the paper's fully
    connected layers belong to AlexNet/VGG; `hidden_dims` adds an MLP,
    whose output is then what is clustered, as in the paper). Sobel is off
    by default (grey images have no colour to suppress).

    `fit` takes `(images, indices)` batches: raw pixels in [0, 255] and each
    image's int index in `[0, num_examples)` (the row of its pseudo-label),
    with `callbacks=[DeepClusterCallback(images)]` given the same training
    images in index order. Reports `loss` and `accuracy` (on the
    pseudo-labels); the callback adds `clustering_seconds`,
    `nmi_previous` (NMI with the previous clustering, from the second)
    and `nmi_labels` (with true labels, when it has them). `predict` gives
    the backbone's features; `encoder` is the network to export (the
    backbone, after the Sobel filter when `sobel`).

    Args:
        backbone: keras.Model. Encoder from raw pixels to features `[B, D]`
            (2 input channels when `sobel`).
        num_examples: int. `N`, the number of training images.
        num_clusters: int. `k`, at most `num_examples` (10000).
        pca_dim: int. PCA dimensions before k-means (256; capped at D).
        hidden_dims: sequence of int. Widths of a ReLU MLP between the
            backbone and the classifier (empty: the classifier sits on the
            backbone's features).
        sobel: bool. Apply `SobelFilter` to the raw images (False).
        input_channels: int. Channels of the raw images when `sobel` (1).
        uniform_sampling: bool. Weight each example by
            `cluster_balancing_weights` (True); False: plain mean.
        kmeans_iterations: int. Lloyd iterations per clustering (20).
        kmeans_backend: str. "numpy", "tf" or "sklearn" ("numpy").
        augmenter: keras.layers.Layer. View maker; random resized crops
            (20-100%) and flips (`SimCLRAugmenter` without colour changes)
            by default.
        seed: int. Seed of the default augmenter, k-means and the head's
            re-initialisations.

    Example:

    >>> backbone = keras_ssl.backbones.ResNet(input_shape=(28, 28, 1), depth=8, width=8)
    >>> model = DeepCluster(backbone, num_examples=len(images), num_clusters=100)
    >>> model.compile()
    >>> model.fit(images, np.arange(len(images)), batch_size=256, epochs=10,
    ...           callbacks=[DeepClusterCallback(images, labels)])
    >>> embeddings = model.predict(images)
    """

    metric_names = ("loss", "accuracy")

    def __init__(
        self,
        backbone,
        num_examples,
        num_clusters=10000,
        pca_dim=256,
        hidden_dims=(),
        sobel=False,
        input_channels=1,
        uniform_sampling=True,
        kmeans_iterations=20,
        kmeans_backend="numpy",
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        name = type(self).__name__
        if not isinstance(backbone, keras.Model):
            raise ValueError(
                f"backbone must be a keras.Model from images to features, got {type(backbone).__name__}: "
                "pass e.g. keras_ssl.backbones.ResNet(input_shape=...)"
            )
        for arg, value in (
            ("num_examples", num_examples),
            ("num_clusters", num_clusters),
            ("pca_dim", pca_dim),
            ("input_channels", input_channels),
            ("kmeans_iterations", kmeans_iterations),
        ):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{arg} must be an int >= 1, got {value!r}")
        if num_clusters < 2 or num_clusters > num_examples:
            raise ValueError(
                f"num_clusters must be between 2 and num_examples={num_examples}, got {num_clusters}: k-means "
                "needs at least one image per cluster"
            )
        hidden_dims = tuple(hidden_dims or ())
        if any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1 for d in hidden_dims):
            raise ValueError(f"hidden_dims must be ints >= 1 (the MLP's widths), got {hidden_dims!r}")
        if kmeans_backend not in KMEANS_BACKENDS:
            raise ValueError(f"kmeans_backend must be one of {', '.join(KMEANS_BACKENDS)}, got {kmeans_backend!r}")
        if len(backbone.output_shape) != 2:
            raise ValueError(
                f"{name} needs a backbone with pooled features [batch, dim], got output shape "
                f"{backbone.output_shape}: pool the feature map (e.g. keras.layers.GlobalAveragePooling2D)"
            )
        if sobel and backbone.input_shape[-1] != 2:
            raise ValueError(
                f"with sobel=True the backbone takes the 2 Sobel channels, got a backbone for "
                f"{backbone.input_shape[-1]} channels: build it with input_shape=(height, width, 2)"
            )
        # Read by `image_shape` while the base class builds the augmenter.
        object.__setattr__(self, "_raw_channels", int(input_channels) if sobel else None)
        super().__init__(backbone=backbone, augmenter=augmenter, seed=seed, **kwargs)
        # === Config ===
        self.num_examples = int(num_examples)
        self.num_clusters = int(num_clusters)
        self.pca_dim = int(pca_dim)
        self.hidden_dims = hidden_dims
        self.sobel = bool(sobel)
        self.input_channels = int(input_channels)
        self.uniform_sampling = bool(uniform_sampling)
        self.kmeans_iterations = int(kmeans_iterations)
        self.kmeans_backend = kmeans_backend
        # === Layers and state ===
        self.sobel_filter = SobelFilter(name="sobel") if self.sobel else None
        self.hidden_layers = []
        shape = self.backbone.output_shape
        for i, width in enumerate(self.hidden_dims):
            layer = keras.layers.Dense(width, activation="relu", name=f"hidden_{i}")
            layer.build(shape)
            shape = (None, width)
            self.hidden_layers.append(layer)
        self.classifier = keras.layers.Dense(self.num_clusters, name="classifier")
        self.classifier.build(shape)
        self.pseudo_labels = self.add_weight(
            shape=(self.num_examples,),
            initializer=keras.initializers.Constant(-1),
            dtype="int32",
            trainable=False,
            aggregation="none",
            name="pseudo_labels",
        )
        self.clusterings = self.add_weight(
            shape=(), initializer="zeros", dtype="int32", trainable=False, aggregation="none", name="clusterings"
        )
        self.built = True

    def default_augmenter(self):
        return SimCLRAugmenter(
            image_shape=self.image_shape,
            crop_scale=(0.2, 1.0),
            flip=True,
            jitter_rate=0.0,
            grayscale_rate=0.0,
            seed=self.seed,
            name="augmenter",
        )

    def default_optimizer(self):
        return keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, weight_decay=1e-5)

    # --- networks ------------------------------------------------------
    @property
    def image_shape(self):
        shape = tuple(self.backbone.input_shape[1:])
        channels = getattr(self, "_raw_channels", None)
        return shape if channels is None else (*shape[:2], channels)

    @property
    def encoder(self):
        """The network to export: raw pixels to the backbone's features
        (through the Sobel filter when `sobel`)."""
        if not self.sobel:
            return self.backbone
        return self._functional("_sobel_encoder", [self.sobel_filter, self.backbone])

    @property
    def clustering_network(self):
        """Raw pixels to the features that are clustered: the encoder, then
        the MLP of `hidden_dims` when there is one."""
        if not self.hidden_layers:
            return self.encoder
        return self._functional("_clustering_network", [self.encoder, *self.hidden_layers])

    def _functional(self, attribute, layers):
        model = self.__dict__.get(attribute)
        if model is None:
            inputs = keras.Input(shape=self.image_shape, dtype="float32", name="images")
            outputs = inputs
            for layer in layers:
                outputs = layer(outputs)
            model = keras.Model(inputs, outputs, name=f"{self.name}{attribute}")
            object.__setattr__(self, attribute, model)  # Not tracked: its weights are the model's own.
        return model

    def features(self, images, training=False):
        """Clustered features of (already augmented) float images."""
        x = self.sobel_filter(images) if self.sobel else images
        x = self.backbone(x, training=training)
        for layer in self.hidden_layers:
            x = layer(x, training=training)
        return x

    def call(self, inputs, training=False):
        images = self.prepare_images(inputs)
        return self.backbone(self.sobel_filter(images) if self.sobel else images, training=training)

    # --- data ----------------------------------------------------------
    def unpack_batch(self, data):
        return self.unpack_indexed_batch(data)

    @classmethod
    def training_callbacks(cls, images, labels=None):
        """What `fit` needs beside the data: a `DeepClusterCallback` on the
        training `images` (in index order), reporting NMI with `labels`."""
        return [DeepClusterCallback(images, labels)]

    # --- training ------------------------------------------------------
    def fit(self, *args, callbacks=None, **kwargs):
        """`keras.Model.fit`; refuses to start without pseudo-labels, i.e.
        without a `DeepClusterCallback` and before any `cluster` call."""
        has_callback = any(isinstance(c, DeepClusterCallback) for c in (callbacks or ()))
        if not has_callback and int(np.min(keras.ops.convert_to_numpy(self.pseudo_labels))) < 0:
            raise ValueError(
                f"{type(self).__name__} has no pseudo-labels yet: pass callbacks=[DeepClusterCallback(images)] "
                "(it clusters the training images before every epoch) or call model.cluster(images) first"
            )
        return super().fit(*args, callbacks=callbacks, **kwargs)

    def compute_losses(self, batch, training):
        images, indices = batch["images"], batch["indices"]
        (view,) = self.views(images, count=1)
        logits = tf.cast(self.classifier(self.features(view, training=training)), tf.float32)
        all_labels = self.pseudo_labels.value
        check = tf.debugging.assert_non_negative(
            all_labels,
            message=f"{type(self).__name__} has no pseudo-labels yet: fit with callbacks=[DeepClusterCallback(images)]",
        )
        with tf.control_dependencies([check] if check is not None else []):
            all_labels = tf.identity(all_labels)
        labels = tf.gather(all_labels, indices)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        if self.uniform_sampling:
            weights = tf.gather(cluster_balancing_weights(all_labels, self.num_clusters), indices)
            losses = losses * tf.stop_gradient(weights)
        hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels)
        return {"loss": tf.reduce_mean(losses), "accuracy": tf.reduce_mean(tf.cast(hits, tf.float32))}

    # --- clustering ----------------------------------------------------
    def cluster(self, images, backend=None, batch_size=512):
        """Clusters the features of the training `images` (in index order)
        and starts a new round: writes the pseudo-labels, re-initialises the
        classifier and its optimizer slots, counts the clustering.

        Runs on the host, outside any step (the callback calls it at the
        start of an epoch): `predict` features, then NumPy / TF / sklearn
        k-means; the same weights and count give the same labels on any
        number of replicas.

        Args:
            images: uint8 or float array `[num_examples, H, W, C]`.
            backend: str. k-means backend (`kmeans_backend` when None).
            batch_size: int. Batch size of the feature extraction.

        Returns:
            int32 NumPy array `[num_examples]`: the new pseudo-labels.
        """
        from keras_ssl.evaluation import extract_features

        name = type(self).__name__
        images = np.asarray(images)
        if images.ndim != 4 or len(images) != self.num_examples:
            raise ValueError(
                f"{name} clusters its {self.num_examples} training images [num_examples, height, width, channels], "
                f"got shape {images.shape}: pass the images that the indices point at, in index order"
            )
        backend = backend or self.kmeans_backend
        count = int(keras.ops.convert_to_numpy(self.clusterings))
        features = extract_features(self.clustering_network, images, batch_size=batch_size)
        x = preprocess_features(features, self.pca_dim)
        seed = np.random.SeedSequence([0 if self.seed is None else int(self.seed), count])
        _, assignments = kmeans(
            x, self.num_clusters, iterations=self.kmeans_iterations, seed=np.random.default_rng(seed), backend=backend
        )
        self.pseudo_labels.assign(assignments.astype("int32"))
        self.reset_classifier(np.random.default_rng(seed.spawn(1)[0]))
        self.clusterings.assign(count + 1)
        return assignments

    def reset_classifier(self, rng=None):
        """New random (Glorot-uniform) weights and a zero bias for the
        classifier, and zero optimizer slots for them (momentum, Adam
        moments); the optimizer's step count is shared and kept."""
        rng = rng if rng is not None else np.random.default_rng()
        kernel = self.classifier.kernel
        fan_in, fan_out = kernel.shape
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        kernel.assign(rng.uniform(-limit, limit, size=kernel.shape).astype(kernel.dtype))
        self.classifier.bias.assign(np.zeros(self.classifier.bias.shape, self.classifier.bias.dtype))
        optimizer = getattr(self, "optimizer", None)
        if optimizer is None:
            return
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = optimizer.inner_optimizer
        prefixes = tuple(f"{w.path.replace('/', '_')}_" for w in self.classifier.weights)
        for variable in optimizer.variables:
            if variable.name.startswith(prefixes):
                variable.assign(np.zeros(variable.shape, variable.dtype))

    # --- serialization -------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_examples": self.num_examples,
                "num_clusters": self.num_clusters,
                "pca_dim": self.pca_dim,
                "hidden_dims": list(self.hidden_dims),
                "sobel": self.sobel,
                "input_channels": self.input_channels,
                "uniform_sampling": self.uniform_sampling,
                "kmeans_iterations": self.kmeans_iterations,
                "kmeans_backend": self.kmeans_backend,
            }
        )
        return config


class DeepClusterCallback(keras.callbacks.Callback):
    """Re-clusters a `DeepCluster` model's training images at the start of
    every `every`-th epoch (before its first step, so the first epoch
    already trains on real pseudo-labels) and reports the clustering in the
    epoch's logs (so `history.history` has them):

    - `clustering_seconds`: time of features + PCA + k-means;
    - `nmi_previous`: normalised mutual information between these and the
      previous clustering's assignments (from the second clustering on);
    - `nmi_labels`: NMI with `labels`, when given.

    Put it before `CSVLogger`, `TensorBoard` or checkpoint callbacks so they
    see the values. Works under a strategy: features come from `predict`,
    k-means runs on the host, the labels are written whole to every replica.

    Args:
        images: uint8 array `[num_examples, H, W, C]`: the training images in
            index order.
        labels: optional int array `[num_examples]` of true classes.
        backend: str. k-means backend (the model's `kmeans_backend` if None).
        every: int. Epoch interval of the clustering (1: every epoch).
        verbose: int. 1 prints one line per clustering.

    Example:

    >>> model.fit(images, np.arange(len(images)), epochs=10, callbacks=[DeepClusterCallback(images, labels)])
    """

    def __init__(self, images, labels=None, backend=None, every=1, verbose=0):
        super().__init__()
        images = np.asarray(images)
        if images.ndim != 4:
            raise ValueError(
                f"DeepClusterCallback takes images [num_examples, height, width, channels], got shape {images.shape}"
            )
        if labels is not None:
            labels = np.asarray(labels).reshape(-1)
            if len(labels) != len(images):
                raise ValueError(f"DeepClusterCallback got {len(images)} images but {len(labels)} labels")
        if backend is not None and backend not in KMEANS_BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(KMEANS_BACKENDS)}, got {backend!r}")
        if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
            raise ValueError(f"every must be an int >= 1 (epochs between clusterings), got {every!r}")
        self.images, self.labels, self.backend = images, labels, backend
        self.every, self.verbose = int(every), int(verbose)
        self.previous = None
        self._logs = {}

    def on_epoch_begin(self, epoch, logs=None):
        from sklearn.metrics import normalized_mutual_info_score

        self._logs = {}
        if epoch % self.every != 0:
            return
        if not isinstance(self.model, DeepCluster):
            raise ValueError(f"DeepClusterCallback needs a DeepCluster model, got {type(self.model).__name__}")
        start = time.perf_counter()
        assignments = self.model.cluster(self.images, backend=self.backend)
        self._logs["clustering_seconds"] = time.perf_counter() - start
        if self.previous is not None:
            self._logs["nmi_previous"] = float(normalized_mutual_info_score(self.previous, assignments))
        if self.labels is not None:
            self._logs["nmi_labels"] = float(normalized_mutual_info_score(self.labels, assignments))
        self.previous = assignments
        if self.verbose:
            print(
                f"DeepCluster epoch {epoch + 1}: " + ", ".join(f"{k} {v:.4f}" for k, v in self._logs.items()),
                flush=True,
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self._logs)
