"""Customer bootstrap helpers: seeded resamples, folds that keep a resampled unit together, and the summary of
a statistic's replicates.

Functions
---------
resample
    Row indices of replicate ``b`` of a nonparametric bootstrap, from its own seed.
grouped_stratified_folds
    K folds of a resample in which all copies of one unit fall in the same fold, stratified by outcome.
summarise_replicates
    Bootstrap standard deviation and percentile interval of each statistic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from ._common import check_conf_level

__all__ = ["replicate_rng", "resample", "grouped_stratified_folds", "bootstrap_interval", "summarise_replicates"]

#: The interval kinds of :func:`bootstrap_interval`.
INTERVALS = ("percentile", "basic", "normal")


def bootstrap_interval(estimate: float, draws, conf_level: float = 0.95,
                       method: str = "percentile") -> tuple[float, float]:
    """A bootstrap interval of ``estimate`` from its replicates ``draws`` (NaN replicates left out).

    ``percentile``: the ``(1 ± conf_level)/2`` quantiles of the draws; ``basic`` (Davison & Hinkley's basic, or
    "reverse percentile"): ``2·estimate`` minus those quantiles, swapped, which corrects a bias the draws share with
    the estimate; ``normal``: ``estimate ± z·sd``. Quantiles use numpy's linear interpolation.
    """
    from scipy.stats import norm

    conf_level = check_conf_level(conf_level)
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return np.nan, np.nan
    lo, hi = np.quantile(d, (1 - conf_level) / 2), np.quantile(d, (1 + conf_level) / 2)
    if method == "percentile":
        return float(lo), float(hi)
    if method == "basic":
        return float(2 * estimate - hi), float(2 * estimate - lo)
    if method == "normal":
        half = norm.ppf(0.5 + conf_level / 2) * float(np.std(d, ddof=1))
        return float(estimate - half), float(estimate + half)
    raise ValueError(f"method must be one of {', '.join(INTERVALS)}, got {method!r}")


def replicate_rng(seed: int, replicate: int) -> np.random.Generator:
    """The generator of replicate ``replicate``: ``SeedSequence([seed, replicate])``, so a replicate's draws do
    not depend on which worker runs it or in which order."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(replicate)]))


def resample(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` row indices drawn with replacement."""
    return rng.integers(0, n, size=n)


def grouped_stratified_folds(units: np.ndarray, y: np.ndarray, n_splits: int, rng: np.random.Generator) -> np.ndarray:
    """The fold (0 … n_splits − 1) of every row of a resample.

    ``units`` are the resampled rows' original indices and ``y`` their outcomes (one per row, equal for the copies
    of a unit). The distinct units are split by :class:`sklearn.model_selection.StratifiedKFold` (shuffled, seeded
    from ``rng``), and every copy of a unit goes to its unit's fold: a customer drawn twice is never both fitted
    and predicted in the same split.
    """
    units = np.asarray(units)
    distinct, first = np.unique(units, return_index=True)
    labels = np.asarray(y)[first]
    fold_of_unit = np.empty(len(distinct), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=int(rng.integers(0, 2**31 - 1)))
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(distinct)), labels)):
        fold_of_unit[test] = k
    return fold_of_unit[np.searchsorted(distinct, units)]


def summarise_replicates(estimates: pd.Series, replicates: pd.DataFrame, conf_level: float = 0.95,
                         method: str = "percentile") -> pd.DataFrame:
    """Bootstrap SD and percentile interval of each statistic.

    Parameters
    ----------
    estimates
        The statistics on the original data, indexed by name.
    replicates
        One row per replicate, one column per statistic (same names).

    Returns
    -------
    pandas.DataFrame
        Index: the statistics; columns ``estimate, std_error, conf_low, conf_high, n_replicates``
        (``std_error`` the replicates' standard deviation, ddof 1; the interval :func:`bootstrap_interval` of
        ``method``; NaN replicates are left out).
    """
    conf_level = check_conf_level(conf_level)
    values = replicates[list(estimates.index)].to_numpy(dtype=float)
    finite = np.isfinite(values)
    rows = []
    for j, name in enumerate(estimates.index):
        column = values[finite[:, j], j]
        if len(column) < 2:
            rows.append((float(estimates[name]), np.nan, np.nan, np.nan, len(column)))
            continue
        low, high = bootstrap_interval(float(estimates[name]), column, conf_level, method)
        rows.append((float(estimates[name]), float(np.std(column, ddof=1)), low, high, len(column)))
    return pd.DataFrame(rows, index=estimates.index,
                        columns=["estimate", "std_error", "conf_low", "conf_high", "n_replicates"])
