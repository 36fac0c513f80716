"""The input-pipeline benchmark suite: its table and growth ratios, and one
measurement in this process on a tiny collection (the suite itself is not
run here)."""

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


def test_markdown_lists_every_measurement_and_the_growth_ratios():
    rows = [
        row("folder", 1000, 20.0, images_per_s=812.4),
        row("in_memory", 1000, 50.0, peak=1000.0),
        row("folder", 4000, 22.0),
        row("in_memory", 4000, 170.0, peak=1123.6),
    ]
    assert input_pipeline.growth_ratios(rows) == {"folder": pytest.approx(1.1), "in_memory": pytest.approx(3.4)}
    table = input_pipeline.markdown({"image_size": 96, "batch_size": 128, "rows": rows, "machine": "a CPU"})
    assert "| source | images | images/s | RSS growth (MB) | peak RSS (MB) |" in table
    assert "| folder | 1000 | 812 | 20.0 | 900 |" in table
    assert "| in_memory | 4000 | 500 | 170.0 | 1124 |" in table
    assert (
        "- folder: growth ratio 1.10 (22.0 MB at 4000 images / 20.0 MB at 1000; +2.0 MB for 3000 more images)" in table
    )
    assert (
        "- in_memory: growth ratio 3.40 (170.0 MB at 4000 images / 50.0 MB at 1000; +120.0 MB for 3000 more images)"
        in table
    )
    # The in-memory reference: N * 96 * 96 * 3 bytes.
    assert (
        "1000 images at 96x96x3 uint8 take 26.4 MB" in table and "4000 images at 96x96x3 uint8 take 105.5 MB" in table
    )
    assert "900 of 1000, 3600 of 4000" in table and "Machine: a CPU." in table


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """24 synthetic JPEGs of 20-40 px sides in two class subfolders, and
    the same in 2 TFRecord shards."""
    from keras_ssl.data import write_tfrecords

    root = tmp_path_factory.mktemp("input_pipeline")
    assert input_pipeline.make_collection(str(root / "folder"), 24, sides=(20, 40)) > 0
    write_tfrecords(str(root / "folder"), str(root / "records"), shards=2, progress=False)
    return {
        "folder": str(root / "folder"),
        "in_memory": str(root / "folder"),
        "tfrecord": str(root / "records" / "images-*.tfrecord"),
    }


@pytest.mark.parametrize("source", input_pipeline.SOURCES)
def test_measure_times_one_pass_in_this_process(source, collection):
    result = input_pipeline.measure(source, collection[source], image_size=16, batch_size=8)
    # 24 images, 22 or 20 for training (the folder holds 2 out, the records 1 in 10 of each shard):
    # two full batches of 8.
    assert result["source"] == source and result["images"] == 16
    assert result["images_per_s"] > 0 and result["peak_mb"] >= result["baseline_mb"] > 0
    assert result["growth_mb"] == pytest.approx(result["peak_mb"] - result["baseline_mb"])
    assert ("load_seconds" in result) == (source == "in_memory")
