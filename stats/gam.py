"""Penalised regression splines for a binary outcome (a logistic GAM), fast enough for cross-validation.

The model is statsmodels' ``GLMGam`` with a binomial family: a linear part from a patsy formula plus spline
bases of some numeric columns, each with its roughness penalty ``α β_j' S_j β_j`` (``S_j`` the integrated
squared second derivative). ``GLMGam.fit`` takes seconds on a thousand rows; the same penalised likelihood is
maximised here by Newton's method on arrays in milliseconds, and a test checks the two agree (the same basis and
penalty given to ``GLMGam`` through ``UnivariateGenericSmoother``). The smoothing weight is chosen on the training
rows by AIC with the effective degrees of freedom ``tr((H + 2αS)⁻¹ H)``, ``H = X'WX``.

One weight serves every smooth, so the penalty matrices are first brought to a common scale, as mgcv's
``smoothCon(scale.penalty = TRUE)`` does: ``S_j ← S_j · ‖X_j‖²_∞ / ‖S_j‖_∞`` (``X_j`` the smooth's basis
columns on the training rows, ``‖·‖_∞`` the largest absolute row sum). Without it a smooth is penalised for the
units of its variable (the raw ``S_j`` of the store's four smooths differ 55-fold in trace), not for its data.

Functions
---------
fit_penalized_logit
    Newton maximisation of ``ℓ(β) − Σ_j α_j β_j' S_j β_j``.
PenalizedSplineLogitClassifier
    scikit-learn classifier: design learned in ``fit``, smoothing weight by AIC over a grid.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin

from ._common import binary_array
from .design import build_design, design_dataframe

__all__ = ["fit_penalized_logit", "second_derivative_penalty", "scale_penalty", "choose_weight", "search_weight",
           "smooth_edf",
           "PenalizedSplineLogitClassifier"]


def fit_penalized_logit(X: np.ndarray, y: np.ndarray, penalty: np.ndarray, tol: float = 1e-10,
                        maxiter: int = 100, start: np.ndarray | None = None, damped: bool = False) -> dict:
    """Maximise ``ℓ(β) − β' P β`` (``P`` symmetric, already scaled by the smoothing weights) by Newton steps.

    Returns
    -------
    dict
        ``params`` (array), ``llf`` (unpenalised log-likelihood at the optimum), ``edf`` (effective degrees of
        freedom ``tr((H + 2P)⁻¹ H)``), ``aic`` (``−2 llf + 2 edf``), ``converged`` (bool), ``cov``
        (``(H + 2P)⁻¹``, the Bayesian covariance used by mgcv and statsmodels), ``influence`` (the diagonal of
        ``(H + 2P)⁻¹ H``: each coefficient's share of the edf).

    The penalised log-likelihood is strictly concave, so ``start`` (a warm start, e.g. the solution at a
    neighbouring weight) changes the number of Newton steps, not the optimum. ``damped`` halves a step until the
    objective does not fall (at most 30 times) and solves a singular Hessian by least squares: for resamples
    that may be separated or lack a column's variation (the bootstrap); where no finite optimum exists the fit
    stops after ``maxiter`` steps with ``converged`` False.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    beta = np.zeros(X.shape[1]) if start is None else np.array(start, dtype=float)
    converged = False
    def objective(b):
        eta = X @ b
        # y·η − log(1 + e^η), stable for large |η|
        return float(np.sum(y * eta - np.logaddexp(0.0, eta)) - b @ penalty @ b)

    current = objective(beta) if damped else None
    for _ in range(maxiter):
        p = expit(X @ beta)
        w = p * (1 - p)
        grad = X.T @ (y - p) - 2 * penalty @ beta
        hess = X.T @ (X * w[:, None]) + 2 * penalty
        if damped:
            try:
                step = np.linalg.solve(hess, grad)
            except np.linalg.LinAlgError:
                step = np.linalg.lstsq(hess, grad, rcond=None)[0]
            for _ in range(30):
                value = objective(beta + step)
                if np.isfinite(value) and value >= current - 1e-12 * abs(current):
                    break
                step = step / 2
            current = value
        else:
            step = np.linalg.solve(hess, grad)
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            converged = True
            break
    p = np.clip(expit(X @ beta), 1e-15, 1 - 1e-15)
    w = p * (1 - p)
    H = X.T @ (X * w[:, None])
    try:
        cov = np.linalg.inv(H + 2 * penalty)
    except np.linalg.LinAlgError:
        if not damped:
            raise
        cov = np.linalg.pinv(H + 2 * penalty)
    influence = np.einsum("ij,ji->i", cov, H)
    edf = float(influence.sum())
    llf = float(np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)))
    return {"params": beta, "llf": llf, "edf": edf, "aic": -2 * llf + 2 * edf, "converged": converged,
            "cov": cov, "influence": influence}


def scale_penalty(penalty: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, float]:
    """mgcv's ``scale.penalty``: ``S · ‖X‖²_∞ / ‖S‖_∞`` for a smooth with basis columns ``X`` (training rows).

    Returns
    -------
    (scaled, factor)
        The scaled penalty and the factor it was multiplied by (``scaled = factor · S``).
    """
    size_x = float(np.max(np.sum(np.abs(basis), axis=1))) ** 2
    size_s = float(np.max(np.sum(np.abs(penalty), axis=1)))
    if size_s <= 0 or size_x <= 0:
        return penalty, 1.0
    factor = size_x / size_s
    return penalty * factor, factor


def choose_weight(X: np.ndarray, y: np.ndarray, penalty: np.ndarray, alphas, damped: bool = False,
                  starts: dict | None = None, fits: dict | None = None, tol: float = 1e-10) -> tuple[float, dict]:
    """The weight of ``alphas`` with the smallest AIC of :func:`fit_penalized_logit` (``alpha · penalty``);
    ties keep the first. The weights are fitted in the order given, each Newton run started from ``starts[alpha]``
    when given, else from the previous weight's solution (same optima, fewer steps); ``fits``, when given, receives
    every weight's fit (to warm-start a related fit, e.g. the folds of the same rows)."""
    best, start = None, None
    for alpha in alphas:
        if starts is not None and alpha in starts:
            start = starts[alpha]
        fit = fit_penalized_logit(X, y, alpha * penalty, start=start, damped=damped, tol=tol)
        if fits is not None:
            fits[alpha] = fit["params"]
        start = fit["params"]
        if best is None or fit["aic"] < best[1]["aic"]:
            best = (float(alpha), fit)
    return best


def search_weight(X: np.ndarray, y: np.ndarray, penalty: np.ndarray, alphas, first: float, damped: bool = False,
                  starts: dict | None = None, fits: dict | None = None, tol: float = 1e-10) -> tuple[float, dict]:
    """:func:`choose_weight` by a local search along the same grid: fit ``first``, then walk to the neighbouring
    weight with the smaller AIC until neither neighbour is smaller. The same weight as the full grid whenever the
    AIC has a single minimum along the grid (the usual case for a penalised fit; a test counts agreements), with
    about half the fits. Ties keep the smaller weight, as the full grid's first-in-order does."""
    grid = list(alphas)
    done: dict[int, dict] = {}

    def fit_at(i):
        if i not in done:
            alpha = grid[i]
            start = starts.get(alpha) if starts is not None else None
            done[i] = fit_penalized_logit(X, y, alpha * penalty, start=start, damped=damped, tol=tol)
            if fits is not None:
                fits[alpha] = done[i]["params"]
        return done[i]

    i = grid.index(first) if first in grid else 0
    while True:
        here = fit_at(i)["aic"]
        left = fit_at(i - 1)["aic"] if i > 0 else np.inf
        right = fit_at(i + 1)["aic"] if i + 1 < len(grid) else np.inf
        if left <= here and left <= right:
            i -= 1
        elif right < here:
            i += 1
        else:
            return float(grid[i]), done[i]


def smooth_edf(fit: dict, slices: dict[str, slice]) -> dict[str, float]:
    """Effective degrees of freedom of each smooth: the sum of its coefficients' ``influence``."""
    return {name: float(fit["influence"][cols].sum()) for name, cols in slices.items()}


def second_derivative_penalty(design_info, term, column: str, low: float, high: float,
                              n_grid: int = 401) -> np.ndarray:
    """``S = ∫ B''(x) B''(x)' dx`` over ``[low, high]`` for the basis ``B`` of one patsy term in ``column``.

    The basis is evaluated through the term's own design info (so any patsy spline works: ``cr``, ``bs``) and
    differentiated by central second differences on a fine grid; the integral is the trapezoid rule.
    """
    sub = design_info.subset([term])
    h = (high - low) / (n_grid - 1)
    grid = np.linspace(low, high, n_grid)

    # the basis at the grid and at both neighbours in one evaluation (a patsy call costs more than the rows)
    shifted = build_design(sub, pd.DataFrame({column: np.concatenate([grid + h, grid, grid - h])}))
    above, at, below = shifted[:n_grid], shifted[n_grid:2 * n_grid], shifted[2 * n_grid:]
    second = (above - 2 * at + below) / h ** 2
    weights = np.full(n_grid, h)
    weights[[0, -1]] = h / 2
    return second.T @ (second * weights[:, None])


class PenalizedSplineLogitClassifier(ClassifierMixin, BaseEstimator):
    """Logistic GAM: ``linear_formula`` plus a penalised natural cubic regression spline of each ``smooth``
    column (``cr(x, df, constraints='center')``, the basis mgcv calls "cr"), each with the roughness penalty
    ``α β_j' S_j β_j``, ``S_j = ∫ f_j''²``.

    Parameters
    ----------
    linear_formula : str
        Right-hand side of the linear part (must not contain the smooth columns).
    smooth : tuple of str
    df : int, default 6
    alphas : tuple of float
        Grid of smoothing weights (one shared weight over penalties scaled by :func:`scale_penalty`); the
        smallest AIC on the training rows wins.

    Notes
    -----
    The fitted model is a patsy formula (``formula_``) with coefficients ``params_`` and covariance ``cov_``
    (the Bayesian ``(H + 2αS)⁻¹``, conditional on the chosen weight), so it predicts like any formula logit.
    Natural splines extrapolate linearly beyond the boundary knots. After ``fit``: ``alpha_``, ``edf_`` (whole
    model), ``edf_smooth_`` (per smooth column), ``penalty_scale_`` (per smooth: the factor of
    :func:`scale_penalty`), ``smooth_slices_`` (the design columns of each smooth), ``penalty_`` (the scaled
    ``Σ_j S_j`` without the weight), ``design_matrix_`` (the training design).
    """

    def __init__(self, linear_formula: str = "1", smooth: tuple = (), df: int = 6,
                 alphas: tuple = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)):
        self.linear_formula = linear_formula
        self.smooth = smooth
        self.df = df
        self.alphas = alphas

    def fit(self, X: pd.DataFrame, y):
        y01 = binary_array(np.asarray(y))
        terms = [f"cr({c}, df={self.df}, constraints='center')" for c in self.smooth]
        self.formula_ = " + ".join([self.linear_formula, *terms])
        design = design_dataframe(self.formula_, X)
        self.design_info_ = design.design_info
        Xd = design.to_numpy(dtype=float)
        S = np.zeros((design.shape[1], design.shape[1]))
        self.smooth_slices_, self.penalty_scale_ = {}, {}
        for column, term_text in zip(self.smooth, terms):
            term = next(t for t in self.design_info_.terms if t.name() == term_text)
            cols = self.design_info_.term_slices[term]
            x = X[column].to_numpy(dtype=float)
            raw = second_derivative_penalty(self.design_info_, term, column, float(x.min()), float(x.max()))
            S[cols, cols], self.penalty_scale_[column] = scale_penalty(raw, Xd[:, cols])
            self.smooth_slices_[column] = cols
        self.penalty_ = S
        self.design_matrix_ = Xd
        self.alpha_, fit = choose_weight(Xd, y01, S, self.alphas)
        self.params_ = fit["params"]
        self.cov_ = fit["cov"]
        self.edf_ = fit["edf"]
        self.edf_smooth_ = smooth_edf(fit, self.smooth_slices_)
        self.column_names_ = list(design.columns)
        self.classes_ = np.array([0, 1])
        return self

    def design(self, X: pd.DataFrame) -> np.ndarray:
        """The design of new rows (the training rows' knots and constraints)."""
        return build_design(self.design_info_, X)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return self.design(X) @ self.params_

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
