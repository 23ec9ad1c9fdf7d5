"""Tests of stats.collinearity against auxiliary OLS regressions computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stats.collinearity import generalized_variance_inflation, variance_inflation
from stats.logit import design_frame, fit_logit


def make_design(n=400, seed=3):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = 0.8 * a + 0.6 * rng.normal(size=n)
    c = rng.normal(size=n)
    d = a - b + 0.3 * rng.normal(size=n)
    return pd.DataFrame({"Intercept": 1.0, "a": a, "b": b, "c": c, "d": d})


def aux_r2(design, col):
    y = design[col].to_numpy()
    X = design.drop(columns=col).to_numpy()
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    return 1 - resid @ resid / np.sum((y - y.mean()) ** 2)


def test_vif_equals_auxiliary_ols():
    design = make_design()
    out = variance_inflation(design)
    assert list(out.columns) == ["term", "vif"]
    assert out["term"].tolist() == ["a", "b", "c", "d"]
    for term, vif in zip(out["term"], out["vif"]):
        assert vif == pytest.approx(1 / (1 - aux_r2(design, term)), abs=1e-8)
    assert out.set_index("term").loc["c", "vif"] < 1.1
    assert out.set_index("term").loc["a", "vif"] > 3


def test_vif_of_fitted_model_design_and_validation():
    rng = np.random.default_rng(0)
    df = make_design().drop(columns="Intercept")
    df["y"] = rng.integers(0, 2, len(df))
    res = fit_logit("y ~ a + b + c", df)
    out = variance_inflation(design_frame(res))
    assert out["term"].tolist() == ["a", "b", "c"]
    with pytest.raises(ValueError, match="const"):
        variance_inflation(make_design(), intercept_column="const")


def test_gvif_reduces_to_vif_and_is_invariant_to_recoding():
    design = make_design()
    gv = generalized_variance_inflation(design, terms={})
    vif = variance_inflation(design)
    np.testing.assert_allclose(gv["gvif"], vif["vif"], rtol=1e-8)
    # a two-column term: GVIF does not depend on how the term is parametrised
    g1 = generalized_variance_inflation(design, {"ab": ["a", "b"]}).set_index("term")
    recoded = design.assign(a=design["a"] + 2 * design["b"], b=design["a"] - design["b"])
    g2 = generalized_variance_inflation(recoded, {"ab": ["a", "b"]}).set_index("term")
    assert g1.loc["ab", "gvif"] == pytest.approx(g2.loc["ab", "gvif"], rel=1e-8)
    assert g1.loc["ab", "n_columns"] == 2
    assert g1.loc["ab", "gvif_adjusted"] == pytest.approx(g1.loc["ab", "gvif"] ** 0.25)
    with pytest.raises(ValueError, match="zz"):
        generalized_variance_inflation(design, {"t": ["zz"]})
