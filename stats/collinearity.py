"""Collinearity diagnostics of a design matrix.

Functions
---------
variance_inflation
    Variance inflation factor of each design column.
generalized_variance_inflation
    Fox-Monette generalised VIF of multi-column terms (splines, categoricals).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["variance_inflation", "generalized_variance_inflation"]


def _numeric_design(design: pd.DataFrame, intercept_column: str | None) -> pd.DataFrame:
    if not isinstance(design, pd.DataFrame):
        raise ValueError(f"design must be a pandas DataFrame, got {type(design).__name__}")
    if intercept_column is not None and intercept_column not in design.columns:
        raise ValueError(f"intercept_column {intercept_column!r} is not a column of design")
    try:
        values = design.to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise ValueError("design must contain only numeric columns (an encoded design matrix)") from None
    if not np.all(np.isfinite(values)):
        raise ValueError("design contains missing or non-finite values")
    return pd.DataFrame(values, columns=[str(c) for c in design.columns], index=design.index)


def variance_inflation(design: pd.DataFrame, intercept_column: str | None = "Intercept") -> pd.DataFrame:
    """Variance inflation factor (VIF) of every non-intercept design column.

    Parameters
    ----------
    design : pandas.DataFrame
        Numeric design matrix, e.g. :func:`stats.logit.design_frame` of a fit.
    intercept_column : str or None, default "Intercept"
        Name of the constant column. It is kept among the regressors of each
        auxiliary regression but gets no VIF. ``None``: the design has no
        intercept and the (uncentred) VIF of every column is returned.

    Returns
    -------
    pandas.DataFrame
        Columns ``term`` (str) and ``vif`` (float, ``inf`` for an exactly
        collinear column), in design order.

    Raises
    ------
    ValueError
        If ``intercept_column`` is missing from ``design`` or the design is not
        numeric/finite.

    Notes
    -----
    ``VIF_j = 1 / (1 - R_j^2)`` with ``R_j^2`` from the OLS regression of
    column ``j`` on all other columns (including the intercept; without one,
    the uncentred ``R_j^2``). The auxiliary regressions are fitted here rather
    than by ``statsmodels``' ``variance_inflation_factor``, which standardises
    the columns since statsmodels 0.15 (a centred VIF even without intercept,
    and a different answer on 0.14).
    For multi-column terms prefer :func:`generalized_variance_inflation`.
    """
    from statsmodels.regression.linear_model import OLS

    frame = _numeric_design(design, intercept_column)
    values = frame.to_numpy()
    terms, vifs = [], []
    with np.errstate(divide="ignore", invalid="ignore"):
        for j, name in enumerate(frame.columns):
            if intercept_column is not None and name == str(intercept_column):
                continue
            terms.append(name)
            others = np.arange(values.shape[1]) != j
            r_sq = OLS(values[:, j], values[:, others]).fit().rsquared
            vifs.append(float(np.float64(1.0) / (1.0 - r_sq)))
    return pd.DataFrame({"term": pd.array(terms, dtype="str"), "vif": vifs})


def generalized_variance_inflation(
    design: pd.DataFrame,
    terms: Mapping[str, Sequence[str]],
    intercept_column: str | None = "Intercept",
) -> pd.DataFrame:
    """Generalised VIF (Fox & Monette, 1992) of groups of design columns.

    Parameters
    ----------
    design : pandas.DataFrame
        Numeric design matrix with an intercept column.
    terms : dict
        Maps a term label to the design columns that code it, e.g.
        ``{"x2": ["bs(x2, df=4)[0]", ..., "bs(x2, df=4)[3]"]}``. Columns of the
        design not listed in any term are treated as one term each.
    intercept_column : str or None, default "Intercept"
        Constant column, excluded from the correlation matrix.

    Returns
    -------
    pandas.DataFrame
        One row per term, ordered by its first design column; columns
        ``term`` (str), ``n_columns`` (int), ``gvif`` (float),
        ``gvif_adjusted`` (float, ``gvif ** (1 / (2 n_columns))``, comparable
        to ``sqrt(VIF)`` of a single column).

    Notes
    -----
    With ``R`` the correlation matrix of the non-intercept columns,
    ``GVIF_T = det(R_TT) det(R_OO) / det(R)`` where ``O`` are the other
    columns. For a single column this equals the ordinary VIF.
    """
    frame = _numeric_design(design, intercept_column)
    cols = [c for c in frame.columns if intercept_column is None or c != str(intercept_column)]
    listed: dict[str, list[str]] = {}
    for label, members in terms.items():
        members = [str(m) for m in members]
        unknown = [m for m in members if m not in cols]
        if unknown or not members:
            raise ValueError(f"term {label!r} lists unknown or no design columns: {unknown!r}")
        listed[str(label)] = members
    used = {m for ms in listed.values() for m in ms}
    for c in cols:
        if c not in used:
            listed[c] = [c]
    corr = np.corrcoef(frame[cols].to_numpy(), rowvar=False)
    corr = np.atleast_2d(corr)
    index = {c: i for i, c in enumerate(cols)}
    det_all = np.linalg.det(corr)
    listed = dict(sorted(listed.items(), key=lambda kv: min(index[m] for m in kv[1])))
    out_terms, n_cols, gvifs = [], [], []
    for label, members in listed.items():
        t = [index[m] for m in members]
        o = [i for i in range(len(cols)) if i not in set(t)]
        det_t = np.linalg.det(corr[np.ix_(t, t)])
        det_o = np.linalg.det(corr[np.ix_(o, o)]) if o else 1.0
        with np.errstate(divide="ignore"):
            gvif = float(det_t * det_o / det_all) if det_all > 0 else np.inf
        out_terms.append(label)
        n_cols.append(len(members))
        gvifs.append(gvif)
    gv = np.asarray(gvifs)
    return pd.DataFrame(
        {
            "term": pd.array(out_terms, dtype="str"),
            "n_columns": n_cols,
            "gvif": gv,
            "gvif_adjusted": gv ** (1.0 / (2.0 * np.asarray(n_cols))),
        }
    )
