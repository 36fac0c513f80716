"""The recipe of the image methods without labels (contrastive, pretext,
autoencoding): raw image batches, a backbone from the config, the method
with the arguments it takes from the data, kNN monitoring, an embedding
plot."""

import os

from zoo.errors import RunError
from zoo.recipes.base import Recipe, build_optimizer

KNN_BANK_SIZE = 5000
KNN_TEST_SIZE = 2000
EMBEDDING_IMAGES = 3000


def build_backbone(config, image_shape):
    """The backbone of `config["backbone"]` for images of `image_shape`; an
    `input_channels` entry overrides the channel count (a backbone that
    sees part of the channels, e.g. the L of Lab), and `"backbone_input":
    "patch"` builds it for the model's square `patch_size` patches (a
    patch encoder, e.g. CPC's)."""
    import keras_ssl

    spec = dict(config["backbone"])
    cls = getattr(keras_ssl.backbones, spec.pop("class"))
    channels = spec.pop("input_channels", None)
    if channels is not None:
        image_shape = (*tuple(image_shape)[:2], int(channels))
    if config.get("backbone_input", "image") == "patch":
        size = int(config["model"]["patch_size"])
        image_shape = (size, size, tuple(image_shape)[-1])
    elif config.get("backbone_input", "image") != "image":
        raise RunError(f"backbone_input is {config['backbone_input']!r}: use 'image' or 'patch'")
    return cls(input_shape=tuple(image_shape), **spec)


# The arguments a config may ask for under `model_from_data`: each completes
# the constructor arguments from what the recipe knows of the data (`info`).
def _num_classes(cls, spec, config, info):
    return {**spec, "num_classes": _needs(info, "num_classes", cls)}


def _rampup_steps(cls, spec, config, info):
    if not config.get("rampup_epochs"):
        return spec
    return {**spec, "rampup_steps": int(config["rampup_epochs"] * _needs(info, "steps_per_epoch", cls))}


def _steps_per_epoch(cls, spec, config, info):
    return {**spec, "steps_per_epoch": _needs(info, "steps_per_epoch", cls)}


def _image_shape(cls, spec, config, info):
    """The full image shape, for a method whose backbone sees patches."""
    return {**spec, "image_shape": tuple(_needs(info, "images", cls).shape[1:])}


def _num_unlabelled(cls, spec, config, info):
    return {**spec, "num_unlabelled": _needs(info, "num_unlabelled", cls)}


def _num_examples(cls, spec, config, info):
    return {**spec, "num_examples": _needs(info, "num_examples", cls)}


def _ab_bins(cls, spec, config, info):
    """Colour bins (k-means of the training images' ab) unless given."""
    return cls.arguments_from_data(_needs(info, "images", cls), spec, seed=config.get("seed"))


DATA_ARGUMENTS = {
    "num_classes": _num_classes,
    "rampup_steps": _rampup_steps,
    "steps_per_epoch": _steps_per_epoch,
    "image_shape": _image_shape,
    "num_unlabelled": _num_unlabelled,
    "num_examples": _num_examples,
    "ab_bins": _ab_bins,
}


def _needs(info, key, cls):
    if info.get(key) is None:
        raise RunError(f"{cls.__name__} takes arguments from the data: pass info={{'{key}': ...}} to build_method")
    return info[key]


def build_method(config, backbone, info=None):
    """The method of `config["model"]` on `backbone`, with the arguments
    `config["model_from_data"]` names computed from `info` (what the
    recipe knows of the data: `num_classes`, `steps_per_epoch`,
    `num_unlabelled`, the training `images`)."""
    import keras_ssl

    spec = dict(config["model"])
    cls = getattr(keras_ssl.methods, spec.pop("class"))
    for name in config.get("model_from_data", ()):
        if name not in DATA_ARGUMENTS:
            raise RunError(f"model_from_data names {name!r}: use some of {', '.join(DATA_ARGUMENTS)}")
        spec = DATA_ARGUMENTS[name](cls, spec, config, info or {})
    return cls(backbone, seed=config.get("seed"), **spec)


def for_replica(batches, strategy):
    """One input pipeline's batches (`distribute_datasets_from_function`):
    uint8 cast to float32 under a multi-worker strategy, as `for_strategy`."""
    from keras_ssl.distribute import is_multi_worker

    return _as_float32(batches) if is_multi_worker(strategy) else batches


def _as_float32(batches):
    import tensorflow as tf

    return batches.map(
        lambda *x: tf.nest.map_structure(
            lambda t: tf.cast(t, "float32") if t.dtype == tf.uint8 else t, x if len(x) > 1 else x[0]
        )
    )


def for_strategy(batches, strategy):
    """Image batches sharded by data under a strategy; uint8 cast to float32
    under a multi-worker one (Keras averages the first batch over workers,
    and collective ops reject uint8)."""
    import tensorflow as tf

    from keras_ssl.distribute import is_multi_worker

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    batches = batches.with_options(options)
    return _as_float32(batches) if is_multi_worker(strategy) else batches


# Datasets streamed from files (`keras_ssl.data.StreamedImageDataset`), not held in memory.
STREAMED = ("folder:", "tfrecord:", "tfds:")


class ImageRecipe(Recipe):
    """Raw image batches of a `keras_ssl.data` image dataset."""

    data_key = "dataset"
    default_data = "fashion_mnist"
    foreign_flags = {
        "num_labels": ("semi-supervised methods", "trains without labels"),
        "unlabelled_ratio": ("semi-supervised methods", "trains without labels"),
        "unlabelled_dataset": ("semi-supervised methods", "trains without labels: give its images as --dataset"),
    }

    def load_data(self, config):
        """The dataset of `config["dataset"]`, cut to a class-balanced
        `train_size` when the config has one."""
        from keras_ssl.data import load_dataset

        if config["dataset"].startswith(STREAMED):
            return load_dataset(
                config["dataset"],
                image_size=config.get("image_size"),
                train_size=config.get("train_size"),
                seed=config["seed"],
            )
        if config.get("image_size"):
            raise ValueError(
                f"--image_size is for streamed datasets ({', '.join(p + '...' for p in STREAMED)}); "
                f"{config['dataset']} has its own size"
            )
        dataset = load_dataset(config["dataset"])
        size = config.get("train_size")
        if size:
            if size > len(dataset.x_train):
                raise ValueError(f"--train_size {size} is larger than the dataset ({len(dataset.x_train)} images)")
            dataset = dataset.subset(train_size=size, seed=config["seed"])
        return dataset

    def complete_config(self, config, dataset):
        if config.get("image_shape") is None:
            config["image_shape"] = list(dataset.image_shape)
        return config

    def training_data(self, config, dataset):
        """`(batches, steps_per_epoch, info)`: raw image batches (with each
        image's index when the config says `with_indices`: a memory bank's
        rows), and what `build_method` may take from the data."""
        import numpy as np

        from keras_ssl.data import StreamedImageDataset, image_batches

        if isinstance(dataset, StreamedImageDataset) and (
            config.get("with_indices") or "images" in config.get("model_from_data", ())
        ):
            # State per training image (a memory bank's rows, all images for
            # clustering): the images are decoded into memory once.
            print(f"{config['method']} keeps state per training image: decoding {dataset.name} into memory", flush=True)
            dataset = dataset.load_in_memory(progress=False)
        if isinstance(dataset, StreamedImageDataset):
            steps_per_epoch = dataset.num_train // config["batch_size"]
            dataset.per_replica_batch_size(config["batch_size"])  # One line now if the batch is too large.

            def batches(input_context=None):
                # Repeated: shards may differ by an image, and every worker
                # must run the same steps_per_epoch.
                return dataset.train_batches(
                    config["batch_size"], seed=config["seed"], repeat=True, input_context=input_context
                )

            return batches, steps_per_epoch, {"steps_per_epoch": steps_per_epoch, "num_examples": dataset.num_train}
        indices = np.arange(len(dataset.x_train)) if config.get("with_indices") else None
        batches = image_batches(dataset.x_train, config["batch_size"], labels=indices, seed=config["seed"])
        steps_per_epoch = len(dataset.x_train) // config["batch_size"]
        info = {"images": dataset.x_train, "steps_per_epoch": steps_per_epoch, "num_examples": len(dataset.x_train)}
        return batches, steps_per_epoch, info

    def validation_data(self, config, dataset):
        return None

    def build(self, config, dataset, model_dir, strategy):
        batches, steps_per_epoch, info = self.training_data(config, dataset)
        info = {"num_classes": dataset.num_classes, **info}
        streamed = callable(batches)
        if streamed:  # runs.train distributes it: each input pipeline reads its own shard.
            make = batches

            def batches(input_context=None):
                return for_replica(make(input_context), strategy)
        else:
            batches = for_strategy(batches, strategy)
        with strategy.scope():
            model = build_method(config, build_backbone(config, dataset.image_shape), info)
            model.compile(optimizer=build_optimizer(config, steps_per_epoch))
        fit_kwargs = {
            "shuffle": False,
            "validation_data": self.validation_data(config, dataset),
            "steps_per_epoch": config.get("steps_per_epoch") or (steps_per_epoch if streamed else None),
        }
        return model, batches, fit_kwargs

    def callbacks(self, config, dataset):
        import keras

        import keras_ssl
        from keras_ssl.evaluation import KNNMonitor

        # First, so the logs they add (DeepCluster's NMI) reach the history.
        method = getattr(keras_ssl.methods, config["model"]["class"])
        callbacks = list(method.training_callbacks(dataset.x_train, dataset.y_train))
        if config.get("knn_every") and dataset.num_classes > 1:  # An unlabelled folder has one class.
            bank = dataset.subset(
                train_size=min(KNN_BANK_SIZE, len(dataset.x_train)),
                test_size=min(KNN_TEST_SIZE, len(dataset.x_test)),
                seed=config["seed"],
            )
            callbacks.append(
                KNNMonitor(bank.x_train, bank.y_train, bank.x_test, bank.y_test, every=config["knn_every"])
            )
        if config.get("swap_ema_weights"):  # Validate on the averaged weights; fit ends on them.
            callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=False))
        return callbacks

    def finish(self, model, config, dataset, model_dir, history, chief):
        """`history.png` and `embedding.png` (PCA of test embeddings). Every
        worker predicts (collective under a multi-worker strategy); the
        chief writes."""
        from keras_ssl.evaluation import extract_features, plot_embedding, plot_history

        test = dataset.subset(test_size=min(EMBEDDING_IMAGES, len(dataset.x_test)), seed=config["seed"])
        features = extract_features(model.encoder, test.x_test)
        if chief:
            plot_history(history, os.path.join(model_dir, "history.png"), title=f"{config['method']} on {dataset.name}")
            plot_embedding(
                features,
                test.y_test,
                os.path.join(model_dir, "embedding.png"),
                class_names=dataset.class_names,
                title=f"{config['method']} embedding of {dataset.name} test (PCA)",
            )
        return None
