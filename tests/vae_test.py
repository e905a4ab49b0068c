"""The VAE: shapes, the ELBO's pieces, the IWAE bound, training, saving."""

import logging
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import distributions
from zoo import random as zoo_random
from zoo.data import digits
from zoo.data import pipeline
from zoo.metrics import likelihood as likelihood_metrics
from zoo.models.vae import VAE

RNG = np.random.default_rng(1)


def _binary(batch, shape=(28, 28, 1)):
    return (RNG.uniform(size=(batch, *shape)) > 0.5).astype(np.float32)


@pytest.mark.parametrize("network,shape", [("conv", (28, 28, 1)), ("conv", (32, 32, 3)),
                                           ("conv", (64, 64, 3)), ("mlp", (28, 28, 1)),
                                           ("coord", (28, 28, 1)), ("coord", (32, 32, 3))])
def test_methods_have_the_documented_shapes(network, shape):
    model = VAE(shape, latent_dim=5, network=network, base_filters=6, likelihood="gaussian")
    x = _binary(3, shape)
    mean, scale = model.encode(x)
    assert mean.shape == (3, 5) and scale.shape == (3, 5)
    assert np.all(scale.numpy() > 0)
    assert model.decode(mean).shape == (3, *shape)
    assert model.reconstruct(x).shape == (3, *shape)
    assert model.sample(4).shape == (4, *shape)
    assert model.log_likelihood(x, num_samples=7, chunk_size=3).shape == (3,)


def test_bad_inputs_name_the_expected_shape_and_dtype():
    model = VAE((28, 28, 1), latent_dim=5)
    with pytest.raises(ValueError, match=r"expects images of shape \[batch, 28, 28, 1\]; "
                                         r"got \[2, 32, 32, 1\]"):
        model.reconstruct(np.zeros((2, 32, 32, 1), np.float32))
    with pytest.raises(TypeError, match="int32"):
        model.reconstruct(np.zeros((2, 28, 28, 1), np.int32))
    with pytest.raises(ValueError, match="image_shape"):
        VAE((28, 28), latent_dim=5)
    with pytest.raises(ValueError, match="not supported"):
        VAE((30, 30, 1))


def test_uint8_images_are_scaled_to_unit_range():
    model = VAE((28, 28, 1), latent_dim=5)
    x = (_binary(2) * 255).astype(np.uint8)
    np.testing.assert_allclose(model.reconstruct(x), model.reconstruct(x / 255.0), atol=1e-6)


def test_reparameterised_latents_have_the_posterior_moments():
    model = VAE((28, 28, 1), latent_dim=5)
    inputs = {"images": tf.constant(np.repeat(_binary(1), 4000, 0))}
    posterior = model.posterior(inputs)
    z = model.draw_latents(model.posterior_params(inputs), None,
                           zoo_random.step_seed(0, 1))[0].numpy()
    np.testing.assert_allclose(z.mean(0), posterior.mean()[0], atol=0.08)
    np.testing.assert_allclose(z.std(0), posterior.stddev()[0], rtol=0.08)


def test_elbo_terms_are_the_likelihood_and_kl_of_the_same_sample():
    model = VAE((28, 28, 1), latent_dim=5, likelihood="gaussian", beta=2.5)
    x = tf.constant(_binary(3))
    terms = model.elbo_terms({"images": x}, zoo_random.step_seed(0, 3))
    params = model.decode_params(terms["latents"])
    np.testing.assert_allclose(terms["reconstruction"],
                               distributions.Gaussian().log_prob(params, x), rtol=1e-5)
    posterior = model.posterior({"images": x})
    mu, sigma = posterior.mean().numpy(), posterior.stddev().numpy()
    kl = 0.5 * np.sum(mu ** 2 + sigma ** 2 - 1 - np.log(sigma ** 2), -1)
    np.testing.assert_allclose(terms["kl"], kl, rtol=1e-4)
    np.testing.assert_allclose(model.per_example_loss(terms, training=False),
                               -terms["reconstruction"] + 2.5 * terms["kl"], rtol=1e-5)


def test_kl_warmup_ramps_the_weight_to_beta():
    model = VAE((28, 28, 1), latent_dim=5, beta=2.0, kl_warmup_steps=10)
    model.compile(optimizer=keras.optimizers.Adam())
    assert float(model.kl_weight()) == pytest.approx(0.2)
    model.optimizer.iterations.assign(100)
    assert float(model.kl_weight()) == pytest.approx(2.0)
    assert float(model.kl_weight(training=False)) == pytest.approx(2.0)


def test_gradients_are_finite_and_reach_every_weight():
    model = VAE((28, 28, 1), latent_dim=5, prior="learned_gaussian",
                likelihood="discretized_logistic")
    x = tf.constant(np.round(_binary(3) * 200) / 255.0, tf.float32)
    with tf.GradientTape() as tape:
        terms = model.elbo_terms({"images": x}, zoo_random.step_seed(0, 0), training=True)
        loss = tf.reduce_mean(model.per_example_loss(terms))
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None and np.all(np.isfinite(g)) for g in grads)
    assert any(np.any(g.numpy() != 0) for g, v in zip(grads, model.trainable_variables)
               if "loc" in v.path)


def test_importance_weighted_bound_is_above_the_elbo_and_tightens():
    model = VAE((28, 28, 1), latent_dim=5, likelihood="bernoulli")
    x = tf.constant(_binary(6))
    elbo = np.mean([model.elbo_terms({"images": x}, zoo_random.step_seed(0, i))["elbo"]
                    for i in range(50)], axis=0)
    iwae_1 = model.log_likelihood(x, num_samples=1).numpy()
    iwae_500 = model.log_likelihood(x, num_samples=500, chunk_size=100).numpy()
    assert np.all(iwae_500 > elbo)
    assert np.mean(iwae_500) > np.mean(iwae_1)
    np.testing.assert_allclose(np.mean(iwae_1), np.mean(elbo), rtol=0.02)


def _digit_data(split, batch):
    return pipeline.make_dataset(digits.load(split), batch, "binary", training=split == "train")


def test_short_training_improves_the_test_elbo_by_a_clear_margin():
    keras.utils.set_random_seed(0)
    model = VAE((28, 28, 1), latent_dim=8, base_filters=16)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    before = likelihood_metrics.evaluate_likelihood(model, _digit_data("test", 90), num_samples=0)
    model.fit(_digit_data("train", 64), epochs=4, steps_per_epoch=25, verbose=0)
    after = likelihood_metrics.evaluate_likelihood(model, _digit_data("test", 90), num_samples=20)
    assert after["elbo"] > before["elbo"] + 150, (before, after)
    assert after["log_likelihood"] >= after["elbo"]
    assert after["bits_per_dim"] < before["elbo_bits_per_dim"]


def test_fit_takes_arrays_tuples_and_dicts():
    model = VAE((28, 28, 1), latent_dim=5, base_filters=4)
    model.compile(optimizer=keras.optimizers.Adam())
    x = _binary(8)
    for data in (x, (x, np.zeros(8)), {"image": x, "label": np.zeros(8)}):
        dataset = tf.data.Dataset.from_tensor_slices(data).batch(4)
        logs = model.fit(dataset, epochs=1, verbose=0).history
        assert set(logs) == {"loss", "elbo", "reconstruction", "kl", "bits_per_dim"}
    assert np.isfinite(model.evaluate(x, batch_size=4, verbose=0, return_dict=True)["elbo"])


_RANGE_ERROR = (r"VAE: float images must be finite and in \[0, 1\] \(divide 8-bit values by 255, "
                r"or pass uint8 images\); their min and max are")


@pytest.mark.parametrize("bad", ["0_255", "nan"])
def test_fit_refuses_floats_outside_the_unit_range_in_one_line(bad):
    model = VAE((28, 28, 1), latent_dim=2, base_filters=4, likelihood="gaussian")
    model.compile(optimizer=keras.optimizers.Adam())
    x = _binary(8) * 255.0 if bad == "0_255" else np.where(_binary(8) > 0, np.nan, 0.5)
    found = "0 and 255" if bad == "0_255" else "nan and nan|0.5 and 0.5"
    for data in (x, tf.data.Dataset.from_tensor_slices({"image": x}).batch(4)):
        with pytest.raises(ValueError, match=rf"^{_RANGE_ERROR} ({found})\.$"):
            model.fit(data, batch_size=None if isinstance(data, tf.data.Dataset) else 4,
                      epochs=1, verbose=0)
    assert model.optimizer.iterations.numpy() == 0  # No step was taken.


def test_a_later_batch_out_of_range_stops_the_train_step_in_one_clear_line():
    # `fit` checks the first batch of a dataset eagerly; the training step checks every batch.
    model = VAE((28, 28, 1), latent_dim=2, base_filters=4, likelihood="gaussian")
    model.compile(optimizer=keras.optimizers.Adam())
    x = np.concatenate([_binary(4), _binary(4) * 255.0]).astype(np.float32)
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(4), epochs=1, verbose=0)
    (line,) = [line for line in str(error.value).splitlines() if "assertion failed" in line]
    assert re.search(rf"assertion failed: \[{_RANGE_ERROR}\] \[0\] \[255\]", line), line
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    with pytest.raises(ValueError, match=rf"^{_RANGE_ERROR} 0 and 255\.$"):
        model.reconstruct(x[4:])


def test_counts_are_checked_by_name():
    model = VAE((28, 28, 1), latent_dim=2, base_filters=4)
    x = _binary(2)
    with pytest.raises(ValueError, match=r"^num_samples must be a positive int; got 0\.$"):
        model.log_likelihood(x, num_samples=0)
    with pytest.raises(ValueError, match=r"^chunk_size must be a positive int; got 0\.$"):
        model.log_likelihood(x, num_samples=4, chunk_size=0)
    with pytest.raises(ValueError, match=r"^num_samples must be a positive int; got -1\.$"):
        model.sample(-1)
    with pytest.raises(TypeError, match=r"^num_samples must be an int; got 2\.5 \(float\)\.$"):
        model.sample(2.5)


def test_fit_refuses_empty_data_and_warns_of_a_batch_larger_than_the_data(caplog):
    model = VAE((28, 28, 1), latent_dim=2, base_filters=4)
    model.compile(optimizer=keras.optimizers.Adam())
    with pytest.raises(ValueError, match=r"^VAE\.fit got no training data: x has 0 examples\.$"):
        model.fit(np.zeros((0, 28, 28, 1), np.float32), verbose=0)
    with caplog.at_level(logging.WARNING):
        history = model.fit(_binary(6), batch_size=16, epochs=1, verbose=0).history
    (message,) = [r.getMessage() for r in caplog.records if "batch_size" in r.getMessage()]
    assert message == ("VAE.fit: batch_size=16 is larger than the 6 examples of x, so every "
                       "epoch is one batch of 6.")
    assert np.isfinite(history["loss"][0]) and model.optimizer.iterations.numpy() == 1


def _grey_pixel_warnings(caplog):
    return [r.getMessage() for r in caplog.records if "expects binary pixels" in r.getMessage()]


def test_bernoulli_on_grey_pixels_warns_once_per_model_naming_the_fix(caplog):
    grey = RNG.uniform(size=(8, 28, 28, 1)).astype(np.float32)
    model = VAE((28, 28, 1), latent_dim=2, base_filters=4)
    model.compile(optimizer=keras.optimizers.Adam())
    with caplog.at_level(logging.WARNING):
        model.fit(grey, batch_size=4, epochs=2, verbose=0)
        model.fit(tf.data.Dataset.from_tensor_slices(grey).batch(4), epochs=1, verbose=0)
    (message,) = _grey_pixel_warnings(caplog)
    assert "\n" not in message and "cross-entropy" in message
    assert "x > 0.5" in message and "likelihood='continuous_bernoulli'" in message
    other = VAE((28, 28, 1), latent_dim=2, base_filters=4)
    other.compile(optimizer=keras.optimizers.Adam())
    with caplog.at_level(logging.WARNING):
        other.fit(tf.data.Dataset.from_tensor_slices({"image": grey}).batch(4), epochs=1,
                  verbose=0)
    assert len(_grey_pixel_warnings(caplog)) == 2


@pytest.mark.parametrize("likelihood,data", [
    ("bernoulli", "binary"), ("bernoulli", "binary_uint8"), ("bernoulli", "pipeline"),
    ("continuous_bernoulli", "grey"), ("gaussian", "grey"), ("discretized_logistic", "grey")])
def test_no_grey_pixel_warning_for_binary_data_or_other_likelihoods(caplog, likelihood, data):
    x = {"binary": _binary(8), "binary_uint8": (_binary(8) * 255).astype(np.uint8),
         "grey": RNG.uniform(size=(8, 28, 28, 1)).astype(np.float32),
         "pipeline": _digit_data("train", 4).take(2)}[data]  # Dynamically binarized.
    model = VAE((28, 28, 1), latent_dim=2, base_filters=4, likelihood=likelihood)
    model.compile(optimizer=keras.optimizers.Adam())
    with caplog.at_level(logging.WARNING):
        model.fit(x, batch_size=None if data == "pipeline" else 4, epochs=1, verbose=0)
    assert _grey_pixel_warnings(caplog) == []


@pytest.mark.parametrize("likelihood", sorted(distributions.LIKELIHOODS))
def test_save_and_load_give_identical_outputs(tmp_path, likelihood):
    model = VAE((28, 28, 1), latent_dim=5, base_filters=4, likelihood=likelihood,
                prior="learned_gaussian", beta=0.5, seed=7)
    model.compile(optimizer=keras.optimizers.Adam())
    x = _binary(3)
    model.fit(x, batch_size=3, epochs=1, verbose=0)
    path = str(tmp_path / "vae.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.likelihood, type(model.likelihood))
    assert loaded.beta == 0.5 and loaded.seed == 7
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_array_equal(loaded.sample(2, seed=3), model.sample(2, seed=3))
    again = VAE.from_config(model.get_config())
    assert again.get_config()["likelihood"] == model.get_config()["likelihood"]
