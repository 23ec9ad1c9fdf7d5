"""Delta-method margins for any model whose probability is a smooth function of a design and parameters.

:mod:`stats.margins` covers the statsmodels logit. The models compared in a risk study also include a logit with
a floor (an extra parameter in the link), penalised splines and recalibrated logits. Each is described here by a
:class:`LinkModel`: a design builder ``X(frame)``, parameters ``θ`` with covariance ``V``, and the probability
``p(θ, X)`` with its Jacobian ``∂p/∂θ``. Effects are averages of predictions over counterfactual frames, and their
standard errors come from the delta method through the whole link.

Functions
---------
prediction_difference
    ``Σ w_i [p_i(frame1) − p_i(frame0)]`` with its delta-method interval.
average_marginal_effects
    AMEs of numeric variables (central finite differences of the prediction) and discrete changes of
    categorical variables against a reference level.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from ._common import check_conf_level, wald_columns

__all__ = ["LinkModel", "logit_link_model", "prediction_difference", "design_difference",
           "average_marginal_effects"]


@dataclass
class LinkModel:
    """``p = prob(params, design(frame))`` with ``jacobian(params, X)`` of shape ``(n, len(params))``."""

    design: Callable[[pd.DataFrame], np.ndarray]
    params: np.ndarray
    cov: np.ndarray
    prob: Callable[[np.ndarray, np.ndarray], np.ndarray]
    jacobian: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.prob(self.params, self.design(frame))


def logit_link_model(design, params, cov, score_map=None) -> LinkModel:
    """A logit ``p = expit(Xβ)``, or a recalibrated logit ``p = g(Xβ)`` when ``score_map`` (with
    ``transform_score`` and ``derivative``, e.g. :class:`stats.calibration.AsymptoteCalibrator`) is given; the
    map's own parameters are held fixed."""
    params = np.asarray(params, dtype=float)
    if score_map is None:
        def prob(b, X):
            return expit(X @ b)

        def jac(b, X):
            p = expit(X @ b)
            return (p * (1 - p))[:, None] * X
    else:
        def prob(b, X):
            return score_map.transform_score(X @ b)

        def jac(b, X):
            return score_map.derivative(X @ b)[:, None] * X
    return LinkModel(design=design, params=params, cov=np.asarray(cov, dtype=float), prob=prob, jacobian=jac)


def _weights(weights, n: int, normalize: bool) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n) if normalize else np.ones(n)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,) or not np.all(np.isfinite(w)):
        raise ValueError(f"weights must be {n} finite numbers")
    return w / w.sum() if normalize else w


def prediction_difference(model: LinkModel, frame0: pd.DataFrame, frame1: pd.DataFrame, weights=None,
                          normalize: bool = True, conf_level: float = 0.95) -> pd.DataFrame:
    """Weighted mean (or total) prediction on ``frame1`` minus that on ``frame0`` (same rows, changed values).

    Returns
    -------
    pandas.DataFrame
        One row: ``estimate_baseline, estimate_counterfactual, difference, std_error, statistic, p_value,
        conf_low, conf_high``.

    Notes
    -----
    ``J = Σ_i w_i [∂p_i/∂θ (frame1) − ∂p_i/∂θ (frame0)]``, ``se = sqrt(J V J')``.
    """
    if len(frame0) != len(frame1) or len(frame0) == 0:
        raise ValueError("frame0 and frame1 must have the same, non-zero number of rows")
    return design_difference(model, model.design(frame0), model.design(frame1), weights, normalize, conf_level)


def design_difference(model: LinkModel, X0: np.ndarray, X1: np.ndarray, weights=None, normalize: bool = True,
                      conf_level: float = 0.95) -> pd.DataFrame:
    """:func:`prediction_difference` from the two design matrices (already built, e.g. once for many groups
    whose rows are taken from the same frames)."""
    conf_level = check_conf_level(conf_level)
    X0, X1 = np.asarray(X0, dtype=float), np.asarray(X1, dtype=float)
    if X0.shape != X1.shape or len(X0) == 0:
        raise ValueError("the two designs must have the same, non-zero number of rows")
    w = _weights(weights, len(X0), normalize)
    p0, p1 = model.prob(model.params, X0), model.prob(model.params, X1)
    jac = w @ (model.jacobian(model.params, X1) - model.jacobian(model.params, X0))
    se = float(np.sqrt(max(jac @ model.cov @ jac, 0.0)))
    diff = float(w @ (p1 - p0))
    wald = wald_columns(np.array([diff]), np.array([se]), conf_level)
    return pd.DataFrame({"estimate_baseline": [float(w @ p0)], "estimate_counterfactual": [float(w @ p1)],
                         "difference": [diff], "std_error": [se], "statistic": wald["statistic"],
                         "p_value": wald["p_value"], "conf_low": wald["conf_low"], "conf_high": wald["conf_high"]})


def average_marginal_effects(model: LinkModel, frame: pd.DataFrame, numeric=(),
                             categorical: Mapping[str, object] | None = None, conf_level: float = 0.95,
                             rel_step: float = 1e-4) -> pd.DataFrame:
    """AMEs: ``(1/n) Σ_i ∂p_i/∂x`` for numeric ``x`` (central differences with step ``rel_step × sd(x)``) and
    ``(1/n) Σ_i [p_i(x = level) − p_i(x = reference)]`` for each non-reference level of a categorical ``x``.

    Returns
    -------
    pandas.DataFrame
        Columns ``variable, contrast, estimate, std_error, statistic, p_value, conf_low, conf_high``.
    """
    conf_level = check_conf_level(conf_level)
    # every counterfactual frame first, then one design of all of them (a design call costs more than its rows)
    pairs = []  # (variable, contrast, frame0, frame1, divisor)
    for name in numeric:
        x = frame[name].to_numpy(dtype=float)
        h = rel_step * (float(np.std(x)) or 1.0)
        up, down = frame.copy(), frame.copy()
        up[name] = x + h
        down[name] = x - h
        pairs.append((name, "dy/dx", down, up, 2 * h))
    for name, reference in (categorical or {}).items():
        levels = [v for v in pd.unique(frame[name]) if v != reference]
        base = frame.copy()
        base[name] = pd.Series([reference] * len(frame), index=frame.index, dtype=frame[name].dtype)
        for level in sorted(levels, key=str):
            alt = frame.copy()
            alt[name] = pd.Series([level] * len(frame), index=frame.index, dtype=frame[name].dtype)
            pairs.append((name, f"{level} - {reference}", base, alt, 1.0))
    rows = []
    if pairs:
        n = len(frame)
        stacked = pd.concat([f for _, _, f0, f1, _ in pairs for f in (f0, f1)], ignore_index=True)
        X = np.asarray(model.design(stacked), dtype=float)
        for k, (name, contrast, _, _, divisor) in enumerate(pairs):
            X0, X1 = X[2 * k * n:(2 * k + 1) * n], X[(2 * k + 1) * n:(2 * k + 2) * n]
            res = design_difference(model, X0, X1, conf_level=conf_level).iloc[0]
            rows.append({"variable": name, "contrast": contrast, "estimate": res["difference"] / divisor,
                         "std_error": res["std_error"] / divisor})
    out = pd.DataFrame(rows, columns=["variable", "contrast", "estimate", "std_error"])
    wald = wald_columns(out["estimate"].to_numpy(), out["std_error"].to_numpy(), conf_level)
    for key, values in wald.items():
        out[key] = values
    return out
