"""stats/logit.py: tests aimed at the mutants the earlier suites let survive (issue 10, item 6).

Each test checks against an independent computation: statsmodels' own covariance and predictions, patsy's full
design matrix, patsy's ``bs`` on clipped values, or a hand rule.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.api as sm

from stats.logit import FormulaLogitClassifier, _sandwich, bs_clipped, fit_logit, linear_predictor


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 500
    data = pd.DataFrame({
        "x": rng.normal(size=n),
        "Zed": rng.uniform(0, 4, size=n),          # upper-case letters in a column name
        "XXXX": rng.normal(size=n),                 # a legal column name
        "g": rng.choice(["x", "m", "q"], size=n),   # a level spelled like the column x
    })
    eta = 0.6 * data["x"] - 0.3 * data["Zed"] + 0.4 * (data["g"] == "m") + 0.2 * data["XXXX"]
    data["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    return data


FORMULA = "y ~ x + Zed + XXXX + C(g, Treatment('x')) + x:Zed"


def _by_hand(result, data, columns_of) -> np.ndarray:
    """The part of ``X(data) @ beta`` over the design columns whose names ``columns_of`` accepts."""
    info = result.model.data.model_spec  # patsy DesignInfo of the fit
    X = np.asarray(patsy.build_design_matrices([info], data)[0])
    keep = np.array([columns_of(name) for name in info.column_names])
    return X[:, keep] @ np.asarray(result.params)[keep]


def test_hc0_sandwich_equals_statsmodels(frame):
    result = fit_logit(FORMULA, frame)
    expected = sm.Logit(result.model.endog, result.model.exog).fit(disp=0, cov_type="HC0").cov_params()
    np.testing.assert_allclose(_sandwich(result, "HC0"), np.asarray(expected), rtol=1e-8, atol=1e-14)


def test_linear_predictor_of_some_variables_sums_only_their_terms(frame):
    result = fit_logit(FORMULA, frame)
    new = frame.sample(120, random_state=3)
    cases = {
        ("x",): lambda c: c in ("x", "x:Zed"),            # not the C(g, Treatment('x')) columns
        ("Zed",): lambda c: c in ("Zed", "x:Zed"),
        ("XXXX",): lambda c: c == "XXXX",
        ("g",): lambda c: c.startswith("C(g"),
        ("g", "XXXX"): lambda c: c.startswith("C(g") or c == "XXXX",
    }
    for variables, columns_of in cases.items():
        np.testing.assert_allclose(linear_predictor(result, new, variables), _by_hand(result, new, columns_of),
                                   rtol=0, atol=1e-10, err_msg=str(variables))
    # no variable asked for: nothing summed, not the intercept either; all terms: statsmodels' predict
    np.testing.assert_array_equal(linear_predictor(result, new, []), np.zeros(len(new)))
    np.testing.assert_allclose(linear_predictor(result, new), np.asarray(result.predict(new, which="linear")),
                               rtol=0, atol=1e-10)


def test_linear_predictor_gives_nan_where_statsmodels_does(frame):
    result = fit_logit(FORMULA, frame)
    new = frame.iloc[:8].copy()
    new["g"] = new["g"].astype(object)
    new.loc[new.index[1], "g"] = np.nan
    new.loc[new.index[4], "Zed"] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = np.asarray(result.predict(new, which="linear"))
    got = linear_predictor(result, new)
    np.testing.assert_array_equal(np.isnan(got), [False, True, False, False, True, False, False, False])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)  # NaN where expected is NaN
    # a term without the missing variable is still computed for that row
    assert np.isfinite(linear_predictor(result, new, ["XXXX"])).all()


def test_bs_clipped_on_arrays_clips_both_sides():
    """patsy hands a plain array (not a Series) to the transform when the data is a dict of arrays."""
    rng = np.random.default_rng(2)
    x = rng.uniform(1.0, 3.0, size=200)
    clipped = patsy.dmatrix("bs_clipped(x, df=4)", {"x": x, "bs_clipped": bs_clipped})
    plain = patsy.dmatrix("bs(x, df=4)", {"x": x})
    np.testing.assert_allclose(np.asarray(clipped), np.asarray(plain), rtol=0, atol=1e-12)
    new = np.array([-5.0, 0.5, 1.5, 2.5, 3.5, 40.0])
    got = np.asarray(patsy.build_design_matrices([clipped.design_info], {"x": new})[0])
    at_edges = np.clip(new, x.min(), x.max())
    expected = np.asarray(patsy.build_design_matrices([plain.design_info], {"x": at_edges})[0])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    ints = np.asarray(patsy.build_design_matrices([clipped.design_info], {"x": np.array([0, 2, 9])})[0])
    np.testing.assert_allclose(ints, np.asarray(patsy.build_design_matrices(
        [plain.design_info], {"x": np.array([x.min(), 2.0, x.max()])})[0]), rtol=0, atol=1e-12)


def test_classifier_passes_cov_type_and_maxiter_through(frame):
    X, y = frame.drop(columns="y"), frame["y"]
    hc3 = FormulaLogitClassifier(formula="x + Zed", cov_type="HC3").fit(X, y)
    assert hc3.result_.cov_type == "HC3"
    np.testing.assert_allclose(hc3.result_.bse, fit_logit("y ~ x + Zed", frame, cov_type="HC3").bse, rtol=1e-10)
    assert not np.allclose(hc3.result_.bse, fit_logit("y ~ x + Zed", frame).bse, rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        short = FormulaLogitClassifier(formula="x + Zed", maxiter=1).fit(X, y)
    assert short.result_.mle_retvals["iterations"] == 1
    assert not short.result_.mle_retvals["converged"]


def test_classifier_predicts_the_class_above_one_half(frame):
    X, y = frame.drop(columns="y"), frame["y"].map({0: "stay", 1: "decline"})
    model = FormulaLogitClassifier(formula="x + Zed + C(g)").fit(X, y)
    p = model.predict_proba(X)[:, 1]
    assert (p > 0.5).any() and (p < 0.5).any()
    expected = np.where(p > 0.5, model.classes_[1], model.classes_[0])
    np.testing.assert_array_equal(model.predict(X), expected)
