r"""Mixtures of well-separated 2-D Gaussians: the data of the GAN toy (`zoo.tasks.gan_toy2d`).

An equal-weight mixture of K isotropic Gaussians, laid out as a `ring` of 8
modes (Metz et al. 2017: radius 2, sigma 0.02) or a `grid` of 5x5 (Srivastava
et al. 2017). Because the modes are known, samples can be judged directly
(`zoo.metrics.modes`).

References:
    Metz, Poole, Pfau & Sohl-Dickstein (2017), Unrolled Generative
    Adversarial Networks.
    Srivastava, Valkov, Russell, Gutmann & Sutton (2017), VEEGAN.
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf

from zoo import random as zoo_random

__all__ = ["Mixture", "MIXTURES", "make_mixture", "ring", "grid"]

MIXTURES = {}


def _mixture(name):
    """Decorator: registers a function (**kwargs) -> Mixture under `name`."""
    def decorator(function):
        MIXTURES[name] = function
        return function
    return decorator


@dataclasses.dataclass(frozen=True)
class Mixture:
    """An equal-weight mixture of isotropic 2-D Gaussians.

    Attributes:
        modes: [K, 2] centres.
        std: the common standard deviation sigma.
    """
    modes: np.ndarray
    std: float

    @property
    def num_modes(self):
        return len(self.modes)

    def sample(self, num_samples, seed=0):
        """[num_samples, 2] float32 draws (stateless, from `seed`)."""
        return self._draw(num_samples, zoo_random.step_seed(seed, 0)).numpy()

    def _draw(self, num_samples, seed):
        modes = tf.constant(self.modes, tf.float32)
        index = tf.random.stateless_uniform([num_samples], seed, 0, len(self.modes), tf.int32)
        noise = tf.random.stateless_normal([num_samples, 2],
                                           tf.random.experimental.stateless_fold_in(seed, 1))
        return tf.gather(modes, index) + self.std * noise

    def dataset(self, batch_size, seed=0):
        """An infinite stream of [batch_size, 2] batches (each batch from its own seed)."""
        return tf.data.Dataset.counter().map(
            lambda step: self._draw(batch_size, zoo_random.step_seed(seed, step)))


@_mixture("ring")
def ring(num_modes=8, radius=2.0, std=0.02):
    """`num_modes` Gaussians evenly spaced on a circle of `radius`."""
    angles = 2.0 * np.pi * np.arange(num_modes) / num_modes
    return Mixture(np.stack([radius * np.cos(angles), radius * np.sin(angles)], 1), std)


@_mixture("grid")
def grid(num_modes=25, radius=2.0, std=0.05):
    """A square grid of `num_modes` (a square number) Gaussians spanning [-radius, radius]^2."""
    side = int(round(math.sqrt(num_modes)))
    if side * side != num_modes:
        raise ValueError(f"A grid needs a square number of modes; got {num_modes}.")
    axis = np.linspace(-radius, radius, side)
    x, y = np.meshgrid(axis, axis)
    return Mixture(np.stack([x.ravel(), y.ravel()], 1), std)


def make_mixture(name="ring", **kwargs):
    """A mixture by name ("ring" or "grid").

    Raises:
        ValueError: an unknown name.
    """
    if name not in MIXTURES:
        raise ValueError(f"Unknown mixture {name!r}; expected one of {sorted(MIXTURES)}.")
    return MIXTURES[name](**kwargs)
