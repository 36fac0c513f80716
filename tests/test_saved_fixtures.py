"""Models saved by an earlier release (4a65f7e, before the methods moved
into family subpackages) load with today's code and predict what they
predicted then. The fixtures and the script that wrote them are in
tests/fixtures/."""

import os

import keras
import numpy as np

import keras_ssl
from tests.test_case import TestCase
from zoo import runs

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "saved_4a65f7e")
# Float32 outputs recomputed on another CPU (AVX2 vs AVX-512) round differently.
TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}


def fixture(name):
    with np.load(os.path.join(FIXTURES, f"{name}.npz")) as arrays:
        return {k: arrays[k] for k in arrays.files}


def load(name):
    path = os.path.join(FIXTURES, f"{name}.keras")
    return keras.saving.load_model(path)


class TestSavedFixtures(TestCase):
    def check_loaded(self, model, arrays, cls):
        assert type(model) is cls
        assert getattr(keras_ssl.methods, cls.__name__) is cls
        assert int(model.optimizer.iterations.numpy()) == int(arrays["iterations"]) > 0

    def test_simclr(self):
        arrays = fixture("simclr")
        model = load("simclr")
        self.check_loaded(model, arrays, keras_ssl.methods.SimCLR)
        np.testing.assert_allclose(
            model.predict(arrays["input_images"], verbose=0), arrays["output_features"], **TOLERANCE
        )

    def test_mix_match(self):
        arrays = fixture("mix_match")
        model = load("mix_match")
        self.check_loaded(model, arrays, keras_ssl.methods.MixMatch)
        images = arrays["input_images"]
        np.testing.assert_allclose(model.predict(images, verbose=0), arrays["output_features"], **TOLERANCE)
        np.testing.assert_allclose(np.asarray(model.classify(images)), arrays["output_logits"], **TOLERANCE)

    def test_context_encoder_with_both_optimizers(self):
        arrays = fixture("context_encoder")
        model = load("context_encoder")
        self.check_loaded(model, arrays, keras_ssl.methods.ContextEncoder)
        assert int(model.discriminator_optimizer.iterations.numpy()) == int(arrays["output_discriminator_iterations"])
        images = arrays["input_images"]
        np.testing.assert_allclose(model.predict(images, verbose=0), arrays["output_features"], **TOLERANCE)
        np.testing.assert_allclose(
            model.inpaint(images, arrays["input_masks"]), arrays["output_inpainted"], rtol=1e-5, atol=1e-3
        )  # Pixels in [0, 255].

    def test_word2vec_run(self):
        arrays = fixture("word2vec_run")
        model, config = runs.load_run(os.path.join(FIXTURES, "word2vec_run"))
        assert config["method"] == "word2vec"
        self.check_loaded(model, arrays, keras_ssl.methods.Word2Vec)
        np.testing.assert_allclose(
            np.asarray(model.vectors)[arrays["input_ids"]], arrays["output_vectors"], **TOLERANCE
        )

    def test_bert_run(self):
        arrays = fixture("bert_run")
        model, config = runs.load_run(os.path.join(FIXTURES, "bert_run"))
        assert config["method"] == "bert"
        self.check_loaded(model, arrays, keras_ssl.methods.BertPretraining)
        inputs = {k: arrays[f"input_{k}"] for k in ("token_ids", "segment_ids", "padding_mask", "mask_positions")}
        outputs = model.predict({k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")}, verbose=0)
        np.testing.assert_allclose(outputs["pooled_output"], arrays["output_pooled_output"], **TOLERANCE)
        np.testing.assert_allclose(outputs["sequence_output"], arrays["output_sequence_output"], **TOLERANCE)
        mlm_logits, nsp_logits = model.pretraining_logits(inputs, training=False)
        np.testing.assert_allclose(mlm_logits.numpy(), arrays["output_mlm_logits"], **TOLERANCE)
        np.testing.assert_allclose(nsp_logits.numpy(), arrays["output_nsp_logits"], **TOLERANCE)
