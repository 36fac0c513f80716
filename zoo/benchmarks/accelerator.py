"""SimCLR's train step on an accelerator: images/s and the share of the
device's peak FLOP/s, over XLA on/off, precision and batch size.

    python -m zoo.benchmark --suite=accelerator --output_dir=benchmarks/accelerator

Meant for the first GPU (or TPU host) the project is lent: one run gives the
whole table. SimCLR with an ImageNet-style ResNet-18 (`ImageNetResNet`) on
synthetic uint8 images held in memory (no input pipeline in the way), for
every setting of `GRID`: image size 32 and 96, `jit_compile` off and on,
float32, `mixed_bfloat16` and `mixed_float16`, global batch 256 and 512.
Each setting builds a fresh model, runs `WARMUP` steps (tracing, XLA
compilation) and times `STEPS` more; a setting that fails (e.g. out of
memory) is recorded with its error and the grid goes on.

The FLOPs of a step are counted, not guessed: TensorFlow's profiler counts
the floating-point operations of the backbone's forward pass on one image
(a concrete function, offline), and a SimCLR step is taken as 3x forward
(forward, and backward at twice the forward's cost) for 2 views of each
image; the projection head and the loss are left out (under 1%). The
share of peak divides the achieved FLOP/s by the device's dense peak for
the setting's precision (`PEAK_TFLOPS`: float32 counts TF32 tensor cores,
which TensorFlow uses for float32 matmuls and convolutions on Ampere and
later). On a CPU the table has images/s only.
"""

import time

import numpy as np

GRID = {
    "image_size": (32, 96),
    "jit_compile": (False, True),
    "policy": ("float32", "mixed_bfloat16", "mixed_float16"),
    "batch_size": (256, 512),
}
QUICK_GRID = {
    "image_size": (32,),
    "jit_compile": (False, True),
    "policy": ("float32", "mixed_bfloat16"),
    "batch_size": (8,),
}
WARMUP, STEPS = 3, 20
# Dense tensor-core peaks (NVIDIA data sheets; SXM parts), TFLOP/s.
PEAK_TFLOPS = {
    "H200": {"float32": 494.7, "mixed_bfloat16": 989.4, "mixed_float16": 989.4},
    "H100": {"float32": 494.7, "mixed_bfloat16": 989.4, "mixed_float16": 989.4},
    "A100": {"float32": 156.0, "mixed_bfloat16": 312.0, "mixed_float16": 312.0},
    "L4": {"float32": 60.0, "mixed_bfloat16": 121.0, "mixed_float16": 121.0},
    "V100": {"float32": 15.7, "mixed_float16": 125.0},
    "T4": {"float32": 8.1, "mixed_float16": 65.0},
}


def device_name():
    """The first GPU's name (e.g. "NVIDIA H200"), else "CPU"."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")


def peak_flops(name, policy):
    """The dense peak FLOP/s of device `name` for `policy`, or None."""
    for key, peaks in PEAK_TFLOPS.items():
        if key in name and policy in peaks:
            return peaks[policy] * 1e12
    return None


def forward_flops(backbone, image_shape):
    """Floating-point operations of `backbone` on one image (TF profiler)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    function = tf.function(lambda x: backbone(x, training=False))
    concrete = function.get_concrete_function(tf.TensorSpec((1, *image_shape), tf.float32))
    graph = convert_variables_to_constants_v2(concrete).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return int(tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops)


def measure(image_size, jit_compile, policy, batch_size, warmup=WARMUP, steps=STEPS, seed=0):
    """Images/s and achieved FLOP/s of one setting."""
    import keras

    from keras_ssl.backbones import ImageNetResNet
    from keras_ssl.methods import SimCLR, require_jit_compile

    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(seed)
        shape = (image_size, image_size, 3)
        model = SimCLR(ImageNetResNet(input_shape=shape, depth=18), seed=seed)
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
        if jit_compile:
            require_jit_compile(model)
        images = np.random.default_rng(seed).integers(0, 256, (batch_size, *shape), dtype="uint8")
        flops_per_image = forward_flops(model.backbone, shape)
        model.fit(images, batch_size=batch_size, epochs=warmup, verbose=0)
        data = np.concatenate([images] * steps)
        start = time.perf_counter()
        model.fit(data, batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
        seconds = time.perf_counter() - start
    finally:
        keras.mixed_precision.set_global_policy("float32")
    images_per_s = batch_size * steps / seconds
    achieved = images_per_s * flops_per_image * 2 * 3
    return {
        "images_per_s": images_per_s,
        "forward_gflops_per_image": flops_per_image / 1e9,
        "achieved_tflops": achieved / 1e12,
    }


def run(output_dir, quick=False):
    import itertools

    grid = QUICK_GRID if quick else GRID
    name = device_name()
    rows = []
    for image_size, jit_compile, policy, batch_size in itertools.product(*grid.values()):
        setting = {"image_size": image_size, "jit_compile": jit_compile, "policy": policy, "batch_size": batch_size}
        try:
            row = measure(image_size, jit_compile, policy, batch_size, *((1, 2) if quick else (WARMUP, STEPS)))
            peak = peak_flops(name, policy)
            row["peak_share"] = None if peak is None else row["achieved_tflops"] * 1e12 / peak
        except Exception as error:  # Recorded (e.g. out of memory); the grid goes on.
            row = {"error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"}
        rows.append({**setting, **row})
        print(rows[-1], flush=True)
    return {"suite": "accelerator", "device": name, "steps": 2 if quick else STEPS, "rows": rows}


def markdown(result):
    lines = [
        f"SimCLR, ImageNetResNet-18, synthetic images in memory, on {result['device']}: images/s of the train step "
        f"({result['steps']} timed steps after warm-up), achieved TFLOP/s (3x forward FLOPs of 2 views) and share "
        "of the device's dense peak for the precision.",
        "",
        "| size | XLA | precision | batch | images/s | TFLOP/s | share of peak |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        head = (
            f"| {row['image_size']} | {'on' if row['jit_compile'] else 'off'} | {row['policy']} | {row['batch_size']} |"
        )
        if "error" in row:
            lines.append(f"{head} {row['error']} | | |")
            continue
        share = "-" if row.get("peak_share") is None else f"{100 * row['peak_share']:.1f}%"
        lines.append(f"{head} {row['images_per_s']:.0f} | {row['achieved_tflops']:.2f} | {share} |")
    lines += ["", f"Machine: {result.get('machine', '?')}.", ""]
    return "\n".join(lines)
