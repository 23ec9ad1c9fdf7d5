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


# ---- issue 10, item 6: tests aimed at the surviving mutants of stats/collinearity.py (see docs/mutation.md)


def test_design_errors_are_one_clear_sentence():
    design = make_design()
    with pytest.raises(ValueError, match=r"^design must be a pandas DataFrame, got ndarray$"):
        variance_inflation(design.to_numpy())
    with pytest.raises(ValueError, match=r"^intercept_column 'const' is not a column of design$"):
        generalized_variance_inflation(design, {}, intercept_column="const")
    with pytest.raises(ValueError, match=r"^design must contain only numeric columns"):
        variance_inflation(design.assign(g="x"))
    with pytest.raises(ValueError, match=r"^design contains missing or non-finite values$"):
        variance_inflation(design.assign(c=np.where(np.arange(len(design)) == 5, np.nan, design["c"])))
    with pytest.raises(ValueError, match=r"^term 'empty' lists unknown or no design columns: \[\]$"):
        generalized_variance_inflation(design, {"empty": []})
    with pytest.raises(ValueError, match=r"^term 't' lists unknown or no design columns: \['zz'\]$"):
        generalized_variance_inflation(design, {"t": ["a", "zz"]})


def test_vif_without_intercept_is_the_uncentred_auxiliary_r2():
    design = make_design().drop(columns="Intercept") + 1.0  # non-zero means: centred and uncentred R2 differ
    out = variance_inflation(design, intercept_column=None)
    assert out["term"].tolist() == ["a", "b", "c", "d"]
    for term, vif in zip(out["term"], out["vif"]):
        y = design[term].to_numpy()
        X = design.drop(columns=term).to_numpy()
        beta, *_ = np.linalg.lstsq(X, y, rcond=None)
        resid = y - X @ beta
        assert vif == pytest.approx(1 / (resid @ resid / (y @ y)), rel=1e-8)
    assert str(out["term"].dtype) == "str"


@pytest.mark.filterwarnings("ignore:The design matrix is rank-deficient")
def test_exact_collinearity_gives_infinite_vif_and_gvif():
    design = make_design()
    design["e"] = design["a"] + design["c"]  # exactly collinear
    vif = variance_inflation(design).set_index("term")["vif"]
    # statsmodels' auxiliary R2 is 1 up to rounding: a VIF above 1e10 or inf
    assert vif["e"] > 1e10 and vif["b"] < 50
    gv = generalized_variance_inflation(design, {}).set_index("term")
    assert np.isinf(gv.loc["e", "gvif"]) or gv.loc["e", "gvif"] > 1e10


def test_gvif_terms_ordered_by_first_column_and_adjusted_by_hand():
    design = make_design()
    # terms listed out of design order; c and d are not listed and stay one term each
    out = generalized_variance_inflation(design, {"cd": ["d", "c"], "ab": ["b", "a"]})
    assert out["term"].tolist() == ["ab", "cd"]
    assert out["n_columns"].tolist() == [2, 2]
    R = np.corrcoef(design[["a", "b", "c", "d"]].to_numpy(), rowvar=False)
    gvif_ab = np.linalg.det(R[:2, :2]) * np.linalg.det(R[2:, 2:]) / np.linalg.det(R)
    assert out["gvif"].iloc[0] == pytest.approx(gvif_ab, rel=1e-10)
    assert out["gvif_adjusted"].iloc[0] == pytest.approx(gvif_ab ** (1 / 4), rel=1e-10)
    # one term covering every column: det(R_OO) of an empty set is 1, so GVIF = 1
    whole = generalized_variance_inflation(design, {"all": ["a", "b", "c", "d"]})
    assert whole["gvif"].iloc[0] == pytest.approx(1.0, rel=1e-10)
    # a design without intercept column
    single = generalized_variance_inflation(design[["a", "c"]], {}, intercept_column=None)
    r = np.corrcoef(design["a"], design["c"])[0, 1]
    np.testing.assert_allclose(single["gvif"], 1 / (1 - r**2), rtol=1e-10)
    np.testing.assert_allclose(single["gvif_adjusted"], (1 / (1 - r**2)) ** 0.5, rtol=1e-10)


def test_gvif_order_is_the_design_order_not_the_label_order_and_duplicate_columns():
    design = make_design()
    # labels sort the other way round than the design: "z_ab" (columns a, b) comes first
    out = generalized_variance_inflation(design, {"a_cd": ["c", "d"], "z_ab": ["a", "b"]})
    assert out["term"].tolist() == ["z_ab", "a_cd"]
    assert str(out["term"].dtype) == "str"
    # an exact copy of a column: det(R) is exactly 0 and the GVIF of the pair is infinite (not 0/0 = NaN)
    rng = np.random.default_rng(0)
    a, c = rng.normal(size=50), rng.normal(size=50)
    dup = pd.DataFrame({"Intercept": 1.0, "a": a, "a2": a, "c": c})
    assert np.linalg.det(np.corrcoef(dup[["a", "a2", "c"]].to_numpy(), rowvar=False)) == 0.0
    gv = generalized_variance_inflation(dup, {"aa": ["a", "a2"]}).set_index("term")["gvif"]
    assert np.isposinf(gv["aa"]) and np.isposinf(gv["c"])
