"""Stacked denoising autoencoder."""

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.augment.corruptions import make_corruption
from keras_ssl.losses.reconstruction import denoising_reconstruction_loss, reconstruction_to_unit
from keras_ssl.methods.autoencoding.base import (
    corrupt_with,
    denoising_settings_config,
    deserialize_noise,
    set_denoising_settings,
)
from keras_ssl.methods.images import ImageMethod


@keras.saving.register_keras_serializable(package="keras_ssl")
class StackedDenoisingAutoencoder(ImageMethod):
    """Stacked denoising autoencoder: greedy layer-wise denoising
    pretraining of a deep fully connected network, then supervised
    fine-tuning.

    Vincent, Larochelle, Lajoie, Bengio and Manzagol, "Stacked Denoising
    Autoencoders: Learning Useful Representations in a Deep Network with a
    Local Denoising Criterion" (JMLR 2010), section 5. Layer k (0-based
    `layer_index`) is trained as a one-layer denoising autoencoder on the
    clean codes h of the layers below it (h = pixels / 255 for the first
    layer): h is corrupted into h~, encoded by layer k, decoded by a Dense
    layer of its own and compared with the clean h (cross-entropy, or
    squared error). Only layer k and its decoder are updated; the codes
    passed upward are computed without corruption. `pretrain` trains the
    layers one after the other, `fine_tune` then trains the whole stack
    with a softmax classifier on labelled images.

    `fit` trains the current layer `layer_index`, so each pretraining stage
    is an ordinary `fit` (progress bar, callbacks, `tf.distribute`); it
    takes raw images: a uint8 or float array `[N, H, W, C]` of pixels in
    [0, 255] or a `tf.data.Dataset` of such batches; `(images, labels)`
    batches are accepted and the labels ignored. Reports `loss` and
    `reconstruction_mse`. The decoders are not tied to the encoder weights
    (the paper allows both).

    Args:
        backbone: keras.Model. A stack of Dense layers on flattened pixels,
            e.g. `keras_ssl.backbones.MLP`, whose stages `stage_layer_names`
            finds (`dense{k}_act`). Sigmoid units keep codes in [0, 1], as
            the cross-entropy needs.
        noise: None, "gaussian", "masking", "salt_and_pepper" or a
            corruption layer, applied to the input of the layer being
            trained (codes in [0, 1]). Default "masking".
        noise_level: float. The paper's level: the fraction nu of corrupted
            components for masking and salt-and-pepper, the standard
            deviation sigma for Gaussian noise. None: 0.25 for masking and
            salt-and-pepper, 0.3 for Gaussian.
        loss: str. "cross_entropy" (sigmoid outputs; inputs in [0, 1]) or
            "squared_error" (affine outputs).
        emphasis: (alpha, beta). Loss weights of corrupted and uncorrupted
            components (the paper's emphasised denoising).
        layer_index: int. The layer that `fit` trains (0-based).
        augmenter: keras.layers.Layer. Applied to the images first
            (identity by default).
        seed: int. Seed of the corruption.

    Example:

    >>> backbone = keras_ssl.backbones.MLP(input_shape=(28, 28, 1), units=(1000, 1000, 1000))
    >>> model = StackedDenoisingAutoencoder(backbone, noise="masking", noise_level=0.25)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.pretrain(images, epochs_per_layer=10, batch_size=128)  # uint8 [N, 28, 28, 1]
    >>> classifier = model.fine_tune(images, labels, epochs=10)
    >>> classifier.evaluate(test_images, test_labels)
    """

    metric_names = ("loss", "reconstruction_mse")

    def __init__(
        self,
        backbone,
        noise="masking",
        noise_level=None,
        loss="cross_entropy",
        emphasis=(1.0, 1.0),
        layer_index=0,
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(backbone=backbone, augmenter=augmenter, seed=seed, **kwargs)
        set_denoising_settings(self, noise, noise_level, loss, emphasis)
        activation = getattr(backbone, "activation", "sigmoid")
        if loss == "cross_entropy" and activation != "sigmoid":
            raise ValueError(
                f"loss='cross_entropy' needs codes in [0, 1], but the backbone's units are {activation!r}: use "
                "MLP(activation='sigmoid') or loss='squared_error'"
            )
        # === Layers ===
        codes = self._code_tensors(backbone)
        self.num_layers = len(codes) - 1
        # The clean input of each layer, and each layer alone (sharing the
        # backbone's weights).
        self.layer_inputs = [
            keras.Model(backbone.input, codes[k], name=f"layer{k + 1}_input") for k in range(self.num_layers)
        ]
        self.layers_alone = [keras.Model(codes[k], codes[k + 1], name=f"layer{k + 1}") for k in range(self.num_layers)]
        self.decoders = []
        for k in range(self.num_layers):
            decoder = keras.layers.Dense(codes[k].shape[-1], name=f"decoder{k + 1}")
            decoder.build(codes[k + 1].shape)
            self.decoders.append(decoder)
        self.corruption = make_corruption(noise, self.noise_level, value_range=(0.0, 1.0), seed=seed)
        if self.corruption is not None and not self.corruption.built:
            self.corruption.build(codes[0].shape)
        self.layer_index = layer_index
        self.pretrain_history = []
        self.built = True

    @staticmethod
    def _code_tensors(backbone):
        """`[h_0, h_1, ..., h_K]`: the input of the first Dense layer and
        the output of each stage, as symbolic tensors of the backbone."""
        from keras_ssl.backbones.stages import stage_layer_names

        names = stage_layer_names(backbone)
        outputs = [backbone.get_layer(n).output for n in names]
        first = next((layer for layer in backbone.layers if layer.weights), None)
        if first is None or any(len(o.shape) != 2 for o in outputs) or len(first.input.shape) != 2:
            raise ValueError(
                f"StackedDenoisingAutoencoder needs a backbone of Dense layers on flattened pixels, got "
                f"{backbone.name!r}: use keras_ssl.backbones.MLP (DenoisingAutoencoder trains conv backbones)"
            )
        return [first.input, *outputs]

    # --- the current layer ---------------------------------------------
    @property
    def layer_index(self):
        return self._layer_index

    @layer_index.setter
    def layer_index(self, value):
        if not 0 <= int(value) < self.num_layers:
            raise ValueError(f"layer_index must be in [0, {self.num_layers - 1}] for this backbone, got {value}")
        self._layer_index = int(value)
        # fit and evaluate trace the step of the new layer.
        self.train_function = None
        self.test_function = None

    def layer_variables(self, index=None):
        """Trainable variables of layer `index` (default: the current one)
        and of its decoder: what a pretraining step updates."""
        index = self.layer_index if index is None else index
        return self.layers_alone[index].trainable_variables + self.decoders[index].trainable_variables

    def compute_losses(self, images, training):
        k = self.layer_index
        clean = tf.cast(self.augmenter(images, training=training), "float32")
        # The clean, uncorrupted codes of the layers below: their input.
        codes = tf.stop_gradient(tf.cast(self.layer_inputs[k](clean, training=False), "float32"))
        corrupted, mask = corrupt_with(self.corruption, codes)
        hidden = self.layers_alone[k](tf.cast(corrupted, "float32"), training=training)
        outputs = tf.cast(self.decoders[k](hidden), "float32")
        per_example = denoising_reconstruction_loss(codes, outputs, self.loss_type, mask, self.emphasis)
        mse = tf.reduce_mean(tf.square(reconstruction_to_unit(outputs, self.loss_type) - codes))
        return {"loss": tf.reduce_mean(per_example), "reconstruction_mse": mse}

    def optimizer_variables(self, name="optimizer"):
        """Only the layer being trained and its decoder: the layers below stay
        as trained."""
        return self.layer_variables()

    def build_optimizers(self):
        # Built for every layer (as fit does under a strategy), since each
        # step updates one layer's variables only.
        self.optimizer.build(self.trainable_variables)

    # --- the two phases ------------------------------------------------
    def pretrain(self, x, epochs_per_layer=10, batch_size=None, verbose="auto", **fit_kwargs):
        """Greedy layer-wise pretraining: one `fit` per layer, from the
        first to the last, each for `epochs_per_layer` epochs.

        Args:
            x: images (array or `tf.data.Dataset`), as for `fit`.
            epochs_per_layer: int.
            batch_size: int. For arrays (None with a dataset).
            verbose: Keras verbosity.
            **fit_kwargs: more `fit` arguments (callbacks, ...).

        Returns:
            list of the per-layer `History.history` dicts (also kept in
            `pretrain_history`).
        """
        self.pretrain_history = []
        for k in range(self.num_layers):
            self.layer_index = k
            if verbose:
                print(f"Pretraining layer {k + 1}/{self.num_layers}", flush=True)
            history = self.fit(x, epochs=epochs_per_layer, batch_size=batch_size, verbose=verbose, **fit_kwargs)
            self.pretrain_history.append(history.history)
        return self.pretrain_history

    def fine_tune(
        self, x, y, num_classes=None, epochs=10, batch_size=128, learning_rate=1e-3, verbose="auto", **fit_kwargs
    ):
        """Supervised fine-tuning of the whole stack with a softmax layer on
        top (the paper's second phase). The backbone is trained in place.

        Args:
            x: uint8 or float images `[N, H, W, C]`.
            y: int labels `[N]`.
            num_classes: int. Defaults to `max(y) + 1`.
            epochs, batch_size: as for `fit`.
            learning_rate: float. Adam learning rate.
            verbose: Keras verbosity.
            **fit_kwargs: more `fit` arguments (validation_data, ...).

        Returns:
            The classifier, a `keras.Model` from raw pixels to logits
            sharing this model's backbone, compiled with an `accuracy`
            metric.
        """
        num_classes = int(num_classes or np.max(y) + 1)
        inputs = keras.Input(shape=self.image_shape, name="images")
        logits = keras.layers.Dense(num_classes, name="classifier")(self.backbone(inputs))
        classifier = keras.Model(inputs, logits, name=f"{self.name}_classifier")
        classifier.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        classifier.fit(
            np.asarray(x, "float32"), np.asarray(y), epochs=epochs, batch_size=batch_size, verbose=verbose, **fit_kwargs
        )
        return classifier

    # --- serialization -------------------------------------------------
    def get_config(self):
        return {**super().get_config(), **denoising_settings_config(self), "layer_index": self.layer_index}

    @classmethod
    def from_config(cls, config):
        return super().from_config(deserialize_noise(config))
