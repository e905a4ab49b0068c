r"""The f-divergences of f-GAN: generator f, conjugate f*, output activation g_f, losses.

For a convex f with f(1) = 0 (the GAN f is shifted: f(1) = -log 4), the
f-divergence of the data distribution P (density p) from the model Q
(density q) is (Nowozin et al. 2016, Sec. 2.1)

    D_f(P || Q) = integral q(x) f(p(x) / q(x)) dx.

With the convex (Fenchel) conjugate f*(t) = sup_u (u t - f(u)), duality
gives the variational lower bound (Sec. 2.2, after Nguyen et al. 2010)

    D_f(P || Q) >= sup_T  E_{x~P}[T(x)] - E_{x~Q}[f*(T(x))],

tight at T*(x) = f'(p(x) / q(x)). The discriminator outputs a raw
value v(x) in R and T = g_f(v) with an output activation g_f whose range
lies in dom f*. f-GAN plays the saddle point (Sec. 3, the objective F)

    min_G max_V  F = E_{x~P}[g_f(v(x))] - E_{z}[f*(g_f(v(G(z))))].

Per example (real and fake rows paired; reduce with
`tf.nn.compute_average_loss`) every divergence here offers

    discriminator_loss(v_real, v_fake) = -(g_f(v_real) - f*(g_f(v_fake)))
    generator_loss(v_fake)             = -f*(g_f(v_fake))   ("saddle", the default)
                                       = -g_f(v_fake)       ("alternative")

The alternative generator update (the paper's "Practical considerations"
of its single-step algorithm) maximises E_Q[g_f(v)] instead, generalising
the non-saturating GAN cost and keeping the same stationary point; choose it
with `get(name, generator_update="alternative")`.

The divergences are those of the lecture's table (Nowozin et al. 2016,
Table 1) with the output activations of their Table 6 (Table 2 in the
main text):

    name (class)             f*(t) on dom f*                                  g_f(v)
    total_variation          t,                         |t| <= 1/2            tanh(v) / 2
    kl                       exp(t - 1),                t in R                v
    reverse_kl               -1 - log(-t),              t < 0                 -exp(-v)
    pearson                  t^2 / 4 + t,               t in R                v
    neyman                   2 - 2 sqrt(1 - t),         t <= 1                1 - exp(v)
    squared_hellinger        t / (1 - t),               t < 1                 1 - exp(v)
    jeffrey                  W(e^{1-t}) + 1 / W(e^{1-t}) + t - 2,  t in R     v (derived)
    jensen_shannon           -log(2 - exp(t)),          t < log 2             log 2 - softplus(-v)
    weighted_jensen_shannon  (1 - pi) log((1 - pi) / (1 - pi e^{t/pi})),
                                                        t < -pi log pi        pi log(sigmoid(v)/pi)
                                                                              (derived)
    gan                      -log(1 - exp(t)),          t < 0                 -softplus(-v)

with softplus(x) = log(1 + e^x), and f (and D_f) stated on each class.

The paper gives no activation for Jeffrey and the weighted Jensen-Shannon
divergence; the ones above are derived on their classes. Where f*(g_f(v))
simplifies (e.g. softplus(v) for GAN), `conjugate_of_activation` uses the
simplified, overflow-free form, and the losses use it. `conjugate(t)` is
+inf outside dom f*, as the supremum is.

Notes on the table. With D_f defined as above, (i) the Jensen-Shannon f
gives D_f = 2 JSD(P, Q) = integral p log(2p / (p + q)) + q log(2q / (p + q));
the table's factor 1/2 does not match its f (the weighted divergence at
pi = 1/2 is JSD, with f half the Jensen-Shannon f); (ii) Pearson's
f = (u - 1)^2 gives integral (p - q)^2 / q and Neyman's f = (1 - u)^2 / u
gives integral (q - p)^2 / p: the table writes these two integrals the
other way round. The class docstrings state D_f as f defines it.

References:
    Nowozin, Cseke & Tomioka (2016), f-GAN: Training Generative Neural
    Samplers using Variational Divergence Minimization, Sec. 2-3,
    Table 1 (f, f*) and Table 6 / Table 2 (activations).
    Nguyen, Wainwright & Jordan (2010), Estimating divergence functionals
    and the likelihood ratio by convex risk minimization.
    Corless et al. (1996), On the Lambert W function.
"""

import dataclasses
import math
from typing import ClassVar

import tensorflow as tf
import tensorflow_probability as tfp

from zoo.losses import adversarial

__all__ = [
    "FDivergence",
    "TotalVariation",
    "KullbackLeibler",
    "ReverseKullbackLeibler",
    "PearsonChiSquared",
    "NeymanChiSquared",
    "SquaredHellinger",
    "Jeffrey",
    "JensenShannon",
    "WeightedJensenShannon",
    "GANDivergence",
    "GENERATOR_UPDATES",
    "NAMES",
    "get",
    "wright_omega",
]

GENERATOR_UPDATES = ("saddle", "alternative")
"""Generator objectives: the saddle point -f*(g_f(v)), or the alternative -g_f(v)."""

_DIVERGENCES = {}

# Above this s, W(e^s) comes from Newton's method on w + log w = s instead of
# from lambertw(exp(s)) (exp(s) overflows float32 beyond s ~ 88.7).
_OMEGA_NEWTON_FROM = 30.0
_OMEGA_NEWTON_STEPS = 4


def _register(name):
    """Class decorator: adds an `FDivergence` subclass to the registry as `name`."""

    def decorator(cls):
        cls.name = name
        _DIVERGENCES[name] = cls
        return cls

    return decorator


def _xlogx(u):
    """u log u with 0 log 0 = 0."""
    return tf.math.xlogy(u, u)


@dataclasses.dataclass(frozen=True, kw_only=True)
class FDivergence:
    """An f-divergence for f-GAN: f, its conjugate f*, the activation g_f and the losses.

    Subclasses implement `f`, `_conjugate_in_domain`, `activation`, and set
    the domain of f* (`_DOMAIN`, `_DOMAIN_CLOSED`); they override
    `conjugate_of_activation` where f*(g_f(v)) has a stable closed form.

    Args:
        generator_update: "saddle" (default): the generator minimises
            -f*(g_f(v_fake)), the saddle point of Nowozin et al. (2016),
            Sec. 3; "alternative": it minimises -g_f(v_fake) (the paper's
            "Practical considerations").

    Raises:
        ValueError: for an unknown `generator_update`.
    """

    name: ClassVar[str] = None
    _DOMAIN: ClassVar[tuple] = (-math.inf, math.inf)
    _DOMAIN_CLOSED: ClassVar[bool] = False

    generator_update: str = "saddle"

    def __post_init__(self):
        if self.generator_update not in GENERATOR_UPDATES:
            raise ValueError(
                f"Unknown generator_update {self.generator_update!r} for f-divergence "
                f"{self.name!r}; expected one of {list(GENERATOR_UPDATES)}.")

    @property
    def domain(self):
        """(low, high): the bounds of dom f*, the interval g_f maps into."""
        return self._DOMAIN

    def in_domain(self, t):
        """Whether t lies in dom f* (where f*(t) is finite), elementwise."""
        t = tf.convert_to_tensor(t)
        low, high = self.domain
        if self._DOMAIN_CLOSED:
            return (t >= low) & (t <= high)
        return (t > low) & (t < high)

    def f(self, u):
        """The generator function f(u) of D_f for u >= 0: convex, f(1) = 0 (but for GAN)."""
        raise NotImplementedError

    def _conjugate_in_domain(self, t):
        raise NotImplementedError

    def conjugate(self, t):
        """The Fenchel conjugate f*(t) = sup_u (u t - f(u)) (Table 1); +inf outside dom f*.

        NaN inputs give NaN.

        Args:
            t: float tensor.

        Returns:
            f*(t), same shape and dtype.
        """
        t = tf.convert_to_tensor(t)
        inside = self.in_domain(t)
        # The formula sees only points of the domain, so neither its value
        # nor its gradient is NaN where the other branch is selected.
        safe = tf.where(inside, t, tf.constant(self._interior_point(), t.dtype))
        outside = tf.where(tf.math.is_nan(t), t, tf.constant(math.inf, t.dtype))
        return tf.where(inside, self._conjugate_in_domain(safe), outside)

    def _interior_point(self):
        low, high = self.domain
        if math.isinf(low) and math.isinf(high):
            return 0.0
        if math.isinf(low):
            return high - 1.0
        return 0.5 * (low + high)

    def activation(self, v):
        """g_f(v): maps a raw discriminator output v in R into dom f* (Table 6)."""
        raise NotImplementedError

    def conjugate_of_activation(self, v):
        """f*(g_f(v)), in a closed form free of overflow where one exists."""
        return self.conjugate(self.activation(v))

    def discriminator_loss(self, real_v, fake_v):
        """Per-example -(g_f(v_real) - f*(g_f(v_fake))): the negated saddle objective F.

        Its mean over paired rows is minus the variational lower bound
        E_P[T] - E_Q[f*(T)] of D_f(P || Q) with T = g_f(v) (Sec. 2.2-3).

        Args:
            real_v: raw discriminator outputs on data, float tensor [B] (or [B, ...]).
            fake_v: raw outputs on generated examples, same shape.

        Returns:
            Per-example losses, the shape of the inputs.

        Raises:
            ValueError: if the shapes differ (they would broadcast silently).
        """
        real_v, fake_v = adversarial.paired_logits(real_v, fake_v)
        return -(self.activation(real_v) - self.conjugate_of_activation(fake_v))

    def generator_loss(self, fake_v):
        """Per-example generator loss on generated examples.

        "saddle": -f*(g_f(v_fake)), the generator's side of min_G max_V F;
        "alternative": -g_f(v_fake), i.e. maximise E_Q[g_f(v)] ("Practical
        considerations" of the paper).

        Args:
            fake_v: raw discriminator outputs on generated examples, [B] (or [B, ...]).

        Returns:
            Per-example losses, the shape of `fake_v`.
        """
        fake_v = tf.convert_to_tensor(fake_v)
        if self.generator_update == "alternative":
            return -self.activation(fake_v)
        return -self.conjugate_of_activation(fake_v)

    def get_config(self):
        """Constructor arguments: `get(self.name, **self.get_config())` rebuilds it."""
        return dataclasses.asdict(self)


@_register("total_variation")
@dataclasses.dataclass(frozen=True, kw_only=True)
class TotalVariation(FDivergence):
    """Total variation: D_f = 1/2 integral |p - q| dx.

    f(u) = |u - 1| / 2,  f*(t) = t on |t| <= 1/2,  g_f(v) = tanh(v) / 2.
    """

    _DOMAIN: ClassVar[tuple] = (-0.5, 0.5)
    _DOMAIN_CLOSED: ClassVar[bool] = True

    def f(self, u):
        return 0.5 * tf.abs(u - 1.0)

    def _conjugate_in_domain(self, t):
        return t

    def activation(self, v):
        return 0.5 * tf.tanh(v)

    def conjugate_of_activation(self, v):
        return 0.5 * tf.tanh(v)


@_register("kl")
@dataclasses.dataclass(frozen=True, kw_only=True)
class KullbackLeibler(FDivergence):
    """Kullback-Leibler: D_f = KL(P || Q) = integral p log(p / q) dx.

    f(u) = u log u,  f*(t) = exp(t - 1),  g_f(v) = v.
    """

    def f(self, u):
        return _xlogx(u)

    def _conjugate_in_domain(self, t):
        return tf.exp(t - 1.0)

    def activation(self, v):
        return tf.convert_to_tensor(v)


@_register("reverse_kl")
@dataclasses.dataclass(frozen=True, kw_only=True)
class ReverseKullbackLeibler(FDivergence):
    """Reverse Kullback-Leibler: D_f = KL(Q || P) = integral q log(q / p) dx.

    f(u) = -log u,  f*(t) = -1 - log(-t) for t < 0,  g_f(v) = -exp(-v),
    so f*(g_f(v)) = v - 1.
    """

    _DOMAIN: ClassVar[tuple] = (-math.inf, 0.0)

    def f(self, u):
        return -tf.math.log(u)

    def _conjugate_in_domain(self, t):
        return -1.0 - tf.math.log(-t)

    def activation(self, v):
        return -tf.exp(-v)

    def conjugate_of_activation(self, v):
        return tf.convert_to_tensor(v) - 1.0


@_register("pearson")
@dataclasses.dataclass(frozen=True, kw_only=True)
class PearsonChiSquared(FDivergence):
    """Pearson chi^2: D_f = integral (p - q)^2 / q dx.

    f(u) = (u - 1)^2,  f*(t) = t^2 / 4 + t,  g_f(v) = v.

    As in the paper, f* is the conjugate of (u - 1)^2 over all u in R; over
    u >= 0 only it is max(t^2 / 4 + t, -1), which differs for t < -2, where
    the maximiser u = 1 + t / 2 would be negative. Either gives a valid
    lower bound, tight at T* = 2 (p / q - 1) > -2.
    """

    def f(self, u):
        return tf.square(u - 1.0)

    def _conjugate_in_domain(self, t):
        return 0.25 * tf.square(t) + t

    def activation(self, v):
        return tf.convert_to_tensor(v)


@_register("neyman")
@dataclasses.dataclass(frozen=True, kw_only=True)
class NeymanChiSquared(FDivergence):
    """Neyman chi^2: D_f = integral (q - p)^2 / p dx.

    f(u) = (1 - u)^2 / u,  f*(t) = 2 - 2 sqrt(1 - t) for t <= 1,
    g_f(v) = 1 - exp(v), so f*(g_f(v)) = 2 - 2 exp(v / 2).
    """

    _DOMAIN: ClassVar[tuple] = (-math.inf, 1.0)
    _DOMAIN_CLOSED: ClassVar[bool] = True

    def f(self, u):
        return tf.square(1.0 - u) / u

    def _conjugate_in_domain(self, t):
        return 2.0 - 2.0 * tf.sqrt(1.0 - t)

    def activation(self, v):
        return -tf.math.expm1(v)

    def conjugate_of_activation(self, v):
        return 2.0 - 2.0 * tf.exp(0.5 * tf.convert_to_tensor(v))


@_register("squared_hellinger")
@dataclasses.dataclass(frozen=True, kw_only=True)
class SquaredHellinger(FDivergence):
    """Squared Hellinger: D_f = integral (sqrt(p) - sqrt(q))^2 dx.

    f(u) = (sqrt(u) - 1)^2,  f*(t) = t / (1 - t) for t < 1,
    g_f(v) = 1 - exp(v), so f*(g_f(v)) = exp(-v) - 1.
    """

    _DOMAIN: ClassVar[tuple] = (-math.inf, 1.0)

    def f(self, u):
        return tf.square(tf.sqrt(u) - 1.0)

    def _conjugate_in_domain(self, t):
        return t / (1.0 - t)

    def activation(self, v):
        return -tf.math.expm1(v)

    def conjugate_of_activation(self, v):
        return tf.math.expm1(-tf.convert_to_tensor(v))


def _wright_omega_value(s):
    """W(e^s) without forming e^s where it would overflow (no gradient)."""
    switch = tf.constant(_OMEGA_NEWTON_FROM, s.dtype)
    small = tf.minimum(s, switch)
    direct = tfp.math.lambertw(tf.exp(small))
    # w + log w = s: Newton from w0 = s - log s (relative error ~ log s / s^2),
    # w <- w (1 + s - log w) / (1 + w), converging quadratically.
    large = tf.maximum(s, switch)
    w = large - tf.math.log(large)
    for _ in range(_OMEGA_NEWTON_STEPS):
        w = w * (1.0 + large - tf.math.log(w)) / (1.0 + w)
    return tf.where(s <= switch, direct, w)


@tf.custom_gradient
def _wright_omega(s):
    omega = _wright_omega_value(s)

    def gradient(upstream):
        return upstream * omega / (1.0 + omega)

    return omega, gradient


def wright_omega(s):
    """The Wright omega function omega(s) = W(e^s), W the principal Lambert W branch.

    omega solves omega + log(omega) = s. Computed as
    `tfp.math.lambertw(exp(s))` for s <= 30, and above by Newton's method on
    omega + log(omega) = s started at s - log(s), so it stays finite where
    e^s overflows. Gradient: d omega / ds = omega / (1 + omega).

    Args:
        s: float tensor.

    Returns:
        omega(s), same shape and dtype.
    """
    return _wright_omega(tf.convert_to_tensor(s))


@tf.custom_gradient
def _jeffrey_conjugate(t):
    # omega = W(e^s), s = 1 - t, satisfies log(omega) = s - omega and
    # 1 / omega = exp(omega - s) exactly. The maximiser is u* = 1 / omega.
    s = 1.0 - t
    omega = _wright_omega_value(s)
    large = omega >= 1.0  # t <= 0: omega ~ s - log s, possibly huge.
    omega_large = tf.maximum(omega, 1.0)
    omega_small = tf.minimum(omega, 1.0)
    # f* = 1/omega - 1 - log(omega): no cancellation of omega against t.
    value_large = 1.0 / omega_large - 1.0 - tf.math.log(omega_large)
    # f* = exp(omega + t - 1) + omega + t - 2: no division by an underflowing omega.
    value_small = tf.exp(omega_small + t - 1.0) + omega_small + t - 2.0
    maximiser = tf.where(large, 1.0 / omega_large, tf.exp(omega_small + t - 1.0))

    def gradient(upstream):
        return upstream * maximiser  # f*'(t) = u*(t) (envelope theorem).

    return tf.where(large, value_large, value_small), gradient


@_register("jeffrey")
@dataclasses.dataclass(frozen=True, kw_only=True)
class Jeffrey(FDivergence):
    """Jeffrey: D_f = KL(P || Q) + KL(Q || P) = integral (p - q) log(p / q) dx.

    f(u) = (u - 1) log u and (Table 1)

        f*(t) = W(e^{1-t}) + 1 / W(e^{1-t}) + t - 2,

    W the principal Lambert W branch; the supremum is attained at
    u* = 1 / W(e^{1-t}) (solving f'(u) = log u + 1 - 1/u = t).

    Numerics: omega = W(e^{1-t}) is the Wright omega function of s = 1 - t
    (`wright_omega`, finite where e^{1-t} overflows). Since log(omega) =
    s - omega and 1 / omega = exp(omega - s),

        f*(t) = 1/omega - 1 - log(omega)           for omega >= 1 (t <= 0),
              = exp(omega + t - 1) + omega + t - 2  for omega < 1  (t > 0),

    which avoids both the cancellation of omega ~ -t against t for t -> -inf
    (f* ~ -1 - log(1 - t)) and the division by an underflowing omega for
    t -> +inf (f* ~ e^{t-1} + t - 2, finite until e^{t-1} overflows). The
    gradient is the maximiser itself, f*'(t) = u* = 1 / omega.

    Activation (derived here; the paper's Table 6 lists none for Jeffrey):
    f'(u) = log u + 1 - 1/u maps (0, inf) onto all of R, so dom f* = R and
    g_f(v) = v, as for KL and Pearson chi^2.
    """

    def f(self, u):
        return (u - 1.0) * tf.math.log(u)

    def _conjugate_in_domain(self, t):
        return _jeffrey_conjugate(t)

    def activation(self, v):
        return tf.convert_to_tensor(v)


@_register("jensen_shannon")
@dataclasses.dataclass(frozen=True, kw_only=True)
class JensenShannon(FDivergence):
    """Jensen-Shannon: D_f = KL(P || M) + KL(Q || M) = 2 JSD(P, Q), M = (P + Q) / 2.

    f(u) = u log u - (u + 1) log((u + 1) / 2),  f*(t) = -log(2 - exp(t)) for
    t < log 2,  g_f(v) = log 2 - log(1 + exp(-v)) = log(2 sigmoid(v)), so
    f*(g_f(v)) = softplus(v) - log 2. At the optimum v* = log(p / q).
    (The table's D_f carries a factor 1/2 that its f does not: see the
    module docstring.)
    """

    _DOMAIN: ClassVar[tuple] = (-math.inf, math.log(2.0))

    def f(self, u):
        return _xlogx(u) - (u + 1.0) * tf.math.log((u + 1.0) / 2.0)

    def _conjugate_in_domain(self, t):
        # -log(2 - e^t) = -log 2 - log(1 - e^{t - log 2}).
        return -math.log(2.0) - tf.math.log(-tf.math.expm1(t - math.log(2.0)))

    def activation(self, v):
        return math.log(2.0) - tf.nn.softplus(-tf.convert_to_tensor(v))

    def conjugate_of_activation(self, v):
        return tf.nn.softplus(tf.convert_to_tensor(v)) - math.log(2.0)


@_register("weighted_jensen_shannon")
@dataclasses.dataclass(frozen=True, kw_only=True)
class WeightedJensenShannon(FDivergence):
    """Jensen-Shannon weighted by pi: D_f = pi KL(P || M) + (1 - pi) KL(Q || M).

    M = pi P + (1 - pi) Q, i.e. D_f = integral pi p log(p / m) +
    (1 - pi) q log(q / m) dx, with (Table 1)

        f(u) = pi u log u - (1 - pi + pi u) log(1 - pi + pi u),
        f*(t) = (1 - pi) log((1 - pi) / (1 - pi e^{t / pi}))  for t < -pi log pi.

    Activation (derived here; the paper gives none). The optimal
    T*(x) = f'(p/q) = pi log(p / m) = pi log(D(x) / pi), with
    D = pi p / (pi p + (1 - pi) q) the Bayes classifier of real versus fake
    at prior pi. Reading v as the logit of D,

        g_f(v) = pi (log sigmoid(v) - log pi)          range (-inf, -pi log pi),
        f*(g_f(v)) = (1 - pi) (log(1 - pi) + softplus(v)),

    both overflow-free; the optimum is v* = log(pi p / ((1 - pi) q)). At
    pi = 1/2 the divergence, f, f*, g_f and the losses are exactly half
    those of `JensenShannon`.

    Args:
        pi: the weight of P, strictly between 0 and 1.
        generator_update: see `FDivergence`.

    Raises:
        ValueError: for pi outside (0, 1) or an unknown `generator_update`.
    """

    pi: float = 0.5

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 < self.pi < 1.0:
            raise ValueError(f"pi of the weighted Jensen-Shannon divergence must be in "
                             f"(0, 1); got {self.pi!r}.")

    @property
    def domain(self):
        return (-math.inf, -self.pi * math.log(self.pi))

    def f(self, u):
        return self.pi * _xlogx(u) - _xlogx(1.0 - self.pi + self.pi * u)

    def _conjugate_in_domain(self, t):
        pi = self.pi
        # 1 - pi e^{t/pi} = -expm1(t/pi + log pi).
        return (1.0 - pi) * (math.log(1.0 - pi)
                             - tf.math.log(-tf.math.expm1(t / pi + math.log(pi))))

    def activation(self, v):
        # -pi log pi - pi softplus(-v): never above the (rounded) bound -pi log pi.
        return self.domain[1] - self.pi * tf.nn.softplus(-tf.convert_to_tensor(v))

    def conjugate_of_activation(self, v):
        return (1.0 - self.pi) * (math.log(1.0 - self.pi)
                                  + tf.nn.softplus(tf.convert_to_tensor(v)))


@_register("gan")
@dataclasses.dataclass(frozen=True, kw_only=True)
class GANDivergence(FDivergence):
    """The GAN divergence: D_f = KL(P || M) + KL(Q || M) - log 4 = 2 JSD(P, Q) - log 4.

    f(u) = u log u - (u + 1) log(u + 1),  f*(t) = -log(1 - exp(t)) for t < 0,
    g_f(v) = -log(1 + exp(-v)) = log sigmoid(v) = log D(x), so
    f*(g_f(v)) = softplus(v) = -log(1 - D(x)).

    This f is shifted, f(1) = -log 4, hence the -log 4 in D_f (D_f >= -log 4,
    with equality iff P = Q). The discriminator loss is the minimax cross-entropy J_D of
    `zoo.losses.adversarial`, the "saddle" generator loss its saturating
    log(1 - D(G(z))) and the "alternative" one the non-saturating
    -log D(G(z)).
    """

    _DOMAIN: ClassVar[tuple] = (-math.inf, 0.0)

    def f(self, u):
        return _xlogx(u) - (u + 1.0) * tf.math.log(u + 1.0)

    def _conjugate_in_domain(self, t):
        return -tf.math.log(-tf.math.expm1(t))

    def activation(self, v):
        return -tf.nn.softplus(-tf.convert_to_tensor(v))

    def conjugate_of_activation(self, v):
        return tf.nn.softplus(tf.convert_to_tensor(v))


NAMES = tuple(_DIVERGENCES)
"""Registered names, in the order of the lecture's table."""


def get(name, **kwargs):
    """The f-divergence registered under `name`.

    Args:
        name: one of `NAMES`.
        **kwargs: constructor arguments: `generator_update` for all,
            `pi` for "weighted_jensen_shannon".

    Returns:
        An `FDivergence`.

    Raises:
        ValueError: for an unknown name (the message lists `NAMES`), or
            invalid arguments.
    """
    if not isinstance(name, str) or name not in _DIVERGENCES:
        raise ValueError(f"Unknown f-divergence {name!r}; expected one of {list(NAMES)}.")
    cls = _DIVERGENCES[name]
    fields = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(kwargs) - fields)
    if unknown:
        raise ValueError(f"f-divergence {name!r} takes arguments {sorted(fields)}; "
                         f"got unknown {unknown}.")
    return cls(**kwargs)
