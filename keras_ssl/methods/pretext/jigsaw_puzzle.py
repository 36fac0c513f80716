"""Jigsaw puzzles."""

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.augment.jigsaw_permutations import (
    cut_tiles,
    jigsaw_layout,
    maximal_hamming_permutations,
    shuffle_tiles,
)
from keras_ssl.augment.jigsaw_permutations import (
    normalize_tiles as per_tile_normalization,
)
from keras_ssl.layers.projection_head import ProjectionHead
from keras_ssl.methods.images import ImageMethod


@keras.saving.register_keras_serializable(package="keras_ssl")
class JigsawPuzzle(ImageMethod):
    """Jigsaw puzzles: recognise which permutation shuffled an image's tiles.

    Noroozi and Favaro, "Unsupervised Learning of Visual Representations by
    Solving Jigsaw Puzzles" (ECCV 2016). Each image is cut into a 3x3 grid
    of tiles, each tile cut at a random position inside its cell (random
    gaps, the paper's 64-px tiles of 75-px cells scaled to the image: 8 of
    9 px on 28x28) and normalised to its own mean and standard deviation,
    so that edges, gaps and brightness give no shortcut. The tiles are
    shuffled by one permutation drawn from a fixed set chosen for maximal
    Hamming distance (`maximal_hamming_permutations`), and the context-free
    network classifies the permutation: a shared tile encoder (the
    backbone) embeds each tile, the tile features are concatenated in slot
    order and an MLP head gives logits over the set. Cross-entropy loss.

    Every tile is resized to the backbone's input size, so the same backbone
    encodes whole images afterwards (`call`, `encoder` and the per-stage
    probes); a batch of `B` images makes `9 B` backbone inputs. The
    permutation set is a constructor argument, returned by `get_config`, so
    a saved model keeps its set.

    Images must be square. `fit` takes raw images: a uint8 or float array
    `[N, S, S, C]` of pixels in [0, 255], or a `tf.data.Dataset` of such
    batches; `(images, labels)` batches are accepted and the labels ignored.
    Reports `loss` and `accuracy` (permutation classification accuracy).

    Args:
        backbone: keras.Model. The tile encoder, from raw pixels to features.
        num_permutations: int. Size of the permutation set (100; the paper's
            best is 1000, out of reach of tiny 28x28 puzzles).
        permutations: int array `[num_permutations, grid_size**2]`. The set
            itself; `maximal_hamming_permutations(num_permutations,
            grid_size**2, seed=0)` if None.
        grid_size: int. Tiles per side (3).
        tile_size: int. Tile side in pixels (default 64/75 of a cell).
        normalize_tiles: bool. Per-tile mean and standard deviation
            normalisation (the paper's; mapped back to pixel units).
        head_hidden_dims: tuple of int. Hidden layers of the head on the
            concatenated tile features (the paper's fc7 of 4096 units,
            scaled down to 512).
        augmenter: keras.layers.Layer. Applied to the whole image before
            cutting (none by default; the random grid position and tile
            crops are the paper's augmentation).
        seed: int. Seed of the random crops and permutation draws.

    Example:

    >>> backbone = keras_ssl.backbones.ConvNet(input_shape=(28, 28, 1))
    >>> model = JigsawPuzzle(backbone, num_permutations=100)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(images, batch_size=64, epochs=10)  # uint8 [N, 28, 28, 1]
    >>> embeddings = model.predict(images)
    """

    metric_names = ("loss", "accuracy")

    def __init__(
        self,
        backbone,
        num_permutations=100,
        permutations=None,
        grid_size=3,
        tile_size=None,
        normalize_tiles=True,
        head_hidden_dims=(512,),
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(backbone=backbone, augmenter=augmenter, seed=seed, **kwargs)
        height = self.square_side()
        grid_size = int(grid_size)
        if grid_size < 2:
            raise ValueError(f"grid_size must be at least 2, got {grid_size}")
        num_tiles = grid_size * grid_size
        if permutations is None:
            permutations = maximal_hamming_permutations(num_permutations, num_tiles, seed=0)
        permutations = np.asarray(permutations)
        _check_permutations(permutations, num_tiles)
        if num_permutations is not None and len(permutations) != int(num_permutations):
            raise ValueError(
                f"num_permutations is {num_permutations} but permutations has {len(permutations)} rows: "
                "pass matching values (or num_permutations=None with your permutations)"
            )
        # === Config ===
        self.num_permutations = len(permutations)
        self.permutations = permutations.astype("int32")
        self.grid_size = grid_size
        self.cell_size, self.tile_size = jigsaw_layout(height, grid_size, tile_size)
        self.normalize_tiles = bool(normalize_tiles)
        self.head_hidden_dims = tuple(int(d) for d in head_hidden_dims or ())
        # === Layers ===
        self.classifier = ProjectionHead(
            output_dim=self.num_permutations, hidden_dims=self.head_hidden_dims, name="permutation_classifier"
        )
        self.classifier.build((None, num_tiles * self.backbone.output_shape[-1]))
        self.built = True

    @property
    def num_tiles(self):
        return self.grid_size * self.grid_size

    def puzzles(self, images, training=False):
        """Shuffled tiles `[B, num_tiles, H, W, C]` (resized to the
        backbone's input) and their permutation indices `[B]`."""
        tiles = cut_tiles(
            images,
            self.grid_size,
            self.tile_size,
            output_size=self.image_shape[0],
            seed=self.replica_seed_generator,
            training=training,
        )
        if self.normalize_tiles:
            tiles = per_tile_normalization(tiles)
        indices = keras.random.randint(
            (tf.shape(images)[0],), 0, self.num_permutations, seed=self.replica_seed_generator, dtype="int32"
        )
        return shuffle_tiles(tiles, self.permutations, indices), indices

    def permutation_logits(self, tiles, training=False):
        """Logits `[B, num_permutations]` of shuffled tiles `[B, T, H, W, C]`."""
        batch = tf.shape(tiles)[0]
        features = self.backbone(tf.reshape(tiles, (-1, *self.image_shape)), training=training)
        # Concatenated in slot order: the head sees where each tile was put.
        features = tf.reshape(features, (batch, self.num_tiles * features.shape[-1]))
        return tf.cast(self.classifier(features, training=training), "float32")

    def compute_losses(self, images, training):
        views = self.augmenter(images, training=training)
        tiles, labels = self.puzzles(views, training=training)
        logits = self.permutation_logits(tiles, training=training)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels)
        return {"loss": loss, "accuracy": tf.reduce_mean(tf.cast(hits, "float32"))}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_permutations": self.num_permutations,
                "permutations": self.permutations.tolist(),
                "grid_size": self.grid_size,
                "tile_size": self.tile_size,
                "normalize_tiles": self.normalize_tiles,
                "head_hidden_dims": self.head_hidden_dims,
            }
        )
        return config


def _check_permutations(permutations, num_tiles):
    if permutations.ndim != 2 or permutations.shape[1] != num_tiles:
        raise ValueError(
            f"permutations must have shape [num_permutations, {num_tiles}] for a grid of {num_tiles} tiles, "
            f"got {permutations.shape}"
        )
    if not np.array_equal(np.sort(permutations, axis=1), np.broadcast_to(np.arange(num_tiles), permutations.shape)):
        raise ValueError(f"every row of permutations must be a permutation of 0..{num_tiles - 1}")
    if len(np.unique(permutations, axis=0)) != len(permutations):
        raise ValueError("permutations has repeated rows: each class must be a different permutation")
