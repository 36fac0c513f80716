"""Speed as a ratio: SSL training throughput over plain supervised fit's,
measured in the same process, step for step in alternation."""

import time


class StepTimer:
    """Times `fit` steps (all but the first of each call, which may trace)."""

    def __init__(self):
        import keras

        timer = self

        class _Callback(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                timer.start = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                if batch > 0:
                    timer.durations.append(time.perf_counter() - timer.start)

        self.durations = []
        self.callback = _Callback()


def alternating_step_seconds(fits, rounds):
    """Runs each of `fits` (`{name: function(callbacks)}`, one `fit` call
    each) in alternation, `rounds + 1` times; the first round warms up
    (tracing, compiling, allocation). Returns `{name: [median seconds per
    step of each measured round]}`: paired by round, close in time."""
    import numpy as np

    seconds = {name: [] for name in fits}
    for round_index in range(rounds + 1):
        for name, fit in fits.items():
            timer = StepTimer()
            fit([timer.callback])
            if round_index:
                seconds[name].append(float(np.median(timer.durations)))
    return seconds


def fit_steps(model, batches, steps=None):
    """A `fits` entry of `alternating_step_seconds`: one `fit` of `steps`
    steps of `batches` (a repeated dataset), or of all of `batches`."""
    return lambda callbacks: model.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=callbacks)


def throughput_ratio(make_ssl, make_supervised, images, labels, batch_size, steps=20, rounds=3, ssl_targets=None):
    """Images/s of SSL `fit` and of plain supervised `fit` on the same
    backbone and batch, measured in alternation; returns a dict with both
    (from the median step time) and the ratio SSL / supervised (the median
    over rounds of each round's paired ratio). `ssl_targets` is the SSL
    `fit`'s `y` when the method takes one (e.g. each image's index)."""
    import numpy as np

    n = batch_size * steps
    ssl, supervised = make_ssl(), make_supervised()
    targets = None if ssl_targets is None else ssl_targets[:n]
    pixels = images[:n].astype("float32")
    common = {"batch_size": batch_size, "epochs": 1, "verbose": 0, "shuffle": False}
    seconds = alternating_step_seconds(
        {
            "ssl": lambda callbacks: ssl.fit(images[:n], targets, callbacks=callbacks, **common),
            "supervised": lambda callbacks: supervised.fit(pixels, labels[:n], callbacks=callbacks, **common),
        },
        rounds,
    )
    result = {f"{name}_images_per_s": batch_size / float(np.median(s)) for name, s in seconds.items()}
    # Each round's two measurements are close in time: the median of the
    # paired ratios resists the machine's drift better than a ratio of medians.
    paired = [b / a for a, b in zip(seconds["ssl"], seconds["supervised"])]
    result["ratio"] = float(np.median(paired))
    result["round_ratios"] = paired
    result["batch_size"] = batch_size
    result["steps_per_round"] = steps
    result["rounds"] = rounds
    return result
