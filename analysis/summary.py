"""Tables that summarise a run for the report: the stated protocol, the scenario variables and the headline.

The report computes no statistic at render time: the numbers of its executive summary are the one row of
:func:`headline_table`, built here from the other result tables at the end of ``python -m analysis run``; the
rules it quotes (choice rule, calibration target, equivalence margin, α) are rows of :func:`protocol_table`.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from analysis.decisions import actions
from analysis.modeling import benchmark
from analysis.decisions import decide as decisions
from analysis.data.dictionary import FIELDS, TARGET
from analysis.settings import FULL, Protocol

def protocol_table(protocol: Protocol = FULL) -> pd.DataFrame:
    """The rules of the run, stated before it.

    Returns
    -------
    pandas.DataFrame
        Columns ``name, value, meaning``; ``value`` is a string (numbers as ``repr``, the calibration target as
        JSON).
    """
    rows = [
        ("choice_rule", benchmark.CHOICE_RULE, "How the model for inference and for the business figures is chosen"),
        ("calibration_target", json.dumps(benchmark.CALIBRATION_TARGET), "Calibration target of the chosen model"),
        ("equivalence_margin", repr(benchmark.EQUIVALENCE_MARGIN),
         "AUC margin of the equivalence test (TOST) against the best model"),
        ("tie_rule", benchmark.TIE_RULE, "When candidates tie, and what follows"),
        ("alpha", repr(protocol.alpha), "Significance level (family-wise where Holm-adjusted: over the store "
                                       "actions, one hypothesis per action)"),
        ("conf_level", repr(protocol.conf_level), "Confidence level of every interval"),
        ("vif_threshold", repr(protocol.vif_threshold), "VIF above which a design column is flagged"),
        ("holdout_share", repr(float(protocol.holdout_share)), "Share of customers in the single hold-out"),
        ("svc_max_rows", repr(benchmark.SVC_MAX_ROWS),
         "Training rows above which the SVM is fitted on a stratified random subsample of that many rows"),
        ("forest_trees", repr(benchmark.FOREST_TREES), "Trees of the benchmark's random forest"),
        ("forest_tuning_trees", repr(benchmark.FOREST_TUNING_TREES),
         "Trees of the forests whose out-of-bag AUC chooses the forest's leaf size and feature share"),
        ("risk_threshold", repr(protocol.risk_threshold), "P(decline) at or above which a customer is high risk"),
        ("profit_quantile", repr(protocol.profit_quantile), "Profit quantile splitting high from low profit"),
        ("horizon", actions.HORIZON, "Horizon of the target and of every count of customers"),
        ("horizon_months", repr(actions.HORIZON_MONTHS), "Months of the horizon (break-even price: profit "
                                                          "retained per month × these months)"),
        ("support_rule", actions.SUPPORT_RULE, "Which customers a scenario is evaluated for"),
        ("support_min_customers", repr(actions.SUPPORT_MIN_CUSTOMERS),
         "Customers of the modelling data a new value needs within half a step (same cluster)"),
        ("n_bootstrap", repr(int(protocol.n_bootstrap)),
         "Customer-bootstrap replicates of the whole procedure behind the changes (penalty weight, any "
         "specification search) behind the business figures' intervals"),
        ("bootstrap_interval", decisions.BOOTSTRAP_INTERVAL,
         "Kind of every bootstrap interval: normal = estimate ± z × bootstrap SD (percentile and basic are the "
         "alternatives; python -m analysis.bench.coverage measures all three)"),
        ("effect_scale", decisions.EFFECT_SCALE,
         "Where an action's change comes from: levels are the business model's calibrated probabilities; changes "
         "(AMEs, scenarios, each offer's risk drop) the inference model's predicted changes (the map, fitted on "
         "out-of-fold scores, attenuates changes)"),
    ]
    return pd.DataFrame(rows, columns=["name", "value", "meaning"])


def levers_table() -> pd.DataFrame:
    """The scenario variables: store actions, actions whose scenario rests on an assumption, engagement.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`LEVER_COLUMNS`; ``kind`` is ``action`` (a lever), ``assumption`` (scenario only under the
        stated ``assumption``) or ``engagement`` (an association); ``control`` the variable's classification in
        the data dictionary.
    """
    return pd.DataFrame([{"action": lever.name, "column": lever.column, "variable": lever.variable,
                          "control": FIELDS[lever.variable].control, "change": lever.change,
                          "description": lever.description, "kind": lever.kind,
                          "needs_consent": lever.needs_consent, "contacts": lever.contacts,
                          "assumption": lever.assumption} for lever in actions.LEVERS], columns=LEVER_COLUMNS)


LEVER_COLUMNS = ["action", "column", "variable", "control", "change", "description", "kind", "needs_consent",
                 "contacts", "assumption"]

HEADLINE_ACTION_COLUMNS = [
    "action", "recommended", "offered", "robust", "p_value_holm", "n_treated", "effect", "conf_low", "conf_high", "std_error",
    "std_error_delta", "model_min", "model_max", "model_min_code", "model_max_code", "n_models",
    "customers_kept", "customers_kept_low", "customers_kept_high", "profit_retained_month",
    "profit_retained_month_low", "profit_retained_month_high", "break_even_per_customer",
    "break_even_per_customer_low", "break_even_per_customer_high", "break_even_per_contact",
    "break_even_per_contact_low", "break_even_per_contact_high",
]


def headline_actions_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per store action: the figures the executive summary and the brief quote (pure: no disk).

    ``effect`` is the business model's change in P(decline over the next three months) among the high-risk
    customers the action can reach, with the bootstrap interval; ``model_min``/``model_max`` the same scenario's
    range over every interpretable candidate (delta-method fits, and the business model); the money columns
    are :func:`analysis.decisions.decide.action_value`'s.

    Parameters
    ----------
    tables : dict
        At least ``scenarios, effects_by_model, action_tests, action_value``.
    """
    scen = tables["scenarios"]
    scen = scen[scen["group"] == decisions.HEADLINE_GROUP].set_index("action")
    by_model = tables["effects_by_model"]
    by_model = by_model[(by_model["quantity"] == "scenario") & (by_model["interval"] == "delta")]
    tests = tables["action_tests"].set_index("action")
    value = tables["action_value"].set_index("action")
    rows = []
    for lever in actions.STORE_ACTIONS:
        s, t, v = scen.loc[lever.name], tests.loc[lever.name], value.loc[lever.name]
        m = by_model[by_model["action"] == lever.name].dropna(subset=["estimate"])
        low = m.loc[m["estimate"].idxmin()] if len(m) else None
        high = m.loc[m["estimate"].idxmax()] if len(m) else None
        rows.append({
            "action": lever.name, "recommended": bool(str(t["recommended"]).lower() == "true"),
            "offered": bool(str(t["offered"]).lower() == "true"), "robust": bool(str(t["robust"]).lower() == "true"),
            "p_value_holm": float(t["p_value_holm"]), "n_treated": int(s["n_with_room"]),
            "effect": float(s["effect"]), "conf_low": float(s["conf_low"]), "conf_high": float(s["conf_high"]),
            "std_error": float(s["std_error"]), "std_error_delta": float(s["std_error_delta"]),
            "model_min": float(low["estimate"]) if low is not None else np.nan,
            "model_max": float(high["estimate"]) if high is not None else np.nan,
            "model_min_code": str(low["model"]) if low is not None else "",
            "model_max_code": str(high["model"]) if high is not None else "",
            "n_models": int(m["model"].nunique()),
            **{c: float(v[c]) for c in HEADLINE_ACTION_COLUMNS[HEADLINE_ACTION_COLUMNS.index("customers_kept"):]},
        })
    return pd.DataFrame(rows, columns=HEADLINE_ACTION_COLUMNS)


def headline_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The numbers of the executive summary, from the other result tables (pure: no disk, no model).

    Parameters
    ----------
    tables : dict
        At least ``row_accounting, typo_corrections, customer_table, segment_thresholds, offers, segments,
        model_candidates, model_benchmark, model_comparison, accuracy_gap, vif, protocol, run_info``.

    Returns
    -------
    pandas.DataFrame
        One row with the columns of the ``headline`` entry of the results registry. Profit at risk is the
        upper bound of ``segments.csv`` (a declining customer assumed to lose all monthly profit); ``auc_diff``
        is the business model's mean AUC minus the best benchmarked model's, with the corrected interval, the
        t test and the TOST of ``accuracy_gap.csv``.
    """
    thresholds = tables["segment_thresholds"].set_index("threshold")["value"]
    risk = float(thresholds["risk"])
    offers = tables["offers"]
    p, profit = offers["p_decline"].to_numpy(float), offers["profit"].to_numpy(float)
    high = p >= risk
    at_risk = p * profit
    grid = tables["segments"][tables["segments"]["kind"] == "grid"]
    top = grid.sort_values("profit_at_risk_upper", ascending=False, kind="stable").iloc[0]
    candidates = tables["model_candidates"]
    business = candidates[candidates["chosen"].astype(str).str.lower() == "true"].iloc[0]
    inference = candidates[candidates["role"].astype(str).str.contains("inference")]
    inference_model = str(inference["model"].iloc[0]) if len(inference) else str(business["model"])
    bench = tables["model_benchmark"].set_index("model")
    best = str(bench["auc_mean"].idxmax())
    gap = tables["accuracy_gap"].set_index("model")
    g = gap.loc[business["model"]] if business["model"] in gap.index else None
    info = tables["run_info"].iloc[0]
    accounting = tables["row_accounting"].set_index("step")
    removed = accounting["removed"]
    typos = tables["typo_corrections"]
    promotion = float(thresholds["promotion"])
    alpha = float(tables["protocol"].set_index("name").loc["alpha", "value"])
    comparison = tables["model_comparison"]
    counts = {
        "n_duplicate_rows": int(removed[removed.index.str.startswith("read ")].sum()),
        "n_typo_labels": int(len(typos)),
        "n_typo_cells": int(typos["rows"].sum()) if len(typos) else 0,
        "n_not_regular": int(removed.get("regular_customer", 0)),
        "n_extreme_revenue": int(removed.get("extreme_revenue", 0)),
        "promotion_split": promotion,
        "share_promo_upper": float((tables["customer_table"]["promo_share"] >= promotion).mean()),
        "n_vif_flagged": int(tables["vif"]["flagged"].astype(str).str.lower().eq("true").sum()),
        "n_comparison_pairs": int(len(comparison)),
        "n_pairs_significant": int((comparison["p_value"] < alpha).sum()),
        "n_pairs_significant_holm": int((comparison["p_value_holm"] < alpha).sum()),
    }
    row = {
        "n_exported": int(tables["row_accounting"]["rows_in"].iloc[0]),
        "n_customers": int(len(offers)),
        "decline_rate": float(tables["customer_table"][TARGET].mean()),
        **counts,
        "risk_threshold": risk,
        "n_high_risk": int(high.sum()),
        "share_high_risk": float(high.mean()),
        "profit_at_risk_upper_total": float(at_risk.sum()),
        "profit_at_risk_upper_high_risk": float(at_risk[high].sum()),
        "share_profit_at_risk_high_risk": float(at_risk[high].sum() / at_risk.sum()),
        "top_segment": str(top["segment"]),
        "top_segment_n": int(top["n_customers"]),
        "top_segment_share": float(top["share"]),
        "top_segment_mean_p": float(top["mean_p_decline"]),
        "top_segment_observed_rate": float(top["observed_decline_rate"]),
        "top_segment_profit_at_risk_upper": float(top["profit_at_risk_upper"]),
        "top_segment_share_of_profit_at_risk": float(top["profit_at_risk_upper"] / at_risk.sum()),
        "inference_model": inference_model,
        "business_model": str(business["model"]),
        "business_meets_target": str(business["meets_target"]).lower() == "true",
        "business_hl_p_value": float(business["hl_p_value"]),
        "business_calibration_slope": float(business["calibration_slope"]),
        "business_calibration_intercept": float(business["calibration_intercept"]),
        "n_models": int(len(bench)),
        "best_model": best,
        "best_auc": float(bench.loc[best, "auc_mean"]),
        "business_auc": float(business["auc_mean"]),
        "auc_diff": float(g["auc_diff"]) if g is not None else 0.0,
        "auc_diff_conf_low": float(g["conf_low"]) if g is not None else np.nan,
        "auc_diff_conf_high": float(g["conf_high"]) if g is not None else np.nan,
        "auc_diff_p_value": float(g["p_value"]) if g is not None else np.nan,
        "equivalence_margin": float(g["margin"]) if g is not None else np.nan,
        "tost_p_value": float(g["tost_p_value"]) if g is not None else np.nan,
        "equivalent": bool(str(g["equivalent"]).lower() == "true") if g is not None else False,
        "quick": str(info["quick"]).lower() == "true",
    }
    plan = tables["offer_plan"].set_index("offer")
    total = plan.loc["total"]
    offered = plan.drop(index=[i for i in ("total", "personal_contact") if i in plan.index])
    row.update({
        "n_offered": int(offered["n_customers"].sum()),
        "n_personal_contact": int(plan.loc["personal_contact", "n_customers"]) if "personal_contact" in plan.index
        else 0,
        "plan_expected_declines": float(total["expected_declines"]),
        "plan_customers_kept": float(total["customers_kept"]),
        "plan_customers_kept_low": float(total["customers_kept_low"]),
        "plan_customers_kept_high": float(total["customers_kept_high"]),
        "plan_profit_retained": float(total["profit_retained_upper"]),
        "plan_profit_retained_low": float(total["profit_retained_upper_low"]),
        "plan_profit_retained_high": float(total["profit_retained_upper_high"]),
        "plan_share_of_profit_at_risk": float(total["share_of_profit_at_risk_retained"]),
    })
    return pd.DataFrame([row])
