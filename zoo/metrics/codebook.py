"""How a VQ-VAE uses its codebook: code counts over a dataset, perplexity, share used.

A codebook whose codes are used evenly has perplexity exp(H(p)) = K, p the
codes' frequencies over every position of every image; "codebook collapse"
(few codes in use, a known failure of VQ-VAE training; Dhariwal et al. 2020)
shows as a perplexity far below K and a small share of codes used.
"""

import numpy as np
import tensorflow as tf

from zoo import images as zoo_images

__all__ = ["code_counts", "usage"]


def code_counts(model, batches, max_batches=None):
    """How often each of the model's K codes encodes a grid position of `batches`: [K] int."""
    encode = tf.function(model.encode_indices)
    counts = np.zeros(model.num_codes, np.int64)
    for index, batch in enumerate(batches):
        if max_batches is not None and index >= max_batches:
            break
        indices = encode(zoo_images.unpack_images(batch)).numpy().ravel()
        counts += np.bincount(indices, minlength=model.num_codes)
    return counts


def usage(counts):
    """{"perplexity": exp(entropy of the frequencies), "codes_used": share of codes > 0}."""
    counts = np.asarray(counts, np.float64)
    if counts.sum() <= 0:
        raise ValueError("usage needs at least one counted code.")
    frequencies = counts / counts.sum()
    nonzero = frequencies[frequencies > 0]
    return {"perplexity": float(np.exp(-np.sum(nonzero * np.log(nonzero)))),
            "codes_used": float(np.mean(counts > 0))}
