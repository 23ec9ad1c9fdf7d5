"""Profiles of a group (segment) against the rest of a population.

Functions
---------
cliffs_delta
    Cliff's delta dominance effect size of two samples.
compare_groups
    Variable-by-variable comparison of a group with the rest, with
    multiplicity-adjusted p values.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from ._common import check_choice

__all__ = ["cliffs_delta", "cliffs_delta_interval", "difference_interval", "compare_groups"]

_CORRECTIONS = ("holm", "fdr_bh", "none")


def _clean(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    arr = arr[~np.isnan(arr)]
    if len(arr) == 0:
        raise ValueError(f"{name} has no non-missing values")
    return arr


def cliffs_delta(x, y) -> float:
    """Cliff's delta of sample ``x`` versus sample ``y``.

    Parameters
    ----------
    x, y : array-like of numbers
        Missing values are dropped.

    Returns
    -------
    float
        ``delta = P(X > Y) - P(X < Y)`` in [-1, 1].

    Notes
    -----
    ``delta = (#{(i,j): x_i > y_j} - #{(i,j): x_i < y_j}) / (n_x n_y)``,
    computed in ``O((n_x + n_y) log n_y)`` by sorting ``y``. Equivalently
    ``delta = 2 U_x / (n_x n_y) - 1`` with ``U_x`` the Mann-Whitney statistic
    of ``x`` (ties counted 1/2). |delta| of 0.147 / 0.33 / 0.474 are the
    conventional small / medium / large thresholds (Romano et al., 2006).
    """
    xs = _clean(x, "x")
    ys = np.sort(_clean(y, "y"))
    greater = np.searchsorted(ys, xs, side="left").sum()  # y_j < x_i
    less = (len(ys) - np.searchsorted(ys, xs, side="right")).sum()  # y_j > x_i
    return float((greater - less) / (len(xs) * len(ys)))


def cliffs_delta_interval(delta: float, n_x: int, n_y: int, conf_level: float = 0.95) -> tuple[float, float]:
    """Interval of Cliff's delta through the area under the ROC curve ``A = (δ + 1) / 2``, with the variance of
    Hanley & McNeil (1982): ``var A = [A(1 − A) + (n_x − 1)(Q1 − A²) + (n_y − 1)(Q2 − A²)] / (n_x n_y)``,
    ``Q1 = A / (2 − A)``, ``Q2 = 2A² / (1 + A)``; the Wald interval of ``A`` clipped to [0, 1], mapped back by
    ``δ = 2A − 1``. Ties make it approximate (its coverage is checked by simulation in the tests)."""
    from ._common import normal_quantile

    a = (float(delta) + 1.0) / 2.0
    q1, q2 = a / (2.0 - a), 2.0 * a * a / (1.0 + a)
    var = (a * (1 - a) + (n_x - 1) * (q1 - a * a) + (n_y - 1) * (q2 - a * a)) / (n_x * n_y)
    half = normal_quantile(conf_level) * np.sqrt(max(var, 0.0))
    return 2.0 * max(a - half, 0.0) - 1.0, 2.0 * min(a + half, 1.0) - 1.0


def difference_interval(k_x: int, n_x: int, k_y: int, n_y: int, conf_level: float = 0.95) -> tuple[float, float]:
    """Newcombe's hybrid score interval (his method 10) of ``k_x/n_x − k_y/n_y`` from the two Wilson intervals:
    ``d − sqrt((p_x − l_x)² + (u_y − p_y)²)`` to ``d + sqrt((u_x − p_x)² + (p_y − l_y)²)``."""
    from statsmodels.stats.proportion import proportion_confint

    if n_x == 0 or n_y == 0:
        return np.nan, np.nan
    px, py = k_x / n_x, k_y / n_y
    lx, ux = proportion_confint(k_x, n_x, alpha=1 - conf_level, method="wilson")
    ly, uy = proportion_confint(k_y, n_y, alpha=1 - conf_level, method="wilson")
    d = px - py
    return d - np.sqrt((px - lx) ** 2 + (uy - py) ** 2), d + np.sqrt((ux - px) ** 2 + (py - ly) ** 2)


def _level_labels(values: pd.Series) -> pd.Series:
    return values.map(lambda v: str(v) if not isinstance(v, (bool, np.bool_)) else str(bool(v)))


def compare_groups(
    df: pd.DataFrame,
    in_group,
    numeric: Sequence[str],
    categorical: Sequence[str],
    correction: str = "holm",
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Compare a group of rows with the remaining rows, variable by variable.

    Parameters
    ----------
    df : pandas.DataFrame
    in_group : array-like of bool
        ``True`` for rows of the group; both the group and the rest must be
        non-empty.
    numeric : list of str
        Numeric variables (compared by medians, Cliff's delta, Mann-Whitney U).
    categorical : list of str
        Categorical or binary variables (compared by level shares, chi2 test).
    correction : {"holm", "fdr_bh", "none"}, default "holm"
        Multiplicity adjustment across variables (one p value per variable):
        Holm's step-down FWER or Benjamini-Hochberg FDR
        (``statsmodels.stats.multitest.multipletests``).

    Returns
    -------
    pandas.DataFrame
        Numeric variables first (in the given order), then one row per level
        of each categorical variable (levels sorted by value), columns:

        - ``variable`` (str)
        - ``level`` (str; missing for numeric rows)
        - ``kind`` (str): ``"numeric"`` or ``"categorical"``.
        - ``group_value`` (float): median in the group (numeric) or share of
          the level in the group (categorical).
        - ``rest_value`` (float): same for the rest.
        - ``effect_size`` (float): Cliff's delta group vs rest (numeric) or
          ``group_value - rest_value`` (categorical).
        - ``effect_measure`` (str): ``"cliffs_delta"`` or
          ``"difference_in_proportions"``.
        - ``conf_low``, ``conf_high`` (float): interval of the effect size at
          ``conf_level`` (:func:`cliffs_delta_interval`, Hanley–McNeil; or
          :func:`difference_interval`, Newcombe's hybrid score).
        - ``test`` (str): ``"mann_whitney_u"`` or ``"chi2_independence"``.
        - ``statistic`` (float): U of the group sample, or Pearson chi2 of
          the group x level table (repeated on each level row).
        - ``p_value`` (float): two-sided p value (one per variable).
        - ``p_adjusted`` (float): adjusted p value.

    Raises
    ------
    ValueError
        Unknown columns, bad ``in_group``, unknown ``correction``.

    Notes
    -----
    Missing values are dropped variable by variable. Mann-Whitney U uses
    ``scipy.stats.mannwhitneyu(method="auto")``; the chi2 test is the Pearson
    statistic of the 2 x L table without continuity correction, df = L - 1.
    Cliff's delta equals ``2 U / (n_g n_r) - 1``. Adjustment is over the
    ``len(numeric) + len(categorical)`` variable-level p values.
    """
    check_choice("correction", correction, _CORRECTIONS)
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    numeric, categorical = list(numeric), list(categorical)
    unknown = [c for c in numeric + categorical if c not in df.columns]
    if unknown:
        raise ValueError(f"columns {unknown!r} are not in df")
    mask = np.asarray(in_group)
    if mask.dtype != bool or mask.ndim != 1 or len(mask) != len(df):
        raise ValueError(f"in_group must be a boolean array of length {len(df)}")
    if mask.all() or not mask.any():
        raise ValueError("in_group must contain both True and False")

    rows: list[dict] = []
    var_p: list[float] = []
    var_rows: list[list[int]] = []
    for var in numeric:
        col = df[var]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            raise ValueError(f"numeric variable {var!r} has non-numeric dtype {col.dtype}")
        g = _clean(col[mask], f"{var} in group")
        r = _clean(col[~mask], f"{var} in rest")
        test = sps.mannwhitneyu(g, r, alternative="two-sided", method="auto")
        var_rows.append([len(rows)])
        var_p.append(float(test.pvalue))
        delta = cliffs_delta(g, r)
        low, high = cliffs_delta_interval(delta, len(g), len(r), conf_level)
        rows.append(
            {
                "variable": var,
                "level": None,
                "kind": "numeric",
                "group_value": float(np.median(g)),
                "rest_value": float(np.median(r)),
                "effect_size": delta,
                "effect_measure": "cliffs_delta",
                "conf_low": low,
                "conf_high": high,
                "test": "mann_whitney_u",
                "statistic": float(test.statistic),
                "p_value": float(test.pvalue),
            }
        )
    for var in categorical:
        col = df[var]
        keep = col.notna().to_numpy()
        labels = _level_labels(col[keep])
        grp = mask[keep]
        table = pd.crosstab(labels.to_numpy(), grp)
        table = table.reindex(columns=[True, False], fill_value=0)
        uniq = list(pd.unique(col[keep]))
        try:
            uniq = sorted(uniq)
        except TypeError:
            uniq = sorted(uniq, key=str)
        levels = list(dict.fromkeys(_level_labels(pd.Series(uniq, dtype=object)).tolist()))
        table = table.loc[levels]
        if len(levels) < 2 or (table[True].sum() == 0) or (table[False].sum() == 0):
            stat, p = np.nan, np.nan
        else:
            stat, p, _, _ = sps.chi2_contingency(table.to_numpy(), correction=False)
        share_g = table[True] / table[True].sum()
        share_r = table[False] / table[False].sum()
        idx = []
        for level in levels:
            idx.append(len(rows))
            low, high = difference_interval(int(table.loc[level, True]), int(table[True].sum()),
                                            int(table.loc[level, False]), int(table[False].sum()), conf_level)
            rows.append(
                {
                    "variable": var,
                    "level": level,
                    "kind": "categorical",
                    "group_value": float(share_g[level]),
                    "rest_value": float(share_r[level]),
                    "effect_size": float(share_g[level] - share_r[level]),
                    "effect_measure": "difference_in_proportions",
                    "conf_low": float(low),
                    "conf_high": float(high),
                    "test": "chi2_independence",
                    "statistic": float(stat),
                    "p_value": float(p),
                }
            )
        var_rows.append(idx)
        var_p.append(float(p))

    out = pd.DataFrame(
        rows,
        columns=[
            "variable", "level", "kind", "group_value", "rest_value", "effect_size",
            "effect_measure", "conf_low", "conf_high", "test", "statistic", "p_value",
        ],
    )
    adjusted = np.full(len(var_p), np.nan)
    p_arr = np.asarray(var_p, dtype=float)
    ok = ~np.isnan(p_arr)
    if ok.any():
        adjusted[ok] = p_arr[ok] if correction == "none" else multipletests(p_arr[ok], method=correction)[1]
    p_adj = np.full(len(out), np.nan)
    for rows_of_var, value in zip(var_rows, adjusted):
        p_adj[rows_of_var] = value
    out["p_adjusted"] = p_adj
    for c in ("variable", "level", "kind", "effect_measure", "test"):
        out[c] = out[c].astype("str") if c != "level" else pd.array(out[c].tolist(), dtype="str")
    return out
