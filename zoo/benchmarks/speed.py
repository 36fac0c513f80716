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


def throughput_ratio(make_ssl, make_supervised, images, labels, batch_size, steps=20, rounds=3, ssl_targets=None):
    """Images/s of SSL `fit` and of plain supervised `fit` on the same
    backbone and batch, measured in alternation; returns a dict with both
    (from the median step time) and the ratio SSL / supervised (the median
    over rounds of each round's paired ratio). `ssl_targets` is the SSL
    `fit`'s `y` when the method takes one (e.g. each image's index)."""
    import numpy as np

    n = batch_size * steps
    ssl, supervised = make_ssl(), make_supervised()
    timers = {"ssl": StepTimer(), "supervised": StepTimer()}
    for _ in range(rounds + 1):  # The first round warms up (tracing, allocation).
        for name, model in (("ssl", ssl), ("supervised", supervised)):
            timers[name].durations.clear()
            if name == "ssl":
                model.fit(
                    images[:n],
                    None if ssl_targets is None else ssl_targets[:n],
                    batch_size=batch_size,
                    epochs=1,
                    verbose=0,
                    shuffle=False,
                    callbacks=[timers[name].callback],
                )
            else:
                model.fit(
                    images[:n].astype("float32"),
                    labels[:n],
                    batch_size=batch_size,
                    epochs=1,
                    verbose=0,
                    shuffle=False,
                    callbacks=[timers[name].callback],
                )
            timers[name].last = float(np.median(timers[name].durations))
            timers[name].all = getattr(timers[name], "all", []) + [timers[name].last]
    result = {}
    for name, timer in timers.items():
        result[f"{name}_images_per_s"] = batch_size / float(np.median(timer.all[1:]))
    # Each round's two measurements are close in time: the median of the
    # paired ratios resists the machine's drift better than a ratio of medians.
    paired = [sup / ssl for ssl, sup in zip(timers["ssl"].all[1:], timers["supervised"].all[1:])]
    result["ratio"] = float(np.median(paired))
    result["round_ratios"] = paired
    result["batch_size"] = batch_size
    result["steps_per_round"] = steps
    result["rounds"] = rounds
    return result


def timed_fit(model, batches, steps):
    """Median seconds per step of one `fit` of `steps` steps (the first,
    which may trace or compile, left out)."""
    import numpy as np

    timer = StepTimer()
    model.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer.callback])
    return float(np.median(timer.durations))
