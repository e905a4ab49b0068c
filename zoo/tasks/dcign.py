"""DC-IGN's task: build it, feed it one-factor batches, judge its inverse graphics.

`DCIGNTask` trains a `zoo.DCIGN` (Kulkarni et al. 2015) on clamped
one-factor batches (`zoo.data.factor_batches.train_data`) and reports, on
the held-out split, the test ELBO and importance-weighted log p(x)
(`zoo.metrics.likelihood`); per named factor the correlation of its own
latent group with the true factor, the best single latent's, MIG and DCI
(`zoo.metrics.disentanglement.evaluate_disentanglement`); and traversal
figures, `traversals/traversal_K.png` in the model directory: a row per
named factor, the input image, then the image re-rendered with that
factor's latent swept over its held-out range.

With `compare_vae` (the default) the runner then trains its baseline, a
plain `zoo.VAE` of the same size and budget (networks, latent size,
likelihood, steps, batch size, optimizer, seed) on ordinary shuffled
batches of the same split, in `MODEL_DIR/vae_baseline`, judged the same way
against DC-IGN's named factors; `results.json` holds both.
"""

import dataclasses
import os
from typing import Tuple

import numpy as np

from zoo import checks
from zoo import clamping
from zoo import images as zoo_images
from zoo.data import factor_batches
from zoo.data import source as zoo_source
from zoo.metrics import disentanglement
from zoo.metrics import likelihood
from zoo.models import dcign
from zoo.models import vae
from zoo.tasks import vae as vae_task
from zoo.train import task

__all__ = ["DCIGNConfig", "DCIGNTask", "VAEBaselineTask", "write_traversals", "report"]


def _check_factor_entries(name, entries):
    """`factors` entries as given, if each is NAME or NAME:SIZE with a positive SIZE."""
    for text in entries:
        label, _, size = text.partition(":")
        if not label or (size and not (size.isdigit() and int(size) > 0)):
            raise ValueError(f"{name} entry {text!r} must be NAME or NAME:SIZE with a positive "
                             "SIZE, e.g. scale,rotation:2.")
    return entries


@dataclasses.dataclass
class DCIGNConfig(vae_task.VAEFamilyConfig):
    """A DC-IGN run: `python -m recipes.dcign`."""
    model_dir: str = "runs/dcign"
    dataset: str = "shapes"
    epochs: int = 6
    steps_per_epoch: int = 250
    likelihood: str = "gaussian_fixed"
    factors: Tuple[str, ...] = task.setting(
        (), "Named factor groups, in latent order: NAME or NAME:SIZE, e.g. scale,rotation:2. "
        "Default: every factor of the data but the intrinsic ones (shapes: scale, "
        "position_x, position_y; dsprites: all but shape; smallnorb: elevation, azimuth, "
        "lighting).", model=True, check=_check_factor_entries)
    factor_dim: int = task.setting(1, "Size of each factor group given without :SIZE.",
                                   model=True, check=checks.positive_int)
    intrinsic_dim: int = task.setting(
        8, "Size of the intrinsic group (shape, colour, identity).", model=True)
    clamp: bool = task.setting(True, "Clamp the inactive groups on one-factor batches "
                               "(false: the same batches, unclamped).", model=True)
    clamp_to: str = task.setting(
        "mean", "mean: the batch mean (paper); first: the batch's first sample (authors' "
        "code).", model=True, choices=tuple(clamping.CLAMP_TARGETS))
    invariance_strength: float = task.setting(
        1.0, "Weight (nats per example of the global batch, at every --minibatches) of the "
        "pull of clamped outputs toward their minibatch's statistic; 0: no gradient to "
        "clamped units (authors' code default).", model=True)
    intrinsic_ratio: float = task.setting(
        3.0, "How often intrinsic batches are drawn relative to one named factor's (the "
        "paper: about 10 for faces).", check=checks.finite_non_negative)
    minibatches: int = task.setting(
        8, "One-factor minibatches per global batch, each clamped to its own batch mean (1: "
        "the whole batch is one, as in the paper; more: one step averages several of the "
        "paper's steps and sees more scenes).", model=True)
    importance_samples: int = task.setting(
        20, "K of the importance-weighted log-likelihood estimate at the end.",
        check=checks.positive_int)
    disentanglement_examples: int = task.setting(
        10_000, "Held-out images for the correlations and MIG (at most).",
        check=checks.positive_int)
    compare_vae: bool = task.setting(
        True, "Also train a plain VAE of the same size and budget, and compare.")

    def __post_init__(self):
        super().__post_init__()
        self.require_diagonal_posterior("dcign")

    def factor_groups(self, factor_names):
        """[[name, size]] of `factors` (sizes default to `factor_dim`), else the defaults.

        The defaults: a group of 1 for every factor of the data but the
        dataset's intrinsic ones (`zoo.data.source.DatasetFacts`).
        """
        groups = [[name, int(size) if size else self.factor_dim]
                  for name, _, size in (text.partition(":") for text in self.factors)]
        intrinsic = zoo_source.facts(self.dataset).intrinsic_factors
        return groups or [[name, 1] for name in factor_names if name not in intrinsic]


def _require_factors(config, source):
    """Fails unless the data has generative factors."""
    if not source.factor_names:
        raise ValueError(
            f"DC-IGN needs a dataset with known generative factors (shapes, dsprites, "
            f"shapes3d, smallnorb); {config.dataset!r} has none.")


def write_traversals(model, images, latents, directory, count=4, columns=9):
    """PNG grids, one per image: a row per named factor, the input then a sweep.

    Each factor's latent (its group's first unit) sweeps from the 2nd to the
    98th percentile of its held-out values; the others keep the image's.

    Returns:
        The written paths.
    """
    starts = [model.group_slices[name].start for name, _ in model.factor_groups]
    low, high = np.percentile(latents[:, starts], [2, 98], axis=0)
    values = np.linspace(low, high, columns, axis=1).astype(np.float32)  # [R, V]
    paths = []
    for index, image in enumerate(images[:count]):
        rows = model.traversal(image, values).numpy()
        inputs = np.broadcast_to(image, (rows.shape[0], 1, *rows.shape[2:]))
        grid = np.concatenate([inputs, rows], axis=1).reshape(-1, *rows.shape[2:])
        path = os.path.join(directory, f"traversal_{index}.png")
        zoo_images.save_png(path, zoo_images.image_grid(grid, columns=columns + 1))
        paths.append(path)
    return paths


def _evaluate(model, data, config, named_factors, groups=None):
    """(results, latents, images): likelihood and disentanglement on the held-out split."""
    results = likelihood.evaluate_likelihood(
        model, data.test_batches, max_batches=config.eval_batches, seed=config.seed,
        num_samples=config.importance_samples)
    latents, factors, images = disentanglement.encode_held_out(
        model, data.test_batches, config.disentanglement_examples)
    names = list(data.test.factor_names)
    results.update(disentanglement.evaluate_disentanglement(
        latents, factors, names, named_factors, groups, seed=config.seed))
    results.update(latent_dim=model.latent_dim, factor_names=names)
    return results, latents, images


def _number(value):
    return "-" if value is None else f"{value:.3f}"


def _table(ours, vae_results):
    """Per factor: DC-IGN's own-latent r, best single-latent r (both models), MIG gaps."""
    header = ["factor", "DC-IGN r", "DC-IGN best r", "DC-IGN gap"]
    if vae_results:
        header += ["VAE best r", "VAE gap"]
    rows = [header]
    for name in ours["factor_names"]:
        row = [name, _number(ours["factor_correlations"].get(name)),
               _number(ours["best_latent_correlations"][name]),
               _number(ours["mig_per_factor_all_factors"][name])]
        if vae_results:
            row += [_number(vae_results["best_latent_correlations"][name]),
                    _number(vae_results["mig_per_factor_all_factors"][name])]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return ["  ".join(cell.rjust(width) if i else cell.ljust(width)
                      for i, (cell, width) in enumerate(zip(row, widths))) for row in rows]


def _scores(models, suffix):
    keys = ("mig", "dci_disentanglement", "dci_completeness")
    return [f"  {label:<9} " + ", ".join(
        f"{key.replace('_', ' ')} {_number(results.get(key + suffix))}" for key in keys)
        for label, results in models]


def report(results):
    """Likelihood, the per-factor table, MIG and DCI beside the plain VAE's, traversals."""
    baseline = results.get("baselines", {}).get("vae")
    models = [("DC-IGN", results)] + ([("plain VAE", baseline)] if baseline else [])
    return (likelihood.report_lines(results)
            + [f"inverse graphics on {results['num_held_out']} held-out images (r: "
               "|correlation| of the factor's own latent group with the true factor; best r: "
               "the best single latent; gap: the factor's normalised mutual information gap):"]
            + _table(results, baseline)
            + [f"disentanglement over all {results['latent_dim']} latents, named factors "
               f"({', '.join(results['named_factors'])}):"]
            + _scores(models, "")
            + ["disentanglement over all latents, all factors:"]
            + _scores(models, "_all_factors")
            + [f"traversals (a row per factor): {', '.join(results['traversals'])}"])


class DCIGNTask(task.Task):
    """A `zoo.DCIGN` on clamped one-factor batches, judged as inverse graphics."""
    name = "dcign"
    config_class = DCIGNConfig
    keys = ("image", "factors")

    def build_model(self, source):
        """A `zoo.DCIGN` for the source's factors; default groups: the non-intrinsic ones."""
        config = self.config
        _require_factors(config, source)
        return dcign.DCIGN(
            self.image_shape(source), config.factor_groups(source.factor_names),
            intrinsic_dim=config.intrinsic_dim, clamp=config.clamp, clamp_to=config.clamp_to,
            invariance_strength=config.invariance_strength, minibatches=config.minibatches,
            dataset_factor_names=source.factor_names, seed=config.seed,
            **vae_task.vae_arguments(config))

    def train_data(self, model, source):
        """One-factor batches, intrinsic factors drawn `intrinsic_ratio` times as often."""
        config = self.config
        named = [name for name, _ in model.factor_groups]
        return factor_batches.train_data(
            source, config.global_batch_size, model.minibatches,
            factor_batches.draw_weights(source.factor_names, named, config.intrinsic_ratio),
            self.encoding(model), model.image_shape[0], model.image_shape[-1],
            seed=config.seed, replicas=model.distribute_strategy.num_replicas_in_sync)

    def evaluate(self, model, data):
        """Likelihood, per-factor correlations, MIG, DCI and traversal figures of a DC-IGN."""
        groups = {name: model.group_slices[name] for name, _ in model.factor_groups}
        results, latents, images = _evaluate(model, data, self.config, list(groups), groups)
        results["traversals"] = write_traversals(
            model, images, latents, os.path.join(self.config.model_dir, "traversals"))
        results["factor_groups"] = [list(group) for group in model.factor_groups]
        return results

    def baselines(self, results):
        """A plain VAE of the same latent size and budget, with `compare_vae`."""
        if not self.config.compare_vae:
            return {}
        config = dataclasses.replace(
            self.config, model_dir=os.path.join(self.config.model_dir, "vae_baseline"),
            export_dir=None)
        named = [name for name, _ in results["factor_groups"]]
        return {"vae": VAEBaselineTask(config, results["latent_dim"], named)}

    def report(self, results):
        return report(results)


class VAEBaselineTask(task.Task):
    """DC-IGN's baseline: a plain `zoo.VAE` on ordinary batches, judged like DC-IGN.

    Args:
        config: the DC-IGN run's `DCIGNConfig` (its model directory changed).
        latent_dim: DC-IGN's latent size.
        named_factors: the factors DC-IGN has groups for.
    """
    name = "dcign_vae_baseline"
    config_class = DCIGNConfig
    keys = ("image", "factors")

    def __init__(self, config, latent_dim, named_factors):
        super().__init__(config)
        self.latent_dim = latent_dim
        self.named_factors = list(named_factors)

    def build_model(self, source):
        _require_factors(self.config, source)
        return vae.VAE(self.image_shape(source), latent_dim=self.latent_dim,
                       seed=self.config.seed, **vae_task.vae_arguments(self.config))

    def evaluate(self, model, data):
        return _evaluate(model, data, self.config, self.named_factors)[0]
