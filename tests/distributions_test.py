"""Distributions against closed forms computed independently with numpy/scipy."""

import math

import numpy as np
import pytest
import scipy.optimize
import scipy.special
import scipy.stats
import tensorflow as tf
import tensorflow_probability as tfp

from zoo import distributions

tfd = tfp.distributions
RNG = np.random.default_rng(0)


def _raw_scale(sigma):
    """Inverse of the posterior's sigma = 1e-3 + softplus(raw)."""
    return np.log(np.expm1(sigma - 1e-3))


def test_gaussian_kl_matches_the_lecture_closed_form():
    mu = RNG.normal(size=(3, 5)).astype(np.float32)
    sigma = RNG.uniform(0.2, 2.0, size=(3, 5)).astype(np.float32)
    posterior = distributions.diagonal_gaussian(np.concatenate([mu, _raw_scale(sigma)], -1))
    prior = distributions.StandardNormalPrior(5).distribution()
    expected = -0.5 * np.sum(1 + np.log(sigma ** 2) - mu ** 2 - sigma ** 2, axis=-1)
    np.testing.assert_allclose(distributions.kl_divergence(posterior, prior), expected,
                               rtol=1e-4)


def test_kl_is_five_for_unit_means_in_ten_dimensions():
    params = np.concatenate([np.ones((1, 10)), np.full((1, 10), _raw_scale(1.0))], -1)
    kl = distributions.kl_divergence(distributions.diagonal_gaussian(params.astype(np.float32)),
                                     distributions.StandardNormalPrior(10).distribution())
    np.testing.assert_allclose(kl, [5.0], rtol=1e-3)


def test_kl_falls_back_to_monte_carlo_without_a_closed_form():
    posterior = distributions.diagonal_gaussian(np.zeros((2, 6), np.float32))
    prior = tfd.Independent(tfd.Laplace(tf.zeros(3), 1.0), 1)
    z = tf.constant(RNG.normal(size=(2, 3)), tf.float32)
    np.testing.assert_allclose(distributions.kl_divergence(posterior, prior, z),
                               posterior.log_prob(z) - prior.log_prob(z), rtol=1e-6)
    with pytest.raises(NotImplementedError):
        distributions.kl_divergence(posterior, prior)


def test_learned_prior_maps_noise_and_has_closed_form_kl():
    prior = distributions.LearnedGaussianPrior(4)
    prior.loc.assign([1.0, -1.0, 0.5, 0.0])
    noise = RNG.normal(size=(2, 4)).astype(np.float32)
    scale = prior.distribution().stddev().numpy()
    np.testing.assert_allclose(prior.latents_from_noise(noise),
                               prior.loc.numpy() + scale * noise, rtol=1e-6)
    posterior = distributions.diagonal_gaussian(np.zeros((1, 8), np.float32))
    np.testing.assert_allclose(distributions.kl_divergence(posterior, prior.distribution()),
                               tfd.kl_divergence(posterior, prior.distribution()))


def test_a_fresh_learned_prior_is_the_standard_normal():
    prior = distributions.LearnedGaussianPrior(6)
    np.testing.assert_allclose(prior.distribution().mean(), np.zeros(6), atol=0)
    np.testing.assert_allclose(prior.distribution().stddev(), np.ones(6), rtol=0, atol=1e-6)
    # KL(N(0, I) || p) = 0 exactly when p is N(0, I); a scale of 1.001 would give
    # 6 * (log 1.001 + 1 / (2 * 1.001^2) - 1/2) = 6.0e-6.
    standard = distributions.diagonal_gaussian(
        np.concatenate([np.zeros((2, 6)), np.full((2, 6), _raw_scale(1.0))], -1)
        .astype(np.float32))
    np.testing.assert_allclose(distributions.kl_divergence(standard, prior.distribution()),
                               [0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(
        distributions.kl_divergence(standard, prior.distribution()),
        distributions.kl_divergence(standard,
                                    distributions.StandardNormalPrior(6).distribution()),
        atol=1e-6)


def _images(shape=(2, 4, 3, 1)):
    return RNG.uniform(size=shape).astype(np.float32)


def test_bernoulli_log_prob():
    x = (_images() > 0.5).astype(np.float32)
    logits = RNG.normal(size=x.shape).astype(np.float32)
    p = scipy.special.expit(logits)
    expected = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
    np.testing.assert_allclose(distributions.Bernoulli().log_prob(logits, x), expected, rtol=1e-5)


def test_gaussian_with_learned_variance_is_the_lectures_reproduction_cost():
    x = _images()
    loc = _images()
    raw = RNG.normal(size=x.shape).astype(np.float32)
    sigma = 1e-3 + np.log1p(np.exp(raw))
    params = np.concatenate([loc, raw], axis=-1)
    expected = np.sum(-0.5 * np.log(2 * np.pi) - 0.5 * np.log(sigma ** 2)
                      - (x - loc) ** 2 / (2 * sigma ** 2), axis=(1, 2, 3))
    np.testing.assert_allclose(distributions.Gaussian().log_prob(params, x), expected, rtol=1e-5)


def test_fixed_variance_gaussian_is_least_squares():
    x, loc = _images(), _images()
    expected = scipy.stats.norm(loc, 0.3).logpdf(x).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(distributions.FixedVarianceGaussian(0.3).log_prob(loc, x),
                               expected, rtol=1e-5)
    with pytest.raises(ValueError, match="scale must be a finite number > 0"):
        distributions.FixedVarianceGaussian(0.0)


def _logistic_level_probs(loc, scale):
    cdf = lambda v: scipy.special.expit((v - loc) / scale)  # noqa: E731
    levels = np.arange(256)
    probs = cdf(levels + 0.5) - cdf(levels - 0.5)
    probs[0], probs[255] = cdf(0.5), 1 - cdf(254.5)
    return probs


def test_discretized_logistic_matches_bin_masses_and_sums_to_one():
    likelihood = distributions.DiscretizedLogistic()
    raw = np.array([0.3, -0.4], np.float32).reshape(1, 1, 1, 2)
    loc = 255 * scipy.special.expit(0.3)
    scale = 0.05 + 16 * np.log1p(np.exp(-0.4))
    probs = _logistic_level_probs(loc, scale)
    levels = np.arange(256, dtype=np.float32).reshape(256, 1, 1, 1) / 255.0
    log_probs = likelihood.log_prob(np.repeat(raw, 256, axis=0), levels).numpy()
    np.testing.assert_allclose(np.exp(log_probs), probs, rtol=1e-3, atol=1e-7)
    np.testing.assert_allclose(np.exp(log_probs).sum(), 1.0, rtol=1e-4)


def test_continuous_bernoulli_matches_its_density():
    x = _images()
    logits = RNG.normal(size=x.shape).astype(np.float32)
    lam = scipy.special.expit(logits)
    log_norm = np.log(2 * np.arctanh(1 - 2 * lam) / (1 - 2 * lam))
    expected = np.sum(log_norm + x * np.log(lam) + (1 - x) * np.log(1 - lam), axis=(1, 2, 3))
    np.testing.assert_allclose(distributions.ContinuousBernoulli().log_prob(logits, x),
                               expected, rtol=1e-4)


def test_bits_per_dim_adds_the_bin_width_for_densities_only():
    assert distributions.Bernoulli().bits_per_dim(-100 * math.log(2), 100) == pytest.approx(1.0)
    density = distributions.Gaussian().bits_per_dim(0.0, 10)
    assert density == pytest.approx(8.0)


@pytest.mark.parametrize("name", sorted(distributions.LIKELIHOODS))
def test_discrete_log_likelihood_and_bits_per_dim_are_one_quantity(name):
    likelihood = distributions.get_likelihood(name)
    log_mass = likelihood.discrete_log_likelihood(-300.0, 10)
    bin_width = 0.0 if name in ("bernoulli", "discretized_logistic") else 10 * math.log(256)
    assert log_mass == pytest.approx(-300.0 - bin_width)
    assert likelihood.bits_per_dim(-300.0, 10) == pytest.approx(-log_mass / (10 * math.log(2)))


@pytest.mark.parametrize("name", sorted(distributions.LIKELIHOODS))
def test_every_likelihood_has_a_display_image_in_range(name):
    likelihood = distributions.get_likelihood(name)
    params = RNG.normal(size=(2, 4, 4, likelihood.params_per_channel)).astype(np.float32)
    image = likelihood.mean_image(params).numpy()
    assert image.shape == (2, 4, 4, 1)
    assert image.min() >= 0 and image.max() <= 1


def _continuous_bernoulli_mean(logits):
    """m(eta) = 1 / (1 - exp(-eta)) - 1 / eta in float64 (1/2 + eta / 12 near 0)."""
    logits = np.asarray(logits, np.float64)
    safe = np.where(np.abs(logits) < 1e-6, 1.0, logits)
    with np.errstate(over="ignore"):  # 1 / -expm1(-eta) -> 0 for eta << 0
        return np.where(np.abs(logits) < 1e-6, 0.5 + logits / 12,
                        1 / -np.expm1(-safe) - 1 / safe)


# Each likelihood's location by hand, [..., C] from raw [..., C * p] (C = 3).
_HAND_LOCATIONS = {
    "bernoulli": scipy.special.expit,
    "gaussian": lambda params: params[..., :3],
    "gaussian_fixed": lambda params: params,
    "discretized_logistic": lambda params: 255 * scipy.special.expit(params[..., :3]) / 255,
    "continuous_bernoulli": _continuous_bernoulli_mean,
}


@pytest.mark.parametrize("name", sorted(distributions.LIKELIHOODS))
def test_location_and_its_inverse_keep_the_scales(name):
    likelihood = distributions.get_likelihood(name)
    per_channel = likelihood.params_per_channel
    params = (3 * RNG.normal(size=(2, 4, 4, 3 * per_channel))).astype(np.float32)
    np.testing.assert_allclose(likelihood.location(params), _HAND_LOCATIONS[name](params),
                               rtol=1e-5, atol=2e-6)
    gaussian = name.startswith("gaussian")
    target = (RNG.normal(0.5, 1.0, size=(2, 4, 4, 3)) if gaussian
              else RNG.uniform(1e-3, 1 - 1e-3, size=(2, 4, 4, 3))).astype(np.float32)
    inverted = likelihood.params_from_location(target, params).numpy()
    assert inverted.shape == params.shape
    np.testing.assert_allclose(likelihood.location(inverted), target, rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(likelihood.mean_image(inverted), np.clip(target, 0, 1),
                               rtol=1e-5, atol=2e-6)
    # Two-parameter likelihoods keep the raw scales they were given.
    np.testing.assert_array_equal(inverted[..., 3:], params[..., 3:])


@pytest.mark.parametrize("name", ["bernoulli", "discretized_logistic", "continuous_bernoulli"])
def test_params_from_location_clips_probabilities_away_from_zero_and_one(name):
    likelihood = distributions.get_likelihood(name)
    params = np.zeros((1, 1, 2, 2 * likelihood.params_per_channel), np.float32)
    target = np.array([[[[0.0, 1.0], [1.0, 0.0]]]], np.float32)
    inverted = likelihood.params_from_location(target, params).numpy()
    assert np.all(np.isfinite(inverted)), inverted
    np.testing.assert_allclose(likelihood.location(inverted), np.clip(target, 1e-6, 1 - 1e-6),
                               rtol=1e-6, atol=1e-6)
    if name != "continuous_bernoulli":
        # +-logit(1 - 1e-6), up to float32's rounding of 1 - 1e-6.
        logit = math.log((1 - 1e-6) / 1e-6)
        np.testing.assert_allclose(inverted[..., :2], [[[[-logit, logit], [logit, -logit]]]],
                                   rtol=2e-3)


def test_continuous_bernoulli_inverse_mean_and_its_gradient_match_root_finding():
    means = np.array([1e-5, 0.01, 0.2, 0.4, 0.499, 0.5, 0.5004, 0.6, 0.93, 0.9999])
    roots = np.array([scipy.optimize.brentq(lambda eta: _continuous_bernoulli_mean(eta) - m,
                                            -1e6, 1e6, xtol=1e-12) for m in means])
    likelihood = distributions.ContinuousBernoulli()
    target = tf.constant(means, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(target)
        logits = likelihood.params_from_location(target)
    np.testing.assert_allclose(logits, roots, rtol=1e-3, atol=2e-4)
    # d eta / d m = 1 / m'(eta), m' by central differences in float64.
    step = 1e-6 * np.maximum(1.0, np.abs(roots))
    slope = (_continuous_bernoulli_mean(roots + step)
             - _continuous_bernoulli_mean(roots - step)) / (2 * step)
    np.testing.assert_allclose(tape.gradient(logits, target), 1 / slope, rtol=1e-3)


def test_unknown_names_are_rejected_with_the_allowed_ones():
    with pytest.raises(ValueError, match="Unknown likelihood 'poisson'.*bernoulli"):
        distributions.get_likelihood("poisson")
    with pytest.raises(ValueError, match="Unknown prior 'flow'"):
        distributions.get_prior("flow", 3)
