"""Export a trained encoder as a TF Serving SavedModel.

    python -m export.saved_model --model_dir=runs/demo --export_base=serving/simclr

writes `serving/simclr/<version>/` (the next integer version by default)
with a `serving_default` signature from uint8 `images` to a float32
`embedding`, and `assets.extra/metadata.json` describing the run.
"""

import os
import sys

import keras
import tensorflow as tf

import keras_ssl  # noqa: F401  (registers the serializable classes for loading runs)
from export.versions import base_metadata, next_version_path, read_run, write_version_atomically


def export_encoder(model, export_base, metadata=None, version=None):
    """Writes `model`'s encoder to `export_base/<version>/` for TF Serving.

    The version directory appears atomically: everything is written to a
    hidden temporary directory inside `export_base` and then renamed, so a
    server watching `export_base` never loads half a version. The
    `serving_default` signature takes `images`, uint8 `[batch, H, W, C]` raw
    pixels, and returns `embedding`, float32 `[batch, D]`; a model with a
    `classify(images)` method (float32 pixels to class probabilities) also
    returns `probabilities`. A density model (with `log_likelihood` and
    `serving_inputs`, e.g. NADE) gets the raw pixels binarised by its
    `serving_inputs` and a second signature, `log_prob`: uint8 `images` to
    float32 `log_prob` `[batch]`, the exact log-likelihood in nats (an
    anomaly score). The SavedModel loads with `tf.saved_model.load` alone,
    without keras or keras_ssl.

    Args:
        model: keras.Model. A keras_ssl `Method` (its `encoder` is exported)
            or a model from raw float32 pixels in [0, 255] to features.
        export_base: str. Directory holding the numbered versions.
        metadata: dict. Extra entries for `assets.extra/metadata.json`, e.g.
            `method`, `dataset` and `training_run`.
        version: int. Version to write; 1 + the largest existing version if
            None. An existing version is never overwritten.

    Returns:
        str. Path of the written version directory.

    Example:

    >>> backbone = keras_ssl.backbones.ConvNet(input_shape=(28, 28, 1), filters=(4, 8))
    >>> model = keras_ssl.methods.SimCLR(backbone)
    >>> path = export_encoder(model, "serving/simclr", metadata={"dataset": "fashion_mnist"})
    >>> loaded = tf.saved_model.load(path)
    >>> loaded.signatures["serving_default"](images=tf.zeros([2, 28, 28, 1], tf.uint8))["embedding"].shape
    TensorShape([2, 8])
    """
    encoder = getattr(model, "encoder", None) or model
    image_shape = tuple(getattr(model, "image_shape", None) or encoder.input_shape[1:])
    if len(image_shape) != 3:
        raise ValueError(f"export needs images of shape (height, width, channels), got {image_shape}")
    version, path = next_version_path(export_base, version)
    classify = getattr(model, "classify", None)
    serving_inputs = getattr(model, "serving_inputs", None) or (lambda pixels: pixels)
    negative_log_likelihood = getattr(model, "negative_log_likelihood", None)

    def serve(images):
        # A loaded signature checks dtype but not shape: check it in the graph.
        images = tf.ensure_shape(images, [None, *image_shape])
        pixels = serving_inputs(tf.cast(images, "float32"))
        outputs = {"embedding": tf.cast(encoder(pixels, training=False), "float32")}
        if classify is not None:
            outputs["probabilities"] = tf.cast(classify(pixels), "float32")
        return outputs

    def serve_log_prob(images):
        images = tf.ensure_shape(images, [None, *image_shape])
        pixels = serving_inputs(tf.cast(images, "float32"))
        return {"log_prob": -tf.cast(negative_log_likelihood(pixels, training=False), "float32")}

    def write(tmp):
        archive = keras.export.ExportArchive()
        archive.track(model if classify is not None or negative_log_likelihood is not None else encoder)
        spec = tf.TensorSpec([None, *image_shape], tf.uint8, name="images")
        endpoint = archive.add_endpoint("serving_default", serve, input_signature=[spec])
        if negative_log_likelihood is not None:
            archive.add_endpoint("log_prob", serve_log_prob, input_signature=[spec])
        archive.write_out(tmp, verbose=False)
        output_specs = endpoint.get_concrete_function().structured_outputs
        info = {
            "method": type(model).__name__.lower(),
            "signature": "serving_default",
            "inputs": {"images": {"dtype": "uint8", "shape": list(spec.shape)}},
            "outputs": {
                name: {"dtype": "float32", "shape": list(t.shape), "dim": t.shape[-1]}
                for name, t in output_specs.items()
            },
            **(
                {
                    "log_prob": {
                        "signature": "log_prob",
                        "inputs": "images (raw pixels, binarised at 128)",
                        "outputs": {"log_prob": "float32 [batch], nats per image"},
                    }
                }
                if negative_log_likelihood is not None
                else {}
            ),
            "keras_version": keras.__version__,
            **base_metadata(version),
            **(metadata or {}),
        }
        return info, {}

    return write_version_atomically(export_base, path, write)


def _define_flags():
    from absl import flags

    flags.DEFINE_string("model_dir", None, "Run directory written by zoo.train (model.keras, config.json).")
    flags.DEFINE_string("export_base", None, "Directory of numbered versions that TF Serving watches.")
    flags.DEFINE_integer("version", None, "Version to write (default: the next one).", lower_bound=1)
    flags.mark_flags_as_required(["model_dir", "export_base"])
    return flags


def _parse_flags(argv):
    from absl import flags

    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        sys.exit(f"error: {e} (usage: python -m export.saved_model --model_dir=RUN --export_base=DIR [--version=N])")


def main(argv):
    from absl import flags

    FLAGS = flags.FLAGS
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # Keep SavedModel-writing INFO lines out of the output.
    tf.get_logger().setLevel("WARNING")
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {argv[1:]}: pass only --model_dir, --export_base and --version")
    model_dir = FLAGS.model_dir
    try:
        config = read_run(model_dir)
    except ValueError as e:
        sys.exit(f"error: {e}")
    model_path = os.path.join(model_dir, "model.keras")
    model = keras.saving.load_model(model_path, compile=False)
    metadata = {
        "method": config.get("method", type(model).__name__.lower()),
        "dataset": config.get("dataset"),
        "training_run": {"model_dir": os.path.abspath(model_dir), "config": config},
    }
    try:
        path = export_encoder(model, FLAGS.export_base, metadata=metadata, version=FLAGS.version)
    except (FileExistsError, ValueError, OSError) as e:
        sys.exit(f"error: {e}")
    print(path)
    print(f"inspect it with: saved_model_cli show --dir {path} --all")


if __name__ == "__main__":
    from absl import app

    _define_flags()
    app.run(main, flags_parser=_parse_flags)
