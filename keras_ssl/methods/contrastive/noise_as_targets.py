"""Noise As Targets: features aligned to fixed random targets (Bojanowski & Joulin 2017)."""

import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.augment.simclr_augmenter import SimCLRAugmenter
from keras_ssl.distribute import cross_replica_concat
from keras_ssl.layers.memory_bank import scatter_rows
from keras_ssl.losses.assignment import auction_assignment
from keras_ssl.methods.contrastive.base import ContrastiveMethod


def _solve_assignment(cost):
    from scipy.optimize import linear_sum_assignment

    rows, columns = linear_sum_assignment(np.asarray(cost, dtype=np.float64))
    assignment = np.empty(len(rows), dtype=np.int32)
    assignment[rows] = columns
    return assignment


def optimal_assignment(cost):
    """The linear assignment of least total cost (the Hungarian algorithm).

    Solves `min_P sum_i cost[i, P(i)]` over the permutations `P` of
    `[0, n)` with scipy's `linear_sum_assignment`, run behind
    `tf.numpy_function` (so it works in a `tf.function` train step; not in
    an XLA-compiled one). Deterministic: the same `cost` gives the same
    permutation on every replica.

    Args:
        cost: float `[n, n]`. `cost[i, j]`: the cost of giving row `i`
            the column `j`.

    Returns:
        int32 `[n]`: the column of each row, a permutation of `[0, n)`.

    Example:

    >>> optimal_assignment(np.array([[4.0, 1.0], [2.0, 8.0]])).numpy()
    array([1, 0], dtype=int32)
    """
    cost = tf.convert_to_tensor(cost)
    if not cost.dtype.is_floating:
        cost = tf.cast(cost, tf.float32)
    shape = cost.shape
    if shape.rank is not None and (shape.rank != 2 or (None not in shape and shape[0] != shape[1])):
        raise ValueError(
            f"optimal_assignment takes a square cost matrix [n, n], got shape {tuple(shape)}: give one row and one "
            "column per item to assign"
        )
    assignment = tf.numpy_function(_solve_assignment, [cost], tf.int32, stateful=False)
    assignment.set_shape(shape[:1] if shape.rank is not None else [None])
    return assignment


def _sphere_initializer(seed):
    """Initial targets: rows drawn uniformly on the unit sphere (normalised Gaussians) from `seed`."""

    def initializer(shape, dtype=None):
        rows = np.random.default_rng(seed).standard_normal(shape)
        rows /= np.linalg.norm(rows, axis=-1, keepdims=True)
        return tf.constant(rows, dtype="float32")

    return initializer


def _permutation_initializer(seed):
    """Initial assignment: a random permutation of `[0, n)` from `seed`."""

    def initializer(shape, dtype=None):
        return tf.constant(np.random.default_rng(seed).permutation(shape[0]), dtype="int32")

    return initializer


@keras.saving.register_keras_serializable(package="keras_ssl")
class NoiseAsTargets(ContrastiveMethod):
    """Noise As Targets (NAT): each image's embedding is pulled to its own
    fixed random point on the unit sphere, and the images trade targets.

    Bojanowski and Joulin, "Unsupervised Learning by Predicting Noise"
    (ICML 2017). `n = num_examples` targets `c_j` are drawn once, uniformly
    on the unit sphere of `R^d` (normalised Gaussians, from `seed`), and
    never change (the non-trainable `targets` variable, `[n, d]`). The
    backbone's features go through a linear projection to `d` and are
    L2-normalised: `z = f(x)`. A one-to-one assignment `P` gives each
    image `i` a target `c_P(i)` (the non-trainable int32 `assignment`
    variable, `[n]`, initially a random permutation), and the loss of an
    image is the paper's square loss `1/2 ||z_i - c_P(i)||^2` (the paper's
    `1/(2n) ||f(X) - P C||_F^2` over the batch; with unit vectors it is
    `1 - z_i . c_P(i)`), averaged over this replica's images.

    The assignment is optimised batch-wise, as in the paper's Algorithm 1:
    each step computes the batch's embeddings; on reassignment steps the
    targets currently held by the batch's images are re-permuted among
    those images to minimise the total squared distance to their new
    embeddings (`optimal_assignment`, the Hungarian algorithm on the
    `[B, B]` cost matrix), the assignment variable is updated, and the
    gradient step uses the new assignment. The paper reassigns every 3
    epochs: reassignment happens during every epoch whose index (from 0,
    counted as `optimizer.iterations // steps_per_epoch`) is a multiple of
    `reassign_every`. Without `steps_per_epoch` (None) the model cannot
    know the epochs and reassigns on every step; `reassign_every=0` never
    reassigns (the initial random permutation is kept).

    Under a `tf.distribute` strategy the batch is the global batch: the
    embeddings and indices of all replicas are gathered
    (`cross_replica_concat`), every replica solves the same assignment
    problem (deterministic), writes the same rows of its copy of
    `assignment` (`scatter_rows`), and takes the loss of its own images.
    An image index may appear at most once in a global batch (otherwise
    re-permuting the batch's targets could give one target to two images).

    Defaults: `d` is the backbone's feature dimension (None), as in the
    paper; reassignment every 3 epochs; one view per image per step from
    random crops and horizontal flips (the paper's augmentation); SGD with
    momentum as the paper (`compile()` without an optimizer gives
    `SGD(0.01, momentum=0.9)`; the paper's batch is 256). Changed for
    28x28 / 8x8 images: no Sobel filter in front of the backbone (the
    paper's Sobel preprocessing is for colour photos; grey-scale digits
    have no colour to remove, and the filter discards most of an 8x8
    image), and the crops keep 0.2-1.0 of the image
    (`SimCLRAugmenter(crop_scale=(0.2, 1.0), jitter_strength=0)`) instead
    of ImageNet's 224-pixel crops.

    `fit` takes `(images, indices)` batches: raw pixels in [0, 255] and each
    image's int index in `[0, num_examples)`, e.g.
    `keras_ssl.data.image_batches(x, batch_size, labels=np.arange(len(x)))`
    or `fit(x, np.arange(len(x)))`. Reports `loss` and, while training,
    `reassigned` (the fraction of the global batch whose target changed
    this step). `evaluate` computes the loss with the current assignment
    and changes nothing. `predict` gives the backbone's features; `encoder`
    is the backbone.

    Args:
        backbone: keras.Model. Encoder from raw pixels to features.
        num_examples: int. `n`, the number of training images (and of
            targets).
        target_dim: int or None. `d`, the size of the targets and of the
            normalised embedding (None: the backbone's feature dimension,
            as in the paper).
        reassign_every: int >= 0. Reassign during every `reassign_every`-th
            epoch (3, as in the paper); 0 never reassigns.
        steps_per_epoch: int or None. Steps in one epoch, to count epochs
            (None: reassign on every step).
        assignment_solver: `"hungarian"` (SciPy's `linear_sum_assignment`
            behind `tf.numpy_function`: fastest on a CPU, but XLA cannot
            compile it) or `"auction"` (`keras_ssl.losses.auction_assignment`,
            TensorFlow ops: for `jit_compile=True` and TPUs; the same
            assignment up to `n * 1e-5` of total cost).
        augmenter: keras.layers.Layer. View maker; random crops and flips
            for the backbone's input shape by default.
        seed: int. Seed of the default augmenter, the targets and the
            initial assignment.

    Example:

    >>> backbone = keras_ssl.backbones.ResNet(input_shape=(28, 28, 1), depth=8, width=8)
    >>> steps = len(images) // 256
    >>> model = NoiseAsTargets(backbone, num_examples=len(images), steps_per_epoch=steps)
    >>> model.compile()
    >>> model.fit(keras_ssl.data.image_batches(images, 256, labels=np.arange(len(images))), epochs=30)
    >>> embeddings = model.predict(images)
    """

    metric_names = ("loss", "reassigned")

    def __init__(
        self,
        backbone,
        num_examples,
        target_dim=None,
        reassign_every=3,
        steps_per_epoch=None,
        assignment_solver="hungarian",
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(backbone=backbone, augmenter=augmenter, seed=seed, **kwargs)
        if assignment_solver not in ("hungarian", "auction"):
            raise ValueError(f"assignment_solver must be 'hungarian' or 'auction', got {assignment_solver!r}")
        self.assignment_solver = assignment_solver
        # SciPy's solver runs behind `tf.numpy_function`, which XLA cannot
        # compile: say so, so that jit_compile=True fails with one line
        # (require_jit_compile) instead of at the first step.
        self.supports_jit = assignment_solver == "auction"
        self.xla_hint = "build it with assignment_solver='auction' (TensorFlow ops) to train under XLA"

        def is_int(value):
            return not isinstance(value, bool) and isinstance(value, numbers.Integral)

        if not is_int(num_examples) or num_examples < 1:
            raise ValueError(f"num_examples must be an int >= 1 (the number of training images), got {num_examples!r}")
        if target_dim is not None and (not is_int(target_dim) or target_dim < 1):
            raise ValueError(
                f"target_dim must be an int >= 1, or None for the backbone's feature dimension, got {target_dim!r}"
            )
        if not is_int(reassign_every) or reassign_every < 0:
            raise ValueError(
                f"reassign_every must be an int >= 0 (epochs between reassignments; 0: never), got {reassign_every!r}"
            )
        if steps_per_epoch is not None and (not is_int(steps_per_epoch) or steps_per_epoch < 1):
            raise ValueError(
                f"steps_per_epoch must be an int >= 1, or None to reassign on every step, got {steps_per_epoch!r}"
            )
        feature_shape = self.backbone.output_shape
        if not isinstance(feature_shape, tuple) or len(feature_shape) != 2 or feature_shape[-1] is None:
            raise ValueError(
                f"NoiseAsTargets needs a backbone that returns pooled features [batch, dim], got output shape "
                f"{feature_shape}: pool the backbone's output"
            )
        # === Config ===
        self.num_examples = int(num_examples)
        self.target_dim = None if target_dim is None else int(target_dim)
        self.reassign_every = int(reassign_every)
        self.steps_per_epoch = None if steps_per_epoch is None else int(steps_per_epoch)
        dim = self.target_dim if self.target_dim is not None else int(feature_shape[-1])
        # === Layers and state ===
        self.projection = keras.layers.Dense(dim, name="projection")
        self.projection.build(feature_shape)
        self.targets = self.add_weight(
            shape=(self.num_examples, dim),
            initializer=_sphere_initializer(seed),
            dtype="float32",
            trainable=False,
            aggregation="none",
            autocast=False,
            name="targets",
        )
        self.assignment = self.add_weight(
            shape=(self.num_examples,),
            initializer=_permutation_initializer(None if seed is None else seed + 1),
            dtype="int32",
            trainable=False,
            aggregation="none",
            autocast=False,
            name="assignment",
        )
        self.built = True

    def default_augmenter(self):
        return SimCLRAugmenter(
            image_shape=self.image_shape,
            crop_scale=(0.2, 1.0),
            flip=True,
            jitter_strength=0.0,
            grayscale_rate=0.0,
            seed=self.seed,
            name="augmenter",
        )

    def default_optimizer(self):
        return keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)

    # --- data ----------------------------------------------------------
    def unpack_batch(self, data):
        return self.unpack_indexed_batch(data)

    # --- training ------------------------------------------------------
    def embed(self, images, training=False):
        """The L2-normalised embeddings `z` of (already augmented) images."""
        features = self.backbone(images, training=training)
        return tf.math.l2_normalize(tf.cast(self.projection(features), tf.float32), axis=-1)

    def reassign_now(self):
        """Whether this training step reassigns (a bool scalar tensor)."""
        if self.reassign_every == 0:
            return tf.constant(False)
        if self.steps_per_epoch is None:
            return tf.constant(True)
        if getattr(self, "optimizer", None) is None:
            raise ValueError(
                f"{type(self).__name__} counts epochs with its optimizer's steps: compile it before training"
            )
        epoch = tf.cast(self.optimizer.iterations, tf.int64) // self.steps_per_epoch
        return tf.equal(epoch % self.reassign_every, 0)

    def reassign(self, embeddings, indices):
        """The batch's new targets: the targets the global batch's images
        hold, re-permuted among them to minimise the total squared
        distance to `embeddings` (when `reassign_now()`; unchanged
        otherwise). Returns `(local, changed, rows)`: this replica's images'
        new target indices (int32 `[b]`), the fraction of the global batch
        whose target changed, and `(indices, targets)` of the whole global
        batch (the same on every replica: what `after_update` writes)."""
        all_embeddings, offset = cross_replica_concat(tf.stop_gradient(embeddings))
        all_indices, _ = cross_replica_concat(indices)
        count = tf.shape(all_indices)[0]
        unique = tf.debugging.assert_equal(
            tf.size(tf.unique(all_indices).y),
            count,
            message=(
                f"{type(self).__name__} got an image index twice in one (global) batch: each image must appear at "
                "most once per batch (batch a shuffled dataset without repeating it inside a batch)"
            ),
        )
        with tf.control_dependencies([unique] if unique is not None else []):
            current = tf.gather(self.assignment.value, all_indices)
        candidates = tf.gather(self.targets.value, current)
        # ||z_i - c_j||^2 for every pair of the batch's images and held targets.
        cost = (
            tf.reduce_sum(tf.square(all_embeddings), axis=-1, keepdims=True)
            + tf.reduce_sum(tf.square(candidates), axis=-1)[None, :]
            - 2.0 * tf.matmul(all_embeddings, candidates, transpose_b=True)
        )
        # No collective op in either branch: the cond is safe under a strategy.
        permutation = tf.cond(
            self.reassign_now(), lambda: self.solve_assignment(cost), lambda: tf.range(count, dtype=tf.int32)
        )
        new = tf.gather(current, permutation)
        changed = tf.reduce_mean(tf.cast(tf.not_equal(new, current), tf.float32))
        local = new[offset : offset + tf.shape(indices)[0]]
        return local, changed, (all_indices, new)

    def solve_assignment(self, cost):
        """The permutation of least total `cost` with the configured solver."""
        if self.assignment_solver == "auction":
            return auction_assignment(cost)
        return optimal_assignment(cost)

    def compute_losses(self, batch, training):
        images, indices = batch["images"], batch["indices"]
        (view,) = self.views(images, count=1)
        embeddings = self.embed(view, training=training)
        results = {}
        if training:
            assigned, results["reassigned"], batch["global_rows"] = self.reassign(embeddings, indices)
            batch["assigned"] = assigned
        else:
            assigned = tf.gather(self.assignment.value, indices)
        targets = tf.gather(self.targets.value, assigned)
        results["loss"] = tf.reduce_mean(0.5 * tf.reduce_sum(tf.square(embeddings - targets), axis=-1))
        return results

    def after_update(self, batch):
        # Every replica's rows, gathered already by `reassign`.
        scatter_rows(self.assignment, *batch["global_rows"], gathered=True)

    # --- serialization -------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_examples": self.num_examples,
                "target_dim": self.target_dim,
                "reassign_every": self.reassign_every,
                "steps_per_epoch": self.steps_per_epoch,
                "assignment_solver": self.assignment_solver,
            }
        )
        return config
