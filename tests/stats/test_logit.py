"""Tests of stats.logit against independent computations (sklearn, numpy by hand).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_predict, cross_val_score
import warnings
import patsy
from stats.logit import _sandwich
import re
import statsmodels.api as sm  # noqa: E402
from scipy.special import expit  # noqa: E402
import statsmodels.formula.api as smf  # noqa: E402
from stats.logit import (  # noqa: E402
    FormulaLogitClassifier,
    coefficient_table,
    design_frame,
    fit_logit,
    fit_statistics,
    likelihood_ratio_test,
)
from patsy.splines import bs as _patsy_bs  # noqa: E402
from stats.logit import bs_clipped, linear_predictor  # noqa: E402


def make_data(n=800, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.uniform(0, 10, n),
            "x3": rng.gamma(2.0, 2.0, n),
            "g": rng.choice(["a", "b", "c"], n),
        }
    )
    eta = -0.4 + 0.8 * df.x1 + np.sin(df.x2 / 3) + 0.5 * (df.g == "b") - 0.1 * df.x3
    df["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    return df


@pytest.fixture(scope="module")
def data():
    return make_data()


FORMULA = "y ~ x1 + x2 + np.log(x3) + C(g)"


def sklearn_fit(X, y):
    """Unpenalised sklearn logit on a design WITHOUT the intercept column."""
    m = LogisticRegression(C=np.inf, solver="newton-cg", tol=1e-12, max_iter=10_000)
    m.fit(X, y)
    return np.concatenate([m.intercept_, m.coef_.ravel()])


def hand_bread(X, beta):
    p = 1 / (1 + np.exp(-X @ beta))
    w = p * (1 - p)
    return p, np.linalg.inv(X.T @ (w[:, None] * X))


def test_coefficients_match_sklearn(data):
    res = fit_logit(FORMULA, data)
    X = res.model.exog
    assert res.model.exog_names[0] == "Intercept"
    beta_sk = sklearn_fit(X[:, 1:], data["y"].to_numpy())
    tab = coefficient_table(res)
    np.testing.assert_allclose(tab["estimate"].to_numpy(), beta_sk, atol=1e-4)
    assert list(tab.columns) == [
        "term", "estimate", "std_error", "z", "p_value", "conf_low", "conf_high",
        "odds_ratio", "odds_ratio_low", "odds_ratio_high",
    ]
    assert tab["term"].tolist() == list(res.model.exog_names)


def test_standard_errors_by_hand(data):
    res = fit_logit(FORMULA, data)
    X = res.model.exog
    beta = sklearn_fit(X[:, 1:], data["y"].to_numpy())
    _, bread = hand_bread(X, beta)
    se = np.sqrt(np.diag(bread))
    tab = coefficient_table(res, conf_level=0.9)
    np.testing.assert_allclose(tab["std_error"], se, rtol=1e-5)
    z = sps.norm.ppf(0.95)
    np.testing.assert_allclose(tab["conf_low"], tab["estimate"] - z * tab["std_error"], rtol=1e-12)
    np.testing.assert_allclose(tab["odds_ratio_high"], np.exp(tab["estimate"] + z * tab["std_error"]), rtol=1e-12)
    np.testing.assert_allclose(tab["p_value"], 2 * sps.norm.sf(np.abs(tab["estimate"] / se)), rtol=1e-4)


def test_robust_sandwiches_by_hand(data):
    y = data["y"].to_numpy(float)
    base = fit_logit(FORMULA, data)
    X = base.model.exog
    n, k = X.shape
    beta = np.asarray(base.params)
    p, bread = hand_bread(X, beta)
    u = y - p
    # leverage via QR of W^1/2 X (independent of the implementation's einsum)
    q, _ = np.linalg.qr(np.sqrt(p * (1 - p))[:, None] * X)
    h = (q**2).sum(axis=1)
    expected = {}
    for name, omega in {
        "HC0": np.ones(n),
        "HC2": 1 / (1 - h),
        "HC3": 1 / (1 - h) ** 2,
    }.items():
        meat = (X * (u**2 * omega)[:, None]).T @ X
        expected[name] = bread @ meat @ bread
    expected["HC1"] = expected["HC0"] * n / (n - k)
    for cov_type, cov in expected.items():
        res = fit_logit(FORMULA, data, cov_type=cov_type)
        assert res.cov_type == cov_type
        np.testing.assert_allclose(np.asarray(res.cov_params()), cov, rtol=1e-6)
        np.testing.assert_allclose(coefficient_table(res)["std_error"], np.sqrt(np.diag(cov)), rtol=1e-6)
        assert fit_statistics(res)["cov_type"].iloc[0] == cov_type
    # HC3 > HC0 elementwise on the diagonal (leverage inflation)
    assert np.all(np.diag(expected["HC3"]) > np.diag(expected["HC0"]))


def test_bad_cov_type_raises(data):
    with pytest.raises(ValueError, match="HC9"):
        fit_logit(FORMULA, data, cov_type="HC9")
    with pytest.raises(ValueError, match="maxiter"):
        fit_logit(FORMULA, data, maxiter=0)
    with pytest.raises(ValueError, match="1.5"):
        coefficient_table(fit_logit(FORMULA, data), conf_level=1.5)


def test_fit_statistics_by_hand(data):
    res = fit_logit(FORMULA, data)
    y = data["y"].to_numpy(float)
    eta = res.model.exog @ np.asarray(res.params)
    llf = np.sum(y * eta - np.logaddexp(0.0, eta))
    ybar = y.mean()
    ll0 = len(y) * (ybar * np.log(ybar) + (1 - ybar) * np.log(1 - ybar))
    k = res.model.exog.shape[1]
    fs = fit_statistics(res).iloc[0]
    assert fs["n"] == len(y) and fs["n_events"] == int(y.sum())
    assert fs["df_model"] == k - 1 == fs["lr_df"]
    assert fs["log_likelihood"] == pytest.approx(llf, abs=1e-8)
    # statsmodels obtains l_0 by an iterative fit of the null model: 1e-6 tolerance
    assert fs["null_log_likelihood"] == pytest.approx(ll0, abs=1e-6)
    assert fs["lr_chi2"] == pytest.approx(2 * (llf - ll0), abs=1e-6)
    assert fs["lr_p_value"] == pytest.approx(sps.chi2.sf(2 * (llf - ll0), k - 1), rel=1e-6)
    assert fs["pseudo_r2_mcfadden"] == pytest.approx(1 - llf / ll0, abs=1e-8)
    assert fs["aic"] == pytest.approx(-2 * llf + 2 * k, abs=1e-7)
    assert fs["bic"] == pytest.approx(-2 * llf + k * np.log(len(y)), abs=1e-7)
    assert bool(fs["converged"]) is True


def test_likelihood_ratio_test(data):
    small = fit_logit("y ~ x1 + x2", data)
    big = fit_logit("y ~ x1 + x2 + C(g)", data)
    lr = likelihood_ratio_test(small, big).iloc[0]
    assert lr["lr_chi2"] == pytest.approx(2 * (big.llf - small.llf), rel=1e-12)
    assert lr["df"] == 2
    assert lr["p_value"] == pytest.approx(sps.chi2.sf(lr["lr_chi2"], 2), rel=1e-12)
    with pytest.raises(ValueError, match="more parameters"):
        likelihood_ratio_test(big, small)
    with pytest.raises(ValueError, match="nobs"):
        likelihood_ratio_test(small, fit_logit("y ~ x1 + x2 + C(g)", data.iloc[:500]))


def test_design_frame_and_caller_namespace(data):
    def double(v):
        return 2 * v

    res = fit_logit("y ~ double(x1)", data)
    design = design_frame(res)
    np.testing.assert_allclose(design["double(x1)"], 2 * data["x1"])
    assert design.index.equals(data.index)


RHS = "standardize(x1) + bs(x2, df=4) + C(g) + np.log(x3)"


def test_classifier_reproduces_fit_logit(data):
    X = data.drop(columns="y")
    clf = FormulaLogitClassifier(formula=RHS).fit(X, data["y"])
    res = fit_logit("y ~ " + RHS, data)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], res.predict(data), atol=1e-10)
    np.testing.assert_allclose(clf.decision_function(X), res.predict(data, which="linear"), atol=1e-8)
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    assert set(np.unique(clf.predict(X))) <= {0, 1}
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)


def test_classifier_string_labels_and_validation(data):
    X = data.drop(columns="y")
    y = np.where(data["y"] == 1, "yes", "no")
    clf = FormulaLogitClassifier(formula="x1 + C(g)").fit(X, y)
    np.testing.assert_array_equal(clf.classes_, ["no", "yes"])
    res = fit_logit("y ~ x1 + C(g)", data)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], res.predict(data), atol=1e-10)
    with pytest.raises(ValueError, match="~"):
        FormulaLogitClassifier(formula="y ~ x1").fit(X, y)
    with pytest.raises(ValueError, match="two classes"):
        FormulaLogitClassifier(formula="x1").fit(X, np.zeros(len(X)))


def test_classifier_clone_and_cross_validation_without_leakage(data):
    X, y = data.drop(columns="y"), data["y"].to_numpy()
    clf = FormulaLogitClassifier(formula=RHS, cov_type="HC1")
    cloned = clone(clf)
    assert cloned.get_params() == clf.get_params()
    cv = KFold(n_splits=4, shuffle=True, random_state=1)
    oof = cross_val_predict(clone(clf), X, y, cv=cv, method="predict_proba")[:, 1]
    # every fold equals fit_logit fitted on that fold's training rows only, i.e. the
    # standardize() mean/sd and spline knots were learned from training rows
    env = {"bs": bs_clipped}
    full = fit_logit("y ~ " + RHS, data, eval_env=env)
    for train, test in cv.split(X):
        res = fit_logit("y ~ " + RHS, data.iloc[train], eval_env=env)
        np.testing.assert_allclose(oof[test], res.predict(data.iloc[test]), atol=1e-10)
        assert not np.allclose(oof[test], full.predict(data.iloc[test]), atol=1e-6)
    auc = cross_val_score(clf, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0), scoring="roc_auc")
    assert np.all((auc > 0.6) & (auc <= 1))


def test_classifier_in_grid_search(data):
    X, y = data.drop(columns="y"), data["y"].to_numpy()
    grid = GridSearchCV(
        FormulaLogitClassifier(),
        {"formula": ["x1", "x1 + bs(x2, df=4) + C(g) + np.log(x3)"]},
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        scoring="neg_log_loss",
    )
    grid.fit(X, y)
    assert grid.best_params_["formula"].startswith("x1 + bs")


def test_bs_clipped_equals_bs_inside_and_is_constant_outside(data):
    plain = fit_logit("y ~ x1 + bs(x2, df=4)", data)
    clipped = fit_logit("y ~ x1 + bs(x2, df=4)", data, eval_env={"bs": bs_clipped})
    np.testing.assert_allclose(clipped.params, plain.params, rtol=1e-10)
    np.testing.assert_allclose(clipped.predict(data), plain.predict(data), atol=1e-12)
    edge = data.iloc[[0, 0]].copy()
    edge["x2"] = [data["x2"].max(), data["x2"].max() + 5.0]
    p = np.asarray(clipped.predict(edge))
    assert p[0] == pytest.approx(p[1], abs=1e-12)


def test_linear_predictor_equals_statsmodels_predict():
    from stats.logit import linear_predictor

    rng = np.random.default_rng(5)
    n = 400
    data = pd.DataFrame({"x": rng.normal(size=n), "z": rng.uniform(0, 10, size=n),
                         "g": rng.choice(["a", "b", "c"], size=n), "b01": rng.integers(0, 2, size=n)})
    eta = 0.5 * data["x"] - 0.1 * data["z"] + (data["g"] == "b") * 0.7 + 0.3 * data["b01"]
    data["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    result = fit_logit("y ~ x + cr(z, df=4) + C(g, Treatment('b')) + C(b01) + x:z", data)
    new = data.sample(frac=1.0, random_state=1).assign(z=lambda d: d["z"] * 0.9)
    expected = np.asarray(result.predict(new, which="linear"))
    np.testing.assert_allclose(linear_predictor(result, new), expected, rtol=0, atol=1e-10)
    # the change over the terms of one variable equals the change of the full linear predictor
    shifted = new.assign(z=new["z"] + 1.0)
    full_change = np.asarray(result.predict(shifted, which="linear")) - expected
    partial = linear_predictor(result, shifted, ["z"]) - linear_predictor(result, new, ["z"])
    np.testing.assert_allclose(partial, full_change, rtol=0, atol=1e-10)


# ---------------------------------------------------------------------------------------------------------
# test_mutation_logit.py: stats/logit.py: tests aimed at the mutants the earlier suites let survive (issue 10, item 6).
# ---------------------------------------------------------------------------------------------------------
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


FORMULA_2 = "y ~ x + Zed + XXXX + C(g, Treatment('x')) + x:Zed"


def _by_hand(result, data, columns_of) -> np.ndarray:
    """The part of ``X(data) @ beta`` over the design columns whose names ``columns_of`` accepts."""
    info = result.model.data.model_spec  # patsy DesignInfo of the fit
    X = np.asarray(patsy.build_design_matrices([info], data)[0])
    keep = np.array([columns_of(name) for name in info.column_names])
    return X[:, keep] @ np.asarray(result.params)[keep]


def test_hc0_sandwich_equals_statsmodels(frame):
    result = fit_logit(FORMULA_2, frame)
    expected = sm.Logit(result.model.endog, result.model.exog).fit(disp=0, cov_type="HC0").cov_params()
    np.testing.assert_allclose(_sandwich(result, "HC0"), np.asarray(expected), rtol=1e-8, atol=1e-14)


def test_linear_predictor_of_some_variables_sums_only_their_terms(frame):
    result = fit_logit(FORMULA_2, frame)
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
    result = fit_logit(FORMULA_2, frame)
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


# ---------------------------------------------------------------------------------------------------------
# test_mutation_stats4.py: Tests written from the mutation runs of stats/_common.py, diagnostics.py, correlation.py and logit.py
# ---------------------------------------------------------------------------------------------------------
def _raises_exactly(message, func, *args, **kwargs):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        func(*args, **kwargs)


@pytest.fixture(scope="module")
def logit_data():
    rng = np.random.default_rng(31)
    n = 300
    df = pd.DataFrame({"x": rng.normal(size=n), "x2": rng.exponential(size=n), "z": rng.normal(size=n)})
    df["y"] = (rng.uniform(size=n) < expit(-0.3 + 0.9 * df.x - 0.4 * df.x2)).astype(int)
    df.index = [f"c{i}" for i in range(n)]
    return df


def test_fit_logit_hc0_matches_statsmodels_glm(logit_data):
    res = fit_logit("y ~ x + x2", logit_data, cov_type="HC0")
    glm = smf.glm("y ~ x + x2", logit_data, family=sm.families.Binomial()).fit(cov_type="HC0")
    np.testing.assert_allclose(res.bse, glm.bse, rtol=1e-6)
    hc1 = fit_logit("y ~ x + x2", logit_data, cov_type="HC1")
    np.testing.assert_allclose(hc1.bse, glm.bse * np.sqrt(300 / 297), rtol=1e-6)


def test_coefficient_table_odds_ratios_and_fit_statistics(logit_data):
    res = fit_logit("y ~ x + x2", logit_data)
    tab = coefficient_table(res, conf_level=0.9)
    assert str(tab["term"].dtype) == "str"
    np.testing.assert_allclose(tab["odds_ratio"], np.exp(res.params.to_numpy()), rtol=1e-14)
    z = sps.norm.ppf(0.95)
    np.testing.assert_allclose(tab["odds_ratio_low"], np.exp(res.params - z * res.bse), rtol=1e-12)
    np.testing.assert_allclose(tab["odds_ratio_high"], np.exp(res.params + z * res.bse), rtol=1e-12)
    stats_ok = fit_statistics(res).iloc[0]
    assert bool(stats_ok["converged"]) is True
    assert str(fit_statistics(res)["cov_type"].dtype) == "str"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        short = fit_logit("y ~ x + x2", logit_data, maxiter=1)
    assert short.mle_retvals["converged"] is False
    assert bool(fit_statistics(short)["converged"].iloc[0]) is False


def test_likelihood_ratio_test_df_and_small_statistics(logit_data):
    data = logit_data.assign(w=np.random.default_rng(5).normal(size=len(logit_data)))
    r = fit_logit("y ~ x + x2", data)
    f = fit_logit("y ~ x + x2 + w", data)
    lr_hand = 2 * (f.llf - r.llf)
    assert 0 < lr_hand < 1  # a useless extra variable: the statistic is small
    out = likelihood_ratio_test(r, f).iloc[0]
    assert out["lr_chi2"] == pytest.approx(lr_hand, rel=1e-12)
    assert out["df"] == 1
    assert out["p_value"] == pytest.approx(sps.chi2.sf(lr_hand, 1), rel=1e-12)
    _raises_exactly("full model must have more parameters than restricted: 3 vs 3", likelihood_ratio_test, r, r)


def test_design_frame_keeps_row_labels(logit_data):
    res = fit_logit("y ~ x + np.log(x2)", logit_data, eval_env={"np": np})
    frame = design_frame(res)
    assert frame.index.tolist() == list(logit_data.index)
    assert frame.columns.tolist() == ["Intercept", "x", "np.log(x2)"]
    np.testing.assert_allclose(frame["np.log(x2)"], np.log(logit_data["x2"]), rtol=1e-15)


def test_formula_logit_classifier_checks_threshold_and_spline_clipping(logit_data):
    X = logit_data[["x", "x2"]]
    y = np.where(logit_data["y"] == 1, "decline", "stay")
    _raises_exactly("X must be a pandas DataFrame, got ndarray", FormulaLogitClassifier().fit, X.to_numpy(), y)
    _raises_exactly("y must be 1-D with 300 values, got shape (300, 1)", FormulaLogitClassifier().fit, X,
                    y[:, None])
    _raises_exactly("y must be 1-D with 300 values, got shape (299,)", FormulaLogitClassifier().fit, X, y[1:])
    model = FormulaLogitClassifier("x + np.log(x2)").fit(X, y)
    assert model.n_features_in_ == 2
    assert model.feature_names_in_.dtype == object and model.feature_names_in_.tolist() == ["x", "x2"]
    _raises_exactly("X must be a pandas DataFrame, got ndarray", model.predict_proba, X.to_numpy())
    ref = smf.logit("d ~ x + np.log(x2)", X.assign(d=(y == "stay").astype(float))).fit(disp=0)
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], ref.predict(X), rtol=1e-8)
    # the default formula "1" on balanced classes: p = 0.5 exactly, which is not above the threshold
    balanced = FormulaLogitClassifier().fit(X.iloc[:10], ["a", "b"] * 5)
    assert balanced.predict_proba(X.iloc[:3])[:, 1].tolist() == [0.5] * 3
    assert balanced.predict(X.iloc[:3]).tolist() == ["a"] * 3
    # bs(): values beyond the training range are predicted as at the boundary
    spl = FormulaLogitClassifier("bs(x, df=4)").fit(X, y)
    lo, hi = X["x"].min(), X["x"].max()
    outside = pd.DataFrame({"x": [lo - 2.0, hi + 3.0], "x2": 1.0})
    edge = pd.DataFrame({"x": [lo, hi], "x2": 1.0})
    np.testing.assert_allclose(spl.predict_proba(outside), spl.predict_proba(edge), rtol=1e-12)
    assert np.isfinite(spl.decision_function(outside)).all()


def test_linear_predictor_selected_terms_categorical_pairs_and_quoted_levels():
    rng = np.random.default_rng(8)
    n = 500
    data = pd.DataFrame({
        "x": rng.normal(size=n), "Z": rng.normal(size=n), "a": rng.normal(size=n),
        "g": rng.choice(["a", "b", "c"], size=n),
        # two pandas Categoricals in one term, named as the columns reset_index(drop=False) would insert
        "index": pd.Categorical(rng.choice(["p", "q"], size=n), categories=["p", "q"]),
        "level_0": pd.Categorical(rng.choice(["u", "v"], size=n), categories=["u", "v"]),
    })
    eta = 0.4 * data["x"] - 0.5 * data["Z"] + 0.3 * data["a"] + 0.6 * (data["g"] == "b") \
        + 0.5 * ((data["index"] == "q") & (data["level_0"] == "v"))
    data["y"] = (rng.uniform(size=n) < expit(eta)).astype(int)
    result = fit_logit("y ~ x + Z + a + C(g, Treatment('a')) + C(index):C(level_0)", data)
    # new rows: the pair (p, u) absent, the pairs first seen in an order other than the categories' order
    pair = data["index"].astype(str) + data["level_0"].astype(str)
    new = pd.concat([data[pair == "qv"].head(3), data[pair == "pv"].head(3), data[pair == "qu"].head(3)])
    new = new.sample(frac=1.0, random_state=2)
    new = pd.concat([data[pair == "qv"].head(1), new])
    expected = np.asarray(result.predict(new, which="linear"))
    np.testing.assert_allclose(linear_predictor(result, new), expected, rtol=0, atol=1e-10)
    # only the terms of the chosen variables, by hand from the coefficients
    beta = result.params
    np.testing.assert_allclose(linear_predictor(result, new, ["a"]), beta["a"] * new["a"], rtol=1e-12)
    np.testing.assert_allclose(linear_predictor(result, new, ["Z"]), beta["Z"] * new["Z"], rtol=1e-12)
    g_terms = (beta["C(g, Treatment('a'))[T.b]"] * (new["g"] == "b")
               + beta["C(g, Treatment('a'))[T.c]"] * (new["g"] == "c"))
    np.testing.assert_allclose(linear_predictor(result, new, ["g"]), g_terms, rtol=1e-12)
    assert not np.allclose(linear_predictor(result, new, ["a"]), expected)


def test_bs_clipped_on_arrays_lists_float32_and_transform_options():
    # values exact in float32; the bound 0.1 is not: float32(0.1) > 0.1 lies beyond the boundary knot
    x = np.array([-1.0, 0.03125, 0.0625, 0.078125, 5.0])
    by_hand = np.clip(x, 0.0, 0.1)
    spec = {"knots": [0.05], "lower_bound": 0.0, "upper_bound": 0.1}
    expected = _patsy_bs(by_hand, **spec)
    for values in (x, x.astype(np.float32), x.tolist()):
        np.testing.assert_allclose(bs_clipped(values, **spec), expected, rtol=0, atol=1e-12)
    # the transform receives the options, by keyword and by position (df, knots, degree, include_intercept, ...)
    with_intercept = _patsy_bs(by_hand, include_intercept=True, **spec)
    assert with_intercept.shape == (5, 5)
    np.testing.assert_allclose(bs_clipped(x, include_intercept=True, **spec), with_intercept, rtol=0, atol=1e-12)
    np.testing.assert_allclose(bs_clipped(x, None, [0.05], 3, True, 0.0, 0.1), with_intercept, rtol=0, atol=1e-12)


def test_formula_logit_classifier_passes_cov_type_maxiter_and_predicts_above_half(logit_data):
    X, y = logit_data[["x", "x2"]], logit_data["y"].to_numpy()
    hc1 = FormulaLogitClassifier("x + x2", cov_type="HC1").fit(X, y)
    glm = smf.glm("y ~ x + x2", logit_data, family=sm.families.Binomial()).fit(cov_type="HC0")
    assert hc1.result_.cov_type == "HC1"
    np.testing.assert_allclose(hc1.result_.bse, glm.bse * np.sqrt(300 / 297), rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = FormulaLogitClassifier("x + x2", maxiter=1).fit(X, y)
        # separated data never converge: Newton stops at the documented default of 100 iterations
        sep = pd.DataFrame({"x": np.arange(20.0)})
        separated = FormulaLogitClassifier("x").fit(sep, (sep["x"] > 9.5).astype(int))
    assert one.result_.mle_retvals["iterations"] == 1 and one.result_.mle_retvals["converged"] is False
    assert separated.result_.mle_retvals["iterations"] == 100
    ref = smf.logit("y ~ x + x2", logit_data).fit(disp=0).predict(logit_data).to_numpy()
    predicted = FormulaLogitClassifier("x + x2").fit(X, y).predict(X)
    assert 0 < (ref > 0.5).sum() < len(ref)
    np.testing.assert_array_equal(predicted, (ref > 0.5).astype(int))
