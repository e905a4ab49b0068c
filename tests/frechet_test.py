"""zoo.metrics.frechet: zero on identical sets, closed forms, scipy sqrtm, singular covariances."""

import numpy as np
import pytest
from scipy import linalg

from zoo.metrics import frechet


def _random_spd(rng, dim, condition=1e3):
    basis, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    eigenvalues = np.geomspace(1.0, condition, dim) * rng.uniform(0.5, 2.0)
    return (basis * eigenvalues) @ basis.T


def _reference(mu1, sigma1, mu2, sigma2):
    """The textbook formula with a general matrix square root (scipy.linalg.sqrtm)."""
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2)
                 - 2.0 * np.trace(covmean).real)


def test_identical_feature_sets_are_at_distance_zero():
    features = np.random.default_rng(0).normal(size=(50, 7)) @ np.diag([1, 2, 3, 4, 5, 6, 7.0])
    assert frechet.frechet_distance_from_features(features, features) == pytest.approx(0.0,
                                                                                       abs=1e-9)
    mu, sigma = frechet.feature_statistics(features)
    assert frechet.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)
    # A permutation of the rows changes nothing.
    shuffled = features[np.random.default_rng(1).permutation(50)]
    assert frechet.frechet_distance_from_features(features, shuffled) == pytest.approx(0.0,
                                                                                       abs=1e-9)


def test_feature_statistics_are_mean_and_unbiased_covariance():
    features = np.random.default_rng(2).normal(size=(9, 4))
    mean, covariance = frechet.feature_statistics(features)
    np.testing.assert_allclose(mean, features.mean(axis=0))
    np.testing.assert_allclose(covariance, np.cov(features, rowvar=False), rtol=1e-12)
    assert covariance.shape == (4, 4) and mean.dtype == np.float64
    with pytest.raises(ValueError, match=r"N >= 2"):
        frechet.feature_statistics(features[:1])
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        frechet.feature_statistics(features[0])


def test_diagonal_covariances_match_the_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 3.0, -2.5])
    a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    # By hand: 1 + 4 + 0.25 + (1 - 3)^2 + (2 - 1)^2 + 0 = 10.25.
    assert expected == pytest.approx(10.25)
    assert frechet.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(10.25,
                                                                                      rel=1e-12)
    # Commuting but not diagonal: the same spectra in a common rotated basis.
    basis, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))
    sigma1, sigma2 = (basis * a) @ basis.T, (basis * b) @ basis.T
    assert frechet.frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(10.25, rel=1e-10)
    # One dimension: (mu1 - mu2)^2 + (s1 - s2)^2 for standard deviations s1, s2.
    assert frechet.frechet_distance([0.0], [[4.0]], [3.0], [[1.0]]) == pytest.approx(9.0 + 1.0)
    assert frechet.frechet_distance(0.0, 4.0, 3.0, 1.0) == pytest.approx(10.0)


def test_shifted_gaussians_with_equal_covariances_are_the_squared_shift_apart():
    rng = np.random.default_rng(7)
    sigma = _random_spd(rng, 6, condition=100.0)
    mu = rng.normal(size=6)
    shift = np.array([1.0, -2.0, 0.5, 0.0, 0.0, 3.0])
    # Tr(S + S - 2 (S S)^{1/2}) = 0: only ||shift||^2 = 1 + 4 + 0.25 + 9 = 14.25 remains.
    assert frechet.frechet_distance(mu, sigma, mu + shift, sigma) == pytest.approx(14.25,
                                                                                   rel=1e-9)


def test_statistics_of_gaussian_samples_recover_the_closed_form():
    rng = np.random.default_rng(3)
    factor = rng.normal(size=(4, 4))
    sigma = factor @ factor.T / 4
    shift = np.array([0.5, 0.0, -1.0, 0.25])
    a = rng.multivariate_normal(np.zeros(4), sigma, size=100_000)
    b = rng.multivariate_normal(shift, sigma, size=100_000)
    # ||shift||^2 = 0.25 + 1 + 0.0625 = 1.3125, up to sampling error.
    assert frechet.frechet_distance_from_features(a, b) == pytest.approx(1.3125, abs=0.05)
    # Different covariances, diagonal: the closed form sum (s1 - s2)^2 + ||shift||^2.
    c = rng.normal(size=(100_000, 2)) * [1.0, 3.0]
    d = rng.normal(size=(100_000, 2)) * [2.0, 1.0] + [1.0, 0.0]
    assert frechet.frechet_distance_from_features(c, d) == pytest.approx(1.0 + 1.0 + 4.0,
                                                                        abs=0.1)


def test_random_spd_matrices_agree_with_scipy_sqrtm():
    rng = np.random.default_rng(4)
    for dim in (2, 5, 16):
        mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
        sigma1, sigma2 = _random_spd(rng, dim), _random_spd(rng, dim, condition=50.0)
        value = frechet.frechet_distance(mu1, sigma1, mu2, sigma2)
        assert value == pytest.approx(_reference(mu1, sigma1, mu2, sigma2), rel=1e-8)
        # Symmetric in its two arguments.
        assert frechet.frechet_distance(mu2, sigma2, mu1, sigma1) == pytest.approx(value,
                                                                                   rel=1e-9)


def test_from_features_equals_the_formula_on_the_statistics():
    rng = np.random.default_rng(5)
    features1 = rng.normal(size=(40, 6))
    features2 = rng.normal(loc=0.5, size=(30, 6)) @ rng.normal(size=(6, 6))
    mu1, sigma1 = frechet.feature_statistics(features1)
    mu2, sigma2 = frechet.feature_statistics(features2)
    value = frechet.frechet_distance_from_features(features1, features2)
    assert value == pytest.approx(_reference(mu1, sigma1, mu2, sigma2), rel=1e-8)
    assert value > 1.0


def test_singular_covariances_give_finite_non_negative_distances():
    rng = np.random.default_rng(6)
    # Fewer samples than dimensions: rank 4 covariances in 12 dimensions.
    few1, few2 = rng.normal(size=(5, 12)), rng.normal(size=(5, 12))
    for pair in ((few1, few2), (few1, few1), (few1, few1 + 1.0)):
        value = frechet.frechet_distance_from_features(*pair)
        assert np.isfinite(value) and value >= 0.0
    assert frechet.frechet_distance_from_features(few1, few1) == pytest.approx(0.0, abs=1e-9)
    # A shift alone: ||shift||^2.
    assert frechet.frechet_distance_from_features(few1, few1 + 1.0) == pytest.approx(12.0,
                                                                                     rel=1e-9)
    # Exactly singular PSD matrices (a zero and a constant feature) and the
    # all-zero covariance.
    low_rank = rng.normal(size=(6, 2))
    sigma = low_rank @ low_rank.T
    zero = np.zeros((6, 6))
    mean = np.zeros(6)
    for sigma1, sigma2 in ((sigma, sigma), (sigma, zero), (zero, zero), (sigma, np.eye(6))):
        value = frechet.frechet_distance(mean, sigma1, mean, sigma2)
        assert np.isfinite(value) and value >= 0.0
    assert frechet.frechet_distance(mean, sigma, mean, zero) == pytest.approx(np.trace(sigma))
    assert frechet.frechet_distance(mean, sigma, mean, sigma) == pytest.approx(0.0, abs=1e-9)
    # Round-off that makes a PSD matrix slightly indefinite does not break it.
    noisy = sigma + 1e-13 * rng.normal(size=(6, 6))
    value = frechet.frechet_distance(mean, noisy, mean, sigma)
    assert np.isfinite(value) and value == pytest.approx(0.0, abs=1e-5)


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError, match=r"one D"):
        frechet.frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match=r"square"):
        frechet.frechet_distance(np.zeros(3), np.ones((3, 2)), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match=r"one D"):
        frechet.frechet_distance_from_features(np.zeros((4, 3)), np.zeros((4, 5)))
