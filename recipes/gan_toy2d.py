r"""GANs on a 2-D ring of Gaussians: which losses cover the modes? `python -m recipes.gan_toy2d`.

    python -m recipes.gan_toy2d --loss=minimax,non_saturating,kl,reverse_kl
    python -m recipes.gan_toy2d --compare            # every loss and f-divergence
    python -m recipes.gan_toy2d --mixture=grid --num_modes=25 --std=0.05

Trains one `zoo.tasks.gan_toy2d.GANToy2DTask` per loss (and seed) in
MODEL_DIR/LOSS (MODEL_DIR/LOSS/seed_N with --num_seeds > 1), prints modes
covered, the share of high-quality samples (within 3 sigma of a mode) and the
Jensen-Shannon divergence of the mode histogram per loss, and writes
MODEL_DIR/samples.png (one scatter plot per loss) and results.json. The other
flags: `GANToy2DConfig`; `--output_dir` is the old name of `--model_dir`.
"""

import dataclasses
import json
import os
import sys

from absl import app
from absl import flags

from recipes import flags as recipe_flags
from zoo.losses import f_divergences
from zoo.losses import objectives
from zoo.tasks import gan_toy2d

FLAGS = flags.FLAGS
recipe_flags.define_flags(gan_toy2d.GANToy2DConfig, skip=("loss",))
flags.DEFINE_list("loss", ["minimax", "non_saturating"],
                  "Comma-separated losses to compare: " + ", ".join(objectives.NAMES) + ".")
flags.DEFINE_boolean("compare", False, "Compare every loss and f-divergence (overrides --loss).")
flags.DEFINE_integer("num_seeds", 1, "Runs per loss (seeds seed, seed + 1, ...), averaged.")
flags.DEFINE_string("output_dir", None, "The old name of --model_dir (overrides it).")
flags.register_validator(
    "loss", lambda names: bool(names) and all(n in objectives.NAMES for n in names),
    message="--loss must be a comma-separated list of " + ", ".join(objectives.NAMES) + ".")
flags.register_validator("num_seeds", lambda value: value > 0,
                         message="--num_seeds must be positive.")


def main(argv):
    del argv  # Unused.
    losses = objectives.NAMES if FLAGS.compare else tuple(FLAGS.loss)
    try:
        base = recipe_flags.config_from_flags(gan_toy2d.GANToy2DConfig, loss=losses[0])
    except (ValueError, TypeError) as error:
        sys.exit(f"error: {error}")
    model_dir = FLAGS.output_dir or base.model_dir
    runs, samples = {}, {}
    for loss in losses:
        # The f-GAN options are left at their defaults for the classic games.
        options = {} if loss in f_divergences.NAMES else {"generator_update": "saddle",
                                                           "pi": None}
        for seed in range(base.seed, base.seed + FLAGS.num_seeds):
            folder = os.path.join(model_dir, loss, *([f"seed_{seed}"] * (FLAGS.num_seeds > 1)))
            task = gan_toy2d.GANToy2DTask(dataclasses.replace(
                base, loss=loss, seed=seed, model_dir=folder, **options))
            runs.setdefault(loss, []).append(recipe_flags.run_or_exit(task))
            samples.setdefault(loss, task.samples)
    results = gan_toy2d.compare(runs)
    with open(os.path.join(model_dir, "results.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    gan_toy2d.plot(os.path.join(model_dir, "samples.png"), samples, base.make_mixture(),
                   results)
    print("\n".join(gan_toy2d.table(results, FLAGS.num_seeds)))
    print(f"scatter plots: {model_dir}/samples.png; runs: {model_dir}/LOSS")


if __name__ == "__main__":
    app.run(main)
