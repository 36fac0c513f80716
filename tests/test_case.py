"""Shared test helpers, in the spirit of keras-hub's TestCase.

Every method's test file subclasses `TestCase` and calls, for its model:

- `run_config_test(obj)`: `from_config(get_config())` gives the same config;
- `run_fit_test(model, images)`: a short `fit` on NumPy and on `tf.data`
  with finite, reported metrics, and `predict` gives embeddings;
- `run_model_saving_test(model, images)`: `.keras` save and
  `keras.saving.load_model` (no `custom_objects`) give identical outputs;
- `representation_accuracy(encoder, dataset)`: weighted-kNN accuracy, for
  learns-tests against the random-initialised backbone.

The semi-supervised methods' test files share the module-level helpers
below: NumPy references (`np_softmax`, `np_log_softmax`,
`np_cross_entropy`), tiny random data and models
(`random_semi_supervised_data`, `batches`, `tiny_semi_supervised_model`)
and the digits learns-test (`digits_semi_supervised_accuracy`).
"""

import os
import subprocess
import sys

import keras
import numpy as np
import tensorflow as tf

import keras_ssl  # noqa: F401  (registers the classes)
from keras_ssl.augment.weak_augmenter import WeakAugmenter
from keras_ssl.backbones import ConvNet
from keras_ssl.data import labelled_split, load_digits, semi_supervised_batches

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class TestCase:
    def run_config_test(self, obj):
        config = obj.get_config()
        clone = type(obj).from_config(config)
        assert clone.get_config() == config
        return clone

    def run_fit_test(self, model, images, batch_size=16, expected_metrics=("loss",)):
        history = model.fit(images, batch_size=batch_size, epochs=1, verbose=0)
        dataset = tf.data.Dataset.from_tensor_slices(images).batch(batch_size, drop_remainder=True)
        history_ds = model.fit(dataset, epochs=1, verbose=0)
        for hist in (history.history, history_ds.history):
            for name in expected_metrics:
                assert name in hist, f"{name} not reported: {sorted(hist)}"
                assert np.isfinite(hist[name][-1]), f"{name} is not finite: {hist[name]}"
        embeddings = model.predict(images[:batch_size], verbose=0)
        assert embeddings.shape[0] == batch_size and embeddings.ndim == 2
        assert np.all(np.isfinite(embeddings))
        return history

    def run_model_saving_test(self, model, images, tmp_path):
        path = os.path.join(str(tmp_path), "model.keras")
        model.save(path)
        restored = keras.saving.load_model(path)
        assert type(restored) is type(model)
        np.testing.assert_array_equal(model.predict(images, verbose=0), restored.predict(images, verbose=0))
        assert len(restored.weights) == len(model.weights)
        for a, b in zip(model.weights, restored.weights):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
        return restored

    def contrastive_digits_setup(self, seed=1):
        """The contrastive learns-tests' shared start: the scikit-learn digits,
        a ConvNet(32, 64) seeded with `seed`, the kNN accuracy of its
        random-initialised copy, and SimCLR-style views for 8x8 digits (crops
        of 0.5-1.0 of the image, no flip). Returns
        `(data, backbone, random_accuracy, augmenter)`."""
        from keras_ssl.augment.simclr_augmenter import SimCLRAugmenter
        from keras_ssl.evaluation import random_init_copy

        data = load_digits()
        keras.utils.set_random_seed(seed)
        backbone = ConvNet(input_shape=(8, 8, 1), filters=(32, 64))
        random_accuracy = self.representation_accuracy(random_init_copy(backbone, seed=seed), data)
        augmenter = SimCLRAugmenter((8, 8, 1), crop_scale=(0.5, 1.0), flip=False, seed=seed)
        return data, backbone, random_accuracy, augmenter

    def representation_accuracy(self, encoder, dataset, k=20):
        from keras_ssl.evaluation import extract_features, knn_accuracy

        return knn_accuracy(
            extract_features(encoder, dataset.x_train),
            dataset.y_train,
            extract_features(encoder, dataset.x_test),
            dataset.y_test,
            k=k,
        )


def run_python(args, timeout=600, env=None, **kwargs):
    """Runs `python ARGS` in the repository root; returns the CompletedProcess."""
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=full_env, capture_output=True, text=True, timeout=timeout, **kwargs
    )


def train_here(args, capsys):
    """zoo.train's main in this process, its flags parsed as absl parses
    them (a fresh Python costs seconds of TensorFlow import); returns
    `(exit code, stdout, stderr)`."""
    from absl import flags
    from absl.testing import flagsaver

    from zoo import train

    capsys.readouterr()
    with flagsaver.flagsaver():
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["zoo.train", *args])
        try:
            train.main([])
            code = 0
        except SystemExit as exited:
            code = exited.code
    out, err = capsys.readouterr()
    return code, out, err


def one_step_on_one_and_two_replicas(case, tmp_path):
    """Runs tests/workers/one_step.py for builder `case` ("module:function")
    on one replica, then on two from the same starting weights, in one
    process; returns the two `step.npz` contents as dicts `(one, two)`."""
    result = run_python(["tests/workers/one_step.py", "--strategy=both", f"--output-dir={tmp_path}", case])
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(tmp_path / "single" / "step.npz") as one, np.load(tmp_path / "mirrored" / "step.npz") as two:
        one, two = dict(one), dict(two)
    assert int(one["num_replicas"]) == 1 and int(two["num_replicas"]) == 2
    return one, two


def assert_same_step(one, two, rtol=1e-5, atol=1e-5):
    """The loss and every weight after the step agree (`one_step_on_one_and_two_replicas`)."""
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=rtol)
    for i, name in enumerate(one["names"]):
        np.testing.assert_allclose(two[f"final_{i}"], one[f"final_{i}"], rtol=rtol, atol=atol, err_msg=name)


def np_log_softmax(logits):
    """Log-softmax over the last axis, in float64."""
    logits = np.asarray(logits, "float64")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def np_softmax(logits):
    """Softmax over the last axis, in float64."""
    logits = np.asarray(logits, "float64")
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_cross_entropy(logits, labels):
    """Per-example cross-entropy of integer `labels` under `logits`, in float64."""
    return -np_log_softmax(logits)[np.arange(len(labels)), labels]


def random_semi_supervised_data(rng, labelled=8, unlabelled=32, shape=(16, 16, 1), num_classes=3):
    """Random uint8 `(x_l, y_l, x_u)`: `labelled` images with labels below
    `num_classes` and `unlabelled` images, drawn from `rng` in that order."""
    x_l = rng.integers(0, 256, size=(labelled, *shape), dtype="uint8")
    y_l = rng.integers(0, num_classes, size=labelled)
    x_u = rng.integers(0, 256, size=(unlabelled, *shape), dtype="uint8")
    return x_l, y_l, x_u


def batches(data, batch_size=4, unlabelled_ratio=2, **kwargs):
    """`semi_supervised_batches` over an `(x_l, y_l, x_u)` triple."""
    x_l, y_l, x_u = data
    return semi_supervised_batches(x_l, y_l, x_u, batch_size=batch_size, unlabelled_ratio=unlabelled_ratio, **kwargs)


def tiny_semi_supervised_model(cls, num_classes, seed=0, learning_rate=1e-3, compile=True, **kwargs):
    """`cls` on a small ConvNet for 16x16x1 images, seeded with `seed` and
    compiled with Adam(`learning_rate`) unless `compile=False`."""
    keras.utils.set_random_seed(seed)
    model = cls(ConvNet(input_shape=(16, 16, 1), filters=(4, 8)), num_classes=num_classes, seed=seed, **kwargs)
    if compile:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return model


def digits_semi_supervised_split(num_labels=50, seed=0):
    """Scikit-learn's digits training images as `(x_l, y_l, x_u)`: a
    class-balanced split of `num_labels` labels fixed by `seed`, the other
    images unlabelled."""
    data = load_digits()
    labelled, unlabelled = labelled_split(data.y_train, num_labels=num_labels, seed=seed)
    return data.x_train[labelled], data.y_train[labelled], data.x_train[unlabelled]


def digits_semi_supervised_batches(seed, batch_size=32, unlabelled_ratio=3, with_indices=False):
    """`semi_supervised_batches` of the digits with 50 labels, shuffled by
    `seed`. The shuffle also depends on TensorFlow's global seed when built."""
    return batches(
        digits_semi_supervised_split(),
        batch_size=batch_size,
        unlabelled_ratio=unlabelled_ratio,
        with_indices=with_indices,
        seed=seed,
    )


def digits_semi_supervised_accuracy(
    cls,
    seed,
    steps,
    batch_size=32,
    unlabelled_ratio=3,
    learning_rate=1e-3,
    dropout=0.0,
    translate=1,
    epochs=None,
    with_indices=False,
    dataset=None,
    evaluate_batch_size="all",
    return_model=False,
    **kwargs,
):
    """Digits test accuracy of `cls` (extra `kwargs` to it) after `steps`
    steps with 50 labels: ConvNet (32, 64), WeakAugmenter without flips,
    Adam(`learning_rate`), all seeded with `seed`.

    Trains on `digits_semi_supervised_batches` built after seeding, or on
    `dataset` when given (one shared by several runs). `epochs=None` fits
    the repeated batches for `steps` steps in one Keras epoch; an int fits
    that many passes over the unlabelled images, which must make `steps`.
    Evaluates the test set in one batch (`evaluate_batch_size="all"`) or in
    batches of that size (None: Keras' 32). Returns the accuracy, or
    `(model, accuracy)` with `return_model=True`.
    """
    keras.utils.set_random_seed(seed)
    if dataset is None:
        dataset = digits_semi_supervised_batches(seed, batch_size, unlabelled_ratio, with_indices=with_indices)
    backbone = ConvNet(input_shape=(8, 8, 1), filters=(32, 64))
    augmenter = WeakAugmenter((8, 8, 1), translate=translate, flip=False, seed=seed)
    model = cls(backbone, num_classes=10, dropout=dropout, augmenter=augmenter, seed=seed, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    if epochs is None:
        model.fit(dataset.repeat(), steps_per_epoch=steps, epochs=1, verbose=0)
    else:
        model.fit(dataset, epochs=epochs, verbose=0)
    assert int(model.optimizer.iterations) == steps
    data = load_digits()
    if evaluate_batch_size == "all":
        evaluate_batch_size = len(data.x_test)
    accuracy = model.evaluate(data.x_test, data.y_test, batch_size=evaluate_batch_size, verbose=0, return_dict=True)[
        "accuracy"
    ]
    return (model, accuracy) if return_model else accuracy


_RANDOM_INIT_PROBES = {}  # (dataset, filters, seed, max_dim, probe_size) -> stage accuracies


def pretext_stage_probes(
    make_method,
    fashion_mnist,
    fit_kwargs,
    seed=0,
    max_dim=256,
    pretrain_size=4000,
    probe_size=2000,
    filters=(16, 32, 64),
    learning_rate=2e-3,
    pretrain_images=None,
):
    """The pretext family's learns-test protocol: `make_method(backbone)`
    trains on `pretrain_size` Fashion-MNIST images (no labels; or on
    `pretrain_images`, e.g. colour photos for an L-channel backbone), then every
    stage of its backbone and of the same backbone at random initialisation
    is probed (`stage_probe_accuracies`, each stage pooled to <= `max_dim`
    features) on `probe_size` class-balanced training images, scored on
    the whole 10,000-image test split (the measurement noise of a 1000-image
    test set, +-0.012, is as large as the margins). Returns `(trained,
    random, history)`."""
    import keras

    from keras_ssl.backbones import ConvNet
    from keras_ssl.evaluation import random_init_copy, stage_probe_accuracies

    probe = fashion_mnist.subset(train_size=probe_size, seed=seed)
    pretrain = pretrain_images
    if pretrain is None:
        pretrain = fashion_mnist.subset(train_size=pretrain_size, seed=seed + 10).x_train
    keras.utils.set_random_seed(seed)
    backbone = ConvNet(input_shape=fashion_mnist.image_shape, filters=filters)

    def probes(encoder):
        return stage_probe_accuracies(
            encoder, probe.x_train, probe.y_train, probe.x_test, probe.y_test, max_dim=max_dim
        )

    # The random-init copy is built every time (it draws from the seeded
    # global RNG, which the method's heads then continue from); its probes,
    # the same for every pretext method on this backbone, once per process.
    random_copy = random_init_copy(backbone, seed=seed)
    # The dataset by identity (the session fixture), not by shape: another
    # dataset of the same shape must not reuse these numbers.
    key = (id(fashion_mnist), tuple(filters), seed, max_dim, probe_size)
    if key not in _RANDOM_INIT_PROBES:
        _RANDOM_INIT_PROBES[key] = probes(random_copy)
    random = dict(_RANDOM_INIT_PROBES[key])
    model = make_method(backbone)
    if not model.compiled:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    history = model.fit(pretrain, verbose=0, **fit_kwargs)
    trained = probes(model.backbone)
    print(f"stage probes (max_dim {max_dim}, seed {seed}): random init {random}, {type(model).__name__} {trained}")
    return trained, random, history
