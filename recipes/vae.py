r"""Trains a VAE: `python -m recipes.vae` (built-in digits, a few minutes on a CPU).

    python -m recipes.vae --dataset=celeb_a --likelihood=gaussian --latent_dim=128 \
        --batch_size=256 --strategy=mirrored --model_dir=runs/vae_celeba
"""

from absl import app
from absl import flags

from recipes import flags as recipe_flags
from zoo import distributions
from zoo import networks
from zoo.tasks import vae as vae_task

FLAGS = flags.FLAGS
recipe_flags.define_run_flags(model_dir="runs/vae", epochs=30)
flags.DEFINE_integer("latent_dim", 16, "Size of z.")
flags.DEFINE_enum("likelihood", "bernoulli", sorted(distributions.LIKELIHOODS),
                  "p(x|z): bernoulli (binarized data), gaussian (learned per-pixel variance), "
                  "gaussian_fixed (least squares), discretized_logistic (8-bit), "
                  "continuous_bernoulli.")
flags.DEFINE_float("fixed_scale", 0.1, "Standard deviation of --likelihood=gaussian_fixed.")
flags.DEFINE_enum("prior", "standard_normal", sorted(distributions.PRIORS), "p(z).")
flags.DEFINE_enum("network", "conv", sorted(networks.ENCODERS), "Encoder/decoder kind.")
flags.DEFINE_integer("base_filters", 32, "Filters of the first convolution.")
flags.DEFINE_float("beta", 1.0, "Weight of the KL term (beta-VAE; 1 is the ELBO).")
flags.DEFINE_integer("kl_warmup_steps", 0, "Steps over which the KL weight ramps up to beta.")
flags.DEFINE_integer("importance_samples", 500,
                     "K of the importance-weighted log-likelihood estimate at the end.")
for _name in ("latent_dim", "base_filters", "importance_samples", "fixed_scale"):
    flags.register_validator(_name, lambda value: value > 0,
                             message=f"--{_name} must be positive.")
flags.register_validator("beta", lambda value: value >= 0, message="--beta must be >= 0.")
flags.register_validator("kl_warmup_steps", lambda value: value >= 0,
                         message="--kl_warmup_steps must be >= 0.")


def main(argv):
    del argv  # Unused.
    likelihood = FLAGS.likelihood
    if likelihood == "gaussian_fixed":
        likelihood = distributions.FixedVarianceGaussian(FLAGS.fixed_scale)
    config = recipe_flags.run_config(
        model_kwargs=dict(latent_dim=FLAGS.latent_dim, likelihood=likelihood,
                          prior=FLAGS.prior, network=FLAGS.network,
                          base_filters=FLAGS.base_filters, beta=FLAGS.beta,
                          kl_warmup_steps=FLAGS.kl_warmup_steps),
        eval_kwargs=dict(importance_samples=FLAGS.importance_samples))
    results = recipe_flags.run_or_exit(vae_task.TASK, config)
    print(f"test ELBO: {results['elbo']:.2f} nats ({results['elbo_bits_per_dim']:.3f} bits/dim)")
    print(f"test log p(x) >= {results['log_likelihood']:.2f} nats "
          f"({results['bits_per_dim']:.3f} bits/dim), importance-weighted, "
          f"K={results['importance_samples']}, {results['num_examples']} images")
    print(f"model directory: {FLAGS.model_dir}; SavedModel: {results['export_path']}")


if __name__ == "__main__":
    app.run(main)
