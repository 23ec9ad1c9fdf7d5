"""Fast tests of analysis.decisions.decide on small constructed inputs (no pipeline run; the whole file runs in
seconds, so that mutation testing of the module is practical).

What is pinned, each expected number computed by hand in the test (never by the function under test):

* the tables from the bootstrap: ``bootstrap_columns`` (a scenario row gets the bootstrap SD and normal interval
  estimate ± z·SD; rows the bootstrap did not cover stay as they were), ``bootstrap_ames``, ``action_value``
  (break-even = horizon × profit retained / treated customers, per contact ÷ contacts) and ``offer_plan``
  (customers kept = Σ risk drops of the row's customers, draws summed per lever over the customers offered it),
  each compared as a whole frame (columns, order, values);
* ``statistics`` (AMEs by central differences, scenario means/sums over group ∧ room, each customer's drop) and
  ``evaluation_frames`` (keys, counterfactual frames, rooms and steps) on hand-made plans and frames;
* the bootstrap: a replicate of the plain logit refitted by statsmodels on the same resampled rows, the GAM path
  against a cold ``choose_weight`` at every weight, the generic path with a hand-made estimator (redraws until
  every category level is in, else the 100th draw; convergence from ``cv_info``), the fast path's redraws (100,
  then RuntimeError), ``_fit``'s fall-back to damped Newton, its tolerance 1e-8, warm starts and local weight
  search, the info table, seeds, workers (joblib's ``n_jobs``, one BLAS thread per replicate) and float outputs;
* ``effects_by_model``, ``deployed_predictions``, ``start_bootstrap`` and ``decide`` on hand-made logit links (the
  other candidates' fits replaced by hand-made links through monkeypatch), against the package's own AMEs,
  scenarios, action tests and offers (other modules, used as oracles) and hand arithmetic on the bootstrap draws.

Only function-scoped fixtures; the full-data fit cache of analysis.modeling.pair is cleared around every test
(mutmut forks one process per mutant after collecting coverage: a filled cache would hide mutants).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import norm
from sklearn.base import BaseEstimator

from analysis.decisions import actions
from analysis.decisions import decide as decisions
from analysis.decisions.actions import Lever
from analysis.data.dictionary import TARGET
from analysis.data.synthetic import customer_table
from analysis.modeling.features import model_frame
from analysis.modeling.pair import ModelPair
from analysis.segments import Thresholds
from stats.bootstrap import replicate_rng
from stats.link_margins import logit_link_model

LEVERS = actions.STORE_ACTIONS + actions.ASSUMED_ACTIONS
LEVER_COLUMNS = ["marketing_6m", "marketing_current", "unpaid_items", "promo_share_10pp"]
DESIGN_COLUMNS = LEVER_COLUMNS + ["tenure_100d", "pages_per_visit"]


pytestmark = pytest.mark.usefixtures("empty_fit_cache")


def _z(conf_level: float) -> float:
    return float(norm.ppf(0.5 + conf_level / 2))


def _boot(estimates: dict, replicates: dict, drops=None, conf_level=0.9, **kwargs) -> decisions.BootstrapResult:
    drops = {} if drops is None else drops
    return decisions.BootstrapResult(pd.Series(estimates, dtype=float), pd.DataFrame(replicates), drops,
                                     {k: v[0] for k, v in drops.items()}, conf_level=conf_level, **kwargs)


# ---------------------------------------------------------------------------------------------------------
# Tables from the bootstrap
# ---------------------------------------------------------------------------------------------------------
def test_bootstrap_columns_replaces_the_covered_rows_by_the_normal_interval():
    z = _z(0.9)
    key = "g:a"
    boot = _boot({f"effect:{key}": -0.2, f"kept:{key}": 8.0, f"profit:{key}": 30.0, "ame:x": 1.0},
                 {f"effect:{key}": [-0.1, -0.2, -0.3], f"kept:{key}": [6.0, 8.0, 10.0],
                  f"profit:{key}": [25.0, 30.0, 35.0], "ame:x": [1.0, 2.0, 3.0]})
    scenario = pd.DataFrame({
        "group": ["other", "g", "g"], "action": ["a", "a", "b"], "n_with_room": [5, 6, 7],
        "std_error": [0.01, 0.02, 0.03], "conf_low": [-1.0, -2.0, -3.0], "conf_high": [1.0, 2.0, 3.0],
        "std_error_delta": [0.01, 0.02, 0.03], "customers_kept_low": [1.0, 2.0, 3.0],
        "customers_kept_high": [4.0, 5.0, 6.0], "profit_retained_upper_low": [7.0, 8.0, 9.0],
        "profit_retained_upper_high": [10.0, 11.0, 12.0], "interval": ["delta", "delta", "delta"]},
        index=[10, 11, 12])
    before = scenario.copy()
    out = decisions.bootstrap_columns(scenario, boot)
    expected = before.copy()
    # the covered row (g, a): SDs 0.1, 2 and 5; the delta SE stays in std_error_delta
    expected.loc[11, ["std_error", "conf_low", "conf_high"]] = [0.1, -0.2 - z * 0.1, -0.2 + z * 0.1]
    expected.loc[11, ["customers_kept_low", "customers_kept_high"]] = [8.0 - z * 2.0, 8.0 + z * 2.0]
    expected.loc[11, ["profit_retained_upper_low", "profit_retained_upper_high"]] = [30.0 - z * 5.0, 30.0 + z * 5.0]
    expected.loc[11, "interval"] = "bootstrap"
    pd.testing.assert_frame_equal(out, expected, rtol=1e-12)
    pd.testing.assert_frame_equal(scenario, before)  # the input is not modified


def test_bootstrap_columns_without_any_covered_row_is_the_input():
    boot = _boot({"effect:g:a": -0.2, "kept:g:a": 1.0, "profit:g:a": 1.0},
                 {"effect:g:a": [0.0, 1.0], "kept:g:a": [0.0, 1.0], "profit:g:a": [0.0, 1.0]})
    scenario = pd.DataFrame({"group": ["h"], "action": ["a"], "std_error": [0.5], "conf_low": [0.1],
                             "conf_high": [0.9], "interval": ["delta"]})
    pd.testing.assert_frame_equal(decisions.bootstrap_columns(scenario, boot), scenario)


def test_bootstrap_ames_in_the_order_asked_with_the_delta_se():
    z = _z(0.8)
    boot = _boot({"ame:x": 0.5, "ame:y": -0.25, "effect:g:a": 1.0},
                 {"ame:x": [0.4, 0.5, 0.6], "ame:y": [-0.25, -0.5, 0.0], "effect:g:a": [1.0, 2.0, 3.0]},
                 conf_level=0.8)
    delta = pd.DataFrame({"variable": ["x", "y", "w"], "contrast": ["", "", ""], "estimate": [9.0, 9.0, 9.0],
                          "std_error": [0.07, 0.03, 0.01]})
    out = decisions.bootstrap_ames(boot, delta, ["y", "x"])
    expected = pd.DataFrame({"variable": ["y", "x"], "estimate": [-0.25, 0.5], "std_error": [0.25, 0.1],
                             "conf_low": [-0.25 - z * 0.25, 0.5 - z * 0.1],
                             "conf_high": [-0.25 + z * 0.25, 0.5 + z * 0.1], "std_error_delta": [0.03, 0.07]})
    pd.testing.assert_frame_equal(out, expected, rtol=1e-12)


VALUE_COLUMNS = ["action", "n_treated", "contacts_per_customer", "effect", "effect_conf_low", "effect_conf_high",
                 "customers_kept", "customers_kept_low", "customers_kept_high", "profit_retained_month",
                 "profit_retained_month_low", "profit_retained_month_high", "horizon_months",
                 "break_even_per_customer", "break_even_per_customer_low", "break_even_per_customer_high",
                 "break_even_per_contact", "break_even_per_contact_low", "break_even_per_contact_high",
                 "offered", "recommended"]


def _value_row(action, n, contacts, horizon, offered, recommended, numbers=None):
    row = {"action": action, "n_treated": n, "contacts_per_customer": contacts, "horizon_months": horizon,
           "offered": offered, "recommended": recommended}
    row.update(numbers or {})
    return row


def test_action_value_break_even_by_hand_at_the_headline_group_and_three_months():
    z = _z(0.9)
    mm = "high_risk_all:more_marketing"
    boot = _boot({f"effect:{mm}": -0.1, f"kept:{mm}": 4.0, f"profit:{mm}": 12.0, "effect:odd:more_marketing": 7.0},
                 {f"effect:{mm}": [-0.05, -0.1, -0.15], f"kept:{mm}": [3.0, 4.0, 5.0],
                  f"profit:{mm}": [9.0, 12.0, 15.0], "effect:odd:more_marketing": [1.0, 2.0, 3.0]})
    # marketing_this_month has treated customers but no bootstrap statistic: a row without numbers
    scenario = pd.DataFrame({"group": ["odd", "high_risk_all", "high_risk_all", "odd"],
                             "action": ["more_marketing", "marketing_this_month", "more_marketing",
                                        "marketing_this_month"],
                             "n_with_room": [99, 10, 40, 98]})
    out = decisions.action_value(scenario, boot, recommended=["more_marketing"],
                                 offered=["marketing_this_month", "more_marketing"])
    # SDs: effect 0.05, kept 1, profit 3; per treated customer 3 × 12 / 40 = 0.9 with SD 3 × 3 / 40 = 0.225
    numbers = {"effect": -0.1, "effect_conf_low": -0.1 - z * 0.05, "effect_conf_high": -0.1 + z * 0.05,
               "customers_kept": 4.0, "customers_kept_low": 4.0 - z, "customers_kept_high": 4.0 + z,
               "profit_retained_month": 12.0, "profit_retained_month_low": 12.0 - 3 * z,
               "profit_retained_month_high": 12.0 + 3 * z,
               "break_even_per_customer": 0.9, "break_even_per_customer_low": 0.9 - 0.225 * z,
               "break_even_per_customer_high": 0.9 + 0.225 * z,
               "break_even_per_contact": 0.15, "break_even_per_contact_low": (0.9 - 0.225 * z) / 6,
               "break_even_per_contact_high": (0.9 + 0.225 * z) / 6}
    expected = pd.DataFrame([_value_row("more_marketing", 40, 6.0, 3, True, True, numbers),
                             _value_row("marketing_this_month", 10, 1.0, 3, True, False)], columns=VALUE_COLUMNS)
    pd.testing.assert_frame_equal(out, expected, rtol=1e-12)


def test_action_value_goes_on_after_an_action_without_room():
    key = "high_risk_all:marketing_this_month"
    boot = _boot({f"effect:{key}": -0.5, f"kept:{key}": 1.0, f"profit:{key}": 2.0},
                 {f"effect:{key}": [-0.5, -0.4, -0.6], f"kept:{key}": [1.0, 2.0, 0.0],
                  f"profit:{key}": [2.0, 3.0, 1.0]})
    scenario = pd.DataFrame({"group": ["high_risk_all", "high_risk_all"],
                             "action": ["more_marketing", "marketing_this_month"], "n_with_room": [0, 10]})
    out = decisions.action_value(scenario, boot, recommended=["marketing_this_month"]).set_index("action")
    assert np.isnan(out.loc["more_marketing", "effect"]) and out.loc["more_marketing", "n_treated"] == 0
    assert out.loc["marketing_this_month", "effect"] == -0.5
    assert out.loc["marketing_this_month", "break_even_per_contact"] == pytest.approx(3 * 2.0 / 10, rel=1e-12)
    assert out.loc["marketing_this_month", "recommended"] and not out.loc["marketing_this_month", "offered"]


def test_action_value_of_another_group_and_horizon_and_an_action_without_room():
    z = _z(0.9)
    key = "odd:more_marketing"
    boot = _boot({f"effect:{key}": -0.2, f"kept:{key}": 2.0, f"profit:{key}": 8.0,
                  "effect:odd:marketing_this_month": -0.5, "kept:odd:marketing_this_month": 1.0,
                  "profit:odd:marketing_this_month": 1.0},
                 {f"effect:{key}": [-0.2, -0.4, 0.0], f"kept:{key}": [2.0, 2.5, 1.5], f"profit:{key}": [8.0, 12.0, 4.0],
                  "effect:odd:marketing_this_month": [0.0, 1.0, 2.0], "kept:odd:marketing_this_month": [0.0, 1.0, 2.0],
                  "profit:odd:marketing_this_month": [0.0, 1.0, 2.0]})
    scenario = pd.DataFrame({"group": ["odd", "odd", "high_risk_all", "high_risk_all"],
                             "action": ["marketing_this_month", "more_marketing", "more_marketing",
                                        "marketing_this_month"], "n_with_room": [0, 20, 50, 50]})
    out = decisions.action_value(scenario, boot, recommended=[], group="odd", horizon_months=6)
    # per treated customer: 6 × 8 / 20 = 2.4, SD 6 × 4 / 20 = 1.2
    numbers = {"effect": -0.2, "effect_conf_low": -0.2 - z * 0.2, "effect_conf_high": -0.2 + z * 0.2,
               "customers_kept": 2.0, "customers_kept_low": 2.0 - 0.5 * z, "customers_kept_high": 2.0 + 0.5 * z,
               "profit_retained_month": 8.0, "profit_retained_month_low": 8.0 - 4 * z,
               "profit_retained_month_high": 8.0 + 4 * z,
               "break_even_per_customer": 2.4, "break_even_per_customer_low": 2.4 - 1.2 * z,
               "break_even_per_customer_high": 2.4 + 1.2 * z,
               "break_even_per_contact": 0.4, "break_even_per_contact_low": (2.4 - 1.2 * z) / 6,
               "break_even_per_contact_high": (2.4 + 1.2 * z) / 6}
    expected = pd.DataFrame([_value_row("more_marketing", 20, 6.0, 6, False, False, numbers),
                             _value_row("marketing_this_month", 0, 1.0, 6, False, False)], columns=VALUE_COLUMNS)
    pd.testing.assert_frame_equal(out, expected, rtol=1e-12)


PLAN_COLUMNS = ["offer", "n_customers", "expected_declines", "profit_at_risk_upper", "customers_kept",
                "customers_kept_low", "customers_kept_high", "profit_retained_upper", "profit_retained_upper_low",
                "profit_retained_upper_high", "share_of_declines_avoided", "share_of_profit_at_risk_retained"]


def _plan_row(offer, n, declines, at_risk, kept, kept_sd, retained, retained_sd, z):
    return {"offer": offer, "n_customers": n, "expected_declines": declines, "profit_at_risk_upper": at_risk,
            "customers_kept": kept, "customers_kept_low": kept - z * kept_sd, "customers_kept_high": kept + z * kept_sd,
            "profit_retained_upper": retained, "profit_retained_upper_low": retained - z * retained_sd,
            "profit_retained_upper_high": retained + z * retained_sd,
            "share_of_declines_avoided": kept / declines, "share_of_profit_at_risk_retained": retained / at_risk}


def _plan_offers(decimal: bool = False, text: bool = False) -> pd.DataFrame:
    """Customers 1–5 are at high risk at 0.5 (customer 5 exactly at the threshold); 6 and 7 are not (7 carries a
    lever offer and drops: it must stay out of every row). ``decimal``: the numbers as Decimal objects."""
    from decimal import Decimal

    offers = pd.DataFrame({"id": [1, 2, 3, 4, 5, 6, 7], "p_decline": [0.8, 0.6, 0.9, 0.7, 0.5, 0.3, 0.4],
                           "profit": [2.0, 3.0, 4.0, 5.0, 1.0, 6.0, 7.0],
                           "offer": ["more_marketing", "marketing_this_month", "more_marketing", "personal_contact",
                                     "personal_contact", "none", "more_marketing"],
                           "risk_drop": [0.1, 0.02, 0.2, 0.0, 0.0, 0.0, 0.05]})
    if decimal:
        for column in ("p_decline", "profit", "risk_drop"):
            offers[column] = pd.Series([Decimal(str(v)) for v in offers[column]], dtype=object)
    if text:  # the risks, profits and drops as read from a text file without conversion
        for column in ("p_decline", "profit", "risk_drop"):
            offers[column] = pd.Series([str(v) for v in offers[column]], dtype=object)
    return offers


# replicate drops; more_marketing also moves customers 2 and 4, who are offered something else
PLAN_DROPS = {"more_marketing": np.array([[0.1, 0.03, 0.2, 0.0, 0.0, 0.0, 0.05],
                                          [0.2, 0.03, 0.1, 0.01, 0.0, 0.0, 0.04],
                                          [0.0, 0.03, 0.4, 0.0, 0.0, 0.0, 0.06]]),
              "marketing_this_month": np.array([[0.0, 0.02, 0.0, 0.0, 0.0, 0.0, 0.1],
                                                [0.0, 0.05, 0.0, 0.0, 0.0, 0.0, 0.1],
                                                [0.0, -0.01, 0.0, 0.0, 0.0, 0.0, 0.1]])}


@pytest.mark.parametrize("decimal, text", [(False, False), (True, False), (False, True)])
def test_offer_plan_by_hand(decimal, text):
    z = _z(0.9)
    offers = _plan_offers(decimal, text)
    boot = _boot({"x": 0.0}, {"x": [0.0, 1.0, 2.0]}, drops=PLAN_DROPS)
    out = decisions.offer_plan(offers, boot, risk_threshold=0.5)

    def sd(values):
        return float(np.std(values, ddof=1))

    expected = pd.DataFrame([
        # customer 2: kept draws 0.02, 0.05, −0.01; money × 3
        _plan_row("marketing_this_month", 1, 0.6, 1.8, 0.02, sd([0.02, 0.05, -0.01]), 0.06,
                  sd([0.06, 0.15, -0.03]), z),
        # customers 1 and 3: kept draws 0.3, 0.3, 0.4; money 0.1·2 + 0.2·4, 0.2·2 + 0.1·4, 0.4·4
        _plan_row("more_marketing", 2, 1.7, 0.8 * 2 + 0.9 * 4, 0.3, sd([0.3, 0.3, 0.4]), 1.0,
                  sd([1.0, 0.8, 1.6]), z),
        _plan_row("personal_contact", 2, 1.2, 0.7 * 5 + 0.5 * 1, 0.0, 0.0, 0.0, 0.0, z),
        _plan_row("total", 5, 3.5, 0.8 * 2 + 0.6 * 3 + 0.9 * 4 + 0.7 * 5 + 0.5 * 1, 0.32,
                  sd([0.32, 0.35, 0.39]), 1.06, sd([1.06, 0.95, 1.57]), z),
    ], columns=PLAN_COLUMNS)
    pd.testing.assert_frame_equal(out, expected, rtol=1e-12, atol=1e-15)


def test_offer_plan_percentile_intervals_of_the_summed_draws():
    # the draws summed per replicate over the customers offered each lever; the percentiles (not only the SD)
    boot = _boot({"x": 0.0}, {"x": [0.0, 1.0, 2.0]}, drops=PLAN_DROPS, conf_level=0.5, method="percentile")
    out = decisions.offer_plan(_plan_offers(), boot, risk_threshold=0.5).set_index("offer")
    kept = {"marketing_this_month": [0.02, 0.05, -0.01], "more_marketing": [0.3, 0.3, 0.4],
            "total": [0.32, 0.35, 0.39]}
    money = {"marketing_this_month": [0.06, 0.15, -0.03], "more_marketing": [1.0, 0.8, 1.6],
             "total": [1.06, 0.95, 1.57]}
    for offer in kept:
        assert out.loc[offer, ["customers_kept_low", "customers_kept_high"]].tolist() == pytest.approx(
            np.quantile(kept[offer], [0.25, 0.75]), rel=1e-12)
        assert out.loc[offer, ["profit_retained_upper_low", "profit_retained_upper_high"]].tolist() == pytest.approx(
            np.quantile(money[offer], [0.25, 0.75]), rel=1e-12)


def test_offer_plan_orders_offers_by_name_with_personal_contact_last():
    offers = pd.DataFrame({"p_decline": [0.9, 0.9, 0.9, 0.9], "profit": [1.0, 1.0, 1.0, 1.0],
                           "offer": ["zz_action", "personal_contact", "more_marketing", "zz_action"],
                           "risk_drop": [0.1, 0.0, 0.2, 0.1]})
    boot = _boot({"x": 0.0}, {"x": [0.0, 1.0]}, drops={"more_marketing": np.zeros((2, 4))})
    out = decisions.offer_plan(offers, boot, risk_threshold=0.5)
    assert out["offer"].tolist() == ["more_marketing", "zz_action", "personal_contact", "total"]
    assert out["n_customers"].tolist() == [1, 2, 1, 4]


def test_offer_plan_without_replicates_or_risk_has_nan_intervals_and_shares():
    # no replicate: no interval; a row with no expected decline and one with no profit at risk: no share
    offers = pd.DataFrame({"p_decline": [0.0, 0.5, 0.5], "profit": [2.0, 0.0, 0.0],
                           "offer": ["personal_contact", "more_marketing", "more_marketing"],
                           "risk_drop": [0.0, 0.1, 0.3]})
    boot = decisions.BootstrapResult(pd.Series({"x": 0.0}), pd.DataFrame({"x": []}), {}, {})
    out = decisions.offer_plan(offers, boot, risk_threshold=0.0)
    nan = np.nan
    expected = pd.DataFrame([
        {"offer": "more_marketing", "n_customers": 2, "expected_declines": 1.0, "profit_at_risk_upper": 0.0,
         "customers_kept": 0.4, "customers_kept_low": nan, "customers_kept_high": nan, "profit_retained_upper": 0.0,
         "profit_retained_upper_low": nan, "profit_retained_upper_high": nan, "share_of_declines_avoided": 0.4,
         "share_of_profit_at_risk_retained": nan},
        {"offer": "personal_contact", "n_customers": 1, "expected_declines": 0.0, "profit_at_risk_upper": 0.0,
         "customers_kept": 0.0, "customers_kept_low": nan, "customers_kept_high": nan, "profit_retained_upper": 0.0,
         "profit_retained_upper_low": nan, "profit_retained_upper_high": nan, "share_of_declines_avoided": nan,
         "share_of_profit_at_risk_retained": nan},
        {"offer": "total", "n_customers": 3, "expected_declines": 1.0, "profit_at_risk_upper": 0.0,
         "customers_kept": 0.4, "customers_kept_low": nan, "customers_kept_high": nan, "profit_retained_upper": 0.0,
         "profit_retained_upper_low": nan, "profit_retained_upper_high": nan, "share_of_declines_avoided": 0.4,
         "share_of_profit_at_risk_retained": nan},
    ], columns=PLAN_COLUMNS)
    pd.testing.assert_frame_equal(out, expected, rtol=1e-12)
    # without replicates no interval is computed at all (not even the level is looked at)
    unchecked = decisions.BootstrapResult(pd.Series({"x": 0.0}), pd.DataFrame({"x": []}), {}, {}, conf_level=2.0)
    pd.testing.assert_frame_equal(decisions.offer_plan(offers, unchecked, risk_threshold=0.0), expected, rtol=1e-12)


def test_bootstrap_result_defaults_to_the_normal_interval_at_95_percent():
    boot = decisions.BootstrapResult(pd.Series({"s": 1.0}), pd.DataFrame({"s": [0.0, 2.0, np.nan]}), {}, {})
    assert (boot.conf_level, boot.method) == (0.95, "normal")
    z = _z(0.95)
    sd = np.sqrt(2.0)
    assert boot.interval(1.0, [0.0, 2.0, np.nan]) == pytest.approx((1.0 - z * sd, 1.0 + z * sd), rel=1e-12)
    expected = pd.DataFrame({"estimate": [1.0], "std_error": [sd], "conf_low": [1.0 - z * sd],
                             "conf_high": [1.0 + z * sd], "n_replicates": [2]}, index=["s"])
    pd.testing.assert_frame_equal(boot.summary(), expected, rtol=1e-12)
    assert boot.info.empty
    percentile = decisions.BootstrapResult(pd.Series({"s": 1.0}), pd.DataFrame({"s": [0.0, 2.0, 4.0]}), {}, {},
                                           conf_level=0.5, method="percentile")
    assert percentile.interval(1.0, [0.0, 2.0, 4.0]) == (1.0, 3.0)
    assert percentile.summary().loc["s", ["conf_low", "conf_high"]].tolist() == [1.0, 3.0]


# ---------------------------------------------------------------------------------------------------------
# The statistics of a replicate, the evaluation frames
# ---------------------------------------------------------------------------------------------------------
def _plan(**changes) -> decisions.StatisticPlan:
    plan = dict(
        keys=["cf:a", "base", "up:x", "down:x", "cf:b", "up:w", "down:w"],
        groups={"g1": np.array([True, True, False, True]), "g2": np.array([False, False, True, False]),
                "g3": np.array([True, True, True, True])},
        room={"a": np.array([True, False, True, True]), "b": np.array([False, True, False, True])},
        steps={"x": 0.5, "w": 0.25}, profit=np.array([1.0, 2.0, 3.0, 4.0]),
        scenario_levers=["a", "b"], ame_columns=["x", "w"], drop_levers=["b"])
    plan.update(changes)
    return decisions.StatisticPlan(**plan)


P_INF = np.array([
    [0.3, 0.5, 0.2, 0.1],    # cf:a
    [0.4, 0.6, 0.5, 0.3],    # base
    [0.5, 0.7, 0.6, 0.4],    # up:x
    [0.3, 0.6, 0.5, 0.2],    # down:x
    [0.4, 0.3, 0.1, 0.2],    # cf:b
    [0.45, 0.6, 0.5, 0.3],   # up:w
    [0.4, 0.6, 0.5, 0.25],   # down:w
])


def test_statistics_by_hand():
    scalars, drops = decisions.statistics(_plan(), P_INF)
    # a: change (cf − base) = [−0.1, −0.1, −0.3, −0.2]; room [T, F, T, T]
    # b: change = [0, −0.3, −0.4, −0.1]; room [F, T, F, T]
    expected = {
        "ame:x": (0.2 + 0.1 + 0.1 + 0.2) / 4 / (2 * 0.5),            # up − down = [0.2, 0.1, 0.1, 0.2]
        "ame:w": (0.05 + 0.05) / 4 / (2 * 0.25),          # up − down = [0.05, 0, 0, 0.05]
        "effect:g1:a": (-0.1 - 0.2) / 2, "kept:g1:a": 0.3, "profit:g1:a": 0.1 * 1 + 0.2 * 4,
        "effect:g2:a": -0.3, "kept:g2:a": 0.3, "profit:g2:a": 0.3 * 3,
        "effect:g3:a": (-0.1 - 0.3 - 0.2) / 3, "kept:g3:a": 0.6, "profit:g3:a": 0.1 + 0.9 + 0.8,
        "effect:g1:b": (-0.3 - 0.1) / 2, "kept:g1:b": 0.4, "profit:g1:b": 0.3 * 2 + 0.1 * 4,
        # g2 ∧ room(b) is empty: no statistic
        "effect:g3:b": (-0.3 - 0.1) / 2, "kept:g3:b": 0.4, "profit:g3:b": 0.3 * 2 + 0.1 * 4,
    }
    assert list(scalars) == list(expected)
    for key, value in expected.items():
        assert scalars[key] == pytest.approx(value, rel=1e-12), key
        assert type(scalars[key]) is float
    assert list(drops) == ["b"]
    np.testing.assert_allclose(drops["b"], [0.0, 0.3, 0.0, 0.1], rtol=1e-12, atol=1e-15)


def test_statistics_drops_of_every_drop_lever_and_nothing_else():
    scalars, drops = decisions.statistics(
        _plan(groups={}, scenario_levers=[], ame_columns=[], drop_levers=["a", "b"]), P_INF)
    assert scalars == {}
    assert list(drops) == ["a", "b"]
    np.testing.assert_allclose(drops["a"], [0.1, 0.0, 0.3, 0.2], rtol=1e-12)
    np.testing.assert_allclose(drops["b"], [0.0, 0.3, 0.0, 0.1], rtol=1e-12, atol=1e-15)


def _reference(values, counts) -> dict:
    return {"cluster": [0] * len(values), "value": list(values), "count": list(counts)}


def test_evaluation_frames_by_hand():
    frame = pd.DataFrame({"id": [1, 2, 3, 4], "x": [1.0, 2.0, 3.0, 4.0], "c": [2.0, 2.0, 2.0, 2.0],
                          "other": ["a", "b", "c", "d"]})
    before = frame.copy()
    levers = (Lever("up_x", "x", "x", 1.0, "", "assumption"), Lever("down_x", "x", "x", -1.0, "", "assumption"),
              Lever("up_c", "c", "c", 1.0, "", "assumption"))
    # x = 5 has too few customers (a customer at 4 cannot go up), x = 0 none (a customer at 1 cannot go down)
    reference = {"x": _reference([1.0, 2.0, 3.0, 4.0, 5.0], [20, 20, 20, 20, 19]),
                 "c": _reference([2.0, 3.0], [20, 20])}
    out = decisions.evaluation_frames(frame, reference, levers)
    assert out.keys == ["base", "cf:up_x", "cf:down_x", "cf:up_c", "up:x", "down:x", "up:c", "down:c"]
    assert list(out.frames) == out.keys
    assert out.frames["base"] is frame
    pd.testing.assert_frame_equal(frame, before)
    np.testing.assert_array_equal(out.room["up_x"], [True, True, True, False])
    np.testing.assert_array_equal(out.room["down_x"], [False, True, True, True])
    np.testing.assert_array_equal(out.room["up_c"], [True, True, True, True])
    assert list(out.room) == ["up_x", "down_x", "up_c"]
    pd.testing.assert_frame_equal(out.frames["cf:up_x"], before.assign(x=[2.0, 3.0, 4.0, 4.0]))
    pd.testing.assert_frame_equal(out.frames["cf:down_x"], before.assign(x=[1.0, 1.0, 2.0, 3.0]))
    pd.testing.assert_frame_equal(out.frames["cf:up_c"], before.assign(c=[3.0, 3.0, 3.0, 3.0]))
    # steps: 1e-4 × SD (population SD of 1, 2, 3, 4 is √1.25); a constant column: 1e-4 × 1
    h = 1e-4 * np.sqrt(1.25)
    assert list(out.steps) == ["x", "c"]
    assert out.steps["x"] == pytest.approx(h, rel=1e-14)
    assert out.steps["c"] == pytest.approx(1e-4, rel=1e-14)
    pd.testing.assert_frame_equal(out.frames["up:x"], before.assign(x=[1.0 + h, 2.0 + h, 3.0 + h, 4.0 + h]))
    pd.testing.assert_frame_equal(out.frames["down:x"], before.assign(x=[1.0 - h, 2.0 - h, 3.0 - h, 4.0 - h]))
    pd.testing.assert_frame_equal(out.frames["up:c"], before.assign(c=2.0 + 1e-4))
    pd.testing.assert_frame_equal(out.frames["down:c"], before.assign(c=2.0 - 1e-4))


def test_evaluation_frames_of_a_column_of_decimals_step_in_floats():
    from decimal import Decimal

    frame = pd.DataFrame({"x": pd.Series([Decimal(v) for v in ("1", "2", "3", "4")], dtype=object)})
    levers = (Lever("up_x", "x", "x", 1.0, "", "assumption"),)
    out = decisions.evaluation_frames(frame, {"x": _reference([1.0, 2.0, 3.0, 4.0, 5.0], [20] * 5)}, levers)
    h = 1e-4 * np.sqrt(1.25)
    assert out.steps["x"] == pytest.approx(h, rel=1e-14)
    np.testing.assert_allclose(out.frames["up:x"]["x"].to_numpy(float), [1.0 + h, 2.0 + h, 3.0 + h, 4.0 + h],
                               rtol=1e-15)
    np.testing.assert_allclose(out.frames["down:x"]["x"].to_numpy(float), [1.0 - h, 2.0 - h, 3.0 - h, 4.0 - h],
                               rtol=1e-15)


def test_evaluation_frames_default_levers_are_the_store_and_assumed_actions():
    frame = model_frame(customer_table(60, 4))
    reference = actions.support_reference(frame)
    out = decisions.evaluation_frames(frame, reference)
    assert out.keys == (["base", "cf:more_marketing", "cf:marketing_this_month", "cf:cart_reminder",
                         "cf:less_promotion"] + [f"{d}:{c}" for c in LEVER_COLUMNS for d in ("up", "down")])


# ---------------------------------------------------------------------------------------------------------
# The bootstrap on a small simulated frame
# ---------------------------------------------------------------------------------------------------------
def _design(frame: pd.DataFrame) -> np.ndarray:
    return np.column_stack([np.ones(len(frame))] + [frame[c].to_numpy(float) for c in DESIGN_COLUMNS])


def _small_frame(n=240, seed=31) -> pd.DataFrame:
    return model_frame(customer_table(n, seed))


def _mle(X, y) -> np.ndarray:
    import statsmodels.api as sm

    return np.asarray(sm.Logit(y, X).fit(disp=0, tol=1e-12, maxiter=200).params)


def _logit_pair(frame, code="logit_linear") -> ModelPair:
    X, y = _design(frame), frame[TARGET].to_numpy(float)
    beta = _mle(X, y)
    link = logit_link_model(_design, beta, 1e-3 * np.eye(len(beta)))
    return ModelPair(code, code, link, link, None, None)


def _groups(frame) -> dict[str, np.ndarray]:
    return {"high_risk_all": frame["marketing_6m"].to_numpy() < 4.5, "odd": frame["id"].to_numpy() % 2 == 1}


def _plan_of(frame, frames) -> decisions.StatisticPlan:
    return decisions.StatisticPlan(keys=frames.keys, groups=_groups(frame), room=frames.room, steps=frames.steps,
                                   profit=frame["profit"].to_numpy(float),
                                   scenario_levers=[lv.name for lv in LEVERS], ame_columns=LEVER_COLUMNS,
                                   drop_levers=["more_marketing", "marketing_this_month"])


def _statistics_by_hand(frame, frames, plan, beta):
    """Every statistic of the plan at coefficients ``beta`` of the hand design (the expected replicate)."""
    p = {key: expit(_design(frames.frames[key]) @ beta) for key in frames.keys}
    profit = frame["profit"].to_numpy(float)
    out = {}
    for column in LEVER_COLUMNS:
        out[f"ame:{column}"] = np.mean(p[f"up:{column}"] - p[f"down:{column}"]) / (2 * frames.steps[column])
    for lever in LEVERS:
        change = p[f"cf:{lever.name}"] - p["base"]
        for group, mask in plan.groups.items():
            m = mask & frames.room[lever.name]
            if m.sum() == 0:
                continue
            out[f"effect:{group}:{lever.name}"] = change[m].sum() / m.sum()
            out[f"kept:{group}:{lever.name}"] = -change[m].sum()
            out[f"profit:{group}:{lever.name}"] = -np.dot(profit[m], change[m])
    drops = {name: np.where(frames.room[name], p["base"] - p[f"cf:{name}"], 0.0)
             for name in ("more_marketing", "marketing_this_month")}
    return out, drops


def test_a_logit_replicate_is_the_statsmodels_refit_on_the_same_resampled_customers():
    frame = _small_frame()
    pair = _logit_pair(frame)
    reference = actions.support_reference(frame)
    frames = decisions.evaluation_frames(frame, reference, LEVERS)
    plan = _plan_of(frame, frames)
    y = frame[TARGET].to_numpy()
    task = decisions.bootstrap_task(pair, frames, plan, y)
    X = _design(frame)
    np.testing.assert_array_equal(task.X, X)
    np.testing.assert_array_equal(task.y, y.astype(float))
    assert y.dtype != np.float64 and task.y.dtype == np.float64
    assert task.penalty is None and task.alphas == () and task.estimator is None
    assert task.designs.shape == (len(frames.keys), len(frame), X.shape[1])
    for k, key in enumerate(frames.keys):
        np.testing.assert_array_equal(task.designs[k], _design(frames.frames[key]))
    # the full-data solution is where the replicates' Newton runs start
    assert list(task.starts) == [0.0]
    np.testing.assert_allclose(task.starts[0.0], pair.inference.params, rtol=1e-7, atol=1e-9)

    boot = decisions.bootstrap_procedure(task, pair, seed=5, n_boot=2, n_jobs=1, conf_level=0.8)
    assert (boot.conf_level, boot.method) == (0.8, "normal")
    est, drops0 = _statistics_by_hand(frame, frames, plan, np.asarray(pair.inference.params))
    assert list(boot.estimates.index) == list(est)
    np.testing.assert_allclose(boot.estimates.to_numpy(), list(est.values()), rtol=1e-10, atol=1e-13)
    assert list(boot.drops_estimate) == ["more_marketing", "marketing_this_month"]
    for name in drops0:
        np.testing.assert_allclose(boot.drops_estimate[name], drops0[name], rtol=1e-10, atol=1e-14)
    assert list(boot.replicates.columns) == list(est) and len(boot.replicates) == 2
    assert list(boot.drops) == ["more_marketing", "marketing_this_month"]
    for b in range(2):
        idx = replicate_rng(5, b).integers(0, len(y), size=len(y))
        beta = _mle(X[idx], y[idx])
        rep, drops = _statistics_by_hand(frame, frames, plan, beta)
        np.testing.assert_allclose(boot.replicates.iloc[b].to_numpy(), list(rep.values()), rtol=1e-6, atol=1e-9)
        for name in drops:
            assert boot.drops[name].shape == (2, len(frame))
            np.testing.assert_allclose(boot.drops[name][b], drops[name], rtol=1e-6, atol=1e-9)
    nan = [np.nan, np.nan]
    expected_info = pd.DataFrame({"replicate": np.arange(2), "alpha": nan, "floor": nan, "ceiling": nan,
                                  "slope": nan, "shift": nan, "converged": [True, True]})
    pd.testing.assert_frame_equal(boot.info, expected_info)


def test_replicate_b_depends_on_the_seed_and_b_only():
    frame = _small_frame(150, 7)
    pair = _logit_pair(frame)
    frames = decisions.evaluation_frames(frame, actions.support_reference(frame), LEVERS)
    plan = _plan_of(frame, frames)
    task = decisions.bootstrap_task(pair, frames, plan, frame[TARGET].to_numpy())
    one = decisions.bootstrap_procedure(task, pair, seed=3, n_boot=3, n_jobs=1)
    again = decisions.bootstrap_procedure(task, pair, seed=3, n_boot=3, n_jobs=1)
    pd.testing.assert_frame_equal(one.replicates, again.replicates, check_exact=True)
    fewer = decisions.bootstrap_procedure(task, pair, seed=3, n_boot=2)
    pd.testing.assert_frame_equal(fewer.replicates, one.replicates.iloc[:2])
    assert fewer.conf_level == 0.95
    other = decisions.bootstrap_procedure(task, pair, seed=4, n_boot=1)
    assert np.all(other.replicates.iloc[0].to_numpy() != one.replicates.iloc[0].to_numpy())


def test_a_plan_without_statistics_gives_an_empty_float_series():
    X, y = _logit_data(40)
    plan = decisions.StatisticPlan(keys=["base"], groups={}, room={}, steps={}, profit=np.ones(40),
                                   scenario_levers=[], ame_columns=[], drop_levers=[])
    task = decisions.BootstrapTask(X=X, y=y, penalty=None, alphas=(), designs=X[None], plan=plan)
    pair = ModelPair("logit_linear", "logit_linear", SimpleNamespace(params=np.zeros(3)), None, None, None)
    boot = decisions.bootstrap_procedure(task, pair, seed=1, n_boot=2)
    assert len(boot.estimates) == 0 and boot.estimates.dtype == np.float64
    assert boot.replicates.shape == (2, 0) and boot.drops == {}


def test_no_replicate_gives_empty_tables():
    frame = _small_frame(120, 9)
    pair = _logit_pair(frame)
    frames = decisions.evaluation_frames(frame, actions.support_reference(frame), LEVERS)
    plan = _plan_of(frame, frames)
    task = decisions.bootstrap_task(pair, frames, plan, frame[TARGET].to_numpy())
    boot = decisions.bootstrap_procedure(task, pair, seed=1, n_boot=0)
    assert boot.drops == {} and len(boot.replicates) == 0
    assert list(boot.replicates.columns) == list(boot.estimates.index)
    assert list(boot.info.columns) == ["replicate", "alpha", "floor", "ceiling", "slope", "shift", "converged"]
    assert len(boot.info) == 0


# ---------------------------------------------------------------------------------------------------------
# The GAM path: the weight by AIC redone on every resample
# ---------------------------------------------------------------------------------------------------------
ALPHAS = (0.01, 3.0, 300.0)


def _ridge(k: int) -> np.ndarray:
    return np.diag([0.0] + [1.0] * (k - 1))


def test_a_gam_replicate_redoes_the_weight_by_aic_on_the_resample():
    from stats.gam import choose_weight, fit_penalized_logit

    frame = _small_frame(200, 13)
    X, y = _design(frame), frame[TARGET].to_numpy(float)
    S = _ridge(X.shape[1])
    _, full = choose_weight(X, y, S, ALPHAS)
    est = SimpleNamespace(design_matrix_=X, penalty_=S, alphas=list(ALPHAS), design=_design, params_=full["params"])
    # the inference link's own coefficients are not the GAM's: the estimates must come from the estimator
    link = logit_link_model(_design, np.zeros(X.shape[1]), np.eye(X.shape[1]))
    pair = ModelPair("gam_engagement", "gam_engagement_recalibrated", link, link, None, est)
    frames = decisions.evaluation_frames(frame, actions.support_reference(frame), LEVERS)
    plan = _plan_of(frame, frames)
    task = decisions.bootstrap_task(pair, frames, plan, frame[TARGET].to_numpy())
    assert task.penalty is S and task.alphas == ALPHAS and task.estimator is None
    np.testing.assert_array_equal(task.X, X)
    for k, key in enumerate(frames.keys):
        np.testing.assert_array_equal(task.designs[k], _design(frames.frames[key]))
    assert list(task.starts) == list(ALPHAS)
    for alpha in ALPHAS:
        np.testing.assert_allclose(task.starts[alpha], fit_penalized_logit(X, y, alpha * S)["params"],
                                   rtol=1e-6, atol=1e-9)
    boot = decisions.bootstrap_procedure(task, pair, seed=8, n_boot=2)
    est0, _ = _statistics_by_hand(frame, frames, plan, full["params"])
    np.testing.assert_allclose(boot.estimates.to_numpy(), list(est0.values()), rtol=1e-10, atol=1e-13)
    alphas = []
    for b in range(2):
        idx = replicate_rng(8, b).integers(0, len(y), size=len(y))
        alpha, fit = choose_weight(X[idx], y[idx], S, ALPHAS)  # cold starts, the default tolerance
        alphas.append(alpha)
        rep, drops = _statistics_by_hand(frame, frames, plan, fit["params"])
        np.testing.assert_allclose(boot.replicates.iloc[b].to_numpy(), list(rep.values()), rtol=1e-6, atol=1e-9)
        for name in drops:
            np.testing.assert_allclose(boot.drops[name][b], drops[name], rtol=1e-6, atol=1e-9)
    assert boot.info["alpha"].tolist() == alphas
    assert boot.info["converged"].tolist() == [True, True]


# ---------------------------------------------------------------------------------------------------------
# Which path a model takes
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("code, generic, estimator", [
    ("logit_selected", False, "SelectedLogitClassifier"), ("logit_floor", False, "FloorLogitClassifier"),
    ("logit_linear", True, "FormulaLogitClassifier"), ("logit_promo_flexible", True, "ClusterPromotionLogit"),
    ("gam_engagement", True, "PenalizedSplineLogitClassifier")])
def test_the_generic_path_refits_the_candidate_estimator(code, generic, estimator):
    from analysis.modeling.features import PREDICTORS

    frame = _small_frame(40, 5)
    frames = decisions.evaluation_frames(frame, actions.support_reference(frame), LEVERS)
    plan = _plan_of(frame, frames)
    pair = ModelPair(code, code, None, None, None, None)
    y = frame[TARGET].to_numpy()
    task = decisions.bootstrap_task(pair, frames, plan, y, generic=generic)
    assert type(task.estimator).__name__ == estimator
    assert not hasattr(task.estimator, "classes_")  # a fresh, unfitted candidate
    assert task.X.shape == (0, 0) and task.designs.shape == (0, 0, 0)
    assert task.penalty is None and task.alphas == () and task.starts is None and task.plan is plan
    np.testing.assert_array_equal(task.y, y.astype(float))
    assert task.y.dtype == float
    assert len(task.frames_X) == len(frames.keys)
    for f, key in zip(task.frames_X, frames.keys):
        source = frames.frames[key]
        assert list(f.columns) == list(PREDICTORS)
        for column in PREDICTORS:
            if pd.api.types.is_string_dtype(source[column].dtype):
                assert f[column].dtype == object
            else:
                assert f[column].dtype == source[column].dtype
            assert f[column].tolist() == source[column].tolist()
    assert task.X_frame is task.frames_X[0]


def test_the_fast_path_stacks_the_frames_with_fresh_row_labels_into_a_float_design():
    frame = _small_frame(60, 6)
    columns = ["marketing_6m", "marketing_current", "unpaid_items", "promo_share_10pp"]

    def design(f):
        # whole-number columns (an integer design) through an operation that needs unique row labels
        assert f.index.equals(pd.RangeIndex(len(f)))
        return np.column_stack([np.ones(len(f), dtype=int)] + [np.round(f[c].to_numpy()).astype(int)
                                                                for c in columns])

    link = logit_link_model(design, np.zeros(5), np.eye(5))
    pair = ModelPair("logit_linear", "logit_linear", link, link, None, None)
    frames = decisions.evaluation_frames(frame, actions.support_reference(frame), LEVERS)
    task = decisions.bootstrap_task(pair, frames, _plan_of(frame, frames), frame[TARGET].to_numpy())
    assert task.X.dtype == np.float64 and task.designs.dtype == np.float64
    for k, key in enumerate(frames.keys):
        f = frames.frames[key].reset_index(drop=True)
        np.testing.assert_array_equal(task.designs[k], design(f))


def test_the_fast_path_of_the_cluster_promotion_logit():
    frame = _small_frame(120, 6)
    pair = _logit_pair(frame, code="logit_promo_flexible")
    frames = decisions.evaluation_frames(frame, actions.support_reference(frame), LEVERS)
    task = decisions.bootstrap_task(pair, frames, _plan_of(frame, frames), frame[TARGET].to_numpy())
    assert task.estimator is None and task.penalty is None and list(task.starts) == [0.0]
    np.testing.assert_array_equal(task.X, _design(frame))


# ---------------------------------------------------------------------------------------------------------
# The generic replicate, with a hand-made estimator
# ---------------------------------------------------------------------------------------------------------
def _mean_model_p(x, rate, centre):
    return rate * expit(x - centre)


class _MeanModel(BaseEstimator):
    """p = rate · expit(x − centre), rate and centre the training rows' means of y and x; it is fitted on the
    predictor columns only, indexed 0 … n − 1."""

    def fit(self, X, y):
        if list(X.columns) != ["x", "cat"] or not X.index.equals(pd.RangeIndex(len(X))):
            raise ValueError("unexpected training rows")
        self.rate_ = float(np.mean(y))
        self.centre_ = float(X["x"].mean())
        return self

    def predict_proba(self, X):
        p = _mean_model_p(X["x"].to_numpy(float), self.rate_, self.centre_)
        return np.column_stack([1 - p, p])


class _InfoModel(_MeanModel):
    def __init__(self, info=None):
        self.info = info

    def cv_info(self):
        return self.info


N_GENERIC = 30
H = 1e-3


def _generic_task(estimator, cat=None) -> decisions.BootstrapTask:
    rng = np.random.default_rng(2)
    x = np.round(rng.normal(size=N_GENERIC), 3)
    if cat is None:
        cat = np.array(["rare"] + ["common"] * (N_GENERIC - 1), dtype=object)   # a level only customer 0 has
    y = (rng.uniform(size=N_GENERIC) < 0.4).astype(float)
    room = np.arange(N_GENERIC) % 3 != 0
    base = pd.DataFrame({"x": x, "cat": cat})
    frames_X = [base, base.assign(x=np.where(room, x + 1.0, x)), base.assign(x=x + H), base.assign(x=x - H)]
    plan = decisions.StatisticPlan(keys=["base", "cf:a", "up:x", "down:x"], groups={"g": np.ones(N_GENERIC, bool)},
                                   room={"a": room}, steps={"x": H}, profit=np.linspace(1.0, 2.0, N_GENERIC),
                                   scenario_levers=["a"], ame_columns=["x"], drop_levers=["a"])
    return decisions.BootstrapTask(X=np.empty((0, 0)), y=y, penalty=None, alphas=(), designs=np.empty((0, 0, 0)),
                                   plan=plan, estimator=estimator, frames_X=frames_X, X_frame=base)


def _generic_expected(task, seed, b, draws=None):
    """The replicate by hand: draws from the replicate's stream until customer 0 (the rare level) is in (or,
    with ``draws``, exactly that many draws, the last one used)."""
    rng = replicate_rng(seed, b)
    n_draws = 0
    while True:
        idx = rng.integers(0, N_GENERIC, size=N_GENERIC)
        n_draws += 1
        if (draws is None and 0 in idx) or n_draws == draws:
            break
    x, y = task.X_frame["x"].to_numpy(), task.y
    rate, centre = y[idx].mean(), x[idx].mean()
    p = [_mean_model_p(f["x"].to_numpy(), rate, centre) for f in task.frames_X]
    room, profit = task.plan.room["a"], task.plan.profit
    change = p[1] - p[0]
    scalars = {"ame:x": np.mean(p[2] - p[3]) / (2 * H),
               "effect:g:a": change[room].mean(), "kept:g:a": -change[room].sum(),
               "profit:g:a": -(profit[room] * change[room]).sum()}
    return scalars, np.where(room, -change, 0.0), n_draws


def test_a_generic_replicate_refits_the_estimator_on_a_resample_with_every_level():
    task = _generic_task(_MeanModel())
    seed = 4
    redrawn = [b for b in range(20) if _generic_expected(task, seed, b)[2] > 1]
    assert redrawn  # some replicate needs a second draw
    for b in [0, redrawn[0]]:
        scalars, drops, alpha, converged = decisions._generic_replicate(task, seed, b)
        expected, expected_drops, _ = _generic_expected(task, seed, b)
        assert list(scalars) == list(expected)
        np.testing.assert_allclose(list(scalars.values()), list(expected.values()), rtol=1e-9)
        np.testing.assert_allclose(drops["a"], expected_drops, rtol=1e-9, atol=1e-15)
        assert np.isnan(alpha) and converged is True
    # the estimator of the task is not fitted itself (a clone is)
    assert not hasattr(task.estimator, "rate_")


def test_a_generic_replicate_without_a_resample_with_every_level_uses_the_100th_draw():
    # every customer has a level of their own: no resample of 30 draws holds all 30 levels
    task = _generic_task(_MeanModel(), cat=np.array([f"level{i}" for i in range(N_GENERIC)], dtype=object))
    scalars, drops, _, _ = decisions._generic_replicate(task, 2, 1)
    expected, expected_drops, _ = _generic_expected(task, 2, 1, draws=100)
    np.testing.assert_allclose(list(scalars.values()), list(expected.values()), rtol=1e-9)
    np.testing.assert_allclose(drops["a"], expected_drops, rtol=1e-9, atol=1e-15)


class _NoisyModel(_MeanModel):
    """Overflows, divides by zero and makes a NaN while fitting and predicting."""

    def fit(self, X, y):
        np.exp(np.array([1000.0])), np.array([1.0]) / 0.0, np.array([0.0]) / 0.0
        return super().fit(X, y)

    def predict_proba(self, X):
        np.exp(np.array([1000.0])), np.array([1.0]) / 0.0, np.array([0.0]) / 0.0
        return super().predict_proba(X)


def test_a_generic_replicate_silences_floating_point_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decisions._generic_replicate(_generic_task(_NoisyModel()), 1, 0)


@pytest.mark.parametrize("info, converged", [({"converged": False}, False), ({"converged": 1}, True),
                                             ({}, True), (None, True), ("text", True)])
def test_a_generic_replicate_reports_the_estimators_convergence(info, converged):
    out = decisions._generic_replicate(_generic_task(_InfoModel(info=info)), 1, 0)
    assert out[3] is converged


def test_the_bootstrap_of_the_generic_path():
    task = _generic_task(_InfoModel(info={"converged": False}))

    def predict(f):
        return 0.3 + 0.2 * f["x"].to_numpy()

    pair = SimpleNamespace(inference=SimpleNamespace(predict=predict), inference_code="x", estimator=None)
    boot = decisions.bootstrap_procedure(task, pair, seed=6, n_boot=3)
    room, profit = task.plan.room["a"], task.plan.profit
    change = np.where(room, 0.2, 0.0)
    expected = pd.Series({"ame:x": 0.2, "effect:g:a": 0.2, "kept:g:a": -0.2 * room.sum(),
                          "profit:g:a": -0.2 * profit[room].sum()})
    pd.testing.assert_series_equal(boot.estimates, expected, rtol=1e-9)
    np.testing.assert_allclose(boot.drops_estimate["a"], -change, atol=1e-15)
    for b in range(3):
        scalars, drops, _ = _generic_expected(task, 6, b)
        np.testing.assert_allclose(boot.replicates.iloc[b].to_numpy(), list(scalars.values()), rtol=1e-9)
        np.testing.assert_allclose(boot.drops["a"][b], drops, rtol=1e-9, atol=1e-15)
    assert boot.info["converged"].tolist() == [False, False, False]
    assert boot.info["alpha"].isna().all()


def test_replicates_run_with_one_thread(monkeypatch):
    import contextlib

    import threadpoolctl

    limits = []

    @contextlib.contextmanager
    def spy(limits_=None, **kwargs):
        limits.append((limits_, kwargs))
        yield

    monkeypatch.setattr(threadpoolctl, "threadpool_limits", lambda limits=None, **kw: spy(limits, **kw))
    decisions._one_replicate(_generic_task(_MeanModel()), 1, 0)
    X = np.column_stack([np.ones(40), np.linspace(-1, 1, 40)])
    y = (np.arange(40) % 3 == 0).astype(float)
    decisions._one_replicate(_tiny_task(X, y), 1, 0)
    assert limits == [(1, {}), (1, {})]


# ---------------------------------------------------------------------------------------------------------
# The fast replicate: redraws, _fit
# ---------------------------------------------------------------------------------------------------------
def _tiny_task(X: np.ndarray, y: np.ndarray, penalty=None, alphas=(), starts=None) -> decisions.BootstrapTask:
    plan = decisions.StatisticPlan(keys=["base", "up:x", "down:x"], groups={}, room={}, steps={"x": 0.5},
                                   profit=np.ones(len(y)), scenario_levers=[], ame_columns=["x"], drop_levers=[])
    up, down = X.copy(), X.copy()
    up[:, 1] += 0.5
    down[:, 1] -= 0.5
    return decisions.BootstrapTask(X=X, y=y, penalty=penalty, alphas=alphas, designs=np.stack([X, up, down]),
                                   plan=plan, starts=starts)


def _spy_on_resample(monkeypatch) -> list:
    """Record every resample ``_one_replicate`` draws (the draws themselves unchanged)."""
    draws, real = [], decisions.resample

    def spy(size, generator):
        draws.append(real(size, generator))
        return draws[-1]

    monkeypatch.setattr(decisions, "resample", spy)
    return draws


def test_a_resample_without_a_category_level_is_drawn_again(monkeypatch):
    n = 30
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    rare = np.zeros(n)
    rare[0] = 1.0  # a level only customer 0 has
    X = np.column_stack([np.ones(n), x, rare])
    y = (rng.uniform(size=n) < expit(x)).astype(float)
    y[0] = 1.0
    # a replicate whose first draw misses customer 0
    b = next(b for b in range(100) if 0 not in replicate_rng(4, b).integers(0, n, size=n))
    draws = _spy_on_resample(monkeypatch)
    decisions._one_replicate(_tiny_task(X, y), 4, b)
    assert len(draws) >= 2
    assert all(0 not in d for d in draws[:-1]) and 0 in draws[-1]
    stream = replicate_rng(4, b)  # the redraws come from the replicate's own stream, in order
    for d in draws:
        np.testing.assert_array_equal(d, stream.integers(0, n, size=n))
    # a level nobody has can never be drawn: the replicate says so after 100 tries
    X0 = np.column_stack([np.ones(n), x, np.zeros(n)])
    with pytest.raises(RuntimeError, match="bootstrap replicate 3: 100 resamples in a row lack a category level"):
        decisions._one_replicate(_tiny_task(X0, y), 4, 3)


def test_a_fast_replicate_redraws_a_resample_missing_a_level():
    n = 30
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    rare = np.zeros(n)
    rare[:2] = -1.0  # a level only customers 0 and 1 have (a negative column: its absolute value counts)
    X = np.column_stack([np.ones(n), x, rare])
    y = (rng.uniform(size=n) < expit(x)).astype(float)
    y[:2] = [1.0, 0.0]

    def has_level(idx):
        return 0 in idx or 1 in idx

    b = next(b for b in range(100) if not has_level(replicate_rng(4, b).integers(0, n, size=n)))
    stream = replicate_rng(4, b)
    while True:
        idx = stream.integers(0, n, size=n)
        if has_level(idx):
            break
    beta = _mle(X[idx], y[idx])
    scalars, drops, alpha, converged = decisions._one_replicate(_tiny_task(X, y), 4, b)
    p_up, p_down = expit((X + [0, 0.5, 0]) @ beta), expit((X - [0, 0.5, 0]) @ beta)
    assert scalars == {"ame:x": pytest.approx(np.mean(p_up - p_down), rel=1e-6)}
    assert drops == {} and np.isnan(alpha) and converged is True


def test_a_fast_replicate_gives_up_after_100_resamples(monkeypatch):
    n = 30
    x = np.linspace(-1, 1, n)
    y = (np.arange(n) % 2).astype(float)
    draws = _spy_on_resample(monkeypatch)
    # a level nobody has can never be drawn: the replicate says so after 100 tries
    X0 = np.column_stack([np.ones(n), x, np.zeros(n)])
    with pytest.raises(RuntimeError) as error:
        decisions._one_replicate(_tiny_task(X0, y), 4, 3)
    assert str(error.value) == "bootstrap replicate 3: 100 resamples in a row lack a category level"
    assert len(draws) == 100


def test_a_fast_replicate_starts_newton_at_the_full_data_solution(monkeypatch):
    X, y = _logit_data()
    starts = {0.0: np.array([0.2, 0.9, -0.4])}
    calls = _spy_fits(monkeypatch)
    decisions._one_replicate(_tiny_task(X, y, starts=starts), 1, 0)
    assert len(calls) == 1 and calls[0]["start"] is starts[0.0]


def _spy_fits(monkeypatch, tweak=None):
    """Record every call of stats.gam.fit_penalized_logit (``tweak(result, kwargs)`` may alter its result)."""
    import stats.gam as gam

    calls = []
    real = gam.fit_penalized_logit

    def spy(X, y, penalty, **kwargs):
        out = real(X, y, penalty, **kwargs)
        calls.append({"penalty": np.asarray(penalty), **kwargs})
        return tweak(out, kwargs) if tweak else out

    monkeypatch.setattr(gam, "fit_penalized_logit", spy)
    return calls


def _logit_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    y = (rng.uniform(size=n) < expit(X @ [0.2, 1.0, -0.5])).astype(float)
    return X, y


def test_fit_of_the_logit_is_plain_newton_to_1e8_from_the_start(monkeypatch):
    X, y = _logit_data()
    calls = _spy_fits(monkeypatch)
    start = np.array([0.1, 0.5, -0.1])
    fits = {}
    alpha, fit = decisions._fit(X, y, None, (), starts={0.0: start}, fits=fits)
    assert np.isnan(alpha) and fit["converged"]
    np.testing.assert_allclose(fit["params"], _mle(X, y), rtol=1e-7)
    assert list(fits) == [0.0] and fits[0.0] is fit["params"]
    assert len(calls) == 1
    call = calls[0]
    assert call["damped"] is False and call["tol"] == 1e-8 and call["start"] is start
    np.testing.assert_array_equal(call["penalty"], np.zeros((3, 3)))
    # without starts: from zero
    calls.clear()
    decisions._fit(X, y, None, ())
    assert calls[0]["start"] is None and calls[0]["damped"] is False


def test_fit_falls_back_to_damped_newton_when_plain_newton_fails(monkeypatch):
    X, y = _logit_data()

    def not_converged(out, kwargs):
        return {**out, "converged": False, "tag": "plain"} if not kwargs["damped"] else {**out, "tag": "damped"}

    calls = _spy_fits(monkeypatch, not_converged)
    _, fit = decisions._fit(X, y, None, ())
    assert fit["tag"] == "damped" and [c["damped"] for c in calls] == [False, True]
    assert calls[1]["tol"] == 1e-8

    def not_finite(out, kwargs):
        if kwargs["damped"]:
            return {**out, "tag": "damped"}
        return {**out, "params": out["params"] * np.array([1.0, np.inf, 1.0]), "tag": "plain"}

    monkeypatch.undo()
    calls = _spy_fits(monkeypatch, not_finite)
    _, fit = decisions._fit(X, y, None, ())
    assert fit["tag"] == "damped" and [c["damped"] for c in calls] == [False, True]

    # the GAM: every weight refitted by damped Newton when the chosen one failed
    monkeypatch.undo()
    calls = _spy_fits(monkeypatch, not_converged)
    _, fit = decisions._fit(X, y, _ridge(3), ALPHAS)
    assert fit["tag"] == "damped" and [c["damped"] for c in calls] == [False] * 3 + [True] * 3

    def fine(out, kwargs):
        return {**out, "tag": "damped" if kwargs["damped"] else "plain"}

    monkeypatch.undo()
    calls = _spy_fits(monkeypatch, fine)
    _, fit = decisions._fit(X, y, None, ())
    assert fit["tag"] == "plain" and [c["damped"] for c in calls] == [False]


def test_fit_solves_a_singular_hessian_by_damped_newton():
    X, y = _logit_data()
    Xz = np.column_stack([X, np.zeros(len(y))])  # a column without variation: plain Newton cannot solve
    alpha, fit = decisions._fit(Xz, y, None, ())
    assert np.isnan(alpha)
    np.testing.assert_allclose(fit["params"][:3], _mle(X, y), rtol=1e-6)
    assert fit["params"][3] == 0.0


def test_fit_of_the_gam_chooses_the_weight_by_aic(monkeypatch):
    from stats.gam import choose_weight

    X, y = _logit_data(150, 3)
    S = _ridge(3)
    expected_alpha, expected = choose_weight(X, y, S, ALPHAS)
    calls = _spy_fits(monkeypatch)
    fits = {}
    starts = {a: np.zeros(3) + 0.01 * k for k, a in enumerate(ALPHAS)}
    alpha, fit = decisions._fit(X, y, S, ALPHAS, starts=starts, fits=fits)
    assert alpha == expected_alpha
    np.testing.assert_allclose(fit["params"], expected["params"], rtol=1e-7)
    assert list(fits) == list(ALPHAS)
    assert [c["tol"] for c in calls] == [1e-8] * 3 and [c["damped"] for c in calls] == [False] * 3
    for call, a in zip(calls, ALPHAS):
        assert call["start"] is starts[a]
        np.testing.assert_allclose(call["penalty"], a * S)


def test_fit_near_a_weight_searches_the_grid_locally(monkeypatch):
    import stats.gam as gam

    X, y = _logit_data(150, 3)
    S = _ridge(3)
    grid = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
    expected_alpha, expected = gam.choose_weight(X, y, S, grid)
    searched = []
    real = gam.search_weight

    def spy(*args, **kwargs):
        searched.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(gam, "search_weight", spy)
    calls = _spy_fits(monkeypatch)
    fits = {}
    starts = {a: np.zeros(3) for a in grid}
    alpha, fit = decisions._fit(X, y, S, grid, starts=starts, fits=fits, near=1000.0)
    assert alpha == expected_alpha
    np.testing.assert_allclose(fit["params"], expected["params"], rtol=1e-7)
    assert len(searched) == 1
    assert searched[0]["first"] == 1000.0 and searched[0]["tol"] == 1e-8 and searched[0]["damped"] is False
    assert searched[0]["fits"] is fits and searched[0]["starts"] is starts
    assert calls[0]["penalty"] == pytest.approx(1000.0 * S)  # the search starts at the given weight
    assert len(calls) < len(grid)


# ---------------------------------------------------------------------------------------------------------
# Effects under every model, deployed predictions, the whole stage (hand-made logit links)
# ---------------------------------------------------------------------------------------------------------
EFFECT_COLUMNS = ["model", "role", "tied", "action", "kind", "quantity", "group", "n_customers", "estimate",
                  "std_error", "conf_low", "conf_high", "interval"]


def _effect_rows(name, link, role, tied, frame, group, reference, levers, conf_level):
    """The delta-method rows of one model from the package's own AMEs and scenarios (the oracle)."""
    from stats.link_margins import average_marginal_effects

    columns = list(dict.fromkeys(lever.column for lever in levers))
    ames = average_marginal_effects(link, frame, numeric=columns, conf_level=conf_level).set_index("variable")
    scen = actions.scenarios(frame, link, {"high_risk_all": group}, reference, levers=levers,
                             conf_level=conf_level).set_index("action")
    rows = []
    for lever in levers:
        a, s = ames.loc[lever.column], scen.loc[lever.name]
        common = {"model": name, "role": role, "tied": tied, "action": lever.name, "kind": lever.kind}
        rows.append({**common, "quantity": "ame", "group": "all", "n_customers": len(frame),
                     "estimate": a["estimate"], "std_error": a["std_error"], "conf_low": a["conf_low"],
                     "conf_high": a["conf_high"], "interval": "delta"})
        rows.append({**common, "quantity": "scenario", "group": "high_risk_all",
                     "n_customers": int(s["n_with_room"]), "estimate": s["effect"], "std_error": s["std_error"],
                     "conf_low": s["conf_low"], "conf_high": s["conf_high"], "interval": "delta"})
    return rows


def _links(frame):
    X, y = _design(frame), frame[TARGET].to_numpy(float)
    beta = _mle(X, y)
    p = expit(X @ beta)
    cov = np.linalg.inv(X.T @ (X * (p * (1 - p))[:, None]))
    return beta, cov


def test_effects_by_model_with_the_default_levers_and_level():
    frame = _small_frame(150, 19)
    beta, cov = _links(frame)
    a = logit_link_model(_design, beta, cov)
    b = logit_link_model(_design, 0.7 * beta, 2 * cov)
    group = frame["marketing_6m"].to_numpy() < 4.5
    reference = actions.support_reference(frame)
    out = decisions.effects_by_model({"b": (b, "candidate", False), "a": (a, "inference", True)}, frame, group,
                                     reference)
    expected = pd.DataFrame(_effect_rows("b", b, "candidate", False, frame, group, reference, LEVERS, 0.95)
                            + _effect_rows("a", a, "inference", True, frame, group, reference, LEVERS, 0.95),
                            columns=EFFECT_COLUMNS)
    pd.testing.assert_frame_equal(out, expected, rtol=1e-12)


def test_effects_by_model_without_a_model_is_an_empty_table_with_its_columns():
    frame = _small_frame(40, 19)
    out = decisions.effects_by_model({}, frame, np.ones(len(frame), bool), actions.support_reference(frame))
    pd.testing.assert_frame_equal(out, pd.DataFrame([], columns=EFFECT_COLUMNS))


def test_effects_by_model_of_chosen_levers_at_another_level_with_bootstrap_rows():
    frame = _small_frame(150, 19)
    beta, cov = _links(frame)
    a = logit_link_model(_design, beta, cov)
    group = frame["id"].to_numpy() % 2 == 0
    reference = actions.support_reference(frame)
    levers = (actions.LEVER_BY_NAME["cart_reminder"], actions.LEVER_BY_NAME["more_marketing"])
    extra = pd.DataFrame({"interval": ["bootstrap"], "conf_high": [-0.8], "conf_low": [-1.2], "std_error": [0.1],
                          "estimate": [-1.0], "n_customers": [150], "group": ["all"], "quantity": ["ame"],
                          "kind": ["action"], "action": ["more_marketing"], "tied": [True], "role": ["inference"],
                          "model": ["a"], "note": ["not kept"]})
    out = decisions.effects_by_model({"a": (a, "inference", True)}, frame, group, reference, levers=levers,
                                     conf_level=0.8, bootstrap_rows=extra)
    rows = _effect_rows("a", a, "inference", True, frame, group, reference, levers, 0.8)
    expected = pd.concat([pd.DataFrame(rows, columns=EFFECT_COLUMNS), extra[EFFECT_COLUMNS]], ignore_index=True)
    pd.testing.assert_frame_equal(out, expected, rtol=1e-12)
    # no bootstrap row: the delta rows alone
    empty = decisions.effects_by_model({"a": (a, "inference", True)}, frame, group, reference, levers=levers,
                                       conf_level=0.8, bootstrap_rows=extra.iloc[:0])
    pd.testing.assert_frame_equal(empty, pd.DataFrame(rows, columns=EFFECT_COLUMNS), rtol=1e-12)


def _thresholds(frame) -> Thresholds:
    return Thresholds(risk=0.4, profit=float(frame["profit"].median()), promo=0.8, profit_quantile=0.5)


@pytest.mark.parametrize("conf_level, whole", [(None, False), (0.8, True)])
def test_deployed_predictions_are_the_business_models_offers_beside_the_out_of_fold_risk(conf_level, whole):
    from analysis.modeling.effects import change_std_error

    frame = _small_frame(150, 23)
    beta, cov = _links(frame)
    inference = logit_link_model(_design, beta, cov)
    business = logit_link_model(_design, 1.3 * beta, cov)
    pair = ModelPair("logit_linear", "other", inference, business, None, None)
    # out-of-fold risks as whole numbers (0/1) are written as floats
    p_oof = (np.arange(len(frame)) % 2).tolist() if whole else np.linspace(0.1, 0.9, len(frame))
    reference = actions.support_reference(frame)
    allowed = ["marketing_this_month", "more_marketing"]
    kwargs = {} if conf_level is None else {"conf_level": conf_level}
    out = decisions.deployed_predictions(pair, frame, p_oof, _thresholds(frame), allowed, reference, **kwargs)
    p = expit(_design(frame) @ (1.3 * beta))
    offers = actions.customer_offers(frame, inference.predict, p, _thresholds(frame), allowed, reference,
                                     drop_se=change_std_error(inference), conf_level=conf_level or 0.95)
    assert (offers["offer"].isin(allowed)).any() and (offers["risk_drop_conf_high"] > offers["risk_drop"]).any()
    expected = pd.DataFrame({"id": frame["id"].to_numpy(), "p_oof": np.array(p_oof, dtype=float), "p_deployed": p,
                             "segment": offers["segment"], "offer": offers["offer"], "risk_drop": offers["risk_drop"],
                             "risk_drop_conf_low": offers["risk_drop_conf_low"],
                             "risk_drop_conf_high": offers["risk_drop_conf_high"]})
    pd.testing.assert_frame_equal(out, expected, rtol=1e-12)


def _with_bootstrap(table: pd.DataFrame, boot, z: float) -> pd.DataFrame:
    """The scenario rows the bootstrap covers with its SD and estimate ± z·SD (by hand)."""
    out = table.copy()
    for i in out.index:
        key = f"{out.at[i, 'group']}:{out.at[i, 'action']}"
        if f"effect:{key}" not in boot.estimates.index:
            continue
        for stat, low, high, se in (("effect", "conf_low", "conf_high", "std_error"),
                                    ("kept", "customers_kept_low", "customers_kept_high", None),
                                    ("profit", "profit_retained_upper_low", "profit_retained_upper_high", None)):
            est = boot.estimates[f"{stat}:{key}"]
            sd = float(np.std(boot.replicates[f"{stat}:{key}"].to_numpy(), ddof=1))
            out.at[i, low], out.at[i, high] = est - z * sd, est + z * sd
            if se:
                out.at[i, se] = sd
        out.at[i, "interval"] = "bootstrap"
    return out


def _whole_marketing_design(frame: pd.DataFrame) -> np.ndarray:
    X = _design(frame)
    X[:, 1] = np.floor(frame["marketing_6m"].to_numpy(float) + 0.05)
    return X


def _decide_case(monkeypatch, same_business: bool):
    import analysis.modeling.benchmark as benchmark
    import analysis.modeling.pair as pair_module

    frame = _small_frame(200, 17)
    beta, cov = _links(frame)
    inference = logit_link_model(_design, beta, cov)
    # cand_b sees marketing_6m only through its whole part: no derivative (its AME interval is [0, 0]), yet a
    # contact more moves it (its scenario does): the action tests must use the AMEs
    others = {"cand_b": logit_link_model(_whole_marketing_design, 0.8 * beta, cov),
              "cand_c": logit_link_model(_design, 1.1 * beta, 2 * cov)}
    requested = []

    def fake_link_model(code, f, formula):
        requested.append((code, f is frame, formula))
        return others[code], None

    monkeypatch.setattr(benchmark, "INTERPRETABLE", ("cand_b", "logit_linear", "cand_c"))
    monkeypatch.setattr(pair_module, "link_model", fake_link_model)
    business = inference if same_business else logit_link_model(_design, 0.9 * beta, cov)
    business_code = "logit_linear" if same_business else "logit_linear_recalibrated"
    pair = ModelPair("logit_linear", business_code, inference, business, None, None)
    candidates = pd.DataFrame({"model": ["cand_b", "logit_linear", "cand_c", "logit_linear_recalibrated"],
                               "tied": [1, 1, 0, 1]}, index=[10, 11, 12, 13])
    p_label = business.predict(frame)
    groups = {"high_risk_all": p_label >= 0.4, "odd": frame["id"].to_numpy() % 2 == 1}
    return SimpleNamespace(frame=frame, pair=pair, others=others, candidates=candidates, p_label=p_label,
                           groups=groups, requested=requested, inference=inference, business=business)


@pytest.mark.parametrize("same_business", [True, False])
def test_decide_puts_the_pieces_together(monkeypatch, same_business):
    from analysis.modeling.effects import change_std_error
    from stats.link_margins import average_marginal_effects

    c = _decide_case(monkeypatch, same_business)
    frame, groups, conf, z = c.frame, c.groups, 0.9, _z(0.9)
    thresholds = _thresholds(frame)
    running = decisions.start_bootstrap(c.pair, frame, groups, seed=3, n_boot=4, n_jobs=1, conf_level=conf)
    result = decisions.decide(c.pair, frame, "FORMULA", c.candidates, groups, c.p_label, thresholds, seed=3,
                              n_boot=4, conf_level=conf, alpha=0.3, running=running)
    boot = running.result()
    assert boot.conf_level == conf and len(boot.replicates) == 4
    assert c.requested == [("cand_b", True, "FORMULA"), ("cand_c", True, "FORMULA")]
    reference = actions.support_reference(frame)
    assert result.reference == reference
    tables = result.tables
    assert list(tables) == ["effects_by_model", "scenarios", "assumption_scenarios", "action_effects",
                            "engagement_associations", "action_tests", "recommendations", "allowed_levers", "offers",
                            "action_value", "offer_plan", "bootstrap_replicates"]

    # every model's delta rows, then the inference model's bootstrap rows
    high = groups["high_risk_all"]
    inference_role = "inference and business" if same_business else "inference"
    models = [("cand_b", c.others["cand_b"], "candidate", True), ("logit_linear", c.inference, inference_role, True),
              ("cand_c", c.others["cand_c"], "candidate", False)]
    if not same_business:
        models.append(("logit_linear_recalibrated", c.business, "business", False))
    rows = []
    for name, link, role, tied in models:
        rows += _effect_rows(name, link, role, tied, frame, high, reference, LEVERS, conf)
    for lever in LEVERS:
        room = actions.apply_action(frame, lever, reference)[1]
        for quantity, key, group, n in (("ame", f"ame:{lever.column}", "all", len(frame)),
                                        ("scenario", f"effect:high_risk_all:{lever.name}", "high_risk_all",
                                         int((high & room).sum()))):
            est, sd = boot.estimates[key], float(np.std(boot.replicates[key], ddof=1))
            rows.append({"model": "logit_linear", "role": inference_role, "tied": True, "action": lever.name,
                         "kind": lever.kind, "quantity": quantity, "group": group, "n_customers": n, "estimate": est,
                         "std_error": sd, "conf_low": est - z * sd, "conf_high": est + z * sd,
                         "interval": "bootstrap"})
    pd.testing.assert_frame_equal(tables["effects_by_model"], pd.DataFrame(rows, columns=EFFECT_COLUMNS),
                                  rtol=1e-10)

    # scenarios with the bootstrap's intervals
    store = _with_bootstrap(actions.scenarios(frame, c.inference, groups, reference, actions.STORE_ACTIONS, conf),
                            boot, z)
    assumed = _with_bootstrap(actions.scenarios(frame, c.inference, groups, reference, actions.ASSUMED_ACTIONS,
                                                conf), boot, z)
    assert (store["interval"] == "bootstrap").any()
    pd.testing.assert_frame_equal(tables["scenarios"], store, rtol=1e-10)
    pd.testing.assert_frame_equal(tables["assumption_scenarios"], assumed, rtol=1e-10)
    pd.testing.assert_frame_equal(tables["action_effects"], pd.concat([store, assumed], ignore_index=True),
                                  rtol=1e-10)
    engagement = actions.scenarios(frame, c.inference, {"high_risk_all": high}, reference, actions.ENGAGEMENT, conf)
    pd.testing.assert_frame_equal(tables["engagement_associations"], engagement[
        ["group", "action", "n_with_room", "n_without_support", "decline_rate_baseline", "decline_rate_scenario",
         "effect", "conf_low", "conf_high"]].rename(columns={"action": "outcome"}), rtol=1e-12)

    # one test per store action: the bootstrap AMEs, robustness over the tied models' delta intervals
    delta = average_marginal_effects(c.inference, frame, numeric=LEVER_COLUMNS, conf_level=conf).set_index("variable")
    ames = []
    for column in LEVER_COLUMNS:
        est, sd = boot.estimates[f"ame:{column}"], float(np.std(boot.replicates[f"ame:{column}"], ddof=1))
        ames.append({"variable": column, "estimate": est, "std_error": sd, "conf_low": est - z * sd,
                     "conf_high": est + z * sd, "std_error_delta": delta.loc[column, "std_error"]})
    tied = []
    for name, link, _, is_tied in models:
        if is_tied:
            a = average_marginal_effects(link, frame, numeric=LEVER_COLUMNS, conf_level=conf)
            tied.append(a.assign(model=name)[["model", "variable", "conf_low", "conf_high"]])
    tests = actions.action_tests(pd.DataFrame(ames), pd.concat(tied, ignore_index=True), alpha=0.3)
    pd.testing.assert_frame_equal(tables["action_tests"], tests, rtol=1e-10)
    offered = list(tests.loc[tests["offered"], "action"])
    recommended = list(tests.loc[tests["recommended"], "action"])
    assert offered  # the store actions pass at this level: offers and values are not empty
    assert result.allowed_levers == offered
    pd.testing.assert_frame_equal(tables["allowed_levers"], pd.DataFrame({"action": offered}))
    pd.testing.assert_frame_equal(tables["recommendations"], actions.recommendations(store, offered), rtol=1e-10)

    # offers: the inference model's drops with their delta-method intervals, at the level asked
    offers = actions.customer_offers(frame, c.inference.predict, c.p_label, thresholds, offered, reference,
                                     drop_se=change_std_error(c.inference), conf_level=conf)
    pd.testing.assert_frame_equal(tables["offers"], offers, rtol=1e-12)

    # the value of each store action at the headline group
    value = tables["action_value"].set_index("action")
    for lever in actions.STORE_ACTIONS:
        key = f"high_risk_all:{lever.name}"
        n = int(store.set_index(["group", "action"]).loc[("high_risk_all", lever.name), "n_with_room"])
        assert value.loc[lever.name, "n_treated"] == n
        assert value.loc[lever.name, "offered"] == (lever.name in offered)
        assert value.loc[lever.name, "recommended"] == (lever.name in recommended)
        per_customer = 3 * boot.estimates[f"profit:{key}"] / n
        sd = 3 * float(np.std(boot.replicates[f"profit:{key}"], ddof=1)) / n
        assert value.loc[lever.name, "break_even_per_customer"] == pytest.approx(per_customer, rel=1e-12)
        assert value.loc[lever.name, "break_even_per_customer_high"] == pytest.approx(per_customer + z * sd,
                                                                                      rel=1e-10)

    # the offer plan over the customers at risk (the thresholds' risk)
    plan = tables["offer_plan"].set_index("offer")
    at_risk = c.p_label >= thresholds.risk
    assert plan.loc["total", "n_customers"] == at_risk.sum()
    assert plan.loc["total", "customers_kept"] == pytest.approx(offers.loc[at_risk, "risk_drop"].sum(), rel=1e-12)
    draws = sum(boot.drops[name][:, at_risk & (offers["offer"].to_numpy() == name)].sum(axis=1)
                for name in boot.drops)
    sd = float(np.std(draws, ddof=1))
    assert plan.loc["total", "customers_kept_low"] == pytest.approx(plan.loc["total", "customers_kept"] - z * sd,
                                                                    rel=1e-10)
    assert tables["bootstrap_replicates"] is boot.info


def test_decide_starts_the_bootstrap_itself_with_the_same_result(monkeypatch):
    import joblib

    c = _decide_case(monkeypatch, same_business=False)
    thresholds = _thresholds(c.frame)
    running = decisions.start_bootstrap(c.pair, c.frame, c.groups, seed=5, n_boot=3, n_jobs=1, conf_level=0.8)
    given = decisions.decide(c.pair, c.frame, "FORMULA", c.candidates, c.groups, c.p_label, thresholds, seed=5,
                             n_boot=3, conf_level=0.8, alpha=0.3, running=running)
    workers = []
    real = joblib.Parallel

    def spy(n_jobs=None, **kwargs):
        workers.append(n_jobs)
        return real(n_jobs=1, **kwargs)

    monkeypatch.setattr(joblib, "Parallel", spy)
    own = decisions.decide(c.pair, c.frame, "FORMULA", c.candidates, c.groups, c.p_label, thresholds, seed=5,
                           n_boot=3, conf_level=0.8, alpha=0.3)
    assert workers == [1]  # one worker unless asked
    assert list(own.tables) == list(given.tables)
    for name in given.tables:
        pd.testing.assert_frame_equal(own.tables[name], given.tables[name], check_exact=True)


def test_decide_keeps_the_delta_rows_the_bootstrap_did_not_cover_and_offers_nothing_at_level_zero(monkeypatch):
    c = _decide_case(monkeypatch, same_business=True)
    frame, thresholds = c.frame, _thresholds(c.frame)
    # a bootstrap of the headline group only: the "odd" rows keep their delta-method intervals at the level asked
    headline = {"high_risk_all": c.groups["high_risk_all"]}
    running = decisions.start_bootstrap(c.pair, frame, headline, seed=2, n_boot=3, conf_level=0.8)
    result = decisions.decide(c.pair, frame, "FORMULA", c.candidates, c.groups, c.p_label, thresholds, seed=2,
                              n_boot=3, conf_level=0.8, alpha=0.0, running=running)
    reference = actions.support_reference(frame)
    for name, levers in (("scenarios", actions.STORE_ACTIONS), ("assumption_scenarios", actions.ASSUMED_ACTIONS)):
        delta = actions.scenarios(frame, c.inference, {"odd": c.groups["odd"]}, reference, levers, 0.8)
        table = result.tables[name]
        odd = table[table["group"] == "odd"].reset_index(drop=True)
        assert (odd["interval"] == "delta").all() and odd["conf_low"].notna().all()
        pd.testing.assert_frame_equal(odd, delta, rtol=1e-12)
        assert (table.loc[table["group"] == "high_risk_all", "interval"] == "bootstrap").all()
    # no p-value is below zero: nothing is offered, every customer at risk gets a personal contact
    assert not result.tables["action_tests"]["offered"].any() and result.allowed_levers == []
    assert set(result.tables["offers"]["offer"]) == {"none", "personal_contact"}


def test_start_bootstrap_plans_every_lever_and_the_store_actions_drops(monkeypatch):
    import joblib

    frame = _small_frame(120, 29)
    frame["profit"] = np.round(frame["profit"]).astype(int)  # whole roubles: the plan's profit is still float
    pair = _logit_pair(frame)
    groups = _groups(frame)
    workers = []
    real = joblib.Parallel

    def spy(n_jobs=None, **kwargs):
        workers.append(n_jobs)
        return real(n_jobs=1, **kwargs)

    monkeypatch.setattr(joblib, "Parallel", spy)
    running = decisions.start_bootstrap(pair, frame, groups, seed=1, n_boot=2)
    boot = running.result()
    decisions.start_bootstrap(pair, frame, groups, seed=1, n_boot=1, n_jobs=3).result()
    assert workers == [1, 3]
    assert running.plan.profit.dtype == np.float64
    reference = actions.support_reference(frame)
    frames = decisions.evaluation_frames(frame, reference, LEVERS)
    assert running.frames.keys == frames.keys
    plan = running.plan
    assert plan.keys == frames.keys and plan.groups is groups
    assert plan.scenario_levers == [lv.name for lv in LEVERS] and plan.ame_columns == LEVER_COLUMNS
    assert plan.drop_levers == ["more_marketing", "marketing_this_month"]
    np.testing.assert_array_equal(plan.profit, frame["profit"].to_numpy(float))
    assert plan.steps == frames.steps
    for name in frames.room:
        np.testing.assert_array_equal(plan.room[name], frames.room[name])
    assert boot.conf_level == 0.95 and len(boot.replicates) == 2
    expected, _ = _statistics_by_hand(frame, frames, _plan_of(frame, frames), np.asarray(pair.inference.params))
    np.testing.assert_allclose(boot.estimates.to_numpy(), list(expected.values()), rtol=1e-10, atol=1e-13)
    idx = replicate_rng(1, 1).integers(0, len(frame), size=len(frame))
    rep, _ = _statistics_by_hand(frame, frames, _plan_of(frame, frames),
                                 _mle(_design(frame)[idx], frame[TARGET].to_numpy(float)[idx]))
    np.testing.assert_allclose(boot.replicates.iloc[1].to_numpy(), list(rep.values()), rtol=1e-6, atol=1e-9)
    assert running.pool._shutdown


def test_the_replicates_run_on_the_workers_asked(monkeypatch):
    import joblib

    workers = []
    real = joblib.Parallel

    def spy(n_jobs=None, **kwargs):
        workers.append(n_jobs)
        return real(n_jobs=1, **kwargs)  # the result does not depend on the workers: run them here

    monkeypatch.setattr(joblib, "Parallel", spy)
    task = _generic_task(_MeanModel())
    pair = SimpleNamespace(inference=SimpleNamespace(predict=lambda f: 0.3 + 0.2 * f["x"].to_numpy()))
    decisions.bootstrap_procedure(task, pair, seed=1, n_boot=2, n_jobs=3)
    decisions.bootstrap_procedure(task, pair, seed=1, n_boot=2)
    assert workers == [3, 1]


def test_fit_silences_floating_point_warnings(monkeypatch):
    import warnings

    X, y = _logit_data()

    def noisy(out, kwargs):
        np.exp(np.array([1000.0])), np.array([1.0]) / 0.0, np.array([0.0]) / 0.0
        return out

    _spy_fits(monkeypatch, noisy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decisions._fit(X, y, None, ())
        decisions._fit(X, y, _ridge(3), ALPHAS)
