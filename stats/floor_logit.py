"""A logit with a floor: ``p = γ + (1 − γ)·expit(η)``, fitted by maximum likelihood.

A plain logit forces the probability of the event to 0 for very low linear predictors. When a share of the
population experiences the event whatever their covariates (a "floor" of background risk), the plain logit
underpredicts the lowest risk groups and over-states the slopes. The floor model adds one parameter ``γ``.

Functions
---------
fit_floor_logit
    Maximum-likelihood fit on arrays (statsmodels ``GenericLikelihoodModel``), ``γ`` on the logit scale.
floor_lr_test
    LR test of ``γ = 0`` against the plain logit; ``γ = 0`` lies on the boundary of the parameter space, so the
    null distribution is the 50:50 mixture of χ²₀ and χ²₁ (Self & Liang, 1987).
FloorLogitClassifier
    scikit-learn classifier on a patsy formula (design learned in ``fit``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats as sps
from scipy.special import expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin
from statsmodels.base.model import GenericLikelihoodModel
from statsmodels.tools.numdiff import approx_fprime

from ._common import binary_array, check_conf_level, wald_columns
from .design import build_design, design_dataframe

__all__ = ["FloorLogit", "FloorLogitFit", "fit_floor_logit", "floor_lr_test", "FloorLogitClassifier",
           "floor_probability"]

_EPS = 1e-12


def floor_probability(eta: np.ndarray, gamma: float) -> np.ndarray:
    """``γ + (1 − γ)·expit(η)``."""
    return gamma + (1.0 - gamma) * expit(np.asarray(eta, dtype=float))


class FloorLogit(GenericLikelihoodModel):
    """Binary model ``P(y = 1 | x) = γ + (1 − γ)·expit(x'β)`` with ``γ = expit(θ)``.

    Parameters are ``(β_1 … β_k, θ)``. The analytic score is used for optimisation; the covariance comes
    from the numerical Hessian of the log-likelihood (statsmodels' default for generic models).

    Notes
    -----
    With ``s = expit(η)``, ``p = γ + (1−γ)s`` and ``ℓ_i = y log p + (1−y) log(1−p)``:
    ``∂ℓ/∂p = (y − p) / (p(1 − p))``, ``∂p/∂β = (1−γ) s (1−s) x``, ``∂p/∂θ = (1 − s) γ (1 − γ)``.
    """

    def __init__(self, endog, exog, **kwargs):
        super().__init__(endog, exog, **kwargs)
        k = self.exog.shape[1]
        self.nparams = k + 1
        names = list(self.exog_names) if self.exog_names else [f"x{i}" for i in range(k)]
        if len(self.exog_names or []) == k:
            self.exog_names.append("floor_logit")
        self._names = names + ["floor_logit"]
        self.k_extra = 1
        self.df_model = k - 1  # slopes; the floor is counted in k_extra
        self.df_resid = self.exog.shape[0] - (k + 1)

    def _pieces(self, params):
        beta, theta = params[:-1], params[-1]
        gamma = expit(theta)
        s = expit(self.exog @ beta)
        p = np.clip(gamma + (1.0 - gamma) * s, _EPS, 1.0 - _EPS)
        return beta, gamma, s, p

    def loglikeobs(self, params):
        _, _, _, p = self._pieces(np.asarray(params, dtype=float))
        y = self.endog
        return y * np.log(p) + (1.0 - y) * np.log1p(-p)

    def score_obs(self, params):
        _, gamma, s, p = self._pieces(np.asarray(params, dtype=float))
        dl_dp = (self.endog - p) / (p * (1.0 - p))
        d_beta = ((1.0 - gamma) * s * (1.0 - s) * dl_dp)[:, None] * self.exog
        d_theta = (1.0 - s) * gamma * (1.0 - gamma) * dl_dp
        return np.column_stack([d_beta, d_theta])

    def score(self, params):
        return self.score_obs(params).sum(axis=0)


@dataclass
class FloorLogitFit:
    """A fitted floor logit: estimates, covariance and the floor on the probability scale."""

    params: np.ndarray          # (β, θ)
    cov: np.ndarray
    names: list
    llf: float
    gamma: float
    gamma_std_error: float
    converged: bool
    n: int

    @property
    def beta(self) -> np.ndarray:
        return self.params[:-1]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return floor_probability(np.asarray(X, dtype=float) @ self.beta, self.gamma)

    def table(self, conf_level: float = 0.95) -> pd.DataFrame:
        """Columns ``term, estimate, std_error, statistic, p_value, conf_low, conf_high``; the last row is the
        floor ``γ`` on the probability scale (delta method from ``θ``; its Wald p-value is not a valid test of
        ``γ = 0``, which is on the boundary: use :func:`floor_lr_test`)."""
        conf_level = check_conf_level(conf_level)
        se = np.sqrt(np.clip(np.diag(self.cov), 0.0, None))
        est = np.append(self.beta, self.gamma)
        ses = np.append(se[:-1], self.gamma_std_error)
        wald = wald_columns(est, ses, conf_level)
        out = pd.DataFrame({"term": list(self.names[:-1]) + ["floor_gamma"], "estimate": est, "std_error": ses,
                            **wald})
        out.loc[out.index[-1], ["statistic", "p_value"]] = np.nan
        return out


def fit_floor_logit(X, y, names=None, start=None, maxiter: int = 200) -> FloorLogitFit:
    """Maximum-likelihood fit of the floor logit on arrays.

    Parameters
    ----------
    X : array-like (n, k)
        Design matrix including the intercept column.
    y : array-like of 0/1
    names : list of str, optional
        Column names of ``X``.
    start : array-like, optional
        Starting ``(β, θ)``; default: the plain logit's ``β`` and ``γ = 0.05``.

    Returns
    -------
    FloorLogitFit
    """
    y = binary_array(y).astype(float)
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X must be 2-D with {len(y)} rows, got shape {X.shape}")
    names = list(names) if names is not None else [f"x{i}" for i in range(X.shape[1])]
    if start is None:
        plain = sm.Logit(y, X).fit(method="newton", maxiter=100, disp=0)
        start = np.append(np.asarray(plain.params), logit(0.05))
    model = FloorLogit(y, X)
    # damped Newton steps on the analytic score, with the Hessian from central differences of that score
    # (quasi-Newton BFGS stopped early at poor points on some folds); the covariance is the (pseudo-)inverse of
    # the negative Hessian at the optimum
    params = np.asarray(start, dtype=float)
    llf = model.loglike(params)
    converged = False
    for _ in range(maxiter):
        grad = model.score(params)
        hessian = approx_fprime(params, model.score, centered=True)
        hessian = (hessian + hessian.T) / 2.0
        try:
            step = np.linalg.solve(-hessian, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.pinv(-hessian) @ grad
        if not np.all(np.isfinite(step)) or grad @ step <= 0:  # not an ascent direction: gradient step
            step = grad / max(np.linalg.norm(grad), 1.0)
        t = 1.0
        while t > 1e-8:
            candidate = params + t * step
            new_llf = model.loglike(candidate)
            if np.isfinite(new_llf) and new_llf >= llf - 1e-12:
                break
            t /= 2.0
        params, improvement, llf = candidate, new_llf - llf, new_llf
        if np.max(np.abs(t * step)) < 1e-8 or (improvement < 1e-10 and np.max(np.abs(grad)) < 1e-5):
            converged = True
            break
    hessian = approx_fprime(params, model.score, centered=True)
    cov = np.linalg.pinv(-(hessian + hessian.T) / 2.0)
    gamma = float(expit(params[-1]))
    gamma_se = float(gamma * (1 - gamma) * np.sqrt(max(cov[-1, -1], 0.0)))
    return FloorLogitFit(params=params, cov=cov, names=names + ["floor_logit"], llf=float(model.loglike(params)),
                         gamma=gamma,
                         gamma_std_error=gamma_se, converged=converged, n=len(y))


def floor_lr_test(llf_floor: float, llf_plain: float) -> pd.DataFrame:
    """LR test of ``γ = 0`` (plain logit) against the floor logit.

    Returns
    -------
    pandas.DataFrame
        One row: ``lr_chi2, df, p_value, null_distribution``. ``p = ½·P(χ²₁ > LR)`` for ``LR > 0`` and 1 for
        ``LR ≤ 0`` (the 50:50 mixture of χ²₀ and χ²₁ for a parameter on the boundary).
    """
    lr = max(2.0 * (float(llf_floor) - float(llf_plain)), 0.0)
    p = 0.5 * float(sps.chi2.sf(lr, 1)) if lr > 0 else 1.0
    return pd.DataFrame([{"lr_chi2": lr, "df": 1, "p_value": p,
                          "null_distribution": "0.5*chi2(0) + 0.5*chi2(1)"}])


class FloorLogitClassifier(ClassifierMixin, BaseEstimator):
    """scikit-learn classifier: the floor logit on the design of a patsy right-hand side ``formula``.

    The design (category levels, spline knots) is learned in ``fit`` from the training rows only.
    """

    def __init__(self, formula: str = "1"):
        self.formula = formula

    def fit(self, X: pd.DataFrame, y):
        y01 = binary_array(np.asarray(y))
        self.classes_ = np.array([0, 1])
        design = design_dataframe(self.formula, X)
        self.design_info_ = design.design_info
        self.fit_ = fit_floor_logit(design.to_numpy(), y01, names=list(design.columns))
        return self

    def cv_info(self) -> dict:
        """The floor and whether the fit converged (a floor can leave the upper part nearly separable)."""
        return {"floor_gamma": self.fit_.gamma, "converged": self.fit_.converged}

    def result_design(self, X):
        return build_design(self.design_info_, X)

    def design(self, X: pd.DataFrame) -> np.ndarray:
        """The design of new rows (the training rows' levels and knots)."""
        return self.result_design(X)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.fit_.predict(self.result_design(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def floor_link_pieces():
    """``prob(params, X)`` and ``jacobian(params, X)`` of the floor logit, ``params = (β, θ)``, ``γ = expit(θ)``
    (for :class:`stats.link_margins.LinkModel`)."""
    def prob(params, X):
        return floor_probability(X @ params[:-1], expit(params[-1]))

    def jacobian(params, X):
        gamma = expit(params[-1])
        s = expit(X @ params[:-1])
        return np.column_stack([((1 - gamma) * s * (1 - s))[:, None] * X, (1 - s) * gamma * (1 - gamma)])

    return prob, jacobian
