"""Export trained word vectors as a TF Serving SavedModel.

    python -m export.word_vectors --model_dir=runs/word2vec --export_base=serving/word2vec

writes `serving/word2vec/<version>/` (the next integer version by default)
whose `serving_default` signature maps `words` (tf.string `[batch]`) to
`vectors` (float32 `[batch, dim]`) and `in_vocabulary` (bool `[batch]`),
with `assets.extra/metadata.json` describing the run.
"""

import os
import sys

import numpy as np
import tensorflow as tf

from export.versions import base_metadata, next_version_path, read_run, write_version_atomically

OOV_VECTOR = "zeros"


class _WordVectors(tf.Module):
    """The served graph: a string -> row hash table and the vector table
    (one extra zero row for unknown words)."""

    def __init__(self, vocabulary, vectors):
        super().__init__(name="word_vectors")
        vectors = np.asarray(vectors, "float32")
        self.oov_row = len(vocabulary)
        self.vectors = tf.Variable(
            np.concatenate([vectors, np.zeros((1, vectors.shape[1]), "float32")]), trainable=False, name="vectors"
        )
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(vocabulary), tf.string), tf.range(len(vocabulary), dtype=tf.int64)
            ),
            default_value=-1,
        )
        self.serve = tf.function(self._serve, input_signature=[tf.TensorSpec([None], tf.string, name="words")])

    def _serve(self, words):
        # A loaded signature checks dtype but not shape: check it in the graph.
        words = tf.ensure_shape(words, [None])
        rows = self.table.lookup(words)
        known = rows >= 0
        vectors = tf.gather(self.vectors, tf.where(known, rows, self.oov_row))
        return {"vectors": vectors, "in_vocabulary": known}


def export_word_vectors(model, export_base, metadata=None, version=None):
    """Writes `model`'s word vectors to `export_base/<version>/` for TF
    Serving.

    The `serving_default` signature takes `words`, tf.string `[batch]`,
    looked up exactly as given (the vocabulary is what the tokenizer made:
    lower case for `word_tokenize`), and returns `vectors`, float32
    `[batch, dim]` (the model's input vectors, `model.vectors`), and
    `in_vocabulary`, bool `[batch]`. An unknown word gets the zero vector
    and `in_vocabulary=False`. The SavedModel loads with
    `tf.saved_model.load` alone, without keras or keras_ssl. The version
    directory appears atomically (written to a hidden temporary directory
    inside `export_base`, then renamed).

    Args:
        model: keras_ssl.methods.Word2Vec. Or any object with `vocabulary`
            (list of str) and `vectors` (float array [V, dim]).
        export_base: str. Directory holding the numbered versions.
        metadata: dict. Extra entries for `assets.extra/metadata.json`.
        version: int. Version to write; 1 + the largest existing version if
            None. An existing version is never overwritten.

    Returns:
        str. Path of the written version directory.

    Example:

    >>> path = export_word_vectors(model, "serving/word2vec")
    >>> serve = tf.saved_model.load(path).signatures["serving_default"]
    >>> serve(words=tf.constant(["king", "qwzx"]))["in_vocabulary"].numpy()
    array([ True, False])
    """
    vocabulary = list(getattr(model, "vocabulary", []))
    vectors = np.asarray(getattr(model, "vectors", np.zeros((0, 0))), "float32")
    if not vocabulary or vectors.ndim != 2 or len(vectors) != len(vocabulary):
        raise ValueError(
            "export_word_vectors needs a model with `vocabulary` (list of words) and `vectors` "
            f"(one row per word), got {type(model).__name__}: pass a keras_ssl Word2Vec"
        )
    version, path = next_version_path(export_base, version)

    def write(tmp):
        module = _WordVectors(vocabulary, vectors)
        tf.saved_model.save(module, tmp, signatures={"serving_default": module.serve})
        info = {
            "method": type(model).__name__.lower(),
            "architecture": getattr(model, "architecture", None),
            "signature": "serving_default",
            "inputs": {"words": {"dtype": "string", "shape": [None]}},
            "outputs": {
                "vectors": {"dtype": "float32", "shape": [None, int(vectors.shape[1])], "dim": int(vectors.shape[1])},
                "in_vocabulary": {"dtype": "bool", "shape": [None]},
            },
            "vocabulary_size": len(vocabulary),
            "oov_vector": OOV_VECTOR,
            "lookup": "exact string match (no case folding); unknown words get the zero vector",
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


def _parse_flags(argv):
    from absl import flags

    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        sys.exit(f"error: {e} (usage: python -m export.word_vectors --model_dir=RUN --export_base=DIR [--version=N])")


def main(argv):
    from absl import flags, logging

    FLAGS = flags.FLAGS
    logging.set_verbosity(logging.WARNING)
    tf.get_logger().setLevel("WARNING")
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {argv[1:]}: pass only --model_dir, --export_base and --version")
    model_dir = FLAGS.model_dir
    try:
        config = read_run(model_dir, config_required=False, train="python -m zoo.train --method=word2vec")
    except ValueError as e:
        sys.exit(f"error: {e}")
    model_path = os.path.join(model_dir, "model.keras")
    import keras

    import keras_ssl  # noqa: F401  (registers Word2Vec)

    model = keras.saving.load_model(model_path, compile=False)
    metadata = {
        "method": config.get("method", type(model).__name__.lower()),
        "dataset": config.get("corpus", config.get("dataset")),
        "training_run": {"model_dir": os.path.abspath(model_dir), "config": config},
    }
    try:
        path = export_word_vectors(model, FLAGS.export_base, metadata=metadata, version=FLAGS.version)
    except (FileExistsError, ValueError, OSError) as e:
        sys.exit(f"error: {e}")
    print(path)
    print(f"inspect it with: saved_model_cli show --dir {path} --all")


if __name__ == "__main__":
    from absl import app

    _define_flags()
    app.run(main, flags_parser=_parse_flags)
