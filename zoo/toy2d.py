r"""The lecture's "1D/2D intuition" made measurable: GANs on a 2-D mixture of Gaussian modes.

Data are a mixture of K well-separated isotropic Gaussians, a `ring` of 8
modes (Metz et al. 2017) or a `grid` of 5x5 (Srivastava et al. 2017); a small
MLP generator and discriminator play any objective of
`zoo.losses.objectives` (the two classic games and every f-divergence).
Because the modes are known, the samples can be judged directly:

- high-quality share: the fraction of samples within 3 sigma of some mode;
- modes covered: modes that receive at least `min_share` of the samples
  within their 3-sigma disc (default a quarter of their fair share, 1/(4K));
- mode JSD: the Jensen-Shannon divergence (nats) between the histogram of
  samples over "near mode k" / "near no mode" and the same histogram under
  the data (each mode (1 - e^{-9/2}) / K, no mode e^{-9/2}, since a 2-D
  Gaussian puts e^{-9/2} of its mass beyond 3 sigma). 0 is a perfect match,
  log 2 disjoint histograms.

A collapsed generator shows as few modes covered with a high quality share;
a blurry one as many modes but a low quality share.

`run(config, output_dir)` trains one model per objective and writes
`results.json`, `config.json` and a scatter plot `samples.png`.

References:
    Metz, Poole, Pfau & Sohl-Dickstein (2017), Unrolled Generative
    Adversarial Networks (the ring of 8 Gaussians, sigma 0.02, radius 2).
    Srivastava, Valkov, Russell, Gutmann & Sutton (2017), VEEGAN (modes
    captured and high-quality samples within 3 standard deviations).
"""

import dataclasses
import json
import math
import os
from typing import Optional, Tuple

import keras
import numpy as np
import tensorflow as tf

from zoo import random as zoo_random
from zoo.models.gan import GAN
from zoo.losses import adversarial
from zoo.losses import f_divergences
from zoo.losses import objectives

__all__ = ["Mixture", "MIXTURES", "make_mixture", "mlp_generator", "mlp_discriminator",
           "mode_statistics", "build_gan", "train", "evaluate", "ToyConfig", "run",
           "plot_samples"]

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


def mlp_generator(latent_dim, hidden=(128, 128), name="generator"):
    """z -> a point in R^2 through ReLU layers (Metz et al. 2017's toy generator)."""
    layers = [keras.Input(shape=(latent_dim,))]
    layers += [keras.layers.Dense(units, activation="relu") for units in hidden]
    layers.append(keras.layers.Dense(2, dtype="float32"))
    return keras.Sequential(layers, name=name)


def mlp_discriminator(hidden=(128, 128), name="discriminator"):
    """A point in R^2 -> a logit, through ReLU layers."""
    layers = [keras.Input(shape=(2,))]
    layers += [keras.layers.Dense(units, activation="relu") for units in hidden]
    layers.append(keras.layers.Dense(1, dtype="float32"))
    return keras.Sequential(layers, name=name)


def mode_statistics(samples, mixture, min_share=None):
    """Modes covered, high-quality share and mode JSD of samples (see the module docstring).

    Args:
        samples: [N, 2] points.
        mixture: the `Mixture` they should come from.
        min_share: share of all samples a mode needs within 3 sigma to count
            as covered; default 1 / (4 K).

    Returns:
        dict with `modes_covered` (int), `num_modes`, `high_quality_share`,
        `mode_jsd` (nats) and `mode_shares` (list of K shares).
    """
    samples = np.asarray(samples, np.float64)
    count, num_modes = len(samples), mixture.num_modes
    min_share = 0.25 / num_modes if min_share is None else min_share
    distances = np.linalg.norm(samples[:, None, :] - mixture.modes[None], axis=-1)
    nearest = distances.argmin(axis=1)
    good = distances.min(axis=1) <= 3.0 * mixture.std
    shares = np.bincount(nearest[good], minlength=num_modes) / count
    outside = math.exp(-4.5)
    histogram = np.append(shares, 1.0 - good.mean())
    expected = np.append(np.full(num_modes, (1.0 - outside) / num_modes), outside)
    return {"modes_covered": int((shares >= min_share).sum()), "num_modes": num_modes,
            "high_quality_share": float(good.mean()),
            "mode_jsd": float(adversarial.jensen_shannon(histogram, expected)),
            "mode_shares": shares.tolist()}


def build_gan(objective="non_saturating", latent_dim=2, hidden=(128, 128), d_steps=1,
              seed=0):
    """A `GAN` with MLP players for 2-D points."""
    keras.utils.set_random_seed(seed)
    return GAN(mlp_generator(latent_dim, hidden), mlp_discriminator(hidden), latent_dim,
               objective=objective, d_steps=d_steps, seed=seed)


def train(model, mixture, steps=2000, batch_size=256, d_learning_rate=1e-3,
          g_learning_rate=1e-3, beta1=0.5, beta2=0.999, seed=0, verbose=0):
    """Compiles `model` with Adam for each player and trains it for `steps` generator steps."""
    model.compile(d_optimizer=keras.optimizers.Adam(d_learning_rate, beta_1=beta1,
                                                    beta_2=beta2),
                  g_optimizer=keras.optimizers.Adam(g_learning_rate, beta_1=beta1,
                                                    beta_2=beta2))
    data = mixture.dataset(int(batch_size) * model.d_steps, seed).prefetch(tf.data.AUTOTUNE)
    return model.fit(data, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=verbose)


def evaluate(model, mixture, num_samples=2500, seed=1):
    """`mode_statistics` of `num_samples` samples of `model`, and the samples."""
    samples = model.sample(num_samples, seed=seed).numpy()
    return mode_statistics(samples, mixture), samples


@dataclasses.dataclass
class ToyConfig:
    """One comparison on the toy: objectives, data and training schedule."""
    losses: Tuple[str, ...] = ("minimax", "non_saturating")
    mixture: str = "ring"
    num_modes: int = 8
    radius: float = 2.0
    std: float = 0.02
    steps: int = 3000
    batch_size: int = 256
    latent_dim: int = 2
    hidden: Tuple[int, ...] = (128, 128)
    d_learning_rate: float = 1e-3
    g_learning_rate: float = 1e-3
    beta1: float = 0.5
    d_steps: int = 1
    generator_update: str = "saddle"
    pi: Optional[float] = None
    num_samples: int = 2500
    seed: int = 0
    num_seeds: int = 1


def _objective(name, config):
    kwargs = {}
    if name in f_divergences.NAMES:
        kwargs["generator_update"] = config.generator_update
        if name == "weighted_jensen_shannon" and config.pi is not None:
            kwargs["pi"] = config.pi
    return objectives.Objective(name, **kwargs)


def _train_one(name, mixture, config, seed):
    """Mode statistics (plus final losses) and samples of one objective and seed."""
    model = build_gan(_objective(name, config), config.latent_dim, tuple(config.hidden),
                      config.d_steps, seed)
    history = train(model, mixture, config.steps, config.batch_size, config.d_learning_rate,
                    config.g_learning_rate, config.beta1, seed=seed)
    statistics, samples = evaluate(model, mixture, config.num_samples, seed + 1)
    final = {k: float(v[-1]) for k, v in history.history.items()}
    statistics.update(seed=seed, d_loss=final.get("d_loss"), g_loss=final.get("g_loss"))
    return statistics, samples


def run(config, output_dir=None):
    """Trains and judges one model per objective of `config.losses` and seed.

    Args:
        config: a `ToyConfig`; `num_seeds` runs (seeds `seed`, `seed` + 1,
            ...) are averaged per objective.
        output_dir: where `results.json`, `config.json` and `samples.png` (of
            the first seed) go; None writes nothing.

    Returns:
        {loss name: {"modes_covered", "high_quality_share", "mode_jsd": means
        over seeds, "num_modes", "steps", "runs": the per-seed statistics}}.
    """
    mixture = make_mixture(config.mixture, num_modes=config.num_modes, radius=config.radius,
                           std=config.std)
    results, samples = {}, {}
    for name in config.losses:
        runs = []
        for seed in range(config.seed, config.seed + config.num_seeds):
            statistics, points = _train_one(name, mixture, config, seed)
            runs.append(statistics)
            samples.setdefault(name, points)
        results[name] = {key: float(np.mean([run[key] for run in runs])) for key in (
            "modes_covered", "high_quality_share", "mode_jsd")}
        results[name].update(num_modes=mixture.num_modes, steps=config.steps, runs=runs)
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        with open(os.path.join(output_dir, "config.json"), "w") as handle:
            json.dump(dataclasses.asdict(config), handle, indent=2)
        with open(os.path.join(output_dir, "results.json"), "w") as handle:
            json.dump(results, handle, indent=2)
        plot_samples(samples, mixture, os.path.join(output_dir, "samples.png"), results)
    return results


def plot_samples(samples, mixture, path, results=None):
    """A scatter plot per objective of samples over the data's 3-sigma discs."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    from matplotlib import pyplot  # pylint: disable=import-outside-toplevel
    names = list(samples)
    columns = min(4, len(names))
    rows = math.ceil(len(names) / columns)
    figure, axes = pyplot.subplots(rows, columns, figsize=(3.2 * columns, 3.2 * rows),
                                   squeeze=False)
    extent = np.abs(mixture.modes).max() + 0.75
    for axis in axes.ravel():
        axis.axis("off")
    for axis, name in zip(axes.ravel(), names):
        axis.axis("on")
        for centre in mixture.modes:
            axis.add_patch(pyplot.Circle(centre, 3 * mixture.std, color="tab:orange",
                                         alpha=0.35, linewidth=0))
        points = samples[name]
        axis.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, color="tab:blue")
        title = name
        if results and name in results:
            first = results[name].get("runs", [results[name]])[0]
            title += (f"\n{first['modes_covered']}/{mixture.num_modes} modes, "
                      f"{100 * first['high_quality_share']:.0f}% high quality")
        axis.set_title(title, fontsize=9)
        axis.set_xlim(-extent, extent)
        axis.set_ylim(-extent, extent)
        axis.set_aspect("equal")
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path
