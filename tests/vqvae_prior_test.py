"""The VQ-VAE with its PixelCNN prior: the bound, training the prior only, sampling, saving."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.data import digits
from zoo.data import pipeline
from zoo.export import export_saved_model
from zoo.models.pixelcnn import PixelCNNPrior
from zoo.models.vqvae import VQVAE
from zoo.models.vqvae_prior import VQVAEWithPrior


def _model(conditions=0, num_codes=6):
    keras.utils.set_random_seed(1)
    autoencoder = VQVAE((28, 28, 1), num_codes=num_codes, embedding_dim=3, filters=8,
                        residual_blocks=1)
    prior = PixelCNNPrior((7, 7), num_codes, filters=8, num_layers=2,
                          num_conditions=conditions)
    return VQVAEWithPrior(autoencoder, prior, conditional=bool(conditions))


def _batches(keys=("image",)):
    return pipeline.make_dataset(digits.load("train"), 32, "binary", training=True, seed=0,
                                 keys=keys)


def test_the_bound_is_the_reconstruction_plus_the_priors_log_probability_of_the_codes():
    model = _model()
    images = next(iter(_batches()))["image"][:4]
    terms = model.elbo_terms({"images": images})
    indices = model.vqvae.encode_indices(images)
    np.testing.assert_allclose(terms["kl"], -model.prior.log_prob(indices), rtol=1e-5)
    np.testing.assert_allclose(terms["reconstruction"],
                               model.vqvae.terms({"images": images})["reconstruction"],
                               rtol=1e-5)
    np.testing.assert_allclose(terms["elbo"], terms["reconstruction"] - terms["kl"], rtol=1e-5)
    # An untrained prior is near uniform: -log p(z_q) is about 49 log 6 nats.
    assert np.all(np.abs(terms["kl"].numpy() - 49 * math.log(6)) < 10)


def test_fitting_trains_the_prior_only_and_raises_the_bound():
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    frozen = [v.numpy() for v in model.vqvae.weights]
    history = model.fit(_batches(), epochs=3, steps_per_epoch=10, verbose=0).history
    assert history["elbo"][-1] > history["elbo"][0] + 5.0  # Nats per image.
    assert history["loss"][-1] < history["loss"][0] - 5.0
    for before, variable in zip(frozen, model.vqvae.weights):
        np.testing.assert_array_equal(before, variable.numpy())
    assert model.trainable_variables and all(
        any(v is w for w in model.prior.trainable_variables) for v in model.trainable_variables)


def test_samples_are_images_in_the_unit_range_and_repeat_with_their_seed():
    model = _model()
    images = model.sample(3, seed=4)
    assert images.shape == (3, 28, 28, 1) and images.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
    np.testing.assert_array_equal(images, model.sample(3, seed=4))
    assert not np.array_equal(images, model.sample(3, seed=5))


def test_a_conditional_prior_reads_the_attributes_and_exports_them(tmp_path):
    model = _model(conditions=10)
    batch = next(iter(_batches(("image", "attributes"))))
    inputs = model.unpack(batch)
    assert inputs["conditions"].shape == (32, 10)
    with pytest.raises(ValueError, match="'attributes' entry"):
        model.unpack({"image": batch["image"]})
    grids = model.summary_images(batch, num_images=4)
    assert grids["prior_samples"].shape == (4, 28, 28, 1)
    served = tf.saved_model.load(export_saved_model(model, str(tmp_path)))
    noise = tf.random.stateless_uniform([2, 7, 7], [0, 1])
    attributes = tf.one_hot([3, 7], 10)
    out = served.signatures["sample"](noise=noise, attributes=attributes)["images"]
    np.testing.assert_allclose(out, model.sample_from_noise(noise, attributes), atol=1e-5)


@pytest.mark.parametrize("prior_codes, conditions, message", [
    (5, 0, "the prior models 5 codes"), (6, 3, "conditional=False needs a prior with no")])
def test_a_prior_that_does_not_fit_the_autoencoder_is_refused(prior_codes, conditions, message):
    autoencoder = VQVAE((28, 28, 1), num_codes=6, embedding_dim=3, filters=4, residual_blocks=0)
    prior = PixelCNNPrior((7, 7), prior_codes, filters=4, num_layers=1,
                          num_conditions=conditions)
    with pytest.raises(ValueError, match=message):
        VQVAEWithPrior(autoencoder, prior)


def test_save_and_load_gives_the_same_bound_and_samples(tmp_path):
    model = _model()
    images = next(iter(_batches()))["image"][:4]
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded.elbo_terms({"images": images})["elbo"],
                               model.elbo_terms({"images": images})["elbo"], rtol=1e-5)
    np.testing.assert_array_equal(loaded.sample(2, seed=3), model.sample(2, seed=3))
    assert not loaded.vqvae.trainable
