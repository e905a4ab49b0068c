r"""Trains a DC-IGN: `python -m recipes.dcign` (built-in shapes, a few minutes on a CPU).

Named latents learn named factors from clamped one-factor batches, and a
plain VAE of the same size and budget is trained for comparison:

    python -m recipes.dcign --factors=scale,position_x,position_y --intrinsic_dim=6
    python -m recipes.dcign --dataset=smallnorb --factors=elevation,azimuth,lighting \
        --intrinsic_dim=16 --image_size=64 --likelihood=bernoulli --strategy=mirrored
"""

import sys

from absl import app
from absl import flags

from recipes import flags as recipe_flags
from zoo.models import dcign
from zoo.data.source import DatasetUnavailableError
from zoo.metrics import likelihood
from zoo.tasks import dcign as dcign_task
from zoo.train import runner

FLAGS = flags.FLAGS
recipe_flags.define_run_flags(model_dir="runs/dcign", dataset="shapes", epochs=6,
                              batch_size=64, learning_rate=1e-3)
flags.FLAGS.set_default("steps_per_epoch", 250)
flags.DEFINE_list("factors", [],
                  "Named factor groups, in latent order: NAME or NAME:SIZE, e.g. "
                  "scale,rotation:2. Default: every factor of the data but the intrinsic ones "
                  "(shapes: scale, position_x, position_y; dsprites: all but shape; smallnorb: "
                  "elevation, azimuth, lighting).")
flags.DEFINE_integer("factor_dim", 1, "Size of each factor group given without :SIZE.")
flags.DEFINE_integer("intrinsic_dim", 8, "Size of the intrinsic group (shape, colour, identity).")
flags.DEFINE_boolean("clamp", True, "Clamp the inactive groups on one-factor batches "
                     "(false: the same batches, unclamped).")
flags.DEFINE_enum("clamp_to", "mean", dcign.CLAMP_TARGETS,
                  "mean: the batch mean (paper); first: the batch's first sample (authors' code).")
flags.DEFINE_float("invariance_strength", 1.0,
                   "Weight (nats per example of the global batch, at every --minibatches) of "
                   "the pull of clamped outputs toward their minibatch's statistic; 0: no "
                   "gradient to clamped units (authors' code default).")
flags.DEFINE_float("intrinsic_ratio", 3.0,
                   "How often intrinsic batches are drawn relative to one named factor's "
                   "(the paper: about 10 for faces).")
flags.DEFINE_integer("minibatches", 8,
                     "One-factor minibatches per global batch, each clamped to its own batch "
                     "mean (1: the whole batch is one, as in the paper; more: one step "
                     "averages several of the paper's steps and sees more scenes).")
recipe_flags.define_vae_flags(likelihood="gaussian_fixed")
flags.DEFINE_integer("importance_samples", 20,
                     "K of the importance-weighted log-likelihood estimate at the end.")
flags.DEFINE_integer("disentanglement_examples", 10_000,
                     "Held-out images for the correlations and MIG (at most).")
flags.DEFINE_boolean("compare_vae", True,
                     "Also train a plain VAE of the same size and budget, and compare.")
for _name in ("factor_dim", "intrinsic_dim", "minibatches", "importance_samples",
              "disentanglement_examples"):
    flags.register_validator(_name, lambda value: value > 0,
                             message=f"--{_name} must be positive.")
for _name in ("invariance_strength", "intrinsic_ratio"):
    flags.register_validator(_name, lambda value: value >= 0,
                             message=f"--{_name} must be >= 0.")


flags.register_multi_flags_validator(
    ["batch_size", "minibatches"],
    lambda values: (values["batch_size"] or 0) % max(1, values["minibatches"] or 1) == 0,
    message="--batch_size must be a multiple of --minibatches.")


def _valid_group(text):
    name, _, size = text.partition(":")
    return bool(name) and (not size or (size.isdigit() and int(size) > 0))


flags.register_validator(
    "factors", lambda values: all(_valid_group(v) for v in values),
    message="--factors takes NAME or NAME:SIZE entries with a positive SIZE, "
            "e.g. scale,rotation:2.")


def _factor_groups():
    groups = []
    for text in FLAGS.factors:
        name, _, size = text.partition(":")
        groups.append([name, int(size) if size else FLAGS.factor_dim])
    return groups


def _number(value):
    return "-" if value is None else f"{value:.3f}"


def _table(results):
    """Per factor: DC-IGN's own-latent r, best single-latent r (both models), MIG gaps."""
    ours, vae = results["dcign"], results.get("vae")
    header = ["factor", "DC-IGN r", "DC-IGN best r", "DC-IGN gap"]
    if vae:
        header += ["VAE best r", "VAE gap"]
    rows = [header]
    for name in ours["factor_names"]:
        row = [name, _number(ours["factor_correlations"].get(name)),
               _number(ours["best_latent_correlations"][name]),
               _number(ours["mig_per_factor_all_factors"][name])]
        if vae:
            row += [_number(vae["best_latent_correlations"][name]),
                    _number(vae["mig_per_factor_all_factors"][name])]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(width) if i else cell.ljust(width)
                               for i, (cell, width) in enumerate(zip(row, widths)))
                     for row in rows)


def _scores(results, suffix):
    keys = ("mig", "dci_disentanglement", "dci_completeness")
    lines = []
    for label, model in (("DC-IGN", "dcign"), ("plain VAE", "vae")):
        if model in results:
            values = ", ".join(
                f"{key.replace('_', ' ')} {_number(results[model].get(key + suffix))}"
                for key in keys)
            lines.append(f"  {label:<9} {values}")
    return "\n".join(lines)


def main(argv):
    del argv  # Unused.
    config = recipe_flags.run_config(
        model_kwargs=dict(factor_groups=_factor_groups(), intrinsic_dim=FLAGS.intrinsic_dim,
                          clamp=FLAGS.clamp, clamp_to=FLAGS.clamp_to,
                          invariance_strength=FLAGS.invariance_strength,
                          intrinsic_ratio=FLAGS.intrinsic_ratio,
                          minibatches=FLAGS.minibatches, **recipe_flags.vae_model_kwargs()),
        eval_kwargs=dict(importance_samples=FLAGS.importance_samples,
                         disentanglement_examples=FLAGS.disentanglement_examples))
    try:
        results = dcign_task.run(config, compare_vae=FLAGS.compare_vae)
    except runner.WorkerLost as error:
        recipe_flags.exit_lost_worker(error)
    except (DatasetUnavailableError, runner.TrainingDiverged, ValueError) as error:
        sys.exit(f"error: {error}")
    ours = results["dcign"]
    print("\n".join(likelihood.report_lines(ours)))
    print(f"inverse graphics on {ours['num_held_out']} held-out images (r: |correlation| of "
          "the factor's own latent group with the true factor; best r: the best single "
          "latent; gap: the factor's normalised mutual information gap):")
    print(_table(results))
    named = ", ".join(ours["named_factors"])
    print(f"disentanglement over all {ours['latent_dim']} latents, named factors ({named}):")
    print(_scores(results, ""))
    print("disentanglement over all latents, all factors:")
    print(_scores(results, "_all_factors"))
    print(f"traversals (a row per factor): {', '.join(ours['traversals'])}")
    print(recipe_flags.outputs_line(ours))


if __name__ == "__main__":
    app.run(main)
