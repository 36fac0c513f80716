"""Offline data sources and tf.data pipelines."""

from keras_ssl.data.bert_inputs import (
    BERT_RESERVED_TOKENS,
    bert_pretraining_batches,
    bert_pretraining_preprocessor,
    bert_tokenizer,
    learn_word_piece_vocabulary,
    load_vocabulary,
    materialize_batches,
    save_vocabulary,
)
from keras_ssl.data.binarize import binarize
from keras_ssl.data.folders import FolderDataset, ImageFolder
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
from keras_ssl.data.photos import load_photos
from keras_ssl.data.pipelines import image_batches, with_pipeline_views
from keras_ssl.data.semi_supervised import labelled_split, semi_supervised_batches
from keras_ssl.data.sentence_pairs import IS_NEXT, NOT_NEXT, SentencePairs, next_sentence_pairs
from keras_ssl.data.sources import (
    DataSourceMissingError,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_tfds,
    tfds_builder,
    tfds_data_dir,
)
from keras_ssl.data.splits import balanced_indices, label_fraction_indices
from keras_ssl.data.streams import StreamedImageDataset, decode_and_crop
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
from keras_ssl.data.tfds_images import TFDSImages
from keras_ssl.data.tfrecords import TFRecordImages, write_tfrecords
from keras_ssl.data.videos import VideoClips, clip_strip, load_frame_folders, load_video_clips, make_video_clips
from keras_ssl.data.word2vec_pairs import (
    alias_table,
    cbow_examples,
    context_windows,
    dynamic_windows,
    epoch_examples,
    example_count,
    keep_probabilities,
    noise_distribution,
    skip_gram_pairs,
    subsample,
    word2vec_dataset,
)
from keras_ssl.data.word_vocabulary import WordVocabulary
from keras_ssl.data.wordnet_lexnames import TextClassificationData, wordnet_gloss_classification

__all__ = [
    "binarize",
    "BERT_RESERVED_TOKENS",
    "IS_NEXT",
    "NOT_NEXT",
    "SentencePairs",
    "TextClassificationData",
    "bert_pretraining_batches",
    "bert_pretraining_preprocessor",
    "bert_tokenizer",
    "learn_word_piece_vocabulary",
    "load_vocabulary",
    "materialize_batches",
    "next_sentence_pairs",
    "save_vocabulary",
    "wordnet_gloss_classification",
    "WordVocabulary",
    "alias_table",
    "cbow_examples",
    "context_windows",
    "dynamic_windows",
    "epoch_examples",
    "example_count",
    "keep_probabilities",
    "noise_distribution",
    "skip_gram_pairs",
    "subsample",
    "word2vec_dataset",
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
    "ImageDataset",
    "balanced_indices",
    "FolderDataset",
    "VideoClips",
    "clip_strip",
    "load_frame_folders",
    "load_video_clips",
    "make_video_clips",
    "ImageFolder",
    "StreamedImageDataset",
    "TFDSImages",
    "TFRecordImages",
    "write_tfrecords",
    "tfds_builder",
    "tfds_data_dir",
    "decode_and_crop",
    "image_batches",
    "with_pipeline_views",
    "label_fraction_indices",
    "labelled_split",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_photos",
    "load_tfds",
    "semi_supervised_batches",
]
