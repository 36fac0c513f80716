"""Offline data sources and tf.data pipelines."""

from keras_ssl.data.image_dataset import ImageDataset
from keras_ssl.data.language_model_data import (
    UNKNOWN_CHAR,
    UNKNOWN_WORD,
    build_word_vocabulary,
    char_ids,
    char_sequences,
    char_vocabulary,
    documents_text,
    language_model_batches,
    word_ids,
    word_ngram_windows,
)
from keras_ssl.data.pipelines import image_batches
from keras_ssl.data.semi_supervised import labelled_split, semi_supervised_batches
from keras_ssl.data.sources import (
    DataSourceMissingError,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_tfds,
)
from keras_ssl.data.splits import balanced_indices, label_fraction_indices
from keras_ssl.data.text import (
    TEXT_CORPUS_NAMES,
    WORDNET_LEXNAMES,
    Synset,
    TextCorpus,
    TextSourceMissingError,
    load_text_corpus,
    load_wordnet,
    split_sentences,
    word_benchmark_path,
    word_tokenize,
)

__all__ = [
    "UNKNOWN_CHAR",
    "UNKNOWN_WORD",
    "build_word_vocabulary",
    "char_ids",
    "char_sequences",
    "char_vocabulary",
    "documents_text",
    "language_model_batches",
    "word_ids",
    "word_ngram_windows",
    "TEXT_CORPUS_NAMES",
    "WORDNET_LEXNAMES",
    "Synset",
    "TextCorpus",
    "TextSourceMissingError",
    "load_text_corpus",
    "load_wordnet",
    "split_sentences",
    "word_benchmark_path",
    "word_tokenize",
    "DataSourceMissingError",
    "ImageDataset",
    "balanced_indices",
    "image_batches",
    "label_fraction_indices",
    "labelled_split",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_tfds",
    "semi_supervised_batches",
]
