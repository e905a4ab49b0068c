r"""Mode coverage of samples from a known mixture of 2-D Gaussians.

For samples meant to come from an equal-weight mixture of K isotropic
Gaussians of standard deviation sigma (`zoo.data.mixtures`):

- high-quality share: the fraction of samples within 3 sigma of some mode;
- modes covered: modes that receive at least `min_share` of the samples
  within their 3-sigma disc (default a quarter of their fair share, 1/(4K));
- mode JSD: the Jensen-Shannon divergence (nats) between the histogram of
  samples over "near mode k" / "near no mode" and the same histogram under
  the data (each mode (1 - e^{-9/2}) / K, no mode e^{-9/2}, since a 2-D
  Gaussian puts e^{-9/2} of its mass beyond 3 sigma). 0 is a perfect match,
  log 2 disjoint histograms.

A collapsed generator shows as few modes covered with a high quality share;
a blurry one as many modes but a low quality share.

References:
    Srivastava, Valkov, Russell, Gutmann & Sutton (2017), VEEGAN (modes
    captured and high-quality samples within 3 standard deviations).
"""

import math

import numpy as np

from zoo.losses import adversarial

__all__ = ["mode_statistics"]


def mode_statistics(samples, modes, std, min_share=None):
    """Modes covered, high-quality share and mode JSD of samples (see the module docstring).

    Args:
        samples: [N, 2] points.
        modes: [K, 2] centres of the mixture they should come from.
        std: the mixture's common standard deviation.
        min_share: share of all samples a mode needs within 3 sigma to count
            as covered; default 1 / (4 K).

    Returns:
        dict with `modes_covered` (int), `num_modes`, `high_quality_share`,
        `mode_jsd` (nats) and `mode_shares` (list of K shares).
    """
    samples = np.asarray(samples, np.float64)
    modes = np.asarray(modes, np.float64)
    count, num_modes = len(samples), len(modes)
    min_share = 0.25 / num_modes if min_share is None else min_share
    distances = np.linalg.norm(samples[:, None, :] - modes[None], axis=-1)
    nearest = distances.argmin(axis=1)
    good = distances.min(axis=1) <= 3.0 * std
    shares = np.bincount(nearest[good], minlength=num_modes) / count
    outside = math.exp(-4.5)
    histogram = np.append(shares, 1.0 - good.mean())
    expected = np.append(np.full(num_modes, (1.0 - outside) / num_modes), outside)
    return {"modes_covered": int((shares >= min_share).sum()), "num_modes": num_modes,
            "high_quality_share": float(good.mean()),
            "mode_jsd": float(adversarial.jensen_shannon(histogram, expected)),
            "mode_shares": shares.tolist()}
