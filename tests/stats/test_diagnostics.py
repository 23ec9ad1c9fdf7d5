"""Tests of stats.diagnostics against statsmodels GLM influence and constructed data.
"""

from __future__ import annotations

import warnings
import numpy as np
import pandas as pd
import pytest
import re
from types import SimpleNamespace  # noqa: E402
import statsmodels.api as sm  # noqa: E402
from scipy.special import expit  # noqa: E402
from stats.diagnostics import influence_table, separation_check  # noqa: E402
import statsmodels.formula.api as smf  # noqa: E402
from stats.logit import fit_logit


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(4)
    n = 400
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.exponential(size=n), "g": rng.choice(list("ab"), n)})
    eta = -0.2 + 0.9 * df.x1 - 0.5 * df.x2 + 0.3 * (df.g == "b")
    df["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    df.index = [f"r{i}" for i in range(n)]
    return df


def test_influence_matches_glm(data):
    formula = "y ~ x1 + np.log(x2) + C(g)"
    res = fit_logit(formula, data)
    glm = smf.glm(formula, data, family=sm.families.Binomial()).fit()
    infl = glm.get_influence()
    full = influence_table(res, top=None)
    assert list(full.columns) == ["row", "leverage", "cooks_distance", "pearson_residual", "deviance_residual"]
    assert full["row"].tolist() == list(data.index)
    np.testing.assert_allclose(full["leverage"], infl.hat_matrix_diag, rtol=1e-6)
    np.testing.assert_allclose(full["cooks_distance"], infl.cooks_distance[0], rtol=1e-6)
    np.testing.assert_allclose(full["pearson_residual"], glm.resid_pearson, rtol=1e-6)
    np.testing.assert_allclose(full["deviance_residual"], glm.resid_deviance, rtol=1e-6)
    assert full["leverage"].sum() == pytest.approx(len(res.params), rel=1e-8)

    top = influence_table(res, top=5)
    assert len(top) == 5
    expected = full.sort_values("cooks_distance", ascending=False).head(5)
    assert top["row"].tolist() == expected["row"].tolist()
    with pytest.raises(ValueError, match="top"):
        influence_table(res, top=0)


def result_design(x):
    return np.column_stack([np.ones(len(x)), x])


def test_separation_complete_quasi_and_none():
    x = np.array([-3.0, -2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0, 3.0])
    y = (x > 0).astype(int)
    assert separation_check(result_design(x), y)["separation"].iloc[0] == "complete"

    xq = np.concatenate([x, [0.0, 0.0]])
    yq = np.concatenate([y, [0, 1]])
    assert separation_check(result_design(xq), yq)["separation"].iloc[0] == "quasi-complete"

    rng = np.random.default_rng(0)
    xr = rng.normal(size=200)
    yr = (rng.uniform(size=200) < 1 / (1 + np.exp(-xr))).astype(int)
    out = separation_check(result_design(xr), yr)
    assert out["separation"].iloc[0] == "none"
    assert list(out.columns) == ["separation", "n_fitted_extreme", "max_abs_coef", "max_std_error", "method"]
    assert pd.isna(out["n_fitted_extreme"].iloc[0])

    # separation by a categorical level: all of level "c" have y = 1
    g = np.repeat(["a", "b", "c"], 20)
    yg = np.concatenate([rng.integers(0, 2, 40), np.ones(20, dtype=int)])
    Xg = pd.get_dummies(pd.Series(g), drop_first=True, dtype=float)
    Xg.insert(0, "const", 1.0)
    assert separation_check(Xg, yg)["separation"].iloc[0] == "quasi-complete"


def test_separation_from_fitted_results():
    rng = np.random.default_rng(1)
    x = rng.normal(size=60)
    df = pd.DataFrame({"x": x, "y": (x > 0.1).astype(int)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_logit("y ~ x", df)
    out = separation_check(res).iloc[0]
    assert out["separation"] == "complete"
    assert out["n_fitted_extreme"] > 0
    assert out["max_abs_coef"] > 10

    df2 = pd.DataFrame({"x": x, "y": (rng.uniform(size=60) < 1 / (1 + np.exp(-x))).astype(int)})
    out2 = separation_check(fit_logit("y ~ x", df2)).iloc[0]
    assert out2["separation"] == "none"
    assert out2["n_fitted_extreme"] == 0
    assert out2["max_abs_coef"] < 5
    with pytest.raises(ValueError, match="tol"):
        separation_check(fit_logit("y ~ x", df2), tol=2.0)


# ---------------------------------------------------------------------------------------------------------
# test_mutation_stats4.py: Tests written from the mutation runs of stats/_common.py, diagnostics.py, correlation.py and logit.py
# ---------------------------------------------------------------------------------------------------------
def _raises_exactly(message, func, *args, **kwargs):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        func(*args, **kwargs)


@pytest.fixture(scope="module")
def array_logit():
    """A logit fitted on numpy arrays (no row labels), every row duplicated (tied Cook's distances)."""
    rng = np.random.default_rng(12)
    n = 150
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < expit(0.3 + 0.8 * x)).astype(float)
    X = sm.add_constant(np.concatenate([x, x]))
    return sm.Logit(np.concatenate([y, y]), X).fit(disp=0)


def _hand_influence(X, y, beta):
    p = expit(X @ beta)
    w = p * (1 - p)
    bread = np.linalg.inv(X.T @ (X * w[:, None]))
    h = w * np.einsum("ij,jk,ik->i", X, bread, X)
    r = (y - p) / np.sqrt(w)
    return h, r**2 * h / (X.shape[1] * (1 - h) ** 2)


def test_influence_table_default_top_ties_and_positions(array_logit):
    res = array_logit
    X, y = res.model.exog, res.model.endog
    h, cooks = _hand_influence(X, y, res.params)
    full = influence_table(res, top=None)
    assert full["row"].tolist() == list(range(len(y)))  # positions when the data have no labels
    np.testing.assert_allclose(full["cooks_distance"], cooks, rtol=1e-8)
    default = influence_table(res)
    assert len(default) == 10
    assert list(default.columns) == ["row", "leverage", "cooks_distance", "pearson_residual", "deviance_residual"]
    assert default.index.tolist() == list(range(10))
    # largest first, ties (the duplicated rows) in row order
    values = full["cooks_distance"].to_numpy()
    expected = sorted(range(len(values)), key=lambda i: (-values[i], i))
    assert influence_table(res, top=len(y))["row"].tolist() == expected
    _raises_exactly("top must be an integer >= 1, got 0", influence_table, res, top=0)


def test_influence_table_fitted_probability_one_sorted_last_and_quiet():
    # a result whose fitted probabilities are exactly 0 or 1 for two rows: their Cook's distance is NaN
    X = sm.add_constant(np.array([-1.0, -0.5, 0.0, 0.4, 1.0, 60.0, -800.0, 70.0]))
    y = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    beta = np.array([0.1, 1.0])
    assert expit(X @ beta)[5] == expit(X @ beta)[7] == 1.0 and expit(X @ beta)[6] == 0.0
    fake = SimpleNamespace(params=beta, model=SimpleNamespace(exog=X, endog=y, data=SimpleNamespace()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = influence_table(fake, top=None)
        top = influence_table(fake, top=8)
    assert full["row"].tolist() == list(range(8))
    assert full["cooks_distance"].isna().tolist() == [False] * 5 + [True] * 3
    assert full["pearson_residual"].iloc[7] == -np.inf  # y = 0 where p = 1: a division by zero
    assert top["row"].tolist()[-3:] == [5, 6, 7]
    assert top["cooks_distance"].iloc[:5].is_monotonic_decreasing


def test_separation_check_design_inputs_and_messages():
    x = np.array([-3.0, -2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0, 3.0])
    y = (x > 0).astype(int)
    # one-dimensional design, a zero column, a badly scaled column, boolean dummies next to floats
    assert separation_check(x, y)["separation"].iloc[0] == "complete"
    zero = np.column_stack([np.ones(10), np.zeros(10), x])
    assert separation_check(zero, y)["separation"].iloc[0] == "complete"
    tiny = np.column_stack([np.ones(10), 1e-9 * x])
    assert separation_check(tiny, y)["separation"].iloc[0] == "complete"
    frame = pd.DataFrame({"const": 1.0, "b": y.astype(bool)})
    assert frame.dtypes["b"] == bool
    assert separation_check(frame, y)["separation"].iloc[0] == "complete"
    out = separation_check(np.column_stack([np.ones(10), x]), y)
    assert out.dtypes.astype(str).tolist() == ["str", "Int64", "float64", "float64", "str"]
    assert out["method"].iloc[0] == "linear-programming (Konis 2007)"
    assert np.isnan(out["max_abs_coef"].iloc[0]) and np.isnan(out["max_std_error"].iloc[0])
    _raises_exactly("pass a fitted result, or a design matrix together with y", separation_check, x)
    _raises_exactly("design has 10 rows but y has 9 values", separation_check,
                    np.column_stack([np.ones(10), x]), y[:9])
    _raises_exactly("y must contain only 0/1 values, found array([2.])", separation_check, x, np.r_[y[:9], 2])
    bad = x.copy()
    bad[3] = np.nan
    _raises_exactly("design contains missing or non-finite values", separation_check, bad, y)
    for tol in (0.0, 0.5, 1.0):
        _raises_exactly(f"tol must be in (0, 0.5), got {tol!r}", separation_check, x, y, tol=tol)


def test_separation_check_fitted_counts_both_tails(array_logit):
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(-4, 1, 30), rng.normal(4, 1, 30)])
    y = (x > 0).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.Logit(y, sm.add_constant(x)).fit(disp=0, maxiter=30)
    p = expit(sm.add_constant(x) @ res.params)
    out = separation_check(res, tol=1e-3).iloc[0]
    assert (p > 1 - 1e-3).sum() > 0 and (p < 1e-3).sum() > 0
    assert out["n_fitted_extreme"] == (p < 1e-3).sum() + (p > 1 - 1e-3).sum()
    ok = separation_check(array_logit).iloc[0]
    assert ok["max_std_error"] == pytest.approx(np.max(array_logit.bse), rel=1e-12)
    assert ok["max_abs_coef"] == pytest.approx(np.max(np.abs(array_logit.params)), rel=1e-12)


def test_separation_lp_margins_at_and_around_tol():
    # one column, already scaled (max |x| = 1): LP 1's largest margin and LP 2's t are read off by hand
    # rows 1 and 2 force b1 = b2, so LP 1 gives b = (1, 1) and margins (0, 0, 0.25): a largest margin equal to
    # tol is not separation
    X = np.array([[1.0, -1.0], [-1.0, 1.0], [0.125, 0.125]])
    assert separation_check(X, [1, 1, 1], tol=0.25)["separation"].iloc[0] == "none"
    assert separation_check(X, [1, 1, 1], tol=0.2)["separation"].iloc[0] == "quasi-complete"
    # t = 0.25 (b = 1, binding row y = 1): complete above tol, quasi-complete at and below it
    x, y = np.array([-1.0, 0.25]), [0, 1]
    assert separation_check(x, y, tol=0.2)["separation"].iloc[0] == "complete"
    assert separation_check(x, y, tol=0.25)["separation"].iloc[0] == "quasi-complete"
    assert separation_check(x, y, tol=0.3)["separation"].iloc[0] == "quasi-complete"
    # the same with the binding row y = 0 and with b = -1
    assert separation_check(np.array([-0.25, 1.0]), [0, 1], tol=0.3)["separation"].iloc[0] == "quasi-complete"
    assert separation_check(np.array([1.0, -0.25]), [0, 1], tol=0.3)["separation"].iloc[0] == "quasi-complete"
    assert separation_check(np.array([1.0, -0.25]), [0, 1], tol=0.2)["separation"].iloc[0] == "complete"


def test_separation_check_fitted_probability_exactly_at_tol():
    # fitted probabilities exactly tol or 1 - tol are not extreme; strictly beyond them they are
    def fake(eta, y):
        X = np.column_stack([np.zeros(len(eta)), eta])
        return SimpleNamespace(params=np.array([0.0, 1.0]), bse=np.array([0.5, 0.25]),
                               model=SimpleNamespace(exog=X, endog=np.array(y, dtype=float)))

    low = float(expit(-2.0))
    out = separation_check(fake([-2.0, -2.5, 0.0, 0.3], [0, 0, 1, 1]), tol=low).iloc[0]
    assert out["n_fitted_extreme"] == 1
    assert out["max_abs_coef"] == 1.0 and out["max_std_error"] == 0.5
    high = 1.0 - float(expit(2.0))
    assert 1.0 - high == float(expit(2.0))
    out = separation_check(fake([2.0, 2.5, 0.0, -0.3], [1, 1, 0, 0]), tol=high).iloc[0]
    assert out["n_fitted_extreme"] == 1
