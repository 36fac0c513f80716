"""Streamed image datasets: folders, TFRecords and TFDS, sharded per input
pipeline (each worker reads its own part), evaluation samples and streams,
and the zoo's tfrecord: path."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_ssl.data import FolderDataset, TFDSImages, TFRecordImages, load_dataset, write_tfrecords
from keras_ssl.data.tfds_images import parse_tfds_name
from tests.test_case import run_python, train_here


def numbered_folder(root, count=40, classes=2, size=(20, 24)):
    """`count` PNGs (lossless), image i a flat grey of value 5 i: its pixel
    value names it after decoding and resizing."""
    for i in range(count):
        directory = root / f"class{i % classes}" if classes else root
        os.makedirs(directory, exist_ok=True)
        Image.fromarray(np.full((*size, 3), 5 * i, np.uint8)).save(directory / f"{i:03d}.png")
    return root


def image_ids(batches):
    """The image numbers in a stream of batches (`numbered_folder`)."""
    ids = []
    for batch in batches:
        images = batch[0] if isinstance(batch, tuple) else batch
        ids.extend(int(round(v / 5)) for v in np.asarray(images)[:, 0, 0, 0])
    return ids


def contexts(pipelines, replicas_per_pipeline=1):
    return [tf.distribute.InputContext(pipelines, i, pipelines * replicas_per_pipeline) for i in range(pipelines)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return numbered_folder(tmp_path_factory.mktemp("numbered"))


def one_pass(data, context, batch_size):
    """One pass over this pipeline's shard (no repeat): the ids it reads."""
    return image_ids(data.train_batches(batch_size, seed=3, input_context=context).as_numpy_iterator())


class TestFolderShards:
    def test_each_input_pipeline_reads_its_own_files(self, folder):
        data = FolderDataset(folder, image_size=8, test_fraction=0.1)
        assert (data.num_train, data.num_test) == (36, 4)
        train_ids = {int(os.path.basename(f)[:3]) for f in data.train_files}
        first, second = (one_pass(data, context, batch_size=4) for context in contexts(2))
        # Global batch 4 over 2 replicas: 2 per replica, 18 files per pipeline.
        assert len(first) == len(second) == 18
        assert not set(first) & set(second) and set(first) | set(second) == train_ids

    def test_one_pipeline_for_two_replicas_reads_everything_at_half_the_batch(self, folder):
        data = FolderDataset(folder, image_size=8, test_fraction=0.1)
        (context,) = contexts(1, replicas_per_pipeline=2)
        batches = list(data.train_batches(8, input_context=context).as_numpy_iterator())
        assert batches[0].shape == (4, 8, 8, 3) and len(batches) == 9

    def test_batch_errors_are_one_line(self, folder):
        data = FolderDataset(folder, image_size=8)
        with pytest.raises(ValueError, match="does not split over 2 replicas"):
            data.train_batches(5, input_context=contexts(2)[0])
        with pytest.raises(ValueError, match="larger than folder:.*36 images: lower --batch_size"):
            data.train_batches(64)

    def test_loads_in_memory_for_the_methods_that_need_every_image(self, folder):
        data = FolderDataset(folder, image_size=8, test_fraction=0.1)
        memory = data.load_in_memory(progress=False)
        assert memory.x_train.shape == (36, 8, 8, 3) and memory.x_test.shape == (4, 8, 8, 3)
        assert sorted(image_ids([memory.x_train])) == sorted(int(os.path.basename(f)[:3]) for f in data.train_files)
        assert list(memory.y_train) == [i % 2 for i in image_ids([memory.x_train])]
        with pytest.raises(ValueError, match=r"takes 0.0 GiB in memory .*lower --image_size or --train_size"):
            data.load_in_memory(max_bytes=1000)

    def test_eval_batches_stream_a_whole_split_in_order(self, folder):
        data = FolderDataset(folder, image_size=8, test_fraction=0.1)
        batches = list(data.eval_batches("train", batch_size=16).as_numpy_iterator())
        assert [len(b[0]) for b in batches] == [16, 16, 4]
        ids = image_ids(batches)
        assert ids == [int(os.path.basename(f)[:3]) for f in data.train_files]
        assert [int(y) for b in batches for y in b[1]] == [i % 2 for i in ids]


@pytest.fixture(scope="module")
def records(folder, tmp_path_factory):
    output = tmp_path_factory.mktemp("records")
    paths = write_tfrecords(folder, str(output), shards=4, progress=False)
    return output, paths


class TestTFRecords:
    def test_writes_every_file_once_with_its_label_and_the_metadata(self, records, folder):
        output, paths = records
        assert [os.path.basename(p) for p in paths] == [f"images-{i:05d}-of-00004.tfrecord" for i in range(4)]
        assert not [name for name in os.listdir(output) if name.endswith(".tmp")]
        metadata = json.load(open(output / "dataset.json"))
        assert metadata["class_names"] == ["class0", "class1"] and sum(metadata["shards"].values()) == 40
        data = TFRecordImages(str(output / "images-*.tfrecord"), image_size=8, test_fraction=0.25)
        assert (data.num_train, data.num_test) == (28, 12)  # Records 0 and 4 and 8 of each 10-record file.
        assert data.class_names == ["class0", "class1"]
        ids = {}
        for split in ("train", "test"):
            batches = list(data.eval_batches(split, batch_size=64).as_numpy_iterator())
            ids[split] = image_ids(batches)
            assert [int(y) for b in batches for y in b[1]] == [i % 2 for i in ids[split]]
        assert sorted(ids["train"] + ids["test"]) == list(range(40)) and not set(ids["train"]) & set(ids["test"])

    def test_shards_by_file_when_there_are_enough_files_else_by_record(self, records):
        output, _ = records
        data = TFRecordImages(str(output / "images-*.tfrecord"), image_size=8, test_fraction=0.25)
        for pipelines in (2, 8):  # 4 files: by file for 2 pipelines, every 8th record for 8.
            reads = [one_pass(data, context, batch_size=pipelines) for context in contexts(pipelines)]
            assert sum(len(r) for r in reads) >= data.num_train - pipelines * 2
            assert not set().union(*[set(r) & set(other) for r in reads for other in reads if r is not other])

    def test_without_metadata_the_records_are_counted(self, records, tmp_path):
        output, paths = records
        for path in paths[:2]:
            os.symlink(path, tmp_path / os.path.basename(path))
        data = TFRecordImages(str(tmp_path / "*.tfrecord"), image_size=8, test_fraction=0.5)
        assert (data.num_train, data.num_test) == (10, 10) and data.class_names == ["0", "1"]

    def test_errors_are_one_line(self, records, folder, tmp_path):
        output, _ = records
        with pytest.raises(FileNotFoundError, match="no TFRecord file matches .*zoo.make_tfrecords"):
            TFRecordImages(str(tmp_path / "none-*.tfrecord"), image_size=8)
        with pytest.raises(FileExistsError, match="already holds images-"):
            write_tfrecords(folder, str(output), progress=False)
        with pytest.raises(ValueError, match=r"shards must be an int in \[1, 40\]"):
            write_tfrecords(folder, str(tmp_path / "more"), shards=41, progress=False)
        with pytest.raises(ValueError, match="tfrecord:.* needs an image size"):
            load_dataset(f"tfrecord:{output}/*.tfrecord")


class TestTFDS:
    def test_parses_name_version_and_split(self):
        assert parse_tfds_name("cifar10") == ("cifar10", None)
        assert parse_tfds_name("cifar10:train[:10%]") == ("cifar10", "train[:10%]")
        assert parse_tfds_name("cifar10:3.0.2") == ("cifar10:3.0.2", None)
        assert parse_tfds_name("imagenette/160px:1.0.0:validation") == ("imagenette/160px:1.0.0", "validation")

    def test_streams_a_prepared_set_without_loading_it_whole(self, tmp_path):
        import tensorflow_datasets as tfds

        class KerasSslTinyShapes(tfds.core.GeneratorBasedBuilder):
            """12 x 12 grey images numbered by their value; train only."""

            VERSION = tfds.core.Version("1.0.0")

            def _info(self):
                return tfds.core.DatasetInfo(
                    builder=self,
                    features=tfds.features.FeaturesDict(
                        {
                            "image": tfds.features.Image(shape=(12, 12, 1)),
                            "label": tfds.features.ClassLabel(num_classes=3),
                        }
                    ),
                )

            def _split_generators(self, dl_manager):
                return {"train": self._generate_examples()}

            def _generate_examples(self):
                for i in range(30):
                    yield i, {"image": np.full((12, 12, 1), 5 * i, np.uint8), "label": i % 3}

        KerasSslTinyShapes(data_dir=str(tmp_path)).download_and_prepare()
        data = load_dataset("tfds:keras_ssl_tiny_shapes", data_dir=str(tmp_path))
        assert isinstance(data, TFDSImages)
        # No test split: the first 10% of train is held out.
        assert data.image_shape == (12, 12, 1) and (data.num_train, data.num_test) == (27, 3)
        assert data.class_names == ["0", "1", "2"]
        test_ids = image_ids(data.eval_batches("test").as_numpy_iterator())
        train_ids = image_ids(data.eval_batches("train").as_numpy_iterator())
        assert sorted(test_ids + train_ids) == list(range(30))
        reads = [one_pass(data, context, batch_size=2) for context in contexts(2)]  # 1 file: every 2nd record.
        assert not set(reads[0]) & set(reads[1]) and len(reads[0]) + len(reads[1]) >= 26
        assert data.x_test.shape == (3, 12, 12, 1)
        with pytest.raises(ValueError, match="has no split 'validation'"):
            TFDSImages("keras_ssl_tiny_shapes:validation", data_dir=str(tmp_path))


@pytest.mark.slow
def test_zoo_trains_from_tfrecords_and_make_tfrecords_writes_them(folder, tmp_path, capsys):
    # A fresh process: zoo.make_tfrecords and zoo.train both define --dataset.
    made = run_python(
        ["-m", "zoo.make_tfrecords", f"--dataset=folder:{folder}", f"--output={tmp_path / 'rec'}", "--shards=3"]
    )
    assert made.returncode == 0 and "Wrote 40 images (2 classes) into 3 shards" in made.stdout, made.stderr[-3000:]
    run = tmp_path / "run"
    args = ["--method=rotation", f"--dataset=tfrecord:{tmp_path / 'rec'}/images-*.tfrecord", "--image_size=16"]
    code, out, err = train_here([*args, "--quick", "--epochs=1", "--batch_size=8", f"--model_dir={run}"], capsys)
    assert code == 0, err[-3000:]
    # Records 0 and 10 of each of the 3 files (14, 13, 13 records) held out.
    assert "34 train / 6 test images streamed at (16, 16, 3)" in out
    history = json.load(open(run / "history.json"))
    assert np.isfinite(history[0]["loss"])


@pytest.mark.slow
def test_zoo_trains_a_semi_supervised_method_on_a_labelled_and_an_unlabelled_folder(folder, tmp_path, capsys):
    unlabelled = numbered_folder(tmp_path / "unlabelled", count=30, classes=0)
    args = ["--method=pseudo_label", f"--dataset=folder:{folder}", "--image_size=16", "--num_labels=10"]
    args += [f"--unlabelled_dataset=folder:{unlabelled}", "--quick", "--epochs=1", "--batch_size=4"]
    code, out, err = train_here([*args, f"--model_dir={tmp_path / 'run'}"], capsys)
    assert code == 0, err[-3000:]
    assert "decoding folder:" in out and "36 train / 4 test images of shape (16, 16, 3)" in out
    assert "plus 30 unlabelled" in out
    assert np.isfinite(json.load(open(tmp_path / "run" / "history.json"))[0]["loss"])
    # A finished run is checked against its flags without decoding the folders again.
    code, out, err = train_here([*args, f"--model_dir={tmp_path / 'run'}"], capsys)
    assert code == 0 and "Run already complete" in out, err[-3000:]
    assert "decoding" not in out
    code, out, err = train_here([*args, "--image_size=12", f"--model_dir={tmp_path / 'run'}"], capsys)
    assert code != 0 and "holds a run with a different config (image_shape" in err, err[-3000:]


def test_unlabelled_images_must_match_the_labelled_shape():
    from keras_ssl.data import ImageDataset

    x, y = np.zeros((4, 8, 8, 3), np.uint8), np.zeros(4, "int64")
    data = ImageDataset("d", x, y, x, y, ["a"], x_unlabelled=np.zeros((6, 8, 8, 3), np.uint8))
    assert "plus 6 unlabelled" in data.describe() and len(data.subset(train_size=2).x_unlabelled) == 6
    with pytest.raises(ValueError, match=r"must be uint8 of the labelled images' shape \(8, 8, 3\)"):
        ImageDataset("d", x, y, x, y, ["a"], x_unlabelled=np.zeros((6, 8, 8, 1), np.uint8))
