"""The input-pipeline benchmark suite: its tables, growth ratios and the
pipeline-versus-step verdict, and its measurements in this process on a
tiny collection (the suite itself is not run here)."""

import os

import pytest

from zoo.benchmarks import input_pipeline


def row(source, collection, growth, images_per_s=500.0, peak=900.0):
    return {
        "source": source,
        "collection": collection,
        "images": collection - collection // 10,
        "images_per_s": images_per_s,
        "baseline_mb": peak - growth,
        "peak_mb": peak,
        "growth_mb": growth,
    }


def speed_row(image_size, pipeline, step):
    return {
        "image_size": image_size,
        "batch_size": 32,
        "backbone": "ImageNetResNet-18",
        "collection": 2000,
        "pipeline_images_per_s": pipeline,
        "step_images_per_s": step,
        "step_images_per_s_wall": step * 0.9,
        "ratio": pipeline / step,
    }


def result(speed_rows):
    rows = [
        row("folder", 2000, 20.0, images_per_s=812.4),
        row("in_memory", 2000, 50.0, peak=1000.0),
        row("folder", 20000, 22.0, peak=909.0),
        row("in_memory", 20000, 500.0, peak=1573.6),
    ]
    return {
        "image_size": 96,
        "batch_size": 128,
        "rows": rows,
        "machine": "a CPU",
        "speed": {"batch_size": 32, "steps": 5, "warmup_steps": 2, "rows": speed_rows},
    }


def test_markdown_lists_every_measurement_the_growth_ratios_and_the_speed_table():
    table = input_pipeline.markdown(result([speed_row(64, 400.0, 50.0), speed_row(96, 300.0, 20.0)]))
    assert input_pipeline.growth_ratios(result([])["rows"]) == {
        "folder": pytest.approx(1.1),
        "in_memory": pytest.approx(10.0),
    }
    assert "| source | images | RSS growth (MB) | peak RSS (MB) | images/s |" in table
    assert "| folder | 2000 | 20.0 | 900 | 812 |" in table
    assert "| in_memory | 20000 | 500.0 | 1574 | 500 |" in table
    assert (
        "- folder: growth ratio 1.10 (22.0 MB at 20000 images / 20.0 MB at 2000; +2.0 MB for 18000 more images); "
        "peak RSS 909 MB against 900 MB (+1%)" in table
    )
    assert "- in_memory: growth ratio 10.00 (500.0 MB at 20000 images / 50.0 MB at 2000;" in table
    # The in-memory reference: N * 96 * 96 * 3 bytes.
    assert (
        "2000 images at 96x96x3 uint8 take 52.7 MB" in table and "20000 images at 96x96x3 uint8 take 527.3 MB" in table
    )
    assert "1800 of 2000, 18000 of 20000" in table and "Machine: a CPU." in table
    assert "| image size | pipeline decode+augment images/s | ResNet-18 SimCLR train step images/s | ratio |" in table
    assert "| 64 | 400 | 50.0 | 8.0x |" in table and "| 96 | 300 | 20.0 | 15.0x |" in table
    assert "the pipeline is >= 2x the train step at every size (at 64 px 8.0x (>= 2x); at 96 px 15.0x (>= 2x))" in table
    assert "at most 12% of a step's time" in table
    assert "other processes" not in table  # No load average recorded.


def test_markdown_says_when_other_processes_shared_the_cpu_and_why_tfrecords_grow():
    loaded = result([speed_row(64, 400.0, 50.0)])
    loaded["cpu_count"] = 2
    loaded["speed"]["rows"][0]["load_average"] = 3.5
    loaded["collections"] = {"2000": {"encoded_mb": 14.0}, "20000": {"encoded_mb": 140.0}}
    loaded["rows"] += [row("tfrecord", 2000, 40.0), row("tfrecord", 20000, 100.0)]
    table = input_pipeline.markdown(loaded)
    assert "The load average exceeded the machine's 2 cores: other processes" in table
    assert "about 1800 records (13 MB) of 2000, about 10000 records (70 MB) of 20000" in table


def test_markdown_says_where_the_pipeline_is_below_twice_the_step():
    table = input_pipeline.markdown(result([speed_row(64, 90.0, 60.0), speed_row(96, 300.0, 20.0)]))
    assert "| 64 | 90 | 60.0 | 1.5x |" in table
    assert "the pipeline is NOT >= 2x the train step at every size (at 64 px 1.5x (below 2x);" in table
    assert "at 64 px it could limit training" in table
    # Without speed rows (an older result), only the memory table.
    assert "| image size |" not in input_pipeline.markdown(result([]))


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """24 synthetic JPEGs of 40-60 px sides in two class subfolders, and
    the same in 2 TFRecord shards."""
    from keras_ssl.data import write_tfrecords

    root = tmp_path_factory.mktemp("input_pipeline")
    assert input_pipeline.make_collection(str(root / "folder"), 24, sides=(40, 60)) > 0
    write_tfrecords(str(root / "folder"), str(root / "records"), shards=2, progress=False)
    return {
        "root": root,
        "folder": str(root / "folder"),
        "in_memory": str(root / "folder"),
        "tfrecord": str(root / "records" / "images-*.tfrecord"),
    }


def test_a_smaller_collection_is_the_first_images_of_a_larger_one(collection):
    root = collection["root"]
    linked = input_pipeline.link_collection(collection["folder"], str(root / "linked"), 6)
    pooled = input_pipeline.make_collection(str(root / "pooled"), 6, sides=(40, 60), processes=2)
    assert linked == pooled > 0
    for index in range(6):
        with open(input_pipeline.image_path(str(root / "pooled"), index), "rb") as file:
            pooled_bytes = file.read()
        with open(input_pipeline.image_path(str(root / "linked"), index), "rb") as file:
            assert file.read() == pooled_bytes
    assert sorted(os.listdir(root / "linked" / "class_1")) == ["000001.jpg", "000003.jpg", "000005.jpg"]


@pytest.mark.parametrize("source", input_pipeline.SOURCES)
def test_measure_times_one_pass_in_this_process(source, collection):
    result = input_pipeline.measure(source, collection[source], image_size=16, batch_size=8)
    # 24 images, 22 or 20 for training (the folder holds 2 out, the records 1 in 10 of each shard):
    # two full batches of 8.
    assert result["source"] == source and result["images"] == 16
    assert result["images_per_s"] > 0 and result["peak_mb"] >= result["baseline_mb"] > 0
    assert result["growth_mb"] == pytest.approx(result["peak_mb"] - result["baseline_mb"])
    assert ("load_seconds" in result) == (source == "in_memory")


def test_measure_speed_times_the_pipeline_and_the_step_in_this_process(collection):
    from keras_ssl.backbones import ResNet

    backbone = ResNet(input_shape=(32, 32, 3), depth=8, width=4)
    result = input_pipeline.measure_speed(
        collection["folder"], 32, batch_size=8, steps=2, warmup_steps=1, backbone=backbone
    )
    assert result["backbone"] == "ResNet-8" and result["image_size"] == 32 and result["batch_size"] == 8
    # The folder's 22 training images: two full batches of 8, each image once (its two views together).
    assert result["pipeline_images"] == 16 and result["pipeline_images_per_s"] > 0
    assert len(result["step_seconds"]) == 2 and result["step_images_per_s"] > 0
    assert result["ratio"] == pytest.approx(result["pipeline_images_per_s"] / result["step_images_per_s"])
