"""zoo.losses.f_divergences: conjugates against their definition, activations, the tight bound."""

import dataclasses
import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import optimize
from scipy import spatial
from scipy import special

from zoo.losses import adversarial
from zoo.losses import f_divergences

_PI = 0.3  # The weight used for the weighted Jensen-Shannon divergence below.


def _divergence(name):
    if name == "weighted_jensen_shannon":
        return f_divergences.get(name, pi=_PI)
    return f_divergences.get(name)


def _xlogx(u):
    return special.xlogy(u, u)


# The lecture's table (Nowozin et al. 2016, Table 1), written out independently in NumPy.
_TABLE_F = {
    "total_variation": lambda u: 0.5 * np.abs(u - 1),
    "kl": lambda u: u * np.log(u),
    "reverse_kl": lambda u: -np.log(u),
    "pearson": lambda u: (u - 1) ** 2,
    "neyman": lambda u: (1 - u) ** 2 / u,
    "squared_hellinger": lambda u: (np.sqrt(u) - 1) ** 2,
    "jeffrey": lambda u: (u - 1) * np.log(u),
    "jensen_shannon": lambda u: -(u + 1) * np.log((1 + u) / 2) + u * np.log(u),
    "weighted_jensen_shannon": lambda u: (_PI * _xlogx(u)
                                          - _xlogx(1 - _PI + _PI * u)),
    "gan": lambda u: u * np.log(u) - (u + 1) * np.log(u + 1),
}

# dom f* as (low, high, closed), independently of the module.
_DOMAINS = {
    "total_variation": (-0.5, 0.5, True),
    "kl": (-np.inf, np.inf, False),
    "reverse_kl": (-np.inf, 0.0, False),
    "pearson": (-np.inf, np.inf, False),
    "neyman": (-np.inf, 1.0, True),
    "squared_hellinger": (-np.inf, 1.0, False),
    "jeffrey": (-np.inf, np.inf, False),
    "jensen_shannon": (-np.inf, math.log(2), False),
    "weighted_jensen_shannon": (-np.inf, -_PI * math.log(_PI), False),
    "gan": (-np.inf, 0.0, False),
}

# Points t inside dom f* where the supremum over u > 0 is attained.
_CONJUGATE_POINTS = {
    "total_variation": [-0.45, -0.2, 0.0, 0.25, 0.49],
    "kl": [-3.0, -0.5, 0.0, 1.0, 2.5],
    "reverse_kl": [-5.0, -1.0, -0.2],
    "pearson": [-1.5, -0.5, 0.0, 1.0, 4.0],
    "neyman": [-8.0, -1.0, 0.0, 0.5, 0.9],
    "squared_hellinger": [-5.0, -1.0, 0.0, 0.5, 0.9],
    "jeffrey": [-20.0, -3.0, 0.0, 1.0, 4.0],
    "jensen_shannon": [-3.0, -0.5, 0.0, 0.5, 0.69],
    "weighted_jensen_shannon": [-3.0, -0.5, 0.0, 0.2, 0.35],
    "gan": [-5.0, -1.0, -0.1],
}


def _table_divergence(name, p, q):
    """D_f of two discrete distributions from the table's D_f column.

    Two corrections, each checked against integral q f(p / q) in the test:
    the table's Jensen-Shannon D_f has a factor 1/2 its f does not have, and
    its Pearson and Neyman integrals are each other's.
    """
    m = 0.5 * (p + q)
    if name == "total_variation":
        return 0.5 * np.sum(np.abs(p - q))
    if name == "kl":
        return np.sum(p * np.log(p / q))
    if name == "reverse_kl":
        return np.sum(q * np.log(q / p))
    if name == "pearson":
        return np.sum((p - q) ** 2 / q)  # Table: (q - p)^2 / p.
    if name == "neyman":
        return np.sum((q - p) ** 2 / p)  # Table: (p - q)^2 / q.
    if name == "squared_hellinger":
        return np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)
    if name == "jeffrey":
        return np.sum((p - q) * np.log(p / q))
    if name == "jensen_shannon":  # Table: 1/2 of this.
        return np.sum(p * np.log(p / m) + q * np.log(q / m))
    if name == "weighted_jensen_shannon":
        mixture = _PI * p + (1 - _PI) * q
        return np.sum(_PI * p * np.log(p / mixture) + (1 - _PI) * q * np.log(q / mixture))
    if name == "gan":
        return np.sum(p * np.log(p / m) + q * np.log(q / m)) - math.log(4)
    raise AssertionError(name)


def _numerical_conjugate(f, t):
    """sup_{u > 0} (u t - f(u)) by a grid over log u, then a bounded scalar search."""
    grid = np.linspace(-30.0, 30.0, 6001)
    with np.errstate(all="ignore"):
        values = np.exp(grid) * t - f(np.exp(grid))
    best = int(np.nanargmax(values))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    result = optimize.minimize_scalar(lambda x: -(np.exp(x) * t - f(np.exp(x))),
                                      bounds=(low, high), method="bounded",
                                      options={"xatol": 1e-12})
    return max(-result.fun, values[best])


def _discrete_pair():
    rng = np.random.default_rng(7)
    p = rng.dirichlet(np.ones(6))
    q = rng.dirichlet(np.ones(6))
    return p, q


def _derivative_of_f(divergence, u):
    u = tf.constant(u, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(u)
        value = divergence.f(u)
    return tape.gradient(value, u).numpy()


# ------------------------------------------------------------------ registry


def test_names_follow_the_table_and_build_every_divergence():
    assert f_divergences.NAMES == tuple(_TABLE_F)
    for name in f_divergences.NAMES:
        divergence = f_divergences.get(name)
        assert isinstance(divergence, f_divergences.FDivergence)
        assert divergence.name == name
        assert f_divergences.get(name, **divergence.get_config()) == divergence


def test_bad_names_and_arguments_raise_value_error():
    with pytest.raises(ValueError, match=r"'wasserstein'.*'total_variation', 'kl'.*'gan'"):
        f_divergences.get("wasserstein")
    with pytest.raises(ValueError, match=r"Unknown f-divergence"):
        f_divergences.get(None)
    with pytest.raises(ValueError, match=r"generator_update"):
        f_divergences.get("kl", generator_update="non_saturating")
    with pytest.raises(ValueError, match=r"pi"):
        f_divergences.get("weighted_jensen_shannon", pi=1.0)
    with pytest.raises(ValueError, match=r"unknown \['pi'\]"):
        f_divergences.get("kl", pi=0.5)


def test_divergences_are_frozen_and_configurable():
    divergence = f_divergences.get("weighted_jensen_shannon", pi=0.2,
                                   generator_update="alternative")
    assert divergence.get_config() == {"generator_update": "alternative", "pi": 0.2}
    with pytest.raises(dataclasses.FrozenInstanceError):
        divergence.pi = 0.4


# ----------------------------------------------------------------- f and f*


@pytest.mark.parametrize("name", list(_TABLE_F))
def test_f_is_the_table_f_and_vanishes_at_one_but_for_gan(name):
    divergence = _divergence(name)
    u = np.array([0.05, 0.3, 1.0, 2.0, 7.5])
    np.testing.assert_allclose(divergence.f(tf.constant(u)), _TABLE_F[name](u),
                               rtol=1e-12, atol=1e-15)
    # The GAN f is shifted: f(1) = -log 4, whence the -log 4 in its D_f.
    at_one = -math.log(4) if name == "gan" else 0.0
    assert float(divergence.f(tf.constant(1.0, tf.float64))) == pytest.approx(at_one, abs=1e-15)


@pytest.mark.parametrize("name", list(_TABLE_F))
def test_conjugate_is_the_supremum_of_its_definition(name):
    divergence = _divergence(name)
    points = _CONJUGATE_POINTS[name]
    closed_form = divergence.conjugate(tf.constant(points, tf.float64)).numpy()
    numerical = [_numerical_conjugate(_TABLE_F[name], t) for t in points]
    np.testing.assert_allclose(closed_form, numerical, rtol=1e-7, atol=1e-8)


def test_conjugate_is_infinite_outside_its_domain_with_finite_gradients():
    outside = {"total_variation": 0.6, "reverse_kl": 0.1, "neyman": 1.5,
               "squared_hellinger": 1.0, "jensen_shannon": math.log(2),
               "weighted_jensen_shannon": 0.37, "gan": 0.0}
    for name, t in outside.items():
        t = tf.constant([t, -0.3], tf.float64)
        with tf.GradientTape() as tape:
            tape.watch(t)
            value = _divergence(name).conjugate(t)
        assert value.numpy()[0] == np.inf and np.isfinite(value.numpy()[1]), name
        gradient = tape.gradient(value, t, output_gradients=tf.constant([0.0, 1.0], tf.float64))
        assert np.all(np.isfinite(gradient.numpy())), name
    assert np.isnan(_divergence("kl").conjugate(tf.constant(np.nan)).numpy())


# --------------------------------------------------------------- activations


@pytest.mark.parametrize("name", list(_TABLE_F))
def test_activation_maps_into_the_domain_of_the_conjugate(name):
    divergence = _divergence(name)
    low, high, closed = _DOMAINS[name]
    assert divergence.domain == pytest.approx((low, high))
    # Strictly inside where float64 can resolve it.
    v = tf.constant(np.linspace(-15.0, 15.0, 301), tf.float64)
    t = divergence.activation(v).numpy()
    inside = (t >= low) & (t <= high) if closed else (t > low) & (t < high)
    assert np.all(inside)
    assert np.all(divergence.in_domain(t).numpy())
    composed = divergence.conjugate(t).numpy()
    assert np.all(np.isfinite(composed))
    np.testing.assert_allclose(divergence.conjugate_of_activation(v), composed,
                               rtol=1e-9, atol=1e-12)
    # Over a wide range in float32 the activation stays in the closed domain
    # (up to float32 rounding of its bounds) and f*(g_f(v)), the losses and
    # their gradients stay finite.
    v = tf.constant(np.linspace(-80.0, 80.0, 321), tf.float32)
    t = divergence.activation(v).numpy()
    assert np.all((t >= low) & (t <= np.float32(high)))
    for update in f_divergences.GENERATOR_UPDATES:
        divergence = dataclasses.replace(divergence, generator_update=update)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(v)
            d_loss = divergence.discriminator_loss(v, v)
            g_loss = divergence.generator_loss(v)
        for tensor in (divergence.conjugate_of_activation(v), d_loss, g_loss,
                       tape.gradient(d_loss, v), tape.gradient(g_loss, v)):
            assert np.all(np.isfinite(tensor.numpy())), update


# ---------------------------------------------------- the variational bound


@pytest.mark.parametrize("name", list(_TABLE_F))
def test_variational_bound_at_optimal_t_is_the_divergence(name):
    divergence = _divergence(name)
    p, q = _discrete_pair()
    expected = _table_divergence(name, p, q)
    # The table's f defines the same D_f = sum q f(p / q).
    assert np.sum(q * _TABLE_F[name](p / q)) == pytest.approx(expected, rel=1e-10)
    # E_P[T] - E_Q[f*(T)] at T* = f'(p / q) (Nowozin et al. 2016, Sec. 2.2).
    optimal = _derivative_of_f(divergence, p / q)
    bound = np.sum(p * optimal) - np.sum(q * divergence.conjugate(optimal).numpy())
    assert bound == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # Any other T bounds it strictly from below.
    worse = np.sum(p * 0.9 * optimal) - np.sum(q * divergence.conjugate(0.9 * optimal).numpy())
    assert worse < expected - 1e-6
    # Through the activation: the raw output v* with g_f(v*) = T*.
    if name == "total_variation":
        v_star = 40.0 * np.sign(optimal)  # tanh(40) / 2 is 1/2 in float64.
    else:
        v_star = np.array([optimize.brentq(
            lambda v, t=t: float(divergence.activation(tf.constant(v, tf.float64))) - t,
            -700.0, 700.0, xtol=1e-14) for t in optimal])
    v_star = tf.constant(v_star, tf.float64)
    bound = (np.sum(p * divergence.activation(v_star).numpy())
             - np.sum(q * divergence.conjugate_of_activation(v_star).numpy()))
    assert bound == pytest.approx(expected, rel=1e-8, abs=1e-12)


def test_jensen_shannon_divergences_agree_with_scipy():
    p, q = _discrete_pair()
    jsd = spatial.distance.jensenshannon(p, q) ** 2
    assert _table_divergence("jensen_shannon", p, q) == pytest.approx(2 * jsd, rel=1e-10)
    assert _table_divergence("gan", p, q) == pytest.approx(2 * jsd - math.log(4), rel=1e-10)


# -------------------------------------------------------------------- losses


@pytest.mark.parametrize("name", list(_TABLE_F))
def test_losses_are_the_negated_saddle_objective(name):
    real = tf.constant([-1.5, -0.2, 0.0, 0.7, 2.0], tf.float64)
    fake = tf.constant([0.3, -2.0, 1.1, 0.0, -0.6], tf.float64)
    divergence = _divergence(name)
    t_real, t_fake = divergence.activation(real), divergence.activation(fake)
    np.testing.assert_allclose(divergence.discriminator_loss(real, fake),
                               -(t_real - divergence.conjugate(t_fake)), rtol=1e-10, atol=1e-12)
    assert divergence.generator_update == "saddle"
    np.testing.assert_allclose(divergence.generator_loss(fake), -divergence.conjugate(t_fake),
                               rtol=1e-10, atol=1e-12)
    alternative = dataclasses.replace(divergence, generator_update="alternative")
    np.testing.assert_allclose(alternative.generator_loss(fake), -t_fake, rtol=1e-12)
    compiled = tf.function(divergence.discriminator_loss)
    np.testing.assert_allclose(compiled(real, fake), divergence.discriminator_loss(real, fake))
    with pytest.raises(ValueError, match=r"same shape"):
        divergence.discriminator_loss(tf.zeros([3]), tf.zeros([3, 1]))


def test_kl_losses_match_hand_values():
    kl = f_divergences.get("kl")
    # -(v_real - exp(v_fake - 1)): -(0.5 - e^-1) and -(-1 - e^1).
    np.testing.assert_allclose(kl.discriminator_loss([0.5, -1.0], [0.0, 2.0]),
                               [-0.5 + 0.36787944117144233, 1.0 + 2.718281828459045],
                               rtol=1e-6)
    np.testing.assert_allclose(kl.generator_loss([0.0, 2.0]),
                               [-0.36787944117144233, -2.718281828459045], rtol=1e-6)


def test_gan_divergence_reproduces_the_classic_gan_losses():
    logits = tf.constant([-30.0, -3.0, 0.0, 0.4, 5.0, 30.0])
    fake = tf.reverse(logits, [0])
    gan = f_divergences.get("gan")
    np.testing.assert_allclose(gan.discriminator_loss(logits, fake),
                               adversarial.discriminator_loss(logits, fake), rtol=1e-6)
    np.testing.assert_allclose(gan.generator_loss(fake),
                               adversarial.minimax_generator_loss(fake), rtol=1e-6)
    np.testing.assert_allclose(
        f_divergences.get("gan", generator_update="alternative").generator_loss(fake),
        adversarial.non_saturating_generator_loss(fake), rtol=1e-6)


def test_weighted_jensen_shannon_at_one_half_is_half_jensen_shannon():
    weighted = f_divergences.get("weighted_jensen_shannon", pi=0.5)
    full = f_divergences.get("jensen_shannon")
    u = tf.constant([0.1, 1.0, 3.0], tf.float64)
    v = tf.constant([-4.0, 0.0, 2.5], tf.float64)
    for method, argument in (("f", u), ("activation", v), ("conjugate_of_activation", v)):
        np.testing.assert_allclose(getattr(weighted, method)(argument),
                                   0.5 * getattr(full, method)(argument), rtol=1e-12, atol=1e-15)
    t = tf.constant([-2.0, 0.1, 0.3], tf.float64)  # f*_{f/2}(t) = f*(2 t) / 2.
    np.testing.assert_allclose(weighted.conjugate(t), 0.5 * full.conjugate(2 * t), rtol=1e-12)


# ------------------------------------------------------- Jeffrey's Lambert W


def test_wright_omega_matches_scipy_everywhere():
    s = np.array([-600.0, -50.0, -1.0, 0.0, 1.0, 29.9, 30.0, 30.1, 100.0, 1e4, 1e6])
    expected = special.wrightomega(s)
    np.testing.assert_allclose(f_divergences.wright_omega(tf.constant(s)), expected, rtol=1e-12)
    s32 = tf.constant(s[s < 1e5], tf.float32)  # Beyond, s itself rounds in float32.
    with tf.GradientTape() as tape:
        tape.watch(s32)
        omega = f_divergences.wright_omega(s32)
    np.testing.assert_allclose(omega, special.wrightomega(s32.numpy().astype(np.float64)),
                               rtol=3e-6, atol=1e-38)
    np.testing.assert_allclose(tape.gradient(omega, s32),
                               expected[s < 1e5] / (1 + expected[s < 1e5]), rtol=1e-5, atol=1e-38)


def test_jeffrey_conjugate_is_safe_for_large_arguments():
    jeffrey = f_divergences.get("jeffrey")
    t = np.array([-1e5, -1e3, -88.0, -29.5, -29.0, -1.0, 0.0, 0.5, 3.0, 40.0, 700.0])
    omega = special.wrightomega(1.0 - t)  # W(e^{1-t}) without forming e^{1-t}.
    expected = omega + 1.0 / omega + t - 2.0  # Table 1.
    t64 = tf.constant(t)
    with tf.GradientTape() as tape:
        tape.watch(t64)
        value = jeffrey.conjugate(t64)
    np.testing.assert_allclose(value, expected, rtol=1e-9, atol=1e-12)
    # f*'(t) = u* = 1 / W(e^{1-t}), the maximiser.
    np.testing.assert_allclose(tape.gradient(value, t64), 1.0 / omega, rtol=1e-9)
    # Asymptotics: f* -> -1 - log(1 - t) as t -> -inf, e^{t-1} + t - 2 as t -> +inf.
    assert float(value[0]) == pytest.approx(-1.0 - math.log(1.0 + 1e5), abs=1e-3)
    assert float(value[-2]) == pytest.approx(math.exp(39.0) + 38.0, rel=1e-12)
    # float32: finite and accurate up to where e^{t-1} itself overflows (~89.7).
    t32 = tf.constant([-1e6, -1e4, -100.0, -1.0, 0.5, 10.0, 80.0], tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(t32)
        value32 = jeffrey.conjugate(t32)
    gradient32 = tape.gradient(value32, t32)
    assert np.all(np.isfinite(value32)) and np.all(np.isfinite(gradient32))
    t_check = t32.numpy().astype(np.float64)
    omega = special.wrightomega(1.0 - t_check)
    np.testing.assert_allclose(value32, omega + 1.0 / omega + t_check - 2.0, rtol=2e-5)
    # A finite difference agrees with the custom gradient.
    step = 1e-6
    for point in (-7.0, 0.3, 2.0):
        numerical = (float(jeffrey.conjugate(tf.constant(point + step, tf.float64)))
                     - float(jeffrey.conjugate(tf.constant(point - step, tf.float64)))) / (2 * step)
        assert numerical == pytest.approx(1.0 / special.wrightomega(1.0 - point), rel=1e-6)
