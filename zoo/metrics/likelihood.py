"""Test-set likelihood of a latent-variable model: ELBO and importance-weighted bound."""

import numpy as np
import tensorflow as tf

from zoo import random as zoo_random

__all__ = ["evaluate_likelihood"]


def evaluate_likelihood(model, dataset, num_samples=100, max_batches=None, seed=0):
    """Mean test ELBO and IWAE log p(x) estimate, in nats and bits/dim.

    Runs on the local replica outside any strategy (variables are read, not
    synchronised), so it works the same after training under any strategy.

    Args:
        model: a `zoo.VAE` (or variant with `elbo_terms` and `log_likelihood`).
        dataset: finite batches as the model's `fit` takes them.
        num_samples: K of the importance-weighted bound (0 skips it).
        max_batches: evaluate at most this many batches.
        seed: seed of the ELBO's and the bound's samples.

    Returns:
        dict with `elbo`, `reconstruction`, `kl`, `elbo_bits_per_dim` and, for
        K > 0, `log_likelihood` and `bits_per_dim`, plus `num_examples`.
    """

    @tf.function
    def batch_terms(data):
        inputs = model.unpack(data)
        terms = model.elbo_terms(inputs, zoo_random.step_seed(seed, -2))
        out = {k: terms[k] for k in ("elbo", "reconstruction", "kl")}
        if num_samples:
            out["log_likelihood"] = model.log_likelihood(data, num_samples, seed=seed)
        return out

    totals = {}
    for index, data in enumerate(dataset):
        if max_batches is not None and index >= max_batches:
            break
        for key, value in batch_terms(data).items():
            totals.setdefault(key, []).append(value.numpy())
    if not totals:
        raise ValueError("evaluate_likelihood got an empty dataset.")
    results = {key: float(np.mean(np.concatenate(values))) for key, values in totals.items()}
    results["num_examples"] = int(sum(len(v) for v in totals["elbo"]))
    results["elbo_bits_per_dim"] = float(model.likelihood.bits_per_dim(results["elbo"], model.num_dims))
    if "log_likelihood" in results:
        results["bits_per_dim"] = float(model.likelihood.bits_per_dim(
            results["log_likelihood"], model.num_dims))
        results["importance_samples"] = num_samples
    return results
