"""zoo.losses.adversarial: hand values, D*, 2 JSD - log 4 on Gaussians, saturation, registry."""

import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import optimize
from scipy import spatial
from scipy import stats

from zoo.losses import adversarial


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-np.asarray(v, np.float64)))


# ------------------------------------------------------------------ hand values


def test_losses_at_zero_logits_are_log_two():
    zeros = tf.zeros([3])
    # D = 1/2: J_D = -log(1/2) - log(1/2) = 2 log 2.
    np.testing.assert_allclose(adversarial.discriminator_loss(zeros, zeros), [2 * math.log(2)] * 3,
                               rtol=1e-6)
    np.testing.assert_allclose(adversarial.minimax_generator_loss(zeros), [-math.log(2)] * 3,
                               rtol=1e-6)
    np.testing.assert_allclose(adversarial.non_saturating_generator_loss(zeros),
                               [math.log(2)] * 3, rtol=1e-6)


def test_losses_match_hand_computed_numbers():
    real = np.array([-3.0, 0.5, 4.0], np.float64)
    fake = np.array([2.0, -1.5, -6.0], np.float64)
    # By hand: log(1 + e^3) = 3.0485873515737, log(1 + e^-0.5) = 0.4740769841801,
    # log(1 + e^-4) = 0.0181499279178; log(1 + e^2) = 2.1269280110429,
    # log(1 + e^-1.5) = 0.2014132779827, log(1 + e^-6) = 0.0024756851377.
    expected_d = [3.0485873515737 + 2.1269280110429,
                  0.4740769841801 + 0.2014132779827,
                  0.0181499279178 + 0.0024756851377]
    np.testing.assert_allclose(adversarial.discriminator_loss(real, fake), expected_d, rtol=1e-10)
    # log(1 - D) = -log(1 + e^v); -log D = log(1 + e^-v): log(1 + e^-2) = 0.1269280110429,
    # log(1 + e^1.5) = 1.7014132779827, log(1 + e^6) = 6.0024756851377.
    np.testing.assert_allclose(adversarial.minimax_generator_loss(fake),
                               [-2.1269280110429, -0.2014132779827, -0.0024756851377],
                               rtol=1e-10)
    np.testing.assert_allclose(adversarial.non_saturating_generator_loss(fake),
                               [0.1269280110429, 1.7014132779827, 6.0024756851377], rtol=1e-10)
    # And the definitions through D = sigmoid(v).
    d_real, d_fake = _sigmoid(real), _sigmoid(fake)
    np.testing.assert_allclose(adversarial.discriminator_loss(real, fake),
                               -np.log(d_real) - np.log(1 - d_fake), rtol=1e-12)


def test_losses_are_finite_for_extreme_logits_and_keep_dtype_and_shape():
    big = tf.constant([-1e4, -100.0, 100.0, 1e4], tf.float32)
    loss = adversarial.discriminator_loss(big, -big)
    assert loss.dtype == tf.float32 and loss.shape == [4]
    np.testing.assert_allclose(loss, [2e4, 200.0, 0.0, 0.0], atol=1e-6)
    for fn in (adversarial.minimax_generator_loss, adversarial.non_saturating_generator_loss):
        assert np.all(np.isfinite(fn(big)))
    # [B, 1] stays [B, 1]; a zero-sized batch works; tf.function works.
    assert adversarial.discriminator_loss(tf.zeros([5, 1]), tf.zeros([5, 1])).shape == [5, 1]
    assert adversarial.discriminator_loss(tf.zeros([0]), tf.zeros([0])).shape == [0]
    compiled = tf.function(adversarial.discriminator_loss)
    np.testing.assert_allclose(compiled(tf.ones([3], tf.float64), -tf.ones([3], tf.float64)),
                               adversarial.discriminator_loss(np.ones(3), -np.ones(3)))


def test_mismatched_shapes_do_not_broadcast():
    with pytest.raises(ValueError, match=r"same shape"):
        adversarial.discriminator_loss(tf.zeros([3]), tf.zeros([3, 1]))


def test_per_example_losses_reduce_with_compute_average_loss():
    real = tf.constant([0.2, -1.0, 3.0, 0.0, 1.0, -2.0])
    fake = tf.constant([1.0, 0.0, -4.0, 2.0, -1.0, 0.5])
    per_example = adversarial.discriminator_loss(real, fake)
    average = tf.nn.compute_average_loss(per_example, global_batch_size=6)
    np.testing.assert_allclose(average, np.mean(per_example), rtol=1e-6)


# ------------------------------------------------------- D* and 2 JSD - log 4


def _two_gaussians():
    """p_data = N(0, 1), p_model = N(1.5, 0.7^2) on a grid wide enough for both."""
    x, dx = np.linspace(-12.0, 12.0, 24001, retstep=True)
    return x, dx, stats.norm(0.0, 1.0), stats.norm(1.5, 0.7)


def _pointwise_value(p, q, d):
    """p log D + q log(1 - D): the integrand of V(D, G) (the lecture's a log y + b log(1 - y))."""
    return p * np.log(d) + q * np.log1p(-d)


def test_optimal_discriminator_maximises_the_pointwise_objective():
    _, _, data, model = _two_gaussians()
    x = np.linspace(-4.0, 5.0, 61)  # Where both densities matter (0 < D* < 1 in float64).
    p, q = data.pdf(x), model.pdf(x)
    best = adversarial.optimal_discriminator(p, q)
    assert np.all((best > 0) & (best < 1))
    # Any other discriminator, a shifted logit, is no better at any x.
    logit = np.log(p) - np.log(q)
    for shift in (-2.0, -0.3, -1e-3, 1e-3, 0.3, 2.0):
        other = _sigmoid(logit + shift)
        assert np.all(_pointwise_value(p, q, best) >= _pointwise_value(p, q, other) - 1e-15)
    # A numerical maximiser agrees, at a few points with non-negligible density.
    for i in range(20, 45, 4):
        result = optimize.minimize_scalar(lambda y, i=i: -_pointwise_value(p[i], q[i], y),
                                          bounds=(1e-12, 1 - 1e-12), method="bounded",
                                          options={"xatol": 1e-10})
        assert result.x == pytest.approx(best[i], abs=1e-6)
    # Its logit is log p_data - log p_model.
    np.testing.assert_allclose(best, _sigmoid(logit), rtol=1e-12)


def test_optimal_discriminator_is_one_half_where_both_densities_vanish():
    np.testing.assert_allclose(adversarial.optimal_discriminator([0.0, 1.0, 0.0], [0.0, 3.0, 2.0]),
                               [0.5, 0.25, 0.0])


def test_value_at_optimal_discriminator_is_twice_jsd_minus_log_four():
    x, dx, data, model = _two_gaussians()
    p, q = data.pdf(x), model.pdf(x)
    assert np.sum(p) * dx == pytest.approx(1.0, abs=1e-9)
    assert np.sum(q) * dx == pytest.approx(1.0, abs=1e-9)
    best = adversarial.optimal_discriminator(p, q)
    # V(D*, G) = integral p log D* + q log(1 - D*). In the tails D* rounds to
    # 0 or 1, so take the logs from the log densities:
    # log D* = log p - log(p + q), log(1 - D*) = log q - log(p + q).
    log_p, log_q = data.logpdf(x), model.logpdf(x)
    log_total = np.logaddexp(log_p, log_q)
    value = np.sum(p * (log_p - log_total) + q * (log_q - log_total)) * dx
    np.testing.assert_allclose(best, np.exp(log_p - log_total), rtol=1e-12)
    # JSD computed independently: scipy's Jensen-Shannon distance (natural log) squared.
    jsd = spatial.distance.jensenshannon(p * dx, q * dx) ** 2
    assert 0.05 < jsd < math.log(2)
    assert value == pytest.approx(2 * jsd - math.log(4), abs=1e-8)
    assert adversarial.jensen_shannon(p, q, dx=dx) == pytest.approx(jsd, rel=1e-8)
    # The same value through the losses at the optimal logit v* = log p - log q:
    # log D* = -non_saturating_generator_loss(v*), log(1 - D*) = minimax_generator_loss(v*).
    logit = tf.constant(log_p - log_q)
    log_d = -adversarial.non_saturating_generator_loss(logit).numpy()
    log_one_minus_d = adversarial.minimax_generator_loss(logit).numpy()
    assert np.sum(p * log_d + q * log_one_minus_d) * dx == pytest.approx(
        2 * jsd - math.log(4), abs=1e-8)
    # Any other discriminator (a shifted logit) gives a smaller value.
    for shift in (-0.5, 0.5):
        log_d = -adversarial.non_saturating_generator_loss(logit + shift).numpy()
        log_one_minus_d = adversarial.minimax_generator_loss(logit + shift).numpy()
        assert np.sum(p * log_d + q * log_one_minus_d) * dx < value - 1e-3


def test_jensen_shannon_hand_values():
    assert adversarial.jensen_shannon([0.5, 0.5], [0.5, 0.5]) == pytest.approx(0.0)
    assert adversarial.jensen_shannon([1.0, 0.0], [0.0, 1.0]) == pytest.approx(math.log(2))
    # p = (1, 0), q = (1/2, 1/2): m = (3/4, 1/4);
    # JSD = 1/2 log(4/3) + 1/2 (1/2 log(2/3) + 1/2 log 2).
    expected = 0.5 * math.log(4 / 3) + 0.25 * math.log(2 / 3) + 0.25 * math.log(2)
    assert adversarial.jensen_shannon([1.0, 0.0], [0.5, 0.5]) == pytest.approx(expected)


# ------------------------------------------------------------------ saturation


def test_minimax_generator_loss_saturates_where_samples_are_rejected():
    fake = tf.constant([-12.0, -9.0, -6.0])  # D(G(z)) ~ 6e-6 .. 2.5e-3.
    gradients = {}
    for name in ("minimax", "non_saturating"):
        with tf.GradientTape() as tape:
            tape.watch(fake)
            loss = tf.reduce_sum(adversarial.get_generator_loss(name)(fake))
        gradients[name] = tape.gradient(loss, fake).numpy()
    # d/dv log(1 - sigmoid(v)) = -sigmoid(v); d/dv -log sigmoid(v) = -sigmoid(-v).
    np.testing.assert_allclose(gradients["minimax"], -_sigmoid(fake.numpy()), rtol=1e-5)
    np.testing.assert_allclose(gradients["non_saturating"], -_sigmoid(-fake.numpy()), rtol=1e-5)
    ratio = np.abs(gradients["minimax"]) / np.abs(gradients["non_saturating"])
    assert np.all(ratio < 3e-3)  # Orders of magnitude smaller.
    assert np.all(np.abs(gradients["non_saturating"]) > 0.99)
    # Where D(G(z)) ~ 1 it is the other way round.
    with tf.GradientTape(persistent=True) as tape:
        good = tf.constant([8.0])
        tape.watch(good)
        minimax = adversarial.minimax_generator_loss(good)
        non_saturating = adversarial.non_saturating_generator_loss(good)
    assert abs(float(tape.gradient(minimax, good)[0])) > 100 * abs(
        float(tape.gradient(non_saturating, good)[0]))


# -------------------------------------------------------------------- registry


def test_registry_selects_generator_losses_by_name():
    assert adversarial.GENERATOR_LOSSES == ("minimax", "non_saturating")
    assert adversarial.get_generator_loss("minimax") is adversarial.minimax_generator_loss
    assert (adversarial.get_generator_loss("non_saturating")
            is adversarial.non_saturating_generator_loss)
    with pytest.raises(ValueError, match=r"'wasserstein'.*'minimax', 'non_saturating'"):
        adversarial.get_generator_loss("wasserstein")
    with pytest.raises(ValueError, match=r"Unknown generator loss"):
        adversarial.get_generator_loss(None)
