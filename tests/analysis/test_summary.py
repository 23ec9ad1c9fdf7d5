"""analysis.summary on small constructed result tables: no pipeline run, so fast enough for mutation testing.

Pinned, each as a whole frame (columns, order, dtypes, values) against numbers worked out by hand here:

- ``protocol_table``: every row (name, value, meaning) of a constructed protocol, the values as ``repr`` of
  the protocol and of the module rules (monkeypatched to constructed values), numpy scalars cast first;
- ``levers_table``: one row per lever in the levers' order, ``control`` looked up by the lever's *variable*;
- ``headline_actions_table``: one row per store action in the store actions' order, the scenario of the
  ``high_risk_all`` group only, the model range over the delta-method scenario rows only (NaN estimates
  dropped, an action without rows gives NaN/""/0), flags read from bools or strings, the money from
  ``action_value``;
- ``headline_table``: the counts and shares against the right totals, the inclusive thresholds (risk,
  promotion) and the strict α, the top grid segment (focus groups left out, ties to the first), the
  business / inference / best models, the accuracy gap and the offer plan, and the defaults when a row is
  absent (no gap, no inference role, no personal contact, no rule step, no typo).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from analysis import summary
from analysis.data.dictionary import FIELDS
from analysis.decisions import actions
from analysis.decisions import decide
from analysis.decisions.actions import Lever
from analysis.modeling import benchmark
from analysis.results.registry import REGISTRY
from analysis.settings import FULL

HEADLINE_COLUMNS = list(REGISTRY["headline"].columns)
ACTION_COLUMNS = list(REGISTRY["headline_actions"].columns)


def _check(result: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(result, expected, check_exact=False, rtol=1e-12, atol=0.0)


# --- protocol_table -------------------------------------------------------------------------------------------


def test_protocol_table_states_a_constructed_protocol_row_by_row(monkeypatch):
    """Every rule of a protocol other than the default, with module rules set to constructed values: a value
    read from the wrong setting, a name or meaning altered, a numpy scalar written as ``np.float64(…)`` all
    fail."""
    monkeypatch.setattr(benchmark, "CHOICE_RULE", "rule of choice (constructed)")
    monkeypatch.setattr(benchmark, "CALIBRATION_TARGET", {"slope_low": 0.8, "hl_p_value_min": 0.1})
    monkeypatch.setattr(benchmark, "EQUIVALENCE_MARGIN", 0.02)
    monkeypatch.setattr(benchmark, "TIE_RULE", "rule of ties (constructed)")
    monkeypatch.setattr(benchmark, "SVC_MAX_ROWS", 1500)
    monkeypatch.setattr(benchmark, "FOREST_TREES", 300)
    monkeypatch.setattr(benchmark, "FOREST_TUNING_TREES", 50)
    monkeypatch.setattr(actions, "HORIZON", "next six weeks")
    monkeypatch.setattr(actions, "HORIZON_MONTHS", 1.5)
    monkeypatch.setattr(actions, "SUPPORT_RULE", "rule of support (constructed)")
    monkeypatch.setattr(actions, "SUPPORT_MIN_CUSTOMERS", 15)
    monkeypatch.setattr(decide, "BOOTSTRAP_INTERVAL", "percentile")
    monkeypatch.setattr(decide, "EFFECT_SCALE", "business")
    protocol = FULL.replace(alpha=0.01, conf_level=0.9, vif_threshold=10.0, holdout_share=np.float64(0.3),
                            risk_threshold=0.55, profit_quantile=0.75, n_bootstrap=np.int64(37))
    expected = pd.DataFrame([
        ("choice_rule", "rule of choice (constructed)",
         "How the model for inference and for the business figures is chosen"),
        ("calibration_target", '{"slope_low": 0.8, "hl_p_value_min": 0.1}', "Calibration target of the chosen model"),
        ("equivalence_margin", "0.02", "AUC margin of the equivalence test (TOST) against the best model"),
        ("tie_rule", "rule of ties (constructed)", "When candidates tie, and what follows"),
        ("alpha", "0.01", "Significance level (family-wise where Holm-adjusted: over the store actions, one "
                          "hypothesis per action)"),
        ("conf_level", "0.9", "Confidence level of every interval"),
        ("vif_threshold", "10.0", "VIF above which a design column is flagged"),
        ("holdout_share", "0.3", "Share of customers in the single hold-out"),
        ("svc_max_rows", "1500",
         "Training rows above which the SVM is fitted on a stratified random subsample of that many rows"),
        ("forest_trees", "300", "Trees of the benchmark's random forest"),
        ("forest_tuning_trees", "50",
         "Trees of the forests whose out-of-bag AUC chooses the forest's leaf size and feature share"),
        ("risk_threshold", "0.55", "P(decline) at or above which a customer is high risk"),
        ("profit_quantile", "0.75", "Profit quantile splitting high from low profit"),
        ("horizon", "next six weeks", "Horizon of the target and of every count of customers"),
        ("horizon_months", "1.5", "Months of the horizon (break-even price: profit retained per month × these "
                                  "months)"),
        ("support_rule", "rule of support (constructed)", "Which customers a scenario is evaluated for"),
        ("support_min_customers", "15",
         "Customers of the modelling data a new value needs within half a step (same cluster)"),
        ("n_bootstrap", "37",
         "Customer-bootstrap replicates of the whole procedure behind the changes (penalty weight, any "
         "specification search) behind the business figures' intervals"),
        ("bootstrap_interval", "percentile",
         "Kind of every bootstrap interval: normal = estimate ± z × bootstrap SD (percentile and basic are the "
         "alternatives; python -m analysis.bench.coverage measures all three)"),
        ("effect_scale", "business",
         "Where an action's change comes from: levels are the business model's calibrated probabilities; changes "
         "(AMEs, scenarios, each offer's risk drop) the inference model's predicted changes (the map, fitted on "
         "out-of-fold scores, attenuates changes)"),
    ], columns=["name", "value", "meaning"])
    _check(summary.protocol_table(protocol), expected)


def test_protocol_table_default_is_the_full_protocol_and_the_real_rules():
    """Without an argument the table states FULL; every value reads back as the setting or rule it states."""
    table = summary.protocol_table().set_index("name")["value"]
    assert float(table["alpha"]) == FULL.alpha and float(table["conf_level"]) == FULL.conf_level
    assert float(table["vif_threshold"]) == FULL.vif_threshold
    assert float(table["holdout_share"]) == FULL.holdout_share
    assert float(table["risk_threshold"]) == FULL.risk_threshold
    assert float(table["profit_quantile"]) == FULL.profit_quantile
    assert int(table["n_bootstrap"]) == FULL.n_bootstrap
    assert json.loads(table["calibration_target"]) == benchmark.CALIBRATION_TARGET
    assert float(table["equivalence_margin"]) == benchmark.EQUIVALENCE_MARGIN
    assert int(table["svc_max_rows"]) == benchmark.SVC_MAX_ROWS
    assert table["choice_rule"] == benchmark.CHOICE_RULE and table["tie_rule"] == benchmark.TIE_RULE
    assert int(table["horizon_months"]) == actions.HORIZON_MONTHS and table["horizon"] == actions.HORIZON
    assert int(table["support_min_customers"]) == actions.SUPPORT_MIN_CUSTOMERS
    assert table["bootstrap_interval"] == decide.BOOTSTRAP_INTERVAL
    assert table["effect_scale"] == decide.EFFECT_SCALE


# --- levers_table ---------------------------------------------------------------------------------------------


def test_levers_table_one_row_per_constructed_lever(monkeypatch):
    """Constructed levers in their own order; the second lever's column is not its variable, so ``control``
    must be looked up by the variable; every attribute lands in its own column."""
    monkeypatch.setattr(actions, "LEVERS", (
        Lever("l_store", "marketing_6m", "marketing_6m", 2.0, "desc A", "action", needs_consent=True,
              contacts=12.0),
        Lever("l_assume", "promo_share_10pp", "promo_share", -1.0, "desc B", "assumption",
              assumption="assume B"),
        Lever("l_engage", "pages_per_visit", "pages_per_visit", 3.0, "desc C", "engagement"),
    ))
    expected = pd.DataFrame({
        "action": ["l_store", "l_assume", "l_engage"],
        "column": ["marketing_6m", "promo_share_10pp", "pages_per_visit"],
        "variable": ["marketing_6m", "promo_share", "pages_per_visit"],
        "control": ["store_action", "customer_behaviour", "customer_behaviour"],
        "change": [2.0, -1.0, 3.0],
        "description": ["desc A", "desc B", "desc C"],
        "kind": ["action", "assumption", "engagement"],
        "needs_consent": [True, False, False],
        "contacts": [12.0, 0.0, 0.0],
        "assumption": ["", "assume B", ""],
    })
    _check(summary.levers_table(), expected)


def test_levers_table_of_the_real_levers():
    """The registry's columns; store actions are the variables classified store_action, the rest are not."""
    table = summary.levers_table()
    assert list(table.columns) == list(REGISTRY["levers"].columns)
    assert list(table["action"]) == ["more_marketing", "marketing_this_month", "cart_reminder", "less_promotion",
                                     "more_categories", "more_pages"]
    assert list(table["control"]) == ["store_action", "store_action", "customer_behaviour",
                                      "customer_behaviour", "customer_behaviour", "customer_behaviour"]
    assert [FIELDS[v].control for v in table["variable"]] == list(table["control"])


def test_levers_table_without_levers_keeps_its_columns(monkeypatch):
    """No lever at all: an empty table that still has the registry's columns (a CSV the report can read)."""
    monkeypatch.setattr(actions, "LEVERS", ())
    table = summary.levers_table()
    assert len(table) == 0 and list(table.columns) == list(REGISTRY["levers"].columns)


# --- headline_actions_table -----------------------------------------------------------------------------------


def _action_tables() -> dict[str, pd.DataFrame]:
    """Result tables of two store actions. more_marketing has delta-method scenario rows under three models
    (a fourth with a NaN estimate; the business model's row without SE); marketing_this_month has none with an
    estimate. Decoys everywhere: another group's scenario, AME rows and bootstrap rows with extreme estimates,
    an assumption action's rows, action_value's own effect and n_treated."""
    scenarios = pd.DataFrame([
        # group, action, n_with_room, effect, conf_low, conf_high, std_error, std_error_delta, customers_kept
        ("high_risk_all", "marketing_this_month", 40, -0.02, -0.05, 0.01, 0.015, 0.012, 0.8),
        ("high_risk_high_profit", "more_marketing", 30, -0.08, -0.12, -0.04, 0.02, 0.018, 2.4),
        ("high_risk_all", "more_marketing", 55, -0.06, -0.09, -0.03, 0.0153, 0.011, 3.3),
        ("high_risk_high_profit", "marketing_this_month", 20, -0.01, -0.03, 0.02, 0.01, 0.009, 0.2),
    ], columns=["group", "action", "n_with_room", "effect", "conf_low", "conf_high", "std_error",
                "std_error_delta", "customers_kept"])
    nan = np.nan
    effects_by_model = pd.DataFrame([
        # model, action, quantity, interval, estimate, std_error
        ("logit_selected", "more_marketing", "scenario", "delta", -0.05, 0.01),
        ("gam_engagement", "more_marketing", "scenario", "delta", -0.07, nan),
        ("logit_linear", "more_marketing", "scenario", "delta", -0.04, 0.012),
        ("logit_floor", "more_marketing", "scenario", "delta", nan, nan),
        ("logit_selected", "more_marketing", "ame", "delta", -0.5, 0.1),
        ("gam_engagement", "more_marketing", "scenario", "bootstrap", 0.3, 0.1),
        ("logit_l2", "more_marketing", "ame", "bootstrap", -0.6, 0.1),
        ("logit_selected", "marketing_this_month", "scenario", "delta", nan, nan),
        ("logit_linear", "marketing_this_month", "scenario", "delta", nan, 0.01),
        ("logit_selected", "marketing_this_month", "ame", "delta", 0.01, 0.01),
        ("gam_engagement", "marketing_this_month", "scenario", "bootstrap", -0.02, 0.01),
        ("logit_selected", "cart_reminder", "scenario", "delta", -0.9, 0.1),
        ("logit_linear", "cart_reminder", "scenario", "delta", 0.9, 0.1),
    ], columns=["model", "action", "quantity", "interval", "estimate", "std_error"])
    effects_by_model.insert(1, "role", "")
    effects_by_model.insert(5, "group", "high_risk_all")
    action_tests = pd.DataFrame({
        "action": ["marketing_this_month", "more_marketing"],
        "estimate": [-0.01, -0.03],
        "p_value_holm": [0.2, 0.004],
        "robust": pd.Series([False, "true"], dtype=object),
        "offered": pd.Series(["TRUE", True], dtype=object),
        "recommended": pd.Series(["False", True], dtype=object),
    })
    money = ["customers_kept", "customers_kept_low", "customers_kept_high", "profit_retained_month",
             "profit_retained_month_low", "profit_retained_month_high", "horizon_months",
             "break_even_per_customer", "break_even_per_customer_low", "break_even_per_customer_high",
             "break_even_per_contact", "break_even_per_contact_low", "break_even_per_contact_high"]
    action_value = pd.DataFrame([
        ["more_marketing", 54, 6.0, -0.055, -0.08, -0.03,
         3.1, 1.6, 5.0, 9.9, 4.8, 15.0, 3, 0.54, 0.26, 0.82, 0.09, 0.043, 0.137, True, True],
        ["marketing_this_month", 39, 1.0, -0.021, -0.05, 0.01,
         0.7, -0.4, 2.0, 2.4, -1.2, 6.0, 3, 0.18, -0.09, 0.45, 0.17, -0.08, 0.44, True, False],
    ], columns=["action", "n_treated", "contacts_per_customer", "effect", "effect_conf_low", "effect_conf_high",
                *money, "offered", "recommended"])
    return {"scenarios": scenarios, "effects_by_model": effects_by_model, "action_tests": action_tests,
            "action_value": action_value}


def _expected_actions() -> pd.DataFrame:
    nan = np.nan
    rows = [
        # more_marketing: the high_risk_all scenario (not the other group's, not action_value's effect), the
        # range over the three delta-method scenario estimates, three models (the NaN one dropped)
        ["more_marketing", True, True, True, 0.004, 55, -0.06, -0.09, -0.03, 0.0153, 0.011,
         -0.07, -0.04, "gam_engagement", "logit_linear", 3,
         3.1, 1.6, 5.0, 9.9, 4.8, 15.0, 0.54, 0.26, 0.82, 0.09, 0.043, 0.137],
        # marketing_this_month: no delta-method scenario estimate at all
        ["marketing_this_month", False, True, False, 0.2, 40, -0.02, -0.05, 0.01, 0.015, 0.012,
         nan, nan, "", "", 0,
         0.7, -0.4, 2.0, 2.4, -1.2, 6.0, 0.18, -0.09, 0.45, 0.17, -0.08, 0.44],
    ]
    return pd.DataFrame(rows, columns=ACTION_COLUMNS)


def test_headline_actions_table_by_hand():
    """One row per store action in STORE_ACTIONS' order (the tables list them the other way round)."""
    _check(summary.headline_actions_table(_action_tables()), _expected_actions())


def test_headline_actions_flags_from_csv_bools_and_a_single_model():
    """Flags as a CSV reads them (bool columns); a single model gives the same model as min and max; a
    constructed third store action (monkeypatched) comes last with its own rows."""
    tables = _action_tables()
    tables["action_tests"] = pd.DataFrame({"action": ["more_marketing", "marketing_this_month"],
                                           "p_value_holm": [0.01, 0.03], "robust": [False, True],
                                           "offered": [True, False], "recommended": [False, False]})
    tables["effects_by_model"] = tables["effects_by_model"].iloc[[0, 4, 5]].reset_index(drop=True)
    result = summary.headline_actions_table(tables)
    assert list(result["action"]) == ["more_marketing", "marketing_this_month"]
    assert result["robust"].tolist() == [False, True] and result["offered"].tolist() == [True, False]
    assert result["recommended"].tolist() == [False, False] and result["p_value_holm"].tolist() == [0.01, 0.03]
    assert result["model_min"].iloc[0] == result["model_max"].iloc[0] == -0.05
    assert result["model_min_code"].iloc[0] == result["model_max_code"].iloc[0] == "logit_selected"
    assert result["n_models"].tolist() == [1, 0]


def test_headline_actions_follow_store_actions(monkeypatch):
    """The rows are the store actions, whatever else the tables hold: only marketing_this_month here."""
    monkeypatch.setattr(actions, "STORE_ACTIONS", (actions.LEVER_BY_NAME["marketing_this_month"],))
    _check(summary.headline_actions_table(_action_tables()),
           _expected_actions().iloc[[1]].reset_index(drop=True))


def test_headline_actions_without_store_actions_keeps_its_columns(monkeypatch):
    """No store action: an empty table with the registry's columns, not a table without columns."""
    monkeypatch.setattr(actions, "STORE_ACTIONS", ())
    table = summary.headline_actions_table(_action_tables())
    assert len(table) == 0 and list(table.columns) == ACTION_COLUMNS


# --- headline_table -------------------------------------------------------------------------------------------
#
# Eight customers, risk threshold 0.5, promotion split 0.4, α = 0.05:
#   p_decline  0.2  0.5  0.8  0.4  0.9  0.1  0.6  0.7
#   profit     10   4    5    2.5  2    6    3    1
#   high       -    x    x    -    x    -    x    x      (p ≥ 0.5: the 0.5 customer counts)
#   p×profit   2.0  2.0  4.0  1.0  1.8  0.6  1.8  0.7    total 13.9, high risk 10.3
#   promo      0.1  0.4  0.9  0.39 0.2  0.0  0.41 0.3    at or above 0.4: 3 of 8
#   decline    1    1    1    0    1    0    0    0      rate 4/8

P_DECLINE = [0.2, 0.5, 0.8, 0.4, 0.9, 0.1, 0.6, 0.7]
PROFIT = [10.0, 4.0, 5.0, 2.5, 2.0, 6.0, 3.0, 1.0]
AT_RISK_TOTAL = 2.0 + 2.0 + 4.0 + 1.0 + 1.8 + 0.6 + 1.8 + 0.7  # 13.9
AT_RISK_HIGH = 2.0 + 4.0 + 1.8 + 1.8 + 0.7  # 10.3


def _headline_tables() -> dict[str, pd.DataFrame]:
    thresholds = pd.DataFrame({"threshold": ["risk", "profit", "promotion"], "value": [0.5, 3.0, 0.4],
                               "rule": ["r", "p", "s"]})
    offers = pd.DataFrame({"id": range(1, 9), "p_decline": P_DECLINE, "profit": PROFIT,
                           "segment": "s", "offer": "none"})
    customers = pd.DataFrame({"id": range(1, 9), "activity_decline": [1, 1, 1, 0, 1, 0, 0, 0],
                              "promo_share": [0.1, 0.4, 0.9, 0.39, 0.2, 0.0, 0.41, 0.3], "profit": PROFIT})
    segments = pd.DataFrame([
        # segment, kind, n_customers, share, mean_p_decline, observed_decline_rate, mean_profit, par
        ("low_risk_low_profit", "grid", 1, 1 / 8, 0.4, 0.0, 2.5, 1.0),
        ("low_risk_high_profit", "grid", 2, 2 / 8, 0.15, 0.5, 8.0, 2.6),
        ("high_risk_high_profit", "grid", 3, 3 / 8, 0.19 / 0.3, 2 / 3, 4.0, 7.8),
        ("high_risk_low_profit", "grid", 2, 2 / 8, 0.8, 0.5, 1.5, 2.5),
        ("dormant", "focus", 4, 4 / 8, 0.5, 0.5, 4.0, 20.0),
    ], columns=["segment", "kind", "n_customers", "share", "mean_p_decline", "observed_decline_rate",
                "mean_profit", "profit_at_risk_upper"])
    candidates = pd.DataFrame([
        # model, auc_mean, meets_target, hl_p_value, slope, intercept, role, chosen
        ("logit_linear", 0.69, False, 0.01, 0.7, 0.2, "", False),
        ("logit_selected", 0.70, True, 0.3, 0.95, -0.02, "inference", False),
        ("gam_engagement", 0.71, True, 0.4, 1.02, 0.03, "business", True),
    ], columns=["model", "auc_mean", "meets_target", "hl_p_value", "calibration_slope", "calibration_intercept",
                "role", "chosen"])
    bench = pd.DataFrame({"model": ["logit_linear", "logit_selected", "gam_engagement", "random_forest", "knn"],
                          "auc_mean": [0.69, 0.70, 0.71, 0.74, 0.60]})
    gap = pd.DataFrame([
        # model, reference, auc_diff, conf_low, conf_high, p_value, margin, tost_p_value, equivalent
        ("logit_selected", "random_forest", -0.04, -0.06, -0.02, 0.001, 0.01, 0.99, False),
        ("gam_engagement", "random_forest", -0.004, -0.008, 0.0, 0.06, 0.01, 0.03, True),
    ], columns=["model", "reference", "auc_diff", "conf_low", "conf_high", "p_value", "margin", "tost_p_value",
                "equivalent"])
    accounting = pd.DataFrame([
        # step, rows_in, rows_out, removed
        ("read market_file.csv", 1305, 1300, 5),
        ("read market_money.csv", 3902, 3900, 2),
        ("read market_time.csv", 2600, 2600, 0),
        ("read money.csv", 1301, 1300, 1),
        ("join the four files", 1300, 1300, 0),
        ("regular_customer", 1300, 1297, 3),
        ("extreme_revenue", 1297, 1296, 1),
    ], columns=["step", "rows_in", "rows_out", "removed"])
    accounting["reason"] = "r"
    typos = pd.DataFrame({"file": ["market_file.csv", "market_time.csv"], "column": ["a", "b"],
                          "typo": ["стандартт", "предыдцщий_месяц"], "correction": ["стандарт", "предыдущий_месяц"],
                          "rows": [3, 4]})
    vif = pd.DataFrame({"term": ["a", "b", "c", "d", "e"], "vif": [12.0, 1.0, 7.0, 2.0, 5.5],
                        "flagged": pd.Series([True, False, "true", "no", "TRUE"], dtype=object)})
    protocol = pd.DataFrame({"name": ["conf_level", "alpha"], "value": ["0.95", "0.05"], "meaning": ["c", "a"]})
    comparison = pd.DataFrame({"model_a": ["a", "a", "b", "c"], "model_b": ["b", "c", "c", "d"],
                               "p_value": [0.01, 0.05, 0.2, 0.049], "p_value_holm": [0.04, 0.15, 0.6, 0.05]})
    plan = pd.DataFrame([
        # offer, n, expected_declines, par, kept, kept_low, kept_high, retained, low, high, share_declines, share_par
        ("more_marketing", 2, 1.4, 5.8, 0.2, 0.05, 0.35, 0.9, 0.2, 1.6, 0.14, 0.155),
        ("marketing_this_month", 1, 0.5, 2.0, 0.03, -0.01, 0.07, 0.12, -0.04, 0.28, 0.06, 0.06),
        ("personal_contact", 2, 1.6, 2.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        ("total", 5, 3.5, 10.3, 0.23, 0.04, 0.42, 1.02, 0.16, 1.88, 0.0657, 0.099),
    ], columns=["offer", "n_customers", "expected_declines", "profit_at_risk_upper", "customers_kept",
                "customers_kept_low", "customers_kept_high", "profit_retained_upper", "profit_retained_upper_low",
                "profit_retained_upper_high", "share_of_declines_avoided", "share_of_profit_at_risk_retained"])
    run_info = pd.DataFrame([{"seed": 3, "protocol": "quick", "quick": True, "data_dir": "x", "formula": "f",
                              "n_customers": 8, "decline_rate": 0.5}])
    return {"row_accounting": accounting, "typo_corrections": typos, "customer_table": customers,
            "segment_thresholds": thresholds, "offers": offers, "segments": segments,
            "model_candidates": candidates, "model_benchmark": bench, "model_comparison": comparison,
            "accuracy_gap": gap, "vif": vif, "protocol": protocol, "offer_plan": plan, "run_info": run_info}


def _expected_headline() -> dict:
    return {
        "n_exported": 1305,  # the first step's rows in
        "n_customers": 8,
        "decline_rate": 4 / 8,
        "n_duplicate_rows": 5 + 2 + 0 + 1,  # the "read …" steps only
        "n_typo_labels": 2,
        "n_typo_cells": 3 + 4,
        "n_not_regular": 3,
        "n_extreme_revenue": 1,
        "promotion_split": 0.4,
        "share_promo_upper": 3 / 8,  # 0.4 itself counts, 0.39 does not
        "n_vif_flagged": 3,  # True, "true", "TRUE"
        "n_comparison_pairs": 4,
        "n_pairs_significant": 2,  # 0.01, 0.049 (0.05 is not below α)
        "n_pairs_significant_holm": 1,  # 0.04 (0.05 is not below α)
        "risk_threshold": 0.5,
        "n_high_risk": 5,
        "share_high_risk": 5 / 8,
        "profit_at_risk_upper_total": AT_RISK_TOTAL,
        "profit_at_risk_upper_high_risk": AT_RISK_HIGH,
        "share_profit_at_risk_high_risk": AT_RISK_HIGH / AT_RISK_TOTAL,
        "top_segment": "high_risk_high_profit",  # the focus group's 20.0 is not a grid segment
        "top_segment_n": 3,
        "top_segment_share": 3 / 8,
        "top_segment_mean_p": 0.19 / 0.3,
        "top_segment_observed_rate": 2 / 3,
        "top_segment_profit_at_risk_upper": 7.8,
        "top_segment_share_of_profit_at_risk": 7.8 / AT_RISK_TOTAL,
        "inference_model": "logit_selected",
        "business_model": "gam_engagement",
        "business_meets_target": True,
        "business_hl_p_value": 0.4,
        "business_calibration_slope": 1.02,
        "business_calibration_intercept": 0.03,
        "n_models": 5,
        "best_model": "random_forest",
        "best_auc": 0.74,
        "business_auc": 0.71,
        "auc_diff": -0.004,
        "auc_diff_conf_low": -0.008,
        "auc_diff_conf_high": 0.0,
        "auc_diff_p_value": 0.06,
        "equivalence_margin": 0.01,
        "tost_p_value": 0.03,
        "equivalent": True,
        "quick": True,
        "n_offered": 2 + 1,  # the action rows, not personal_contact nor total
        "n_personal_contact": 2,
        "plan_expected_declines": 3.5,
        "plan_customers_kept": 0.23,
        "plan_customers_kept_low": 0.04,
        "plan_customers_kept_high": 0.42,
        "plan_profit_retained": 1.02,
        "plan_profit_retained_low": 0.16,
        "plan_profit_retained_high": 1.88,
        "plan_share_of_profit_at_risk": 0.099,
    }


def _frame(row: dict) -> pd.DataFrame:
    assert list(row) == HEADLINE_COLUMNS
    return pd.DataFrame([row])


def test_headline_table_by_hand():
    _check(summary.headline_table(_headline_tables()), _frame(_expected_headline()))


def test_headline_table_reads_numbers_stored_as_text():
    """Offers whose probability and profit columns hold text (a CSV read with ``dtype=str``) give the same
    headline: both columns are read as numbers before any comparison or product."""
    tables = _headline_tables()
    offers = tables["offers"]
    offers["p_decline"] = pd.Series([repr(v) for v in P_DECLINE], dtype="str")
    offers["profit"] = pd.Series([repr(v) for v in PROFIT], dtype="str")
    _check(summary.headline_table(tables), _frame(_expected_headline()))


def test_headline_table_absent_rows_fall_back():
    """No accuracy-gap row for the business model (0 difference, NaN test, not equivalent), no inference role
    (the business model is the inference model), no personal_contact or rule step (0), a typo table read from
    an empty CSV (no columns), flags as strings."""
    tables = _headline_tables()
    tables["accuracy_gap"] = tables["accuracy_gap"].iloc[[0]]
    candidates = tables["model_candidates"]
    candidates["role"] = ["", "", "business"]
    candidates["chosen"] = ["false", "False", "TRUE"]
    candidates["meets_target"] = ["True", "true", "False"]
    tables["offer_plan"] = tables["offer_plan"][tables["offer_plan"]["offer"] != "personal_contact"]
    tables["row_accounting"] = tables["row_accounting"].iloc[:5]
    tables["typo_corrections"] = pd.DataFrame()
    tables["run_info"]["quick"] = "False"
    expected = _expected_headline() | {
        "n_typo_labels": 0, "n_typo_cells": 0, "n_not_regular": 0, "n_extreme_revenue": 0,
        "inference_model": "gam_engagement", "business_meets_target": False,
        "auc_diff": 0.0, "auc_diff_conf_low": np.nan, "auc_diff_conf_high": np.nan, "auc_diff_p_value": np.nan,
        "equivalence_margin": np.nan, "tost_p_value": np.nan, "equivalent": False, "quick": False,
        "n_personal_contact": 0,
    }
    _check(summary.headline_table(tables), _frame(expected))


def test_headline_table_equivalent_flag_and_inference_role_as_strings():
    """``equivalent`` and ``quick`` read from strings; a combined role names the inference model; the
    accuracy-gap row is the business model's, not the first one."""
    tables = _headline_tables()
    tables["accuracy_gap"]["equivalent"] = ["TRUE", "false"]
    tables["model_candidates"]["role"] = ["", "business", "inference_and_business"]
    tables["run_info"]["quick"] = "TRUE"
    result = summary.headline_table(tables).iloc[0]
    assert not result["equivalent"]
    assert result["inference_model"] == "gam_engagement" and result["quick"]
    assert result["auc_diff"] == -0.004 and result["tost_p_value"] == 0.03


def test_headline_table_thresholds_bite_at_the_edge():
    """Moving the risk threshold just above 0.5 and the promotion split just above 0.4 drops exactly the
    customer at the edge; α just above 0.05 counts the pairs at 0.05."""
    tables = _headline_tables()
    tables["segment_thresholds"]["value"] = [0.5 + 1e-9, 3.0, 0.4 + 1e-9]
    tables["protocol"]["value"] = ["0.95", "0.0500001"]
    result = summary.headline_table(tables).iloc[0]
    high = AT_RISK_HIGH - 2.0  # the 0.5 customer (p×profit 2.0) is no longer high risk
    assert result["n_high_risk"] == 4 and result["share_high_risk"] == pytest.approx(4 / 8, rel=1e-12)
    assert result["profit_at_risk_upper_high_risk"] == pytest.approx(high, rel=1e-12)
    assert result["share_profit_at_risk_high_risk"] == pytest.approx(high / AT_RISK_TOTAL, rel=1e-12)
    assert result["share_promo_upper"] == pytest.approx(2 / 8, rel=1e-12)
    assert result["n_pairs_significant"] == 3 and result["n_pairs_significant_holm"] == 2


def test_headline_table_top_segment_ties_go_to_the_first_in_table_order():
    """Two grid segments tie on profit at risk: the first of them in the table is the top segment."""
    tables = _headline_tables()
    tables["segments"]["profit_at_risk_upper"] = [1.0, 1.0, 2.0, 2.0, 20.0]
    result = summary.headline_table(tables).iloc[0]
    assert result["top_segment"] == "high_risk_high_profit" and result["top_segment_n"] == 3
    assert math.isclose(result["top_segment_share_of_profit_at_risk"], 2.0 / AT_RISK_TOTAL, rel_tol=1e-12)


def test_headline_table_ignores_a_non_read_step_and_uses_the_first_step_for_exports():
    """Only steps starting with "read " are duplicate rows: a rule step's removals are not."""
    tables = _headline_tables()
    tables["row_accounting"].loc[4, "removed"] = 7  # "join the four files"
    result = summary.headline_table(tables).iloc[0]
    assert result["n_duplicate_rows"] == 8 and result["n_exported"] == 1305
