"""Tests written from the mutation runs of stats/_common.py, diagnostics.py, correlation.py and logit.py
(issue 10, item 6; see docs/mutation.md). Expected values are computed independently (hand formulas, scipy,
statsmodels) and error messages are compared whole."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from stats._common import (
    binary_array,
    check_conf_level,
    check_positive_int,
    probability_array,
    wald_columns,
)


def _raises_exactly(message, func, *args, **kwargs):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        func(*args, **kwargs)


# ---------------------------------------------------------------- stats/_common.py


def test_check_conf_level_bounds_and_messages():
    assert check_conf_level(0.95) == 0.95
    assert check_conf_level(np.float32(0.5)) == 0.5
    _raises_exactly("conf_level must be in (0, 1), got 0.0", check_conf_level, 0.0)
    _raises_exactly("conf_level must be in (0, 1), got 1", check_conf_level, 1)
    _raises_exactly("conf_level must be in (0, 1), got nan", check_conf_level, float("nan"))
    _raises_exactly("conf_level must be a number in (0, 1), got 'high'", check_conf_level, "high")
    _raises_exactly("conf_level must be a number in (0, 1), got None", check_conf_level, None)


def test_check_positive_int_messages():
    assert check_positive_int("k", np.int64(3)) == 3
    assert type(check_positive_int("k", np.int64(3))) is int
    assert check_positive_int("k", 2, minimum=2) == 2
    _raises_exactly("k must be an integer >= 2, got 1", check_positive_int, "k", 1, minimum=2)
    _raises_exactly("k must be an integer >= 1, got 0", check_positive_int, "k", 0)
    _raises_exactly("k must be an integer >= 1, got True", check_positive_int, "k", True)
    _raises_exactly("k must be an integer >= 1, got 2.0", check_positive_int, "k", 2.0)


def test_wald_columns_against_hand_formulas_float32_and_quiet_zero_se():
    est = np.array([0.3, -1.2, 2.0], dtype=np.float32)
    se = np.array([0.1, 0.7, 1.3], dtype=np.float32)
    out = wald_columns(est, se, 0.9)
    e, s = est.astype(np.float64), se.astype(np.float64)
    z = sps.norm.ppf(0.95)
    for key in ("statistic", "p_value", "conf_low", "conf_high"):
        assert out[key].dtype == np.float64
    np.testing.assert_allclose(out["statistic"], e / s, rtol=1e-15)
    np.testing.assert_allclose(out["p_value"], 2 * sps.norm.sf(np.abs(e / s)), rtol=1e-14)
    # computed in float64: a float32 product z * se would differ at ~1e-8
    np.testing.assert_allclose(out["conf_low"], e - z * s, rtol=1e-15, atol=0)
    np.testing.assert_allclose(out["conf_high"], e + z * s, rtol=1e-15, atol=0)
    # zero standard errors give inf / nan without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zero = wald_columns([1.0, 0.0], [0.0, 0.0], 0.95)
    assert zero["statistic"][0] == np.inf and np.isnan(zero["statistic"][1])


def test_binary_array_messages_and_dtype():
    out = binary_array(np.array([True, False]))
    assert out.dtype == np.float64 and out.tolist() == [1.0, 0.0]
    out = binary_array(["0", "1", "1"])
    assert out.dtype == np.float64 and out.tolist() == [0.0, 1.0, 1.0]
    _raises_exactly("y must be one-dimensional, got shape (1, 2)", binary_array, [[0, 1]])
    _raises_exactly("target must be one-dimensional, got shape (2, 1)", binary_array, [[0], [1]], "target")
    _raises_exactly("y must contain only 0/1 values", binary_array, ["a", "b"])
    _raises_exactly(
        "y must contain only 0/1 values, found array([2., 3., 4., 5., 6.])", binary_array, [0, 2, 3, 4, 5, 6, 7]
    )


def test_probability_array_messages_and_dtype():
    out = probability_array([0, 1])
    assert out.dtype == np.float64
    assert probability_array(["0.25"]).tolist() == [0.25]
    _raises_exactly("p must be one-dimensional, got shape (1, 2)", probability_array, [[0.1, 0.2]])
    _raises_exactly(
        "p must lie in [0, 1], found array([1.1, 1.2, 1.3, 1.4, 1.5])",
        probability_array,
        [0.5, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6],
    )
    _raises_exactly("q must lie in [0, 1], found array([nan])", probability_array, [np.nan], "q")


# ---------------------------------------------------------------- stats/diagnostics.py

from types import SimpleNamespace  # noqa: E402

import statsmodels.api as sm  # noqa: E402
from scipy.special import expit  # noqa: E402

from stats.diagnostics import influence_table, separation_check  # noqa: E402


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


# ---------------------------------------------------------------- stats/correlation.py

from scipy.stats.contingency import chi2_contingency  # noqa: E402

from stats.correlation import _g_statistics, phik_matrix, phik_with_target  # noqa: E402


def _g_reference(table):
    """G statistic of the table without its empty rows/columns (Yates on 2 x 2), 0 below two rows/columns."""
    t = np.asarray(table, dtype=float)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    if min(t.shape) < 2:
        return 0.0
    return float(chi2_contingency(t, correction=True, lambda_="log-likelihood")[0])


def test_g_statistics_empty_rows_columns_and_exact_independence():
    tables = [
        [[5, 3], [0, 0], [2, 7]],  # 2 x 2 once the empty row is dropped: Yates applies
        [[5, 0, 3], [2, 0, 7]],  # the same with an empty column
        [[5, 3], [0, 0]],  # a single non-empty row
        [[4, 0], [6, 0]],  # a single non-empty column
        [[3, 3], [3, 3]],  # observed = expected: the Yates shift is 0
        [[6, 0], [1, 5]],  # a zero cell
    ]
    expected = [_g_reference(t) for t in tables]
    assert expected[2] == expected[3] == 0.0 and expected[4] == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for t, e in zip(tables, expected):
            assert _g_statistics(np.array(t)[None])[0] == pytest.approx(e, abs=1e-12)


@pytest.fixture(scope="module")
def small_frame():
    rng = np.random.default_rng(21)
    n = 600
    df = pd.DataFrame({"x": rng.normal(size=n), "visits": rng.poisson(2, n), "grp": rng.choice(list("abc"), n)})
    eta = 0.8 * df.x + 0.4 * (df.visits - 2) + 0.5 * (df.grp == "a")
    df["y"] = np.where(rng.uniform(size=n) < expit(eta), "yes", "no")
    df.loc[::17, "x"] = np.nan  # missing values are dropped pairwise
    df["const"] = "k"
    return df


def test_phik_with_target_counts_as_categorical_missing_and_no_noise_correction(small_frame):
    df = small_frame
    # "visits" is numeric but not listed as interval: binned by value, as phik_matrix does
    for correction in (True, False):
        out = phik_with_target(df, "y", ["x"], bins=5, noise_correction=correction, n_simulations=50)
        mat = phik_matrix(df, ["x"], bins=5, noise_correction=correction)
        assert out["variable"].tolist() == ["x", "visits", "grp", "const"]
        np.testing.assert_allclose(out["phik"].iloc[:3], mat.loc[["x", "visits", "grp"], "y"], atol=1e-12)
        # a constant feature has no phi_K and no p value
        assert out.iloc[3, 1:].isna().all()
    with_c = phik_with_target(df, "y", ["x"], bins=5, n_simulations=50)["phik"]
    without = phik_with_target(df, "y", ["x"], bins=5, n_simulations=50, noise_correction=False)["phik"]
    assert (without.iloc[:3] > with_c.iloc[:3]).all()


def test_phik_with_target_defaults_and_mc_p_values(small_frame):
    df = small_frame[["x", "visits", "grp", "y"]]
    default = phik_with_target(df, "y", ["x"], bins=5)
    pd.testing.assert_frame_equal(default, phik_with_target(df, "y", ["x"], bins=5, seed=0, n_simulations=1000))
    assert not default.equals(phik_with_target(df, "y", ["x"], bins=5, seed=1))
    # MC: the p value is the simulated tail fraction, a multiple of 1 / n_simulations
    mc = phik_with_target(df, "y", ["x"], bins=5, n_simulations=200, significance_method="MC", seed=3)
    hyb = phik_with_target(df, "y", ["x"], bins=5, n_simulations=200, seed=3)
    k = mc["p_value"].to_numpy() * 200
    np.testing.assert_allclose(k, np.round(k), atol=1e-9)
    np.testing.assert_allclose(mc["significance_z"], -sps.norm.ppf(mc["p_value"]), rtol=1e-12)
    assert not np.allclose(mc["p_value"], hyb["p_value"])
    # a feature unrelated to y: MC, hybrid and asymptotic p values agree roughly
    rng = np.random.default_rng(8)
    noise = pd.DataFrame({"u": rng.choice(list("abcd"), 2000), "y": rng.choice(["yes", "no"], 2000)})
    p = {m: phik_with_target(noise, "y", [], significance_method=m, n_simulations=2000)["p_value"].iloc[0]
         for m in ("MC", "hybrid", "asymptotic")}
    assert abs(p["MC"] - p["asymptotic"]) < 0.05 and abs(p["hybrid"] - p["asymptotic"]) < 0.05


def test_phik_with_target_messages(small_frame):
    df = small_frame
    _raises_exactly("n_simulations must be an integer >= 10, got 9", phik_with_target, df, "y", ["x"],
                    n_simulations=9)
    assert len(phik_with_target(df, "y", ["x"], n_simulations=10, bins=2)) == 4
    _raises_exactly("bins must be an integer >= 2, got 1", phik_with_target, df, "y", ["x"], bins=1)
    _raises_exactly("bins must be an integer >= 2, got 1", phik_matrix, df, ["x"], bins=1)
    _raises_exactly(
        "significance_method must be one of ('hybrid', 'MC', 'asymptotic'), got 'mc'",
        phik_with_target, df, "y", ["x"], significance_method="mc",
    )
    for seed in (1.5, True, "3"):
        _raises_exactly(f"seed must be an integer, got {seed!r}", phik_with_target, df, "y", ["x"], seed=seed)
    assert len(phik_with_target(df, "y", ["x"], seed=np.int64(4), n_simulations=10)) == 4
    _raises_exactly("target 'z' is not a column of df", phik_with_target, df, "z", ["x"])
    _raises_exactly("interval_cols ['w'] are not columns of df", phik_with_target, df, "y", ["w"])
    _raises_exactly("interval_cols must be a list of column names, got the string 'x'", phik_matrix, df, "x")
    _raises_exactly("df must be a pandas DataFrame, got dict", phik_matrix, {"x": [1.0]}, [])


# ---------------------------------------------------------------- stats/logit.py

import statsmodels.formula.api as smf  # noqa: E402

from stats.logit import (  # noqa: E402
    FormulaLogitClassifier,
    coefficient_table,
    design_frame,
    fit_logit,
    fit_statistics,
    likelihood_ratio_test,
)


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


def test_phik_with_target_drops_missing_categories_pairwise_and_needs_two_levels_each_way():
    """A categorical feature's missing values are dropped pair by pair (the table is the crosstab of the complete
    pairs, fed to phik's own phi_K); a pair left with one level of the feature, or one of the target, has no phi_K
    and no p value."""
    from phik.phik import phik_from_hist2d

    rng = np.random.default_rng(8)
    n = 400
    y = pd.Series(np.where(rng.uniform(size=n) < 0.4, "yes", "no"), dtype=object)
    grp = pd.Series(rng.choice(list("abc"), n), dtype=object).where(rng.uniform(size=n) > 0.2, np.nan)
    grp[(y == "yes") & (rng.uniform(size=n) < 0.3)] = "a"
    y[:20] = np.nan                                           # a target missing on 20 rows
    only_yes = pd.Series(rng.choice(list("pq"), n), dtype=object).where(y == "yes", np.nan)  # target: one level
    one_level = pd.Series(np.where(y.isna(), "v", "u"), dtype=object)  # feature: one level on complete pairs
    df = pd.DataFrame({"grp": grp, "only_yes": only_yes, "one_level": one_level, "y": y})
    out = phik_with_target(df, "y", [], n_simulations=50).set_index("variable")
    pair = df[["grp", "y"]].dropna()
    table = pd.crosstab(pair["grp"], pair["y"]).to_numpy().astype(float)
    assert table.shape == (3, 2)
    assert out.loc["grp", "phik"] == pytest.approx(float(phik_from_hist2d(table)), abs=1e-12)
    for name in ("only_yes", "one_level"):
        assert out.loc[name, ["phik", "p_value", "significance_z"]].isna().all(), name


# second round (branch mut-final): the survivors of the fresh run .mutation-logit3

from patsy.splines import bs as _patsy_bs  # noqa: E402

from stats.logit import bs_clipped, linear_predictor  # noqa: E402


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


def test_g_statistics_zero_cell_without_yates_is_quiet():
    # a zero cell with a positive expectation in a 2 x 3 table: log(0) must not warn (scipy uses xlogy)
    table = np.array([[5, 0, 3], [2, 4, 7]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = _g_statistics(table[None])[0]
    assert value == pytest.approx(_g_reference(table), rel=1e-12)


def test_phik_with_target_feature_with_one_level_among_rows_with_target():
    # f takes a second value only where the target is missing: the pair's table has one row, phi_K is undefined
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({"x": rng.normal(size=n), "f": np.where(np.arange(n) < 150, "a", "b"),
                       "y": rng.choice(["yes", "no"], n)})
    df["y"] = df["y"].where(df["f"] == "a", None)
    out = phik_with_target(df, "y", ["x"], n_simulations=50).set_index("variable")
    assert np.isnan(phik_matrix(df, ["x"]).loc["f", "y"])
    assert out.loc["f"].isna().all()
    assert out.loc["x"].notna().all()
