"""The root of every method: the training contract, whatever the modality."""

import keras
import tensorflow as tf

from keras_ssl.distribute import is_multi_worker
from keras_ssl.methods.steps import apply_if_finite, scaled_loss


class Method(keras.Model):
    """Base class of every method: a training rule around some networks.

    The contract of docs/architecture.md, the same for images, tokens and
    densities. A subclass implements

    - `unpack_batch(data)`: checks a `fit` batch and returns what
      `compute_losses` takes (raise a one-line `ValueError` on bad input);
    - `compute_losses(batch, training)`: a dict whose `"loss"` entry is the
      scalar to minimise (the mean over this replica's examples) and whose
      other entries are scalars to report, named in `metric_names`.

    and this class supplies the rest:

    - `train_step` differentiates the loss scaled for mixed precision and
      for the replicas in sync (gradients are summed across replicas, so
      one global batch gives the same update on 1 or N replicas), checks
      that the loss is finite before any weight changes, applies the
      optimizer, then calls `after_update(batch)` (EMA targets, memory
      banks); `test_step` computes the same losses without updates.
    - One `keras.metrics.Mean` tracker per name in `metric_names`, each
      batch weighted by `tracker_weights` (by default unweighted while
      training and by the batch's examples in `evaluate`, so a short last
      batch counts for what it holds); `derived_logs` adds values computed
      from the means (perplexity). Under a multi-worker strategy the logs
      get the shape Keras averages over workers.
    - Several optimizers: a class naming `extra_optimizers = ("critic",)`
      gets a `critic_optimizer` argument of `compile` (a copy of the main
      optimizer's config when omitted) and attribute, wrapped for mixed
      precision like the main one, serialised with the compile config and
      restored with its state by `keras.saving.load_model`. Each optimizer
      trains `optimizer_variables(name)` (`"optimizer"` for the main one;
      None: not trained in this configuration, the attribute is None).
    - `compile()` without an optimizer uses `default_optimizer()`.
    - `encoder` is the network to export; `get_config`/`from_config`
      round-trip the constructor arguments (`serialized_arguments` names
      those that are Keras objects).

    Args:
        seed: int. Seed of the method's random draws.
    """

    metric_names = ("loss",)
    extra_optimizers = ()
    serialized_arguments = ()
    replica_mean = True
    nonfinite_hint = "lower the learning rate or check the inputs"

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.metric_names}

    # --- to override ---------------------------------------------------
    def unpack_batch(self, data):
        """What `compute_losses` gets from a `fit` batch (here: as is)."""
        return data

    def compute_losses(self, batch, training):
        raise NotImplementedError(f"{type(self).__name__} must implement compute_losses(batch, training)")

    def after_update(self, batch):
        """Runs after each optimizer step (EMA teachers, memory banks)."""

    def batch_size(self, batch):
        """Examples in a batch from `unpack_batch` (weights `evaluate`)."""
        return tf.shape(tf.nest.flatten(batch)[0])[0]

    def tracker_weights(self, batch, results, training):
        """How much this batch counts in the trackers' means: None (equal
        batches), a scalar for every tracker, or `{name: scalar}`."""
        return None if training else self.batch_size(batch)

    def derived_logs(self, logs):
        """Logs computed from the trackers' means (e.g. perplexity)."""
        return logs

    def default_optimizer(self):
        """The optimizer of `compile()` without one (Keras's default)."""
        return keras.optimizers.RMSprop()

    def optimizer_variables(self, name="optimizer"):
        """The variables the optimizer `name` trains."""
        return self.trainable_variables

    # --- contract ------------------------------------------------------
    @property
    def encoder(self):
        """The network `export.saved_model` exports (None: the method has
        its own export, e.g. word vectors)."""
        return None

    @property
    def metrics(self):
        return list(self.trackers.values())

    def train_step(self, data):
        batch = self.unpack_batch(data)
        with tf.GradientTape() as tape:
            results = self.compute_losses(batch, training=True)
            loss = tf.cast(results["loss"], "float32")
            scaled = scaled_loss(self.optimizer, loss, replica_mean=self.replica_mean)
        if not self.optimizer.built:
            self.build_optimizers()
        apply_if_finite(
            self.optimizer,
            tape,
            scaled,
            self.optimizer_variables(),
            loss,
            type(self).__name__,
            hint=self.nonfinite_hint,
        )
        self.after_update(batch)
        return self.update_trackers(results, self.tracker_weights(batch, results, training=True))

    def test_step(self, data):
        batch = self.unpack_batch(data)
        results = self.compute_losses(batch, training=False)
        return self.update_trackers(results, self.tracker_weights(batch, results, training=False))

    def update_trackers(self, results, weights=None):
        """Updates the `Mean` trackers named in `results` (`weights` as
        `tracker_weights` returns them) and returns the logs."""
        for name, tracker in self.trackers.items():
            if name in results:
                weight = weights.get(name) if isinstance(weights, dict) else weights
                tracker.update_state(
                    results[name], sample_weight=None if weight is None else tf.cast(weight, "float32")
                )
        logs = self.derived_logs({name: t.result() for name, t in self.trackers.items() if name in results})
        if is_multi_worker(self.distribute_strategy):
            # Keras averages logs over workers along axis 0, which scalars
            # lack (tensorflow#72388): give it shape [1]; it returns scalars.
            logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
        return logs

    # --- optimizers ----------------------------------------------------
    def compile(self, optimizer="auto", **kwargs):
        """`keras.Model.compile`, plus `<name>_optimizer` for each of the
        method's `extra_optimizers` (a fresh copy of `optimizer`'s config
        when omitted); `optimizer="auto"` is `default_optimizer()`.
        `jit_compile=True` raises where Keras would fall back to False
        (`require_jit_compile`).

        With extra optimizers every optimizer is built here, on its
        variables: call `compile` inside the strategy scope the model was
        made in.
        """
        extras = {name: kwargs.pop(f"{name}_optimizer", None) for name in self.extra_optimizers}
        if isinstance(optimizer, str) and optimizer == "auto":
            optimizer = self.default_optimizer()
        super().compile(optimizer=optimizer, **kwargs)
        if kwargs.get("jit_compile") is True:
            require_jit_compile(self)
        main = self.optimizer
        if isinstance(main, keras.optimizers.LossScaleOptimizer):
            main = main.inner_optimizer
        self._extra_optimizer_configs = {}
        for name, extra in extras.items():
            if self.optimizer_variables(name) is None:  # Not trained in this configuration.
                if extra is not None:
                    raise ValueError(f"this {type(self).__name__} has no {name} to train: drop {name}_optimizer")
                setattr(self, f"{name}_optimizer", None)
                continue
            if extra is None:
                extra = type(main).from_config(main.get_config())  # Same config, own state.
            else:
                extra = keras.optimizers.get(extra)
                if isinstance(extra, keras.optimizers.LossScaleOptimizer):
                    extra = extra.inner_optimizer
            self._extra_optimizer_configs[f"{name}_optimizer"] = keras.saving.serialize_keras_object(extra)
            if kwargs.get("auto_scale_loss", True) and self.dtype_policy.name == "mixed_float16":
                extra = keras.optimizers.LossScaleOptimizer(extra)
            setattr(self, f"{name}_optimizer", extra)
        if self.extra_optimizers:
            self.build_optimizers()

    def build_optimizers(self):
        """Builds every optimizer on its `optimizer_variables`."""
        self.optimizer.build(self.optimizer_variables())
        for name in self.extra_optimizers:
            if getattr(self, f"{name}_optimizer", None) is not None:
                getattr(self, f"{name}_optimizer").build(self.optimizer_variables(name))

    def get_compile_config(self):
        config = super().get_compile_config()
        if config is not None and self.extra_optimizers:
            config = {**config, **self._extra_optimizer_configs}
        return config

    def compile_from_config(self, config):
        # Keras skips compiling on load when `compile` is overridden; the
        # saved arguments (extra optimizers included) restore it here.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.build_optimizers()  # So their saved state loads.

    # --- serialization -------------------------------------------------
    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in cls.serialized_arguments:
            if config.get(name) is not None:
                config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


def require_jit_compile(model):
    """Turns XLA on for `model`'s train step, or raises one line.

    `compile(jit_compile=True)` and `model.jit_compile = True` fall back to
    False with only a warning when a layer says it does not support XLA
    (e.g. `keras.layers.RandomTranslation`), and the model then trains
    without XLA, which a TPU cannot run. This sets it and raises a
    ValueError naming those layers instead. (A step whose ops XLA cannot
    compile still fails at the first `fit` step, with TensorFlow's error
    naming the op.)

    Example:

    >>> model.compile(optimizer="adam")
    >>> require_jit_compile(model)
    >>> model.jit_compile
    True
    """
    unsupported = [layer.name for layer in model._flatten_layers() if not layer.supports_jit]
    if not unsupported:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.jit_compile = True
    if unsupported or not model.jit_compile:
        raise ValueError(
            f"{model.name} cannot train under XLA (jit_compile=True): "
            + (f"layers {', '.join(unsupported)} say they do not support it" if unsupported else "Keras turned it off")
            + "; "
            + getattr(
                model, "xla_hint", "use keras_ssl.augment's XLA-compatible augmenters, or train with jit_compile='auto'"
            )
        )
