"""Exact statistics of data seen in parts and kept only as counts of distinct values.

Data too large to hold at once can be summarised part by part as ``value -> count`` and the parts added; when
the values are few (money rounded to a kopeck, whole minutes), the summary stays small however many rows there
are, and order statistics computed from it are exact, not approximations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def value_counts(values) -> pd.Series:
    """Counts of the distinct non-missing values of ``values``.

    Returns
    -------
    pandas.Series
        Index: the distinct values (sorted); values: their counts (``int64``).
    """
    series = pd.Series(np.asarray(values, dtype="float64"))
    return series.dropna().value_counts().sort_index().astype("int64")


def add_counts(*parts: pd.Series) -> pd.Series:
    """The counts of the union of the parts (each as returned by :func:`value_counts`), sorted by value."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.Series(dtype="int64")
    total = pd.concat(parts)
    return total.groupby(level=0, sort=True).sum().astype("int64")


def median_from_counts(counts: pd.Series) -> float:
    """The median of the data summarised by ``counts`` (distinct value -> count).

    Notes
    -----
    With the :math:`n` values sorted as :math:`x_{(0)} \\le \\dots \\le x_{(n-1)}`, the median is
    :math:`(x_{(\\lfloor (n-1)/2 \\rfloor)} + x_{(\\lfloor n/2 \\rfloor)}) / 2`, computed as a sum then a halving
    exactly as :func:`numpy.median` does, so that the result is the same float. ``nan`` when there are no values.
    """
    if (counts < 0).any():
        raise ValueError(f"counts must be non-negative, got {int(counts.min())}")
    counts = counts[counts > 0].sort_index()
    n = int(counts.sum())
    if n == 0:
        return float("nan")
    upper_ranks = np.cumsum(counts.to_numpy())  # values[i] occupies ranks [upper[i-1], upper[i])
    values = counts.index.to_numpy(dtype="float64")
    low = values[np.searchsorted(upper_ranks, (n - 1) // 2, side="right")]
    high = values[np.searchsorted(upper_ranks, n // 2, side="right")]
    return float(np.mean(np.array([low, high])))
