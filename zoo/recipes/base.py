"""What every recipe shares (see `zoo.recipes`)."""

from zoo.errors import RunError


def build_optimizer(config, steps_per_epoch):
    """The optimizer of `config["optimizer"]`, with an optional cosine decay
    (and linear warm-up) over the whole run."""
    import keras

    spec = dict(config["optimizer"])
    cls = getattr(keras.optimizers, spec.pop("class"))
    learning_rate = spec.pop("learning_rate")
    schedule = spec.pop("schedule", None)
    warmup_epochs = spec.pop("warmup_epochs", 0)
    if schedule == "cosine":
        total = max(1, config["epochs"] * steps_per_epoch)
        warmup = min(total - 1, warmup_epochs * steps_per_epoch)
        learning_rate = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup else learning_rate,
            decay_steps=total - warmup,
            warmup_target=learning_rate if warmup else None,
            warmup_steps=warmup,
        )
    elif schedule is not None:
        raise RunError(f"unknown learning-rate schedule {schedule!r}: use 'cosine' or none")
    return cls(learning_rate=learning_rate, **spec)


class Recipe:
    """The defaults of a family's recipe: no extra flags, no extra
    callbacks, nothing to finish."""

    data_key = "dataset"
    default_data = None
    # Flags of other families: flag name -> why it does not apply.
    foreign_flags = {}

    def check_overrides(self, method, overrides):
        for key, why in self.foreign_flags.items():
            if overrides.get(key) is not None:
                raise ValueError(f"--{key} is for {why[0]}; {method} {why[1]}")

    def load_data(self, config):
        raise NotImplementedError

    def peek_data(self, config):
        """The data as far as `complete_config` needs it: what checks a
        finished run's flags. A recipe whose `load_data` decodes a streamed
        set into memory returns it undecoded here."""
        return self.load_data(config)

    def complete_config(self, config, data):
        return config

    def build(self, config, data, model_dir, strategy):
        raise NotImplementedError

    def callbacks(self, config, data):
        return []

    def finish(self, model, config, data, model_dir, history, chief):
        """Plots and evaluation after training (returns a dict or None)."""
        return None
