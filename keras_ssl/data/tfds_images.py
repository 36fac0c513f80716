"""TensorFlow Datasets image sets streamed (`TFDSImages`), never loaded
whole: the encoded images are read from the prepared files
(`tfds.decode.SkipDecoding`) and decoded like a folder's."""

import re

import tensorflow as tf

from keras_ssl.data.streams import StreamedImageDataset, check_image_size_argument

_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def parse_tfds_name(spec):
    """`NAME[/CONFIG][:VERSION][:SPLIT]` -> `(name with config and version,
    split or None)`. A part after a colon is the version when it looks like
    `1.2.3`, else the split (TFDS's split syntax, e.g. `train[:50%]`).

    >>> parse_tfds_name("cifar10:3.0.2:train[:10%]")
    ('cifar10:3.0.2', 'train[:10%]')
    """
    name, _, rest = spec.partition(":")
    if rest:
        head, _, tail = rest.partition(":")
        if _VERSION.match(head):
            return f"{name}:{head}", tail or None
        return name, rest
    return name, None


class TFDSImages(StreamedImageDataset):
    """An image classification set of TensorFlow Datasets (features `image`
    and `label`), streamed from its prepared files in `data_dir`.

    The training split is `split` (default `train`); the test split is
    `test`, else `validation`, else the first 10% of the training split
    (then not trained on). Nothing is downloaded: a set that is not prepared
    raises `DataSourceMissingError` at once (`keras_ssl.data.load_tfds`'s
    check). Under a distribution strategy each input pipeline reads its own
    files of the split (TFDS's `ReadConfig(input_context=...)`), or every
    n-th record when the split has fewer files than pipelines.

    Args:
        spec: str. `NAME[/CONFIG][:VERSION][:SPLIT]` (`parse_tfds_name`).
        image_size: int or None. Side of the square images; None takes the
            set's own size when all its images have one (e.g. 32 for
            cifar10).
        data_dir: str or None. Where the prepared sets are
            (`keras_ssl.data.tfds_data_dir`).
        channels: 1, 3 or None (the set's own).
        in_memory: int. Most images decoded into each evaluation array.
        train_size: int or None. Train on at most this many images.
        seed: int.

    Example:

    >>> data = TFDSImages("imagenette/160px:train", image_size=128, data_dir="/data/tfds")
    >>> model.fit(data.train_batches(256, repeat=True), steps_per_epoch=data.num_train // 256)
    """

    def __init__(self, spec, image_size=None, data_dir=None, channels=None, in_memory=2000, train_size=None, seed=0):
        from keras_ssl.data.sources import tfds_builder

        name, split = parse_tfds_name(spec)
        self.builder = tfds_builder(name, data_dir)
        features = self.builder.info.features
        if "image" not in features or "label" not in features:
            raise ValueError(f"tfds:{name} has features {sorted(features)}: an image set needs 'image' and 'label'")
        shape = features["image"].shape
        splits = self.builder.info.splits
        self.train_split = split or "train"
        if self.train_split.split("[")[0] not in splits:
            raise ValueError(f"tfds:{name} has no split {self.train_split!r}: it has {', '.join(sorted(splits))}")
        held_out = next((s for s in ("test", "validation") if s in splits and s != self.train_split), None)
        if held_out is None:
            self.test_split, self.train_split = f"{self.train_split}[:10%]", f"{self.train_split}[10%:]"
        else:
            self.test_split = held_out
        if image_size is None:
            if shape[0] is None or shape[0] != shape[1]:
                raise ValueError(f"tfds:{name} has images of shape {shape}: give an image size (zoo: --image_size)")
            image_size = int(shape[0])
        check_image_size_argument(image_size)
        self.name = f"tfds:{spec}"
        self.image_size, self.in_memory, self.seed = image_size, in_memory, seed
        self.channels = channels or int(shape[-1] or 3)
        self.num_train = splits[self.train_split].num_examples
        self.num_test = splits[self.test_split].num_examples
        if train_size is not None:
            self.num_train = min(self.num_train, train_size)
        self.train_size = train_size
        self.class_names = list(features["label"].names)
        self.source = f"tensorflow_datasets {self.builder.info.full_name} in {self.builder.data_dir}"

    def elements(self, split, shuffle=False, seed=0, input_context=None):
        import tensorflow_datasets as tfds

        name = self.train_split if split == "train" else self.test_split
        by_files = input_context is not None and (
            self.builder.info.splits[name].num_shards >= input_context.num_input_pipelines
        )
        dataset = self.builder.as_dataset(
            split=name,
            shuffle_files=shuffle,
            decoders={"image": tfds.decode.SkipDecoding()},
            read_config=tfds.ReadConfig(
                input_context=input_context if by_files else None,
                shuffle_seed=seed,
                try_autocache=False,  # Memory flat: never cache a whole split.
            ),
        )
        dataset = dataset.map(lambda example: (example["image"], tf.cast(example["label"], tf.int64)))
        return self._shard_and_shuffle(dataset, split, shuffle, seed, input_context, by_files)
