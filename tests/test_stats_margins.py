"""Tests of stats.margins against independent finite differences, statsmodels and simulation."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from stats.logit import fit_logit
from stats.margins import (
    average_marginal_effects,
    average_prediction,
    compare_predictions,
    model_variables,
)


def make_data(n=1000, seed=1):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.uniform(0, 10, n),
            "x3": rng.gamma(2.0, 2.0, n),
            "g": rng.choice(["a", "b", "c"], n),
            "d": rng.integers(0, 2, n),
        }
    )
    eta = -0.3 + 0.7 * df.x1 + np.sin(df.x2 / 3) + 0.6 * (df.g == "b") - 0.1 * df.x3 + 0.4 * df.d
    df["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    return df


@pytest.fixture(scope="module")
def data():
    return make_data()


def fd_ame(result, data, var, h):
    """Independent central difference through result.predict."""
    up = data.copy()
    up[var] = up[var] + h
    down = data.copy()
    down[var] = down[var] - h
    return float(np.mean((np.asarray(result.predict(up)) - np.asarray(result.predict(down))) / (2 * h)))


def delta_se(result, func, step=1e-6):
    """Independent delta method: numerical gradient of func(params) w.r.t. params."""
    beta = np.asarray(result.params, dtype=float)
    grad = np.empty_like(beta)
    for j in range(len(beta)):
        e = np.zeros_like(beta)
        e[j] = step
        grad[j] = (func(beta + e) - func(beta - e)) / (2 * step)
    return float(np.sqrt(grad @ np.asarray(result.cov_params()) @ grad))


def test_columns_and_inferred_kinds(data):
    res = fit_logit("y ~ standardize(x1) + x2 + C(g) + d", data)
    kinds = model_variables(res).set_index("variable")["kind"].to_dict()
    assert kinds == {"x1": "numeric", "x2": "numeric", "g": "categorical", "d": "categorical"}
    ame = average_marginal_effects(res, data)
    assert list(ame.columns) == [
        "term", "contrast", "ame", "std_error", "statistic", "p_value", "conf_low", "conf_high",
    ]
    assert ame["contrast"].tolist() == ["dY/dX", "dY/dX", "b - a", "c - a", "1 - 0"]


def test_linear_formula_matches_statsmodels_get_margeff(data):
    res = fit_logit("y ~ x1 + x2 + x3", data)
    ame = average_marginal_effects(res, data)
    me = res.get_margeff(at="overall", method="dydx")
    np.testing.assert_allclose(ame["ame"], me.margeff, atol=1e-6)
    np.testing.assert_allclose(ame["std_error"], me.margeff_se, atol=1e-6)
    ci = me.conf_int()
    np.testing.assert_allclose(ame[["conf_low", "conf_high"]].to_numpy(), ci, atol=1e-6)


def test_transformed_terms_against_finite_differences(data):
    formula = "y ~ standardize(x1) + np.log(x3) + x1:d + I(x3**2) + C(g) + d"
    res = fit_logit(formula, data)
    ame = average_marginal_effects(res, data).set_index(["term", "contrast"])
    for var in ("x1", "x3"):
        h = 1e-4 * data[var].std()
        assert ame.loc[(var, "dY/dX"), "ame"] == pytest.approx(fd_ame(res, data, var, h), abs=1e-4)
        # delta-method SE against an independent numerical gradient over the parameters
        model = res.model

        def g(beta, var=var, h=h):
            up, down = data.copy(), data.copy()
            up[var] += h
            down[var] -= h
            from patsy import build_design_matrices

            Xu = np.asarray(build_design_matrices([model.data.model_spec], up)[0])
            Xd = np.asarray(build_design_matrices([model.data.model_spec], down)[0])
            return np.mean((model.predict(beta, Xu) - model.predict(beta, Xd)) / (2 * h))

        assert ame.loc[(var, "dY/dX"), "std_error"] == pytest.approx(delta_se(res, g), rel=1e-4)


def test_categorical_discrete_change_by_hand(data):
    res = fit_logit("y ~ x1 + C(g) + d + x1:d", data)
    ame = average_marginal_effects(res, data).set_index(["term", "contrast"])
    for level in ("b", "c"):
        lev, ref = data.assign(g=level), data.assign(g="a")
        hand = np.mean(res.predict(lev)) - np.mean(res.predict(ref))
        assert ame.loc[("g", f"{level} - a"), "ame"] == pytest.approx(hand, abs=1e-12)
    one, zero = data.assign(d=1), data.assign(d=0)
    hand_d = np.mean(res.predict(one)) - np.mean(res.predict(zero))
    assert ame.loc[("d", "1 - 0"), "ame"] == pytest.approx(hand_d, abs=1e-12)

    from patsy import build_design_matrices

    spec = res.model.data.model_spec
    X1 = np.asarray(build_design_matrices([spec], one)[0])
    X0 = np.asarray(build_design_matrices([spec], zero)[0])

    def g(beta):
        return np.mean(res.model.predict(beta, X1)) - np.mean(res.model.predict(beta, X0))

    assert ame.loc[("d", "1 - 0"), "std_error"] == pytest.approx(delta_se(res, g), rel=1e-5)
    # custom reference level
    alt = average_marginal_effects(res, data, variables={"g": "categorical"}, reference={"g": "b"})
    assert alt["contrast"].tolist() == ["a - b", "c - b"]
    assert alt["ame"].iloc[0] == pytest.approx(-ame.loc[("g", "b - a"), "ame"], abs=1e-12)


def test_spline_ame_is_with_respect_to_original_variable(data):
    # explicit boundary knots so that independent +/- h perturbations stay inside
    formula = "y ~ x1 + bs(x2, df=5, lower_bound=-1, upper_bound=11)"
    res = fit_logit(formula, data)
    ame = average_marginal_effects(res, data, variables={"x2": "numeric"})
    h = 1e-4 * data["x2"].std()
    assert ame["ame"].iloc[0] == pytest.approx(fd_ame(res, data, "x2", h), abs=1e-4)
    # in a region where sin(x2/3) is increasing the local AME is clearly positive
    sub = data[data["x2"] < 3]
    assert average_marginal_effects(res, sub, variables={"x2": "numeric"})["ame"].iloc[0] > 0


def test_spline_without_bounds_uses_one_sided_differences_at_the_extremes(data):
    res = fit_logit("y ~ x1 + bs(x2, df=4)", data)
    ame = average_marginal_effects(res, data, variables={"x2": "numeric"})["ame"].iloc[0]
    x = data["x2"].to_numpy()
    h = 1e-4 * x.std(ddof=1)
    hi = np.minimum(x + h, x.max())
    lo = np.maximum(x - h, x.min())
    p_hi = np.asarray(res.predict(data.assign(x2=hi)))
    p_lo = np.asarray(res.predict(data.assign(x2=lo)))
    assert ame == pytest.approx(np.mean((p_hi - p_lo) / (hi - lo)), abs=1e-10)


def test_robust_covariance_propagates(data):
    plain = fit_logit("y ~ x1 + x2 + C(g)", data)
    robust = fit_logit("y ~ x1 + x2 + C(g)", data, cov_type="HC3")
    a = average_marginal_effects(plain, data)
    b = average_marginal_effects(robust, data)
    np.testing.assert_allclose(a["ame"], b["ame"], atol=1e-8)
    assert not np.allclose(a["std_error"], b["std_error"], rtol=1e-3)


def test_compare_predictions_delta_se_vs_parametric_simulation(data):
    res = fit_logit("y ~ standardize(x1) + bs(x2, df=4) + C(g) + np.log(x3)", data)
    cf = data.copy()
    sel = data["g"] == "a"
    cf.loc[sel, "x1"] = cf.loc[sel, "x1"] + 1.0
    out = compare_predictions(res, data, cf)
    row = out.iloc[0]
    from patsy import build_design_matrices

    spec = res.model.data.model_spec
    Xb = np.asarray(build_design_matrices([spec], data)[0])
    Xc = np.asarray(build_design_matrices([spec], cf)[0])
    assert row["estimate_baseline"] == pytest.approx(np.mean(res.predict(data)), abs=1e-12)
    assert row["estimate_counterfactual"] == pytest.approx(np.mean(res.predict(cf)), abs=1e-12)
    rng = np.random.default_rng(123)
    draws = rng.multivariate_normal(np.asarray(res.params), np.asarray(res.cov_params()), size=4000)
    sim = np.array([np.mean(res.model.predict(b, Xc)) - np.mean(res.model.predict(b, Xb)) for b in draws])
    assert row["std_error"] == pytest.approx(sim.std(ddof=1), rel=0.10)
    assert row["difference"] == pytest.approx(row["estimate_counterfactual"] - row["estimate_baseline"])
    assert row["conf_low"] < row["difference"] < row["conf_high"]


def test_weighted_predictions(data):
    res = fit_logit("y ~ x1 + x2 + C(g)", data)
    w = data["x3"].to_numpy()
    p = np.asarray(res.predict(data))
    mean = average_prediction(res, data, weights=w).iloc[0]
    assert mean["estimate"] == pytest.approx(np.sum(w * p) / np.sum(w), abs=1e-12)
    total = average_prediction(res, data, weights=w, normalize_weights=False).iloc[0]
    assert total["estimate"] == pytest.approx(np.sum(w * p), rel=1e-12)
    assert total["std_error"] == pytest.approx(mean["std_error"] * np.sum(w), rel=1e-10)
    plain = average_prediction(res, data).iloc[0]
    assert plain["estimate"] == pytest.approx(p.mean(), abs=1e-12)

    from patsy import build_design_matrices

    X = np.asarray(build_design_matrices([res.model.data.model_spec], data)[0])
    assert plain["std_error"] == pytest.approx(delta_se(res, lambda b: np.mean(res.model.predict(b, X))), rel=1e-5)
    cf = data.assign(x1=data["x1"] + 0.5)
    cmp = compare_predictions(res, data, cf, weights=w, normalize_weights=False).iloc[0]
    p_cf = np.asarray(res.predict(cf))
    assert cmp["difference"] == pytest.approx(np.sum(w * (p_cf - p)), rel=1e-10)
    with pytest.raises(ValueError, match="weights"):
        compare_predictions(res, data, cf.iloc[:10], weights=w)


def test_bad_inputs_raise(data):
    res = fit_logit("y ~ x1 + C(g)", data)
    with pytest.raises(ValueError, match="continuous"):
        average_marginal_effects(res, data, variables={"x1": "continuous"})
    with pytest.raises(ValueError, match="nope"):
        average_marginal_effects(res, data, variables={"nope": "numeric"})
    with pytest.raises(ValueError, match="zz"):
        average_marginal_effects(res, data, variables={"g": "categorical"}, reference={"g": "zz"})
    bad = data.copy()
    bad.loc[bad.index[0], "x1"] = np.nan
    with pytest.raises(ValueError, match="missing"):
        average_marginal_effects(res, bad)


def test_ame_speed():
    rng = np.random.default_rng(5)
    n = 1300
    df = pd.DataFrame({f"z{i}": rng.normal(size=n) for i in range(10)})
    df["x"] = rng.uniform(0, 10, n)
    df["g"] = rng.choice(list("abcd"), n)
    df["d"] = rng.integers(0, 2, n)
    df["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-(df.z0 + np.sin(df.x / 3))))).astype(int)
    formula = "y ~ " + " + ".join(f"z{i}" for i in range(10)) + " + bs(x, df=4) + C(g) + d"
    res = fit_logit(formula, df)
    assert len(res.params) == 19
    start = time.perf_counter()
    average_marginal_effects(res, df)
    assert time.perf_counter() - start < 2.0


def test_weighted_standard_errors_against_numerical_gradient(data):
    """Weighted delta method: J = sum_i w_i p_i (1 - p_i) x_i with each row's own weight. The reference is a
    central-difference gradient of the weighted mean (or total) in beta; tolerance rel 1e-5 (step 1e-6)."""
    from patsy import build_design_matrices

    res = fit_logit("y ~ x1 + x2 + x3 + C(g)", data)
    # weights strongly tied to x1, so a gradient with the mean weight (sum_i wbar p_i (1 - p_i) x_i) is far off
    w = np.exp(1.5 * data["x1"].to_numpy()) * (1 + data["d"].to_numpy())
    cf = data.assign(x1=data["x1"] + 0.5, g="b")
    spec = res.model.data.model_spec
    X = np.asarray(build_design_matrices([spec], data)[0])
    Xc = np.asarray(build_design_matrices([spec], cf)[0])

    def weighted_mean(b, design):
        return np.sum(w * res.model.predict(b, design)) / np.sum(w)

    for normalize, scale in ((True, 1.0 / np.sum(w)), (False, 1.0)):
        pred = average_prediction(res, data, weights=w, normalize_weights=normalize).iloc[0]
        ref = delta_se(res, lambda b: scale * np.sum(w * res.model.predict(b, X)))
        assert pred["std_error"] == pytest.approx(ref, rel=1e-5)
        cmp = compare_predictions(res, data, cf, weights=w, normalize_weights=normalize).iloc[0]
        ref_diff = delta_se(res, lambda b: scale * np.sum(w * (res.model.predict(b, Xc) - res.model.predict(b, X))))
        assert cmp["std_error"] == pytest.approx(ref_diff, rel=1e-5)

    # the check can fail: the mean-weight gradient gives a clearly different standard error
    beta = np.asarray(res.params)
    p = res.model.predict(beta, X)
    wn = w / w.sum()
    mean_weight_jac = (X * (wn.mean() * p * (1 - p))[:, None]).sum(axis=0)
    mean_weight_se = float(np.sqrt(mean_weight_jac @ np.asarray(res.cov_params()) @ mean_weight_jac))
    right = delta_se(res, lambda b: weighted_mean(b, X))
    assert abs(mean_weight_se - right) / right > 0.05


# ---- issue 10, item 6: tests aimed at surviving mutants of stats/margins.py (see docs/mutation.md)


def test_prediction_tables_every_column_and_input_errors(data):
    from scipy import stats as sps
    from scipy.special import expit

    res = fit_logit("y ~ x1 + C(g)", data)
    sub = data.iloc[:200]
    out = average_prediction(res, sub, conf_level=0.9)
    assert out.columns.tolist() == ["estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high", "n"]
    row = out.iloc[0]

    assert list(res.params.index) == ["Intercept", "C(g)[T.b]", "C(g)[T.c]", "x1"]

    def mean_p(beta, shift=0.0):
        eta = beta[0] + beta[1] * (sub["g"] == "b") + beta[2] * (sub["g"] == "c") + beta[3] * (sub["x1"] + shift)
        return float(np.mean(expit(eta)))

    se = delta_se(res, mean_p)
    z = sps.norm.ppf(0.95)
    assert row["estimate"] == pytest.approx(mean_p(np.asarray(res.params)), rel=1e-12)
    assert row["std_error"] == pytest.approx(se, rel=1e-6)
    assert row["statistic"] == pytest.approx(row["estimate"] / se, rel=1e-6)
    assert row["p_value"] == pytest.approx(2 * sps.norm.sf(abs(row["estimate"] / se)), rel=1e-4)
    assert row["conf_low"] == pytest.approx(row["estimate"] - z * se, rel=1e-6)
    assert row["conf_high"] == pytest.approx(row["estimate"] + z * se, rel=1e-6)
    assert row["n"] == 200
    # the training frame by default
    assert average_prediction(res)["n"].iloc[0] == len(data)

    shifted = sub.assign(x1=sub["x1"] + 1)
    cmp = compare_predictions(res, sub, shifted, conf_level=0.9).iloc[0]
    se_d = delta_se(res, lambda b: mean_p(b, 1.0) - mean_p(b))
    assert cmp["std_error"] == pytest.approx(se_d, rel=1e-6)
    assert cmp["statistic"] == pytest.approx(cmp["difference"] / se_d, rel=1e-6)
    assert cmp["p_value"] == pytest.approx(2 * sps.norm.sf(abs(cmp["difference"] / se_d)), rel=1e-4)
    assert cmp["conf_low"] == pytest.approx(cmp["difference"] - z * se_d, rel=1e-6)
    assert cmp["conf_high"] == pytest.approx(cmp["difference"] + z * se_d, rel=1e-6)
    # without weights the two scenarios may differ in size; weights are not normalised unless asked
    assert np.isfinite(compare_predictions(res, sub, shifted.iloc[:150])["difference"].iloc[0])
    w = np.linspace(1, 2, 200)
    total = average_prediction(res, sub, weights=w, normalize_weights=False)["estimate"].iloc[0]
    assert total == pytest.approx(float(w @ res.predict(sub)), rel=1e-10)

    for kwargs, message in [
        (dict(weights=np.ones(199)), r"^weights must be 1-D with 200 values, got shape \(199,\)$"),
        (dict(weights=np.r_[np.nan, np.ones(199)]), r"^weights must be finite$"),
        (dict(weights=np.r_[1.0, -1.0, np.zeros(198)]), r"^weights sum to zero and cannot be normalised$"),
    ]:
        with pytest.raises(ValueError, match=message):
            average_prediction(res, sub, **kwargs)
    with pytest.raises(ValueError, match=r"^data_baseline must be a non-empty pandas DataFrame$"):
        compare_predictions(res, sub.iloc[:0], shifted)
    with pytest.raises(ValueError, match=r"^data_counterfactual must be a non-empty pandas DataFrame$"):
        compare_predictions(res, sub, shifted.to_numpy())
    with pytest.raises(ValueError, match=r"^weights require equal row counts: 200 baseline vs 150 counterfactual$"):
        compare_predictions(res, sub, shifted.iloc[:150], weights=w)
    assert compare_predictions(res, sub.iloc[:1], shifted.iloc[:1])["difference"].notna().all()
