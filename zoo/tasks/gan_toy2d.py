r"""The lecture's "1D/2D intuition" made measurable: a GAN on a 2-D mixture of Gaussians.

The data are a mixture of well-separated Gaussian modes (`zoo.data.mixtures`:
a ring of 8, Metz et al. 2017, or a 5x5 grid, Srivastava et al. 2017); small
MLP players (`zoo.models.gan.MLPGAN`) play one objective of
`zoo.losses.objectives`. Because the modes are known, the samples are judged
directly (`zoo.metrics.modes`: modes covered, high-quality share, mode JSD).

The runner trains it like every model (`epochs` = 1 of `steps` generator
steps, checkpoints, history, export of the generator on 2-D points); the
task's data are the mixture's streams and its plot is a scatter of the
judged samples, `MODEL_DIR/samples.png`. `recipes.gan_toy2d` runs one task
per loss (and seed) and compares them (`compare`, `table`).

References:
    Metz, Poole, Pfau & Sohl-Dickstein (2017), Unrolled Generative
    Adversarial Networks (the ring of 8 Gaussians, sigma 0.02, radius 2).
    Srivastava, Valkov, Russell, Gutmann & Sutton (2017), VEEGAN.
"""

import dataclasses
import os
from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

from zoo import checks
from zoo import images
from zoo.data import mixtures
from zoo.metrics import modes
from zoo.models import gan
from zoo.tasks import gan as gan_task
from zoo.train import task

__all__ = ["GANToy2DConfig", "GANToy2DTask", "compare", "table", "plot"]

_MEANS = ("modes_covered", "high_quality_share", "mode_jsd")


@dataclasses.dataclass
class GANToy2DConfig(gan_task.GANConfig):
    """One GAN on the 2-D toy: `python -m recipes.gan_toy2d` runs one per loss."""
    default_learning_rates = (1e-3, 1e-3)

    model_dir: str = "runs/gan_toy2d"
    epochs: int = 1
    steps_per_epoch: Optional[int] = task.setting(
        3000, "Generator steps (per epoch).", check=checks.positive_int, flag="steps")
    global_batch_size: int = task.setting(
        256, "Real and generated points per discriminator step.", check=checks.positive_int,
        flag="batch_size")
    verbose: int = 0
    latent_dim: int = 2
    ema_decay: float = 0.0
    d_steps: int = task.setting(
        1, "Discriminator updates per generator update, each on batch_size real points.",
        model=True, check=checks.positive_int)
    hidden: Tuple[int, ...] = task.setting((128, 128), "Units of each ReLU layer of both "
                                           "players.", model=True)
    mixture: str = task.setting("ring", "Layout of the Gaussian modes.",
                                choices=tuple(sorted(mixtures.MIXTURES)))
    num_modes: int = task.setting(8, "Number of modes (a square number for a grid).",
                                  check=checks.positive_int)
    radius: float = task.setting(2.0, "Radius of the ring, or half the side of the grid.",
                                 check=checks.finite_positive)
    std: float = task.setting(0.02, "Standard deviation of each mode.",
                              check=checks.finite_positive)
    num_samples: int = task.setting(2500, "Samples judged.", check=checks.positive_int)

    def __post_init__(self):
        super().__post_init__()
        if self.pi is not None and not 0.0 < self.pi < 1.0:
            raise ValueError(f"pi must be strictly between 0 and 1; got {self.pi}.")
        self.make_mixture()  # A grid of a non-square number fails here.

    def make_mixture(self):
        """The `zoo.data.mixtures.Mixture` the settings describe."""
        return mixtures.make_mixture(self.mixture, num_modes=self.num_modes,
                                     radius=self.radius, std=self.std)


class GANToy2DTask(gan_task.GANTask):
    """An `MLPGAN` on the config's mixture, judged by its modes; keeps its samples in `samples`."""
    name = "gan_toy2d"
    config_class = GANToy2DConfig

    def load_splits(self):
        """The mixture, for training and for validation (streams, not files)."""
        mixture = self.config.make_mixture()
        return mixture, mixture

    def build_model(self, source):
        config = self.config
        return gan.MLPGAN(config.latent_dim, config.hidden, objective=config.objective(),
                          d_steps=config.d_steps, ema_decay=config.ema_decay, seed=config.seed)

    def batches(self, model, source, training, **unused):
        """`batch_size` * `d_steps` points a step: endless for training, one batch to validate."""
        points = source.dataset(self.config.global_batch_size * model.d_steps,
                                self.config.seed + (0 if training else 1))
        return points.prefetch(tf.data.AUTOTUNE) if training else points.take(1)

    def sample_callbacks(self, model, data, is_chief):
        return []  # The scatter plot is drawn of the judged samples (`evaluate`).

    def evaluate(self, model, data):
        """`zoo.metrics.modes.mode_statistics` of `num_samples` samples; plots them."""
        config = self.config
        self.samples = model.sample(config.num_samples, seed=config.seed + 1).numpy()
        results = modes.mode_statistics(self.samples, data.train.modes, data.train.std)
        results.update(seed=config.seed, steps=config.steps_per_epoch)
        plot(os.path.join(config.model_dir, "samples.png"), {config.loss: self.samples},
             data.train, {config.loss: results})
        return results

    def report(self, results):
        return table({self.config.loss: results})


def compare(runs):
    """{loss: [results of each seed]} -> {loss: means of `_MEANS`, num_modes, steps, runs}."""
    return {loss: {**{key: float(np.mean([r[key] for r in results])) for key in _MEANS},
                   "num_modes": results[0]["num_modes"], "steps": results[0]["steps"],
                   "runs": results}
            for loss, results in runs.items()}


def table(results, num_seeds=1):
    """Lines of modes covered, high-quality share and mode JSD per loss."""
    runs = "" if num_seeds == 1 else f" (means of {num_seeds} runs)"
    lines = [f"{'loss':<26} {'modes covered':>13} {'high quality':>12} {'mode JSD':>9}{runs}"]
    for name, result in results.items():
        lines.append(f"{name:<26} {result['modes_covered']:>7.1f} / {result['num_modes']:<3d}"
                     f" {100 * result['high_quality_share']:>11.1f}% {result['mode_jsd']:>9.3f}")
    return lines


def plot(path, samples, mixture, results):
    """A scatter plot per loss of `samples` over the modes' 3-sigma discs, titled by `results`."""
    titles = {}
    for name, points in samples.items():
        first = results[name].get("runs", [results[name]])[0]
        titles[(f"{name}\n{first['modes_covered']}/{mixture.num_modes} modes, "
                f"{100 * first['high_quality_share']:.0f}% high quality")] = points
    return images.plot_points(path, titles, mixture.modes, 3 * mixture.std)
