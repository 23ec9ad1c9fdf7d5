"""analysis.modeling.effects on small simulated customer frames, against independent computations.

Pins: the typical customer (medians and reference levels, in the frame's dtypes); the product pairs read from a
formula; the conditional effects (the log-odds slope and its standard error by the analytic derivative of the
design, the AME and its delta-method standard error by hand for a logit and for a floor-and-ceiling recalibrated
logit, at the stated partner quantiles and confidence level); the GAM's smooth table (knots from patsy's own spline
state, the classifier's penalty scales and degrees of freedom); the recalibration table; the per-customer standard
error of a change (finite-difference Jacobian, ``sqrt(J V J')``); every table of :func:`effect_tables` for three
model pairs (statsmodels fits, the HC3 sandwich by hand, the floor logit's LR test by hand, AMEs by model and role,
VIF and GVIF by hand); and the scoring specification of each kind of business model.

``pair._FITS`` is emptied before every test (the shared ``empty_fit_cache`` fixture): a cache filled before mutmut's fork would hide a
mutant.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.formula.api as smf
from scipy import stats as sps
from scipy.special import expit

from analysis.data.synthetic import customer_table
from analysis.modeling import effects, pair
from analysis.modeling.features import model_frame
from stats.calibration import AsymptoteCalibrator
from stats.floor_logit import FloorLogitClassifier
from stats.gam import PenalizedSplineLogitClassifier
from stats.link_margins import LinkModel, average_marginal_effects
from tests.oracles import central_jacobian

LINEAR = ("marketing_6m + marketing_current + tenure_100d + promo_share_10pp + categories_per_visit + unpaid_items"
          " + service_errors + pages_per_visit + revenue_prev2_k + revenue_prev_k + revenue_current_k + minutes_prev"
          " + minutes_current + C(service_type, Treatment('standard')) + C(contact_allowed, Treatment(0))"
          " + C(popular_category, Treatment('kids_goods'))")
NUMERIC = ["marketing_6m", "marketing_current", "tenure_100d", "promo_share_10pp", "categories_per_visit",
           "unpaid_items", "service_errors", "pages_per_visit", "revenue_prev2_k", "revenue_prev_k",
           "revenue_current_k", "minutes_prev", "minutes_current"]
CATEGORICAL = {"service_type": "standard", "contact_allowed": 0, "popular_category": "kids_goods"}
PREDICTORS = NUMERIC + list(CATEGORICAL)
SMOOTH = ("pages_per_visit", "categories_per_visit", "minutes_prev", "minutes_current")
SELECTED = ("marketing_6m + pages_per_visit + I(marketing_6m - 4):I(pages_per_visit - 8)"
            " + I((marketing_6m - 4) ** 3) + C(service_type, Treatment('standard'))")
PRODUCT = "I(marketing_6m - 4):I(pages_per_visit - 8)"
CUBE = "I((marketing_6m - 4) ** 3)"
MAP = {"floor": 0.04, "ceiling": 0.93, "slope": 0.8, "shift": 0.15}


pytestmark = pytest.mark.usefixtures("empty_fit_cache")


def _frame(n=300, seed=5):
    return model_frame(customer_table(n, seed))


def _fit(rhs, frame, **kwargs):
    return smf.logit(f"activity_decline ~ {rhs}", frame).fit(disp=0, **kwargs)


def _design_of(result):
    info = result.model.data.model_spec

    def design(frame):
        return np.asarray(patsy.build_design_matrices([info], frame)[0], dtype=float)

    return design


def _logit_link(result):
    """A plain logit LinkModel of a statsmodels fit, built here (not by analysis.modeling.pair)."""
    def prob(b, X):
        return expit(X @ b)

    def jac(b, X):
        p = expit(X @ b)
        return (p * (1 - p))[:, None] * X

    return LinkModel(design=_design_of(result), params=result.params.to_numpy(), cov=result.cov_params().to_numpy(),
                     prob=prob, jacobian=jac)


def _G(s, d=0):
    """The floor-and-ceiling map of MAP and its first two derivatives."""
    e = expit(MAP["slope"] * s + MAP["shift"])
    span = MAP["ceiling"] - MAP["floor"]
    if d == 0:
        return MAP["floor"] + span * e
    if d == 1:
        return span * MAP["slope"] * e * (1 - e)
    return span * MAP["slope"] ** 2 * e * (1 - e) * (1 - 2 * e)


def _calibrator():
    c = AsymptoteCalibrator()
    c.floor_, c.ceiling_, c.slope_, c.shift_ = MAP["floor"], MAP["ceiling"], MAP["slope"], MAP["shift"]
    return c


def _recalibrated_link(result):
    def prob(b, X):
        return _G(X @ b)

    def jac(b, X):
        return _G(X @ b, 1)[:, None] * X

    return LinkModel(design=_design_of(result), params=result.params.to_numpy(), cov=result.cov_params().to_numpy(),
                     prob=prob, jacobian=jac)


# ---------------------------------------------------------------------------------------------------------------
# typical_customer, product_pairs
# ---------------------------------------------------------------------------------------------------------------
def test_typical_customer_medians_and_references():
    frame = _frame(101)
    frame["contact_allowed"] = frame["contact_allowed"].astype(float)
    frame["popular_category"] = frame["popular_category"].astype("category")
    out = effects.typical_customer(frame)
    expected = pd.DataFrame([{**{c: float(sorted(frame[c])[50]) for c in NUMERIC}, "service_type": "standard",
                              "contact_allowed": 0.0, "popular_category": "kids_goods"}])
    expected["service_type"] = expected["service_type"].astype(frame["service_type"].dtype)
    expected["popular_category"] = pd.Categorical(["kids_goods"], categories=frame["popular_category"].cat.categories)
    pd.testing.assert_frame_equal(out, expected)
    even = _frame(100)
    out_even = effects.typical_customer(even)
    for c in NUMERIC:
        values = sorted(even[c])
        assert out_even[c].iloc[0] == pytest.approx((values[49] + values[50]) / 2, abs=1e-12)
    assert out_even["contact_allowed"].dtype == even["contact_allowed"].dtype


def test_product_pairs():
    formula = ("a + I(x - 1):I(z - 2) + I(u - 0.5) + C(g):z + I(p - 1):I(q - 2):I(r - 3) + I(b - -1.5):I(c - 0)"
               " + x:z")
    assert effects.product_pairs(formula) == [("x", "z"), ("b", "c")]
    assert effects.product_pairs("x") == []


# ---------------------------------------------------------------------------------------------------------------
# conditional effects
# ---------------------------------------------------------------------------------------------------------------
def _derivative(columns, variable, m, p):
    """∂(design row)/∂variable of SELECTED at marketing_6m = m, pages_per_visit = p (arrays)."""
    m, p = np.broadcast_arrays(np.asarray(m, float), np.asarray(p, float))
    out = np.zeros(m.shape + (len(columns),))
    for j, c in enumerate(columns):
        if c == variable:
            out[..., j] = 1.0
        elif c == PRODUCT:
            out[..., j] = (p - 8) if variable == "marketing_6m" else (m - 4)
        elif c == CUBE and variable == "marketing_6m":
            out[..., j] = 3 * (m - 4) ** 2
    return out


def _expected_conditional(result, frame, recalibrated=False, conf_level=0.95, quantiles=(0.25, 0.5, 0.75)):
    z = sps.norm.ppf(0.5 + conf_level / 2)
    b, V = result.params.to_numpy(), result.cov_params().to_numpy()
    columns = list(result.params.index)
    design = _design_of(result)
    rows = []
    for variable, partner in (("marketing_6m", "pages_per_visit"), ("pages_per_visit", "marketing_6m")):
        for q in quantiles:
            value = float(np.quantile(frame[partner], q))
            typical = {"marketing_6m": np.median(frame["marketing_6m"]),
                       "pages_per_visit": np.median(frame["pages_per_visit"]), partner: value}
            g = _derivative(columns, variable, typical["marketing_6m"], typical["pages_per_visit"])
            slope, se = float(g @ b), float(np.sqrt(g @ V @ g))
            fixed = frame.copy()
            fixed[partner] = value
            X = design(fixed)
            G = _derivative(columns, variable, fixed["marketing_6m"], fixed["pages_per_visit"])
            eta, dslope = X @ b, G @ b
            if recalibrated:
                d1, d2 = _G(eta, 1), _G(eta, 2)
            else:
                pr = expit(eta)
                d1, d2 = pr * (1 - pr), pr * (1 - pr) * (1 - 2 * pr)
            ame = float(np.mean(d1 * dslope))
            J = np.mean((d2 * dslope)[:, None] * X + d1[:, None] * G, axis=0)
            ame_se = float(np.sqrt(J @ V @ J))
            rows.append({"variable": variable, "partner": partner, "partner_quantile": q, "partner_value": value,
                         "log_odds_slope": slope, "std_error": se, "odds_ratio": np.exp(slope),
                         "or_conf_low": np.exp(slope - z * se), "or_conf_high": np.exp(slope + z * se),
                         "ame": ame, "ame_std_error": ame_se, "ame_conf_low": ame - z * ame_se,
                         "ame_conf_high": ame + z * ame_se})
    return pd.DataFrame(rows)


def _assert_conditional(out, expected):
    assert list(out.columns) == effects.CONDITIONAL_COLUMNS == list(expected.columns)
    assert out["variable"].tolist() == expected["variable"].tolist()
    assert out["partner"].tolist() == expected["partner"].tolist()
    numbers = [c for c in expected.columns if c not in ("variable", "partner")]
    np.testing.assert_allclose(out[numbers].to_numpy(dtype=float), expected[numbers].to_numpy(dtype=float),
                               rtol=2e-6, atol=1e-9)


def test_conditional_effects_of_a_logit():
    frame = _frame()
    result = _fit(SELECTED, frame)
    out = effects.conditional_effects(result, frame, _logit_link(result))
    _assert_conditional(out, _expected_conditional(result, frame))


def test_conditional_effects_of_a_recalibrated_logit_at_other_levels():
    frame = _frame()
    result = _fit(SELECTED, frame)
    out = effects.conditional_effects(result, frame, _recalibrated_link(result), conf_level=0.8,
                                      quantiles=(0.1, 0.9))
    _assert_conditional(out, _expected_conditional(result, frame, recalibrated=True, conf_level=0.8,
                                                   quantiles=(0.1, 0.9)))


def test_conditional_effects_without_products_is_an_empty_table():
    frame = _frame()
    result = _fit("marketing_6m + pages_per_visit", frame)
    out = effects.conditional_effects(result, frame, _logit_link(result))
    assert list(out.columns) == effects.CONDITIONAL_COLUMNS and len(out) == 0


def test_conditional_effects_step_is_relative_to_the_spread():
    # a variable with a tiny spread and a cubic term: a step that is not 1e-4 × sd(x) shows in the slope
    frame = _frame()
    frame["marketing_6m"] = frame["marketing_6m"] / 1000
    rhs = ("marketing_6m + pages_per_visit + I(marketing_6m - 0.004):I(pages_per_visit - 8)"
           " + I((1000 * marketing_6m - 4) ** 3)")
    result = _fit(rhs, frame)
    b, V = result.params.to_numpy(), result.cov_params().to_numpy()
    out = effects.conditional_effects(result, frame, _logit_link(result), quantiles=(0.5,))
    m = np.median(frame["marketing_6m"])
    p = np.median(frame["pages_per_visit"])
    g = np.array([0.0, 1.0, 0.0, p - 8, 3000 * (1000 * m - 4) ** 2])
    row = out.iloc[0]
    assert (row["variable"], row["partner"]) == ("marketing_6m", "pages_per_visit")
    assert row["log_odds_slope"] == pytest.approx(g @ b, rel=1e-6)
    assert row["std_error"] == pytest.approx(np.sqrt(g @ V @ g), rel=1e-6)


def test_conditional_effects_read_every_product_of_the_formula_as_written():
    # no space around the response's "~", and a "~" (bitwise not) inside the right-hand side
    frame = _frame()
    rhs = ("I(marketing_6m - 4):I(pages_per_visit - 8) + I(~contact_allowed) + I(minutes_prev - 13):I(tenure_100d - 5)"
           " + marketing_6m + pages_per_visit + minutes_prev + tenure_100d")
    result = smf.logit(f"activity_decline~{rhs}", frame).fit(disp=0)
    b = result.params
    out = effects.conditional_effects(result, frame, _logit_link(result), quantiles=(0.5,))
    assert list(zip(out["variable"], out["partner"])) == [
        ("marketing_6m", "pages_per_visit"), ("pages_per_visit", "marketing_6m"),
        ("minutes_prev", "tenure_100d"), ("tenure_100d", "minutes_prev")]
    median = {c: float(np.median(frame[c])) for c in ("marketing_6m", "pages_per_visit", "minutes_prev",
                                                       "tenure_100d")}
    mp, mt = "I(marketing_6m - 4):I(pages_per_visit - 8)", "I(minutes_prev - 13):I(tenure_100d - 5)"
    expected = [b["marketing_6m"] + b[mp] * (median["pages_per_visit"] - 8),
                b["pages_per_visit"] + b[mp] * (median["marketing_6m"] - 4),
                b["minutes_prev"] + b[mt] * (median["tenure_100d"] - 5),
                b["tenure_100d"] + b[mt] * (median["minutes_prev"] - 13)]
    np.testing.assert_allclose(out["log_odds_slope"], expected, rtol=1e-6)
    np.testing.assert_allclose(out["partner_value"], [median["pages_per_visit"], median["marketing_6m"],
                                                      median["tenure_100d"], median["minutes_prev"]])


# ---------------------------------------------------------------------------------------------------------------
# GAM smooths, recalibration map, knots
# ---------------------------------------------------------------------------------------------------------------
def _gam_linear():
    return " + ".join(t for t in LINEAR.split(" + ") if t not in SMOOTH)


def _knots(gam, column):
    for factor, info in gam.design_info_.factor_infos.items():
        if f"cr({column}," in factor.name():
            (obj,) = info.state["transforms"].values()
            return obj._all_knots
    raise AssertionError(column)


def _expected_smooths(gam):
    rows = []
    for column in SMOOTH:
        rows.append({"smooth": column, "basis": "cr(df=6, constraints='center')",
                     "n_basis": int(gam.smooth_slices_[column].stop - gam.smooth_slices_[column].start),
                     "knots": " ".join(f"{k:.6g}" for k in _knots(gam, column)),
                     "penalty_scale": gam.penalty_scale_[column], "alpha": gam.alpha_,
                     "edf": gam.edf_smooth_[column], "edf_total": gam.edf_, "n_coefficients": 41})
    return pd.DataFrame(rows)


def test_gam_smooth_table():
    frame = _frame()
    gam = PenalizedSplineLogitClassifier(linear_formula=_gam_linear(), smooth=SMOOTH).fit(
        frame[PREDICTORS], frame["activity_decline"])
    out = effects.gam_smooth_table(gam)
    expected = _expected_smooths(gam)
    assert list(out.columns) == effects.GAM_SMOOTH_COLUMNS == list(expected.columns)
    pd.testing.assert_frame_equal(out, expected, check_dtype=False)
    assert out["knots"].iloc[1] == "1 1.83333 2.66667 3.5 4.33333 5.16667 6"
    assert effects._knots_text(gam, "marketing_6m") == ""


def test_gam_smooth_table_of_a_gam_without_smooths():
    frame = _frame()
    gam = PenalizedSplineLogitClassifier(linear_formula="marketing_6m", smooth=()).fit(frame, frame["activity_decline"])
    out = effects.gam_smooth_table(gam)
    assert list(out.columns) == effects.GAM_SMOOTH_COLUMNS and len(out) == 0


def test_recalibration_table():
    with_map = pair.ModelPair("logit_linear", "logit_linear_recalibrated", None, None, _calibrator(), None)
    out = effects.recalibration_table(with_map)
    expected = pd.DataFrame({
        "parameter": ["floor", "ceiling", "slope", "shift"],
        "value": [0.04, 0.93, 0.8, 0.15],
        "meaning": ["lowest probability the map gives (c0)", "highest probability (c1)",
                    "a: stretch of the inference model's logit", "b: shift of the logit"]})
    pd.testing.assert_frame_equal(out, expected, check_dtype=False)
    empty = effects.recalibration_table(pair.ModelPair("logit_linear", "logit_linear", None, None, None, None))
    assert list(empty.columns) == ["parameter", "value", "meaning"] and len(empty) == 0
    # a map without parameters (e.g. the identity) still gives the table's columns
    identity = SimpleNamespace(params=lambda: {})
    none = effects.recalibration_table(pair.ModelPair("logit_linear", "x", None, None, identity, None))
    assert list(none.columns) == ["parameter", "value", "meaning"] and len(none) == 0


# ---------------------------------------------------------------------------------------------------------------
# change_std_error
# ---------------------------------------------------------------------------------------------------------------
def test_change_std_error_against_finite_differences():
    frame = _frame()
    result = _fit(SELECTED, frame)
    link = _recalibrated_link(result)
    se = effects.change_std_error(link)
    f = frame.head(40)
    cf = f.assign(marketing_6m=f["marketing_6m"] + 1.0, pages_per_visit=f["pages_per_visit"] - 2)
    X0, X1 = link.design(f), link.design(cf)
    b, V = link.params, link.cov

    def change(theta):
        return _G(X0 @ theta) - _G(X1 @ theta)

    J = central_jacobian(change, b)
    expected = np.sqrt(np.einsum("ij,jk,ik->i", J, V, J))
    np.testing.assert_allclose(se(f, cf), expected, rtol=1e-5)
    np.testing.assert_allclose(se(cf, f), expected, rtol=1e-5)
    assert np.all(expected > 0)
    np.testing.assert_allclose(se(f, f), np.zeros(40), atol=0)


def test_change_std_error_is_zero_for_a_negative_quadratic_form():
    frame = _frame()
    result = _fit("marketing_6m", frame)
    base = _logit_link(result)
    link = LinkModel(design=base.design, params=base.params, cov=-np.eye(2), prob=base.prob, jacobian=base.jacobian)
    f = frame.head(10)
    out = effects.change_std_error(link)(f, f.assign(marketing_6m=f["marketing_6m"] + 1))
    np.testing.assert_array_equal(out, np.zeros(10))
    positive = LinkModel(design=base.design, params=base.params, cov=0.25 * np.eye(2), prob=base.prob,
                         jacobian=base.jacobian)
    out = effects.change_std_error(positive)(f, f.assign(marketing_6m=f["marketing_6m"] + 1))
    J = base.jacobian(base.params, base.design(f)) - base.jacobian(
        base.params, base.design(f.assign(marketing_6m=f["marketing_6m"] + 1)))
    np.testing.assert_allclose(out, 0.5 * np.sqrt((J ** 2).sum(axis=1)), rtol=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# effect_tables
# ---------------------------------------------------------------------------------------------------------------
def _hc3(result):
    X, y = result.model.exog, result.model.endog
    p = expit(X @ result.params.to_numpy())
    w = p * (1 - p)
    B = np.linalg.inv(X.T @ (w[:, None] * X))
    h = w * np.einsum("ij,jk,ik->i", X, B, X)
    meat = (X * ((y - p) / (1 - h))[:, None]).T @ (X * ((y - p) / (1 - h))[:, None])
    return B @ meat @ B


def _coefficients(names, estimate, se):
    z = sps.norm.ppf(0.975)
    est, se = np.asarray(estimate, float), np.asarray(se, float)
    return pd.DataFrame({"term": list(names), "estimate": est, "std_error": se, "z": est / se,
                         "p_value": 2 * sps.norm.sf(np.abs(est / se)), "conf_low": est - z * se,
                         "conf_high": est + z * se, "odds_ratio": np.exp(est), "odds_ratio_low": np.exp(est - z * se),
                         "odds_ratio_high": np.exp(est + z * se)})


def _assert_table(out, expected, rtol=1e-6, atol=1e-9):
    assert list(out.columns) == list(expected.columns)
    assert len(out) == len(expected)
    pd.testing.assert_index_equal(out.index, pd.RangeIndex(len(expected)), exact=False)
    for c in expected.columns:
        if pd.api.types.is_numeric_dtype(expected[c]) and not pd.api.types.is_bool_dtype(expected[c]):
            np.testing.assert_allclose(out[c].to_numpy(dtype=float), expected[c].to_numpy(dtype=float), rtol=rtol,
                                       atol=atol, err_msg=c)
        else:
            assert out[c].tolist() == expected[c].tolist(), c


def _fit_row(result, model):
    return {"model": model, "n": 300, "n_events": int(result.model.endog.sum()), "df_model": int(result.df_model),
            "log_likelihood": result.llf, "null_log_likelihood": result.llnull,
            "lr_chi2": 2 * (result.llf - result.llnull), "lr_df": int(result.df_model),
            "lr_p_value": sps.chi2.sf(2 * (result.llf - result.llnull), result.df_model),
            "pseudo_r2_mcfadden": 1 - result.llf / result.llnull, "aic": -2 * result.llf + 2 * len(result.params),
            "bic": -2 * result.llf + len(result.params) * np.log(300), "converged": True, "cov_type": "nonrobust"}


def _ames(model, frame, name, role):
    return average_marginal_effects(model, frame, NUMERIC, CATEGORICAL).assign(model=name, role=role)


def _check_common_tables(out, frame, threshold=5.0):
    selected, linear = _fit(SELECTED, frame), _fit(LINEAR, frame)
    # the four full-data fits are cached under the run's formula, for the decisions stage to reuse
    codes = {key[0] for key in pair._FITS}
    assert {"logit_selected", "logit_linear", "logit_floor"} <= codes
    assert {key[1] for key in pair._FITS} == {SELECTED}
    # coefficient tables: model-based and HC3 (sandwich by hand)
    _assert_table(out["logit_coefficients"], _coefficients(selected.params.index, selected.params, selected.bse))
    _assert_table(out["logit_coefficients_hc3"],
                  _coefficients(selected.params.index, selected.params, np.sqrt(np.diag(_hc3(selected)))), rtol=1e-5)
    assert out["_selected_result"].model.formula == f"activity_decline ~ {SELECTED}"
    np.testing.assert_allclose(out["_selected_result"].params, selected.params, rtol=1e-7)
    _assert_table(out["model_fit"], pd.DataFrame([_fit_row(selected, "logit_selected"),
                                                  _fit_row(linear, "logit_linear")]), rtol=1e-6)
    # the floor logit: its own table and the LR test of γ = 0 with the 50:50 mixture, by hand
    floor = FloorLogitClassifier(formula=LINEAR).fit(frame[PREDICTORS], frame["activity_decline"])
    _assert_table(out["floor_logit_coefficients"], floor.fit_.table(), rtol=1e-5, atol=1e-7)
    lr = max(2 * (floor.fit_.llf - linear.llf), 0.0)
    _assert_table(out["floor_lr_test"], pd.DataFrame([{
        "lr_chi2": lr, "df": 1, "p_value": 0.5 * sps.chi2.sf(lr, 1) if lr > 0 else 1.0,
        "null_distribution": "0.5*chi2(0) + 0.5*chi2(1)", "floor_gamma": floor.fit_.gamma}]), rtol=1e-4, atol=1e-7)
    # collinearity of the selected design
    X = pd.DataFrame(selected.model.exog, columns=selected.model.exog_names).drop(columns="Intercept")
    R = np.corrcoef(X.to_numpy(), rowvar=False)
    vif = np.diag(np.linalg.inv(R))
    _assert_table(out["vif_fitted"], pd.DataFrame({"term": list(X.columns), "vif": vif, "flagged": vif > threshold}))
    assert out["vif_fitted"]["flagged"].tolist() == list(vif > threshold)
    gvif = [np.linalg.det(np.delete(np.delete(R, j, 0), j, 1)) / np.linalg.det(R) for j in range(len(vif))]
    np.testing.assert_allclose(out["gvif_fitted"]["gvif"], gvif, rtol=1e-6)
    assert out["gvif_fitted"]["term"].tolist() == ["C(service_type, Treatment('standard'))", "marketing_6m",
                                                   "pages_per_visit", PRODUCT, CUBE]
    return selected, linear


def test_effect_tables_selected_recalibrated():
    frame = _frame()
    selected = _fit(SELECTED, frame)
    business = _recalibrated_link(selected)
    inference = _logit_link(selected)
    model_pair = pair.ModelPair("logit_selected", "logit_selected_recalibrated", inference, business, _calibrator(),
                                selected)
    out = effects.effect_tables(model_pair, frame, SELECTED, vif_threshold=2.0)
    assert list(out) == ["gam_smooths", "gam_coefficients", "recalibration_map", "logit_coefficients",
                         "logit_coefficients_hc3", "model_fit", "floor_logit_coefficients", "floor_lr_test",
                         "marginal_effects", "conditional_effects", "vif_fitted", "gvif_fitted", "_selected_result"]
    _, linear = _check_common_tables(out, frame, threshold=2.0)
    assert out["vif_fitted"]["flagged"].any() and not out["vif_fitted"]["flagged"].all()
    # the GAM: fitted on all customers here
    gam = PenalizedSplineLogitClassifier(linear_formula=_gam_linear(), smooth=SMOOTH).fit(
        frame[PREDICTORS], frame["activity_decline"])
    pd.testing.assert_frame_equal(out["gam_smooths"], _expected_smooths(gam), check_dtype=False, rtol=1e-6)
    _assert_table(out["gam_coefficients"], _coefficients(gam.column_names_, gam.params_, np.sqrt(np.diag(gam.cov_))),
                  rtol=1e-5, atol=1e-8)
    assert out["recalibration_map"]["value"].tolist() == [0.04, 0.93, 0.8, 0.15]
    # AMEs: the business model (lead), the inference model, the all-linear logit (sensitivity)
    expected = pd.concat([_ames(business, frame, "logit_selected_recalibrated", "lead"),
                          _ames(inference, frame, "logit_selected", "inference model"),
                          _ames(_logit_link(linear), frame, "logit_linear", "sensitivity")], ignore_index=True)
    expected = expected[["model", "role", "variable", "contrast", "estimate", "std_error", "statistic", "p_value",
                         "conf_low", "conf_high"]]
    assert len(expected) == 60
    _assert_table(out["marginal_effects"], expected, rtol=1e-5, atol=1e-9)
    # conditional effects through the business (recalibrated) model
    _assert_conditional(out["conditional_effects"], _expected_conditional(selected, frame, recalibrated=True))


def test_effect_tables_gam_pair():
    frame = _frame()
    # the pair's own GAM (fitted on fewer customers and a coarser grid): the tables must describe it
    gam = PenalizedSplineLogitClassifier(linear_formula=_gam_linear(), smooth=SMOOTH, alphas=(1.0, 10.0)).fit(
        frame[PREDICTORS].head(250), frame["activity_decline"].head(250))
    link = LinkModel(design=gam.design, params=gam.params_, cov=gam.cov_, prob=lambda b, X: expit(X @ b),
                     jacobian=lambda b, X: (expit(X @ b) * (1 - expit(X @ b)))[:, None] * X)
    model_pair = pair.ModelPair("gam_engagement", "gam_engagement", link, link, None, gam)
    out = effects.effect_tables(model_pair, frame, SELECTED)
    selected, linear = _check_common_tables(out, frame)
    pd.testing.assert_frame_equal(out["gam_smooths"], _expected_smooths(gam), check_dtype=False)
    _assert_table(out["gam_coefficients"], _coefficients(gam.column_names_, gam.params_, np.sqrt(np.diag(gam.cov_))),
                  rtol=1e-9)
    assert list(out["recalibration_map"].columns) == ["parameter", "value", "meaning"]
    assert len(out["recalibration_map"]) == 0
    expected = pd.concat([_ames(link, frame, "gam_engagement", "lead"),
                          _ames(_logit_link(linear), frame, "logit_linear", "sensitivity")], ignore_index=True)
    expected = expected[["model", "role"] + [c for c in expected.columns if c not in ("model", "role")]]
    _assert_table(out["marginal_effects"], expected, rtol=1e-5, atol=1e-9)
    # conditional effects through the plain selected logit
    _assert_conditional(out["conditional_effects"], _expected_conditional(selected, frame))


def test_effect_tables_linear_pair():
    frame = _frame()
    linear = _fit(LINEAR, frame)
    link = _logit_link(linear)
    model_pair = pair.ModelPair("logit_linear", "logit_linear", link, link, None, linear)
    out = effects.effect_tables(model_pair, frame, SELECTED)
    selected, _ = _check_common_tables(out, frame)
    expected = _ames(link, frame, "logit_linear", "lead")
    expected = expected[["model", "role"] + [c for c in expected.columns if c not in ("model", "role")]]
    _assert_table(out["marginal_effects"], expected, rtol=1e-5, atol=1e-9)
    _assert_conditional(out["conditional_effects"], _expected_conditional(selected, frame))


# ---------------------------------------------------------------------------------------------------------------
# linear_score_spec and scoring_spec
# ---------------------------------------------------------------------------------------------------------------
def test_scoring_spec_of_formula_logits():
    frame = _frame()
    selected = _fit(SELECTED, frame)
    model_pair = pair.ModelPair("logit_selected", "logit_selected", None, None, None, selected)
    formula, params = effects.linear_score_spec(model_pair, SELECTED)
    assert formula == SELECTED
    pd.testing.assert_series_equal(params, selected.params)
    result, probability = effects.scoring_spec(model_pair, SELECTED, frame)
    assert result is selected and probability == {"link": "logit"}
    linear = _fit(LINEAR, frame)
    recal = pair.ModelPair("logit_linear", "logit_linear_recalibrated", None, None, _calibrator(), linear)
    assert effects.linear_score_spec(recal, "ignored")[0] == LINEAR
    result, probability = effects.scoring_spec(recal, "ignored", frame)
    assert result is linear
    assert probability == {"link": "logit", "calibrator": {"kind": "asymptote", **MAP}}


def test_scoring_spec_of_the_gam():
    frame = _frame()
    gam = PenalizedSplineLogitClassifier(linear_formula=_gam_linear(), smooth=SMOOTH).fit(
        frame[PREDICTORS], frame["activity_decline"])
    model_pair = pair.ModelPair("gam_engagement", "gam_engagement_recalibrated", None, None, _calibrator(), gam)
    formula, params = effects.linear_score_spec(model_pair, "ignored")
    assert formula == _gam_linear() + " + " + " + ".join(f"cr({c}, df=6, constraints='center')" for c in SMOOTH)
    pd.testing.assert_series_equal(params, pd.Series(gam.params_, index=gam.column_names_))
    result, probability = effects.scoring_spec(model_pair, "ignored", frame)
    assert result.model.formula == f"activity_decline ~ {formula}"
    assert list(result.model.exog_names) == gam.column_names_
    np.testing.assert_array_equal(result.params.to_numpy(), gam.params_)
    assert list(result.params.index) == gam.column_names_
    pd.testing.assert_frame_equal(result.cov_params(), pd.DataFrame(gam.cov_, index=gam.column_names_,
                                                                    columns=gam.column_names_))
    assert probability == {"link": "logit", "calibrator": {"kind": "asymptote", **MAP}}
    # the model object scores like the GAM
    np.testing.assert_allclose(expit(result.model.exog @ result.params.to_numpy()),
                               gam.predict_proba(frame[PREDICTORS])[:, 1], rtol=1e-10)


def test_scoring_spec_of_the_floor_logit():
    frame = _frame()
    floor = FloorLogitClassifier(formula=LINEAR).fit(frame[PREDICTORS], frame["activity_decline"])
    model_pair = pair.ModelPair("logit_floor", "logit_floor", None, None, None, floor)
    formula, params = effects.linear_score_spec(model_pair, "ignored")
    assert formula == LINEAR
    names = list(patsy.dmatrix(LINEAR, frame, return_type="dataframe").columns)
    pd.testing.assert_series_equal(params, pd.Series(floor.fit_.params[:-1], index=names))
    result, probability = effects.scoring_spec(model_pair, "ignored", frame)
    assert list(result.model.exog_names) == names
    np.testing.assert_array_equal(result.params.to_numpy(), floor.fit_.params[:-1])
    pd.testing.assert_frame_equal(result.cov_params(), pd.DataFrame(floor.fit_.cov[:-1, :-1], index=names,
                                                                    columns=names))
    assert probability == {"link": "floor_logit", "floor": pytest.approx(expit(floor.fit_.params[-1]), rel=1e-12)}
    assert isinstance(probability["floor"], float)


def test_linear_score_spec_refuses_other_models():
    model_pair = pair.ModelPair("svc_rbf", "svc_rbf", None, None, None, SimpleNamespace())
    with pytest.raises(NotImplementedError, match=r"^the model file holds linear scores; svc_rbf is not one$"):
        effects.linear_score_spec(model_pair, "x")
