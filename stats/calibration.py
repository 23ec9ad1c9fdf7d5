"""Calibration of predicted probabilities for a binary outcome.

Functions
---------
brier_score
    Mean squared error of probabilities.
reliability_curve
    Binned mean prediction vs observed rate with Wilson intervals.
hosmer_lemeshow
    Hosmer-Lemeshow goodness-of-fit test over groups of predicted risk.
wilson_interval
    Wilson score interval of a binomial proportion.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from ._common import (
    binary_array,
    check_choice,
    check_positive_int,
    normal_quantile,
    probability_array,
)

__all__ = ["brier_score", "reliability_curve", "hosmer_lemeshow", "wilson_interval"]


def _pair(y, p) -> tuple[np.ndarray, np.ndarray]:
    y_arr = binary_array(y, "y")
    p_arr = probability_array(p, "p")
    if len(y_arr) != len(p_arr):
        raise ValueError(f"y and p differ in length: {len(y_arr)} vs {len(p_arr)}")
    if len(y_arr) == 0:
        raise ValueError("y and p are empty")
    return y_arr, p_arr


def brier_score(y, p) -> float:
    """Brier score of predicted probabilities.

    Parameters
    ----------
    y : array-like of 0/1
    p : array-like of probabilities in [0, 1]

    Returns
    -------
    float
        The Brier score; 0 is perfect, ``0.25`` is a constant 0.5.

    Notes
    -----
    ``BS = (1/n) sum_i (p_i - y_i)^2``.
    """
    y_arr, p_arr = _pair(y, p)
    return float(np.mean((p_arr - y_arr) ** 2))


def wilson_interval(successes, n, conf_level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of binomial proportions.

    Returns
    -------
    tuple of numpy.ndarray
        ``(low, high)``.

    Notes
    -----
    With ``phat = successes / n`` and ``z`` the normal quantile,
    ``center = (phat + z^2/(2n)) / (1 + z^2/n)`` and
    ``half = z / (1 + z^2/n) * sqrt(phat (1 - phat) / n + z^2 / (4 n^2))``.
    """
    z = normal_quantile(conf_level)
    s = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    phat = s / n
    denom = 1.0 + z**2 / n
    center = (phat + z**2 / (2.0 * n)) / denom
    half = z / denom * np.sqrt(phat * (1.0 - phat) / n + z**2 / (4.0 * n**2))
    return np.clip(center - half, 0.0, 1.0), np.clip(center + half, 0.0, 1.0)


def _bin_codes(p: np.ndarray, n_bins: int, strategy: str) -> np.ndarray:
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
        return np.clip(np.searchsorted(edges, p, side="right") - 1, 0, n_bins - 1)
    codes = pd.qcut(p, q=n_bins, labels=False, duplicates="drop")
    return np.asarray(codes, dtype=int)


def reliability_curve(
    y,
    p,
    n_bins: int = 10,
    strategy: str = "quantile",
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Reliability (calibration) curve with Wilson intervals of the observed rate.

    Parameters
    ----------
    y : array-like of 0/1
    p : array-like of predicted probabilities
    n_bins : int, default 10
    strategy : {"quantile", "uniform"}, default "quantile"
        ``"quantile"``: bins with (about) equal counts, ``pd.qcut`` on ``p``
        (tied edges merged, so fewer bins may result); ``"uniform"``:
        equal-width bins on [0, 1] (empty bins omitted).
    conf_level : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin in increasing risk, columns:

        - ``bin`` (int): bin number (0-based).
        - ``n`` (int): observations in the bin.
        - ``mean_predicted`` (float): mean of ``p`` in the bin.
        - ``observed_rate`` (float): mean of ``y`` in the bin.
        - ``conf_low``, ``conf_high`` (float): Wilson interval of ``observed_rate``.

    Notes
    -----
    A calibrated model has ``observed_rate ~= mean_predicted`` in every bin.
    See :func:`wilson_interval` for the interval formula.
    """
    y_arr, p_arr = _pair(y, p)
    n_bins = check_positive_int("n_bins", n_bins, minimum=1)
    check_choice("strategy", strategy, ("quantile", "uniform"))
    codes = _bin_codes(p_arr, n_bins, strategy)
    frame = pd.DataFrame({"bin": codes, "y": y_arr, "p": p_arr})
    grouped = frame.groupby("bin", sort=True)
    out = pd.DataFrame(
        {
            "bin": grouped.size().index.astype(int),
            "n": grouped.size().to_numpy(dtype=int),
            "mean_predicted": grouped["p"].mean().to_numpy(),
            "observed_rate": grouped["y"].mean().to_numpy(),
        }
    )
    low, high = wilson_interval(grouped["y"].sum().to_numpy(), out["n"].to_numpy(), conf_level)
    out["conf_low"] = low
    out["conf_high"] = high
    return out.reset_index(drop=True)


def hosmer_lemeshow(y, p, n_groups: int = 10) -> pd.DataFrame:
    """Hosmer-Lemeshow goodness-of-fit test.

    Parameters
    ----------
    y : array-like of 0/1
    p : array-like of predicted probabilities (in-sample fitted values)
    n_groups : int, default 10
        Requested number of risk groups ("deciles of risk").

    Returns
    -------
    pandas.DataFrame
        One row, columns ``statistic`` (float), ``df`` (int), ``p_value``
        (float), ``n_groups`` (int, groups actually used; fewer than requested
        when tied quantiles are merged).

    Raises
    ------
    ValueError
        Bad inputs, or fewer than 3 distinct groups.

    Notes
    -----
    Groups are ``pd.qcut(p, n_groups, duplicates="drop")``. With ``n_g``
    observations, ``O_g = sum y`` and ``E_g = sum p`` in group ``g``,
    ``HL = sum_g (O_g - E_g)^2 / (E_g (1 - E_g / n_g))`` and
    ``p_value = P(chi2_{G-2} > HL)``. Groups with ``E_g (1 - E_g/n_g) = 0`` are
    skipped.
    """
    y_arr, p_arr = _pair(y, p)
    n_groups = check_positive_int("n_groups", n_groups, minimum=3)
    codes = np.asarray(pd.qcut(p_arr, q=n_groups, labels=False, duplicates="drop"), dtype=int)
    groups = np.unique(codes)
    if len(groups) < 3:
        raise ValueError(f"only {len(groups)} distinct risk groups could be formed; need >= 3")
    stat = 0.0
    for g in groups:
        mask = codes == g
        n_g = mask.sum()
        obs = y_arr[mask].sum()
        exp = p_arr[mask].sum()
        denom = exp * (1.0 - exp / n_g)
        if denom > 0:
            stat += (obs - exp) ** 2 / denom
    df = len(groups) - 2
    return pd.DataFrame(
        {
            "statistic": [float(stat)],
            "df": [int(df)],
            "p_value": [float(sps.chi2.sf(stat, df))],
            "n_groups": [int(len(groups))],
        }
    )
