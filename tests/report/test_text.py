"""Fast tests of ``analysis.report.text`` on small hand-made result tables (no pipeline run).

Pinned: every sentence and figure the report's prose takes from the result tables, as whole strings or whole
dicts, each expected value worked out by hand from the constructed rows: counts in words (singular, plural,
zero, "all"/"none"/"the one"), shares and percentage points with their rounding, intervals, money with its
intervals, the decision sentences (recommended / offered / not supported, tied models that block a roll-out),
the thresholds where a rule flips (alpha, the VIF threshold, a fitted probability of one half, an interval that
touches zero, a recalibration ceiling at its bound) and sign flips (an engagement effect above or below zero).
The tables have the registry's columns (``analysis.results.registry.REGISTRY``), built in each test.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from analysis.report import text as T
from analysis.results.registry import REGISTRY, Results

M = "\u2212"  # the typographic minus of every formatted number
NB = "\u00a0"
LT = f"<{NB}0.001"

MM = "+1 marketing contact per month for six months (with consent)"
MTM = "+1 marketing contact this month (with consent)"
GAM_RECAL = "penalised splines, recalibrated inside each fold"
GAM = "penalised splines of the engagement variables (logistic gam)"
SVC = "support vector machine, rbf kernel (tuned)"


# ---------------------------------------------------------------------------------------------------------
# Construction of result tables
# ---------------------------------------------------------------------------------------------------------


def table(name: str, *rows: dict) -> pd.DataFrame:
    """A result table with the registry's columns (missing cells NaN) and the given rows."""
    spec = REGISTRY[name]
    columns = list(spec.columns)
    frame = pd.DataFrame(list(rows)) if rows else pd.DataFrame(columns=columns)
    extra = [c for c in frame.columns if c not in columns]
    assert not extra or spec.open_columns, extra
    for c in columns:
        if c not in frame.columns:
            frame[c] = np.nan
    return frame[columns + extra]


def protocol_rows(**changes) -> pd.DataFrame:
    values = {
        "choice_rule": "lowest log loss", "tie_rule": "within one corrected SE",
        "calibration_target": json.dumps({"hl_p_value_min": 0.05, "slope_low": 0.9, "slope_high": 1.1,
                                          "intercept_abs_max": 0.1}),
        "equivalence_margin": "0.01", "alpha": "0.05", "conf_level": "0.95", "vif_threshold": "5.0",
        "holdout_share": "0.25", "svc_max_rows": "2000", "forest_trees": "200", "forest_tuning_trees": "100",
        "support_rule": "20 customers within half a step", "n_bootstrap": "200",
    }
    values.update(changes)
    return table("protocol", *({"name": k, "value": v, "meaning": "m"} for k, v in values.items()))


def headline_row(**changes) -> dict:
    h = {
        "n_exported": 1300, "n_customers": 1296, "decline_rate": 0.38117, "n_duplicate_rows": 0, "n_typo_labels": 0,
        "n_typo_cells": 0, "n_not_regular": 0, "n_extreme_revenue": 0, "promotion_split": 0.5,
        "share_promo_upper": 0.2318, "n_vif_flagged": 0, "n_comparison_pairs": 55, "n_pairs_significant": 12,
        "n_pairs_significant_holm": 7, "risk_threshold": 0.5, "n_high_risk": 394, "share_high_risk": 0.304,
        "profit_at_risk_upper_total": 999.6, "profit_at_risk_upper_high_risk": 2712.4,
        "share_profit_at_risk_high_risk": 0.7847, "top_segment": "high_risk_high_profit", "top_segment_n": 198,
        "top_segment_share": 0.1528, "top_segment_mean_p": 0.8234, "top_segment_observed_rate": 0.8636,
        "top_segment_profit_at_risk_upper": 1890.2, "top_segment_share_of_profit_at_risk": 0.5468,
        "inference_model": "gam_engagement", "business_model": "gam_engagement_recalibrated",
        "business_meets_target": True, "business_hl_p_value": 0.4497, "business_calibration_slope": 1.0601,
        "business_calibration_intercept": -0.0103, "n_models": 11, "best_model": "svc_rbf", "best_auc": 0.91234,
        "business_auc": 0.90692, "auc_diff": -0.00542, "auc_diff_conf_low": -0.0123, "auc_diff_conf_high": 0.0016,
        "auc_diff_p_value": 0.1234, "equivalence_margin": 0.01, "tost_p_value": 0.2346, "equivalent": False,
        "quick": False, "n_offered": 250, "n_personal_contact": 45, "plan_expected_declines": 312.6,
        "plan_customers_kept": 8.4, "plan_customers_kept_low": 3.33, "plan_customers_kept_high": 13.47,
        "plan_profit_retained": 33.36, "plan_profit_retained_low": 13.36, "plan_profit_retained_high": 53.36,
        "plan_share_of_profit_at_risk": 0.0123,
    }
    h.update(changes)
    return h


def action_row(action: str, **changes) -> dict:
    """A row of headline_actions: by default more_marketing, offered but not recommended."""
    r = {
        "action": action, "recommended": False, "offered": True, "robust": False, "p_value_holm": 0.0007,
        "n_treated": 295, "effect": -0.0284, "conf_low": -0.0456, "conf_high": -0.0114, "std_error": 0.0088,
        "std_error_delta": 0.0080, "model_min": -0.0383, "model_max": -0.0179, "model_min_code": "logit_linear",
        "model_max_code": "logit_floor", "n_models": 6, "customers_kept": 8.4, "customers_kept_low": 3.33,
        "customers_kept_high": 13.47, "profit_retained_month": 33.36, "profit_retained_month_low": 13.36,
        "profit_retained_month_high": 53.36, "break_even_per_customer": 0.3392,
        "break_even_per_customer_low": 0.1358, "break_even_per_customer_high": 0.5426,
        "break_even_per_contact": 0.05654, "break_even_per_contact_low": 0.02264,
        "break_even_per_contact_high": 0.09043,
    }
    r.update(changes)
    return r


def month_row(**changes) -> dict:
    r = action_row("marketing_this_month", offered=False, p_value_holm=0.5941, n_treated=222, effect=-0.0054,
                   conf_low=-0.0260, conf_high=0.0152, model_min=-0.0074, model_max=-0.0018)
    r.update(changes)
    return r


def candidate(model: str, **changes) -> dict:
    r = {"model": model, "auc_mean": 0.9, "log_loss": 0.34, "tied": False, "brier": 0.1, "hl_statistic": 50.0,
         "hl_df": 10, "hl_p_value": 1e-8, "calibration_slope": 0.93, "calibration_intercept": -0.01, "n_folds": 25,
         "folds_not_converged": np.nan, "meets_target": False, "role": np.nan, "chosen": False}
    r.update(changes)
    return r


def candidates_table() -> pd.DataFrame:
    return table(
        "model_candidates",
        candidate("logit_selected", tied=True),
        candidate("logit_linear"),
        candidate("logit_floor", tied="true", folds_not_converged=8),
        candidate("gam_engagement", tied="True", log_loss=0.33123, hl_p_value=2.5267e-10, role="inference"),
        candidate("logit_promo_flexible", tied="False"),
        candidate("gam_engagement_recalibrated", log_loss=0.31298, hl_p_value=0.4497, calibration_slope=1.0601,
                  calibration_intercept=0.01027, meets_target="True", role="business", chosen=True),
    )


def make(directory=None, **tables) -> Results:
    """A Results bundle: the protocol, headline, headline actions, run info and candidates by default, the
    given tables (a list of row dicts or a DataFrame) instead or besides."""
    base = {
        "protocol": protocol_rows(),
        "headline": table("headline", headline_row()),
        "headline_actions": table("headline_actions", action_row("more_marketing"), month_row()),
        "run_info": table("run_info", {"seed": 20261123, "protocol": json.dumps(
            {"n_splits": 5, "n_repeats": 5, "inner_splits": 3, "n_bootstrap": 200}), "quick": False,
            "data_dir": "data", "formula": "marketing_6m", "n_customers": 1296, "decline_rate": 0.38117}),
        "model_candidates": candidates_table(),
    }
    for name, value in tables.items():
        base[name] = value if isinstance(value, pd.DataFrame) else table(name, *value)
    return Results(base, directory)


# ---------------------------------------------------------------------------------------------------------
# Counts in words
# ---------------------------------------------------------------------------------------------------------


def test_count_of_never_reads_zero_and_agrees_in_number():
    assert T.count_of(0, "column") == "no column"
    assert T.count_of(1, "column") == "1 column"
    assert T.count_of(2, "column") == "2 columns"
    assert T.count_of(3.0, "column") == "3 columns"
    assert T.count_of(1234, "row") == "1,234 rows"
    assert T.count_of(1, "child", "children") == "1 child"
    assert T.count_of(2, "child", "children") == "2 children"
    assert T.count_of(0, "child", "children") == "no child"


def test_share_of_reads_none_all_and_the_one():
    assert T.share_of(0, 10, "bins") == "none of the 10 bins"
    assert T.share_of(10, 10, "bins") == "all 10 bins"
    assert T.share_of(2, 2, "bins") == "all 2 bins"
    assert T.share_of(1, 1, "bins") == "the one bin"
    assert T.share_of(1, 1, "Xs") == "the one X"
    assert T.share_of(1, 2, "bins") == "1 of the 2 bins"
    assert T.share_of(3, 10, "bins") == "3 of the 10 bins"
    assert T.share_of(1500, 2000, "customers") == "1,500 of the 2,000 customers"
    assert T.share_of(0.0, 2000.0, "customers") == "none of the 2,000 customers"


def test_plural_keeps_zero_as_a_number():
    assert T.plural(0, "customer") == "0 customers"
    assert T.plural(1, "customer") == "1 customer"
    assert T.plural(1.0, "customer") == "1 customer"
    assert T.plural(2, "customer") == "2 customers"
    assert T.plural(1200, "child", "children") == "1,200 children"
    assert T.plural(1, "child", "children") == "1 child"


def test_english_detail_of_exclusions():
    assert T.english_detail("zero revenue in revenue_prev2, revenue_prev") == \
        "No revenue: two months before and previous month"
    assert T.english_detail("zero revenue in revenue_current") == "No revenue: current month"
    assert T.english_detail("zero revenue in other_month") == "No revenue: other_month"
    assert T.english_detail("revenue_current = 106862.7 ₽, 21.3 × median 5012.4 ₽") == \
        "Revenue 106,863 ₽ in the current month, 21.3 × that month's median of 5,012 ₽"
    assert T.english_detail("minutes_prev = 5.0 ₽, 2.0 × median 2.4 ₽") == \
        "Revenue 5 ₽ in the minutes_prev, 2.0 × that month's median of 2 ₽"
    # not the pattern (text after it): the variable names are put into words instead
    assert T.english_detail("revenue_current = 1.0 ₽, 2.0 × median 3.0 ₽ again") == \
        "Revenue, current month = 1.0 ₽, 2.0 × median 3.0 ₽ again"
    assert T.english_detail("revenue_prev2 is negative") == "Revenue, two months before is negative"
    assert T.english_detail("service_errors above 10") == "Service errors above 10"
    # "id" and "profit" are words of the sentence, never replaced by their labels
    assert T.english_detail("profit below 0 for id 7") == "Profit below 0 for id 7"
    assert T.english_detail("missing value") == "Missing value"
    # two names run together (sharing their "s"): the longer one is put into words first, then the shorter
    assert T.english_detail("tenure_dayservice_errors") == "Tenureervice errors"


# ---------------------------------------------------------------------------------------------------------
# Protocol and run facts
# ---------------------------------------------------------------------------------------------------------


def test_thresholds_are_floats_by_name():
    res = make(segment_thresholds=[{"threshold": "risk", "value": 0.5, "rule": "r"},
                                   {"threshold": "profit", "value": 4, "rule": "q"}])
    got = T.thresholds(res)
    assert got == {"risk": 0.5, "profit": 4.0}
    assert [type(v) for v in got.values()] == [float, float]


def test_run_info_parses_the_protocol_and_the_quick_flag():
    res = make(run_info=[{"seed": 7, "protocol": '{"n_splits": 2}', "quick": "True", "data_dir": "d",
                          "formula": "a + b", "n_customers": 8, "decline_rate": 0.25}])
    assert T.run_info(res) == {"seed": 7, "protocol": {"n_splits": 2}, "quick": True, "data_dir": "d",
                               "formula": "a + b", "n_customers": 8, "decline_rate": 0.25}
    res = make(run_info=[{"seed": 7, "protocol": np.nan, "quick": False, "data_dir": "d",
                          "formula": "a", "n_customers": 8, "decline_rate": 0.25}])
    info = T.run_info(res)
    assert (info["protocol"], info["quick"]) == ({}, False)


def test_protocol_values_and_target_sentence():
    res = make(protocol=protocol_rows(alpha="0.1", conf_level="0.9", vif_threshold="7.5", holdout_share="0.2"))
    assert (T.alpha(res), T.conf_level(res), T.vif_threshold(res), T.holdout_share(res)) == (0.1, 0.9, 7.5, 0.2)
    assert T.calibration_target(res) == {"hl_p_value_min": 0.05, "slope_low": 0.9, "slope_high": 1.1,
                                         "intercept_abs_max": 0.1}
    assert T.target_sentence(res) == ("out-of-fold Hosmer–Lemeshow p ≥ 0.05, calibration slope in [0.9, 1.1] and "
                                      "calibration intercept within ±0.1")
    assert T.protocol(make(protocol=table("protocol", {"name": "horizon_months", "value": 3, "meaning": "m"}))) == \
        {"horizon_months": "3"}


def methods_bundle(tmp_path, quick: bool = False, total: bool = True) -> Results:
    directory = tmp_path / "results_demo"
    directory.mkdir()
    (directory / "manifest.json").write_text(json.dumps(
        {"run_id": "20261123-abc", "created": "2026-11-23T19:34:32+00:00", "results": {}}), encoding="utf-8")
    prot = {"n_splits": 3, "n_repeats": 2, "inner_splits": 2} if quick else {"n_splits": 5, "n_repeats": 4,
                                                                             "inner_splits": 3}
    run_info = [{"seed": 20261123, "protocol": json.dumps(prot), "quick": quick, "data_dir": "data",
                 "formula": "marketing_6m + C(service_type, Treatment('standard')) + "
                            "I(pages_per_visit - 8.0):I(minutes_current - 13.0)",
                 "n_customers": 1296, "decline_rate": 0.38}]
    times = [{"stage": "data", "seconds": 1.0}] + ([{"stage": "total", "seconds": 1234.56}] if total else [])
    return make(directory, run_info=run_info, run_times=times)


def test_methods_facts_from_the_run(tmp_path):
    res = methods_bundle(tmp_path)
    assert T.methods_facts(res) == {
        "seed": "20261123", "n_splits": "5", "n_repeats": "4", "inner_splits": "3",
        "protocol_name": "the full protocol",
        "formula": "marketing_6m + C(service_type, Treatment('standard')) + "
                   "I(pages_per_visit - 8.0):I(minutes_current - 13.0)",
        "formula_terms": "Marketing, 6-month average; Service type; "
                         "Pages per visit × Minutes on site, current month (centred)",
        "run_id": "20261123-abc", "run_date": "2026-11-23", "results_dir": "results_demo",
        "total_seconds": "1,234.6", "conf_level": "95%", "alpha": "0.05", "choice_rule": "lowest log loss",
        "target": ("out-of-fold Hosmer–Lemeshow p ≥ 0.05, calibration slope in [0.9, 1.1] and calibration "
                   "intercept within ±0.1"),
        "margin": "0.010", "svc_max_rows": "2,000", "forest_trees": "200", "forest_tuning_trees": "100",
        "support_rule": "20 customers within half a step", "tie_rule": "within one corrected SE",
        "n_bootstrap": "200", "inference_model": "gam_engagement",
    }


def test_methods_facts_of_a_quick_run_without_total_time(tmp_path):
    f = T.methods_facts(methods_bundle(tmp_path, quick=True, total=False))
    assert (f["protocol_name"], f["total_seconds"], f["n_splits"], f["n_repeats"]) == \
        ("the quick protocol meant for tests", "—", "3", "2")


def test_quick_protocol_note(tmp_path):
    assert T.quick_protocol_note(make()) == ""
    assert T.quick_protocol_note(methods_bundle(tmp_path, quick=True)) == (
        "::: {.callout-warning title=\"Quick protocol\"}\n"
        "These results were produced with the reduced cross-validation protocol meant for tests "
        "(3 folds × 2 repeats, 2 inner folds). Run `python -m analysis run` without `--quick` before relying on "
        "the benchmark.\n:::\n")


def test_quick_protocol_note_in_the_singular(tmp_path):
    res = methods_bundle(tmp_path, quick=True)
    res["run_info"] = res["run_info"].assign(protocol=json.dumps({"n_splits": 1, "n_repeats": 1, "inner_splits": 1}))
    assert "(1 fold × 1 repeat, 1 inner fold)." in T.quick_protocol_note(res)


# ---------------------------------------------------------------------------------------------------------
# Data checks and collinearity
# ---------------------------------------------------------------------------------------------------------


def quality_bundle(vifs, **headline_changes) -> Results:
    customers = [{"id": 1, "profit": 3.5}, {"id": 2, "profit": -1.5}, {"id": 3, "profit": 7.43}]
    return make(headline=[headline_row(**headline_changes)], customer_table=customers,
                vif=[{"term": t, "vif": v, "flagged": v > 5} for t, v in vifs])


def test_data_quality_findings_with_every_problem_present():
    res = quality_bundle([("marketing_6m", 2.1), ("pages_per_visit", 4.99), ("unpaid_items", 1.3)],
                         n_duplicate_rows=3, n_typo_labels=2, n_typo_cells=15, n_not_regular=1,
                         n_extreme_revenue=2)
    assert T.data_quality_findings(res) == [
        "Exact duplicate rows in the exports: 3.",
        "2 known misspellings of category or period labels, corrected in 15 cells; each correction is listed in "
        "the typo table.",
        "1 customer had no purchase in at least one of the three months: not regular customers by the brief's "
        "definition, so excluded from the analysis.",
        "2 customers had an implausible monthly revenue (far above the month's median), excluded as a probable "
        "data error.",
        "The target is reasonably balanced: activity declined for 38.1% of the 1,296 regular customers.",
        "The promotional share is bimodal: 23.2% of the customers buy at least 50% of their purchases on "
        "promotion, the others mostly well below.",
        f"Profit ranges from {M}1.50 to 7.43; the store's brief names no unit, so profit is reported in profit "
        "units as exported.",
        "No severe collinearity: the largest VIF is 4.99 (Pages per visit), below the threshold of 5.",
    ]


def test_data_quality_findings_clean_data_and_vif_at_the_threshold():
    res = quality_bundle([("unpaid_items", 1.3), ("marketing_6m", 5.0)], n_not_regular=2, n_extreme_revenue=1,
                         decline_rate=0.5, n_customers=8, share_promo_upper=0.125, promotion_split=0.45)
    assert T.data_quality_findings(res) == [
        "No exact duplicate rows in any of the exports.",
        "2 customers had no purchase in at least one of the three months: not regular customers by the brief's "
        "definition, so excluded from the analysis.",
        "1 customer had an implausible monthly revenue (far above the month's median), excluded as a probable "
        "data error.",
        "The target is reasonably balanced: activity declined for 50.0% of the 8 regular customers.",
        "The promotional share is bimodal: 12.5% of the customers buy at least 45% of their purchases on "
        "promotion, the others mostly well below.",
        f"Profit ranges from {M}1.50 to 7.43; the store's brief names no unit, so profit is reported in profit "
        "units as exported.",
        "No severe collinearity: the largest VIF is 5.00 (Marketing, 6-month average), below the threshold of 5.",
    ]


def test_data_quality_findings_vif_above_the_threshold():
    res = quality_bundle([("unpaid_items", 1.3), ("marketing_6m", 6.2)])
    assert T.data_quality_findings(res)[-1] == \
        "The largest VIF is 6.20 (Marketing, 6-month average), above the threshold of 5."
    res.update(protocol=protocol_rows(vif_threshold="7.5"))
    assert T.data_quality_findings(res)[-1] == \
        "No severe collinearity: the largest VIF is 6.20 (Marketing, 6-month average), below the threshold of 7.5."


def vif_bundle(flagged: int, threshold: str = "5.0") -> Results:
    return make(protocol=protocol_rows(vif_threshold=threshold), headline=[headline_row(n_vif_flagged=flagged)],
                vif=[{"term": "unpaid_items", "vif": 1.2, "flagged": False},
                     {"term": "pages_per_visit", "vif": 4.99, "flagged": False},
                     {"term": "marketing_6m", "vif": 3.1, "flagged": False}],
                gvif=[{"term": "popular_category", "n_columns": 5, "gvif": 2.0, "gvif_adjusted": 1.07},
                      {"term": "service_type", "n_columns": 1, "gvif": 1.96, "gvif_adjusted": 1.4},
                      {"term": "unpaid_items", "n_columns": 1, "gvif": 1.2, "gvif_adjusted": 1.1}])


def test_vif_summary_in_words():
    base = {"threshold": "5", "n_flagged": "0", "flagged_sentence": "no column is flagged", "max_vif": "4.99",
            "max_term": "Pages per visit", "max_gvif": "1.40", "max_gvif_term": "Service type"}
    assert T.vif_summary(vif_bundle(0)) == base
    assert T.vif_summary(vif_bundle(1, "7.5")) == {**base, "threshold": "7.5", "n_flagged": "1",
                                                  "flagged_sentence": "1 column is flagged"}
    assert T.vif_summary(vif_bundle(3))["flagged_sentence"] == "3 columns are flagged"


def phik_pairs_bundle(max_vif: float) -> Results:
    pairs = [("pages_per_visit", "pages_per_visit", 1.0), ("minutes_current", "minutes_prev", 0.55),
             ("marketing_current", "marketing_6m", 0.7), ("marketing_6m", "marketing_current", 0.7),
             ("service_errors", "unpaid_items", 0.3), ("profit", "promo_share", 0.2)]
    return make(phik_matrix=[{"variable_a": a, "variable_b": b, "phik": p} for a, b, p in pairs],
                vif=[{"term": "unpaid_items", "vif": 1.2, "flagged": False},
                     {"term": "pages_per_visit", "vif": max_vif, "flagged": False}])


def test_phik_pairs_sentence_strongest_pairs_and_redundancy():
    assert T.phik_pairs_sentence(phik_pairs_bundle(5.0)) == (
        "The strongest pairs are marketing, 6-month average with marketing, current month (0.70); minutes on site, "
        "current month with minutes on site, previous month (0.55); no predictor is redundant: every VIF is below "
        "the threshold (see Collinearity).")
    assert T.phik_pairs_sentence(phik_pairs_bundle(5.01), n=3) == (
        "The strongest pairs are marketing, 6-month average with marketing, current month (0.70); minutes on site, "
        "current month with minutes on site, previous month (0.55); service errors with unpaid cart items (0.30); "
        "some predictors overlap strongly (see Collinearity).")


def test_phik_summary_significance_at_alpha():
    rows = [("marketing_6m", 0.6, 0.0001), ("profit", 0.1, 0.2), ("service_type", 0.05, 0.05),
            ("pages_per_visit", 0.5, 0.001), ("unpaid_items", 0.3, 0.049)]
    res = make(phik_target=[{"variable": v, "phik": p, "p_value": q, "significance_z": 1.0} for v, p, q in rows])
    assert T.phik_summary(res) == {
        "n_significant": "3", "n_variables": "5",
        "top": "marketing, 6-month average (0.60); pages per visit (0.50); unpaid cart items (0.30)",
        "not_significant": "profit; service type", "profit_phik": "0.10", "profit_p": "0.200", "alpha": "0.05"}
    res = make(protocol=protocol_rows(alpha="0.1"),
               phik_target=[{"variable": v, "phik": p, "p_value": q, "significance_z": 1.0} for v, p, q in rows
                            if v != "profit"])
    assert T.phik_summary(res) == {
        "n_significant": "4", "n_variables": "4",
        "top": "marketing, 6-month average (0.60); pages per visit (0.50); unpaid cart items (0.30)",
        "not_significant": "none", "profit_phik": "—", "profit_p": "—", "alpha": "0.1"}


def customer_rows(decline, **columns) -> list[dict]:
    return [{"id": i, "activity_decline": d, **{k: v[i] for k, v in columns.items()}} for i, d in enumerate(decline)]


def test_class_contrast_sentence_medians_by_class():
    data = customer_rows([1, 1, 1, 1, 0, 0, 0, 0],
                         promo_share=[0.9, 0.5, 0.4, 0.3, 0.2, 0.1, 0.3, 0.0],
                         pages_per_visit=[3, 4, 5, 6, 8, 9, 10, 11],
                         minutes_current=[10, 12, 14, 20, 15, 17, 19, 21])
    res = make(customer_table=data)
    assert T.class_contrast_sentence(res, ["promo_share", "pages_per_visit", "minutes_current"]) == (
        "Medians, declined vs same level: promotional share 45% vs 15%; pages per visit 4.5 vs 9.5; "
        "minutes on site, current month 13 vs 18.")
    one_class = make(customer_table=customer_rows([0, 0], pages_per_visit=[1, 2]))
    assert T.class_contrast_sentence(one_class, ["pages_per_visit"]) == ""
    only_declined = make(customer_table=customer_rows([1, 1], pages_per_visit=[1, 2]))
    assert T.class_contrast_sentence(only_declined, ["pages_per_visit"]) == ""


def test_class_contrast_sentence_defaults_to_the_key_predictors():
    data = customer_rows([1, 0, 1, 0], pages_per_visit=[3, 9, 5, 7], unpaid_items=[4, 1, 6, 1],
                         profit=[1.0, 2.0, 3.0, 4.0])
    res = make(customer_table=data,
               phik_target=[{"variable": "profit", "phik": 0.9, "p_value": 0.5, "significance_z": 0.0},
                            {"variable": "unpaid_items", "phik": 0.4, "p_value": 0.01, "significance_z": 2.0},
                            {"variable": "pages_per_visit", "phik": 0.5, "p_value": 0.01, "significance_z": 2.0}])
    assert T.class_contrast_sentence(res) == \
        "Medians, declined vs same level: pages per visit 4 vs 8; unpaid cart items 5 vs 1."


def test_key_predictors_numeric_customer_columns_by_phik():
    order = ["profit", "contact_allowed", "service_type", "tenure_100d", "pages_per_visit", "marketing_6m",
             "minutes_current", "unpaid_items", "service_errors", "promo_share", "categories_per_visit",
             "minutes_prev"]
    phik = [{"variable": v, "phik": 1 - i / 20, "p_value": 0.01, "significance_z": 2.0} for i, v in enumerate(order)]
    row = {c: 1.0 for c in REGISTRY["customer_table"].columns}
    row.update(service_type="premium", popular_category="kitchenware")
    res = make(phik_target=phik[::-1], customer_table=[row, row])
    assert T.key_predictors(res) == ["pages_per_visit", "marketing_6m", "minutes_current", "unpaid_items",
                                     "service_errors", "promo_share"]
    assert T.key_predictors(res, n=2) == ["pages_per_visit", "marketing_6m"]


# ---------------------------------------------------------------------------------------------------------
# Coefficients, units, separation
# ---------------------------------------------------------------------------------------------------------

UNITS = [("marketing_6m", "per contact / month"), ("promo_share_10pp", "per 10 percentage points"),
         ("pages_per_visit", "per page / visit"), ("minutes_current", "per minute"),
         ("service_type", "vs reference 'standard'"), ("contact_allowed", "vs reference 0"),
         ("popular_category", "vs reference 'kids_goods'")]


def units_table() -> pd.DataFrame:
    return table("model_units", *({"variable": v, "unit": u} for v, u in UNITS))


def test_units_and_term_units():
    res = make(model_units=units_table())
    units = T.units_of(res)
    assert units == dict(UNITS)
    assert T.term_unit("Intercept", units) == ""
    assert T.term_unit("C(service_type, Treatment('standard'))[T.premium]", units) == "vs reference"
    assert T.term_unit("cr(pages_per_visit, df=4)[1]", units) == "spline basis"
    assert T.term_unit("I(pages_per_visit - 8.0):I(minutes_current - 13.0)", units) == "product (centred)"
    assert T.term_unit("pages_per_visit:minutes_current", units) == "product"
    assert T.term_unit("promo_share_10pp", units) == "per 10 pp"
    assert T.term_unit("pages_per_visit", units) == "per page / visit"
    assert T.term_unit("tenure_days", units) == ""
    # the intercept has no unit even where the units table names one
    assert T.term_unit("Intercept", {"Intercept": "per customer"}) == ""


def test_reference_levels_sentence():
    assert T.reference_levels_sentence(make(model_units=units_table())) == \
        "service type: Standard; consent to offers: no; popular category: Kids' goods"
    odd = make(model_units=[{"variable": "size_band", "unit": "vs reference 'XL'"},
                            {"variable": "service_type", "unit": "vs reference ' premium'"}])
    assert T.reference_levels_sentence(odd) == "size band: XL; service type: Premium"
    numeric_only = make(model_units=[{"variable": "marketing_6m", "unit": "per contact / month"}])
    assert T.reference_levels_sentence(numeric_only) == ""


def test_ame_unit():
    units = dict(UNITS)
    assert T.ame_unit("service_type", "premium - standard", units) == "vs reference"
    assert T.ame_unit("promo_share_10pp", "dy/dx", units) == "per 10 pp"
    assert T.ame_unit("promo_share_10pp", "", units) == "per 10 pp"
    assert T.ame_unit("promo_share_10pp", None, units) == "per 10 pp"
    assert T.ame_unit("tenure_days", "dy/dx", units) == ""


def coefficients(*terms_se) -> list[dict]:
    return [{"term": t, "estimate": 0.1, "std_error": se, "z": 1.0, "p_value": 0.3} for t, se in terms_se]


def test_identification_note():
    res = make(logit_coefficients=coefficients(("Intercept", 0.5), ("marketing_6m", 0.1)))
    assert T.unidentified_terms(res) == []
    assert T.identification_note(res) == "Every coefficient has a standard error."
    res = make(logit_coefficients=coefficients(("Intercept", 0.5), ("marketing_6m", np.nan)))
    assert T.unidentified_terms(res) == ["marketing_6m"]
    assert T.identification_note(res) == "No standard error is reported for: Marketing, 6-month average."
    res = make(logit_coefficients=coefficients(("cr(pages_per_visit, df=4)[0]", np.nan), ("Intercept", 0.5),
                                               ("marketing_6m", np.nan)))
    assert T.unidentified_terms(res) == ["cr(pages_per_visit, df=4)[0]", "marketing_6m"]
    assert T.identification_note(res) == (
        "No standard error is reported for: Pages per visit, spline basis 1; Marketing, 6-month average. "
        "The natural cubic spline basis (cr) spans the constant, so together with the intercept the design is "
        "rank-deficient by one and these coefficients are not separately identified; predictions, average "
        "marginal effects and likelihood-ratio tests of the whole spline term are identified and unaffected. "
        "Read the spline through its average marginal effect.")


def hc3_bundle(rows, alpha: str = "0.05") -> Results:
    a = [{"term": t, "estimate": 0.1, "std_error": se, "z": 1.0, "p_value": p} for t, se, p, _, _ in rows]
    b = [{"term": t, "estimate": 0.1, "std_error": se, "z": 1.0, "p_value": p} for t, _, _, se, p in rows]
    return make(protocol=protocol_rows(alpha=alpha), logit_coefficients=a, logit_coefficients_hc3=b)


def test_hc3_summary_terms_whose_verdict_changes():
    rows = [("Intercept", 0.5, 0.001, 0.6, 0.002),
            ("marketing_6m", 0.1, 0.01, 0.12, 0.06),      # significant -> not
            ("pages_per_visit", 0.2, 0.3, 0.18, 0.04),    # not -> significant
            ("unpaid_items", 0.4, 0.05, 0.44, 0.03),      # exactly alpha (not significant) -> significant
            ("service_errors", 0.3, 0.01, 0.3, 0.05),     # significant -> exactly alpha (not significant)
            ("cr(pages_per_visit, df=4)[0]", np.nan, np.nan, 0.1, 0.9)]
    assert T.hc3_summary(hc3_bundle(rows)) == {
        "ratio_min": "0.90", "ratio_max": "1.20", "n_changed": "4",
        "changed": "Marketing, 6-month average; Pages per visit; Unpaid cart items; Service errors",
        "changed_sentence": ("changes for 4 terms (Marketing, 6-month average; Pages per visit; Unpaid cart items; "
                             "Service errors)"),
        "alpha": "0.05",
        "conclusion": "For these terms the conclusion depends on the variance estimator; read them with care."}


def test_hc3_summary_one_change_and_none():
    rows = [("Intercept", 0.5, 0.001, 0.6, 0.002), ("marketing_6m", 0.1, 0.08, 0.09, 0.06)]
    assert T.hc3_summary(hc3_bundle(rows, alpha="0.07")) == {
        "ratio_min": "0.90", "ratio_max": "1.20", "n_changed": "1", "changed": "Marketing, 6-month average",
        "changed_sentence": "changes for 1 term (Marketing, 6-month average)", "alpha": "0.07",
        "conclusion": "For these terms the conclusion depends on the variance estimator; read them with care."}
    assert T.hc3_summary(hc3_bundle(rows)) == {
        "ratio_min": "0.90", "ratio_max": "1.20", "n_changed": "0", "changed": "none",
        "changed_sentence": "changes for no term", "alpha": "0.05",
        "conclusion": "The inference does not hinge on the model-based variance."}


def test_separation_sentence():
    res = make(separation=[{"separation": "none", "n_fitted_extreme": 0, "max_abs_coef": 10.2883,
                            "max_std_error": 1.83687, "method": "linear-programming (Konis 2007)"}])
    assert T.separation_sentence(res) == (
        "No complete or quasi-complete separation was found [linear-programming check, @konis2007]; no customer "
        "has a fitted probability at 0 or 1, the largest absolute coefficient is 10.29 and the largest standard "
        "error 1.837.")
    res = make(separation=[{"separation": "quasi-complete", "n_fitted_extreme": 1, "max_abs_coef": 25.0,
                            "max_std_error": 123456.0, "method": "iterative"}])
    assert T.separation_sentence(res) == (
        "Separation check: quasi-complete (iterative); 1 customer has a fitted probability at 0 or 1, the largest "
        "absolute coefficient is 25.00 and the largest standard error 1.23e+05.")
    res = make(separation=[{"separation": "complete", "n_fitted_extreme": 3, "max_abs_coef": 25.0,
                            "max_std_error": 2.0, "method": "iterative"}])
    assert T.separation_sentence(res) == (
        "Separation check: complete (iterative); 3 customers have fitted probabilities at 0 or 1, the largest "
        "absolute coefficient is 25.00 and the largest standard error 2.000.")


# ---------------------------------------------------------------------------------------------------------
# Store actions and decisions
# ---------------------------------------------------------------------------------------------------------

MM_TEXTS = {
    "label": MM, "effect_text": f"{M}2.8 pp (95% CI {M}4.6 to {M}1.1)", "range_text": f"{M}3.8 to {M}1.8 pp",
    "kept_text": "8.4 (3.3 to 13.5)", "profit_text": "33.4 (13.4 to 53.4)",
    "per_contact_text": "0.057 (0.023 to 0.090)", "per_customer_text": "0.34 (0.14 to 0.54)",
}
OFFERED = "offered as a test: the inference model supports it, not every tied model does"
RECOMMENDED = "recommended: supported under every model that fits the data as well"
UNSUPPORTED = "not supported by the data"


def test_percentage_points_and_their_interval():
    assert T._pp(-0.0284) == f"{M}2.8"
    assert T._pp(0.123456, 2) == "12.35"
    assert T._pp(0.99996, 3) == "99.996"
    assert T._pp(0.0) == "0.0"
    assert T._pp_ci(-0.0284, -0.0456, -0.0114) == f"{M}2.8 pp (95% CI {M}4.6 to {M}1.1)"
    assert T._pp_ci(-0.02843, -0.04567, 0.01141, 2) == f"{M}2.84 pp (95% CI {M}4.57 to 1.14)"
    assert T._pp_ci(0.5, 0.25, 0.75, 0) == "50 pp (95% CI 25 to 75)"


def test_flags_read_as_written():
    assert [T._true(x) for x in (True, "True", "true", "TRUE", False, "False", "yes", 1, np.nan)] == \
        [True, True, True, True, False, False, False, False, False]


def test_action_rows_display_strings_and_status():
    recommended = action_row("cart_reminder", recommended="True", offered="True", robust="true", effect=0.0196,
                             conf_low=-0.0049, conf_high=0.0351, model_min=0.0, model_max=0.1,
                             customers_kept=-1.25, customers_kept_low=-10.0, customers_kept_high=9.96,
                             profit_retained_month=1234.56, profit_retained_month_low=999.96,
                             profit_retained_month_high=2000.0, break_even_per_contact=0.0004,
                             break_even_per_contact_low=-0.0006, break_even_per_contact_high=0.0014,
                             break_even_per_customer=1.005, break_even_per_customer_low=0.994,
                             break_even_per_customer_high=2.0)
    res = make(headline_actions=[action_row("more_marketing"), month_row(), recommended])
    rows = T.action_rows(res)
    assert rows[0] == {**action_row("more_marketing"), **MM_TEXTS, "recommended": False, "offered": True,
                       "robust": False, "status": OFFERED}
    assert rows[1] == {**month_row(), "recommended": False, "offered": False, "robust": False,
                       "label": MTM, "effect_text": f"{M}0.5 pp (95% CI {M}2.6 to 1.5)",
                       "range_text": f"{M}0.7 to {M}0.2 pp", "kept_text": "8.4 (3.3 to 13.5)",
                       "profit_text": "33.4 (13.4 to 53.4)", "per_contact_text": "0.057 (0.023 to 0.090)",
                       "per_customer_text": "0.34 (0.14 to 0.54)", "status": UNSUPPORTED}
    assert rows[2] == {**recommended, "recommended": True, "offered": True, "robust": True,
                       "label": "Cart reminder (assumed: −1 unpaid item)",
                       "effect_text": f"2.0 pp (95% CI {M}0.5 to 3.5)", "range_text": "0.0 to 10.0 pp",
                       "kept_text": f"{M}1.2 ({M}10.0 to 10.0)", "profit_text": "1,234.6 (1,000.0 to 2,000.0)",
                       "per_contact_text": f"0.000 ({M}0.001 to 0.001)",
                       "per_customer_text": "1.00 (0.99 to 2.00)", "status": RECOMMENDED}
    assert len(rows) == 3


def test_tied_models_read_the_tie_flag_as_written():
    assert T.tied_models(make()) == ["logit_selected", "logit_floor", "gam_engagement"]


def effect(model, estimate, low, high, action="more_marketing", quantity="ame", interval="delta"):
    return {"model": model, "role": "candidate", "tied": True, "action": action, "kind": "action",
            "quantity": quantity, "group": "all", "n_customers": 1296, "estimate": estimate, "std_error": 0.01,
            "conf_low": low, "conf_high": high, "interval": interval}


def decision_bundle(actions=None, effects=None, **headline_changes) -> Results:
    effects = effects if effects is not None else [
        effect("logit_selected", -0.03, -0.05, -0.005),
        effect("logit_linear", -0.02, -0.04, 0.01),                        # not tied: never blocks
        effect("logit_floor", -0.02, -0.045, 0.001),                       # tied, interval above zero
        effect("gam_engagement", -0.015, -0.03, 0.0),                      # tied, interval touching zero
        effect("gam_engagement", -0.015, -0.03, 0.02, interval="bootstrap"),
        effect("logit_floor", -0.015, -0.03, 0.02, quantity="scenario"),
        effect("logit_floor", -0.015, -0.03, 0.02, action="marketing_this_month"),
    ]
    tests = [{"action": "more_marketing", "estimate": -0.02, "conf_low": -0.04, "conf_high": -0.01,
              "p_value_holm": 0.0007},
             {"action": "marketing_this_month", "estimate": -0.0049, "conf_low": -0.0226, "conf_high": 0.0127,
              "p_value_holm": 0.5941}]
    return make(headline=[headline_row(**headline_changes)],
                headline_actions=actions if actions is not None else [action_row("more_marketing"), month_row()],
                action_tests=tests, effects_by_model=table("effects_by_model", *effects))


BLOCKING = (f"Floor logit ({M}2.0 pp (95% CI {M}4.5 to 0.1) per contact a month); "
            f"GAM ({M}1.5 pp (95% CI {M}3.0 to 0.0) per contact a month)")
PLAN = {"n_offered": "250", "n_personal": "45", "plan_declines": "313", "plan_kept": "8.4 (3.3 to 13.5)",
        "plan_profit": "33.4 (13.4 to 53.4)", "plan_share": "1.2%", "profit_at_risk_high": "2,712"}


def test_decision_summary_offered_action_blocked_by_tied_models():
    assert T.decision_summary(decision_bundle()) == {
        "n_actions": "2", "tied": "Logit, selected; Floor logit; GAM", "n_tied": "3", "business": "GAM, recal.",
        "main_label": MM.lower(), "main_n": "295", "main_effect": MM_TEXTS["effect_text"],
        "main_range": MM_TEXTS["range_text"], "main_n_models": "6", "main_kept": "8.4 (3.3 to 13.5)",
        "main_profit": "33.4 (13.4 to 53.4)", "main_per_contact": "0.057 (0.023 to 0.090)",
        "main_per_customer": "0.34 (0.14 to 0.54)", "main_status": OFFERED, "main_p": LT,
        "main_blocking": BLOCKING, "main_se_ratio": "1.10",
        "month_effect": f"{M}0.5 pp (95% CI {M}2.6 to 1.5)", "month_n": "222",
        "month_ame": f"{M}0.5 pp (95% CI {M}2.3 to 1.3)", "month_p": "0.594",
        "month_range": f"{M}0.7 to {M}0.2 pp",
        **PLAN, "n_recommended": "0",
    }


def test_decision_summary_recommended_action_without_blocking_model():
    main = action_row("more_marketing", recommended=True, robust=True, p_value_holm=4e-7, std_error=0.009,
                      std_error_delta=0.0)
    effects = [effect("logit_selected", -0.03, -0.05, -0.005), effect("gam_engagement", -0.02, -0.03, -0.0001)]
    d = T.decision_summary(decision_bundle(actions=[main], effects=effects, n_offered=1, n_personal_contact=0,
                                           plan_expected_declines=0.4, plan_share_of_profit_at_risk=0.99951,
                                           profit_at_risk_upper_high_risk=999.5))
    assert d == {
        "n_actions": "1", "tied": "Logit, selected; Floor logit; GAM", "n_tied": "3", "business": "GAM, recal.",
        "main_label": MM.lower(), "main_n": "295", "main_effect": MM_TEXTS["effect_text"],
        "main_range": MM_TEXTS["range_text"], "main_n_models": "6", "main_kept": "8.4 (3.3 to 13.5)",
        "main_profit": "33.4 (13.4 to 53.4)", "main_per_contact": "0.057 (0.023 to 0.090)",
        "main_per_customer": "0.34 (0.14 to 0.54)", "main_status": RECOMMENDED,
        "main_p": f"<{NB}1e−6 (conditional on the model's form)", "main_blocking": "", "main_se_ratio": "—",
        **PLAN, "n_offered": "1", "n_personal": "0", "plan_declines": "0", "plan_share": "100.0%",
        "profit_at_risk_high": "1,000", "n_recommended": "1",
    }


def test_decision_summary_without_the_marketing_actions():
    other = action_row("cart_reminder", recommended="True")
    d = T.decision_summary(decision_bundle(actions=[other, action_row("less_promotion", recommended=True)],
                                           business_model="logit_floor"))
    assert d == {"n_actions": "2", "tied": "Logit, selected; Floor logit; GAM", "n_tied": "3",
                 "business": "Floor logit", **PLAN, "n_recommended": "2"}


def test_robustness_sentence():
    assert T.robustness_sentence(decision_bundle()) == (
        f"For {MM.lower()}, the inference model's change among the high-risk customers it reaches is "
        f"{M}2.8 pp (95% CI {M}4.6 to {M}1.1), and the candidates range from {M}3.8 to {M}1.8 pp; the bootstrap SD "
        f"is 1.10 times the delta-method SE. Its AME interval includes zero under a tied candidate, {BLOCKING}: the "
        "data do not support it under every model that fits them as well, so it is offered as a test, not "
        "recommended for a roll-out.")
    effects = [effect("logit_selected", -0.03, -0.05, -0.005)]
    assert T.robustness_sentence(decision_bundle(effects=effects)) == (
        f"For {MM.lower()}, the inference model's change among the high-risk customers it reaches is "
        f"{M}2.8 pp (95% CI {M}4.6 to {M}1.1), and the candidates range from {M}3.8 to {M}1.8 pp; the bootstrap SD "
        "is 1.10 times the delta-method SE.")
    assert T.robustness_sentence(decision_bundle(actions=[month_row()])) == ""


def test_headline_converts_flags_and_adds_actions_and_protocol():
    res = make(headline=[headline_row(business_meets_target="False", equivalent="true", quick=True)],
               protocol=protocol_rows(alpha="0.1", conf_level="0.9"))
    h = T.headline(res)
    assert h == {**headline_row(business_meets_target=False, equivalent=True, quick=True), "actions": h["actions"],
                 "conf_level": 0.9, "alpha": 0.1}
    assert [(a["action"], a["status"]) for a in h["actions"]] == [("more_marketing", OFFERED),
                                                                   ("marketing_this_month", UNSUPPORTED)]
    h = T.headline(make())
    assert (h["business_meets_target"], h["equivalent"], h["quick"]) == (True, False, False)


def summary_h(**changes) -> dict:
    return {**headline_row(**changes), "conf_level": 0.95, "alpha": 0.05}


SUMMARY = {
    "n_customers": "1,296", "n_exported": "1,300", "decline_rate": "38.1%", "risk_threshold": "0.50",
    "n_high_risk": "394", "share_high_risk": "30.4%", "profit_at_risk_total": "1,000",
    "profit_at_risk_high_risk": "2,712", "share_profit_at_risk_high_risk": "78.5%",
    "top_segment": "high risk, high profit", "top_segment_n": "198", "top_segment_share": "15.3%",
    "top_segment_mean_p": "0.82", "top_segment_observed_rate": "86%", "top_segment_profit_at_risk": "1,890",
    "top_segment_share_of_profit_at_risk": "54.7%", "n_models": "11", "business_model_label": GAM_RECAL,
    "inference_model_label": GAM, "business_auc": "0.907", "best_model_label": SVC, "best_auc": "0.912",
    "auc_diff": f"{M}0.005", "auc_diff_ci": f"{M}0.012 to 0.002", "auc_diff_p": "0.123", "margin": "0.010",
    "tost_p": "0.235", "hl_p": "0.450", "cal_slope": "1.06", "cal_intercept": f"{M}0.01", "conf_level": "95%",
}


def test_summary_strings_of_the_headline():
    assert T.summary_strings(summary_h()) == SUMMARY
    h = summary_h(tost_p_value=0.0004, business_hl_p_value=0.00002, conf_level=0.9)
    h["conf_level"] = 0.9
    assert T.summary_strings(h) == {**SUMMARY, "tost_p": LT, "hl_p": "2.00e−05", "conf_level": "90%"}


def test_summary_model_sentence():
    cal = (f"(Hosmer–Lemeshow p = 0.450, calibration slope 1.06, intercept {M}0.01).")
    assert T.summary_model_sentence(summary_h()) == (
        f"The business model ranks customers slightly less well than the best of the 11 models compared, {SVC}: "
        f"cross-validated AUC 0.907 vs 0.912, a difference of {M}0.005 (95% CI {M}0.012 to 0.002), not shown to be "
        "within the stated equivalence margin of ±0.010 (equivalence test p = 0.235). Its out-of-fold "
        f"probabilities meet the calibration target {cal}")
    assert T.summary_model_sentence(summary_h(equivalent=True, business_meets_target=False)) == (
        f"The business model ranks customers slightly less well than the best of the 11 models compared, {SVC}: "
        f"cross-validated AUC 0.907 vs 0.912, a difference of {M}0.005 (95% CI {M}0.012 to 0.002), within the "
        "stated equivalence margin of ±0.010 (equivalence test p = 0.235). Its out-of-fold probabilities are "
        f"close to, but do not fully meet, the calibration target {cal}")
    assert T.summary_model_sentence(summary_h(best_model="gam_engagement_recalibrated")) == (
        "The business model is also the most accurate of the 11 models compared (cross-validated AUC 0.907). "
        f"Its out-of-fold probabilities meet the calibration target {cal}")


# ---------------------------------------------------------------------------------------------------------
# Segments, model choice, calibration, benchmark
# ---------------------------------------------------------------------------------------------------------


def sensitivity_bundle(last_low_profit: float) -> Results:
    rows = [(0.4, 0.5, "high_risk_high_profit", 200, 900), (0.4, 0.75, "high_risk_high_profit", 110, 700),
            (0.5, 0.5, "high_risk_high_profit", 180, 850), (0.5, 0.75, "high_risk_high_profit", 95, 600),
            (0.4, 0.5, "high_risk_low_profit", 220, 300), (0.4, 0.75, "high_risk_low_profit", 310, 450),
            (0.5, 0.5, "high_risk_low_profit", 190, 280), (0.5, 0.75, "high_risk_low_profit", 265, last_low_profit),
            (0.4, 0.5, "low_risk_high_profit", 400, 500), (0.4, 0.75, "low_risk_high_profit", 300, 400),
            (0.5, 0.5, "low_risk_high_profit", 420, 520), (0.5, 0.75, "low_risk_high_profit", 320, 410)]
    return make(segment_sensitivity=[{"risk_threshold": r, "profit_quantile": q, "profit_threshold": 4.0,
                                      "segment": s, "n_customers": n, "profit_at_risk_upper": p}
                                     for r, q, s, n, p in rows])


def test_sensitivity_summary_top_segment_over_the_threshold_grid():
    base = {"risk_min": "0.40", "risk_max": "0.50", "q_min": "0.5", "q_max": "0.8", "high_min": "370",
            "high_max": "420", "top": "high risk, high profit", "top_n_min": "95", "top_n_max": "200",
            "top_par_min": "600", "top_par_max": "900"}
    assert T.sensitivity_summary(sensitivity_bundle(610)) == {
        "stable": "The segment *high risk, high profit* keeps the largest profit at risk in 3 of 4 combinations: "
                  "the priorities depend on where the boundaries are drawn.", **base}
    assert T.sensitivity_summary(sensitivity_bundle(590)) == {
        "stable": "In all 4 combinations the segment *high risk, high profit* keeps the largest profit at risk, so "
                  "the priorities do not depend on the exact boundaries.", **base}


def specification_bundle(empty: bool = False) -> Results:
    pair = "I(pages_per_visit - 8.0):I(minutes_current - 13.0)"
    steps = [] if empty else [
        {"step": 1, "candidate": "marketing_6m", "kind": "linear", "threshold": 0.0167, "selected": False},
        {"step": 1, "candidate": "spline(pages_per_visit)", "kind": "spline", "threshold": 0.0167, "selected": True},
        {"step": 1, "candidate": pair, "kind": "interaction", "threshold": 0.0167, "selected": "False"},
        {"step": 2, "candidate": "marketing_6m", "kind": "linear", "threshold": 0.025, "selected": "False"},
        {"step": 2, "candidate": pair, "kind": "interaction", "threshold": 0.025, "selected": "True"},
        {"step": 3, "candidate": "marketing_6m", "kind": "linear", "threshold": 0.025, "selected": False},
        {"step": 3, "candidate": "unpaid_items", "kind": "linear", "threshold": 0.025, "selected": False}]
    sets = [] if empty else [{"specification": "a", "n_folds": 15, "share_of_folds": 0.6},
                             {"specification": "b", "n_folds": 7, "share_of_folds": 0.28},
                             {"specification": "c", "n_folds": 3, "share_of_folds": 0.12}]
    stab = [] if empty else [{"term": "marketing_6m", "n_folds": 20, "share_of_folds": 0.8},
                             {"term": "pages_per_visit", "n_folds": 25, "share_of_folds": 1.0},
                             {"term": "unpaid_items", "n_folds": 10, "share_of_folds": 0.4}]
    return make(specification_steps=table("specification_steps", *steps),
                selection_sets=table("selection_sets", *sets), selection_stability=table("selection_stability", *stab),
                model_benchmark=[{"model": "logit_selected", "n_folds": 25}, {"model": "knn", "n_folds": 10}])


def test_specification_summary():
    assert T.specification_summary(specification_bundle()) == {
        "n_candidates": "3", "n_steps": "3", "n_tests": "7", "n_added": "2",
        "added": "Spline in pages per visit; Pages per visit × Minutes on site, current month (centred)",
        "first_threshold": "0.017", "alpha": "0.05", "n_folds": "25", "n_sets": "3", "top_set_share": "60%",
        "top_term": "Pages per visit", "top_term_share": "100%"}
    assert T.specification_summary(specification_bundle(empty=True)) == {
        "n_candidates": "0", "n_steps": "—", "n_tests": "0", "n_added": "0", "added": "none",
        "first_threshold": "—", "alpha": "0.05", "n_folds": "25", "n_sets": "0", "top_set_share": "—",
        "top_term": "none", "top_term_share": "—"}


def test_specification_summary_with_blank_selection_tables():
    # a blank CSV reads as a frame without columns (analysis.results.registry._read): no folds to summarise
    res = specification_bundle()
    res.update(selection_sets=pd.DataFrame(), selection_stability=pd.DataFrame())
    s = T.specification_summary(res)
    assert (s["n_sets"], s["top_set_share"], s["top_term"], s["top_term_share"]) == ("0", "—", "none", "—")


def test_specification_summary_threshold_of_the_first_step():
    # one candidate at the first step (threshold alpha / 1), two at the second once a product becomes eligible
    res = specification_bundle()
    res.update(specification_steps=table(
        "specification_steps",
        {"step": 1, "candidate": "marketing_6m", "kind": "linear", "threshold": 0.05, "selected": True},
        {"step": 2, "candidate": "unpaid_items", "kind": "linear", "threshold": 0.025, "selected": False},
        {"step": 2, "candidate": "marketing_6m:unpaid_items", "kind": "interaction", "threshold": 0.025,
         "selected": False}))
    s = T.specification_summary(res)
    assert (s["n_candidates"], s["n_steps"], s["n_tests"], s["n_added"], s["added"], s["first_threshold"]) == \
        ("1", "2", "3", "1", "Marketing, 6-month average", "0.050")


def ame(variable, contrast, estimate, statistic, p, role="lead", model="gam_engagement_recalibrated"):
    return {"model": model, "role": role, "variable": variable, "contrast": contrast, "estimate": estimate,
            "std_error": 0.01, "statistic": statistic, "p_value": p, "conf_low": estimate - 0.02,
            "conf_high": estimate + 0.02}


def test_ame_summary_strongest_significant_effects():
    rows = [ame("marketing_6m", "dy/dx", -0.0242, -3.59, 0.0003),
            ame("service_type", "premium - standard", 0.0312, 2.1, 0.036),
            ame("pages_per_visit", "dy/dx", -0.0401, -5.0, 1e-6),
            ame("unpaid_items", "dy/dx", 0.0155, 1.96, 0.05),
            ame("promo_share_10pp", "dy/dx", 0.0206, 4.0, 0.0001),
            ame("minutes_current", "dy/dx", -0.011, -2.5, 0.012),
            ame("unpaid_items", "dy/dx", 0.09, 9.0, 1e-9, role="sensitivity", model="logit_linear")]
    res = make(marginal_effects=rows, model_units=units_table())
    assert T.ame_summary(res) == {
        "n_significant": "5", "n_terms": "6",
        "top": (f"pages per visit (per page / visit) {M}4.0 pp; promotional share (per 10 pp) +2.1 pp; "
                f"marketing, 6-month average (per contact / month) {M}2.4 pp; "
                f"minutes on site, current month (per minute) {M}1.1 pp"),
        "alpha": "0.05", "lead_model": GAM_RECAL}


def test_ame_summary_contrasts_variables_without_unit_and_zero():
    rows = [ame("service_type", "premium - standard", 0.0312, 2.1, 0.036, model="logit_selected"),
            ame("tenure_days", "dy/dx", 0.0, 0.0, 0.03, model="logit_selected"),
            ame("marketing_6m", "dy/dx", -0.0242, -3.59, 0.07, model="logit_selected")]
    res = make(marginal_effects=rows, model_units=units_table(), protocol=protocol_rows(alpha="0.07"))
    assert T.ame_summary(res) == {
        "n_significant": "2", "n_terms": "3", "top": "service type: premium (vs standard) +3.1 pp; tenure +0.0 pp",
        "alpha": "0.07", "lead_model": "logit, specification selected inside each fold"}
    res = make(marginal_effects=[ame("marketing_6m", "dy/dx", -0.02, -3.0, 0.01, model="logit_linear"),
                                 ame("marketing_6m", "dy/dx", -0.02, -3.0, 0.01, role="sensitivity")],
               model_units=units_table())
    assert T.ame_summary(res) == {"n_significant": "1", "n_terms": "1",
                                  "top": f"marketing, 6-month average (per contact / month) {M}2.0 pp",
                                  "alpha": "0.05", "lead_model": "logit, all predictors linear"}
    res = make(marginal_effects=[ame("marketing_6m", "dy/dx", -0.02, -3.0, 0.01, role="sensitivity")],
               model_units=units_table())
    assert T.ame_summary(res) == {"n_significant": "0", "n_terms": "0", "top": "none", "alpha": "0.05",
                                  "lead_model": "—"}


def calibration_bundle() -> Results:
    business = "gam_engagement_recalibrated"
    curve = [(1, 0.10, 0.08, 0.10, 0.15, business), (2, 0.30, 0.40, 0.31, 0.50, business),
             (3, 0.60, 0.55, 0.45, 0.60, business), (4, 0.90, 0.85, 0.78, 0.89, business),
             (1, 0.20, 0.10, 0.05, 0.30, "logit_selected"), (2, 0.50, 0.45, 0.40, 0.50, "logit_selected"),
             (3, 0.80, 0.79, 0.70, 0.90, "logit_selected")]
    return make(calibration_tests=[
        {"brier": 0.0942, "brier_reference": 0.2359, "hl_statistic": 9.9, "hl_df": 10, "hl_p_value": 0.4497,
         "model": business},
        {"brier": 0.0975, "brier_reference": 0.2359, "hl_statistic": 57.73, "hl_df": 8, "hl_p_value": 0.05,
         "model": "logit_selected"}],
        calibration_curve=[{"bin": b, "n": 100, "mean_predicted": mp, "observed_rate": o, "conf_low": lo,
                            "conf_high": hi, "model": m} for b, mp, o, lo, hi, m in curve])


def test_calibration_summary_of_the_business_model():
    assert T.calibration_summary(calibration_bundle()) == {
        "model": GAM_RECAL, "brier": "0.094", "brier_reference": "0.236", "brier_gain": "60%", "hl": "9.9",
        "hl_df": "10", "hl_p": "0.450", "hl_verdict": "does not reject calibration", "n_bins": "4",
        "n_outside": "2", "outside_sentence": "In 2 of the 4 bins", "worst_predicted": "0.30",
        "worst_observed": "0.40", "worst_direction": "under-predicts"}


def test_calibration_summary_of_a_named_model_at_alpha():
    res = calibration_bundle()
    expected = {
        "model": "logit, specification selected inside each fold", "brier": "0.098", "brier_reference": "0.236",
        "brier_gain": "59%", "hl": "57.7", "hl_df": "8", "hl_p": "0.050", "hl_verdict": "does not reject calibration",
        "n_bins": "3", "n_outside": "0", "outside_sentence": "In none of the 3 bins", "worst_predicted": "0.20",
        "worst_observed": "0.10", "worst_direction": "over-predicts"}
    assert T.calibration_summary(res, "logit_selected") == expected
    res.update(protocol=protocol_rows(alpha="0.051"))
    assert T.calibration_summary(res, "logit_selected") == {**expected, "hl_verdict": "rejects calibration"}


def test_calibration_summary_of_a_perfectly_calibrated_curve():
    """No gap in any bin: the largest gap is zero, neither over- nor under-prediction."""
    res = calibration_bundle()
    curve = res["calibration_curve"]
    res["calibration_curve"] = curve.assign(observed_rate=curve["mean_predicted"])
    got = T.calibration_summary(res, "logit_selected")
    assert got["worst_direction"] == "matches the observed rate in every bin"
    assert got["worst_predicted"] == got["worst_observed"] == "0.20"


def test_candidates_summary_with_recalibration():
    assert T.candidates_summary(make()) == {
        "n_candidates": "5", "inference": GAM, "inference_log_loss": "0.331", "inference_meets": "does not meet",
        "inference_hl_p": "2.53e−10", "business": GAM_RECAL, "business_log_loss": "0.313",
        "business_meets": "meets", "business_hl_p": "0.450", "business_slope": "1.06", "business_intercept": "0.01",
        "recalibrated": "Because it misses the target, its probabilities were recalibrated inside each fold for the "
                        "business figures, and both versions are reported."}


def test_candidates_summary_when_the_inference_model_is_the_business_model():
    c = table("model_candidates", candidate("logit_linear", meets_target=True, log_loss=0.2996,
                                            hl_p_value=0.1234, calibration_slope=0.987,
                                            calibration_intercept=-0.034),
              candidate("logit_floor", meets_target="true"))
    res = make(model_candidates=c, headline=[headline_row(inference_model="logit_linear",
                                                          business_model="logit_linear")])
    assert T.candidates_summary(res) == {
        "n_candidates": "2", "inference": "logit, all predictors linear", "inference_log_loss": "0.300",
        "inference_meets": "meets", "inference_hl_p": "0.123", "business": "logit, all predictors linear",
        "business_log_loss": "0.300", "business_meets": "meets", "business_hl_p": "0.123",
        "business_slope": "0.99", "business_intercept": f"{M}0.03",
        "recalibrated": "It meets the target, so its own probabilities give the business figures."}
    c = table("model_candidates", candidate("logit_linear", meets_target="False"))
    res = make(model_candidates=c, headline=[headline_row(inference_model="logit_linear",
                                                          business_model="logit_linear")])
    s = T.candidates_summary(res)
    assert (s["inference_meets"], s["business_meets"]) == ("does not meet", "does not fully meet")


def benchmark_bundle(**headline_changes) -> Results:
    return make(headline=[headline_row(**headline_changes)],
                model_benchmark=[{"model": m, "n_folds": k} for m, k in
                                 (("svc_rbf", 25), ("knn", 20), ("logit_l2", 25), ("gam_engagement", 25))],
                protocol=protocol_rows(holdout_share="0.2"))


BENCH = {"n_models": "4", "n_folds": "25", "n_splits": "5", "n_repeats": "5", "inner_splits": "3", "n_pairs": "55",
         "n_sig": "12", "n_sig_holm": "7", "alpha": "0.05", "holdout": "20%"}


def test_benchmark_summary_business_model_behind_not_equivalent():
    assert T.benchmark_summary(benchmark_bundle(auc_diff_p_value=0.05)) == {
        "verdict": (f"The business model ({GAM_RECAL}) is behind {SVC} by 0.005 AUC (95% corrected CI of the "
                    f"difference {M}0.012 to 0.002; p = 0.050, not significant). A non-significant difference is "
                    "not evidence of equivalence. The equivalence test (TOST on the corrected t) cannot place the "
                    "difference within ±0.010 (p = 0.235): the data do not show that no accuracy is lost, only that "
                    "any loss is within the interval above."), **BENCH}


def test_benchmark_summary_significant_but_equivalent():
    res = benchmark_bundle(auc_diff_p_value=0.0499, equivalent="True", tost_p_value=0.0004, auc_diff=0.0042)
    assert T.benchmark_summary(res)["verdict"] == (
        f"The business model ({GAM_RECAL}) is behind {SVC} by {M}0.004 AUC (95% corrected CI of the difference "
        f"{M}0.012 to 0.002; p = 0.050, significant). A non-significant difference is not evidence of equivalence. "
        f"The equivalence test (TOST on the corrected t) places the difference within ±0.010 (p = {LT}): "
        "interpretability costs no accuracy beyond that margin.")


def test_benchmark_summary_business_model_is_the_best():
    res = benchmark_bundle(best_model="gam_engagement_recalibrated")
    res.update(run_info=table("run_info", {"seed": 1, "protocol": "{}", "quick": True, "data_dir": "d",
                                           "formula": "a", "n_customers": 8, "decline_rate": 0.25}))
    assert T.benchmark_summary(res) == {
        "verdict": (f"The business model, {GAM_RECAL}, has the highest mean cross-validated AUC of all models: the "
                    "interpretable model costs no accuracy here."),
        **BENCH, "n_splits": "—", "n_repeats": "—", "inner_splits": "—"}


# ---------------------------------------------------------------------------------------------------------
# Offers, engagement, floor model, influence
# ---------------------------------------------------------------------------------------------------------


def offer(i, code, drop=np.nan, low=np.nan, high=np.nan):
    return {"id": i, "p_decline": 0.6, "profit": 4.0, "segment": "high_risk_high_profit", "offer": code,
            "risk_drop": drop, "risk_drop_conf_low": low, "risk_drop_conf_high": high}


def test_offers_summary_counts_and_risk_drops():
    offers = [offer(1, "none"), offer(2, "more_marketing", 0.02, 0.01, 0.03),
              offer(3, "personal_contact"), offer(4, "more_marketing", 0.03, 0.01, 0.05),
              offer(5, "none"), offer(6, "marketing_this_month", 0.05, 0.02, 0.08),
              offer(7, "more_marketing", 0.01, 0.005, 0.015), offer(8, "none"), offer(9, "personal_contact"),
              offer(10, "none")]
    res = make(offers=offers, allowed_levers=[{"action": "more_marketing"}, {"action": "marketing_this_month"}])
    assert T.offers_summary(res) == {
        "n_targeted": "4", "n_none": "4", "n_personal": "2", "top_offer": MM.lower(), "top_offer_n": "3",
        "allowed": f"{MM.lower()}; {MTM.lower()}", "n_allowed": "2",
        "sentence": (f"4 high-risk customers receive the offered action ({MM.lower()}; {MTM.lower()}); 2 customers "
                     "need a personal contact because the action cannot reach them (no consent, or no support); "
                     "4 low-risk customers keep the standard communication."),
        "drop_median": "2.5", "drop_min": "1.0", "drop_max": "5.0", "width_median": "3.0"}


def test_offers_summary_when_no_action_is_allowed():
    res = make(offers=[offer(1, "none"), offer(2, "personal_contact")], allowed_levers=pd.DataFrame())
    assert T.offers_summary(res) == {
        "n_targeted": "0", "n_none": "1", "n_personal": "1", "top_offer": "none", "top_offer_n": "0",
        "allowed": "none", "n_allowed": "0",
        "sentence": ("No store action is offered, so no high-risk customer receives an action; 1 customer needs a "
                     "personal contact because the action cannot reach them (no consent, or no support); 1 low-risk "
                     "customer keeps the standard communication."),
        "drop_median": "—", "drop_min": "—", "drop_max": "—", "width_median": "—"}


def test_offers_sentence_singular_and_without_personal_contacts():
    assert T._offers_sentence(1, 0, 2, ["more_marketing"]) == (
        f"1 high-risk customer receives the offered action ({MM.lower()}); 2 low-risk customers keep the standard "
        "communication.")
    assert T._offers_sentence(2, 3, 1, ["cart_reminder"]) == (
        "2 high-risk customers receive the offered action (cart reminder (assumed: −1 unpaid item)); 3 customers "
        "need a personal contact because the action cannot reach them (no consent, or no support); 1 low-risk "
        "customer keeps the standard communication.")
    # zero reads "no high-risk customer receives", singular as for one (the verb agrees with "no ... customer")
    assert T._offers_sentence(0, 0, 0, ["more_marketing"]) == (
        f"No high-risk customer receives the offered action ({MM.lower()}); no low-risk customer keeps the standard "
        "communication.")
    assert T._offers_sentence(1200, 0, 1500, []) == (
        "No store action is offered, so no high-risk customer receives an action; 1,500 low-risk customers keep the "
        "standard communication.")


def association(outcome, effect, low, high, group="high_risk_all"):
    return {"group": group, "outcome": outcome, "n_with_room": 300, "n_without_support": 10,
            "decline_rate_baseline": 0.9, "decline_rate_scenario": 0.9 + effect, "effect": effect,
            "conf_low": low, "conf_high": high}


def test_engagement_sentence_reads_the_sign_of_each_association():
    res = make(engagement_associations=[
        association("more_pages", -0.0321, -0.0456, -0.0187),
        association("more_pages", -0.5, -0.6, -0.4, group="high_risk_promo"),
        association("more_categories", 0.0123, -0.0021, 0.0267),
        association("fewer_errors", 0.0, -0.005, 0.005)])
    assert T.engagement_sentence(res) == (
        "As associations only: high-risk customers who view two more pages per visit decline 3.2 percentage points "
        "less often (1.9 to 4.6); high-risk customers who view one more category viewed per visit decline 1.2 "
        f"percentage points more often ({M}0.2 to 2.7); high-risk customers who view fewer_errors decline 0.0 "
        f"percentage points more often ({M}0.5 to 0.5).")
    res = make(engagement_associations=[association("more_pages", -0.5, -0.6, -0.4, group="high_risk_promo")])
    assert T.engagement_sentence(res) == "No engagement association was estimated."


def test_engagement_sentence_rounds_percentage_points():
    res = make(engagement_associations=[association("fewer_errors", -0.099, -0.1194, -0.0794),
                                        association("more_pages", 0.0794, 0.0594, 0.0994)])
    assert T.engagement_sentence(res) == (
        "As associations only: high-risk customers who view fewer_errors decline 9.9 percentage points less often "
        "(7.9 to 11.9); high-risk customers who view two more pages per visit decline 7.9 percentage points more "
        "often (5.9 to 9.9).")


def floor_bundle(gamma: bool = True, not_converged=8) -> Results:
    coefs = [{"term": "Intercept", "estimate": -1.0, "conf_low": -1.5, "conf_high": -0.5}]
    if gamma:
        coefs.append({"term": "floor_gamma", "estimate": 0.0523, "conf_low": 0.0211, "conf_high": 0.0837})
    c = table("model_candidates", candidate("logit_linear", folds_not_converged=3),
              candidate("logit_floor", folds_not_converged=not_converged, n_folds=25))
    return make(floor_logit_coefficients=coefs, model_candidates=c,
                floor_lr_test=[{"lr_chi2": 12.345, "df": 1, "p_value": 0.00021, "null_distribution": "mixture",
                                "floor_gamma": 0.0523}])


NOT_CONVERGED = ("Its maximum-likelihood fit did not converge in {k} of the 25 outer training folds (the Newton "
                 "iterations reached their limit without meeting the convergence criterion), so in those folds its "
                 "out-of-fold predictions depend on where the iterations stopped, and its cross-validated figures "
                 "are less reliable than the others'.")


def test_floor_summary():
    assert T.floor_summary(floor_bundle()) == {
        "gamma": "0.052", "gamma_ci": "0.021 to 0.084", "lr": "12.3", "lr_p": "2.10e−04",
        "convergence": NOT_CONVERGED.format(k=8)}
    assert T.floor_summary(floor_bundle(gamma=False, not_converged=0)) == {
        "gamma": "—", "gamma_ci": "—", "lr": "12.3", "lr_p": "2.10e−04",
        "convergence": "Its maximum-likelihood fit converged in all 25 outer training folds."}


def test_convergence_sentence():
    res = floor_bundle(not_converged=1)
    assert T.convergence_sentence(res, "logit_floor") == NOT_CONVERGED.format(k=1)
    assert T.convergence_sentence(res, "logit_linear") == NOT_CONVERGED.format(k=3)
    assert T.convergence_sentence(res, "gam_engagement") == ""
    assert T.convergence_sentence(floor_bundle(not_converged=np.nan), "logit_floor") == ""


def influence_bundle(cooks, p, y, n_offers=200) -> Results:
    ids = [11, 12, 13, 14]
    oof = [{"id": i, "y_true": yy, "gam_engagement_recalibrated": pp, "logit_selected": 1 - pp}
           for i, yy, pp in zip(ids, y, p)] + [{"id": 99, "y_true": 1, "gam_engagement_recalibrated": 0.1,
                                               "logit_selected": 0.9}]
    return make(influence=[{"row": k, "leverage": 0.01, "cooks_distance": c, "id": i}
                           for k, (i, c) in enumerate(zip(ids, cooks))],
                offers=[offer(i, "none") for i in range(n_offers)], oof_predictions=oof[::-1])


def test_influence_summary():
    # 11: declined, predicted 0.3 (surprising); 12: stayed, predicted exactly one half (surprising);
    # 13: declined, predicted exactly one half (not); 14: stayed, predicted 0.2 (not)
    res = influence_bundle([0.01, 0.12, 0.03, 0.05], p=[0.3, 0.5, 0.5, 0.2], y=[1, 0, 1, 0])
    surprising = (" had an outcome the business model found unlikely out of fold (a decline predicted below one "
                  "half, or no decline predicted above it).")
    assert T.influence_summary(res) == {
        "n_shown": "4", "max_cooks": "0.1200", "rule": "0.0200", "max_cooks_ratio": "6.0",
        "driver": "far below one: no single customer drives the fit", "surprising": "2 of the 4 customers" + surprising}
    res = influence_bundle([0.5, 0.12, 0.03, 0.05], p=[0.6, 0.4, 0.7, 0.1], y=[1, 0, 1, 0], n_offers=400)
    assert T.influence_summary(res) == {
        "n_shown": "4", "max_cooks": "0.5000", "rule": "0.0100", "max_cooks_ratio": "50.0",
        "driver": "large enough to check whether this customer drives the fit",
        "surprising": "None of the 4 customers" + surprising}
    res = influence_bundle([0.01, 0.12, 0.03, 0.05], p=[0.1, 0.9, 0.2, 0.5], y=[1, 0, 1, 0])
    assert T.influence_summary(res)["surprising"] == "All 4 customers" + surprising


# ---------------------------------------------------------------------------------------------------------
# Experiment plan, GAM, recalibration
# ---------------------------------------------------------------------------------------------------------


def plan(group, action, available, mde, predicted, needed, feasible):
    return {"group": group, "action": action, "n_customers": 400, "n_with_room": 2 * available,
            "baseline_rate": 0.9, "predicted_effect": predicted, "kind": "action", "n_per_arm_available": available,
            "mde_80": mde, "n_per_arm_80": needed, "n_per_arm_90": needed * 1.3, "feasible": feasible,
            "note": "n"}


def test_experiment_summary_of_the_main_action():
    res = make(experiment_plan=[
        plan("high_risk_all", "cart_reminder", 184, -0.0923, -0.0154, 100, False),
        plan("high_risk_high_profit", "more_marketing", 90, -0.13, -0.03, 3400, "True"),
        plan("high_risk_all", "more_marketing", 147, -0.1029, -0.0284, 3500, "False")])
    assert T.experiment_summary(res) == {
        "n_rows": "3", "n_feasible": "1", "feasible_sentence": "1 of the 3 planned tests",
        "first_group": "all high risk", "first_action": MM, "first_needed": "3,500", "first_available": "147",
        "first_mde": "10.3", "ratio": "24",
        "summary": (f"for {MM.lower()}, the 147 high-risk customers available per arm could detect only a change of "
                    "about 10.3 percentage points with 80 % power, against the 2.8 predicted; detecting the "
                    "prediction needs 3,500 customers per arm (@tbl-experiment-plan).")}


def test_experiment_summary_without_the_main_action():
    res = make(experiment_plan=[
        plan("high_risk_promo", "cart_reminder", 184, -0.0923, -0.0154, 4789, True),
        plan("high_risk_all", "less_promotion", 0, 0.0456, 0.0123, 900, "true"),
        plan("high_risk_promo", "more_marketing", 50, -0.2, -0.05, 900, True)])
    label = "fewer promotional mailings (assumed: −10 pp promotional share)"
    assert T.experiment_summary(res) == {
        "n_rows": "3", "n_feasible": "3", "feasible_sentence": "All 3 planned tests",
        "first_group": "all high risk", "first_action": "Fewer promotional mailings (assumed: −10 pp promotional "
                                                        "share)",
        "first_needed": "900", "first_available": "0", "first_mde": "4.6", "ratio": "900",
        "summary": (f"for {label}, the 0 high-risk customers available per arm could detect only a change of about "
                    "4.6 percentage points with 80 % power, against the 1.2 predicted; detecting the prediction "
                    "needs 900 customers per arm (@tbl-experiment-plan).")}
    res = make(experiment_plan=[plan("high_risk_all", "cart_reminder", 1, -0.3, -0.01, 2, False),
                                plan("high_risk_promo", "cart_reminder", 1, -0.3, -0.01, 3, "False")])
    s = T.experiment_summary(res)
    assert (s["feasible_sentence"], s["n_feasible"], s["ratio"], s["first_group"]) == \
        ("None of the 2 planned tests", "0", "2", "all high risk")


def test_experiment_summary_first_of_tied_plans_in_plan_order():
    needed = [1000, 1000, 1000, 1000, 900, 1000, 1000, 900, 900, 1000, 900, 900, 900, 900, 1000, 900, 1000]
    rows = [plan("high_risk_promo", "less_promotion", 10, -0.3, -0.01, n, False) for n in needed]
    rows[4] = plan("high_risk_promo", "cart_reminder", 12, -0.25, -0.02, 900, False)
    s = T.experiment_summary(make(experiment_plan=rows))
    assert (s["first_action"], s["first_available"], s["first_mde"], s["ratio"]) == \
        ("Cart reminder (assumed: −1 unpaid item)", "12", "25.0", "75")


def test_experiment_summary_without_a_plan():
    assert T.experiment_summary(make(experiment_plan=table("experiment_plan"))) == {
        "n_rows": "0", "n_feasible": "0", "feasible_sentence": "No test can be planned", "first_group": "",
        "first_action": "", "first_needed": "", "first_available": "", "first_mde": "", "ratio": "",
        "summary": "no store action can reach enough customers to be tested."}


def test_gam_facts():
    smooths = [{"smooth": "pages_per_visit", "basis": "cr", "n_basis": 6, "alpha": 0.0123, "edf": 3.456,
                "edf_total": 18.789, "n_coefficients": 25},
               {"smooth": "minutes_current", "basis": "cr", "n_basis": 6, "alpha": 0.0123, "edf": 2.1,
                "edf_total": 18.789, "n_coefficients": 25}]
    terms = ["Intercept", "marketing_6m", "C(service_type, Treatment('standard'))[T.premium]",
             "C(popular_category, Treatment('kids_goods'))[T.home_textiles]",
             "C(popular_category, Treatment('kids_goods'))[T.kitchenware]", "cr(pages_per_visit, df=6)[0]",
             "unpaid_items"]
    res = make(gam_smooths=smooths, gam_coefficients=[{"term": t, "estimate": 0.1} for t in terms])
    assert T.gam_facts(res) == {
        "smooths": "pages per visit; minutes on site, current month",
        "linear": "marketing, 6-month average; service type; popular category; unpaid cart items",
        "linear_formula": ("marketing_6m + C(service_type, Treatment('standard')) + "
                           "C(popular_category, Treatment('kids_goods')) + unpaid_items"),
        "basis": "cr", "n_basis": "6", "alpha": "0.01", "edf_total": "18.8", "n_coefficients": "25",
        "edf_smooths": "pages per visit 3.46; minutes on site, current month 2.10"}
    res = make(gam_smooths=smooths[1:], gam_coefficients=[{"term": "Intercept"}, {"term": "unpaid_items"}])
    assert T.gam_facts(res) == {"smooths": "minutes on site, current month", "linear": "unpaid cart items",
                                "linear_formula": "unpaid_items", "basis": "cr", "n_basis": "6", "alpha": "0.01",
                                "edf_total": "18.8", "n_coefficients": "25",
                                "edf_smooths": "minutes on site, current month 2.10"}
    res = make(gam_smooths=table("gam_smooths"), gam_coefficients=[{"term": "Intercept"}, {"term": "unpaid_items"}])
    assert T.gam_facts(res) == {"smooths": "", "linear": "unpaid cart items", "linear_formula": "unpaid_items",
                                "basis": "", "n_basis": "", "alpha": "", "edf_total": "", "n_coefficients": "",
                                "edf_smooths": ""}


def recalibration_bundle(ceiling: float) -> Results:
    values = {"floor": 0.052, "ceiling": ceiling, "slope": 1.25, "shift": -0.3}
    return make(recalibration_map=[{"parameter": k, "value": v, "meaning": "m"} for k, v in values.items()])


def test_recalibration_facts_ceiling_at_and_below_its_bound():
    base = {"present": "yes", "floor": "0.0520", "slope": "1.2500", "shift": f"{M}0.3000"}
    assert T.recalibration_facts(recalibration_bundle(0.99996)) == {
        **base, "ceiling": "1.0000",
        "ceiling_note": ("The ceiling c₁ = 1.0000 is at its bound of 1, so the map is in effect "
                         "p = c₀ + (1 − c₀)·expit(a·s + b): a floor of background decline and a stretched logit.")}
    assert T.recalibration_facts(recalibration_bundle(0.9999)) == {
        **base, "ceiling": "0.9999",
        "ceiling_note": "Between the floor c₀ = 0.0520 and the ceiling c₁ = 0.9999 the map stretches the GAM's logit."}
    assert T.recalibration_facts(make(recalibration_map=table("recalibration_map"))) == {
        "present": "", "floor": "", "ceiling": "", "slope": "", "shift": "",
        "ceiling_note": "The business model is the inference model itself: no map."}
