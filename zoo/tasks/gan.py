"""What every GAN task shares: the game's settings and an Adam optimizer per player.

`GANConfig` holds the settings of the adversarial game (`zoo.models.gan.GAN`):
the objective of `zoo.losses.objectives` (the minimax and non-saturating
games of Goodfellow et al. 2014, or an f-GAN divergence of Nowozin et al.
2016), the discriminator steps per generator step, the generator's weight
average, and the two players' Adam rates; `GANTask` compiles a GAN with them.
The DCGAN (`zoo.tasks.dcgan`) and the 2-D toy (`zoo.tasks.gan_toy2d`) build on
both.
"""

import dataclasses
from typing import ClassVar, Optional, Tuple

import keras

from zoo import checks
from zoo.losses import f_divergences
from zoo.losses import objectives
from zoo.train import task

__all__ = ["GANConfig", "GANTask"]


@dataclasses.dataclass
class GANConfig(task.RunConfig):
    """The settings of a GAN's game and optimizers; a model's config adds its networks'."""
    # (discriminator, generator) Adam rates where neither their own nor learning_rate is set.
    default_learning_rates: ClassVar[Tuple[float, float]] = (1e-4, 4e-4)

    learning_rate: Optional[float] = task.setting(
        None, "Adam learning rate of both players, where --d_learning_rate and "
        "--g_learning_rate are not given.", check=checks.finite_positive)
    latent_dim: int = task.setting(64, "Size of z ~ N(0, I).", model=True)
    loss: str = task.setting(
        "non_saturating", "minimax (saturating log(1 - D(G(z)))), non_saturating "
        "(-log D(G(z))), or an f-GAN divergence: " + ", ".join(f_divergences.NAMES) + ".",
        model=True, choices=tuple(objectives.NAMES))
    generator_update: str = task.setting(
        "saddle", "f-GAN only: saddle (-f*(g_f(v))) or alternative (-g_f(v)).", model=True,
        choices=tuple(f_divergences.GENERATOR_UPDATES))
    pi: Optional[float] = task.setting(
        None, "Weight of the data in --loss=weighted_jensen_shannon, in (0, 1); default "
        "0.5.", model=True)
    d_steps: int = task.setting(
        1, "Discriminator updates per generator update; each takes batch_size / d_steps "
        "real images.", model=True)
    ema_decay: float = task.setting(
        0.999, "Decay of the generator's weight average used for samples and export; 0 "
        "turns it off.", model=True)
    d_learning_rate: Optional[float] = task.setting(
        None, "Discriminator Adam learning rate; default --learning_rate if given, else "
        "1e-4 (the 2-D toy: 1e-3).", check=checks.finite_positive)
    g_learning_rate: Optional[float] = task.setting(
        None, "Generator Adam learning rate; default --learning_rate if given, else 4e-4 "
        "(the 2-D toy: 1e-3).", check=checks.finite_positive)
    beta1: float = task.setting(0.5, "Adam beta_1 of both optimizers (Radford et al.: 0.5).",
                                check=checks.finite_non_negative)
    beta2: float = task.setting(0.999, "Adam beta_2 of both optimizers.",
                                check=checks.finite_non_negative)

    def __post_init__(self):
        super().__post_init__()
        for name in ("beta1", "beta2"):
            if not getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1); got {getattr(self, name)}.")

    def learning_rates(self):
        """(discriminator, generator) Adam rates: their own, else `learning_rate`, else defaults."""
        d_default, g_default = self.default_learning_rates
        return (self.d_learning_rate or self.learning_rate or d_default,
                self.g_learning_rate or self.learning_rate or g_default)

    def objective(self):
        """The `Objective` of `loss`, `generator_update` and `pi`."""
        return objectives.Objective(self.loss, generator_update=self.generator_update,
                                    pi=self.pi)


class GANTask(task.Task):
    """A GAN task: Adam for each player (`GANConfig.learning_rates`, beta1, beta2)."""
    config_class = GANConfig

    def compile(self, model):
        config = self.config

        def adam(rate):
            return keras.optimizers.Adam(rate, beta_1=config.beta1, beta_2=config.beta2)

        d_rate, g_rate = config.learning_rates()
        model.compile(d_optimizer=adam(d_rate), g_optimizer=adam(g_rate),
                      jit_compile=config.jit_compile)
