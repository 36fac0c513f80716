"""Memory and throughput of the streamed image pipelines: does a process's
memory stay flat as the image collection grows 10-fold, how fast does one
pass of `train_batches` decode, and is decode + augment fast enough to feed
SimCLR's ResNet-18 train step on this machine?

    python -m zoo.benchmark --suite=input_pipeline
    python -m zoo.benchmark --suite=input_pipeline --quick --output_dir=/tmp/input_pipeline

Memory. Synthetic JPEG collections of `SIZES` = 2,000 and 20,000 images
(`--quick`: 100 and 400) are made in a temporary directory (deleted at the
end), of varied sizes (150-260 px sides), each a smooth two-colour gradient
with a few random shapes drawn on it (`PIL.ImageDraw`, lightly blurred,
faint grain: structure that JPEG compresses like a photo, not white noise),
in two class subfolders. Only the largest collection is generated (in a
pool of `PROCESSES` processes; image `i` is drawn from its own seed, so the
same whatever the pool); each smaller collection is its first images, hard
links to the same files. Each collection is also written as 8 TFRecord
shards (`write_tfrecords`).

For each source and size, a fresh Python process (`python -m
zoo.benchmarks.input_pipeline --measure ...`, so that the peak RSS is this
measurement's alone) runs `measure`:

- `folder`: `load_dataset("folder:DIR", image_size=96)`, one full pass (one
  epoch) of `train_batches(128)` (files read and decoded in a parallel `map`);
- `tfrecord`: `load_dataset("tfrecord:GLOB", image_size=96)`, the same pass;
- `in_memory`: the folder's `load_in_memory()` (every image decoded into a
  uint8 array), then one pass of `image_batches(x_train, 128)`; at both
  sizes (20,000 images at 96x96x3 take 527 MB), as the contrast.

The resident set size (VmRSS) is read after the dataset is built (the
baseline; for `in_memory` before `load_in_memory`); the peak is
`getrusage(RUSAGE_SELF).ru_maxrss` after the pass; the growth is peak minus
baseline. Images/s is that of the pass after its first `WARMUP_BATCHES`
batches (their time left out), with TensorFlow's default threads and
`AUTOTUNE` parallelism, on a shared machine. The growth ratio of a source
is its growth at the largest size over that at the smallest: 1 means flat,
and `largest / smallest` (10) means growth in proportion to the images.
`TFRecordImages` shuffles records (encoded images) in a buffer of up to
`StreamedImageDataset.shuffle_buffer` (10,000) elements, so below that many
records its buffer holds the whole training split's encoded bytes.

Speed. For each of `SPEED_IMAGE_SIZES` (64 and 96 px), a fresh process
(`--speed`) runs `measure_speed` on the smallest collection's folder with a
SimCLR on `ImageNetResNet(depth=18)` at that size, batch `SPEED_BATCH` (32):

- the pipeline alone: one pass of `with_pipeline_views(train_batches(32),
  model.augmenter)` (read, decode, resize and crop, then SimCLR's two
  augmented views of each image, all in `tf.data`), iterated without
  training; images/s after its first `WARMUP_BATCHES` batches (an image
  counts once, for its two views);
- the train step alone: `fit` (Adam, Keras's default compile: no XLA on a
  CPU) on random uint8 batches already in a `tf.data` `cache().repeat()`
  (input costs nothing; the step makes its two views itself, SimCLR's
  default), `WARMUP_STEPS` (2) steps in one `fit` that traces, then
  `TIMED_STEPS` (5) in another `fit`; images/s from the median step time
  (the whole timed `fit` is kept too, `step_images_per_s_wall`).

The ratio is pipeline images/s over step images/s: at 2 or more the
pipeline could feed the step with half of its time to spare. Both are
measured alone, one after the other, each with every core; in training
they share them.
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
SIZES = (2000, 20000)
IMAGE_SIZE, BATCH_SIZE = 96, 128
SPEED_IMAGE_SIZES = (64, 96)
SPEED_BATCH = 32
WARMUP_STEPS, TIMED_STEPS = 2, 5
DEPTH = 18
QUICK = {"sizes": (100, 400), "batch_size": 32, "speed_image_sizes": (64,), "speed_batch": 8, "timed_steps": 2}
SIDES = (150, 260)
NOISE = 3.0
WARMUP_BATCHES = 2
SHARDS = 8
PROCESSES = 2
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
    # ru_maxrss and VmRSS are counted apart (the kernel updates the high-water
    # mark lazily): never below the RSS of now.
    return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB, current_rss_mb())


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


def image_path(directory, index):
    """Where `make_collection` writes image `index`: alternately in
    `class_0` and `class_1`."""
    return os.path.join(directory, f"class_{index % 2}", f"{index:06d}.jpg")


def _write_images(directory, indices, seed, sides):
    """Writes images `indices` (each from its own seed `[seed, index]`);
    returns their total bytes."""
    total = 0
    for index in indices:
        path = image_path(directory, index)
        synthetic_image(np.random.default_rng([seed, index]), sides).save(path, quality=90)
        total += os.path.getsize(path)
    return total


def _write_chunk(arguments):
    return _write_images(*arguments)


def make_collection(directory, count, seed=0, sides=SIDES, processes=1):
    """`count` synthetic JPEGs (`synthetic_image`, quality 90) in
    `directory/class_0` and `directory/class_1` (alternately), image `i`
    drawn from seed `[seed, i]` (the same in any pool, and the first `n` of
    a collection are the collection of `n`), written by `processes`
    processes (a "spawn" pool: safe after TensorFlow is imported); returns
    their total bytes."""
    for name in ("class_0", "class_1"):
        os.makedirs(os.path.join(directory, name), exist_ok=True)
    if processes <= 1 or count < 2 * processes:
        return _write_images(directory, range(count), seed, sides)
    import multiprocessing

    chunks = [(directory, range(start, min(start + 250, count)), seed, sides) for start in range(0, count, 250)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return sum(pool.imap_unordered(_write_chunk, chunks))


def link_collection(source, directory, count):
    """The first `count` images of `source` (a `make_collection` folder) as
    hard links in `directory` (copies where links fail): the collection of
    `count` with the same seed, without drawing it again. Returns their
    total bytes."""
    import shutil

    for name in ("class_0", "class_1"):
        os.makedirs(os.path.join(directory, name), exist_ok=True)
    total = 0
    for index in range(count):
        origin, path = image_path(source, index), image_path(directory, index)
        try:
            os.link(origin, path)
        except OSError:
            shutil.copyfile(origin, path)
        total += os.path.getsize(path)
    return total


def _batch_images(batch):
    """Images in a batch: its first dimension (of `views` for the
    `{"views": ...}` batches of `with_pipeline_views`)."""
    if isinstance(batch, dict):
        batch = batch["views"]
    return int(batch.shape[0])


def _timed_pass(batches, batch_size):
    """Iterates `batches` once: (images in the pass, images/s after the
    first `WARMUP_BATCHES` batches, seconds of the whole pass)."""
    stamps = [time.perf_counter()]
    count = 0
    for batch in batches:
        count += _batch_images(batch)
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
    peak = max(peak_rss_mb(), baseline)  # The kernel's counters may lag the baseline's VmRSS by a page or two.
    row.update(
        images=images,
        images_per_s=images_per_s,
        baseline_mb=baseline,
        peak_mb=peak,
        growth_mb=peak - baseline,
        pass_seconds=seconds,
    )
    return row


def measure_pipeline(path, image_size, batch_size, augmenter):
    """Images/s of the input pipeline alone: one pass of
    `with_pipeline_views(folder.train_batches(batch_size), augmenter)`
    (read, decode, resize and crop, two augmented views per image), iterated
    without training. Returns `{images, images_per_s, pass_seconds}` (after
    the first `WARMUP_BATCHES` batches; an image counts once)."""
    from keras_ssl.data import load_dataset, with_pipeline_views

    data = load_dataset("folder:" + path, image_size=image_size)
    batches = with_pipeline_views(data.train_batches(batch_size), augmenter)
    images, images_per_s, seconds = _timed_pass(batches, batch_size)
    return {"images": images, "images_per_s": images_per_s, "pass_seconds": seconds}


def measure_step(model, image_size, batch_size, steps=TIMED_STEPS, warmup_steps=WARMUP_STEPS, seed=0):
    """Images/s of `model`'s train step alone (compiled here with Adam):
    `fit` on 2 random uint8 batches `[batch_size, size, size, 3]` already in
    a `tf.data` `cache().repeat()`, `warmup_steps` steps in a first `fit`
    (tracing), then `steps` timed in a second. Returns `{images_per_s` (from
    the median step), `images_per_s_wall` (the whole timed `fit`),
    `step_seconds}`."""
    import keras
    import tensorflow as tf

    images = np.random.default_rng(seed).integers(0, 256, (2 * batch_size, image_size, image_size, 3), "uint8")
    batches = tf.data.Dataset.from_tensor_slices(images).batch(batch_size, drop_remainder=True).cache().repeat()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(batches, epochs=1, steps_per_epoch=warmup_steps, verbose=0, shuffle=False)
    durations = []

    class StepClock(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            durations.append(time.perf_counter() - self.start)

    start = time.perf_counter()
    model.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False, callbacks=[StepClock()])
    wall = time.perf_counter() - start
    return {
        "images_per_s": batch_size / float(np.median(durations)),
        "images_per_s_wall": batch_size * steps / wall,
        "step_seconds": durations,
    }


def measure_speed(
    path,
    image_size,
    batch_size=SPEED_BATCH,
    steps=TIMED_STEPS,
    warmup_steps=WARMUP_STEPS,
    backbone=None,
    seed=0,
):
    """The pipeline alone and the train step alone of a SimCLR at
    `image_size` (its backbone `ImageNetResNet(depth=18)` unless `backbone`
    is given: the tests pass a tiny one) in this process:
    `measure_pipeline` on the folder `path` with the model's own augmenter,
    then `measure_step`. Returns `{image_size, batch_size, backbone,
    pipeline_images_per_s, step_images_per_s, step_images_per_s_wall,
    ratio, ...}`, ratio = pipeline / step images/s."""
    import keras

    from keras_ssl.backbones import ImageNetResNet
    from keras_ssl.methods.contrastive.simclr import SimCLR

    keras.utils.set_random_seed(seed)
    if backbone is None:
        backbone = ImageNetResNet(input_shape=(image_size, image_size, 3), depth=DEPTH)
    depth = getattr(backbone, "depth", None)
    model = SimCLR(backbone, seed=seed)
    pipeline = measure_pipeline(path, image_size, batch_size, model.augmenter)
    step = measure_step(model, image_size, batch_size, steps, warmup_steps, seed)
    return {
        "image_size": image_size,
        "batch_size": batch_size,
        "backbone": type(backbone).__name__ + (f"-{depth}" if depth else ""),
        "pipeline_images": pipeline["images"],
        "pipeline_images_per_s": pipeline["images_per_s"],
        "pipeline_seconds": pipeline["pass_seconds"],
        "step_images_per_s": step["images_per_s"],
        "step_images_per_s_wall": step["images_per_s_wall"],
        "step_seconds": step["step_seconds"],
        "steps": steps,
        "warmup_steps": warmup_steps,
        "ratio": pipeline["images_per_s"] / step["images_per_s"],
    }


def in_fresh_process(arguments, timeout=900):
    """`python -m zoo.benchmarks.input_pipeline ARGUMENTS` (its RSS this
    measurement's alone); returns the `RESULT {json}` it prints."""
    command = [sys.executable, "-m", "zoo.benchmarks.input_pipeline", *(str(a) for a in arguments)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"{' '.join(command[3:])} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def measure_in_fresh_process(source, path, image_size=IMAGE_SIZE, batch_size=BATCH_SIZE, timeout=900):
    """`measure` in a new Python process (its RSS this measurement's alone)."""
    return in_fresh_process(["--measure", source, path, image_size, batch_size], timeout)


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

    sizes = tuple(sorted(sizes or (QUICK["sizes"] if quick else SIZES)))
    batch_size = batch_size or (QUICK["batch_size"] if quick else BATCH_SIZE)
    speed_sizes = QUICK["speed_image_sizes"] if quick else SPEED_IMAGE_SIZES
    speed_batch = QUICK["speed_batch"] if quick else SPEED_BATCH
    timed_steps = QUICK["timed_steps"] if quick else TIMED_STEPS
    rows, speed_rows, collections = [], [], {}
    start = time.time()
    with tempfile.TemporaryDirectory(prefix="input_pipeline-") as scratch:
        paths = {}
        largest = os.path.join(scratch, f"folder-{sizes[-1]}")
        for count in reversed(sizes):  # The largest drawn; the others its first images.
            made = time.time()
            folder = os.path.join(scratch, f"folder-{count}")
            if count == sizes[-1]:
                encoded = make_collection(folder, count, processes=PROCESSES)
            else:
                encoded = link_collection(largest, folder, count)
            records = os.path.join(scratch, f"tfrecord-{count}")
            write_tfrecords(folder, records, shards=SHARDS, progress=False)
            paths[count] = {
                "folder": folder,
                "in_memory": folder,
                "tfrecord": os.path.join(records, "images-*.tfrecord"),
            }
            collections[str(count)] = {
                "encoded_mb": encoded / MB,
                "seconds_to_make": time.time() - made,
                "made": "generated" if count == sizes[-1] else f"first {count} of the {sizes[-1]} (hard links)",
            }
            print(
                f"{count} JPEGs ({encoded / MB:.1f} MB) and {SHARDS} TFRecord shards made in "
                f"{time.time() - made:.0f} s",
                flush=True,
            )
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
        for size in speed_sizes:
            load = os.getloadavg()[0]
            row = in_fresh_process(["--speed", paths[sizes[0]]["folder"], size, speed_batch, timed_steps, WARMUP_STEPS])
            row.update(collection=sizes[0], load_average=load)
            speed_rows.append(row)
            print(
                f"{size} px: pipeline {row['pipeline_images_per_s']:.0f} images/s, {row['backbone']} SimCLR step "
                f"{row['step_images_per_s']:.1f} images/s, ratio {row['ratio']:.1f}",
                flush=True,
            )
    return {
        "suite": "input_pipeline",
        "cpu_count": os.cpu_count(),
        "image_size": image_size,
        "batch_size": batch_size,
        "sizes": list(sizes),
        "warmup_batches": WARMUP_BATCHES,
        "collections": collections,
        "rows": rows,
        "growth_ratios": growth_ratios(rows),
        "in_memory_expected_mb": {str(n): n * image_size * image_size * 3 / MB for n in sizes},
        "speed": {
            "batch_size": speed_batch,
            "steps": timed_steps,
            "warmup_steps": WARMUP_STEPS,
            "collection": sizes[0],
            "rows": speed_rows,
        },
        "seconds": time.time() - start,
    }


def markdown(result):
    rows = result["rows"]
    size = result["image_size"]
    lines = [
        f"One pass (one epoch) of the training batches ({result['batch_size']} images of {size}x{size}x3 uint8) "
        "of synthetic JPEG collections (150-260 px sides), each source and size in a fresh process. RSS growth: "
        "peak RSS of the process minus its RSS once the dataset was built (before `load_in_memory` for "
        f"in-memory). Images/s: the pass after its first {result.get('warmup_batches', WARMUP_BATCHES)} batches.",
        "",
        "| source | images | RSS growth (MB) | peak RSS (MB) | images/s |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['source']} | {row['collection']} | {row['growth_mb']:.1f} | {row['peak_mb']:.0f} | "
            f"{row['images_per_s']:.0f} |"
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
        own = {row["collection"]: row for row in rows if row["source"] == source}
        small, large = own[counts[0]], own[counts[-1]]
        lines.append(
            f"- {source}: growth ratio {ratio:.2f} ({large['growth_mb']:.1f} MB at {counts[-1]} images / "
            f"{small['growth_mb']:.1f} MB at {counts[0]}; {large['growth_mb'] - small['growth_mb']:+.1f} MB for "
            f"{counts[-1] - counts[0]} more images); peak RSS {large['peak_mb']:.0f} MB against "
            f"{small['peak_mb']:.0f} MB ({100 * (large['peak_mb'] / small['peak_mb'] - 1):+.0f}%)"
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
            + ", ".join(
                f"{c['encoded_mb']:.1f} MB for {n} images"
                for n, c in sorted(result["collections"].items(), key=lambda item: int(item[0]))
            )
            + "."
        )
        linked = [(n, c) for n, c in result["collections"].items() if c.get("made", "generated") != "generated"]
        generated = [(n, c) for n, c in result["collections"].items() if c.get("made", "generated") == "generated"]
        if linked and generated:
            lines.append(
                f"- Only the {generated[0][0]} images were generated ({generated[0][1]['seconds_to_make']:.0f} s, "
                f"with their TFRecords, in a pool of {PROCESSES} processes); "
                + ", ".join(f"the {n}-image collection is their {c['made']}" for n, c in linked)
                + "."
            )
    lines += _tfrecord_buffer_lines(result)
    loads = [row["load_average"] for row in rows if "load_average" in row]
    if loads:
        lines.append(f"- 1-minute load average before the measurements: {min(loads):.2f}-{max(loads):.2f}.")
    lines += _speed_lines(result.get("speed"))
    speed_loads = [row["load_average"] for row in result.get("speed", {}).get("rows", []) if "load_average" in row]
    cores = result.get("cpu_count")
    if cores and max(loads + speed_loads, default=0) > cores:
        lines += [
            "",
            f"The load average exceeded the machine's {cores} cores: other processes (not this benchmark's) shared "
            "the CPU during the measurements, so absolute images/s are below an idle machine's; the pipeline and "
            "the step of each ratio ran under the same load, one after the other.",
        ]
    lines += ["", f"Machine: {result.get('machine', '?')}.", ""]
    return "\n".join(lines)


def _tfrecord_buffer_lines(result):
    """Why TFRecord memory grows: its shuffle buffer of encoded records."""
    collections = result.get("collections") or {}
    own = [row for row in result["rows"] if row["source"] == "tfrecord" and str(row["collection"]) in collections]
    if len(own) < 2:
        return []
    from keras_ssl.data.streams import StreamedImageDataset

    buffer = StreamedImageDataset.shuffle_buffer
    parts = []
    for row in sorted(own, key=lambda row: row["collection"]):
        held = min(buffer, row["images"])
        mean = collections[str(row["collection"])]["encoded_mb"] / row["collection"]
        parts.append(f"about {held} records ({held * mean:.0f} MB) of {row['collection']}")
    return [
        f"- TFRecord's shuffle buffer holds up to {buffer:,} encoded records: "
        + ", ".join(parts)
        + " (the training split, or the buffer when smaller; mean JPEG size): most of its growth."
    ]


def _speed_lines(speed):
    if not speed or not speed.get("rows"):
        return []
    rows = speed["rows"]
    lines = [
        "",
        "Is the pipeline the bottleneck? Each image size in a fresh process, on the "
        f"{rows[0].get('collection', '?')}-image folder, batch {speed['batch_size']}. Pipeline: one pass of "
        "`with_pipeline_views(train_batches(batch), model.augmenter)` (read, decode, resize and crop, SimCLR's two "
        "augmented views of each image), iterated without training, after its first "
        f"{WARMUP_BATCHES} batches. Train step: SimCLR `fit` on random uint8 batches already in a `tf.data` "
        "cache (input costs nothing; the step draws its own two views, SimCLR's default, which costs it at most "
        "about what the pipeline's augmentation does: under 1 / ratio of a step), Adam, no XLA, "
        f"{speed['steps']} timed steps after {speed['warmup_steps']} warm-up steps, images/s from the median "
        "step. Ratio: pipeline / step.",
        "",
        "| image size | pipeline decode+augment images/s | ResNet-18 SimCLR train step images/s | ratio |",
        "|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['image_size']} | {row['pipeline_images_per_s']:.0f} | {row['step_images_per_s']:.1f} | "
            f"{row['ratio']:.1f}x |"
        )
    lines.append("")
    slow = [row for row in rows if row["ratio"] < 2]
    backbones = sorted({row["backbone"] for row in rows})
    verdicts = "; ".join(
        f"at {row['image_size']} px {row['ratio']:.1f}x ({'>=' if row['ratio'] >= 2 else 'below'} 2x)" for row in rows
    )
    if not slow:
        lines.append(
            f"On this machine the pipeline is >= 2x the train step at every size ({verdicts}): decoding and "
            "augmenting is not the bottleneck: making a batch takes at most "
            f"{100 / min(row['ratio'] for row in rows):.0f}% of a step's time (1 / ratio), CPU time that the two "
            "share in training."
        )
    else:
        lines.append(
            f"On this machine the pipeline is NOT >= 2x the train step at every size ({verdicts}): at "
            + ", ".join(f"{row['image_size']} px" for row in slow)
            + " it could limit training."
        )
    lines.append(
        f"- Backbone: {', '.join(backbones)}. Wall-clock step images/s of the whole timed `fit`: "
        + ", ".join(f"{row['step_images_per_s_wall']:.1f} at {row['image_size']} px" for row in rows)
        + "."
    )
    loads = [row["load_average"] for row in rows if "load_average" in row]
    if loads:
        lines.append(f"- 1-minute load average before the speed measurements: {min(loads):.2f}-{max(loads):.2f}.")
    return lines


def _expected(result):
    expected = result.get("in_memory_expected_mb")
    if expected:
        return sorted((int(n), mb) for n, mb in expected.items())
    size = result["image_size"]
    return [(n, n * size * size * 3 / MB) for n in sorted({row["collection"] for row in result["rows"]})]


USAGE = (
    "usage: python -m zoo.benchmarks.input_pipeline --measure SOURCE PATH IMAGE_SIZE BATCH_SIZE\n"
    "       python -m zoo.benchmarks.input_pipeline --speed FOLDER IMAGE_SIZE BATCH_SIZE STEPS WARMUP_STEPS"
)


def main(argv):
    """`--measure SOURCE PATH IMAGE_SIZE BATCH_SIZE`: `measure` in this
    process; `--speed FOLDER IMAGE_SIZE BATCH_SIZE STEPS WARMUP_STEPS`:
    `measure_speed` (ResNet-18) in this process; the result printed as
    `RESULT {json}`."""
    if len(argv) == 5 and argv[0] == "--measure":
        row = measure(argv[1], argv[2], int(argv[3]), int(argv[4]))
    elif len(argv) == 6 and argv[0] == "--speed":
        row = measure_speed(argv[1], *(int(a) for a in argv[2:]))
    else:
        raise SystemExit(USAGE)
    print("RESULT " + json.dumps(row), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main(sys.argv[1:])
