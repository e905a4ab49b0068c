r"""Adversarial losses of the GAN minimax game, on discriminator logits.

The discriminator outputs a logit v(x) and D(x) = sigmoid(v(x)) is its
probability that x is real. The two-player game (Goodfellow et al. 2014,
Eq. 1) is

    min_G max_D  V(D, G) = E_{x~p_data}[log D(x)] + E_{z~p(z)}[log(1 - D(G(z)))].

- The discriminator minimises the cross-entropy of real-versus-fake
  classification, J_D = -V (`discriminator_loss`).
- The generator can minimise V itself, i.e. E_z[log(1 - D(G(z)))]
  (`minimax_generator_loss`). Its gradient with respect to the fake logit is
  -sigmoid(v) = -D(G(z)), which vanishes exactly where D confidently rejects
  the samples (early in training): the cost *saturates*.
- The *non-saturating* cost E_z[-log D(G(z))] (`non_saturating_generator_loss`,
  Goodfellow et al. 2014, Section 3) has the same fixed point, and a
  gradient -(1 - D(G(z))) close to -1 where D rejects the samples.

For a fixed generator the best discriminator is (Proposition 1)

    D*(x) = p_data(x) / (p_data(x) + p_model(x)),

the pointwise maximiser of a log y + b log(1 - y) at y = a / (a + b); its
logit is log p_data(x) - log p_model(x). At D* the value of the game is
(Theorem 1)

    V(D*, G) = KL(p_data || M) + KL(p_model || M) - log 4
             = 2 JSD(p_data, p_model) - log 4,       M = (p_data + p_model) / 2,

minimal (-log 4) exactly when p_model = p_data.

The losses take logits and return one value per example (the shape of the
logits), computed with softplus so they stay finite for any logit:
log D = -softplus(-v) and log(1 - D) = -softplus(v). Reduce them with
`tf.nn.compute_average_loss(per_example, global_batch_size=...)`, which is
correct under a distribution strategy. `optimal_discriminator` and
`jensen_shannon` are NumPy helpers for densities known in closed form
(toy problems, tests).

References:
    Goodfellow et al. (2014), Generative Adversarial Nets, Eq. 1,
    Proposition 1, Theorem 1, Section 3.
"""

import numpy as np
import tensorflow as tf
from scipy import special

__all__ = [
    "discriminator_loss",
    "paired_logits",
    "minimax_generator_loss",
    "non_saturating_generator_loss",
    "optimal_discriminator",
    "jensen_shannon",
    "GENERATOR_LOSSES",
    "get_generator_loss",
]

_GENERATOR_LOSSES = {}


def _register_generator_loss(name):
    """Function decorator: makes a generator loss selectable by `name`."""

    def decorator(loss_fn):
        _GENERATOR_LOSSES[name] = loss_fn
        return loss_fn

    return decorator


def paired_logits(real_logits, fake_logits):
    """Raw discriminator outputs on real and fake examples as tensors of one shape.

    Converts both to tensors and refuses shapes that would broadcast ([B]
    with [B, 1]): every discriminator loss pairs them row by row.
    """
    real_logits = tf.convert_to_tensor(real_logits)
    fake_logits = tf.convert_to_tensor(fake_logits, dtype_hint=real_logits.dtype)
    if not real_logits.shape.is_compatible_with(fake_logits.shape):
        raise ValueError(
            "The discriminator's outputs on real and fake examples must have the same shape "
            f"(one per example, paired row by row); got {real_logits.shape} and "
            f"{fake_logits.shape}.")
    return real_logits, fake_logits


def discriminator_loss(real_logits, fake_logits):
    """Per-example discriminator cross-entropy J_D of the minimax game.

        J_D = -log D(x) - log(1 - D(G(z))),   D = sigmoid(v),
            = softplus(-v_real) + softplus(v_fake).

    The lecture's "Adversarial Learning" cost; the negated value V of
    Goodfellow et al. (2014), Eq. 1, for one real and one fake example.

    Args:
        real_logits: v(x) for real examples, float tensor [B] (or [B, ...]).
        fake_logits: v(G(z)) for as many generated examples, same shape.

    Returns:
        Per-example losses, the shape of the logits.

    Raises:
        ValueError: if the two shapes differ (they would broadcast silently).
    """
    real_logits, fake_logits = paired_logits(real_logits, fake_logits)
    return tf.nn.softplus(-real_logits) + tf.nn.softplus(fake_logits)


@_register_generator_loss("minimax")
def minimax_generator_loss(fake_logits):
    """Per-example log(1 - D(G(z))): the saturating generator cost of the game.

        J_G = log(1 - sigmoid(v)) = -softplus(v),   dJ_G/dv = -sigmoid(v) = -D(G(z)).

    Goodfellow et al. (2014), Eq. 1 (the generator's side of min_G max_D V).
    The gradient vanishes where D(G(z)) ~ 0, i.e. where the samples are
    confidently rejected.

    Args:
        fake_logits: v(G(z)), float tensor [B] (or [B, ...]).

    Returns:
        Per-example losses (all <= 0), the shape of `fake_logits`.
    """
    return -tf.nn.softplus(tf.convert_to_tensor(fake_logits))


@_register_generator_loss("non_saturating")
def non_saturating_generator_loss(fake_logits):
    """Per-example -log D(G(z)): the non-saturating generator cost.

        J_G = -log sigmoid(v) = softplus(-v),   dJ_G/dv = -(1 - sigmoid(v)).

    Goodfellow et al. (2014), Section 3. Same fixed point as the minimax
    cost, but a gradient close to -1 where D(G(z)) ~ 0.

    Args:
        fake_logits: v(G(z)), float tensor [B] (or [B, ...]).

    Returns:
        Per-example losses (all >= 0), the shape of `fake_logits`.
    """
    return tf.nn.softplus(-tf.convert_to_tensor(fake_logits))


GENERATOR_LOSSES = tuple(_GENERATOR_LOSSES)
"""Names of the generator losses: "minimax" and "non_saturating"."""


def get_generator_loss(name):
    """The generator loss function registered under `name`.

    Args:
        name: one of `GENERATOR_LOSSES`.

    Returns:
        A function fake_logits -> per-example losses.

    Raises:
        ValueError: for an unknown name; the message lists the known ones.
    """
    try:
        return _GENERATOR_LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown generator loss {name!r}; expected one of "
                         f"{list(GENERATOR_LOSSES)}.") from None


def optimal_discriminator(p_data, p_model):
    """D*(x) = p_data(x) / (p_data(x) + p_model(x)), elementwise on density arrays.

    Goodfellow et al. (2014), Proposition 1: for a fixed generator, D*
    maximises p_data(x) log D(x) + p_model(x) log(1 - D(x)) at every x.
    Where both densities vanish D* is undetermined; 1/2 is returned there.

    Args:
        p_data: densities (or probabilities) of the data, array-like >= 0.
        p_model: densities of the model at the same points, same shape.

    Returns:
        NumPy float64 array of D* values in [0, 1].
    """
    p_data = np.asarray(p_data, np.float64)
    p_model = np.asarray(p_model, np.float64)
    total = p_data + p_model
    safe_total = np.where(total > 0, total, 1.0)
    return np.where(total > 0, p_data / safe_total, 0.5)


def jensen_shannon(p, q, dx=1.0, axis=-1):
    """JSD(p, q) = KL(p || m) / 2 + KL(q || m) / 2, m = (p + q) / 2, in nats.

    For probability vectors (dx = 1) or densities tabulated on a uniform grid
    of spacing dx (a Riemann sum of the integral); 0 log 0 = 0. Between 0 and
    log 2. The minimax game's value at the optimal discriminator is
    2 JSD(p_data, p_model) - log 4 (Goodfellow et al. 2014, Theorem 1).

    Args:
        p: probabilities or densities, array-like >= 0.
        q: the same for the second distribution, same shape.
        dx: grid spacing (volume element) of the points along `axis`.
        axis: the axis that runs over the support.

    Returns:
        NumPy float64 value(s), `axis` reduced.
    """
    p = np.asarray(p, np.float64)
    q = np.asarray(q, np.float64)
    mixture = 0.5 * (p + q)
    # rel_entr(a, b) = a log(a / b), with 0 log(0 / b) = 0.
    pointwise = 0.5 * special.rel_entr(p, mixture) + 0.5 * special.rel_entr(q, mixture)
    return np.sum(pointwise, axis=axis) * dx
