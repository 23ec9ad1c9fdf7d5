"""Tests of stats.diagnostics against statsmodels GLM influence and constructed data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from stats.diagnostics import influence_table, separation_check
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
