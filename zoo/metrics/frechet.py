r"""The Fréchet distance between Gaussians fitted to two sets of features (as in FID).

Two feature sets are summarised by their means and covariances and compared
as Gaussians N(mu_1, S_1), N(mu_2, S_2) with the squared Fréchet
(2-Wasserstein) distance (Dowson & Landau 1982; Heusel et al. 2017, Eq. 6):

    d^2 = ||mu_1 - mu_2||^2 + Tr(S_1) + Tr(S_2) - 2 Tr((S_1 S_2)^{1/2}).

S_1 S_2 is not symmetric, and a general `sqrtm` of it can return complex
parts or fail when the covariances are singular (fewer samples than feature
dimensions, collinear features). Here, in float64, S_1 S_2 is similar to the
symmetric positive semi-definite

    A = S_1^{1/2} S_2 S_1^{1/2}     (S_1 S_2 = S_1^{1/2} A S_1^{-1/2} where S_1 > 0),

so Tr((S_1 S_2)^{1/2}) = sum_i sqrt(lambda_i(A)) (also for singular S_1, by
continuity). S_1^{1/2} and lambda(A) come from symmetric eigen-decompositions
(`numpy.linalg.eigh`), with the eigenvalues that are zero up to round-off
(negative, or below D * eps * the largest) clamped to zero, since the square
root would amplify them (sqrt(1e-16) = 1e-8); the final value is clamped at
zero as well.

For commuting (e.g. diagonal) covariances with eigenvalues a_i, b_i in a
common basis, d^2 = ||mu_1 - mu_2||^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2.

References:
    Heusel et al. (2017), GANs Trained by a Two Time-Scale Update Rule
    Converge to a Local Nash Equilibrium, Eq. 6.
    Dowson & Landau (1982), The Fréchet distance between multivariate
    normal distributions.
"""

import numpy as np

__all__ = [
    "frechet_distance",
    "feature_statistics",
    "frechet_distance_from_features",
]


def _symmetric_part(matrix):
    return 0.5 * (matrix + matrix.T)


def _as_covariance(matrix, name):
    matrix = np.asarray(matrix, np.float64)
    if matrix.ndim == 0:
        matrix = matrix.reshape(1, 1)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"{name} must be a square [D, D] matrix; got shape {matrix.shape}.")
    return _symmetric_part(matrix)


def _clamp_round_off(eigenvalues):
    """Eigenvalues of a PSD matrix with round-off removed: below D * eps * max |lambda| -> 0.

    sqrt amplifies round-off (sqrt(1e-16) = 1e-8), so the eigenvalues that
    are zero up to the accuracy of `eigh` are set to exactly zero, as
    `numpy.linalg.pinv` does with its default rcond.
    """
    scale = np.max(np.abs(eigenvalues), initial=0.0)
    tolerance = eigenvalues.size * np.finfo(np.float64).eps * scale
    return np.where(eigenvalues > tolerance, eigenvalues, 0.0)


def _psd_sqrt(matrix):
    """Symmetric square root of a symmetric PSD matrix, round-off eigenvalues clamped to 0."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    roots = np.sqrt(_clamp_round_off(eigenvalues))
    return (eigenvectors * roots) @ eigenvectors.T


def _trace_sqrt_product(sigma1, sigma2):
    """Tr((S_1 S_2)^{1/2}) = sum sqrt(eig(S_1^{1/2} S_2 S_1^{1/2})), round-off clamped to 0."""
    root1 = _psd_sqrt(sigma1)
    eigenvalues = np.linalg.eigvalsh(_symmetric_part(root1 @ sigma2 @ root1))
    return float(np.sum(np.sqrt(_clamp_round_off(eigenvalues))))


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

        d^2 = ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^{1/2})

    (Heusel et al. 2017, Eq. 6), the trace of the square root computed from
    the eigenvalues of sqrt(sigma1) sigma2 sqrt(sigma1) (see the module
    docstring); robust to singular covariances.

    Args:
        mu1: [D] mean of the first set.
        sigma1: [D, D] symmetric positive semi-definite covariance of the first set.
        mu2: [D] mean of the second set.
        sigma2: [D, D] covariance of the second set.

    Returns:
        d^2 as a Python float, >= 0 (this is FID when the features are
        InceptionV3 pool features).

    Raises:
        ValueError: if the shapes are not [D], [D, D] of one D.
    """
    mu1 = np.atleast_1d(np.asarray(mu1, np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1 = _as_covariance(sigma1, "sigma1")
    sigma2 = _as_covariance(sigma2, "sigma2")
    if not (mu1.ndim == 1 and mu1.shape == mu2.shape
            and sigma1.shape == sigma2.shape == 2 * mu1.shape):
        raise ValueError(
            "frechet_distance needs means [D] and covariances [D, D] with one D; got "
            f"mu1 {mu1.shape}, sigma1 {sigma1.shape}, mu2 {mu2.shape}, sigma2 {sigma2.shape}.")
    difference = mu1 - mu2
    value = (difference @ difference + np.trace(sigma1) + np.trace(sigma2)
             - 2.0 * _trace_sqrt_product(sigma1, sigma2))
    return max(float(value), 0.0)


def feature_statistics(features):
    """Mean and covariance of feature rows, in float64.

        mu = (1/N) sum_n x_n,   S = (1/(N - 1)) sum_n (x_n - mu)(x_n - mu)^T

    (the unbiased covariance, as `numpy.cov` and the reference FID code).

    Args:
        features: [N, D] array, N >= 2.

    Returns:
        (mean [D], covariance [D, D]).

    Raises:
        ValueError: if `features` is not [N, D] with N >= 2.
    """
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"feature_statistics needs features [N, D] with N >= 2; got shape "
                         f"{features.shape}.")
    mean = features.mean(axis=0)
    centred = features - mean
    covariance = centred.T @ centred / (features.shape[0] - 1)
    return mean, covariance


def frechet_distance_from_features(features1, features2):
    """Squared Fréchet distance between Gaussians fitted to two feature sets.

    Args:
        features1: [N1, D] features of the first set (e.g. real images).
        features2: [N2, D] features of the second set (e.g. generated images).

    Returns:
        d^2 as a Python float, >= 0.

    Raises:
        ValueError: for malformed shapes or mismatched D.
    """
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))
