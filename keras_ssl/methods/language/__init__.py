"""Language methods: token ids in (word2vec, BERT, next-token language models)."""

from keras_ssl.methods.language.base import LanguageModel, sample_next_token
from keras_ssl.methods.language.bert_pretraining import BertPretraining
from keras_ssl.methods.language.char_lstm_language_model import CharLSTMLanguageModel
from keras_ssl.methods.language.neural_language_model import NeuralLanguageModel
from keras_ssl.methods.language.word2vec import Word2Vec

__all__ = [
    "BertPretraining",
    "CharLSTMLanguageModel",
    "LanguageModel",
    "NeuralLanguageModel",
    "Word2Vec",
    "sample_next_token",
]
