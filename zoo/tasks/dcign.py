"""DC-IGN's task: build it, feed it one-factor batches, judge its inverse graphics.

`TASK` trains a `zoo.DCIGN` on clamped one-factor batches (the runner's
`train_data` hook, `zoo.data.factor_batches.train_data`). Its evaluation
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

`run(config, compare_vae=True)` trains DC-IGN and then a plain `zoo.VAE` of
the same size (same networks, latent size, likelihood, steps, batch size,
optimizer and seed) on ordinary shuffled batches of the same training
split, in `MODEL_DIR/vae_baseline`, evaluated the same way against DC-IGN's
named factors; `comparison.json` holds both.

References:
    Kulkarni et al. (2015), Deep Convolutional Inverse Graphics Network.
    Chen et al. (2018), Isolating Sources of Disentanglement in VAEs (MIG).
    Eastwood & Williams (2018), A Framework for the Quantitative Evaluation
    of Disentangled Representations (DCI).
"""

import dataclasses
import json
import os

import keras
import numpy as np

from zoo.models import dcign
from zoo import images as zoo_images
from zoo.models import vae
from zoo.data import factor_batches
from zoo.metrics import disentanglement
from zoo.metrics import likelihood
from zoo.tasks import vae as vae_task
from zoo.train import runner
from zoo.train import strategy as zoo_strategy

__all__ = ["TASK", "intrinsic_factors", "default_factor_groups", "build_model",
           "encode_held_out", "evaluate_disentanglement", "write_traversals", "evaluate",
           "baseline_task", "run"]

_DCIGN_ONLY_KWARGS = ("factor_groups", "intrinsic_dim", "clamp", "clamp_to",
                      "invariance_strength", "intrinsic_ratio", "minibatches")


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


def build_model(config, source):
    """A `zoo.DCIGN` for the source's factors; default groups: the non-intrinsic ones."""
    _require_factors(config, source)
    kwargs = dict(config.model_kwargs)
    groups = kwargs.pop("factor_groups", None) or default_factor_groups(
        config.dataset, source.factor_names)
    return dcign.DCIGN(vae_task.image_shape(config, source), groups, seed=config.seed,
                       dataset_factor_names=source.factor_names, **kwargs)


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
        num_samples=config.eval_kwargs.get("importance_samples", 100),
        dequantization_draws=config.eval_kwargs.get("dequantization_draws", 1))


def evaluate(model, dataset, config):
    """Likelihood, per-factor correlations, MIG, DCI and traversal figures of a DC-IGN."""
    results = _likelihood(model, dataset, config)
    latents, factors, images = encode_held_out(
        model, dataset, config.eval_kwargs.get("disentanglement_examples", 10_000))
    names = list(model.dataset_factor_names)
    groups = {name: model.group_slices[name] for name, _ in model.factor_groups}
    results.update(evaluate_disentanglement(latents, factors, names, list(groups), groups,
                                            seed=config.seed))
    results["traversals"] = write_traversals(
        model, images, latents, os.path.join(config.model_dir, "traversals"))
    results.update(latent_dim=model.latent_dim, factor_names=names,
                   factor_groups=[list(group) for group in model.factor_groups])
    return results


def compile_model(model, config):
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  jit_compile=config.jit_compile)


TASK = runner.Task(name="dcign", build_model=build_model, compile_model=compile_model,
                   encoding=lambda model: model.likelihood.data_encoding,
                   evaluate=evaluate, keys=("image", "factors"),
                   train_data=factor_batches.train_data)


def baseline_task(factor_names, named_factors):
    """A plain VAE on ordinary batches, evaluated like DC-IGN (no named groups)."""

    def build(config, source):
        _require_factors(config, source)
        return vae.VAE(vae_task.image_shape(config, source), seed=config.seed,
                       **config.model_kwargs)

    def evaluate_baseline(model, dataset, config):
        results = _likelihood(model, dataset, config)
        latents, factors, _ = encode_held_out(
            model, dataset, config.eval_kwargs.get("disentanglement_examples", 10_000))
        results.update(evaluate_disentanglement(latents, factors, factor_names, named_factors,
                                                seed=config.seed))
        results.update(latent_dim=model.latent_dim, factor_names=list(factor_names))
        return results

    return runner.Task(name="vae_baseline", build_model=build, compile_model=compile_model,
                       encoding=lambda model: model.likelihood.data_encoding,
                       evaluate=evaluate_baseline, keys=("image", "factors"))


def _require_whole_minibatches(config, replicas):
    """Fails unless every replica's share of the batch is whole rows of M minibatches.

    `zoo.DCIGN` reshapes a replica's batch to [rows, M]: row r holds the r-th
    example of each of the M interleaved one-factor minibatches.
    """
    count = config.model_kwargs.get("minibatches", 1) or 1
    if config.global_batch_size % (count * replicas):
        raise ValueError(
            f"global batch size {config.global_batch_size} must be a multiple of "
            f"minibatches × replicas = {count} × {replicas} = {count * replicas}, so that "
            "every replica's share holds whole rows of the interleaved one-factor minibatches.")


def run(config, compare_vae=True, strategy=None):
    """Trains and evaluates DC-IGN, then (optionally) the plain-VAE baseline.

    Args:
        config: a `zoo.train.runner.RunConfig` whose `model_kwargs` are
            `zoo.DCIGN` arguments (`factor_groups` empty: the defaults).
        compare_vae: also train a `zoo.VAE` with the same latent size and
            budget in `model_dir/vae_baseline`.
        strategy: a strategy already made (else one from `config.strategy`,
            made once for both runs).

    Returns:
        {"dcign": results, "vae": results (with compare_vae)}; also written
        to `model_dir/comparison.json`.
    """
    strategy = strategy or zoo_strategy.make_strategy(config.strategy, config.tpu_address,
                                                      config.collective_timeout)
    _require_whole_minibatches(config, strategy.num_replicas_in_sync)
    results = {"dcign": runner.run(TASK, config, strategy=strategy)}
    if compare_vae:
        ours = results["dcign"]
        model_kwargs = {key: value for key, value in config.model_kwargs.items()
                        if key not in _DCIGN_ONLY_KWARGS}
        model_kwargs["latent_dim"] = ours["latent_dim"]
        baseline = dataclasses.replace(
            config, model_dir=os.path.join(config.model_dir, "vae_baseline"),
            export_dir=None, model_kwargs=model_kwargs)
        named = [name for name, _ in ours["factor_groups"]]
        results["vae"] = runner.run(baseline_task(ours["factor_names"], named), baseline,
                                    strategy=strategy)
    with open(os.path.join(config.model_dir, "comparison.json"), "w") as handle:
        json.dump(results, handle, indent=2, sort_keys=True)
    return results
