"""The VAE's task: its settings, the model they build, and the likelihood it is judged by.

`VAEFamilyConfig` holds the settings of every model built on `zoo.VAE`
(likelihood, prior, networks, beta and its warm-up); `VAEConfig` adds the
VAE's latent size and its evaluation: the importance-weighted bound of
Burda, Grosse & Salakhutdinov (2016),

    log p(x) >= E[log (1/K) sum_k p(x, z_k) / q(z_k | x)],  z_k ~ q(z | x),

on 8-bit (or binarized) test images (`zoo.metrics.likelihood`).
"""

import dataclasses

from zoo import checks
from zoo import distributions
from zoo import networks
from zoo.metrics import likelihood
from zoo.models import vae
from zoo.tasks import latent_figures
from zoo.train import task

__all__ = ["VAEFamilyConfig", "VAEConfig", "VAETask", "vae_arguments"]


@dataclasses.dataclass
class VAEFamilyConfig(task.RunConfig):
    """The settings of every model built on `zoo.VAE`."""
    likelihood: str = task.setting(
        "bernoulli", "The likelihood: bernoulli (binarized data), gaussian (learned "
        "per-pixel variance), gaussian_fixed (least squares), discretized_logistic (8-bit "
        "RGB), continuous_bernoulli.", model=True, choices=tuple(sorted(distributions.LIKELIHOODS)))
    fixed_scale: float = task.setting(
        0.1, "Standard deviation of --likelihood=gaussian_fixed.", model=True,
        check=checks.finite_positive)
    prior: str = task.setting("standard_normal", "p(z).", model=True,
                              choices=tuple(sorted(distributions.PRIORS)))
    network: str = task.setting(
        "conv", "Encoder/decoder kind: conv (DCGAN-shaped), coord (the conv encoder; a "
        "decoder with pixel coordinates at every resolution, which draws shapes' edges "
        "sooner), mlp.", model=True, choices=tuple(sorted(networks.ENCODERS)))
    base_filters: int = task.setting(32, "Filters of the first convolution.", model=True)
    beta: float = task.setting(1.0, "Weight of the KL term (beta-VAE; 1 is the ELBO).",
                               model=True)
    kl_warmup_steps: int = task.setting(
        0, "Steps over which the KL weight ramps up to beta.", model=True)
    posterior: str = task.setting(
        "diagonal", "q(z | x): diagonal (Gaussian) or iaf (that Gaussian through an inverse "
        "autoregressive flow, Kingma et al. 2016; not for dcign, discvae).", model=True,
        choices=vae.POSTERIORS)
    flow_steps: int = task.setting(2, "K, the IAF steps of --posterior=iaf.", model=True,
                                   check=checks.positive_int)
    flow_hidden: int = task.setting(
        64, "Width of the two hidden layers of each IAF step's MADE.", model=True,
        check=checks.positive_int)
    free_bits: float = task.setting(
        0.0, "Free bits: floor, in nats, of each latent group's batch-average KL in the "
        "objective (0: off; the reported ELBO is the true one).", model=True,
        check=checks.finite_non_negative)

    def require_diagonal_posterior(self, model_name):
        """Refuses --posterior=iaf for a model whose posterior cannot take a flow."""
        if self.posterior != "diagonal":
            raise ValueError(f"posterior={self.posterior!r} is not allowed for {model_name}; "
                             "expected diagonal (docs/iaf.md says why).")


def vae_arguments(config):
    """The `zoo.VAE` keyword arguments that a `VAEFamilyConfig` describes."""
    chosen = config.likelihood
    if chosen == "gaussian_fixed":
        chosen = distributions.FixedVarianceGaussian(config.fixed_scale)
    return dict(likelihood=chosen, prior=config.prior, network=config.network,
                base_filters=config.base_filters, beta=config.beta,
                kl_warmup_steps=config.kl_warmup_steps, posterior=config.posterior,
                flow_steps=config.flow_steps,
                flow_hidden=(config.flow_hidden, config.flow_hidden),
                free_bits=config.free_bits)


@dataclasses.dataclass
class VAEConfig(VAEFamilyConfig):
    """A VAE run: `python -m recipes.vae`."""
    model_dir: str = "runs/vae"
    epochs: int = 30
    latent_dim: int = task.setting(16, "Size of z.", model=True)
    importance_samples: int = task.setting(
        500, "K of the importance-weighted log-likelihood estimate at the end.",
        check=checks.positive_int)
    dequantization_draws: int = task.setting(
        1, "Uniform dequantization draws per test image for density likelihoods.",
        check=checks.positive_int)


class VAETask(task.Task):
    """A `zoo.VAE`, judged by its bounds on log p(x) of the test images.

    The run ends with the latent-space figures of `zoo.tasks.latent_figures`
    (interpolations, traversals by KL, attribute vectors) on the first
    `latent_examples` test images, in MODEL_DIR/latents and MODEL_DIR/logs/latents.
    """
    name = "vae"
    config_class = VAEConfig
    latent_examples = 256  # Test images the latent figures and the KL per dimension use.

    def build_model(self, source):
        return vae.VAE(self.image_shape(source), latent_dim=self.config.latent_dim,
                       seed=self.config.seed, **vae_arguments(self.config))

    def evaluate(self, model, data):
        """The likelihood bounds, then the latent figures and the KL per dimension."""
        config = self.config
        results = likelihood.evaluate_likelihood(
            model, data.test_batches, max_batches=config.eval_batches,
            seed=config.seed, num_samples=config.importance_samples,
            dequantization_draws=config.dequantization_draws)
        if config.model_dir:
            batch = latent_figures.held_out_batch(self, model, data.test, self.latent_examples)
            results.update(latent_figures.write_latent_figures(
                model, batch, config.model_dir, step=config.epochs,
                attribute_names=data.test.attribute_names))
        return results

    def report(self, results):
        lines = likelihood.report_lines(results)
        if "kl_per_dimension" in results:
            lines.append(latent_figures.report_line(results))
        return lines
