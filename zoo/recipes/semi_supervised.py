"""The recipe of the semi-supervised methods: a class-balanced labelled
subset and the unlabelled rest in each batch, the test set as validation."""

from zoo.recipes.images import ImageRecipe


class SemiSupervisedRecipe(ImageRecipe):
    """`((x_l, y_l), x_u)` batches (with unlabelled indices when the config
    says `with_indices`) over `num_labels` labels fixed by the seed."""

    foreign_flags = {}

    def training_data(self, config, dataset):
        from keras_ssl.data import StreamedImageDataset, labelled_split, semi_supervised_batches

        if isinstance(dataset, StreamedImageDataset):  # A labelled subset sampled by class: decoded into memory.
            print(f"{config['method']} samples its labelled subset: decoding {dataset.name} into memory", flush=True)
            dataset = dataset.load_in_memory(progress=False)
        num_labels = config["num_labels"]
        if not 0 < num_labels <= len(dataset.y_train):
            raise ValueError(f"--num_labels must be between 1 and {len(dataset.y_train)}, got {num_labels}")
        if num_labels < dataset.num_classes:
            raise ValueError(f"--num_labels {num_labels} is fewer than the {dataset.num_classes} classes: raise it")
        labelled, unlabelled = labelled_split(dataset.y_train, num_labels, seed=config["seed"])
        if len(unlabelled) == 0:  # Every label kept (the fully supervised reference).
            unlabelled = labelled
        ratio = config.get("unlabelled_ratio", 1)
        if config["batch_size"] > num_labels:
            raise ValueError(f"--batch_size {config['batch_size']} is larger than --num_labels {num_labels}: lower it")
        batches = semi_supervised_batches(
            dataset.x_train[labelled],
            dataset.y_train[labelled],
            dataset.x_train[unlabelled],
            config["batch_size"],
            unlabelled_ratio=ratio,
            with_indices=bool(config.get("with_indices")),
            seed=config["seed"],
        )
        steps_per_epoch = len(unlabelled) // (config["batch_size"] * ratio)
        if config.get("steps_per_epoch"):  # A fixed step budget: epochs of that many steps.
            batches, steps_per_epoch = batches.repeat(), config["steps_per_epoch"]
        info = {"images": dataset.x_train, "steps_per_epoch": steps_per_epoch, "num_unlabelled": len(unlabelled)}
        return batches, steps_per_epoch, info

    def validation_data(self, config, dataset):
        return dataset.x_test, dataset.y_test
