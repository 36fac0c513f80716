"""Video colourisation: tracking emerges by copying colours from earlier frames."""

import copy

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.augment.ab_quantizer import ABQuantizer, fit_ab_bins
from keras_ssl.augment.color_space import lightness_pixels, rgb_to_lab
from keras_ssl.augment.resample import area_resize
from keras_ssl.methods.base import Method

# The smallest probability the cross-entropy takes the log of: a target
# colour no reference pixel has (or one the attention gives less than this)
# costs -log(1e-6) ~ 13.8 nats and no gradient, as Keras's cross-entropy
# clips at its epsilon.
MIN_PROBABILITY = 1e-6


def _attention_mass(reference_embeddings, reference_labels, target_embeddings, temperature):
    """`(mass, total)`: `mass[b, j, k] = sum_i exp(l_ij - m_j) c_ik` and
    `total[b, j] = sum_i exp(l_ij - m_j)`, where `l_ij = f_i . f_j / T` and
    `m_j = max_i l_ij` (held constant for the gradient: both logsumexps are
    invariant to it). Every `exp` is at most 1 and `total >= 1`, so nothing
    overflows, and `mass / total` is `sum_i A_ij c_i` exactly."""
    reference = tf.cast(reference_embeddings, "float32")
    target = tf.cast(target_embeddings, "float32")
    logits = tf.einsum("bjd,bid->bji", target, reference) / float(temperature)
    shift = tf.stop_gradient(tf.reduce_max(logits, axis=-1, keepdims=True))
    weights = tf.exp(logits - shift)
    mass = tf.einsum("bji,bik->bjk", weights, tf.cast(reference_labels, "float32"))
    return mass, tf.reduce_sum(weights, axis=-1)


def copy_labels(reference_embeddings, reference_labels, target_embeddings, temperature=1.0):
    """Labels of target pixels copied from reference pixels by attention.

    Vondrick et al. 2018, eq. 1: `y_j = sum_i A_ij c_i` with `A_ij =
    exp(f_i . f_j / T) / sum_k exp(f_k . f_j / T)` over every reference
    pixel `i`. With one-hot colour clusters as `c` this is the predicted
    colour distribution; with a segmentation mask's one-hot labels it is
    the paper's tracker.

    Args:
        reference_embeddings: float `[B, N, D]`. Embeddings of the N
            reference pixels (all reference frames' pixels, flattened).
        reference_labels: float `[B, N, K]`. Label distribution (one-hot
            or soft) of each reference pixel.
        target_embeddings: float `[B, M, D]`. Embeddings of the target
            pixels.
        temperature: float. Softmax temperature T (1 in training; the paper
            sharpens the attention with a lower one to track).

    Returns:
        float32 `[B, M, K]`: each target pixel's label distribution.

    Example:

    >>> y = copy_labels(tf.random.normal((1, 6, 4)), tf.one_hot([[0, 1, 1, 2, 0, 2]], 3), tf.random.normal((1, 5, 4)))
    >>> y.shape
    TensorShape([1, 5, 3])
    """
    mass, total = _attention_mass(reference_embeddings, reference_labels, target_embeddings, temperature)
    return mass / total[..., None]


def copy_colours_loss(reference_embeddings, reference_colours, target_embeddings, target_colours, temperature=1.0):
    """Cross-entropy of each target pixel's true colour under the colours
    copied from the reference pixels (Vondrick et al. 2018, eq. 2).

    With `l_ij = f_i . f_j / T`, the probability of the true cluster `c_j`
    is `y_j[c_j] = sum_i A_ij c_i[c_j]`, whose log, for one-hot `c`, is a
    masked logsumexp over the reference pixels of that colour minus the
    logsumexp over all reference pixels:

        log y_j[c_j] = logsumexp_{i: c_i = c_j} l_ij - logsumexp_i l_ij

    computed with one shift `m_j = max_i l_ij` for both (so neither
    overflows nor underflows where it matters). When no reference pixel has
    the target's colour (the masked sum is empty), or the attention puts
    less than `MIN_PROBABILITY` (1e-6) on it, the probability is clipped at
    1e-6 as Keras's cross-entropy clips at its epsilon: the pixel costs
    -log(1e-6) ~ 13.8 nats and gives no gradient.

    Args:
        reference_embeddings: float `[B, N, D]`. Reference pixels' embeddings.
        reference_colours: float `[B, N, K]`. One-hot colour cluster of each
            reference pixel (soft distributions also work: the mass of the
            true cluster is then a weighted sum).
        target_embeddings: float `[B, M, D]`. Target pixels' embeddings.
        target_colours: int `[B, M]`. True colour cluster of each target pixel.
        temperature: float. Softmax temperature T (1: the paper's loss).

    Returns:
        `(loss, probabilities)`: float32 `[B, M]` cross-entropy of each
        target pixel and float32 `[B, M, K]` the copied colour
        distributions `y_j`.

    Example:

    >>> loss, y = copy_colours_loss(f_ref, tf.one_hot(c_ref, 16), f_target, c_target)
    >>> tf.reduce_mean(loss)  # the method's loss
    """
    mass, total = _attention_mass(reference_embeddings, reference_colours, target_embeddings, temperature)
    num_colours = mass.shape[-1]
    true_mass = tf.reduce_sum(mass * tf.one_hot(target_colours, num_colours, dtype=mass.dtype), axis=-1)
    # log(max(y, eps)) with y = true_mass / total, written so no log sees 0.
    log_probability = tf.math.log(tf.maximum(true_mass, MIN_PROBABILITY * total)) - tf.math.log(total)
    return -log_probability, mass / total[..., None]


def _check_colour_centres(colour_centres):
    centres = np.asarray(colour_centres, "float32") if colour_centres is not None else np.zeros((0,))
    if centres.ndim != 2 or centres.shape[1] != 2 or len(centres) < 2:
        raise ValueError(
            f"VideoColorization colour_centres must be an array [K, 2] of ab cluster centres with K >= 2, got "
            f"shape {centres.shape}: compute them with VideoColorization.arguments_from_data(clips)"
        )
    if not np.all(np.isfinite(centres)):
        raise ValueError(
            "VideoColorization colour_centres contain NaN or Inf: compute them with "
            "VideoColorization.arguments_from_data(clips)"
        )
    return centres


def _static_or_dynamic_shape(tensor):
    """The shape as a list: static sizes where known, scalars otherwise."""
    dynamic = tf.shape(tensor)
    return [size if size is not None else dynamic[i] for i, size in enumerate(tensor.shape)]


@keras.saving.register_keras_serializable(package="keras_ssl")
class VideoColorization(Method):
    """Video colourisation: colour a grey frame by pointing to earlier frames.

    Vondrick, Shrivastava, Fathi, Guadarrama and Murphy, "Tracking Emerges
    by Colorizing Videos" (ECCV 2018). Frames are converted to CIE Lab; the
    ab channels of training frames are quantised into 16 colour clusters by
    k-means (`arguments_from_data`). A shared `embedding` network maps each
    frame's L channel (scaled to [0, 255] like a grey pixel) to a feature
    map of D-dimensional pixel embeddings `f`. Each target-frame pixel `j`
    gets the colour distribution `y_j = sum_i A_ij c_i`, where `i` runs over
    every pixel of the reference frames, `c_i` is the one-hot colour cluster
    of reference pixel `i` (its ab area-averaged to the feature map's
    resolution, then the nearest centre) and `A_ij = softmax_i(f_i . f_j /
    T)`. The loss is the cross-entropy of `y_j` with the target pixel's own
    cluster (`copy_colours_loss`; probabilities clipped at 1e-6). No colour
    can be predicted from the grey target alone, so the network has to
    learn which reference pixel is the same point: the pointer `A` is a
    tracker (`copy_labels` propagates masks with it).

    The paper uses 4 frames: 3 references and the 4th as target. Here each
    clip of T frames gives every frame `t >= r` as a target with the `r`
    frames before it as references, where `r = min(num_reference, T - 1)`
    (so a 4-frame clip is the paper's setting, longer clips average the
    loss over every window of r + 1 consecutive frames, and 2- or 3-frame
    clips fall back to fewer references). The paper's network is a
    ResNet-18 and a 3D convolutional net (256x256 frames to a 32x32 map of
    64-d embeddings); here any Keras feature-map model serves, e.g.
    `feature_map_model(ConvNet(...))`. The paper trains at T = 1 and
    sharpens the attention with T = 0.5 when it tracks; `colourise` takes
    its own temperature.

    `fit` takes clips: uint8 or float RGB frames `[B, T, H, W, 3]` in
    [0, 255] (NumPy arrays or a `tf.data.Dataset` of such batches; labels
    and sample weights are ignored). T must be known when the step is
    traced. Reports `loss` and `accuracy` (how often the most likely copied
    colour is the target pixel's cluster).

    Inputs and outputs: `call`, `predict` and `embed` take RGB frames with
    any leading axes `[..., H, W, 3]` and return their embedding maps
    `[..., h, w, D]`; `encoder` is the `embedding` network itself, which
    takes 1-channel lightness pixels `[B, H, W, 1]`.

    Args:
        embedding: keras.Model. From grey frames `[H, W, 1]` in [0, 255] to a
            feature map `[h, w, D]` (static H and W).
        colour_centres: array-like `[K, 2]`. ab centres of the colour
            clusters (16 in the paper), saved with the model.
        num_reference: int. Reference frames before each target (3).
        temperature: float. Softmax temperature T of the attention in
            training (1, the paper's loss) and the default of `colourise`.
        seed: int. Seed of the method's random draws (none at present).

    Example:

    >>> clips = np.random.default_rng(0).integers(0, 256, (64, 4, 32, 32, 3), dtype="uint8")
    >>> embedding = keras_ssl.backbones.feature_map_model(
    ...     keras_ssl.backbones.ConvNet(input_shape=(32, 32, 1), filters=(32, 64, 64)))
    >>> model = VideoColorization(embedding, **VideoColorization.arguments_from_data(clips))
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.fit(clips, batch_size=16, epochs=1)
    >>> colours = model.colourise(clips[:2, :3], clips[:2, 3], temperature=0.5)  # [2, 8, 8, 16]
    """

    metric_names = ("loss", "accuracy")
    serialized_arguments = ("embedding",)

    def __init__(self, embedding, colour_centres, num_reference=3, temperature=1.0, seed=None, **kwargs):
        if not isinstance(embedding, keras.Model):
            raise ValueError(
                f"VideoColorization embedding must be a keras.Model from grey frames [H, W, 1] to a feature map, "
                f"got {type(embedding).__name__}: pass e.g. keras_ssl.backbones.feature_map_model(ConvNet(...))"
            )
        input_shape, output_shape = tuple(embedding.input_shape[1:]), tuple(embedding.output_shape[1:])
        if len(input_shape) != 3 or input_shape[-1] != 1 or None in input_shape:
            raise ValueError(
                f"VideoColorization needs an embedding of grey frames of a fixed size [H, W, 1], got input shape "
                f"{input_shape}: build it with input_shape=(height, width, 1)"
            )
        if len(output_shape) != 3 or None in output_shape:
            raise ValueError(
                f"VideoColorization needs an embedding that returns a feature map [h, w, D], got output shape "
                f"{output_shape}: pass keras_ssl.backbones.feature_map_model(backbone) rather than the pooled backbone"
            )
        centres = _check_colour_centres(colour_centres)
        if int(num_reference) != num_reference or int(num_reference) < 1:
            raise ValueError(f"VideoColorization num_reference must be a positive int, got {num_reference}")
        if not temperature > 0:
            raise ValueError(f"VideoColorization temperature must be positive, got {temperature}")
        super().__init__(seed=seed, **kwargs)
        # === Layers ===
        self.embedding = embedding
        self.quantizer = ABQuantizer(centres, num_neighbours=1, name="colour_quantizer")
        # === Config ===
        self.colour_centres = centres
        self.num_reference = int(num_reference)
        self.temperature = float(temperature)
        self.built = True

    # --- data-dependent arguments --------------------------------------
    @classmethod
    def arguments_from_data(cls, frames, num_colours=16, seed=0):
        """`{"colour_centres": [[a, b], ...]}`: k-means with `num_colours`
        clusters (16, the paper's) on the ab values of pixels sampled from
        training `frames` (RGB `[..., H, W, 3]`, clips or single frames;
        `keras_ssl.augment.fit_ab_bins`)."""
        frames = np.asarray(frames)
        if frames.ndim < 3 or frames.shape[-1] != 3:
            raise ValueError(
                f"VideoColorization colour clusters need RGB frames [..., H, W, 3], got shape {frames.shape}: pass "
                "the training clips"
            )
        images = frames.reshape(-1, *frames.shape[-3:])
        centres = fit_ab_bins(images, num_bins=num_colours, seed=0 if seed is None else seed)
        return {"colour_centres": centres.tolist()}

    # --- shapes --------------------------------------------------------
    @property
    def frame_shape(self):
        """RGB frames: the embedding's height and width, 3 channels."""
        return (*tuple(self.embedding.input_shape[1:3]), 3)

    @property
    def feature_size(self):
        """`(h, w)` of the embedding maps."""
        return tuple(self.embedding.output_shape[1:3])

    @property
    def num_colours(self):
        return len(self.colour_centres)

    @property
    def encoder(self):
        """The embedding network (grey frames `[B, H, W, 1]` to maps)."""
        return self.embedding

    # --- forward -------------------------------------------------------
    def _check_frames(self, frames, role="frames"):
        """`frames` as a tensor, after one-line checks of its shape and dtype."""
        frames = tf.convert_to_tensor(frames) if not isinstance(frames, tf.Tensor) else frames
        height, width, _ = self.frame_shape
        if frames.shape.rank is None or frames.shape.rank < 3 or frames.shape[-1] != 3:
            raise ValueError(
                f"VideoColorization expects RGB {role} [..., {height}, {width}, 3], got shape {tuple(frames.shape)}"
            )
        if tuple(frames.shape[-3:-1]) != (height, width):
            raise ValueError(
                f"VideoColorization expects {role} of size {height}x{width} to match its embedding, got shape "
                f"{tuple(frames.shape)}: resize the frames or build the embedding with input_shape="
                f"({frames.shape[-3]}, {frames.shape[-2]}, 1)"
            )
        if not (frames.dtype.is_integer or frames.dtype.is_floating):
            raise ValueError(f"VideoColorization expects uint8 or float pixels in [0, 255], got {frames.dtype.name}")
        return frames

    def _frames(self, frames):
        """`frames` as float32 `[N, H, W, 3]` and their leading shape."""
        frames = self._check_frames(frames)
        height, width, _ = self.frame_shape
        leading = _static_or_dynamic_shape(frames)[:-3]
        return tf.reshape(tf.cast(frames, "float32"), [-1, height, width, 3]), leading

    def embed(self, frames, training=False):
        """Embedding maps `[..., h, w, D]` of RGB frames `[..., H, W, 3]`
        (uint8 or float in [0, 255], any leading axes)."""
        flat, leading = self._frames(frames)
        maps = self.embedding(lightness_pixels(flat), training=training)
        return tf.reshape(maps, [*leading, *maps.shape[1:]])

    def colour_targets(self, frames):
        """Colour cluster ids (int32) `[..., h, w]` of RGB frames `[..., H,
        W, 3]`: their ab area-averaged to the embedding maps' size, then the
        nearest centre."""
        flat, leading = self._frames(frames)
        ab = area_resize(rgb_to_lab(flat)[..., 1:], self.feature_size)
        return tf.reshape(self.quantizer.nearest(ab), [*leading, *self.feature_size])

    def call(self, inputs, training=False):
        return self.embed(inputs, training=training)

    def colourise(self, reference_frames, target_frames, temperature=None):
        """Colour distributions float32 `[B, h, w, K]` of `target_frames`
        (RGB `[B, H, W, 3]`, only their L is used) copied from the colour
        clusters of `reference_frames` (RGB `[B, R, H, W, 3]`, or `[B, H,
        W, 3]` for one reference each) at `temperature` (the model's by
        default)."""
        temperature = self.temperature if temperature is None else float(temperature)
        if not temperature > 0:
            raise ValueError(f"VideoColorization.colourise temperature must be positive, got {temperature}")
        reference_frames = tf.convert_to_tensor(reference_frames)
        target_frames = tf.convert_to_tensor(target_frames)
        if reference_frames.shape.rank == 4:
            reference_frames = reference_frames[:, None]
        if reference_frames.shape.rank != 5 or target_frames.shape.rank != 4:
            raise ValueError(
                "VideoColorization.colourise expects reference frames [B, R, H, W, 3] (or [B, H, W, 3]) and "
                f"target frames [B, H, W, 3], got shapes {tuple(reference_frames.shape)} and "
                f"{tuple(target_frames.shape)}"
            )
        batch = tf.shape(target_frames)[0]
        dim = self.embedding.output_shape[-1]
        reference = tf.reshape(self.embed(reference_frames), [batch, -1, dim])
        labels = tf.one_hot(tf.reshape(self.colour_targets(reference_frames), [batch, -1]), self.num_colours)
        target = tf.reshape(self.embed(target_frames), [batch, -1, dim])
        colours = copy_labels(reference, labels, target, temperature)
        return tf.reshape(colours, [batch, *self.feature_size, self.num_colours])

    # --- training ------------------------------------------------------
    def unpack_batch(self, data):
        """Checked float32 clips `[B, T, H, W, 3]` from a batch of clips or
        `(clips, labels[, weights])`."""
        clips, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        clips = tf.convert_to_tensor(clips) if not isinstance(clips, tf.Tensor) else clips
        shape = tuple(clips.shape)
        if clips.shape.rank != 5:
            hint = (
                ": a batch of single frames has no earlier frame to copy colours from; stack consecutive frames "
                "into clips [batch, frames, height, width, 3]"
                if clips.shape.rank == 4
                else ""
            )
            raise ValueError(
                f"VideoColorization expects clips of shape [batch, frames, height, width, 3], got shape {shape}{hint}"
            )
        if shape[-1] != 3:
            raise ValueError(
                f"VideoColorization expects RGB frames (3 channels) in its clips, got shape {shape}: the colours "
                "to copy come from the frames' ab channels, so pass colour clips"
            )
        if shape[1] is None:
            raise ValueError(
                f"VideoColorization needs clips of a known number of frames, got shape {shape}: batch clips of "
                "one fixed length (e.g. a tf.data.Dataset with a static frame axis)"
            )
        if shape[1] < 2:
            raise ValueError(
                f"VideoColorization needs clips of at least 2 frames (earlier reference frames and a target), got "
                f"{shape[1]} frame(s) in shape {shape}: pass longer clips (the paper uses 4)"
            )
        self._check_frames(clips, role="clip frames")
        if clips.dtype.is_floating:
            clips = tf.debugging.assert_all_finite(
                clips, "input clips contain NaN or Inf: clean the data or drop those clips"
            )
        return tf.cast(clips, "float32")

    def compute_losses(self, clips, training):
        num_frames = int(clips.shape[1])
        references = min(self.num_reference, num_frames - 1)
        height, width = self.feature_size
        pixels = height * width
        embeddings = tf.cast(self.embed(clips, training=training), "float32")
        dim = embeddings.shape[-1]
        embeddings = tf.reshape(embeddings, [-1, num_frames, pixels, dim])
        colours = tf.reshape(self.colour_targets(clips), [-1, num_frames, pixels])
        one_hot = tf.one_hot(colours, self.num_colours)
        # Every frame t >= r is a target of the r frames before it; the
        # windows are stacked along the batch axis (each counts equally).
        targets = range(references, num_frames)
        reference_embeddings = tf.concat(
            [tf.reshape(embeddings[:, t - references : t], [-1, references * pixels, dim]) for t in targets], 0
        )
        reference_colours = tf.concat(
            [tf.reshape(one_hot[:, t - references : t], [-1, references * pixels, self.num_colours]) for t in targets],
            0,
        )
        target_embeddings = tf.concat([embeddings[:, t] for t in targets], 0)
        target_colours = tf.concat([colours[:, t] for t in targets], 0)
        loss, probabilities = copy_colours_loss(
            reference_embeddings, reference_colours, target_embeddings, target_colours, self.temperature
        )
        hits = tf.equal(tf.argmax(probabilities, axis=-1, output_type=tf.int32), target_colours)
        return {"loss": tf.reduce_mean(loss), "accuracy": tf.reduce_mean(tf.cast(hits, "float32"))}

    # --- serialization -------------------------------------------------
    @classmethod
    def from_config(cls, config):
        # Deserialising a functional embedding consumes its nested config:
        # work on a copy, so the caller's config stays whole.
        return super().from_config(copy.deepcopy(config))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "embedding": keras.saving.serialize_keras_object(self.embedding),
                "colour_centres": self.colour_centres.tolist(),
                "num_reference": self.num_reference,
                "temperature": self.temperature,
            }
        )
        return config
