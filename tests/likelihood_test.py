"""The reported likelihood bounds log P(x) of the 8-bit data: closed forms vs scipy."""

import math

import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf
import tensorflow_probability as tfp

from zoo import distributions
from zoo.data import pipeline
from zoo.data.source import Source
from zoo.metrics import likelihood as likelihood_metrics
from zoo.models.vae import VAE

SHAPE = (4, 4, 1)
D = math.prod(SHAPE)
LATENT = 2
RNG = np.random.default_rng(3)


def _constant_model(likelihood, params):
    """A VAE whose q(z|x) is the prior and whose p(x|z) ignores z: log p(x) = log p(x|.).

    Then KL = 0 and every importance weight is 1, so the ELBO and the
    importance-weighted bound both equal the likelihood's log-density exactly,
    and the only randomness left is the dequantization noise.
    """
    params = np.asarray(params, np.float32)
    unit_scale = math.log(math.expm1(1.0 - distributions._MIN_SCALE))  # softplus^-1.
    encoder = keras.Sequential([
        keras.Input(SHAPE), keras.layers.Flatten(),
        keras.layers.Dense(2 * LATENT, kernel_initializer="zeros",
                           bias_initializer=keras.initializers.Constant(
                               [0.0] * LATENT + [unit_scale] * LATENT))])
    decoder = keras.Sequential([
        keras.Input((LATENT,)),
        keras.layers.Dense(params.size, kernel_initializer="zeros",
                           bias_initializer=keras.initializers.Constant(params.ravel())),
        keras.layers.Reshape(params.shape)])
    return VAE(SHAPE, latent_dim=LATENT, likelihood=likelihood, encoder=encoder,
               decoder=decoder)


def _eval_stream(pixels, copies, batch_size=16, seed=0):
    """`copies` copies of one 8-bit image through the evaluation pipeline."""
    images = np.repeat(pixels[None], copies, axis=0)
    source = Source("copies", tf.data.Dataset.from_tensor_slices({"image": images}),
                    SHAPE, copies)
    return pipeline.make_dataset(source, batch_size, "dequantized", training=False, seed=seed)


def _exact_gaussian_log_mass(pixels, loc, scale):
    """log P(x) = sum_j log [Phi((k_j + 1) / 256) - Phi(k_j / 256)] of a Normal(loc, scale)."""
    upper = scipy.stats.norm.logcdf((pixels + 1) / 256.0, loc, scale)
    lower = scipy.stats.norm.logcdf(pixels / 256.0, loc, scale)
    return float(np.sum(upper + np.log1p(-np.exp(lower - upper))))


def _gaussian_bound(pixels, loc, scale):
    """E_u[log N((k + u) / 256; loc, scale)] - D log 256, u ~ U[0, 1), in closed form.

    E[(y - loc)^2] = (centre - loc)^2 + Var(u) / 256^2 with Var(u) = 1/12.
    """
    centre = (pixels + 0.5) / 256.0
    square = (centre - loc) ** 2 + 1.0 / (12.0 * 256.0 ** 2)
    log_density = -np.log(scale * np.sqrt(2 * np.pi)) - square / (2 * scale ** 2)
    return float(np.sum(log_density)) - D * math.log(256.0)


def _gaussian_noise_sd(pixels, loc, scale, draws=20_000):
    """Standard deviation over u of one image's log N((k + u) / 256; loc, scale)."""
    y = (pixels + RNG.uniform(size=(draws, *pixels.shape))) / 256.0
    return float(np.std(scipy.stats.norm.logpdf(y, loc, scale).sum(axis=(1, 2, 3))))


def _gaussian_cases(scale, loc):
    """The same Normal(loc, scale) as `gaussian_fixed` and as `gaussian` params."""
    raw_scale = np.log(np.expm1(scale - 1e-6)) * np.ones(SHAPE, np.float32)
    return [(distributions.FixedVarianceGaussian(scale), loc),
            (distributions.Gaussian(min_scale=1e-6),
             np.concatenate([loc, raw_scale], axis=-1))]


@pytest.mark.parametrize("case", [0, 1], ids=["gaussian_fixed", "gaussian"])
def test_a_narrow_gaussian_on_the_bin_centres_is_overstated_by_the_midpoint_only(case):
    # sigma = 2e-4, far below the bin width 1/256 = 3.9e-3, means on the bin centres:
    # each bin holds all but ~1e-22 of its Normal, so log P(x) = 0 to 1e-21.
    pixels = RNG.integers(0, 256, size=SHAPE).astype(np.uint8)
    loc = (pixels + 0.5) / 256.0
    likelihood, params = _gaussian_cases(2e-4, loc)[case]
    model = _constant_model(likelihood, params)
    exact = _exact_gaussian_log_mass(pixels.astype(np.float64), loc, 2e-4)
    assert exact == pytest.approx(0.0, abs=1e-12)

    midpoint_images = pipeline.encode_images(np.repeat(pixels[None], 4, 0), "dequantized")
    midpoint = likelihood.discrete_log_likelihood(
        float(np.mean(model.log_likelihood(midpoint_images, num_samples=4))), D)
    # -D log(sigma sqrt(2 pi) 256) = +32.8 nats: more probability than there is.
    assert midpoint == pytest.approx(-D * math.log(2e-4 * math.sqrt(2 * math.pi) * 256), rel=1e-4)
    assert midpoint > exact + 30

    results = likelihood_metrics.evaluate_likelihood(
        model, _eval_stream(pixels, 32), num_samples=4, dequantization_draws=2)
    assert results["data"] == "8-bit" and results["dequantization_draws"] == 2
    assert results["num_examples"] == 32
    assert results["log_likelihood"] <= exact and results["elbo"] <= exact
    # The bound itself, E_u log p - D log 256 = -222 nats, is what is reported.
    bound = _gaussian_bound(pixels.astype(np.float64), loc, 2e-4)
    noise_sd = _gaussian_noise_sd(pixels.astype(np.float64), loc, 2e-4)
    assert results["log_likelihood"] == pytest.approx(bound, abs=4 * noise_sd / math.sqrt(64))


@pytest.mark.parametrize("case", [0, 1], ids=["gaussian_fixed", "gaussian"])
def test_the_reported_bound_is_its_closed_form_below_the_exact_bin_mass(case):
    # sigma = 0.01 (2.6 bins), means off the centres: the bound is tight to ~0.1 nats,
    # so a missing or doubled D log 256 (44 nats) or Jacobian would show.
    pixels = RNG.integers(20, 236, size=SHAPE).astype(np.uint8)
    loc = (pixels + RNG.uniform(-3, 3, size=SHAPE)) / 256.0
    likelihood, params = _gaussian_cases(0.01, loc)[case]
    model = _constant_model(likelihood, params)
    pixels64 = pixels.astype(np.float64)
    exact = _exact_gaussian_log_mass(pixels64, loc, 0.01)
    bound = _gaussian_bound(pixels64, loc, 0.01)
    assert bound <= exact and exact - bound < 0.2

    copies, draws = 48, 3
    results = likelihood_metrics.evaluate_likelihood(
        model, _eval_stream(pixels, copies), num_samples=3, dequantization_draws=draws)
    error = 4 * _gaussian_noise_sd(pixels64, loc, 0.01) / math.sqrt(copies * draws)
    for key in ("elbo", "log_likelihood", "reconstruction"):
        assert results[key] == pytest.approx(bound, abs=error), key
        assert results[key] <= exact + error, key
    assert results["kl"] == pytest.approx(0.0, abs=1e-5)
    # Nats and bits/dim are the same quantity.
    assert results["bits_per_dim"] == pytest.approx(
        -results["log_likelihood"] / (D * math.log(2)), rel=1e-6)
    assert results["elbo_bits_per_dim"] == pytest.approx(
        -results["elbo"] / (D * math.log(2)), rel=1e-6)


def test_continuous_bernoulli_reports_a_bound_on_its_bin_mass():
    # log p(y) is linear in y, so E_u log p((k + u) / 256) = log p((k + 1/2) / 256) exactly.
    pixels = RNG.integers(0, 256, size=SHAPE).astype(np.uint8)
    logits = RNG.normal(0, 3, size=SHAPE).astype(np.float32)
    model = _constant_model("continuous_bernoulli", logits)
    cb = tfp.distributions.ContinuousBernoulli(logits=tf.constant(logits, tf.float64))
    upper = cb.cdf(tf.constant((pixels + 1) / 256.0)).numpy()
    lower = cb.cdf(tf.constant(pixels / 256.0)).numpy()
    exact = float(np.sum(np.log(upper - lower)))
    centre = (pixels + 0.5) / 256.0
    bound = float(np.sum(cb.log_prob(tf.constant(centre)).numpy())) - D * math.log(256.0)
    assert bound <= exact

    results = likelihood_metrics.evaluate_likelihood(model, _eval_stream(pixels, 32),
                                                     num_samples=2)
    assert results["dequantization_draws"] == 1
    # One image's log p(y) varies over u by less than 1/256 * |logit| per dimension.
    error = 4 * float(np.sqrt(np.sum((logits / 256.0) ** 2 / 12.0))) / math.sqrt(32)
    assert results["log_likelihood"] == pytest.approx(bound, abs=error)
    assert results["log_likelihood"] <= exact + error


def test_redequantize_recovers_the_pixels_and_draws_fresh_noise():
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    seed = tf.constant([4, 5], tf.int64)
    for images in (pixels, pixels / 255.0, pipeline.encode_images(pixels, "dequantized"),
                   pipeline.encode_images(pixels, "dequantized", tf.constant([1, 2], tf.int64))):
        again = likelihood_metrics.redequantize(images, seed).numpy()
        np.testing.assert_array_equal(np.floor(again * 256), pixels)
        np.testing.assert_array_equal(again, likelihood_metrics.redequantize(images, seed))
    assert not np.allclose(again, likelihood_metrics.redequantize(images, seed + 1))


def test_binary_and_discrete_data_are_evaluated_as_they_are():
    images = (RNG.uniform(size=(8, *SHAPE)) > 0.5).astype(np.float32)
    model = _constant_model("bernoulli", RNG.normal(size=SHAPE))
    results = likelihood_metrics.evaluate_likelihood(
        model, tf.data.Dataset.from_tensor_slices(images).batch(4), num_samples=2,
        dequantization_draws=5)
    expected = float(np.mean(model.log_likelihood(images, num_samples=2)))
    assert results["log_likelihood"] == pytest.approx(expected, rel=1e-6)
    assert results["data"] == "binarized" and results["dequantization_draws"] == 0
    assert results["bits_per_dim"] == pytest.approx(-expected / (D * math.log(2)), rel=1e-6)
    with pytest.raises(ValueError, match="dequantization_draws must be >= 1; got 0"):
        likelihood_metrics.evaluate_likelihood(model, [images], dequantization_draws=0)


def test_report_lines_say_what_the_numbers_bound_in_both_units():
    results = {"data": "8-bit", "elbo": -1234.5, "elbo_bits_per_dim": 5.125,
               "log_likelihood": -1200.0, "bits_per_dim": 5.0, "importance_samples": 500,
               "num_examples": 100, "importance_examples": 64, "dequantization_draws": 1}
    assert likelihood_metrics.report_lines(results, given="y") == [
        "test ELBO: log P(x|y) of the 8-bit data >= -1234.50 nats (5.125 bits/dim), 100 images, "
        "dequantized with u ~ U[0, 1) (1 draw)",
        "test log P(x|y) of the 8-bit data >= -1200.00 nats (5.000 bits/dim), importance-weighted, "
        "K=500, 64 images"]
    del results["log_likelihood"], results["importance_examples"]
    results.update(data="binarized", dequantization_draws=0)
    assert likelihood_metrics.report_lines(results) == [
        "test ELBO: log P(x) of the binarized data >= -1234.50 nats (5.125 bits/dim), 100 images"]
