"""The recipe of the density models (FVSBN, NADE, PixelCNN): binarised
grey images, the model built for their shape, and an evaluation of test
log-likelihood beside the independent-pixel baseline, with samples and
completions drawn as PNG grids."""

import dataclasses
import os

import numpy as np

from zoo.recipes.base import Recipe, build_optimizer

SAMPLE_IMAGES = 16
COMPLETION_IMAGES = 8


def binarized(dataset, config):
    """`dataset` with its images binarised (0/1 uint8) as the config says:
    `binarize_threshold` (0.5 of 255) or seeded Bernoulli draws
    (`stochastic_binarization`)."""
    from keras_ssl.data import binarize

    if dataset.image_shape[-1] != 1:
        raise ValueError(f"density models take grey images, got {dataset.image_shape}: use fashion_mnist or digits")
    settings = {
        "threshold": config.get("binarize_threshold", 0.5),
        "stochastic": bool(config.get("stochastic_binarization")),
        "seed": config["seed"],
    }
    return dataclasses.replace(
        dataset,
        name=f"binarised {dataset.name}",
        x_train=binarize(dataset.x_train, **settings),
        x_test=binarize(dataset.x_test, **{**settings, "seed": config["seed"] + 1}),
    )


def independent_pixels_nll(train, test):
    """Test NLL (nats per image) of one Bernoulli per pixel with the
    training marginals (add-one smoothing): the floor a density model must
    beat."""
    train = np.asarray(train, "float64").reshape(len(train), -1)
    test = np.asarray(test, "float64").reshape(len(test), -1)
    p = (train.sum(axis=0) + 1.0) / (len(train) + 2.0)
    return float(-(test * np.log(p) + (1 - test) * np.log(1 - p)).sum(axis=1).mean())


class DensityRecipe(Recipe):
    """Binarised images of a `keras_ssl.data` grey dataset."""

    data_key = "dataset"
    default_data = "fashion_mnist"
    foreign_flags = {
        "num_labels": ("semi-supervised methods", "models images without labels"),
        "unlabelled_ratio": ("semi-supervised methods", "models images without labels"),
        "unlabelled_dataset": ("semi-supervised methods", "models images without labels"),
        "knn_every": ("representation methods", "is evaluated by its likelihood"),
    }

    def load_data(self, config):
        from zoo.recipes.images import ImageRecipe

        return binarized(ImageRecipe().load_data(config), config)

    def complete_config(self, config, dataset):
        if config.get("image_shape") is None:
            config["image_shape"] = list(dataset.image_shape)
        return config

    def build(self, config, dataset, model_dir, strategy):
        import keras_ssl
        from keras_ssl.data import image_batches
        from zoo.recipes.images import for_strategy

        batches = for_strategy(image_batches(dataset.x_train, config["batch_size"], seed=config["seed"]), strategy)
        steps_per_epoch = len(dataset.x_train) // config["batch_size"]
        spec = dict(config["model"])
        cls = getattr(keras_ssl.methods, spec.pop("class"))
        with strategy.scope():
            model = cls(input_shape=tuple(dataset.image_shape), seed=config["seed"], **spec)
            model.compile(optimizer=build_optimizer(config, steps_per_epoch))
        return model, batches, {"shuffle": False, "validation_data": (dataset.x_test,)}

    def finish(self, model, config, dataset, model_dir, history, chief):
        """`history.png`; test NLL (nats per image) and bits per dimension of
        the model and of independent pixels in `evaluation.json`; `samples.png`
        and `completions.png` (the bottom half of test images drawn)."""
        from keras_ssl.evaluation import plot_history, plot_image_grid
        from zoo.runs import EVALUATION_FILE, write_json_atomic

        nll = float(
            -np.mean(
                np.concatenate(
                    [
                        model.log_likelihood(dataset.x_test[i : i + 1000]).numpy()
                        for i in range(0, len(dataset.x_test), 1000)
                    ]
                )
            )
        )
        dims = model.num_dimensions
        baseline = independent_pixels_nll(dataset.x_train, dataset.x_test)
        evaluation = {
            "test_nll_nats": nll,
            "test_bits_per_dim": nll / (dims * np.log(2.0)),
            "independent_pixels_nll_nats": baseline,
            "independent_pixels_bits_per_dim": baseline / (dims * np.log(2.0)),
        }
        if chief:
            plot_history(history, os.path.join(model_dir, "history.png"), title=f"{config['method']} on {dataset.name}")
            write_json_atomic(os.path.join(model_dir, EVALUATION_FILE), {"test": evaluation})
            samples = model.sample(SAMPLE_IMAGES, seed=config["seed"]) * 255
            plot_image_grid(
                [samples[: SAMPLE_IMAGES // 2], samples[SAMPLE_IMAGES // 2 :]],
                os.path.join(model_dir, "samples.png"),
                row_titles=["samples", "samples"],
            )
            originals = dataset.x_test[:COMPLETION_IMAGES]
            completed = model.complete(originals, rows=model.image_shape[0] // 2, seed=config["seed"])
            plot_image_grid(
                [originals * 255, completed * 255],
                os.path.join(model_dir, "completions.png"),
                row_titles=["test image", "bottom half drawn"],
            )
        for name, value in evaluation.items():
            print(f"{name}: {value:.4f}", flush=True)
        return evaluation
