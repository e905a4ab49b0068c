r"""Trains a VAE: `python -m recipes.vae` (built-in digits, a few minutes on a CPU).

    python -m recipes.vae --dataset=celeb_a --likelihood=gaussian --latent_dim=128 \
        --batch_size=256 --strategy=mirrored --model_dir=runs/vae_celeba
"""

from absl import app
from absl import flags

from recipes import flags as recipe_flags
from zoo.metrics import likelihood
from zoo.tasks import vae as vae_task

FLAGS = flags.FLAGS
recipe_flags.define_run_flags(model_dir="runs/vae", epochs=30)
flags.DEFINE_integer("latent_dim", 16, "Size of z.")
recipe_flags.define_vae_flags(likelihood="bernoulli")
flags.DEFINE_integer("importance_samples", 500,
                     "K of the importance-weighted log-likelihood estimate at the end.")
flags.DEFINE_integer("dequantization_draws", 1,
                     "Uniform dequantization draws per test image for density likelihoods.")
for _name in ("latent_dim", "importance_samples", "dequantization_draws"):
    flags.register_validator(_name, lambda value: value > 0,
                             message=f"--{_name} must be positive.")


def main(argv):
    del argv  # Unused.
    config = recipe_flags.run_config(
        model_kwargs=dict(latent_dim=FLAGS.latent_dim, **recipe_flags.vae_model_kwargs()),
        eval_kwargs=dict(importance_samples=FLAGS.importance_samples,
                         dequantization_draws=FLAGS.dequantization_draws))
    results = recipe_flags.run_or_exit(vae_task.TASK, config)
    print("\n".join(likelihood.report_lines(results)))
    print(recipe_flags.outputs_line(results))


if __name__ == "__main__":
    app.run(main)
