"""Export a trained encoder as a TF Serving SavedModel.

    python -m export.saved_model --model_dir=runs/demo --export_base=serving/simclr

writes `serving/simclr/<version>/` (the next integer version by default)
with two signatures to a float32 `embedding`: `serving_default` from uint8
`images` of any height and width (resized in the graph to the model's), and
`image_bytes` from encoded JPEG / PNG / BMP / GIF strings, decoded and
resized in the graph exactly as training and evaluation decode image
folders. Beside the SavedModel, `assets.extra/metadata.json` describes the
run and the signatures, and `assets.extra/tf_serving_warmup_requests` holds
one warm-up request per signature, which TF Serving runs when it loads the
version (https://www.tensorflow.org/tfx/serving/saved_model_warmup).
"""

import os
import sys

import keras
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

import keras_ssl  # noqa: F401  (registers the serializable classes for loading runs)
from export.versions import base_metadata, next_version_path, read_run, write_version_atomically
from keras_ssl.data import decode_and_crop

WARMUP_FILE = "tf_serving_warmup_requests"
# Channel counts tf.io.decode_image can produce (a JPEG only 1 or 3): a model
# with another count gets no `image_bytes` signature.
DECODABLE_CHANNELS = (1, 3, 4)


def resize_uint8(images, height, width):
    """uint8 `images` (`[h, w, C]` or `[batch, h, w, C]`) resized to
    `height` x `width`: bilinear, antialiased, rounded and clipped to uint8,
    as `decode_and_crop` resizes."""
    resized = tf.image.resize(images, [height, width], method="bilinear", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)


def decode_to_shape(encoded, image_shape):
    """uint8 `image_shape` from one encoded image (a scalar string), decoded
    to the model's channels (a grey model takes colour files and vice
    versa). A square model gets `decode_and_crop`, the preprocessing of
    training and evaluation (shorter side resized to the side, centre
    crop); a non-square one the image resized to its height and width
    (the aspect ratio is not kept). An undecodable string fails."""
    height, width, channels = image_shape
    if height == width:
        return decode_and_crop(encoded, height, channels)
    image = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
    image.set_shape([None, None, channels])
    return resize_uint8(image, height, width)


def write_warmup_requests(path, requests):
    """Writes `requests`, `(signature name, {input name: array})` pairs, as
    the TFRecord of `PredictionLog`s TF Serving replays when it loads a
    version (`assets.extra/tf_serving_warmup_requests`). The model name is
    left empty: the server's, whatever it is, is used."""
    with tf.io.TFRecordWriter(path) as writer:
        for signature, inputs in requests:
            request = predict_pb2.PredictRequest()
            request.model_spec.signature_name = signature
            for name, value in inputs.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())


def _write_archive(tmp, tracked, endpoints, warmup):
    """Writes a SavedModel of `tracked` with `endpoints` (`{signature: (fn,
    input_signature)}`) into `tmp`, and the warm-up requests `warmup` beside
    it; returns `{signature: structured outputs}`."""
    archive = keras.export.ExportArchive()
    archive.track(tracked)
    added = {name: archive.add_endpoint(name, fn, input_signature=spec) for name, (fn, spec) in endpoints.items()}
    archive.write_out(tmp, verbose=False)
    # Inside the temporary directory: the warm-up requests appear with the version.
    os.makedirs(os.path.join(tmp, "assets.extra"), exist_ok=True)
    write_warmup_requests(os.path.join(tmp, "assets.extra", WARMUP_FILE), warmup)
    return {name: endpoint.get_concrete_function().structured_outputs for name, endpoint in added.items()}


def _common_metadata(warmup, version, metadata):
    """The metadata.json entries every export ends with."""
    return {
        "warmup_requests": {"file": f"assets.extra/{WARMUP_FILE}", "signatures": [name for name, _ in warmup]},
        "keras_version": keras.__version__,
        **base_metadata(version),
        **(metadata or {}),
    }


def export_encoder(model, export_base, metadata=None, version=None):
    """Writes `model`'s encoder to `export_base/<version>/` for TF Serving.

    The version directory appears atomically: everything (the SavedModel,
    `assets.extra/metadata.json` and the warm-up requests) is written to a
    hidden temporary directory inside `export_base` and then renamed, so a
    server watching `export_base` never loads half a version, and a failed
    export leaves nothing behind. The SavedModel loads with
    `tf.saved_model.load` alone, without keras or keras_ssl.

    Signatures (each returns `embedding`, float32 `[batch, D]`, and, for a
    model with a `classify(images)` method from float32 pixels to class
    probabilities, `probabilities`):

    - `serving_default`: `images`, uint8 `[batch, height, width, C]` raw
      pixels of any height and width; a size other than the model's is
      resized in the graph to it (bilinear, antialiased, rounded to uint8;
      the aspect ratio is not kept). The channel count must be the model's.
    - `image_bytes`: `image_bytes`, string `[batch]` of encoded JPEG / PNG /
      BMP / GIF files, each decoded to the model's channels (a grey model
      takes colour files and vice versa) and, for a square model, resized
      and cropped by `keras_ssl.data.decode_and_crop`, exactly as training
      and evaluation decode image folders (shorter side resized to the
      side, centre crop); a non-square model gets the decoded image resized
      to its height and width. An undecodable string fails the request.
      Absent for a model whose channel count is not 1, 3 or 4.
    - `log_prob`, for a density model (with `negative_log_likelihood` and
      `serving_inputs`, e.g. NADE): uint8 `images` of exactly the model's
      shape to float32 `log_prob` `[batch]`, the exact log-likelihood in
      nats (an anomaly score). A density model's raw pixels are binarised
      by its `serving_inputs` in every signature.

    `assets.extra/tf_serving_warmup_requests` holds one `PredictionLog` per
    signature (zero images of the model's size; one PNG for
    `image_bytes`), which TF Serving replays when it loads the version, so
    the first client request does not pay for lazy initialisation.

    Args:
        model: keras.Model. A keras_ssl `Method` (its `encoder` is exported)
            or a model from raw float32 pixels in [0, 255] to features, with
            a known height and width.
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
    >>> loaded.signatures["serving_default"](images=tf.zeros([2, 40, 30, 1], tf.uint8))["embedding"].shape
    TensorShape([2, 8])
    >>> jpeg = tf.io.encode_jpeg(tf.zeros([64, 48, 3], tf.uint8))
    >>> loaded.signatures["image_bytes"](image_bytes=tf.stack([jpeg]))["embedding"].shape
    TensorShape([1, 8])
    """
    encoder = getattr(model, "encoder", None) or model
    image_shape = tuple(getattr(model, "image_shape", None) or encoder.input_shape[1:])
    if len(image_shape) != 3 or any(s is None for s in image_shape):
        raise ValueError(f"export needs images of a known shape (height, width, channels), got {image_shape}")
    image_shape = tuple(int(s) for s in image_shape)
    height, width, channels = image_shape
    version, path = next_version_path(export_base, version)
    classify = getattr(model, "classify", None)
    serving_inputs = getattr(model, "serving_inputs", None) or (lambda pixels: pixels)
    negative_log_likelihood = getattr(model, "negative_log_likelihood", None)

    def outputs_of(images):
        pixels = serving_inputs(tf.cast(images, "float32"))
        outputs = {"embedding": tf.cast(encoder(pixels, training=False), "float32")}
        if classify is not None:
            outputs["probabilities"] = tf.cast(classify(pixels), "float32")
        return outputs

    def serve(images):
        # A loaded signature checks dtype but not shape: check the rank and
        # channels in the graph; another height or width is resized.
        images = tf.ensure_shape(images, [None, None, None, channels])
        native = tf.reduce_all(tf.equal(tf.shape(images)[1:3], [height, width]))
        images = tf.cond(native, lambda: images, lambda: resize_uint8(images, height, width))
        return outputs_of(tf.ensure_shape(images, [None, *image_shape]))

    def serve_image_bytes(image_bytes):
        image_bytes = tf.ensure_shape(image_bytes, [None])
        images = tf.map_fn(
            lambda encoded: decode_to_shape(encoded, image_shape),
            image_bytes,
            fn_output_signature=tf.TensorSpec(image_shape, tf.uint8),
        )
        return outputs_of(images)

    def serve_log_prob(images):
        images = tf.ensure_shape(images, [None, *image_shape])
        pixels = serving_inputs(tf.cast(images, "float32"))
        return {"log_prob": -tf.cast(negative_log_likelihood(pixels, training=False), "float32")}

    if height == width:
        decoded = (
            f"JPEG/PNG/BMP/GIF (first frame) decoded to {channels} channel(s), shorter side resized to {height} "
            f"(bilinear, antialiased), centre-cropped to {height}x{width}: as training and evaluation decode folders"
        )
    else:
        decoded = (
            f"JPEG/PNG/BMP/GIF (first frame) decoded to {channels} channel(s), resized to {height}x{width} "
            "(bilinear, antialiased; the aspect ratio is not kept)"
        )

    def write(tmp):
        any_size = tf.TensorSpec([None, None, None, channels], tf.uint8, name="images")
        native = tf.TensorSpec([None, *image_shape], tf.uint8, name="images")
        endpoints = {"serving_default": (serve, [any_size])}
        inputs = {
            "serving_default": {
                "images": {"dtype": "uint8", "shape": list(any_size.shape), "resized_to": [height, width]}
            }
        }
        # The model's own input size, and the encoded images: each
        # signature's spec is in `signatures`.
        summary = {"images": {"dtype": "uint8", "shape": list(native.shape)}}
        zeros = np.zeros((2, *image_shape), "uint8")
        warmup = [("serving_default", {"images": zeros})]
        if channels in DECODABLE_CHANNELS:
            spec = tf.TensorSpec([None], tf.string, name="image_bytes")
            endpoints["image_bytes"] = (serve_image_bytes, [spec])
            inputs["image_bytes"] = {"image_bytes": {"dtype": "string", "shape": [None], "decoded": decoded}}
            summary["image_bytes"] = {"signature": "image_bytes", **inputs["image_bytes"]["image_bytes"]}
            png = tf.io.encode_png(zeros[0]).numpy()
            warmup.append(("image_bytes", {"image_bytes": np.array([png], dtype=object)}))
        if negative_log_likelihood is not None:
            endpoints["log_prob"] = (serve_log_prob, [native])
            inputs["log_prob"] = {"images": {"dtype": "uint8", "shape": list(native.shape)}}
            warmup.append(("log_prob", {"images": zeros}))
        tracked = model if classify is not None or negative_log_likelihood is not None else encoder
        structured = _write_archive(tmp, tracked, endpoints, warmup)
        signatures = {}
        for name, outputs in structured.items():
            signatures[name] = {
                "inputs": inputs[name],
                "outputs": {key: {"dtype": t.dtype.name, "shape": list(t.shape)} for key, t in outputs.items()},
            }
        output_specs = structured["serving_default"]
        info = {
            "method": type(model).__name__.lower(),
            "signature": "serving_default",
            "inputs": summary,
            "outputs": {
                name: {"dtype": "float32", "shape": list(t.shape), "dim": t.shape[-1]}
                for name, t in output_specs.items()
            },
            "signatures": signatures,
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
            **_common_metadata(warmup, version, metadata),
        }
        return info, {}

    return write_version_atomically(export_base, path, write)


def export_frame_embedding(model, export_base, metadata=None, version=None):
    """Writes a video model's embedding network to `export_base/<version>/`
    for TF Serving, atomically (as `export_encoder`): the `serving_default`
    signature takes `frames`, uint8 RGB `[batch, H, W, 3]` of the model's
    frame size, and returns `embedding_map`, float32 `[batch, h, w, D]`, the
    per-pixel embeddings whose dot products are the learned pointer
    (`model.embed`: Lab conversion and the L channel inside the graph). A
    warm-up request is written beside it. Loads with `tf.saved_model.load`
    alone.

    Example:

    >>> path = export_frame_embedding(video_model, "serving/vc")
    >>> tf.saved_model.load(path).signatures["serving_default"](frames=frames)["embedding_map"]
    """
    height, width, channels = (int(s) for s in model.frame_shape)
    version, path = next_version_path(export_base, version)

    def serve(frames):
        return {"embedding_map": tf.cast(model.embed(frames), "float32")}

    def write(tmp):
        spec = tf.TensorSpec([None, height, width, channels], tf.uint8, name="frames")
        warmup = [("serving_default", {"frames": np.zeros((2, height, width, channels), "uint8")})]
        structured = _write_archive(tmp, model, {"serving_default": (serve, [spec])}, warmup)
        output = structured["serving_default"]["embedding_map"]
        info = {
            "method": type(model).__name__.lower(),
            "signature": "serving_default",
            "inputs": {"frames": {"dtype": "uint8", "shape": list(spec.shape)}},
            "outputs": {"embedding_map": {"dtype": "float32", "shape": list(output.shape)}},
            **_common_metadata(warmup, version, metadata),
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
        export = export_frame_embedding if config.get("family") == "video" else export_encoder
        path = export(model, FLAGS.export_base, metadata=metadata, version=FLAGS.version)
    except (FileExistsError, ValueError, OSError) as e:
        sys.exit(f"error: {e}")
    print(path)
    print(f"inspect it with: saved_model_cli show --dir {path} --all")


if __name__ == "__main__":
    from absl import app

    _define_flags()
    app.run(main, flags_parser=_parse_flags)
