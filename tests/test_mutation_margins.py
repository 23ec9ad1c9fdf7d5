"""stats.margins against independent computations (issue 10, item 6: the survivors of mutmut on stats/margins.py).

References: statsmodels' own ``get_margeff`` and ``predict``, central differences through ``result.predict``,
analytic ``p(1 − p)β`` derivatives, and exact error messages.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.formula import options

from stats import margins
from stats.margins import average_marginal_effects, average_prediction, compare_predictions, model_variables


def make_data(n=400, seed=3):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x": rng.normal(size=n), "z": rng.uniform(0, 3, n), "g": rng.choice(["a", "b", "c"], n)})
    eta = -0.2 + 0.8 * df["x"] - 0.5 * df["z"] + 0.7 * (df["g"] == "b")
    df["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    return df


@pytest.fixture(scope="module")
def data():
    return make_data()


def _margeff(result) -> pd.DataFrame:
    return result.get_margeff(at="overall").summary_frame()


def test_formulaic_model_margins_equal_statsmodels(data, monkeypatch):
    """A model fitted with statsmodels' formulaic engine (chosen globally, as statsmodels' own predict needs)."""
    monkeypatch.setattr(options, "formula_engine", "formulaic")
    result = smf.logit("y ~ x + z", data).fit(disp=0)
    assert not hasattr(margins.result_model_spec(result), "factor_infos")  # a formulaic ModelSpec, not patsy
    ame = average_marginal_effects(result, data).set_index("term")
    reference = _margeff(result)
    np.testing.assert_allclose(ame.loc[["x", "z"], "ame"], reference["dy/dx"], rtol=1e-6)
    np.testing.assert_allclose(ame.loc[["x", "z"], "std_error"], reference["Std. Err."], rtol=1e-4)
    pred = average_prediction(result, data).iloc[0]
    assert pred["estimate"] == pytest.approx(float(np.mean(result.predict(data))), rel=1e-12)
    # the formulaic branch of the variable finder: names of the right-hand side in formula order, each once
    assert margins._factor_variables(result, data.columns) == (["x", "z"], set())
    inter = smf.logit("y ~ x + z:x + C(g)", data).fit(disp=0)
    assert margins._factor_variables(inter, data.columns) == (["x", "z", "g"], set())
    assert model_variables(inter, data).to_dict("list") == {"variable": ["x", "z", "g"],
                                                            "kind": ["numeric", "numeric", "categorical"]}
    # rows with a missing value are dropped by formulaic: refused with the counts
    bad = data.copy()
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


# --- a non-formula Logit: variables are design columns -------------------------------------------------------

def test_non_formula_logit_margins_equal_statsmodels(data):
    design = sm.add_constant(data[["x", "z"]])
    result = sm.Logit(data["y"], design).fit(disp=0)
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
        margins.result_design(result, data[["x"]])
    assert str(info.value) == "data lacks design columns ['const', 'z'] of a non-formula model"
    # without a constant no column is dropped
    plain = sm.Logit(data["y"], data[["x", "z"]]).fit(disp=0)
    assert margins._factor_variables(plain, data.columns) == (["x", "z"], set())
    # a design column that is constant only in this data is still a variable (k_constant is about the fit)
    assert margins._factor_variables(result, design.columns) == (["x", "z"], set())


def test_model_without_training_frame_needs_data(data):
    result = sm.Logit(data["y"].to_numpy(), sm.add_constant(data[["x", "z"]].to_numpy())).fit(disp=0)
    with pytest.raises(ValueError) as info:
        model_variables(result)
    assert str(info.value) == "data must be supplied: the model keeps no training frame"


# --- errors name the bad value --------------------------------------------------------------------------------

def test_average_marginal_effects_errors_exactly(data):
    result = smf.logit("y ~ x + C(g)", data).fit(disp=0)
    cases = [
        (dict(eps=0.0), "eps must be a positive number, got 0.0"),
        (dict(eps=-1e-4), "eps must be a positive number, got -0.0001"),
        (dict(eps=np.inf), "eps must be a positive number, got inf"),
        (dict(eps=np.nan), "eps must be a positive number, got nan"),
        (dict(data=data.to_numpy()), "data must be a pandas DataFrame, got ndarray"),
        (dict(data=data.iloc[:0]), "data has no rows"),
        (dict(variables={"x": "continuous"}),
         "kind of variable 'x' must be one of ('numeric', 'categorical'), got 'continuous'"),
        (dict(variables={"nope": "numeric"}), "variable 'nope' is not a column of data"),
        (dict(variables={"x": "numeric"}, reference={"x": 0}),
         "reference given for 'x', which is not a categorical variable"),
        (dict(reference={"w": 0}), "reference given for 'w', which is not a categorical variable"),
        (dict(variables={"g": "numeric"}), "variable 'g' is declared numeric but has dtype str"),
        (dict(variables={"g": "categorical"}, reference={"g": "zz"}),
         "reference level 'zz' of 'g' is not present in data"),
        (dict(data=data[data["g"] == "a"], variables={"g": "categorical"}),
         "categorical variable 'g' has fewer than two levels in data"),
        (dict(conf_level=1.0), "conf_level must be in (0, 1), got 1.0"),
    ]
    for kwargs, message in cases:
        kwargs = dict(kwargs)
        frame = kwargs.pop("data", data)
        with pytest.raises(ValueError) as info:
            average_marginal_effects(result, frame, **kwargs)
        assert str(info.value) == message, kwargs
    flags = data.assign(b=data["x"] > 0)
    with_flag = smf.logit("y ~ x + b", flags).fit(disp=0)
    with pytest.raises(ValueError) as info:
        average_marginal_effects(with_flag, flags, variables={"b": "numeric"})
    assert str(info.value) == "variable 'b' is declared numeric but has dtype bool"
    probit = smf.probit("y ~ x", data).fit(disp=0)
    for call in (lambda: average_marginal_effects(probit, data), lambda: average_prediction(probit, data),
                 lambda: compare_predictions(probit, data, data)):
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == "result must be a fitted statsmodels Logit, got Probit"


def test_design_errors_exactly(data):
    result = smf.logit("y ~ x + C(g)", data).fit(disp=0)
    unseen = data.assign(g="zz")
    with pytest.raises(ValueError) as info:
        average_prediction(result, unseen)
    assert str(info.value).startswith("cannot build the model design for the supplied data: ")
    assert "zz" in str(info.value)
    infinite = data.copy()
    infinite.loc[infinite.index[3], "x"] = np.inf
    with pytest.raises(ValueError) as info:
        average_prediction(result, infinite)
    assert str(info.value) == "design contains non-finite values for the supplied data"
    missing = data.copy()
    missing.loc[missing.index[3], "x"] = np.nan
    with pytest.raises(ValueError) as info:
        average_prediction(result, missing)
    assert str(info.value).startswith("cannot build the model design for the supplied data: ")


# --- numeric steps, levels and constant columns ---------------------------------------------------------------

def test_numeric_ame_of_a_constant_column_is_the_analytic_derivative(data):
    result = smf.logit("y ~ x + z", data).fit(disp=0)
    beta = result.params
    for value, n in ((0.3, 50), (-2.0, 1), (0.0, 5)):
        frame = data.iloc[:n].assign(x=value)
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


def test_categorical_ame_with_categorical_dtype_and_integer_levels(data):
    frame = data.assign(g=pd.Categorical(data["g"], categories=["c", "a", "b"]),
                        k=np.where(data["x"] > 0.5, 10, np.where(data["x"] > -0.5, 2, 1)))
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


def test_stacked_designs_in_small_batches_give_the_same_effects(data, monkeypatch):
    result = smf.logit("y ~ x + z + C(g)", data).fit(disp=0)
    whole = average_marginal_effects(result, data)
    for limit in (len(data), 2 * len(data), 3 * len(data) + 1):
        monkeypatch.setattr(margins, "_MAX_STACKED_ROWS", limit)
        pd.testing.assert_frame_equal(average_marginal_effects(result, data), whole, rtol=1e-12)
    # and the effects are right: central differences through statsmodels' predict, discrete changes by hand
    h = 1e-4 * float(np.std(data["x"], ddof=1))
    up, down = data.assign(x=data["x"] + h), data.assign(x=data["x"] - h)
    hi, lo = np.minimum(up["x"], data["x"].max()), np.maximum(down["x"], data["x"].min())
    fd = np.mean((result.predict(data.assign(x=hi)) - result.predict(data.assign(x=lo))) / (hi - lo))
    assert whole.set_index("term").loc["x", "ame"] == pytest.approx(fd, rel=1e-9)
    change = result.predict(data.assign(g="c")).mean() - result.predict(data.assign(g="a")).mean()
    assert whole.set_index("contrast").loc["c - a", "ame"] == pytest.approx(change, rel=1e-10)


# --- second round: the survivors of the first mutmut run ------------------------------------------------------

def test_kinds_follow_the_given_data_and_the_two_value_rule(data):
    result = smf.logit("y ~ x + z", data).fit(disp=0)
    assert model_variables(result)["kind"].tolist() == ["numeric", "numeric"]  # the training frame
    two = data.iloc[:2]
    assert model_variables(result, two)["kind"].tolist() == ["categorical", "categorical"]
    i = np.arange(len(data))
    three = data.assign(x=i % 3, z=np.where(i % 3 == 0, 1.0, np.where(i % 3 == 1, 0.0, np.nan)))
    # three distinct values: numeric; two values and missing ones: still a 0/1-style variable
    assert model_variables(result, three)["kind"].tolist() == ["numeric", "categorical"]


def test_defaults_use_the_training_frame_and_normalised_weights(data):
    result = smf.logit("y ~ x + z", data).fit(disp=0)
    pd.testing.assert_frame_equal(average_marginal_effects(result), average_marginal_effects(result, data))
    shifted = data.assign(x=data["x"] + 1)
    w = np.linspace(1.0, 3.0, len(data))
    cmp = compare_predictions(result, data, shifted, weights=w).iloc[0]
    p0, p1 = result.predict(data).to_numpy(), result.predict(shifted).to_numpy()
    assert cmp["estimate_baseline"] == pytest.approx(float(np.sum(w * p0) / np.sum(w)), rel=1e-12)
    assert cmp["difference"] == pytest.approx(float(np.sum(w * (p1 - p0)) / np.sum(w)), rel=1e-10)


def test_no_variables_give_an_empty_table_with_the_columns(data):
    result = smf.logit("y ~ x + z", data).fit(disp=0)
    empty = average_marginal_effects(result, data, variables={})
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
