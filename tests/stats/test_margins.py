"""Tests of stats.margins against independent finite differences, statsmodels and simulation.
"""

from __future__ import annotations

import time
import numpy as np
import pandas as pd
import pytest
from stats.logit import fit_logit
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.formula import options
from stats import margins
from stats.margins import average_marginal_effects, average_prediction, compare_predictions, model_variables


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


# ---------------------------------------------------------------------------------------------------------
# test_mutation_margins.py: stats.margins against independent computations (issue 10, item 6: the survivors of mutmut on stats/margins.py).
# ---------------------------------------------------------------------------------------------------------
def make_data_2(n=400, seed=3):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x": rng.normal(size=n), "z": rng.uniform(0, 3, n), "g": rng.choice(["a", "b", "c"], n)})
    eta = -0.2 + 0.8 * df["x"] - 0.5 * df["z"] + 0.7 * (df["g"] == "b")
    df["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    return df


@pytest.fixture(scope="module")
def data_2():
    return make_data_2()


def _margeff(result) -> pd.DataFrame:
    return result.get_margeff(at="overall").summary_frame()


def test_formulaic_model_margins_equal_statsmodels(data_2, monkeypatch):
    """A model fitted with statsmodels' formulaic engine (chosen globally, as statsmodels' own predict needs)."""
    monkeypatch.setattr(options, "formula_engine", "formulaic")
    result = smf.logit("y ~ x + z", data_2).fit(disp=0)
    assert not hasattr(margins.result_model_spec(result), "factor_infos")  # a formulaic ModelSpec, not patsy
    ame = average_marginal_effects(result, data_2).set_index("term")
    reference = _margeff(result)
    np.testing.assert_allclose(ame.loc[["x", "z"], "ame"], reference["dy/dx"], rtol=1e-6)
    np.testing.assert_allclose(ame.loc[["x", "z"], "std_error"], reference["Std. Err."], rtol=1e-4)
    pred = average_prediction(result, data_2).iloc[0]
    assert pred["estimate"] == pytest.approx(float(np.mean(result.predict(data_2))), rel=1e-12)
    # the formulaic branch of the variable finder: names of the right-hand side in formula order, each once
    assert margins._factor_variables(result, data_2.columns) == (["x", "z"], set())
    inter = smf.logit("y ~ x + z:x + C(g)", data_2).fit(disp=0)
    assert margins._factor_variables(inter, data_2.columns) == (["x", "z", "g"], set())
    assert model_variables(inter, data_2).to_dict("list") == {"variable": ["x", "z", "g"],
                                                            "kind": ["numeric", "numeric", "categorical"]}
    # rows with a missing value are dropped by formulaic: refused with the counts
    bad = data_2.copy()
    bad.loc[bad.index[0], "x"] = np.nan
    with pytest.raises(ValueError) as info:
        average_prediction(result, bad)
    assert str(info.value) == "design has 399 rows for 400 data rows: remove missing values first"


def test_names_in_code():
    # Python code: the names, string literals ignored
    assert sorted(margins._names_in_code("np.log(x1) + C(g, Treatment('a'))")) == ["C", "Treatment", "g", "np", "x1"]
    # not Python (a formula's ':' interaction): identifiers outside string literals, in order
    assert margins._names_in_code("x1:g + C(h, Treatment('a b')) + Q(\"k\")") == ["x1", "g", "C", "h", "Treatment", "Q"]
    assert margins._names_in_code("a_1:_b2") == ["a_1", "_b2"]


def test_non_formula_logit_margins_equal_statsmodels(data_2):
    design = sm.add_constant(data_2[["x", "z"]])
    result = sm.Logit(data_2["y"], design).fit(disp=0)
    frame = design.assign(other=1.0)
    # the constant column is not a variable; a column outside the design is not either
    assert margins._factor_variables(result, frame.columns) == (["x", "z"], set())
    assert margins._factor_variables(result, ["z", "x"]) == (["x", "z"], set())
    assert margins._factor_variables(result, ["x"]) == (["x"], set())
    ame = average_marginal_effects(result, frame)
    reference = _margeff(result)
    assert ame["term"].tolist() == ["x", "z"] and ame["contrast"].tolist() == ["dY/dX", "dY/dX"]
    np.testing.assert_allclose(ame["ame"], reference["dy/dx"], rtol=1e-6)
    np.testing.assert_allclose(ame["std_error"], reference["Std. Err."], rtol=1e-4)
    np.testing.assert_allclose(margins.result_design(result, frame), design.to_numpy(), rtol=0, atol=0)
    with pytest.raises(ValueError) as info:
        margins.result_design(result, data_2[["x"]])
    assert str(info.value) == "data lacks design columns ['const', 'z'] of a non-formula model"
    # without a constant no column is dropped
    plain = sm.Logit(data_2["y"], data_2[["x", "z"]]).fit(disp=0)
    assert margins._factor_variables(plain, data_2.columns) == (["x", "z"], set())
    # a design column that is constant only in this data is still a variable (k_constant is about the fit)
    assert margins._factor_variables(result, design.columns) == (["x", "z"], set())


def test_model_without_training_frame_needs_data(data_2):
    result = sm.Logit(data_2["y"].to_numpy(), sm.add_constant(data_2[["x", "z"]].to_numpy())).fit(disp=0)
    with pytest.raises(ValueError) as info:
        model_variables(result)
    assert str(info.value) == "data must be supplied: the model keeps no training frame"


def test_average_marginal_effects_errors_exactly(data_2):
    result = smf.logit("y ~ x + C(g)", data_2).fit(disp=0)
    cases = [
        (dict(eps=0.0), "eps must be a positive number, got 0.0"),
        (dict(eps=-1e-4), "eps must be a positive number, got -0.0001"),
        (dict(eps=np.inf), "eps must be a positive number, got inf"),
        (dict(eps=np.nan), "eps must be a positive number, got nan"),
        (dict(data_2=data_2.to_numpy()), "data must be a pandas DataFrame, got ndarray"),
        (dict(data_2=data_2.iloc[:0]), "data has no rows"),
        (dict(variables={"x": "continuous"}),
         "kind of variable 'x' must be one of ('numeric', 'categorical'), got 'continuous'"),
        (dict(variables={"nope": "numeric"}), "variable 'nope' is not a column of data"),
        (dict(variables={"x": "numeric"}, reference={"x": 0}),
         "reference given for 'x', which is not a categorical variable"),
        (dict(reference={"w": 0}), "reference given for 'w', which is not a categorical variable"),
        (dict(variables={"g": "numeric"}), "variable 'g' is declared numeric but has dtype str"),
        (dict(variables={"g": "categorical"}, reference={"g": "zz"}),
         "reference level 'zz' of 'g' is not present in data"),
        (dict(data_2=data_2[data_2["g"] == "a"], variables={"g": "categorical"}),
         "categorical variable 'g' has fewer than two levels in data"),
        (dict(conf_level=1.0), "conf_level must be in (0, 1), got 1.0"),
    ]
    for kwargs, message in cases:
        kwargs = dict(kwargs)
        frame = kwargs.pop("data_2", data_2)
        with pytest.raises(ValueError) as info:
            average_marginal_effects(result, frame, **kwargs)
        assert str(info.value) == message, kwargs
    flags = data_2.assign(b=data_2["x"] > 0)
    with_flag = smf.logit("y ~ x + b", flags).fit(disp=0)
    with pytest.raises(ValueError) as info:
        average_marginal_effects(with_flag, flags, variables={"b": "numeric"})
    assert str(info.value) == "variable 'b' is declared numeric but has dtype bool"
    probit = smf.probit("y ~ x", data_2).fit(disp=0)
    for call in (lambda: average_marginal_effects(probit, data_2), lambda: average_prediction(probit, data_2),
                 lambda: compare_predictions(probit, data_2, data_2)):
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == "result must be a fitted statsmodels Logit, got Probit"


def test_design_errors_exactly(data_2):
    result = smf.logit("y ~ x + C(g)", data_2).fit(disp=0)
    unseen = data_2.assign(g="zz")
    with pytest.raises(ValueError) as info:
        average_prediction(result, unseen)
    assert str(info.value).startswith("cannot build the model design for the supplied data: ")
    assert "zz" in str(info.value)
    infinite = data_2.copy()
    infinite.loc[infinite.index[3], "x"] = np.inf
    with pytest.raises(ValueError) as info:
        average_prediction(result, infinite)
    assert str(info.value) == "design contains non-finite values for the supplied data"
    missing = data_2.copy()
    missing.loc[missing.index[3], "x"] = np.nan
    with pytest.raises(ValueError) as info:
        average_prediction(result, missing)
    assert str(info.value).startswith("cannot build the model design for the supplied data: ")


def test_numeric_ame_of_a_constant_column_is_the_analytic_derivative(data_2):
    result = smf.logit("y ~ x + z", data_2).fit(disp=0)
    beta = result.params
    for value, n in ((0.3, 50), (-2.0, 1), (0.0, 5)):
        frame = data_2.iloc[:n].assign(x=value)
        ame = average_marginal_effects(result, frame, variables={"x": "numeric"}).iloc[0]
        p = result.predict(frame).to_numpy()
        assert ame["ame"] == pytest.approx(float(np.mean(p * (1 - p))) * beta["x"], rel=1e-6)
        plan = margins._plan_numeric(frame, "x", 1e-4)
        # sd 0 (or one row): the step is eps × max(1, mean |x|), two-sided, not clipped
        np.testing.assert_allclose(plan["step"], 2e-4 * max(1.0, abs(value)), rtol=1e-12)


def test_numeric_step_is_eps_times_the_sample_sd_and_clipped_at_the_extremes():
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    sd = float(np.std(frame["x"], ddof=1))
    plan = margins._plan_numeric(frame, "x", 0.01)
    h = 0.01 * sd
    np.testing.assert_allclose(plan["step"], [h, 2 * h, 2 * h, h], rtol=1e-12)
    np.testing.assert_allclose(plan["frames"][0]["x"], [h, 1 + h, 2 + h, 3.0], rtol=1e-12)
    np.testing.assert_allclose(plan["frames"][1]["x"], [0.0, 1 - h, 2 - h, 3 - h], rtol=1e-12)
    assert (plan["kind"], plan["name"]) == ("numeric", "x")
    # a range narrower than two steps is not clipped
    wide = margins._plan_numeric(frame, "x", 2.0)
    np.testing.assert_allclose(wide["step"], 4.0 * sd, rtol=1e-12)


def test_levels_and_constant_columns():
    cat = pd.Series(pd.Categorical(["b", "a", "b"], categories=["c", "b", "a"]), name="g", index=[5, 6, 7])
    assert margins._levels(cat) == ["b", "a"]  # categories order, only the present ones
    assert margins._levels(pd.Series([3, 1, np.nan, 2])) == [1.0, 2.0, 3.0]
    assert margins._levels(pd.Series(["b", 1, "a"], dtype=object)) == [1, "a", "b"]  # mixed: sorted as text
    const = margins._constant_column(cat, "a")
    assert isinstance(const.dtype, pd.CategoricalDtype) and list(const.dtype.categories) == ["c", "b", "a"]
    assert const.tolist() == ["a", "a", "a"] and const.index.tolist() == [5, 6, 7] and const.name == "g"
    ints = pd.Series([1, 2, 3], name="k", index=[2, 4, 6])
    out = margins._constant_column(ints, 7)
    assert out.dtype == np.int64 and out.tolist() == [7, 7, 7] and out.index.tolist() == [2, 4, 6]
    assert out.name == "k"
    fallback = margins._constant_column(ints, "x")  # cannot be an integer: kept as given
    assert fallback.tolist() == ["x", "x", "x"] and fallback.index.tolist() == [2, 4, 6] and fallback.name == "k"


def test_categorical_ame_with_categorical_dtype_and_integer_levels(data_2):
    frame = data_2.assign(g=pd.Categorical(data_2["g"], categories=["c", "a", "b"]),
                        k=np.where(data_2["x"] > 0.5, 10, np.where(data_2["x"] > -0.5, 2, 1)))
    result = smf.logit("y ~ z + g + C(k)", frame).fit(disp=0)
    ame = average_marginal_effects(result, frame)
    table = ame.set_index(["term", "contrast"])
    assert list(table.index) == [("z", "dY/dX"), ("g", "a - c"), ("g", "b - c"), ("k", "2 - 1"), ("k", "10 - 1")]
    for level in ("a", "b"):
        expected = (result.predict(frame.assign(g=pd.Categorical([level] * len(frame), categories=["c", "a", "b"])))
                    .mean() - result.predict(frame.assign(g=pd.Categorical(["c"] * len(frame),
                                                                            categories=["c", "a", "b"]))).mean())
        assert table.loc[("g", f"{level} - c"), "ame"] == pytest.approx(expected, rel=1e-10)
    for level in (2, 10):
        expected = result.predict(frame.assign(k=level)).mean() - result.predict(frame.assign(k=1)).mean()
        assert table.loc[("k", f"{level} - 1"), "ame"] == pytest.approx(expected, rel=1e-10)
    assert ame["term"].dtype == "str" and ame["contrast"].dtype == "str"
    kinds = model_variables(result, frame)
    assert kinds.to_dict("list") == {"variable": ["z", "g", "k"], "kind": ["numeric", "categorical", "categorical"]}
    assert kinds["variable"].dtype == "str" and kinds["kind"].dtype == "str"
    ref = average_marginal_effects(result, frame, reference={"k": 10}).set_index(["term", "contrast"])
    assert ref.loc[("k", "1 - 10"), "ame"] == pytest.approx(-table.loc[("k", "10 - 1"), "ame"], rel=1e-10)


def test_stacked_designs_in_small_batches_give_the_same_effects(data_2, monkeypatch):
    result = smf.logit("y ~ x + z + C(g)", data_2).fit(disp=0)
    whole = average_marginal_effects(result, data_2)
    for limit in (len(data_2), 2 * len(data_2), 3 * len(data_2) + 1):
        monkeypatch.setattr(margins, "_MAX_STACKED_ROWS", limit)
        pd.testing.assert_frame_equal(average_marginal_effects(result, data_2), whole, rtol=1e-12)
    # and the effects are right: central differences through statsmodels' predict, discrete changes by hand
    h = 1e-4 * float(np.std(data_2["x"], ddof=1))
    up, down = data_2.assign(x=data_2["x"] + h), data_2.assign(x=data_2["x"] - h)
    hi, lo = np.minimum(up["x"], data_2["x"].max()), np.maximum(down["x"], data_2["x"].min())
    fd = np.mean((result.predict(data_2.assign(x=hi)) - result.predict(data_2.assign(x=lo))) / (hi - lo))
    assert whole.set_index("term").loc["x", "ame"] == pytest.approx(fd, rel=1e-9)
    change = result.predict(data_2.assign(g="c")).mean() - result.predict(data_2.assign(g="a")).mean()
    assert whole.set_index("contrast").loc["c - a", "ame"] == pytest.approx(change, rel=1e-10)


def test_kinds_follow_the_given_data_and_the_two_value_rule(data_2):
    result = smf.logit("y ~ x + z", data_2).fit(disp=0)
    assert model_variables(result)["kind"].tolist() == ["numeric", "numeric"]  # the training frame
    two = data_2.iloc[:2]
    assert model_variables(result, two)["kind"].tolist() == ["categorical", "categorical"]
    i = np.arange(len(data_2))
    three = data_2.assign(x=i % 3, z=np.where(i % 3 == 0, 1.0, np.where(i % 3 == 1, 0.0, np.nan)))
    # three distinct values: numeric; two values and missing ones: still a 0/1-style variable
    assert model_variables(result, three)["kind"].tolist() == ["numeric", "categorical"]


def test_defaults_use_the_training_frame_and_normalised_weights(data_2):
    result = smf.logit("y ~ x + z", data_2).fit(disp=0)
    pd.testing.assert_frame_equal(average_marginal_effects(result), average_marginal_effects(result, data_2))
    shifted = data_2.assign(x=data_2["x"] + 1)
    w = np.linspace(1.0, 3.0, len(data_2))
    cmp = compare_predictions(result, data_2, shifted, weights=w).iloc[0]
    p0, p1 = result.predict(data_2).to_numpy(), result.predict(shifted).to_numpy()
    assert cmp["estimate_baseline"] == pytest.approx(float(np.sum(w * p0) / np.sum(w)), rel=1e-12)
    assert cmp["difference"] == pytest.approx(float(np.sum(w * (p1 - p0)) / np.sum(w)), rel=1e-10)


def test_no_variables_give_an_empty_table_with_the_columns(data_2):
    result = smf.logit("y ~ x + z", data_2).fit(disp=0)
    empty = average_marginal_effects(result, data_2, variables={})
    assert empty.columns.tolist() == ["term", "contrast", "ame", "std_error", "statistic", "p_value", "conf_low",
                                      "conf_high"]
    assert len(empty) == 0


def test_numeric_step_at_its_boundaries():
    # sd from two values and from a range below 1 (sd 0.5): eps × sd, not the fallback
    two = margins._plan_numeric(pd.DataFrame({"x": [0.0, 1.0]}), "x", 1e-3)
    np.testing.assert_allclose(two["step"], 1e-3 * np.sqrt(0.5), rtol=1e-12)  # one-sided at both ends
    small = margins._plan_numeric(pd.DataFrame({"x": [0.0, 0.5, 1.0]}), "x", 1e-3)
    np.testing.assert_allclose(small["step"], [0.5e-3, 1e-3, 0.5e-3], rtol=1e-12)
    # x = 0, 2, 1 has sd exactly 1: with eps = 1 the range equals 2h and nothing is clipped ...
    exact = margins._plan_numeric(pd.DataFrame({"x": [0.0, 2.0, 1.0]}), "x", 1.0)
    np.testing.assert_array_equal(exact["step"], [2.0, 2.0, 2.0])
    # ... with eps = 0.8 the range 2 is above 2h = 1.6: clipped at the extremes
    clipped = margins._plan_numeric(pd.DataFrame({"x": [0.0, 2.0, 1.0]}), "x", 0.8)
    np.testing.assert_allclose(clipped["step"], [0.8, 0.8, 1.6], rtol=1e-12)
