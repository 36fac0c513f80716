"""Memory and throughput of the streamed image pipelines: does a process's
memory stay flat as the image collection grows, and how fast does one pass
of `train_batches` decode?

    python -m zoo.benchmark --suite=input_pipeline
    python -m zoo.benchmark --suite=input_pipeline --quick --output_dir=/tmp/input_pipeline

Two synthetic JPEG collections are made in a temporary directory (deleted at
the end): `SIZES` = 1000 and 4000 images (`--quick`: 100 and 400), of varied
sizes (150-260 px sides), each a smooth two-colour gradient with a few
random shapes drawn on it (`PIL.ImageDraw`, lightly blurred, faint grain:
structure that JPEG compresses like a photo, not white noise), in two class subfolders.
Each collection is also written as 8 TFRecord shards (`write_tfrecords`).

For each source and size, a fresh Python process (`python -m
zoo.benchmarks.input_pipeline --measure ...`, so that the peak RSS is this
measurement's alone) runs `measure`:

- `folder`: `load_dataset("folder:DIR", image_size=96)`, one full pass of
  `train_batches(128)` (files read and decoded in a parallel `map`);
- `tfrecord`: `load_dataset("tfrecord:GLOB", image_size=96)`, the same pass;
- `in_memory`: the folder's `load_in_memory()` (every image decoded into a
  uint8 array), then one pass of `image_batches(x_train, 128)`.

The resident set size (VmRSS) is read after the dataset is built (the
baseline; for `in_memory` before `load_in_memory`); the peak is
`getrusage(RUSAGE_SELF).ru_maxrss` after the pass; the growth is peak minus
baseline. Images/s is that of the pass after its first `WARMUP_BATCHES`
batches (their time left out), with TensorFlow's default threads and
`AUTOTUNE` parallelism, on a shared machine. The growth ratio of a source
is its growth at the largest size over that at the smallest: 1 means flat,
and `largest / smallest` (4) means growth in proportion to the images.
`TFRecordImages` shuffles records (encoded images) in a buffer of up to
`StreamedImageDataset.shuffle_buffer` (10,000) elements, so below that many
records its buffer holds the whole training split's encoded bytes.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

SOURCES = ("folder", "tfrecord", "in_memory")
SIZES = (1000, 4000)
IMAGE_SIZE, BATCH_SIZE = 96, 128
QUICK = {"sizes": (100, 400), "batch_size": 32}
SIDES = (150, 260)
NOISE = 3.0
WARMUP_BATCHES = 2
SHARDS = 8
MB = 2**20
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def current_rss_mb():
    """The process's resident set size now (VmRSS of /proc/self/status), in MB."""
    with open("/proc/self/status") as file:
        for line in file:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / MB
    raise OSError("no VmRSS in /proc/self/status (not Linux?)")


def peak_rss_mb():
    """The process's peak resident set size so far (`ru_maxrss`, KB on Linux), in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB


def synthetic_image(rng, sides=SIDES):
    """A PIL RGB image `sides` px a side (each drawn uniformly): a smooth
    gradient between two random colours in a random direction, with 3-7
    random ellipses, rectangles and triangles on it, lightly blurred, with
    faint Gaussian grain (standard deviation `NOISE`)."""
    from PIL import Image, ImageDraw, ImageFilter

    width, height = (int(s) for s in rng.integers(sides[0], sides[1] + 1, size=2))
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype("float32")
    t = xs * np.cos(angle) + ys * np.sin(angle)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    low, high = rng.uniform(0, 255, size=(2, 3))
    pixels = low + t[..., None] * (high - low)
    image = Image.fromarray(pixels.astype("uint8"))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 8))):
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        x0, y0 = int(rng.uniform(0, 0.9) * width), int(rng.uniform(0, 0.9) * height)
        x1, y1 = x0 + int(rng.uniform(0.1, 0.5) * width), y0 + int(rng.uniform(0.1, 0.5) * height)
        kind = int(rng.integers(3))
        if kind == 0:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif kind == 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.polygon([(x0, y1), (x1, y1), ((x0 + x1) // 2, y0)], fill=colour)
    blurred = np.asarray(image.filter(ImageFilter.GaussianBlur(1)), "float32")
    grain = rng.normal(0, NOISE, size=blurred.shape)  # A camera's faint grain, as in photos.
    return Image.fromarray(np.clip(blurred + grain, 0, 255).astype("uint8"))


def make_collection(directory, count, seed=0, sides=SIDES):
    """`count` synthetic JPEGs (`synthetic_image`, quality 90) in
    `directory/class_0` and `directory/class_1` (alternately); returns their
    total bytes."""
    rng = np.random.default_rng(seed)
    for name in ("class_0", "class_1"):
        os.makedirs(os.path.join(directory, name), exist_ok=True)
    total = 0
    for index in range(count):
        path = os.path.join(directory, f"class_{index % 2}", f"{index:06d}.jpg")
        synthetic_image(rng, sides).save(path, quality=90)
        total += os.path.getsize(path)
    return total


def _timed_pass(batches, batch_size):
    """Iterates `batches` once: (images in the pass, images/s after the
    first `WARMUP_BATCHES` batches, seconds of the whole pass)."""
    stamps = [time.perf_counter()]
    count = 0
    for batch in batches:
        count += int(batch.shape[0])
        stamps.append(time.perf_counter())
    steps = len(stamps) - 1
    if not steps:
        raise ValueError("the pass yielded no batch: the training split is smaller than the batch size")
    warmup = min(WARMUP_BATCHES, steps - 1)
    timed_images = count - warmup * batch_size  # Full batches only (drop_remainder).
    return count, timed_images / (stamps[-1] - stamps[warmup]), stamps[-1] - stamps[0]


def measure(source, path, image_size=IMAGE_SIZE, batch_size=BATCH_SIZE):
    """One measurement in this process: the dataset built from `path` (a
    folder for "folder" and "in_memory", a TFRecord glob for "tfrecord"),
    the RSS then (baseline), one pass of its training batches timed, and the
    peak RSS. Returns `{source, images, images_per_s, baseline_mb, peak_mb,
    growth_mb, pass_seconds}` (and `load_seconds`, the time of
    `load_in_memory`, for "in_memory"); `images` counts the images of the
    pass (full batches of the training split)."""
    from keras_ssl.data import image_batches, load_dataset

    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    prefix = "tfrecord:" if source == "tfrecord" else "folder:"
    data = load_dataset(prefix + path, image_size=image_size)
    baseline = current_rss_mb()
    row = {"source": source}
    if source == "in_memory":
        start = time.perf_counter()
        arrays = data.load_in_memory(progress=False)
        row["load_seconds"] = time.perf_counter() - start
        batches = image_batches(arrays.x_train, batch_size)
    else:
        batches = data.train_batches(batch_size)
    images, images_per_s, seconds = _timed_pass(batches, batch_size)
    peak = peak_rss_mb()
    row.update(
        images=images,
        images_per_s=images_per_s,
        baseline_mb=baseline,
        peak_mb=peak,
        growth_mb=peak - baseline,
        pass_seconds=seconds,
    )
    return row


def measure_in_fresh_process(source, path, image_size=IMAGE_SIZE, batch_size=BATCH_SIZE, timeout=900):
    """`measure` in a new Python process (its RSS this measurement's alone)."""
    command = [
        sys.executable,
        "-m",
        "zoo.benchmarks.input_pipeline",
        "--measure",
        source,
        path,
        str(image_size),
        str(batch_size),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"measuring {source} on {path} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def growth_ratios(rows):
    """`{source: growth at its largest collection / growth at its smallest}`."""
    ratios = {}
    for source in dict.fromkeys(row["source"] for row in rows):
        own = sorted((row for row in rows if row["source"] == source), key=lambda row: row["collection"])
        if len(own) > 1 and own[0]["growth_mb"] > 0:
            ratios[source] = own[-1]["growth_mb"] / own[0]["growth_mb"]
    return ratios


def run(output_dir, quick=False, sizes=None, sources=SOURCES, image_size=IMAGE_SIZE, batch_size=None):
    from keras_ssl.data import write_tfrecords

    sizes = tuple(sizes or (QUICK["sizes"] if quick else SIZES))
    batch_size = batch_size or (QUICK["batch_size"] if quick else BATCH_SIZE)
    rows, collections = [], {}
    start = time.time()
    with tempfile.TemporaryDirectory(prefix="input_pipeline-") as scratch:
        paths = {}
        for count in sizes:
            made = time.time()
            folder = os.path.join(scratch, f"folder-{count}")
            encoded = make_collection(folder, count)
            records = os.path.join(scratch, f"tfrecord-{count}")
            write_tfrecords(folder, records, shards=SHARDS, progress=False)
            paths[count] = {
                "folder": folder,
                "in_memory": folder,
                "tfrecord": os.path.join(records, "images-*.tfrecord"),
            }
            collections[str(count)] = {"encoded_mb": encoded / MB, "seconds_to_make": time.time() - made}
            print(f"{count} JPEGs ({encoded / MB:.1f} MB) and {SHARDS} TFRecord shards made", flush=True)
        for count in sizes:
            for source in sources:
                load = os.getloadavg()[0]
                row = measure_in_fresh_process(source, paths[count][source], image_size, batch_size)
                row.update(collection=count, load_average=load)
                rows.append(row)
                print(
                    f"{source} {count} images: {row['images']} in the pass, {row['images_per_s']:.0f} images/s, "
                    f"RSS {row['baseline_mb']:.0f} MB -> peak {row['peak_mb']:.0f} MB "
                    f"(+{row['growth_mb']:.1f} MB)",
                    flush=True,
                )
    return {
        "suite": "input_pipeline",
        "image_size": image_size,
        "batch_size": batch_size,
        "sizes": list(sizes),
        "warmup_batches": WARMUP_BATCHES,
        "collections": collections,
        "rows": rows,
        "growth_ratios": growth_ratios(rows),
        "in_memory_expected_mb": {str(n): n * image_size * image_size * 3 / MB for n in sizes},
        "seconds": time.time() - start,
    }


def markdown(result):
    rows = result["rows"]
    size = result["image_size"]
    lines = [
        f"One pass of the training batches ({result['batch_size']} images of {size}x{size}x3 uint8) of synthetic "
        "JPEG collections (150-260 px sides), each source and size in a fresh process. RSS growth: peak RSS of "
        "the process minus its RSS once the dataset was built (before `load_in_memory` for in-memory). Images/s: "
        f"the pass after its first {result.get('warmup_batches', WARMUP_BATCHES)} batches.",
        "",
        "| source | images | images/s | RSS growth (MB) | peak RSS (MB) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['source']} | {row['collection']} | {row['images_per_s']:.0f} | {row['growth_mb']:.1f} | "
            f"{row['peak_mb']:.0f} |"
        )
    passes = {row["collection"]: row["images"] for row in rows}
    lines += [
        "",
        "Images: the collection's size; a pass reads the full batches of its training split ("
        + ", ".join(f"{images} of {count}" for count, images in sorted(passes.items()))
        + "). In-memory reads the folder: `load_in_memory()` decodes every image (train and test) into arrays, "
        "then the pass iterates `image_batches(x_train)`.",
        "",
    ]
    counts = sorted({row["collection"] for row in rows})
    for source, ratio in growth_ratios(rows).items():
        own = {row["collection"]: row["growth_mb"] for row in rows if row["source"] == source}
        lines.append(
            f"- {source}: growth ratio {ratio:.2f} ({own[counts[-1]]:.1f} MB at {counts[-1]} images / "
            f"{own[counts[0]]:.1f} MB at {counts[0]}; {own[counts[-1]] - own[counts[0]]:+.1f} MB for "
            f"{counts[-1] - counts[0]} more images)"
        )
    lines += [
        "",
        f"A growth ratio of 1 means memory stays flat as the collection grows {counts[-1] // counts[0]}-fold; "
        f"{counts[-1] / counts[0]:g} means it grows in proportion to the images. For reference, "
        + ", ".join(f"{int(n)} images at {size}x{size}x3 uint8 take {mb:.1f} MB" for n, mb in _expected(result))
        + ".",
    ]
    for row in rows:
        if "load_seconds" in row:
            lines.append(
                f"- in-memory, {row['collection']} images: `load_in_memory()` took {row['load_seconds']:.1f} s "
                f"({row['collection'] / row['load_seconds']:.0f} images/s)."
            )
    if result.get("collections"):
        lines.append(
            "- JPEG bytes: "
            + ", ".join(f"{c['encoded_mb']:.1f} MB for {n} images" for n, c in result["collections"].items())
            + "."
        )
    loads = [row["load_average"] for row in rows if "load_average" in row]
    if loads:
        lines.append(f"- 1-minute load average before the measurements: {min(loads):.2f}-{max(loads):.2f}.")
    lines += ["", f"Machine: {result.get('machine', '?')}.", ""]
    return "\n".join(lines)


def _expected(result):
    expected = result.get("in_memory_expected_mb")
    if expected:
        return sorted((int(n), mb) for n, mb in expected.items())
    size = result["image_size"]
    return [(n, n * size * size * 3 / MB) for n in sorted({row["collection"] for row in result["rows"]})]


def main(argv):
    """`--measure SOURCE PATH IMAGE_SIZE BATCH_SIZE`: `measure` in this
    process, its result printed as `RESULT {json}`."""
    if len(argv) != 5 or argv[0] != "--measure":
        raise SystemExit("usage: python -m zoo.benchmarks.input_pipeline --measure SOURCE PATH IMAGE_SIZE BATCH_SIZE")
    row = measure(argv[1], argv[2], int(argv[3]), int(argv[4]))
    print("RESULT " + json.dumps(row), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main(sys.argv[1:])
