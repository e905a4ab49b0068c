r"""GAN objectives by name: the two classic games and every f-GAN divergence, one interface.

A GAN model needs three things from its game, all on raw discriminator
outputs v (one per example):

    discriminator_loss(v_real, v_fake)  per-example loss of the discriminator,
    generator_loss(v_fake)              per-example loss of the generator,
    discriminator_output(v)             what the `d_real` / `d_fake` metrics report.

`Objective(name, generator_update="saddle", pi=None)` provides them for

- "minimax" and "non_saturating" (`zoo.losses.adversarial`): the
  discriminator minimises the cross-entropy J_D = -log D(x) - log(1 - D(G(z))),
  D = sigmoid(v); the generator minimises log(1 - D(G(z))) (saturating) or
  -log D(G(z)) (Goodfellow et al. 2014, Eq. 1 and Section 3). The output is D.
- every f-divergence of `zoo.losses.f_divergences` ("total_variation", "kl",
  "reverse_kl", "pearson", "neyman", "squared_hellinger", "jeffrey",
  "jensen_shannon", "weighted_jensen_shannon" with `pi`, "gan"): the
  discriminator maximises E_P[g_f(v)] - E_Q[f*(g_f(v))], the generator
  minimises -f*(g_f(v_fake)) (`generator_update="saddle"`) or -g_f(v_fake)
  ("alternative") (Nowozin et al. 2016, Sec. 3). The output is the
  variational function T = g_f(v).

Every game accepts both options, so callers can pass them uniformly: an
option at its default (generator_update="saddle", pi=None, which leaves pi at
the divergence's 0.5) is accepted by every game, any other value only by the
games that use it (`OPTIONS`).

Objectives are Keras-serializable, so a model holding one saves and loads
with `keras.models.load_model`.

References:
    Goodfellow et al. (2014), Generative Adversarial Nets.
    Nowozin, Cseke & Tomioka (2016), f-GAN: Training Generative Neural
    Samplers using Variational Divergence Minimization.
"""

import dataclasses

import keras
import tensorflow as tf

from zoo.losses import adversarial
from zoo.losses import f_divergences

__all__ = ["Objective", "NAMES", "OPTIONS", "get"]

NAMES = adversarial.GENERATOR_LOSSES + f_divergences.NAMES
"""Every objective by name: "minimax", "non_saturating", then the f-divergences in table order."""

OPTIONS = {"generator_update": "saddle", "pi": None}
"""The options of `Objective` and their defaults, which every game accepts (as it accepts None)."""


def _uses(name, option):
    """Whether game `name` uses `option` (an f-divergence's constructor argument)."""
    if name not in f_divergences.NAMES:
        return False
    return option in {field.name for field in dataclasses.fields(f_divergences.get(name))}


def _flat(values):
    """[B, 1] -> [B]; other shapes unchanged."""
    values = tf.convert_to_tensor(values)
    if values.shape.rank == 2 and values.shape[-1] == 1:
        return values[:, 0]
    return values


@keras.saving.register_keras_serializable(package="zoo")
class Objective:
    """One adversarial game, selected by name.

    Args:
        name: one of `NAMES`.
        **options: `OPTIONS`: `generator_update` ("saddle" or "alternative",
            used by the f-divergences) and `pi` (used by
            "weighted_jensen_shannon"; None keeps its default 0.5). Every game
            accepts an option at its default.

    Attributes:
        name: the name.
        divergence: the `zoo.losses.f_divergences.FDivergence`, or None for
            the two classic games.

    Raises:
        ValueError: an unknown name (the message lists `NAMES`), an unknown
            option, or an option away from its default that the game does
            not use (the message names the games that use it).
    """

    def __init__(self, name="non_saturating", **options):
        if not isinstance(name, str) or name not in NAMES:
            raise ValueError(f"Unknown GAN loss {name!r}; expected one of {list(NAMES)}.")
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ValueError(f"Unknown GAN loss options {unknown}; expected some of "
                             f"{sorted(OPTIONS)}.")
        for option, value in options.items():
            if not _uses(name, option) and value is not None and value != OPTIONS[option]:
                users = [game for game in NAMES if _uses(game, option)]
                raise ValueError(f"GAN loss {name!r} does not take {option}={value!r}; "
                                 f"{option} is for {', '.join(users)}.")
        self.name = name
        self.divergence = None
        self._generator_loss = None
        if name in f_divergences.NAMES:
            self.divergence = f_divergences.get(name, **{
                option: value for option, value in options.items()
                if _uses(name, option) and value is not None})
        else:
            self._generator_loss = adversarial.get_generator_loss(name)

    def discriminator_loss(self, real_logits, fake_logits):
        """Per-example discriminator loss [B] from raw outputs [B] or [B, 1] (paired rows)."""
        real_logits, fake_logits = _flat(real_logits), _flat(fake_logits)
        if self.divergence is not None:
            return self.divergence.discriminator_loss(real_logits, fake_logits)
        return adversarial.discriminator_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits):
        """Per-example generator loss [B] from raw outputs on generated examples."""
        fake_logits = _flat(fake_logits)
        if self.divergence is not None:
            return self.divergence.generator_loss(fake_logits)
        return self._generator_loss(fake_logits)

    def discriminator_output(self, logits):
        """D = sigmoid(v) for the classic games, T = g_f(v) for f-divergences."""
        logits = _flat(logits)
        if self.divergence is not None:
            return self.divergence.activation(logits)
        return tf.sigmoid(logits)

    def get_config(self):
        config = {"name": self.name}
        if self.divergence is not None:
            config.update(self.divergence.get_config())
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"Objective({arguments})"


def get(objective, **kwargs):
    """An `Objective` from a name (and its arguments), or an `Objective` returned as is.

    Raises:
        ValueError: as `Objective`, or arguments given with an `Objective`.
    """
    if isinstance(objective, Objective):
        if kwargs:
            raise ValueError(f"Arguments {sorted(kwargs)} given with a built objective.")
        return objective
    if isinstance(objective, dict):  # A serialized objective (e.g. from config.json).
        objective = keras.saving.deserialize_keras_object(objective)
        return get(objective, **kwargs)
    return Objective(objective, **kwargs)
