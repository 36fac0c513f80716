"""The recipe of the semi-supervised methods: a class-balanced labelled
subset and the unlabelled rest in each batch, the test set as validation."""

import numpy as np

from zoo.recipes.images import STREAMED, ImageRecipe


class SemiSupervisedRecipe(ImageRecipe):
    """`((x_l, y_l), x_u)` batches (with unlabelled indices when the config
    says `with_indices`) over `num_labels` labels fixed by the seed."""

    foreign_flags = {}

    def load_data(self, config):
        """The labelled dataset, decoded into memory (the labelled subset is
        sampled by class); with `unlabelled_dataset` (e.g. a second folder),
        its images (train and test splits) as the unlabelled pool
        (`ImageDataset.x_unlabelled`), at the same image size."""
        import dataclasses

        from keras_ssl.data import StreamedImageDataset, load_dataset

        dataset = super().load_data(config)
        if isinstance(dataset, StreamedImageDataset):
            print(f"{config['method']} samples its labelled subset: decoding {dataset.name} into memory", flush=True)
            dataset = dataset.load_in_memory(progress=False)
        name = config.get("unlabelled_dataset")
        if name:
            streamed = name.startswith(STREAMED)
            if streamed:
                unlabelled = load_dataset(name, image_size=config.get("image_size"), seed=config["seed"])
                print(f"decoding the unlabelled {name} into memory", flush=True)
                unlabelled = unlabelled.load_in_memory(progress=False)
            else:
                unlabelled = load_dataset(name)
            images = np.concatenate([unlabelled.x_train, unlabelled.x_test])
            dataset = dataclasses.replace(dataset, x_unlabelled=images)
        return dataset

    def peek_data(self, config):
        """The labelled dataset as `ImageRecipe` loads it (a streamed set
        stays undecoded: its image shape is all a finished run's check needs)."""
        return super().load_data(config)

    def training_data(self, config, dataset):
        from keras_ssl.data import labelled_split, semi_supervised_batches

        num_labels = config["num_labels"]
        if not 0 < num_labels <= len(dataset.y_train):
            raise ValueError(f"--num_labels must be between 1 and {len(dataset.y_train)}, got {num_labels}")
        if num_labels < dataset.num_classes:
            raise ValueError(f"--num_labels {num_labels} is fewer than the {dataset.num_classes} classes: raise it")
        labelled, unlabelled = labelled_split(dataset.y_train, num_labels, seed=config["seed"])
        x_unlabelled = dataset.x_train[unlabelled]
        if dataset.x_unlabelled is not None:  # The unlabelled dataset's images join the pool.
            x_unlabelled = np.concatenate([dataset.x_unlabelled, x_unlabelled])
        if len(x_unlabelled) == 0:  # Every label kept, no other images (the fully supervised reference).
            x_unlabelled = dataset.x_train[labelled]
        ratio = config.get("unlabelled_ratio", 1)
        if config["batch_size"] > num_labels:
            raise ValueError(f"--batch_size {config['batch_size']} is larger than --num_labels {num_labels}: lower it")
        batches = semi_supervised_batches(
            dataset.x_train[labelled],
            dataset.y_train[labelled],
            x_unlabelled,
            config["batch_size"],
            unlabelled_ratio=ratio,
            with_indices=bool(config.get("with_indices")),
            seed=config["seed"],
        )
        steps_per_epoch = len(x_unlabelled) // (config["batch_size"] * ratio)
        if config.get("steps_per_epoch"):  # A fixed step budget: epochs of that many steps.
            batches, steps_per_epoch = batches.repeat(), config["steps_per_epoch"]
        info = {"images": dataset.x_train, "steps_per_epoch": steps_per_epoch, "num_unlabelled": len(x_unlabelled)}
        return batches, steps_per_epoch, info

    def validation_data(self, config, dataset):
        return dataset.x_test, dataset.y_test
