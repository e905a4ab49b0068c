"""DC-IGN's task: build it, feed it one-factor batches, judge its inverse graphics.

`DCIGNTask` trains a `zoo.DCIGN` on clamped one-factor batches
(`zoo.data.factor_batches.train_data`). Its evaluation
reports, on the held-out split:

- the test ELBO and importance-weighted log p(x) (`zoo.metrics.likelihood`);
- inverse graphics: per named factor, the correlation R between the
  factor's own latent group (posterior means) and the true factor value
  (|Pearson r| for a one-unit group, the multiple correlation for larger
  ones), and for every factor the best |r| of any single latent (the number
  a plain VAE, which has no named latents, can be given);
- disentanglement over all latents (`zoo.metrics.disentanglement`): MIG
  (Chen et al. 2018) and DCI disentanglement / completeness (Eastwood &
  Williams 2018), each over the named factors (those DC-IGN is given a
  group for: `mig`, `dci_*`) and over all factors of the data
  (`mig_all_factors`, `dci_*_all_factors`; the intrinsic factors share one
  group by design, so no single latent is meant to carry them);
- traversal figures: `traversals/traversal_K.png` in the model directory,
  one row per named factor: the input image, then the image re-rendered
  with that factor's latent swept over its held-out range.

With `compare_vae` (the default) the runner then trains its baseline, a
plain `zoo.VAE` of the same size (same networks, latent size, likelihood,
steps, batch size, optimizer and seed) on ordinary shuffled batches of the
same training split, in `MODEL_DIR/vae_baseline`, evaluated the same way
against DC-IGN's named factors; `results.json` holds both.

References:
    Kulkarni et al. (2015), Deep Convolutional Inverse Graphics Network.
    Chen et al. (2018), Isolating Sources of Disentanglement in VAEs (MIG).
    Eastwood & Williams (2018), A Framework for the Quantitative Evaluation
    of Disentangled Representations (DCI).
"""

import dataclasses
import os
from typing import Tuple

import numpy as np

from zoo import checks
from zoo import clamping
from zoo import images as zoo_images
from zoo.data import factor_batches
from zoo.metrics import disentanglement
from zoo.metrics import likelihood
from zoo.models import dcign
from zoo.models import vae
from zoo.tasks import vae as vae_task
from zoo.train import task

__all__ = ["DCIGNConfig", "DCIGNTask", "VAEBaselineTask", "intrinsic_factors",
           "default_factor_groups", "require_whole_minibatches", "encode_held_out", "evaluate_disentanglement",
           "write_traversals", "report"]


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
        "lighting).", model=True)
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
        "paper: about 10 for faces).", model=True)
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

    def factor_groups(self):
        """[[name, size]] of `factors` (sizes default to `factor_dim`); [] for the defaults."""
        groups = []
        for text in self.factors:
            name, _, size = text.partition(":")
            if not name or (size and not (size.isdigit() and int(size) > 0)):
                raise ValueError(f"factors entry {text!r} must be NAME or NAME:SIZE with a "
                                 "positive SIZE, e.g. scale,rotation:2.")
            groups.append([name, int(size) if size else self.factor_dim])
        return groups


def intrinsic_factors(dataset):
    """The factors of a dataset that get no group of their own, by default.

    Their one-factor batches train the intrinsic group, as the face's
    identity (shape and texture) does in the paper. For the rendered shapes
    these are what the object and the scene are (shape, colour, background:
    the background factor is circular, 0 and 1 render alike) and the
    rotation, which the image does not determine (a circle looks the same at
    every angle, a square every 90 degrees), so no single latent can track it
    (ask for it with a group of 2 if wanted).
    """
    return {"shapes": ("shape", "rotation", "hue", "background"),
            "dsprites": ("shape",),
            "shapes3d": ("shape",),
            "smallnorb": ("category", "instance")}.get(dataset.split(":")[0], ())


def default_factor_groups(dataset, factor_names, size=1):
    """[(name, size)] for every factor of the data that is not intrinsic."""
    intrinsic = intrinsic_factors(dataset)
    return [(name, size) for name in factor_names if name not in intrinsic]


def _require_factors(config, source):
    if not source.factor_names:
        raise ValueError(
            f"DC-IGN needs a dataset with known generative factors (shapes, dsprites, "
            f"shapes3d, smallnorb); {config.dataset!r} has none.")


def encode_held_out(model, dataset, max_examples=10_000):
    """(posterior means [N, D], factors [N, F], images [<= 8, H, W, C]) of held-out data."""
    latents, factors, images = [], [], None
    count = 0
    for batch in dataset:
        if count >= max_examples:
            break
        latents.append(model.encode(batch)[0].numpy())
        factors.append(batch["factors"].numpy())
        if images is None:
            images = batch["image"].numpy()[:8]
        count += len(latents[-1])
    if not latents:
        raise ValueError("The held-out dataset is empty.")
    return (np.concatenate(latents)[:max_examples], np.concatenate(factors)[:max_examples],
            images)


def _gaps(names, per_factor):
    return {name: (None if np.isnan(gap) else float(gap)) for name, gap in zip(names, per_factor)}


def evaluate_disentanglement(latents, factors, factor_names, named_factors, groups=None,
                             seed=0):
    """Correlations, MIG and DCI of latents [N, D] against factors [N, F].

    Args:
        latents, factors: from `encode_held_out`.
        factor_names: names of the factor columns.
        named_factors: the factors DC-IGN has a group for (the headline
            scores are over these; `*_all_factors` over every factor).
        groups: {factor name: slice of the latents} of a DC-IGN's named
            groups, or None (a plain VAE).
        seed: seed of DCI's regressors.

    Returns:
        dict: `mig`, `mig_per_factor`, `dci_disentanglement`,
        `dci_completeness` (named factors), the same with `_all_factors`,
        `best_latent_correlations` {name: max_j |r(z_j, v)|} and, with
        groups, `factor_correlations` {name: R of the factor's own group}.
    """
    factor_names = list(factor_names)
    columns = [factor_names.index(name) for name in named_factors]
    named = factors[:, columns]
    correlations = disentanglement.factor_correlations(latents, factors)
    results = {"num_held_out": int(latents.shape[0]), "named_factors": list(named_factors),
               "best_latent_correlations": {name: float(correlations[:, k].max())
                                            for k, name in enumerate(factor_names)}}
    scores = disentanglement.mutual_information_gap(latents, named)
    results.update(mig=scores["mig"], mig_per_factor=_gaps(named_factors, scores["per_factor"]))
    everything = disentanglement.mutual_information_gap(latents, factors)
    results.update(mig_all_factors=everything["mig"],
                   mig_per_factor_all_factors=_gaps(factor_names, everything["per_factor"]))
    for suffix, values in (("", named), ("_all_factors", factors)):
        if values.shape[1] >= 2:
            dci = disentanglement.dci_disentanglement(latents, values, seed=seed)
            results["dci_disentanglement" + suffix] = dci["disentanglement"]
            results["dci_completeness" + suffix] = dci["completeness"]
    if groups is not None:
        results["factor_correlations"] = {
            name: disentanglement.multiple_correlation(latents[:, part],
                                                       factors[:, factor_names.index(name)])
            for name, part in groups.items()}
    return results


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


def _likelihood(model, dataset, config):
    return likelihood.evaluate_likelihood(
        model, dataset, max_batches=config.eval_batches, seed=config.seed,
        num_samples=config.importance_samples)


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


def require_whole_minibatches(global_batch_size, minibatches, replicas):
    """Fails unless every replica's share of the batch is whole rows of M minibatches.

    `zoo.DCIGN` reshapes a replica's batch to [rows, M]: row r holds the r-th
    example of each of the M interleaved one-factor minibatches.
    """
    if global_batch_size % (minibatches * replicas):
        raise ValueError(
            f"global batch size {global_batch_size} must be a multiple of minibatches × "
            f"replicas = {minibatches} × {replicas} = {minibatches * replicas}, so that every "
            "replica's share holds whole rows of the interleaved one-factor minibatches.")


class DCIGNTask(task.Task):
    """A `zoo.DCIGN` on clamped one-factor batches, judged as inverse graphics."""
    name = "dcign"
    config_class = DCIGNConfig
    keys = ("image", "factors")

    def build_model(self, source):
        """A `zoo.DCIGN` for the source's factors; default groups: the non-intrinsic ones."""
        config = self.config
        _require_factors(config, source)
        groups = config.factor_groups() or default_factor_groups(config.dataset,
                                                                 source.factor_names)
        return dcign.DCIGN(
            self.image_shape(source), groups, intrinsic_dim=config.intrinsic_dim,
            clamp=config.clamp, clamp_to=config.clamp_to,
            invariance_strength=config.invariance_strength,
            intrinsic_ratio=config.intrinsic_ratio, minibatches=config.minibatches,
            dataset_factor_names=source.factor_names, seed=config.seed,
            **vae_task.vae_arguments(config))

    def train_data(self, model, source):
        require_whole_minibatches(self.config.global_batch_size, model.minibatches,
                                  model.distribute_strategy.num_replicas_in_sync)
        return factor_batches.train_data(self.config, model, source, self.encoding(model))

    def evaluate(self, model, data):
        """Likelihood, per-factor correlations, MIG, DCI and traversal figures of a DC-IGN."""
        config = self.config
        results = _likelihood(model, data.test_batches, config)
        latents, factors, images = encode_held_out(model, data.test_batches,
                                                   config.disentanglement_examples)
        names = list(model.dataset_factor_names)
        groups = {name: model.group_slices[name] for name, _ in model.factor_groups}
        results.update(evaluate_disentanglement(latents, factors, names, list(groups), groups,
                                                seed=config.seed))
        results["traversals"] = write_traversals(
            model, images, latents, os.path.join(config.model_dir, "traversals"))
        results.update(latent_dim=model.latent_dim, factor_names=names,
                       factor_groups=[list(group) for group in model.factor_groups])
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
        config = self.config
        results = _likelihood(model, data.test_batches, config)
        latents, factors, _ = encode_held_out(model, data.test_batches,
                                              config.disentanglement_examples)
        results.update(evaluate_disentanglement(latents, factors, data.test.factor_names,
                                                self.named_factors, seed=config.seed))
        results.update(latent_dim=model.latent_dim, factor_names=list(data.test.factor_names))
        return results
