r"""Trains a DCGAN: `python -m recipes.dcgan` (built-in digits, a few minutes on a CPU).

    python -m recipes.dcgan --dataset=celeb_a --batch_size=128 --epochs=20 \
        --strategy=mirrored --model_dir=runs/dcgan_celeba
    python -m recipes.dcgan --loss=weighted_jensen_shannon --pi=0.3
    python -m recipes.dcgan --dataset=cifar10 --inception_weights=PATH/inception_v3_notop.h5
"""

import dataclasses
import os

from absl import app
from absl import flags

from recipes import flags as recipe_flags
from zoo import networks
from zoo.losses import f_divergences
from zoo.losses import objectives
from zoo.tasks import dcgan as dcgan_task

FLAGS = flags.FLAGS
recipe_flags.define_run_flags(model_dir="runs/dcgan", epochs=60, batch_size=64,
                              learning_rate=2e-4)
flags.DEFINE_integer("latent_dim", 64, "Size of z ~ N(0, I).")
flags.DEFINE_enum("loss", "non_saturating", list(objectives.NAMES),
                  "minimax (saturating log(1 - D(G(z)))), non_saturating (-log D(G(z))), or an "
                  "f-GAN divergence: " + ", ".join(f_divergences.NAMES) + ".")
flags.DEFINE_enum("generator_update", "saddle", list(f_divergences.GENERATOR_UPDATES),
                  "f-GAN only: saddle (-f*(g_f(v))) or alternative (-g_f(v)).")
flags.DEFINE_float("pi", None, "Weight of the data in --loss=weighted_jensen_shannon, in "
                   "(0, 1); default 0.5.")
flags.DEFINE_integer("base_filters", 64, "Filters of the discriminator's first convolution.")
flags.DEFINE_float("d_learning_rate", 1e-4, "Discriminator Adam learning rate (when "
                   "--learning_rate is given and this is not, that one).")
flags.DEFINE_float("g_learning_rate", 4e-4, "Generator Adam learning rate (when "
                   "--learning_rate is given and this is not, that one).")
flags.DEFINE_float("beta1", 0.5, "Adam beta_1 of both optimizers (Radford et al.: 0.5).")
flags.DEFINE_float("beta2", 0.999, "Adam beta_2 of both optimizers.")
flags.DEFINE_integer("d_steps", 1, "Discriminator updates per generator update; each takes "
                     "batch_size / d_steps real images.")
flags.DEFINE_float("ema_decay", 0.999, "Decay of the generator's weight average used for "
                   "samples and export; 0 turns it off.")
flags.DEFINE_integer("fid_samples", 2000, "At most this many images per set for the "
                     "Fréchet distances.")
flags.DEFINE_integer("fid_classifier_epochs", None, "Epochs of the offline feature classifier "
                     "(default: by dataset size, 2 to 15).")
flags.DEFINE_string("inception_weights", None, "Keras InceptionV3 no-top weights file for the "
                    "standard FID (never downloaded).")

for _name in ("latent_dim", "base_filters", "d_steps", "fid_samples", "d_learning_rate",
              "g_learning_rate", "fid_classifier_epochs"):  # --learning_rate: shared flags.
    flags.register_validator(_name, lambda value: value is None or value > 0,
                             message=f"--{_name} must be positive.")
for _name in ("beta1", "beta2", "ema_decay"):
    flags.register_validator(_name, lambda value: 0.0 <= value < 1.0,
                             message=f"--{_name} must be in [0, 1).")
flags.register_validator("pi", lambda value: value is None or 0.0 < value < 1.0,
                         message="--pi must be strictly between 0 and 1.")
flags.register_validator(
    "image_size", lambda value: value is None or _halves_down(value),
    message="--image_size must halve down to 3-7 pixels (28, 32, 64, ...).")
flags.register_validator(
    "inception_weights", lambda value: value is None or os.path.isfile(value),
    message="--inception_weights must name an existing InceptionV3 weights file.")
flags.register_multi_flags_validator(
    ["batch_size", "d_steps"], lambda f: f["batch_size"] % f["d_steps"] == 0,
    message="--batch_size must be a multiple of --d_steps.")
flags.register_multi_flags_validator(
    ["loss", "pi"], lambda f: f["loss"] == "weighted_jensen_shannon" or f["pi"] is None,
    message="--pi only applies to --loss=weighted_jensen_shannon.")
flags.register_multi_flags_validator(
    ["loss", "generator_update"], lambda f: f["loss"] in f_divergences.NAMES or
    f["generator_update"] == "saddle",
    message="--generator_update only applies to f-GAN losses; use --loss=minimax or "
            "--loss=non_saturating for the classic generator costs.")


def _halves_down(size):
    try:
        networks.downsampling_plan(size)
    except ValueError:
        return False
    return True


def _learning_rates():
    """(D, G) rates: their own flags, else --learning_rate if given, else the defaults."""
    shared = FLAGS["learning_rate"].present
    return tuple(FLAGS[name].value if FLAGS[name].present or not shared else FLAGS.learning_rate
                 for name in ("d_learning_rate", "g_learning_rate"))


def _objective():
    if FLAGS.loss not in f_divergences.NAMES:
        return objectives.Objective(FLAGS.loss)
    kwargs = {"generator_update": FLAGS.generator_update}
    if FLAGS.pi is not None:
        kwargs["pi"] = FLAGS.pi
    return objectives.Objective(FLAGS.loss, **kwargs)


def main(argv):
    del argv  # Unused.
    base = recipe_flags.run_config(
        model_kwargs=dict(latent_dim=FLAGS.latent_dim, objective=_objective(),
                          base_filters=FLAGS.base_filters, d_steps=FLAGS.d_steps,
                          ema_decay=FLAGS.ema_decay),
        eval_kwargs=dict(fid_samples=FLAGS.fid_samples,
                         inception_weights=FLAGS.inception_weights,
                         classifier_epochs=FLAGS.fid_classifier_epochs))
    config = dcgan_task.GANRunConfig(
        **{field.name: getattr(base, field.name) for field in dataclasses.fields(base)},
        beta1=FLAGS.beta1, beta2=FLAGS.beta2)
    config.d_learning_rate, config.g_learning_rate = _learning_rates()
    results = recipe_flags.run_or_exit(dcgan_task.TASK, config)
    count, train = results["fid_samples"], results["fid_train_images"]
    if "frechet_distance" in results:
        print(f"Fréchet distance (classifier features, {count} generated vs {train} real "
              f"training images): {results['frechet_distance']:.2f}; untrained generator "
              f"{results['frechet_distance_untrained']:.2f}; {count} real test images score "
              f"{results['frechet_distance_reference']:.2f}")
    else:
        print("Fréchet distance: no labels to train the offline feature network on; pass "
              "--inception_weights for the standard FID.")
    if "fid" in results:
        print(f"FID (InceptionV3 pool features): {results['fid']:.2f}; untrained generator "
              f"{results['fid_untrained']:.2f}; real test images score "
              f"{results['fid_reference']:.2f}")
    print(recipe_flags.outputs_line(results))


if __name__ == "__main__":
    app.run(main)
