"""Test-set likelihood of a latent-variable model: ELBO and importance-weighted bound.

Both are reported as log P(x) of the quantized data the images came from, in
nats and in bits/dim of the same quantity: of the 8-bit pixels, or of the
binarized pixels for a Bernoulli likelihood. For a density likelihood
("dequantized" encoding) that needs uniform dequantization noise: with
y = (x + u) / 256, u ~ U[0, 1)^D,

    log P(x) = log int_bin p(y) dy >= E_u[log p((x + u) / 256)] - D log 256

(Jensen; Theis, van den Oord & Bethge 2016, A note on the evaluation of
generative models). The bin midpoint u = 1/2 gives no bound: a density narrow
against the bin width 1/256 and centred on the midpoints reports more than
log P(x). So `evaluate_likelihood` recovers the pixels of every image and draws
its own seeded noise (`redequantize`), whatever dequantization the dataset used.
"""

import functools

import numpy as np
import tensorflow as tf

from zoo import images as zoo_images
from zoo import random as zoo_random
from zoo.data import pipeline

__all__ = ["evaluate_likelihood", "redequantize", "report_lines"]

_DATA = {"binary": "binarized", "dequantized": "8-bit", "discrete": "8-bit"}
# Counter of the dequantization seeds (the ELBO's samples use -2).
_DEQUANTIZATION_COUNTER = -3


def redequantize(images, seed):
    """The pixels of dequantized images, dequantized again with fresh u ~ U[0, 1).

    The pixel of a value y = (pixel + u) / 256 is floor(256 y) (clipped to
    0..255), for any u in [0, 1), the midpoint included, and also for
    y = pixel / 255; uint8 images are the pixels.

    Args:
        images: float images in [0, 1], or uint8 pixels.
        seed: shape-[2] stateless seed of the new noise.

    Returns:
        float32 (pixel + u) / 256 of the images' shape.
    """
    pixels = tf.convert_to_tensor(images)
    if pixels.dtype != tf.uint8:
        pixels = tf.cast(tf.clip_by_value(
            tf.floor(tf.cast(pixels, tf.float32) * 256.0), 0.0, 255.0), tf.uint8)
    return pipeline.encode_images(pixels, "dequantized", seed)


def evaluate_likelihood(model, dataset, num_samples=100, max_batches=None, seed=0,
                        dequantization_draws=1):
    """Mean test ELBO and IWAE bound on log P(x) of the quantized data.

    Runs on the local replica outside any strategy (variables are read, not
    synchronised), so it works the same after training under any strategy.

    For a density likelihood each image is evaluated `dequantization_draws`
    times, with fresh seeded noise u ~ U[0, 1) each time, and its values are
    averaged. One draw is the default: the mean over the test set already
    averages the noise (its error falls as 1/sqrt(N)), and every draw costs a
    full pass of K importance samples. Binary and discrete data are evaluated
    as they are.

    Args:
        model: a `zoo.VAE` (or variant with `elbo_terms` and `log_likelihood`).
        dataset: finite batches as the model's `fit` takes them.
        num_samples: K of the importance-weighted bound (0 skips it).
        max_batches: evaluate at most this many batches.
        seed: seed of the ELBO's and the bound's samples and of the noise.
        dequantization_draws: noise draws per image for density likelihoods.

    Returns:
        dict with, in nats of log P(x) of the quantized data (`data`: "8-bit"
        or "binarized"), `elbo`, `reconstruction` (E_q[log P(x | z)]) and, for
        K > 0, `log_likelihood` (the importance-weighted bound); `kl`;
        `elbo_bits_per_dim` and `bits_per_dim`, the same bounds as
        -log2 P(x) / D; `num_examples`, `dequantization_draws` (0 for binary
        and discrete data) and `importance_samples`.
    """
    if dequantization_draws < 1:
        raise ValueError(f"dequantization_draws must be >= 1; got {dequantization_draws}.")
    encoding = model.likelihood.data_encoding
    draws = dequantization_draws if encoding == "dequantized" else 1

    @tf.function
    def batch_terms(data, index):
        out = {}
        for draw in range(draws):
            batch = data
            if encoding == "dequantized":
                draw_seed = tf.random.experimental.stateless_fold_in(
                    zoo_random.step_seed(seed, _DEQUANTIZATION_COUNTER, index), draw)
                batch = zoo_images.replace_images(
                    data, functools.partial(redequantize, seed=draw_seed))
            inputs = model.unpack(batch)
            terms = model.elbo_terms(inputs, zoo_random.step_seed(seed, -2, draw))
            values = {k: terms[k] for k in ("elbo", "reconstruction", "kl")}
            if num_samples:
                values["log_likelihood"] = model.log_likelihood(
                    batch, num_samples, seed=seed + draw)
            for key, value in values.items():
                out[key] = out.get(key, 0.0) + value / draws
        return out

    totals = {}
    for index, data in enumerate(dataset):
        if max_batches is not None and index >= max_batches:
            break
        for key, value in batch_terms(data, tf.constant(index, tf.int64)).items():
            totals.setdefault(key, []).append(value.numpy())
    if not totals:
        raise ValueError("evaluate_likelihood got an empty dataset.")
    means = {key: float(np.mean(np.concatenate(values))) for key, values in totals.items()}
    likelihood, num_dims = model.likelihood, model.num_dims
    results = {"kl": means["kl"], "data": _DATA[encoding],
               "num_examples": int(sum(len(v) for v in totals["elbo"])),
               "dequantization_draws": draws if encoding == "dequantized" else 0}
    for key in ("elbo", "reconstruction", "log_likelihood"):
        if key in means:
            results[key] = float(likelihood.discrete_log_likelihood(means[key], num_dims))
    results["elbo_bits_per_dim"] = float(likelihood.bits_per_dim(means["elbo"], num_dims))
    if num_samples:
        results["bits_per_dim"] = float(likelihood.bits_per_dim(
            means["log_likelihood"], num_dims))
        results["importance_samples"] = num_samples
    return results


def report_lines(results, given=""):
    """The lines a recipe prints for `evaluate_likelihood`'s results.

    Nats and bits/dim are of the same quantity, log P(x) of the quantized data,
    and both lines say that they bound it from below.

    Args:
        results: the dict of `evaluate_likelihood` (`importance_examples`, if
            present, counts the examples of the importance-weighted bound).
        given: the conditioning variable's name for a conditional model ("y").
    """
    probability = f"log P(x|{given})" if given else "log P(x)"
    subject = f"{probability} of the {results['data']} data"
    draws = results.get("dequantization_draws", 0)
    noise = (f", dequantized with u ~ U[0, 1) ({draws} draw{'s' if draws > 1 else ''})"
             if draws else "")
    lines = [f"test ELBO: {subject} >= {results['elbo']:.2f} nats "
             f"({results['elbo_bits_per_dim']:.3f} bits/dim), "
             f"{results['num_examples']} images{noise}"]
    if "log_likelihood" in results:
        examples = results.get("importance_examples", results["num_examples"])
        lines.append(f"test {subject} >= {results['log_likelihood']:.2f} nats "
                     f"({results['bits_per_dim']:.3f} bits/dim), importance-weighted, "
                     f"K={results['importance_samples']}, {examples} images")
    return lines
