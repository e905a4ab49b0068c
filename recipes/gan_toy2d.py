r"""GANs on a 2-D ring of Gaussians: which losses cover the modes? `python -m recipes.gan_toy2d`.

    python -m recipes.gan_toy2d --loss=minimax,non_saturating,kl,reverse_kl
    python -m recipes.gan_toy2d --compare            # every loss and f-divergence
    python -m recipes.gan_toy2d --mixture=grid --num_modes=25 --std=0.05

Prints modes covered, the share of high-quality samples (within 3 sigma of a
mode) and the Jensen-Shannon divergence of the mode histogram per loss, and
writes OUTPUT_DIR/samples.png (one scatter plot per loss), results.json and
config.json.
"""

from absl import app
from absl import flags

from zoo import toy2d
from zoo.losses import f_divergences
from zoo.losses import objectives

FLAGS = flags.FLAGS
flags.DEFINE_list("loss", ["minimax", "non_saturating"],
                  "Comma-separated losses to compare: " + ", ".join(objectives.NAMES) + ".")
flags.DEFINE_boolean("compare", False, "Compare every loss and f-divergence (overrides --loss).")
flags.DEFINE_enum("mixture", "ring", sorted(toy2d.MIXTURES), "Layout of the Gaussian modes.")
flags.DEFINE_integer("num_modes", 8, "Number of modes (a square number for a grid).")
flags.DEFINE_float("radius", 2.0, "Radius of the ring, or half the side of the grid.")
flags.DEFINE_float("std", 0.02, "Standard deviation of each mode.")
flags.DEFINE_integer("steps", 3000, "Generator steps per loss.")
flags.DEFINE_integer("batch_size", 256, "Real and generated points per step.")
flags.DEFINE_integer("latent_dim", 2, "Size of z.")
flags.DEFINE_float("d_learning_rate", 1e-3, "Discriminator Adam learning rate.")
flags.DEFINE_float("g_learning_rate", 1e-3, "Generator Adam learning rate.")
flags.DEFINE_integer("d_steps", 1, "Discriminator updates per generator update.")
flags.DEFINE_enum("generator_update", "saddle", list(f_divergences.GENERATOR_UPDATES),
                  "f-GAN generator loss: saddle (-f*(g_f(v))) or alternative (-g_f(v)).")
flags.DEFINE_float("pi", None, "Weight of the data in weighted_jensen_shannon (default 0.5).")
flags.DEFINE_integer("num_samples", 2500, "Samples judged per loss.")
flags.DEFINE_integer("seed", 0, "Seed of initialisation, data and noise (of the first run).")
flags.DEFINE_integer("num_seeds", 1, "Runs per loss (seeds seed, seed + 1, ...), averaged.")
flags.DEFINE_string("output_dir", "runs/gan_toy2d", "Where results and the scatter plot go.")

for _name in ("num_modes", "steps", "batch_size", "latent_dim", "d_steps", "num_samples",
              "num_seeds",
              "std", "radius", "d_learning_rate", "g_learning_rate"):
    flags.register_validator(_name, lambda value: value > 0,
                             message=f"--{_name} must be positive.")
flags.register_validator(
    "loss", lambda names: bool(names) and all(n in objectives.NAMES for n in names),
    message="--loss must be a comma-separated list of " + ", ".join(objectives.NAMES) + ".")
flags.register_validator("pi", lambda value: value is None or 0.0 < value < 1.0,
                         message="--pi must be strictly between 0 and 1.")


def main(argv):
    del argv  # Unused.
    losses = objectives.NAMES if FLAGS.compare else tuple(FLAGS.loss)
    config = toy2d.ToyConfig(
        losses=tuple(losses), mixture=FLAGS.mixture, num_modes=FLAGS.num_modes,
        radius=FLAGS.radius, std=FLAGS.std, steps=FLAGS.steps, batch_size=FLAGS.batch_size,
        latent_dim=FLAGS.latent_dim, d_learning_rate=FLAGS.d_learning_rate,
        g_learning_rate=FLAGS.g_learning_rate, d_steps=FLAGS.d_steps,
        generator_update=FLAGS.generator_update, pi=FLAGS.pi, num_samples=FLAGS.num_samples,
        seed=FLAGS.seed, num_seeds=FLAGS.num_seeds)
    try:
        results = toy2d.run(config, FLAGS.output_dir)
    except ValueError as error:
        raise app.UsageError(str(error))
    runs = "" if FLAGS.num_seeds == 1 else f" (means of {FLAGS.num_seeds} runs)"
    print(f"{'loss':<26} {'modes covered':>13} {'high quality':>12} {'mode JSD':>9}{runs}")
    for name, result in results.items():
        print(f"{name:<26} {result['modes_covered']:>7.1f} / {result['num_modes']:<3d}"
              f" {100 * result['high_quality_share']:>11.1f}% {result['mode_jsd']:>9.3f}")
    print(f"scatter plots: {FLAGS.output_dir}/samples.png")


if __name__ == "__main__":
    app.run(main)
