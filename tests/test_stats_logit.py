"""Tests of stats.logit against independent computations (sklearn, numpy by hand)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_predict, cross_val_score

from stats.logit import (
    FormulaLogitClassifier,
    bs_clipped,
    coefficient_table,
    design_frame,
    fit_logit,
    fit_statistics,
    likelihood_ratio_test,
)


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


# --------------------------------------------------------------------------
# FormulaLogitClassifier
# --------------------------------------------------------------------------

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
