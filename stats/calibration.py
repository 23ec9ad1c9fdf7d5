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

__all__ = ["brier_score", "log_loss", "reliability_curve", "hosmer_lemeshow", "wilson_interval",
           "calibration_slope_intercept", "AsymptoteCalibrator"]


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


def hosmer_lemeshow(y, p, n_groups: int = 10, out_of_sample: bool = False) -> pd.DataFrame:
    """Hosmer-Lemeshow goodness-of-fit test.

    Parameters
    ----------
    y : array-like of 0/1
    p : array-like of predicted probabilities
    n_groups : int, default 10
        Requested number of risk groups ("deciles of risk").
    out_of_sample : bool, default False
        ``False`` for in-sample fitted values (``G − 2`` degrees of freedom); ``True`` for predictions of
        rows the model did not see (out-of-fold or validation data), whose statistic is referred to χ² with
        ``G`` degrees of freedom (no parameters were estimated on these rows).

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
    ``p_value = P(chi2_{G-2} > HL)`` in sample, ``P(chi2_G > HL)`` out of sample. Groups with ``E_g (1 - E_g/n_g) = 0`` are
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
    df = len(groups) if out_of_sample else len(groups) - 2
    return pd.DataFrame(
        {
            "statistic": [float(stat)],
            "df": [int(df)],
            "p_value": [float(sps.chi2.sf(stat, df))],
            "n_groups": [int(len(groups))],
        }
    )


def log_loss(y, p, eps: float = 1e-15) -> float:
    """Mean negative Bernoulli log-likelihood ``-(1/n) Σ [y log p + (1-y) log(1-p)]`` (``p`` clipped to
    ``[eps, 1-eps]``, as scikit-learn does)."""
    y_arr, p_arr = _pair(y, p)
    p_arr = np.clip(p_arr, eps, 1 - eps)
    return float(-np.mean(y_arr * np.log(p_arr) + (1 - y_arr) * np.log1p(-p_arr)))


def calibration_slope_intercept(y, p) -> pd.DataFrame:
    """Calibration slope and calibration-in-the-large of predicted probabilities.

    Returns
    -------
    pandas.DataFrame
        One row: ``calibration_slope`` (``b`` of ``logit P(y=1) = a + b·logit(p)``; 1 is ideal, below 1 the
        predictions are too extreme), ``slope_std_error``, ``calibration_intercept`` (``a`` of
        ``logit P(y=1) = a + logit(p)``, the slope fixed at 1 through an offset: calibration-in-the-large; 0 is
        ideal), ``intercept_std_error``.

    Notes
    -----
    Both are binomial GLMs (statsmodels) on ``logit(p)`` with ``p`` clipped to ``[1e-6, 1 − 1e-6]``.
    """
    import statsmodels.api as sm

    y_arr, p_arr = _pair(y, p)
    lp = np.log(np.clip(p_arr, 1e-6, 1 - 1e-6)) - np.log1p(-np.clip(p_arr, 1e-6, 1 - 1e-6))
    slope_fit = sm.GLM(y_arr, sm.add_constant(lp), family=sm.families.Binomial()).fit()
    large = sm.GLM(y_arr, np.ones((len(y_arr), 1)), family=sm.families.Binomial(), offset=lp).fit()
    return pd.DataFrame([{
        "calibration_slope": float(slope_fit.params[1]),
        "slope_std_error": float(slope_fit.bse[1]),
        "calibration_intercept": float(large.params[0]),
        "intercept_std_error": float(large.bse[0]),
    }])


class AsymptoteCalibrator:
    """Monotone recalibration of a risk score with a floor and a ceiling:
    ``g(s) = c0 + (c1 − c0)·expit(a·s + b)``, ``s = logit(p)`` of the model being recalibrated.

    Platt scaling (``c0 = 0, c1 = 1``) can only stretch or shift the logit; it cannot express a background risk
    that does not vanish at low scores or a group that always declines at high scores. The two asymptotes can.
    Fitted by maximum likelihood (BFGS) with ``c0 = expit(t0)``, ``c1 = c0 + (1 − c0)·expit(t1)``,
    ``a = exp(t2)`` (so ``g`` is increasing), ``b = t3``.

    Attributes after :meth:`fit`: ``floor_``, ``ceiling_``, ``slope_``, ``shift_``.
    """

    def fit(self, p, y) -> "AsymptoteCalibrator":
        from scipy.optimize import minimize

        y_arr, p_arr = _pair(y, p)
        s = _logit(p_arr)

        def unpack(t):
            c0 = 1.0 / (1.0 + np.exp(-t[0]))
            c1 = c0 + (1.0 - c0) / (1.0 + np.exp(-t[1]))
            return c0, c1, np.exp(t[2]), t[3]

        def nll(t):
            c0, c1, a, b = unpack(t)
            q = np.clip(c0 + (c1 - c0) / (1.0 + np.exp(-(a * s + b))), 1e-12, 1 - 1e-12)
            return -float(np.sum(y_arr * np.log(q) + (1 - y_arr) * np.log1p(-q)))

        def gradient(t):
            # the chain rule through q = c0 + (c1 − c0)·σ(a s + b) and the parametrisation of unpack
            c0, c1, a, b = unpack(t)
            e = 1.0 / (1.0 + np.exp(-(a * s + b)))
            raw = c0 + (c1 - c0) * e
            q = np.clip(raw, 1e-12, 1 - 1e-12)
            inside = (raw > 1e-12) & (raw < 1 - 1e-12)  # the clip's derivative is zero outside
            dq = np.where(inside, -(y_arr / q - (1 - y_arr) / (1 - q)), 0.0)
            du = dq * (c1 - c0) * e * (1 - e)
            g0 = float(np.sum(dq * (1 - e)))   # d nll / d c0 (c1 held)
            g1 = float(np.sum(dq * e))         # d nll / d c1
            s1 = 1.0 / (1.0 + np.exp(-t[1]))
            dc0 = c0 * (1 - c0)
            return np.array([g0 * dc0 + g1 * dc0 * (1 - s1), g1 * (1 - c0) * s1 * (1 - s1),
                             float(np.sum(du * s)) * a, float(np.sum(du))])

        start = np.array([np.log(0.02 / 0.98), np.log(0.98 / 0.02), 0.0, 0.0])
        res = minimize(nll, start, jac=gradient, method="BFGS", options={"gtol": 1e-8, "maxiter": 2000})
        self.floor_, self.ceiling_, self.slope_, self.shift_ = (float(v) for v in unpack(res.x))
        self.converged_ = bool(res.success)
        return self

    def transform_score(self, s) -> np.ndarray:
        """``g(s)`` for scores on the logit scale."""
        s = np.asarray(s, dtype=float)
        return self.floor_ + (self.ceiling_ - self.floor_) / (1.0 + np.exp(-(self.slope_ * s + self.shift_)))

    def derivative(self, s) -> np.ndarray:
        """``dg/ds``."""
        e = 1.0 / (1.0 + np.exp(-(self.slope_ * np.asarray(s, dtype=float) + self.shift_)))
        return (self.ceiling_ - self.floor_) * self.slope_ * e * (1.0 - e)

    def inverse(self, q) -> np.ndarray:
        """The score ``s`` with ``g(s) = q`` (``q`` clipped into the open interval between the asymptotes)."""
        span = self.ceiling_ - self.floor_
        q = np.clip(np.asarray(q, dtype=float), self.floor_ + 1e-9 * span, self.ceiling_ - 1e-9 * span)
        u = (q - self.floor_) / span
        return (np.log(u) - np.log1p(-u) - self.shift_) / self.slope_

    def transform(self, p) -> np.ndarray:
        """Recalibrated probabilities of raw probabilities ``p``."""
        return self.transform_score(_logit(probability_array(p)))

    def params(self) -> dict[str, float]:
        return {"floor": self.floor_, "ceiling": self.ceiling_, "slope": self.slope_, "shift": self.shift_}


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)
