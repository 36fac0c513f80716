"""Export a pretrained BERT encoder as a TF Serving SavedModel that reads text.

    python -m export.text_encoder --model_dir=runs/bert --export_base=serving/bert

writes `serving/bert/<version>/` (the next integer version by default) from
the run's `model.keras` and `vocab.txt`, with three signatures:

- `serving_default`: `text` (tf.string `[batch]`), one segment per example:
  `[CLS] text [SEP]`;
- `text_pair`: `text` and `text_b` (tf.string `[batch]` each), packed as
  `[CLS] text [SEP] text_b [SEP]` with segment ids 0 then 1 (a signature
  cannot have an optional input, hence a second one for pairs);
- `token_ids`: `token_ids`, `segment_ids`, `padding_mask` (int32
  `[batch, length]`, `length` at most the backbone's
  `max_sequence_length`; `padding_mask` is 1 on real tokens), for clients
  that tokenise themselves.

The text signatures tokenise in the graph (keras-hub's `BertTokenizer` and
`MultiSegmentPacker`, i.e. TF Text ops), pad or truncate to
`sequence_length` and return `pooled_output` float32 `[batch, hidden]`,
`sequence_output` float32 `[batch, sequence_length, hidden]` and
`padding_mask` int32 `[batch, sequence_length]`; `token_ids` returns the
first two. Loading needs TF Text's ops registered: `import tensorflow_text`
in Python, a TF Serving build with TF Text ops of a matching version.
`assets.extra/` holds `metadata.json` and the `vocab.txt`.
"""

import os
import sys

import keras
import tensorflow as tf

import keras_ssl  # noqa: F401  (registers the serializable classes for loading runs)
from export.versions import base_metadata, next_version_path, read_run, write_version_atomically


def export_text_encoder(model, vocabulary, export_base, sequence_length=None, metadata=None, version=None):
    """Writes a BERT encoder with its tokenizer to `export_base/<version>/`.

    The version directory appears atomically (written to a hidden temporary
    directory inside `export_base`, then renamed). See the module docstring
    for the signatures. The SavedModel loads with `tf.saved_model.load`
    once TF Text's ops are registered, without keras or keras_ssl.

    Args:
        model: keras.Model. A `BertPretraining` (its `encoder` is exported)
            or a `keras_hub.models.BertBackbone`.
        vocabulary: list of str, path of a vocab.txt, or the
            `keras_hub.models.BertTokenizer` the model was trained with.
        export_base: str. Directory holding the numbered versions.
        sequence_length: int. Padded length of the text signatures (default
            the backbone's `max_sequence_length`).
        metadata: dict. Extra entries for `assets.extra/metadata.json`, e.g.
            `method`, `dataset` and `training_run`.
        version: int. Version to write; 1 + the largest existing version if
            None. An existing version is never overwritten.

    Returns:
        str. Path of the written version directory.

    Example:

    >>> path = export_text_encoder(model, "runs/bert/vocab.txt", "serving/bert")
    >>> import tensorflow_text  # Registers the TF Text ops.
    >>> serve = tf.saved_model.load(path).signatures["serving_default"]
    >>> serve(text=tf.constant(["a small dog barked"]))["pooled_output"].shape
    TensorShape([1, 64])
    """
    import keras_hub

    from keras_ssl.data.bert_inputs import bert_tokenizer

    encoder = getattr(model, "encoder", None) or model
    if not isinstance(encoder, keras_hub.models.BertBackbone):
        raise ValueError(
            f"export_text_encoder needs a BertPretraining or a keras_hub BertBackbone, got {type(model).__name__}"
        )
    if isinstance(vocabulary, keras_hub.tokenizers.WordPieceTokenizer):
        tokenizer = vocabulary
    else:
        tokenizer = bert_tokenizer(vocabulary)
    if tokenizer.vocabulary_size() != encoder.vocabulary_size:
        raise ValueError(
            f"the vocabulary has {tokenizer.vocabulary_size()} tokens but the backbone "
            f"{encoder.vocabulary_size}: pass the vocab.txt the model was trained with"
        )
    sequence_length = int(sequence_length or encoder.max_sequence_length)
    if not 2 < sequence_length <= encoder.max_sequence_length:
        raise ValueError(
            f"sequence_length must be in [3, {encoder.max_sequence_length}] (the backbone's "
            f"max_sequence_length), got {sequence_length}"
        )
    packer = keras_hub.layers.MultiSegmentPacker(
        sequence_length=sequence_length,
        start_value=tokenizer.start_token_id,
        end_value=tokenizer.end_token_id,
        pad_value=tokenizer.pad_token_id,
        truncate="round_robin",
        name="packer",
    )
    pad = tokenizer.pad_token_id
    version, path = next_version_path(export_base, version)

    def encode(token_ids, segment_ids, padding_mask):
        outputs = encoder(
            {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}, training=False
        )
        return {
            "pooled_output": tf.cast(outputs["pooled_output"], "float32"),
            "sequence_output": tf.cast(outputs["sequence_output"], "float32"),
        }

    def encode_segments(segments):
        token_ids, segment_ids = packer(tuple(tokenizer(s) for s in segments))
        padding_mask = tf.cast(token_ids != pad, "int32")
        return {**encode(token_ids, segment_ids, padding_mask), "padding_mask": padding_mask}

    # A loaded signature checks dtype but not shape: check it in the graph.
    def serve_text(text):
        return encode_segments([tf.ensure_shape(text, [None])])

    def serve_text_pair(text, text_b):
        text, text_b = tf.ensure_shape(text, [None]), tf.ensure_shape(text_b, [None])
        check = tf.debugging.assert_equal(
            tf.shape(text), tf.shape(text_b), message="text and text_b must hold the same number of strings"
        )
        with tf.control_dependencies([check]):
            return encode_segments([tf.identity(text), text_b])

    def serve_token_ids(token_ids, segment_ids, padding_mask):
        token_ids = tf.ensure_shape(token_ids, [None, None])
        segment_ids = tf.ensure_shape(segment_ids, token_ids.shape)
        padding_mask = tf.ensure_shape(padding_mask, token_ids.shape)
        length = tf.shape(token_ids)[1]
        check = tf.debugging.assert_less_equal(
            length,
            encoder.max_sequence_length,
            message=f"token_ids are longer than the backbone's max_sequence_length {encoder.max_sequence_length}",
        )
        with tf.control_dependencies([check]):
            return encode(tf.identity(token_ids), segment_ids, padding_mask)

    # keras-hub tokenizers and packers build their TF Text objects on the
    # first call: call them once before tracking (PITFALLS).
    tf.function(lambda a, b: packer((tokenizer(a), tokenizer(b))))(tf.constant(["a"]), tf.constant(["b"]))

    text_spec = tf.TensorSpec([None], tf.string, name="text")
    text_b_spec = tf.TensorSpec([None], tf.string, name="text_b")
    id_specs = [tf.TensorSpec([None, None], tf.int32, name=n) for n in ("token_ids", "segment_ids", "padding_mask")]

    def write(tmp):
        archive = keras.export.ExportArchive()
        archive.track(encoder)
        archive.track(tokenizer)
        archive.track(packer)
        endpoints = {
            "serving_default": archive.add_endpoint("serving_default", serve_text, input_signature=[text_spec]),
            "text_pair": archive.add_endpoint("text_pair", serve_text_pair, input_signature=[text_spec, text_b_spec]),
            "token_ids": archive.add_endpoint("token_ids", serve_token_ids, input_signature=id_specs),
        }
        archive.write_out(tmp, verbose=False)

        def describe(spec):
            return {"dtype": spec.dtype.name, "shape": list(spec.shape)}

        info = {
            "method": "bert",
            "signatures": {
                "serving_default": {"inputs": {"text": describe(text_spec)}},
                "text_pair": {"inputs": {"text": describe(text_spec), "text_b": describe(text_b_spec)}},
                "token_ids": {"inputs": {s.name: describe(s) for s in id_specs}},
            },
            "outputs": {},
            "sequence_length": sequence_length,
            "max_sequence_length": int(encoder.max_sequence_length),
            "vocabulary_size": int(tokenizer.vocabulary_size()),
            "vocabulary_file": "assets.extra/vocab.txt",
            "lowercase": bool(tokenizer.lowercase),
            "special_tokens": {
                "cls": tokenizer.cls_token,
                "sep": tokenizer.sep_token,
                "pad": tokenizer.pad_token,
                "mask": tokenizer.mask_token,
            },
            "requires": "TF Text ops (import tensorflow_text before tf.saved_model.load)",
            "keras_version": keras.__version__,
            "keras_hub_version": keras_hub.__version__,
            **base_metadata(version),
            **(metadata or {}),
        }
        for name, endpoint in endpoints.items():
            outputs = endpoint.get_concrete_function().structured_outputs
            info["signatures"][name]["outputs"] = {key: describe(t) for key, t in outputs.items()}
        info["outputs"] = info["signatures"]["serving_default"]["outputs"]
        return info, {"vocab.txt": "".join(token + "\n" for token in tokenizer.get_vocabulary())}

    return write_version_atomically(export_base, path, write)


def _define_flags():
    from absl import flags

    flags.DEFINE_string("model_dir", None, "Run directory written by zoo.train (model.keras, vocab.txt).")
    flags.DEFINE_string("export_base", None, "Directory of numbered versions that TF Serving watches.")
    flags.DEFINE_integer("version", None, "Version to write (default: the next one).", lower_bound=1)
    flags.DEFINE_integer(
        "sequence_length", None, "Padded length of the text signatures (default: the run's).", lower_bound=3
    )
    flags.mark_flags_as_required(["model_dir", "export_base"])
    return flags


def _parse_flags(argv):
    from absl import flags

    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        sys.exit(
            f"error: {e} (usage: python -m export.text_encoder --model_dir=RUN --export_base=DIR "
            "[--version=N] [--sequence_length=L])"
        )


def main(argv):
    from absl import flags, logging

    FLAGS = flags.FLAGS
    logging.set_verbosity(logging.WARNING)  # Keep SavedModel-writing INFO lines out of the output.
    tf.get_logger().setLevel("WARNING")
    if len(argv) > 1:
        sys.exit(
            f"error: unexpected arguments {argv[1:]}: pass only --model_dir, --export_base, --version and "
            "--sequence_length"
        )
    model_dir = FLAGS.model_dir
    try:
        config = read_run(
            model_dir,
            files=("model.keras", "vocab.txt"),
            config_required=False,
            train="python -m zoo.train --method=bert",
        )
    except ValueError as e:
        sys.exit(f"error: {e}")
    model_path = os.path.join(model_dir, "model.keras")
    vocabulary_path = os.path.join(model_dir, "vocab.txt")
    import keras_hub  # noqa: F401  (registers the backbone for loading)

    model = keras.saving.load_model(model_path, compile=False)
    metadata = {
        "method": config.get("method", type(model).__name__.lower()),
        "dataset": config.get("dataset", config.get("corpus")),
        "training_run": {"model_dir": os.path.abspath(model_dir), "config": config},
    }
    sequence_length = FLAGS.sequence_length or config.get("sequence_length")
    try:
        path = export_text_encoder(
            model,
            vocabulary_path,
            FLAGS.export_base,
            sequence_length=sequence_length,
            metadata=metadata,
            version=FLAGS.version,
        )
    except (FileExistsError, ValueError, OSError) as e:
        sys.exit(f"error: {e}")
    print(path)
    print(f"inspect it with: saved_model_cli show --dir {path} --all")


if __name__ == "__main__":
    from absl import app

    _define_flags()
    app.run(main, flags_parser=_parse_flags)
