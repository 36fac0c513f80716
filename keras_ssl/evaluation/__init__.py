"""Evaluation the way the papers do it: linear probe, kNN, fine-tuning."""

from keras_ssl.evaluation.classifier import classifier_accuracy
from keras_ssl.evaluation.features import extract_features, raw_pixel_features
from keras_ssl.evaluation.fine_tune import copy_encoder, fine_tune_accuracy
from keras_ssl.evaluation.image_grids import (
    image_grid_size,
    inpainting_comparison,
    plot_colorizations,
    plot_denoising_grid,
    plot_image_grid,
)
from keras_ssl.evaluation.knn import knn_accuracy, knn_predict
from keras_ssl.evaluation.knn_monitor import KNNMonitor
from keras_ssl.evaluation.language_model import (
    bits_per_token,
    generate_samples,
    negative_log_likelihood,
    perplexity,
    unigram_perplexity,
)
from keras_ssl.evaluation.linear_probe import linear_probe_accuracy
from keras_ssl.evaluation.masked_lm import pretraining_accuracies
from keras_ssl.evaluation.plots import plot_embedding, plot_history
from keras_ssl.evaluation.protocols import PROTOCOLS, evaluate_encoder, random_init_copy
from keras_ssl.evaluation.stage_probe import stage_probe_accuracies
from keras_ssl.evaluation.text_classification import copy_bert_backbone, fine_tune_text_classifier
from keras_ssl.evaluation.tracking import (
    boundary_f_measure,
    copy_first_mask,
    evaluate_tracking,
    optical_flow_propagation,
    propagate_masks,
    raw_pixel_embed,
    region_similarity,
    tracking_table,
)
from keras_ssl.evaluation.word_embeddings import (
    analogy_accuracy,
    nearest_neighbours,
    plot_words,
    word_similarity_spearman,
)

__all__ = [
    "boundary_f_measure",
    "copy_first_mask",
    "evaluate_tracking",
    "optical_flow_propagation",
    "propagate_masks",
    "raw_pixel_embed",
    "region_similarity",
    "tracking_table",
    "copy_bert_backbone",
    "fine_tune_text_classifier",
    "pretraining_accuracies",
    "analogy_accuracy",
    "nearest_neighbours",
    "plot_words",
    "word_similarity_spearman",
    "KNNMonitor",
    "PROTOCOLS",
    "bits_per_token",
    "classifier_accuracy",
    "copy_encoder",
    "evaluate_encoder",
    "extract_features",
    "fine_tune_accuracy",
    "generate_samples",
    "image_grid_size",
    "inpainting_comparison",
    "knn_accuracy",
    "knn_predict",
    "linear_probe_accuracy",
    "negative_log_likelihood",
    "perplexity",
    "plot_embedding",
    "plot_history",
    "plot_colorizations",
    "plot_denoising_grid",
    "plot_image_grid",
    "random_init_copy",
    "raw_pixel_features",
    "stage_probe_accuracies",
    "unigram_perplexity",
]
