"""Regression diagnostics of fitted binary logits.

Functions
---------
influence_table
    Leverage, Cook's distance and residuals of the most influential rows.
separation_check
    Detection of complete / quasi-complete separation (Konis, 2007).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from ._common import binary_array, check_positive_int
from .logit import _hat_values, _logit_pieces

__all__ = ["influence_table", "separation_check"]


def influence_table(result, top: int | None = 10) -> pd.DataFrame:
    """Most influential observations of a fitted logit.

    Parameters
    ----------
    result : statsmodels Logit results
    top : int or None, default 10
        Number of rows to return (largest Cook's distance first); ``None``
        returns every observation in fit order.

    Returns
    -------
    pandas.DataFrame
        Columns:

        - ``row``: row label of the observation in the fitted data.
        - ``leverage`` (float): GLM hat value ``h_i``.
        - ``cooks_distance`` (float): Cook's distance ``D_i``.
        - ``pearson_residual`` (float): ``(y_i - p_i) / sqrt(p_i (1 - p_i))``.
        - ``deviance_residual`` (float):
          ``sign(y_i - p_i) sqrt(-2 [y_i log p_i + (1 - y_i) log(1 - p_i)])``.

    Notes
    -----
    ``h_i = w_i x_i' (X'WX)^{-1} x_i`` with ``w_i = p_i (1 - p_i)`` and
    ``D_i = r_i^2 h_i / (k (1 - h_i)^2)`` with ``r_i`` the Pearson residual
    and ``k`` the number of parameters -- the same quantities as
    ``statsmodels`` ``GLM(..., Binomial()).get_influence()``. They use the
    model-based information whatever the result's ``cov_type``.
    """
    if top is not None:
        top = check_positive_int("top", top)
    X, y, p, bread = _logit_pieces(result)
    k = X.shape[1]
    h = _hat_values(X, p, bread)
    w = p * (1.0 - p)
    with np.errstate(divide="ignore", invalid="ignore"):
        pearson = (y - p) / np.sqrt(w)
        cooks = pearson**2 * h / (k * (1.0 - h) ** 2)
    eps = np.finfo(float).tiny
    loglik = y * np.log(np.maximum(p, eps)) + (1.0 - y) * np.log(np.maximum(1.0 - p, eps))
    deviance = np.sign(y - p) * np.sqrt(np.maximum(-2.0 * loglik, 0.0))
    labels = getattr(result.model.data, "row_labels", None)
    labels = np.arange(len(y)) if labels is None else np.asarray(labels)
    table = pd.DataFrame(
        {
            "row": labels,
            "leverage": h,
            "cooks_distance": cooks,
            "pearson_residual": pearson,
            "deviance_residual": deviance,
        }
    )
    if top is None:
        return table
    order = np.argsort(-np.nan_to_num(cooks, nan=-np.inf), kind="stable")[:top]
    return table.iloc[order].reset_index(drop=True)


def _lp_separation(X: np.ndarray, y: np.ndarray, margin_tol: float) -> str:
    """Classify separation with two linear programmes (see :func:`separation_check`)."""
    scale = np.max(np.abs(X), axis=0)
    scale[scale == 0] = 1.0
    Xt = (X / scale) * (2.0 * y - 1.0)[:, None]
    n, k = Xt.shape
    box = [(-1.0, 1.0)] * k
    # LP 1: maximise sum_i xt_i' b  subject to  Xt b >= 0, |b_j| <= 1.
    lp1 = linprog(-Xt.sum(axis=0), A_ub=-Xt, b_ub=np.zeros(n), bounds=box, method="highs")
    if lp1.status != 0:
        raise RuntimeError(f"separation LP failed: {lp1.message}")
    margins = Xt @ lp1.x
    if margins.max() <= margin_tol:
        return "none"
    # LP 2: maximise t subject to  Xt b >= t, |b_j| <= 1, t <= 1.
    c = np.zeros(k + 1)
    c[-1] = -1.0
    A = np.hstack([-Xt, np.ones((n, 1))])
    lp2 = linprog(c, A_ub=A, b_ub=np.zeros(n), bounds=box + [(None, 1.0)], method="highs")
    if lp2.status != 0:
        raise RuntimeError(f"separation LP failed: {lp2.message}")
    return "complete" if -lp2.fun > margin_tol else "quasi-complete"


def separation_check(result_or_design, y=None, *, tol: float = 1e-6) -> pd.DataFrame:
    """Detect complete or quasi-complete separation in a binary regression.

    Parameters
    ----------
    result_or_design : statsmodels Logit results or array-like
        A fitted result (its design and response are used), or a design matrix
        ``X`` (including the intercept column if the model has one) when ``y``
        is given.
    y : array-like of 0/1, optional
        Response; required when a design matrix is passed.
    tol : float, default 1e-6
        Fitted probabilities within ``tol`` of 0 or 1 are counted as extreme;
        also the margin above which the LP solution counts as separating.

    Returns
    -------
    pandas.DataFrame
        One row, columns:

        - ``separation`` (str): ``"none"``, ``"quasi-complete"`` or ``"complete"``.
        - ``n_fitted_extreme`` (Int64): fitted ``p_i < tol`` or ``> 1 - tol``
          (missing without a fitted result).
        - ``max_abs_coef`` (float): ``max_j |beta_j|`` (NaN without a result).
        - ``max_std_error`` (float): ``max_j se_j`` (NaN without a result);
          huge values next to huge coefficients are the symptom of separation.
        - ``method`` (str): ``"linear-programming (Konis 2007)"``.

    Notes
    -----
    Let ``s_i = 2 y_i - 1`` and ``xt_i = s_i x_i`` (columns scaled to max
    absolute value 1). The data are separated iff some ``b != 0`` has
    ``xt_i' b >= 0`` for all ``i`` with at least one strict inequality
    (Albert & Anderson, 1984); then the MLE does not exist. Following Konis
    (2007), LP 1 maximises ``sum_i xt_i' b`` subject to ``xt_i' b >= 0`` and
    ``|b_j| <= 1``: a positive optimum means separation. LP 2 maximises
    ``t`` subject to ``xt_i' b >= t``: ``t > 0`` means every observation is
    strictly separated (complete), otherwise the separation is quasi-complete.
    Solved with ``scipy.optimize.linprog`` (HiGHS).
    """
    if not (np.isfinite(tol) and 0 < tol < 0.5):
        raise ValueError(f"tol must be in (0, 0.5), got {tol!r}")
    n_extreme: object = pd.NA
    max_abs = np.nan
    max_se = np.nan
    if y is None:
        if not hasattr(result_or_design, "model"):
            raise ValueError("pass a fitted result, or a design matrix together with y")
        X, y_arr, p, _ = _logit_pieces(result_or_design)
        n_extreme = int(np.sum((p < tol) | (p > 1.0 - tol)))
        max_abs = float(np.max(np.abs(np.asarray(result_or_design.params, dtype=float))))
        with np.errstate(invalid="ignore"):
            max_se = float(np.nanmax(np.asarray(result_or_design.bse, dtype=float)))
    else:
        X = np.asarray(result_or_design, dtype=float)
        if X.ndim == 1:
            X = X[:, None]
        y_arr = binary_array(y, "y")
        if X.shape[0] != len(y_arr):
            raise ValueError(f"design has {X.shape[0]} rows but y has {len(y_arr)} values")
    if not np.all(np.isfinite(X)):
        raise ValueError("design contains missing or non-finite values")
    status = _lp_separation(X, y_arr, tol)
    return pd.DataFrame(
        {
            "separation": pd.array([status], dtype="str"),
            "n_fitted_extreme": pd.array([n_extreme], dtype="Int64"),
            "max_abs_coef": [max_abs],
            "max_std_error": [max_se],
            "method": pd.array(["linear-programming (Konis 2007)"], dtype="str"),
        }
    )
