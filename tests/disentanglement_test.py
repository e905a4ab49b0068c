"""MIG, DCI, factor correlations and their assembly (`zoo.metrics.disentanglement`)."""

import math

import numpy as np
import pytest
import tensorflow as tf
from sklearn import linear_model
from sklearn import metrics as sk_metrics

from zoo.metrics import disentanglement

__all__ = []

N = 3000


def _factors(rows=N, columns=3, seed=0):
    return np.random.default_rng(seed).uniform(size=(rows, columns))


def _rotation(angle):
    return np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])


def test_latents_equal_to_the_factors_score_near_one():
    rng = np.random.default_rng(1)
    factors = _factors()
    latents = np.concatenate([factors + rng.normal(scale=0.002, size=factors.shape),
                              rng.normal(size=(N, 2))], axis=1)
    scores = disentanglement.mutual_information_gap(latents, factors)
    assert scores["mig"] > 0.85, scores["per_factor"]
    assert scores["per_factor"].shape == (3,)
    assert scores["mutual_information"].shape == (5, 3)
    np.testing.assert_array_equal(scores["best_latent"], [0, 1, 2])


def test_rotated_latents_score_clearly_lower_and_noise_near_zero():
    factors = _factors()
    clean = disentanglement.mutual_information_gap(factors, factors)["mig"]
    mixed = np.concatenate([factors[:, :2] @ _rotation(math.pi / 4), factors[:, 2:]], axis=1)
    entangled = disentanglement.mutual_information_gap(mixed, factors)
    assert entangled["mig"] < clean - 0.3, (clean, entangled["mig"])
    assert np.all(entangled["per_factor"][:2] < 0.2) and entangled["per_factor"][2] > 0.9
    noise = np.random.default_rng(2).normal(size=(N, 4))
    assert disentanglement.mutual_information_gap(noise, factors)["mig"] < 0.03


def test_the_numbers_follow_the_disentanglement_lib_recipe():
    """A numpy/sklearn oracle of mig.py's steps, on discrete factors."""
    rng = np.random.default_rng(3)
    factors = rng.integers(0, 5, size=(500, 2)).astype(float)
    latents = factors @ rng.normal(size=(2, 3)) + rng.normal(scale=0.5, size=(500, 3))
    codes = np.stack([np.digitize(z, np.histogram(z, 20)[1][:-1]) for z in latents.T], 1)
    information = np.array([[sk_metrics.mutual_info_score(v, z) for v in factors.T]
                            for z in codes.T])
    entropy = np.array([sk_metrics.mutual_info_score(v, v) for v in factors.T])
    top = np.sort(information, axis=0)[::-1]
    scores = disentanglement.mutual_information_gap(latents, factors)
    np.testing.assert_allclose(scores["mutual_information"], information)
    np.testing.assert_allclose(scores["entropy"], entropy)
    assert scores["mig"] == pytest.approx(np.mean((top[0] - top[1]) / entropy))
    assert scores["entropy"] == pytest.approx([math.log(5)] * 2, abs=0.02)  # nats


def test_factors_with_few_values_are_kept_and_continuous_ones_binned():
    rng = np.random.default_rng(4)
    few = rng.choice([0.1, 0.15, 0.9, 3.0], size=200)  # Equal-width bins would merge two.
    continuous = rng.uniform(size=200)
    codes = disentanglement.discretize_factors(np.stack([few, continuous], 1))
    np.testing.assert_array_equal(codes[:, 0], np.searchsorted([0.1, 0.15, 0.9, 3.0], few))
    np.testing.assert_array_equal(codes[:, 1],
                                  disentanglement.histogram_discretize(continuous)[:, 0])
    assert len(np.unique(codes[:, 1])) == 20 and codes[:, 1].min() == 1


def test_a_constant_factor_is_reported_as_nan_and_left_out():
    factors = np.concatenate([_factors(columns=1), np.ones((N, 1))], axis=1)
    latents = np.concatenate([factors[:, :1], np.random.default_rng(5).normal(size=(N, 1))], 1)
    scores = disentanglement.mutual_information_gap(latents, factors)
    assert np.isnan(scores["per_factor"][1])
    assert scores["mig"] == scores["per_factor"][0]
    with pytest.raises(ValueError, match="Every factor is constant"):
        disentanglement.mutual_information_gap(latents, np.ones((N, 2)))


def test_factor_correlations_match_numpy_corrcoef():
    rng = np.random.default_rng(6)
    latents, factors = rng.normal(size=(50, 4)), rng.normal(size=(50, 3))
    factors[:, 1] = -2 * latents[:, 0] + 1
    matrix = disentanglement.factor_correlations(latents, factors)
    oracle = np.abs(np.corrcoef(latents.T, factors.T)[:4, 4:])
    np.testing.assert_allclose(matrix, oracle, rtol=1e-12, atol=1e-12)
    assert matrix[0, 1] == pytest.approx(1.0)
    latents[:, 2] = 3.0
    assert np.all(disentanglement.factor_correlations(latents, factors)[2] == 0)


def test_multiple_correlation_of_a_group():
    rng = np.random.default_rng(8)
    latents = rng.normal(size=(200, 2))
    factor = 0.3 * latents[:, 0] - 2 * latents[:, 1]
    assert disentanglement.multiple_correlation(latents, factor) == pytest.approx(1.0)
    noisy = factor + rng.normal(size=200)
    r_squared = linear_model.LinearRegression().fit(latents, noisy).score(latents, noisy)
    assert disentanglement.multiple_correlation(latents, noisy) == pytest.approx(
        math.sqrt(r_squared), rel=1e-6)
    assert disentanglement.multiple_correlation(latents[:, :1], factor) == pytest.approx(
        abs(np.corrcoef(latents[:, 0], factor)[0, 1]), rel=1e-6)
    assert disentanglement.multiple_correlation(latents, np.ones(200)) == 0.0
    with pytest.raises(ValueError, match="one factor"):
        disentanglement.multiple_correlation(latents, latents)


@pytest.mark.parametrize("importance", ["gradient_boosting", "lasso"])
def test_dci_is_high_for_aligned_latents_and_lower_for_rotated_ones(importance):
    factors = _factors(rows=600, columns=3, seed=7)
    aligned = disentanglement.dci_disentanglement(factors, factors, importance)
    assert aligned["disentanglement"] > 0.9 and aligned["completeness"] > 0.9, aligned
    assert aligned["importance"].shape == (3, 3)
    mixed = np.concatenate([factors[:, :2] @ _rotation(math.pi / 4), factors[:, 2:]], axis=1)
    rotated = disentanglement.dci_disentanglement(mixed, factors, importance)
    assert rotated["disentanglement"] < aligned["disentanglement"] - 0.2, rotated
    assert rotated["completeness"] < aligned["completeness"] - 0.2, rotated


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="one row per example"):
        disentanglement.mutual_information_gap(np.zeros((5, 2)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="at least 2 latents"):
        disentanglement.mutual_information_gap(np.zeros((5, 1)), _factors(5, 1))
    with pytest.raises(ValueError, match="finite"):
        disentanglement.factor_correlations(np.full((5, 2), np.nan), np.zeros((5, 1)))
    with pytest.raises(ValueError, match=r"\[N, dims\]"):
        disentanglement.factor_correlations(np.zeros((2, 2, 2)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="Unknown importance 'forest'"):
        disentanglement.dci_disentanglement(np.zeros((5, 2)), np.zeros((5, 2)), "forest")
    with pytest.raises(ValueError, match="at least 2 latents and 2 factors"):
        disentanglement.dci_disentanglement(np.zeros((5, 2)), np.zeros((5, 1)))


class _Encoder:
    """A stand-in model whose posterior mean is the batch's factors, doubled, and a zero."""

    def encode(self, batch):
        factors = tf.cast(batch["factors"], tf.float32)
        return (tf.concat([2.0 * factors, tf.zeros_like(factors[:, :1])], axis=1),)


def _batches(factors, size):
    images = np.broadcast_to(np.arange(len(factors), dtype=np.float32)[:, None, None, None],
                             (len(factors), 4, 4, 1))
    return tf.data.Dataset.from_tensor_slices({"image": images, "factors": factors}).batch(size)


def test_encode_held_out_stops_at_max_examples_and_keeps_the_first_images():
    factors = _factors(rows=50, columns=2, seed=4)
    latents, kept, images = disentanglement.encode_held_out(_Encoder(), _batches(factors, 16),
                                                            max_examples=40)
    assert latents.shape == (40, 3) and kept.shape == (40, 2)
    np.testing.assert_array_equal(kept, factors[:40])
    np.testing.assert_allclose(latents[:, :2], 2.0 * factors[:40])
    np.testing.assert_array_equal(images[:, 0, 0, 0], np.arange(8))  # The first batch's 8.
    with pytest.raises(ValueError, match="held-out dataset is empty"):
        disentanglement.encode_held_out(_Encoder(), _batches(factors[:0], 16))


def test_evaluate_disentanglement_gathers_the_scores_of_named_groups():
    rng = np.random.default_rng(5)
    factors = _factors(rows=800, columns=3, seed=6)
    # Latent 0 is factor "a", latents 1-2 hold "b" split in two, latent 3 is noise.
    latents = np.stack([factors[:, 0], factors[:, 1] + 0.3 * factors[:, 2],
                        factors[:, 1] - 0.3 * factors[:, 2], rng.normal(size=800)], axis=1)
    groups = {"a": slice(0, 1), "b": slice(1, 3)}
    results = disentanglement.evaluate_disentanglement(latents, factors, ["a", "b", "c"],
                                                       ["a", "b"], groups, seed=0)
    assert results["num_held_out"] == 800 and results["named_factors"] == ["a", "b"]
    assert results["factor_correlations"]["a"] == pytest.approx(1.0)
    assert results["factor_correlations"]["b"] == pytest.approx(1.0)  # R of the pair.
    assert results["best_latent_correlations"]["a"] == pytest.approx(1.0)
    assert results["best_latent_correlations"]["b"] < 0.99
    named = disentanglement.mutual_information_gap(latents, factors[:, :2])
    assert results["mig"] == pytest.approx(named["mig"])
    assert set(results["mig_per_factor_all_factors"]) == {"a", "b", "c"}
    dci = disentanglement.dci_disentanglement(latents, factors, seed=0)
    assert results["dci_completeness_all_factors"] == pytest.approx(dci["completeness"])
    plain = disentanglement.evaluate_disentanglement(latents, factors, ["a", "b", "c"], ["a"])
    assert "factor_correlations" not in plain and "dci_disentanglement" not in plain
    assert "dci_disentanglement_all_factors" in plain
