"""Disentanglement scores: MIG, DCI, and latent-factor correlations.

Given encodings of N examples whose ground-truth factors of variation are
known (e.g. the azimuth, elevation and light of DC-IGN's faces, or the
scale, rotation and position of dSprites), these ask whether each factor is
captured by one latent (or a few) and each latent by one factor.

Mutual Information Gap (Chen et al. 2018, Eq. 6). For each factor v_k, how
much more the most informative latent knows about it than the runner-up, in
units of the factor's entropy, averaged over the factors:

    MIG = (1/K) sum_k [I(z_j(k); v_k) - max_{j != j(k)} I(z_j; v_k)] / H(v_k),
    j(k) = argmax_j I(z_j; v_k).

1 when each factor is captured by exactly one latent, completely; 0 when no
latent knows anything about it, or when two know the same. The estimate
follows disentanglement_lib's `mig.py` (Locatello et al. 2019): each latent is
discretised into `num_bins` (20) equal-width histogram bins
(`histogram_discretize`), and I and H are the discrete plug-in estimates of
`sklearn.metrics.mutual_info_score` on the codes, in nats. disentanglement_lib
takes the ground-truth factors as they are (its datasets' factors are
discrete). Here a factor with at most `num_bins` distinct values is used as
it is (its values become codes 0, 1, ...), and a factor with more (a
continuous factor) is binned like the latents, so that continuous factors
get a finite entropy comparable to that of a 20-bin latent. A factor that
never changes (H = 0) has no gap; it is reported as NaN and left out of the
mean.

DCI disentanglement and completeness (Eastwood & Williams 2018). A regressor
predicts each factor from all latents; its feature importances form a matrix
R [D, K]. A latent's disentanglement is 1 - H_K(R[j, :] / sum R[j, :]) (the
entropy, in base K, of its importances over factors), averaged with weights
sum R[j, :] / sum R; a factor's completeness is 1 - H_D(R[:, k] / sum R[:, k]),
averaged with weights sum R[:, k] / sum R. As in disentanglement_lib's
`dci.py` the importances are gradient boosting's (here a regressor, as the
factors may be continuous; disentanglement_lib classifies its discrete
factors), or the absolute Lasso coefficients on standardised data, the
linear variant of the paper.

Arrays are [N, D] latents and [N, K] factors, one row per example
(disentanglement_lib stores them transposed). `encode_held_out` makes them
from a model and held-out batches; `evaluate_disentanglement` gathers the
scores DC-IGN's evaluation reports (Kulkarni et al. 2015), for a model with
named latent groups or a plain VAE.

References:
    Chen, Li, Grosse & Duvenaud (2018), Isolating Sources of Disentanglement
    in Variational Autoencoders, NeurIPS, Sec. 4.1, Eq. 6.
    Eastwood & Williams (2018), A Framework for the Quantitative Evaluation of
    Disentangled Representations, ICLR.
    Kulkarni, Whitney, Kohli & Tenenbaum (2015), Deep Convolutional Inverse
    Graphics Network, NeurIPS.
    Locatello et al. (2019), Challenging Common Assumptions in the
    Unsupervised Learning of Disentangled Representations, ICML
    (disentanglement_lib: `evaluation/metrics/mig.py`, `dci.py`, `utils.py`).
"""

import numpy as np
from scipy import stats
from sklearn import ensemble
from sklearn import linear_model
from sklearn import metrics as sk_metrics

__all__ = ["histogram_discretize", "discretize_factors", "discrete_mutual_information",
           "discrete_entropy", "mutual_information_gap", "factor_correlations",
           "multiple_correlation", "dci_disentanglement", "encode_held_out",
           "evaluate_disentanglement"]


def _as_columns(values, name):
    """float64 [N, dims] from [N] or [N, dims], finite, at least one row."""
    values = np.asarray(values, np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"{name} must be [N, dims]; got shape {values.shape}.")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite.")
    return values


def _paired(latents, factors):
    latents, factors = _as_columns(latents, "latents"), _as_columns(factors, "factors")
    if latents.shape[0] != factors.shape[0]:
        raise ValueError(f"latents and factors need one row per example; got "
                         f"{latents.shape[0]} and {factors.shape[0]} rows.")
    if latents.shape[0] < 2:
        raise ValueError(f"Need at least 2 examples; got {latents.shape[0]}.")
    return latents, factors


def histogram_discretize(values, num_bins=20):
    """int [N, dims]: each column's bin among `num_bins` equal-width bins.

    disentanglement_lib's `_histogram_discretize`: `np.digitize` against the
    left edges of `np.histogram`'s bins over the column's range, so the codes
    run from 1 to num_bins (a constant column is all in one bin).

    Args:
        values: [N] or [N, dims] finite values.
        num_bins: number of bins, >= 1.

    Returns:
        int64 [N, dims] bin codes.
    """
    values = _as_columns(values, "values")
    if int(num_bins) < 1:
        raise ValueError(f"num_bins must be >= 1; got {num_bins}.")
    codes = np.zeros(values.shape, np.int64)
    for column in range(values.shape[1]):
        left_edges = np.histogram(values[:, column], int(num_bins))[1][:-1]
        codes[:, column] = np.digitize(values[:, column], left_edges)
    return codes


def discretize_factors(factors, num_bins=20):
    """int [N, K]: factors with <= num_bins distinct values as codes, others binned.

    A factor with at most `num_bins` distinct values (a class, or a
    quantised pose) keeps its partition exactly: its sorted distinct values
    become 0, 1, .... A factor with more distinct values is binned like the
    latents (`histogram_discretize`).
    """
    factors = _as_columns(factors, "factors")
    codes = np.zeros(factors.shape, np.int64)
    for column in range(factors.shape[1]):
        distinct, inverse = np.unique(factors[:, column], return_inverse=True)
        if distinct.size <= num_bins:
            codes[:, column] = inverse.reshape(-1)
        else:
            codes[:, column] = histogram_discretize(factors[:, column], num_bins)[:, 0]
    return codes


def discrete_mutual_information(latent_codes, factor_codes):
    """[D, K] I(z_j; v_k) in nats, from discrete codes [N, D] and [N, K]."""
    latent_codes, factor_codes = np.asarray(latent_codes), np.asarray(factor_codes)
    information = np.zeros([latent_codes.shape[1], factor_codes.shape[1]])
    for j in range(latent_codes.shape[1]):
        for k in range(factor_codes.shape[1]):
            information[j, k] = sk_metrics.mutual_info_score(factor_codes[:, k],
                                                             latent_codes[:, j])
    return information


def discrete_entropy(codes):
    """[K] H(v_k) in nats of discrete codes [N, K], as I(v_k; v_k)."""
    codes = np.asarray(codes)
    return np.array([sk_metrics.mutual_info_score(codes[:, k], codes[:, k])
                     for k in range(codes.shape[1])])


def mutual_information_gap(latents, factors, num_bins=20):
    """The Mutual Information Gap of a representation (Chen et al. 2018, Eq. 6).

    Procedure of disentanglement_lib's `mig.py`: histogram-discretise the
    latents into `num_bins` bins; discrete mutual information with every
    factor (`sklearn.metrics.mutual_info_score`, nats); for each factor, the
    gap between the largest and second-largest mutual information divided
    by the factor's entropy; the mean over factors. Factors with more than
    `num_bins` distinct values are binned the same way (see
    `discretize_factors`).

    Args:
        latents: [N, D] representations (e.g. posterior means), D >= 2.
        factors: [N, K] ground-truth factor values.
        num_bins: histogram bins per latent (and per continuous factor).

    Returns:
        dict with
            "mig": float, the mean gap over the factors that vary;
            "per_factor": float [K], the normalised gaps (NaN for a constant
                factor);
            "mutual_information": [D, K], I(z_j; v_k) in nats;
            "entropy": [K], H(v_k) in nats;
            "best_latent": int [K], argmax_j I(z_j; v_k).

    Raises:
        ValueError: mismatched rows, fewer than 2 examples or latents,
            non-finite values, or no factor that varies.
    """
    latents, factors = _paired(latents, factors)
    if latents.shape[1] < 2:
        raise ValueError(f"MIG needs at least 2 latents; got {latents.shape[1]}.")
    factor_codes = discretize_factors(factors, num_bins)
    information = discrete_mutual_information(histogram_discretize(latents, num_bins),
                                              factor_codes)
    entropy = discrete_entropy(factor_codes)
    varies = entropy > 0
    if not np.any(varies):
        raise ValueError("Every factor is constant: MIG is undefined.")
    ranked = np.sort(information, axis=0)[::-1]
    per_factor = np.full(factors.shape[1], np.nan)
    per_factor[varies] = (ranked[0, varies] - ranked[1, varies]) / entropy[varies]
    return {"mig": float(np.mean(per_factor[varies])), "per_factor": per_factor,
            "mutual_information": information, "entropy": entropy,
            "best_latent": np.argmax(information, axis=0)}


def factor_correlations(latents, factors):
    """[D, K] absolute Pearson correlation of every latent with every factor.

    The "latent j tracks factor k" report: |corr(z_j, v_k)| (as
    `np.corrcoef`), 0 where the latent or the factor is constant.

    Args:
        latents: [N, D].
        factors: [N, K].

    Returns:
        float [D, K] in [0, 1].
    """
    latents, factors = _paired(latents, factors)
    centred_latents = latents - latents.mean(axis=0)
    centred_factors = factors - factors.mean(axis=0)
    norms = np.outer(np.linalg.norm(centred_latents, axis=0),
                     np.linalg.norm(centred_factors, axis=0))
    covariance = centred_latents.T @ centred_factors
    safe = np.where(norms > 0, norms, 1.0)
    return np.where(norms > 0, np.clip(np.abs(covariance / safe), 0.0, 1.0), 0.0)


def multiple_correlation(latents, factor):
    """R: the correlation of a factor with its best linear prediction from latents.

    The square root of the R^2 of least squares with an intercept,

        R^2 = 1 - sum_i (v_i - v_hat_i)^2 / sum_i (v_i - mean(v))^2,

    so a latent group of any size gets one number; for a single latent it is
    |Pearson correlation|. 0 for a constant factor.

    Args:
        latents: [N] or [N, d], a group's latents.
        factor: [N] or [N, 1], the factor's values.

    Returns:
        float in [0, 1].
    """
    latents, factor = _paired(latents, factor)
    if factor.shape[1] != 1:
        raise ValueError(f"multiple_correlation takes one factor; got {factor.shape[1]}.")
    factor = factor[:, 0]
    design = np.concatenate([latents, np.ones([latents.shape[0], 1])], axis=1)
    coefficients = np.linalg.lstsq(design, factor, rcond=None)[0]
    residual = factor - design @ coefficients
    total = np.sum((factor - factor.mean()) ** 2)
    if total == 0:
        return 0.0
    return float(np.sqrt(np.clip(1.0 - np.sum(residual ** 2) / total, 0.0, 1.0)))


def _standardise(values):
    scale = values.std(axis=0)
    return (values - values.mean(axis=0)) / np.where(scale > 0, scale, 1.0)


def _boosting_importance(latents, factor, seed):
    model = ensemble.GradientBoostingRegressor(n_estimators=50, max_depth=3,
                                               random_state=seed)
    return np.abs(model.fit(latents, factor).feature_importances_)


def _lasso_importance(latents, factor, seed):
    model = linear_model.Lasso(alpha=0.01, random_state=seed)
    return np.abs(model.fit(latents, factor).coef_)


_IMPORTANCES = {"gradient_boosting": _boosting_importance, "lasso": _lasso_importance}


def dci_disentanglement(latents, factors, importance="gradient_boosting", seed=0):
    """DCI disentanglement and completeness (Eastwood & Williams 2018).

    R[j, k] is the importance of latent j for predicting factor k by a
    regressor fitted on all N examples (latents and factors standardised):
    `GradientBoostingRegressor(n_estimators=50, max_depth=3)` feature
    importances, or `|Lasso(alpha=0.01) coefficients|`. Then

        disentanglement = sum_j rho_j (1 - H_K(P[j, :])),
            P[j, k] = R[j, k] / sum_k R[j, k],  rho_j = sum_k R[j, k] / sum R;
        completeness = sum_k rho_k (1 - H_D(Q[:, k])),
            Q[j, k] = R[j, k] / sum_j R[j, k],  rho_k = sum_j R[j, k] / sum R,

    H_b the entropy in base b (disentanglement_lib's `dci.py`). Both are in
    [0, 1]; both are 0 if no latent predicts any factor.

    Args:
        latents: [N, D], D >= 2.
        factors: [N, K], K >= 2.
        importance: "gradient_boosting" or "lasso".
        seed: the regressors' random_state.

    Returns:
        dict with "disentanglement" (float), "completeness" (float) and
        "importance" ([D, K], R).

    Raises:
        ValueError: an unknown `importance`, fewer than 2 latents or
            factors, or the input errors of `mutual_information_gap`.
    """
    if importance not in _IMPORTANCES:
        raise ValueError(f"Unknown importance {importance!r}; expected one of "
                         f"{tuple(_IMPORTANCES)}.")
    latents, factors = _paired(latents, factors)
    num_latents, num_factors = latents.shape[1], factors.shape[1]
    if num_latents < 2 or num_factors < 2:
        raise ValueError(f"DCI needs at least 2 latents and 2 factors; got {num_latents} "
                         f"and {num_factors}.")
    latents, factors = _standardise(latents), _standardise(factors)
    matrix = np.stack([_IMPORTANCES[importance](latents, factors[:, k], seed)
                       for k in range(num_factors)], axis=1)
    total = matrix.sum()
    if total <= 0:
        return {"disentanglement": 0.0, "completeness": 0.0, "importance": matrix}
    per_latent = 1.0 - stats.entropy(matrix.T + 1e-11, base=num_factors)
    per_factor = 1.0 - stats.entropy(matrix + 1e-11, base=num_latents)
    return {"disentanglement": float(np.sum(per_latent * matrix.sum(axis=1) / total)),
            "completeness": float(np.sum(per_factor * matrix.sum(axis=0) / total)),
            "importance": matrix}


def encode_held_out(model, dataset, max_examples=10_000):
    """Posterior means of held-out batches with their factors, for the scores above.

    Args:
        model: a `zoo.VAE` (or subclass); `model.encode(batch)[0]` is the
            posterior mean.
        dataset: finite batches with `image` and `factors`.
        max_examples: at most this many examples (whole batches are read).

    Returns:
        (latents [N, D], factors [N, F], the first batch's first <= 8 images).
    """
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

    What DC-IGN's evaluation reports (Kulkarni et al. 2015 judge their named
    latents by the factor each tracks), with MIG (Chen et al. 2018) and DCI
    (Eastwood & Williams 2018) over all latents, for a model with named
    latent groups and for a plain VAE alike.

    Args:
        latents, factors: from `encode_held_out`.
        factor_names: names of the factor columns.
        named_factors: the factors a latent group is meant for (the headline
            scores are over these; `*_all_factors` over every factor).
        groups: {factor name: slice of the latents} of the named groups, or
            None (a plain VAE).
        seed: seed of DCI's regressors.

    Returns:
        dict: `num_held_out`, `named_factors`, `mig`, `mig_per_factor`,
        `dci_disentanglement`, `dci_completeness` (named factors; DCI only
        for 2 or more), the same with `_all_factors`,
        `best_latent_correlations` {name: max_j |r(z_j, v)|} and, with
        groups, `factor_correlations` {name: R of the factor's own group}.
    """
    factor_names = list(factor_names)
    columns = [factor_names.index(name) for name in named_factors]
    named = factors[:, columns]
    correlations = factor_correlations(latents, factors)
    results = {"num_held_out": int(latents.shape[0]), "named_factors": list(named_factors),
               "best_latent_correlations": {name: float(correlations[:, k].max())
                                            for k, name in enumerate(factor_names)}}
    scores = mutual_information_gap(latents, named)
    results.update(mig=scores["mig"], mig_per_factor=_gaps(named_factors, scores["per_factor"]))
    everything = mutual_information_gap(latents, factors)
    results.update(mig_all_factors=everything["mig"],
                   mig_per_factor_all_factors=_gaps(factor_names, everything["per_factor"]))
    for suffix, values in (("", named), ("_all_factors", factors)):
        if values.shape[1] >= 2:
            dci = dci_disentanglement(latents, values, seed=seed)
            results["dci_disentanglement" + suffix] = dci["disentanglement"]
            results["dci_completeness" + suffix] = dci["completeness"]
    if groups is not None:
        results["factor_correlations"] = {
            name: multiple_correlation(latents[:, part], factors[:, factor_names.index(name)])
            for name, part in groups.items()}
    return results
