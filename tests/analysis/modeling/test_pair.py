"""analysis.modeling.pair on small simulated customer frames, against independent computations.

Pins: the right-hand side of each formula-logit candidate (:func:`formula_of`, strings written out by hand); the
cache of full-data fits (:func:`link_model`: same key, same object; a different code, formula, index or column
naming, a new fit; the cache is emptied once it holds more than 32 fits); each candidate's full-data fit
(:func:`fit_link_model`: estimates and covariance equal a direct ``statsmodels`` Logit on the patsy design, the
floor logit and the GAM equal their classifiers fitted directly, the design of new frames, the promotion cluster
recomputed from a counterfactual share, the refusal of missing values); the recalibrated link
(:func:`recalibrated`: its probability by the floor-and-ceiling formula written by hand, its Jacobian against the
finite-difference derivative of its probability, the clipping of extreme probabilities); and :func:`model_pair`
(the same link twice, or the map fitted on the out-of-fold probabilities).

``pair._FITS`` is emptied before every test (the shared ``empty_fit_cache`` fixture): a cache filled before mutmut's fork would hide a
mutant of the fit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.api as sm
from scipy.special import expit

from analysis.data.synthetic import customer_table
from analysis.modeling import pair
from analysis.modeling.features import model_frame
from stats.calibration import AsymptoteCalibrator
from stats.floor_logit import FloorLogitClassifier
from stats.gam import PenalizedSplineLogitClassifier
from stats.link_margins import LinkModel
from tests.oracles import central_jacobian

LINEAR = ("marketing_6m + marketing_current + tenure_100d + promo_share_10pp + categories_per_visit + unpaid_items"
          " + service_errors + pages_per_visit + revenue_prev2_k + revenue_prev_k + revenue_current_k + minutes_prev"
          " + minutes_current + C(service_type, Treatment('standard')) + C(contact_allowed, Treatment(0))"
          " + C(popular_category, Treatment('kids_goods'))")
FLEXIBLE = LINEAR + " + promo_upper + I(promo_upper * (promo_share_10pp - 9.0))"
SELECTED = "marketing_6m + pages_per_visit + I(marketing_6m - 4):I(pages_per_visit - 8) + C(service_type, Treatment('standard'))"
PREDICTOR_COLUMNS = ["marketing_6m", "marketing_current", "tenure_100d", "promo_share_10pp", "categories_per_visit",
                     "unpaid_items", "service_errors", "pages_per_visit", "revenue_prev2_k", "revenue_prev_k",
                     "revenue_current_k", "minutes_prev", "minutes_current", "service_type", "contact_allowed",
                     "popular_category"]


pytestmark = pytest.mark.usefixtures("empty_fit_cache")


def _frame(n=300, seed=5):
    return model_frame(customer_table(n, seed))


def _direct_logit(rhs, frame):
    """statsmodels' Logit on patsy's design of the frame (promotion cluster recomputed by hand)."""
    data = frame.copy()
    data["promo_upper"] = (data["promo_share_10pp"] >= 5 - 1e-9).astype(float)
    X = patsy.dmatrix(rhs, data, return_type="dataframe")
    return sm.Logit(data["activity_decline"].to_numpy(), X).fit(disp=0, method="newton"), X


# ---------------------------------------------------------------------------------------------------------------
# formula_of, _frame_key, link_model
# ---------------------------------------------------------------------------------------------------------------
def test_formula_of_each_candidate():
    assert pair.formula_of("logit_selected", "x + z") == "x + z"
    assert pair.formula_of("logit_linear", "x + z") == LINEAR
    assert pair.formula_of("logit_promo_flexible", "x + z") == FLEXIBLE
    with pytest.raises(KeyError):
        pair.formula_of("logit_floor", "x + z")


def test_frame_key_sees_values_and_index():
    frame = _frame(50)
    assert pair._frame_key(frame) == pair._frame_key(frame.copy())
    assert isinstance(pair._frame_key(frame), int)
    changed = frame.copy()
    changed.loc[changed.index[3], "marketing_6m"] += 0.1
    assert pair._frame_key(changed) != pair._frame_key(frame)
    assert pair._frame_key(frame.set_axis(frame.index + 1000)) != pair._frame_key(frame)
    # the same values and index hash alike whatever the column names (the cache key adds the names)
    assert pair._frame_key(frame.set_axis([f"c{i}" for i in range(frame.shape[1])], axis=1)) == pair._frame_key(frame)


def test_link_model_returns_the_cached_fit_per_key():
    frame = _frame()
    first = pair.link_model("logit_linear", frame, "x")
    assert len(pair._FITS) == 1
    assert pair.link_model("logit_linear", frame.copy(), "x") is first
    assert len(pair._FITS) == 1
    other_code = pair.link_model("logit_promo_flexible", frame, "x")
    assert other_code is not first and len(other_code[0].params) == 23
    selected = pair.link_model("logit_selected", frame, SELECTED)
    assert len(selected[0].params) == 5
    assert len(pair.link_model("logit_selected", frame, "marketing_6m")[0].params) == 2
    assert len(pair._FITS) == 4


def test_link_model_key_holds_the_column_names():
    frame = _frame()
    swapped = frame.rename(columns={"minutes_prev": "minutes_current", "minutes_current": "minutes_prev"})
    link, _ = pair.link_model("logit_selected", frame, "minutes_prev")
    link_swapped, _ = pair.link_model("logit_selected", swapped, "minutes_prev")
    expected, _ = _direct_logit("minutes_prev", frame)
    expected_swapped, _ = _direct_logit("minutes_prev", swapped)
    np.testing.assert_allclose(link.params, expected.params.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(link_swapped.params, expected_swapped.params.to_numpy(), rtol=1e-8)
    assert abs(link.params[1] - link_swapped.params[1]) > 1e-3


@pytest.mark.parametrize("held, kept", [(33, 1), (32, 33)])
def test_link_model_empties_a_full_cache(held, kept):
    frame = _frame(100)
    for i in range(held):
        pair._FITS[("dummy", i)] = None
    out = pair.link_model("logit_selected", frame, "marketing_6m")
    assert len(pair._FITS) == kept
    assert list(pair._FITS.values())[-1] is out


# ---------------------------------------------------------------------------------------------------------------
# fit_link_model
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("code, formula, rhs", [("logit_linear", "ignored", LINEAR),
                                                ("logit_selected", SELECTED, SELECTED),
                                                ("logit_promo_flexible", "ignored", FLEXIBLE)])
def test_formula_logit_equals_statsmodels(code, formula, rhs):
    frame = _frame()
    link, result = pair.fit_link_model(code, frame, formula)
    expected, X = _direct_logit(rhs, frame)
    np.testing.assert_allclose(link.params, expected.params.to_numpy(), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(link.cov, expected.cov_params().to_numpy(), rtol=1e-6, atol=1e-12)
    assert list(result.params.index) == list(X.columns)
    assert result.model.formula == f"activity_decline ~ {rhs}"
    assert result.cov_type == "nonrobust"
    # new rows: the design is patsy's, the probability the logistic function of it
    new = _frame(80, seed=9)
    X_new = patsy.build_design_matrices([X.design_info], new.assign(
        promo_upper=(new["promo_share_10pp"] >= 5 - 1e-9).astype(float)))[0]
    np.testing.assert_allclose(link.design(new), np.asarray(X_new), rtol=0, atol=1e-12)
    np.testing.assert_allclose(link.predict(new), expit(np.asarray(X_new) @ expected.params.to_numpy()),
                               rtol=1e-7, atol=1e-10)
    jac = link.jacobian(link.params, np.asarray(X_new))
    p = expit(np.asarray(X_new) @ link.params)
    np.testing.assert_allclose(jac, (p * (1 - p))[:, None] * np.asarray(X_new), rtol=1e-12, atol=1e-15)


def test_promo_flexible_fits_with_the_cluster_recomputed():
    frame = _frame()
    stale = frame.drop(columns="promo_upper")
    link, _ = pair.fit_link_model("logit_promo_flexible", stale, "ignored")
    expected, _ = _direct_logit(FLEXIBLE, frame)
    np.testing.assert_allclose(link.params, expected.params.to_numpy(), rtol=1e-7, atol=1e-9)
    wrong = frame.assign(promo_upper=1.0 - frame["promo_upper"])
    link_wrong, _ = pair.fit_link_model("logit_promo_flexible", wrong, "ignored")
    np.testing.assert_allclose(link_wrong.params, expected.params.to_numpy(), rtol=1e-7, atol=1e-9)


def test_promo_flexible_design_follows_a_counterfactual_share():
    frame = _frame()
    link, _ = pair.fit_link_model("logit_promo_flexible", frame, "ignored")
    counterfactual = frame.head(20).assign(promo_share_10pp=9.5)  # promo_upper left at its old values
    X = link.design(counterfactual)
    names = list(pair.fit_link_model("logit_promo_flexible", frame, "ignored")[1].params.index)
    np.testing.assert_array_equal(X[:, names.index("promo_upper")], np.ones(20))
    np.testing.assert_allclose(X[:, names.index("I(promo_upper * (promo_share_10pp - 9.0))")], np.full(20, 0.5))
    # the plain logits use the frame as it is
    linear, _ = pair.fit_link_model("logit_selected", frame, "promo_upper")
    np.testing.assert_array_equal(linear.design(counterfactual)[:, 1], frame.head(20)["promo_upper"].to_numpy())


@pytest.mark.parametrize("code", ["logit_linear", "logit_selected"])
def test_formula_logit_design_refuses_missing_values(code):
    frame = _frame()
    link, _ = pair.fit_link_model(code, frame, "marketing_6m + pages_per_visit")
    holed = frame.head(10).copy()
    holed.loc[holed.index[2], "marketing_6m"] = np.nan
    with pytest.raises(ValueError, match=r"^frame has missing values in column\(s\) \['marketing_6m'\]"):
        link.design(holed)


def test_floor_logit_equals_its_classifier():
    frame = _frame()
    link, estimator = pair.fit_link_model("logit_floor", frame, "ignored")
    direct = FloorLogitClassifier(formula=LINEAR).fit(frame[PREDICTOR_COLUMNS], frame["activity_decline"])
    assert isinstance(estimator, FloorLogitClassifier)
    np.testing.assert_allclose(link.params, direct.fit_.params, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(link.cov, direct.fit_.cov, rtol=1e-6, atol=1e-12)
    new = _frame(60, seed=9)
    X = np.asarray(patsy.build_design_matrices([direct.design_info_], new[PREDICTOR_COLUMNS])[0])
    np.testing.assert_allclose(link.design(new), X, atol=1e-12)
    beta, gamma = link.params[:-1], expit(link.params[-1])
    p = gamma + (1 - gamma) * expit(X @ beta)
    np.testing.assert_allclose(link.prob(link.params, X), p, rtol=1e-12)
    np.testing.assert_allclose(link.predict(new), direct.predict_proba(new)[:, 1], rtol=1e-12)
    # the Jacobian is the derivative of the probability
    fd = central_jacobian(lambda t: link.prob(t, X), link.params)
    np.testing.assert_allclose(link.jacobian(link.params, X), fd, rtol=1e-5, atol=1e-8)


def test_gam_equals_its_classifier():
    frame = _frame()
    link, estimator = pair.fit_link_model("gam_engagement", frame, "ignored")
    from analysis.modeling.benchmark import GAM_SMOOTH
    linear = " + ".join(t for t in LINEAR.split(" + ") if t not in GAM_SMOOTH)
    direct = PenalizedSplineLogitClassifier(linear_formula=linear, smooth=GAM_SMOOTH).fit(
        frame[PREDICTOR_COLUMNS], frame["activity_decline"])
    assert isinstance(estimator, PenalizedSplineLogitClassifier)
    assert estimator.formula_ == direct.formula_
    np.testing.assert_allclose(link.params, direct.params_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(link.cov, direct.cov_, rtol=1e-6, atol=1e-12)
    new = _frame(60, seed=9)
    np.testing.assert_allclose(link.predict(new), direct.predict_proba(new)[:, 1], rtol=1e-9)


def test_unknown_interpretable_code_is_refused(monkeypatch):
    frame = _frame(100)
    with pytest.raises(KeyError):
        pair.fit_link_model("svc_rbf", frame, "x")
    # a candidate that is neither a formula logit nor one of the two estimators with a link of their own
    monkeypatch.setattr(pair, "FORMULA_LOGITS", ())
    with pytest.raises(ValueError, match=r"^unknown interpretable model 'logit_linear'$"):
        pair.fit_link_model("logit_linear", frame, "x")


# ---------------------------------------------------------------------------------------------------------------
# recalibrated and model_pair
# ---------------------------------------------------------------------------------------------------------------
def _calibrator(floor=0.05, ceiling=0.9, slope=0.4, shift=-0.3):
    c = AsymptoteCalibrator()
    c.floor_, c.ceiling_, c.slope_, c.shift_ = floor, ceiling, slope, shift
    return c


def _g(s, floor=0.05, ceiling=0.9, slope=0.4, shift=-0.3):
    return floor + (ceiling - floor) * expit(slope * s + shift)


def _dg(s, floor=0.05, ceiling=0.9, slope=0.4, shift=-0.3):
    e = expit(slope * s + shift)
    return (ceiling - floor) * slope * e * (1 - e)


def _toy_link():
    def design(frame):
        return np.column_stack([np.ones(len(frame)), frame["x"].to_numpy(float), frame["z"].to_numpy(float)])

    def prob(b, X):
        return expit(X @ b)

    def jac(b, X):
        p = expit(X @ b)
        return (p * (1 - p))[:, None] * X

    return LinkModel(design=design, params=np.array([-0.4, 1.1, 0.7]), cov=np.array(
        [[0.04, 0.01, 0.0], [0.01, 0.09, -0.02], [0.0, -0.02, 0.05]]), prob=prob, jacobian=jac)


def test_recalibrated_probability_and_jacobian():
    link = _toy_link()
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(40), rng.normal(size=40), rng.normal(size=40)])
    model = pair.recalibrated(link, _calibrator())
    assert model.design is link.design and model.params is link.params and model.cov is link.cov
    eta = X @ link.params
    np.testing.assert_allclose(model.prob(link.params, X), _g(eta), rtol=1e-12)
    frame = pd.DataFrame({"x": X[:, 1], "z": X[:, 2]})
    np.testing.assert_allclose(model.predict(frame), _g(eta), rtol=1e-12)
    # Jacobian: finite differences of the probability, and the chain rule by hand
    fd = central_jacobian(lambda t: model.prob(t, X), link.params)
    jac = model.jacobian(link.params, X)
    np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(jac, _dg(eta)[:, None] * X, rtol=1e-9, atol=1e-14)
    # at other parameters
    other = link.params + np.array([0.2, -0.5, 0.3])
    np.testing.assert_allclose(model.prob(other, X), _g(X @ other), rtol=1e-12)
    np.testing.assert_allclose(model.jacobian(other, X), _dg(X @ other)[:, None] * X, rtol=1e-9, atol=1e-14)


def test_recalibrated_clips_extreme_probabilities():
    link = _toy_link()
    # scores far beyond the clip (p rounds to 0 or 1) and just inside 1e-12 of it
    eta = np.array([-60.0, -40.0, -28.0, 28.0, 40.0, 60.0, 0.3])
    X = np.column_stack([np.ones_like(eta), (eta + 0.4) / 1.1, np.zeros_like(eta)])  # X @ params = eta
    model = pair.recalibrated(link, _calibrator(slope=0.1, shift=0.2))
    eta = X @ link.params
    p = np.clip(expit(eta), 1e-12, 1 - 1e-12)
    s = np.log(p) - np.log1p(-p)
    np.testing.assert_allclose(model.prob(link.params, X), _g(s, slope=0.1, shift=0.2), rtol=1e-12)
    assert np.all(np.isfinite(model.prob(link.params, X)))
    raw = expit(eta)
    expected = (_dg(s, slope=0.1, shift=0.2) / (p * (1 - p)) * raw * (1 - raw))[:, None] * X
    np.testing.assert_allclose(model.jacobian(link.params, X), expected, rtol=1e-9, atol=0)
    assert np.all(np.isfinite(model.jacobian(link.params, X)))


def _oof(frame, seed=4):
    rng = np.random.default_rng(seed)
    result, X = _direct_logit(LINEAR, frame)
    eta = np.asarray(X) @ result.params.to_numpy()
    return expit(1.6 * eta + 0.3 + rng.normal(0, 0.5, len(frame)))


def test_model_pair_same_code_uses_one_link():
    frame = _frame()
    out = pair.model_pair("logit_linear", "logit_linear", frame, "ignored", _oof(frame))
    expected, _ = _direct_logit(LINEAR, frame)
    assert isinstance(out, pair.ModelPair)
    assert (out.inference_code, out.business_code) == ("logit_linear", "logit_linear")
    assert out.inference is out.business and out.score_map is None
    np.testing.assert_allclose(out.inference.params, expected.params.to_numpy(), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(out.estimator.params.to_numpy(), expected.params.to_numpy(), rtol=1e-7, atol=1e-9)


def test_model_pair_recalibrated_on_out_of_fold_probabilities():
    frame = _frame()
    oof = _oof(frame)
    out = pair.model_pair("logit_linear", "logit_linear_recalibrated", frame, "ignored", oof)
    expected, X = _direct_logit(LINEAR, frame)
    direct = AsymptoteCalibrator().fit(oof, frame["activity_decline"].to_numpy())
    assert (out.inference_code, out.business_code) == ("logit_linear", "logit_linear_recalibrated")
    assert isinstance(out.score_map, AsymptoteCalibrator)
    for k, v in direct.params().items():
        assert out.score_map.params()[k] == pytest.approx(v, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(out.estimator.params.to_numpy(), expected.params.to_numpy(), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(out.inference.params, expected.params.to_numpy(), rtol=1e-7, atol=1e-9)
    assert out.business.params is out.inference.params and out.business.cov is out.inference.cov
    eta = np.asarray(X) @ expected.params.to_numpy()
    par = direct.params()
    g = par["floor"] + (par["ceiling"] - par["floor"]) * expit(par["slope"] * eta + par["shift"])
    np.testing.assert_allclose(out.business.predict(frame), g, rtol=1e-6)
    np.testing.assert_allclose(out.inference.predict(frame), expit(eta), rtol=1e-7)


def test_formula_logit_design_under_the_formulaic_engine(monkeypatch):
    pytest.importorskip("formulaic")  # statsmodels >= 0.15 installs it; 0.14 has patsy only
    try:
        from statsmodels.formula import options
    except ImportError:  # statsmodels 0.14: patsy is the only formula engine
        pytest.skip("this statsmodels has no formula engine option")

    monkeypatch.setattr(options, "formula_engine", "formulaic")
    frame = _frame()
    link, result = pair.fit_link_model("logit_selected", frame, "marketing_6m + pages_per_visit")
    X = np.column_stack([np.ones(len(frame)), frame["marketing_6m"], frame["pages_per_visit"]])
    expected = sm.Logit(frame["activity_decline"].to_numpy(), X).fit(disp=0)
    np.testing.assert_allclose(link.params, expected.params, rtol=1e-7, atol=1e-9)
    new = _frame(40, seed=9)
    X_new = np.column_stack([np.ones(40), new["marketing_6m"], new["pages_per_visit"]])
    np.testing.assert_allclose(link.design(new), X_new, rtol=0, atol=1e-12)
    np.testing.assert_allclose(link.predict(new), expit(X_new @ expected.params), rtol=1e-7)


def test_model_pair_passes_the_selected_formula():
    frame = _frame()
    out = pair.model_pair("logit_selected", "logit_selected_recalibrated", frame, SELECTED, _oof(frame))
    expected, _ = _direct_logit(SELECTED, frame)
    np.testing.assert_allclose(out.inference.params, expected.params.to_numpy(), rtol=1e-7, atol=1e-9)
    assert list(out.estimator.params.index) == list(expected.params.index)
