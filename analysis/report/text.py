"""Short text helpers of the report: the headline, summary strings and one-sentence findings.

Every function reads result tables (never a stage module) and returns display strings; the numbers come from the
tables written by ``python -m analysis run`` (the executive summary's from ``headline.csv``), so nothing is
estimated at render time.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from analysis.data.dictionary import DICTIONARY, TARGET
from analysis.report.formats import fmt_big, fmt_ci, fmt_est_ci, fmt_int, fmt_num, fmt_p, fmt_p_model, fmt_pct, markdown_result
from analysis.report.labels import (
    capitalise,
    ALL_HIGH_RISK,
    ENGAGEMENT_LABELS,
    PROMO_GROUP,
    VARIABLE_LABELS,
    contrast_label,
    is_categorical,
    is_spline,
    level_label,
    lever_label,
    method_citation,
    model_label,
    segment_label,
    short_unit,
    term_label,
    variable_label,
)
from analysis.results.registry import Results



#: Profile rows shown: numeric differences with |Cliff's delta| at least "medium" (Romano et al.) and category
#: shares differing by at least this many proportion points, both significant after Holm's correction.
PROFILE_MIN_DELTA = 0.33


PROFILE_MIN_SHARE_DIFF = 0.05


def thresholds(res: Results) -> dict[str, float]:
    t = res["segment_thresholds"]
    return {str(k): float(v) for k, v in zip(t["threshold"], t["value"])}


def run_info(res: Results) -> dict:
    info = res["run_info"].iloc[0].to_dict()
    info["protocol"] = json.loads(info["protocol"]) if isinstance(info.get("protocol"), str) else {}
    info["quick"] = str(info.get("quick")).lower() == "true"
    return info


REVENUE_MONTHS = {"revenue_prev2": "two months before", "revenue_prev": "previous month",
                  "revenue_current": "current month"}


_EXTREME_DETAIL = re.compile(r"^(?P<col>\w+) = (?P<value>[\d.]+) ₽, (?P<ratio>[\d.]+) × median (?P<median>[\d.]+) ₽$")


def count_of(n, singular: str, plural_form: str | None = None) -> str:
    """``no column`` / ``1 column`` / ``3 columns``: a count in words that never reads "0 columns"."""
    n = int(n)
    if n == 0:
        return f"no {singular}"
    return f"{fmt_int(n)} {singular if n == 1 else (plural_form or singular + 's')}"


def share_of(k, n, noun: str) -> str:
    """``none of the 10 bins`` / ``all 10 bins`` / ``3 of the 10 bins``."""
    k, n = int(k), int(n)
    if k == 0:
        return f"none of the {fmt_int(n)} {noun}"
    if k == n:
        return f"all {fmt_int(n)} {noun}" if n > 1 else f"the one {noun.rstrip('s')}"
    return f"{fmt_int(k)} of the {fmt_int(n)} {noun}"


def plural(n, word: str, plural_form: str | None = None) -> str:
    return f"{fmt_int(n)} {word if int(n) == 1 else (plural_form or word + 's')}"


def english_detail(text: str) -> str:
    if text.startswith("zero revenue in "):
        months = [REVENUE_MONTHS.get(c.strip(), c.strip()) for c in text[len("zero revenue in "):].split(",")]
        return "No revenue: " + " and ".join(months)
    m = _EXTREME_DETAIL.match(text)
    if m:
        month = REVENUE_MONTHS.get(m["col"], m["col"])
        return (f"Revenue {fmt_int(float(m['value']))} ₽ in the {month}, {m['ratio']} × that month's median of "
                f"{fmt_int(float(m['median']))} ₽")
    for name in sorted(VARIABLE_LABELS, key=len, reverse=True):
        if name in text and name not in ("id", "profit"):
            text = text.replace(name, VARIABLE_LABELS[name].lower())
    return text[:1].upper() + text[1:]


def data_quality_findings(res: Results) -> list[str]:
    """Findings of the data checks, each a sentence with its numbers from the results."""
    h = res["headline"].iloc[0]
    customers = res["customer_table"]
    lines = []
    dups = int(h["n_duplicate_rows"])
    lines.append(f"Exact duplicate rows in the exports: {fmt_int(dups)}."
                 if dups else "No exact duplicate rows in any of the exports.")
    if int(h["n_typo_labels"]):
        lines.append(f"{fmt_int(h['n_typo_labels'])} known misspellings of category or period labels, corrected in "
                     f"{fmt_int(h['n_typo_cells'])} cells; each correction is listed in the typo table.")
    if int(h["n_not_regular"]):
        lines.append(f"{plural(int(h['n_not_regular']), 'customer')} had no purchase in at least one of the three "
                     "months: not regular customers by the brief's definition, so excluded from the analysis.")
    if int(h["n_extreme_revenue"]):
        lines.append(f"{plural(int(h['n_extreme_revenue']), 'customer')} had an implausible monthly revenue (far "
                     "above the month's median), excluded as a probable data error.")
    lines.append(f"The target is reasonably balanced: activity declined for {fmt_pct(h['decline_rate'])} "
                 f"of the {fmt_int(h['n_customers'])} regular customers.")
    lines.append(f"The promotional share is bimodal: {fmt_pct(h['share_promo_upper'])} of the "
                 f"customers buy at least {fmt_pct(h['promotion_split'], 0)} of their purchases on promotion, "
                 f"the others mostly well below.")
    lines.append(f"Profit ranges from {fmt_num(customers['profit'].min())} to {fmt_num(customers['profit'].max())}; "
                 "the store's brief names no unit, so profit is reported in profit units as exported.")
    vif = res["vif"].sort_values("vif", ascending=False).iloc[0]
    lines.append(f"No severe collinearity: the largest VIF is {fmt_num(vif['vif'])} ({term_label(vif['term'])}), "
                 f"{'above' if vif['vif'] > vif_threshold(res) else 'below'} the threshold of {vif_threshold(res):g}."
                 if vif["vif"] <= vif_threshold(res) else
                 f"The largest VIF is {fmt_num(vif['vif'])} ({term_label(vif['term'])}), above the threshold of "
                 f"{vif_threshold(res):g}.")
    return lines


@markdown_result
def vif_summary(res: Results) -> dict[str, str]:
    v = res["vif"]
    top = v.sort_values("vif", ascending=False).iloc[0]
    g = res["gvif"].sort_values("gvif_adjusted", ascending=False).iloc[0]
    flagged = int(res["headline"]["n_vif_flagged"].iloc[0])
    return {"threshold": f"{vif_threshold(res):g}", "n_flagged": fmt_int(flagged),
            "flagged_sentence": ("no column is flagged" if flagged == 0 else
                                 f"{count_of(flagged, 'column')} {'is' if flagged == 1 else 'are'} flagged"),
            "max_vif": fmt_num(top["vif"]), "max_term": term_label(top["term"]),
            "max_gvif": fmt_num(g["gvif_adjusted"]), "max_gvif_term": term_label(g["term"])}


@markdown_result
def phik_pairs_sentence(res: Results, n: int = 2) -> str:
    """The strongest associations between two different variables, and whether any makes a predictor redundant."""
    m = res["phik_matrix"]
    m = m[m["variable_a"] < m["variable_b"]].sort_values("phik", ascending=False).head(n)
    pairs = "; ".join(f"{variable_label(r.variable_a).lower()} with {variable_label(r.variable_b).lower()} "
                      f"({fmt_num(r.phik)})" for r in m.itertuples())
    vif = res["vif"]["vif"].max()
    tail = ("no predictor is redundant: every VIF is below the threshold (see Collinearity)"
            if vif <= vif_threshold(res) else "some predictors overlap strongly (see Collinearity)")
    return f"The strongest pairs are {pairs}; {tail}."


@markdown_result
def class_contrast_sentence(res: Results, variables: list[str] | None = None) -> str:
    """Medians of the key predictors in the two classes, as one sentence."""
    data = res["customer_table"]
    variables = variables or key_predictors(res)
    parts = []
    for var in variables:
        med = data.groupby(TARGET)[var].median()
        if 0 not in med.index or 1 not in med.index:
            continue
        show = (lambda v: fmt_pct(v, 0)) if var == "promo_share" else (lambda v: fmt_num(v, 1 if v % 1 else 0))
        parts.append(f"{variable_label(var).lower()} {show(med.loc[1])} vs {show(med.loc[0])}")
    if not parts:
        return ""
    return "Medians, declined vs same level: " + "; ".join(parts) + "."


@markdown_result
def phik_summary(res: Results) -> dict[str, str]:
    t = res["phik_target"]
    significant = t[t["p_value"] < alpha(res)]
    top = t.sort_values("phik", ascending=False).head(3)
    weak = t[t["p_value"] >= alpha(res)]
    return {
        "n_significant": fmt_int(len(significant)), "n_variables": fmt_int(len(t)),
        "top": "; ".join(f"{variable_label(r.variable).lower()} ({fmt_num(r.phik)})" for r in top.itertuples()),
        "not_significant": "; ".join(variable_label(v).lower() for v in weak["variable"]) or "none",
        "profit_phik": fmt_num(t.set_index("variable").loc["profit", "phik"]) if "profit" in set(t["variable"]) else "—",
        "profit_p": fmt_p(t.set_index("variable").loc["profit", "p_value"]) if "profit" in set(t["variable"]) else "—",
        "alpha": f"{alpha(res):g}",
    }


def units_of(res: Results) -> dict[str, str]:
    return dict(zip(res["model_units"]["variable"], res["model_units"]["unit"]))


def term_unit(term: str, units: dict[str, str]) -> str:
    if term == "Intercept":
        return ""
    if is_categorical(term):
        return "vs reference"
    if is_spline(term):
        return "spline basis"
    if ":" in term:
        return "product (centred)" if "I(" in term else "product"
    return short_unit(units.get(term, ""))


def unidentified_terms(res: Results) -> list[str]:
    c = res["logit_coefficients"]
    return [str(t) for t in c.loc[c["std_error"].isna(), "term"]]


@markdown_result
def identification_note(res: Results) -> str:
    terms = unidentified_terms(res)
    if not terms:
        return "Every coefficient has a standard error."
    labels = "; ".join(term_label(t) for t in terms)
    text = f"No standard error is reported for: {labels}."
    if any(is_spline(t) for t in terms):
        text += (" The natural cubic spline basis (cr) spans the constant, so together with the intercept the "
                 "design is rank-deficient by one and these coefficients are not separately identified; "
                 "predictions, average marginal effects and likelihood-ratio tests of the whole spline term "
                 "are identified and unaffected. Read the spline through its average marginal effect.")
    return text


@markdown_result
def reference_levels_sentence(res: Results) -> str:
    units = units_of(res)
    parts = []
    for var, unit in units.items():
        if str(unit).startswith("vs reference"):
            ref = str(unit).replace("vs reference", "").strip().strip("'")
            parts.append(f"{variable_label(var).lower()}: {level_label(var, ref)}")
    return "; ".join(parts)


@markdown_result
def hc3_summary(res: Results) -> dict[str, str]:
    a = res["logit_coefficients"].set_index("term")
    b = res["logit_coefficients_hc3"].set_index("term")
    both = a[["std_error", "p_value"]].join(b[["std_error", "p_value"]].add_suffix("_hc3")).dropna()
    ratio = both["std_error_hc3"] / both["std_error"]
    changed = both[(both["p_value"] < alpha(res)) != (both["p_value_hc3"] < alpha(res))]
    return {
        "ratio_min": fmt_num(ratio.min()), "ratio_max": fmt_num(ratio.max()),
        "n_changed": fmt_int(len(changed)),
        "changed": "; ".join(term_label(t) for t in changed.index) or "none",
        "changed_sentence": ("changes for no term" if len(changed) == 0 else
                             f"changes for {count_of(len(changed), 'term')} "
                             f"({'; '.join(term_label(t) for t in changed.index)})"),
        "alpha": f"{alpha(res):g}",
        "conclusion": ("The inference does not hinge on the model-based variance." if len(changed) == 0 else
                       "For these terms the conclusion depends on the variance estimator; read them with care."),
    }


def ame_unit(term: str, contrast: str, units: dict[str, str]) -> str:
    if contrast and " - " in str(contrast):
        return "vs reference"
    return short_unit(units.get(term, ""))


@markdown_result
def separation_sentence(res: Results) -> str:
    s = res["separation"].iloc[0]
    status = str(s["separation"])
    head = ("No complete or quasi-complete separation was found" if status == "none"
            else f"Separation check: {status}")
    extreme = int(s["n_fitted_extreme"])
    fitted = ("no customer has a fitted probability at 0 or 1" if extreme == 0 else
              f"{count_of(extreme, 'customer')} {'has a fitted probability' if extreme == 1 else 'have fitted probabilities'} at 0 or 1")
    return (f"{head} {method_citation(s['method'])}; {fitted}, "
            f"the largest absolute coefficient is {fmt_num(s['max_abs_coef'])} and the largest standard error "
            f"{fmt_big(s['max_std_error'])}.")


@markdown_result
def sensitivity_summary(res: Results) -> dict[str, str]:
    s = res["segment_sensitivity"]
    top = headline(res)["top_segment"]
    sub = s[s["segment"] == top]
    high = s[s["segment"].str.startswith("high_risk")]
    by_risk = high[high["profit_quantile"] == high["profit_quantile"].iloc[0]].groupby("risk_threshold")["n_customers"].sum()
    tops = s.loc[s.groupby(["risk_threshold", "profit_quantile"])["profit_at_risk_upper"].idxmax(), "segment"]
    same = int((tops == top).sum())
    stable = (f"In all {fmt_int(len(tops))} combinations the segment *{segment_label(top).lower()}* keeps the largest "
              "profit at risk, so the priorities do not depend on the exact boundaries." if same == len(tops) else
              f"The segment *{segment_label(top).lower()}* keeps the largest profit at risk in {fmt_int(same)} of "
              f"{fmt_int(len(tops))} combinations: the priorities depend on where the boundaries are drawn.")
    return {"stable": stable,
            "risk_min": fmt_num(s["risk_threshold"].min()), "risk_max": fmt_num(s["risk_threshold"].max()),
            "q_min": fmt_num(s["profit_quantile"].min(), 1), "q_max": fmt_num(s["profit_quantile"].max(), 1),
            "high_min": fmt_int(by_risk.min()), "high_max": fmt_int(by_risk.max()),
            "top": segment_label(top).lower(),
            "top_n_min": fmt_int(sub["n_customers"].min()), "top_n_max": fmt_int(sub["n_customers"].max()),
            "top_par_min": fmt_int(sub["profit_at_risk_upper"].min()), "top_par_max": fmt_int(sub["profit_at_risk_upper"].max())}


def _s(count: str) -> str:
    """The plural ending for a count already formatted as text ("1" → "", "3" → "s")."""
    return "" if count == "1" else "s"


def quick_protocol_note(res: Results) -> str:
    """A warning callout (Markdown) when the results come from the reduced test protocol, else nothing."""
    info = run_info(res)
    if not info["quick"]:
        return ""
    f = methods_facts(res)
    return ("::: {.callout-warning title=\"Quick protocol\"}\n"
            f"These results were produced with the reduced cross-validation protocol meant for tests "
            f"({f['n_splits']} fold{_s(f['n_splits'])} × {f['n_repeats']} repeat{_s(f['n_repeats'])}, "
            f"{f['inner_splits']} inner fold{_s(f['inner_splits'])}). Run "
            "`python -m analysis run` without `--quick` before relying on the benchmark.\n:::\n")


def key_predictors(res: Results, n: int = 6) -> list[str]:
    """The numeric variables most associated with the target (phik), for the class-wise distributions."""
    t = res["phik_target"]
    numeric = [v for v in t.sort_values("phik", ascending=False)["variable"]
               if v in res["customer_table"] and pd.api.types.is_numeric_dtype(res["customer_table"][v])
               and v not in ("contact_allowed", "profit")]
    return numeric[:n]


def protocol(res: Results) -> dict[str, str]:
    """The stated rules of the run (``protocol.csv``): name -> value as written."""
    p = res["protocol"]
    return dict(zip(p["name"].astype(str), p["value"].astype(str)))


def alpha(res: Results) -> float:
    return float(protocol(res)["alpha"])


def conf_level(res: Results) -> float:
    return float(protocol(res)["conf_level"])


def vif_threshold(res: Results) -> float:
    return float(protocol(res)["vif_threshold"])


def holdout_share(res: Results) -> float:
    return float(protocol(res)["holdout_share"])


def calibration_target(res: Results) -> dict[str, float]:
    return json.loads(protocol(res)["calibration_target"])


def target_sentence(res: Results) -> str:
    """The calibration target in words, from ``protocol.csv``."""
    t = calibration_target(res)
    return (f"out-of-fold Hosmer–Lemeshow p ≥ {t['hl_p_value_min']:g}, calibration slope in "
            f"[{t['slope_low']:g}, {t['slope_high']:g}] and calibration intercept within ±{t['intercept_abs_max']:g}")


def _true(x) -> bool:
    return str(x).lower() == "true"


def _pp(x, digits: int = 1) -> str:
    return fmt_num(100 * x, digits)


def _pp_ci(est, low, high, digits: int = 1) -> str:
    return f"{_pp(est, digits)} pp (95% CI {_pp(low, digits)} to {_pp(high, digits)})"


def action_rows(res: Results) -> list[dict]:
    """The store actions of ``headline_actions.csv`` (computed by the run), each with its display strings."""
    out = []
    for r in res["headline_actions"].to_dict("records"):
        r = dict(r)
        for key in ("recommended", "offered", "robust"):
            r[key] = _true(r[key])
        r["label"] = lever_label(r["action"])
        r["effect_text"] = _pp_ci(r["effect"], r["conf_low"], r["conf_high"])
        r["range_text"] = f"{_pp(r['model_min'])} to {_pp(r['model_max'])} pp"
        r["kept_text"] = fmt_est_ci(r["customers_kept"], r["customers_kept_low"], r["customers_kept_high"], 1)
        r["profit_text"] = fmt_est_ci(r["profit_retained_month"], r["profit_retained_month_low"],
                                      r["profit_retained_month_high"], 1)
        r["per_contact_text"] = fmt_est_ci(r["break_even_per_contact"], r["break_even_per_contact_low"],
                                           r["break_even_per_contact_high"], 3)
        r["per_customer_text"] = fmt_est_ci(r["break_even_per_customer"], r["break_even_per_customer_low"],
                                            r["break_even_per_customer_high"], 2)
        r["status"] = ("recommended: supported under every model that fits the data as well" if r["recommended"]
                       else "offered as a test: the inference model supports it, not every tied model does"
                       if r["offered"] else "not supported by the data")
        out.append(r)
    return out


def tied_models(res: Results) -> list[str]:
    """Codes of the candidates tied with the best out-of-fold log loss (the tie rule)."""
    c = res["model_candidates"]
    return [str(m) for m in c.loc[c["tied"].astype(str).str.lower() == "true", "model"]]


@markdown_result
def decision_summary(res: Results) -> dict[str, str]:
    """The decision sentences of the executive summary and the decisions chapter, from the run's tables."""
    rows = {r["action"]: r for r in action_rows(res)}
    h = res["headline"].iloc[0]
    tests = res["action_tests"].set_index("action")
    by_model = res["effects_by_model"]
    tied = tied_models(res)
    business = str(h["business_model"])
    main = rows.get("more_marketing")
    month = rows.get("marketing_this_month")
    out = {"n_actions": fmt_int(len(rows)), "tied": "; ".join(model_label(m, short=True) for m in tied),
           "n_tied": fmt_int(len(tied)), "business": model_label(business, short=True)}
    if main is not None:
        blocking = []
        ame = by_model[(by_model["action"] == "more_marketing") & (by_model["quantity"] == "ame")
                       & (by_model["interval"] == "delta") & by_model["model"].isin(tied)]
        for r in ame.itertuples():
            if not r.conf_high < 0:
                blocking.append(f"{model_label(r.model, short=True)} ({_pp_ci(r.estimate, r.conf_low, r.conf_high)} "
                                f"per contact a month)")
        out.update({
            "main_label": main["label"].lower(), "main_n": fmt_int(main["n_treated"]), "main_effect": main["effect_text"],
            "main_range": main["range_text"], "main_n_models": fmt_int(main["n_models"]),
            "main_kept": main["kept_text"], "main_profit": main["profit_text"],
            "main_per_contact": main["per_contact_text"], "main_per_customer": main["per_customer_text"],
            "main_status": main["status"], "main_p": fmt_p_model(main["p_value_holm"]),
            "main_blocking": "; ".join(blocking) if blocking else "",
            "main_se_ratio": fmt_num(main["std_error"] / main["std_error_delta"], 2)
            if main["std_error_delta"] > 0 else "—",
        })
    if month is not None:
        t = tests.loc["marketing_this_month"]
        out.update({"month_effect": month["effect_text"], "month_n": fmt_int(month["n_treated"]),
                    "month_ame": _pp_ci(t["estimate"], t["conf_low"], t["conf_high"]),
                    "month_p": fmt_p_model(t["p_value_holm"]), "month_range": month["range_text"]})
    out.update({
        "n_offered": fmt_int(h["n_offered"]), "n_personal": fmt_int(h["n_personal_contact"]),
        "plan_declines": fmt_num(h["plan_expected_declines"], 0),
        "plan_kept": fmt_est_ci(h["plan_customers_kept"], h["plan_customers_kept_low"], h["plan_customers_kept_high"], 1),
        "plan_profit": fmt_est_ci(h["plan_profit_retained"], h["plan_profit_retained_low"],
                                  h["plan_profit_retained_high"], 1),
        "plan_share": fmt_pct(h["plan_share_of_profit_at_risk"], 1),
        "profit_at_risk_high": fmt_int(h["profit_at_risk_upper_high_risk"]),
        "n_recommended": fmt_int(sum(r["recommended"] for r in rows.values())),
    })
    return out


def headline(res: Results) -> dict:
    """The executive summary's numbers: the row of ``headline.csv`` (computed by the run) and the actions."""
    h = res["headline"].iloc[0].to_dict()
    for key in ("business_meets_target", "equivalent", "quick"):
        h[key] = _true(h[key])
    h["actions"] = action_rows(res)
    h["conf_level"] = conf_level(res)
    h["alpha"] = alpha(res)
    return h


@markdown_result
def summary_strings(h: dict) -> dict[str, str]:
    """The display strings of :func:`headline` (what the executive summary prints)."""
    s = {
        "n_customers": fmt_int(h["n_customers"]),
        "n_exported": fmt_int(h["n_exported"]),
        "decline_rate": fmt_pct(h["decline_rate"]),
        "risk_threshold": fmt_num(h["risk_threshold"], 2),
        "n_high_risk": fmt_int(h["n_high_risk"]),
        "share_high_risk": fmt_pct(h["share_high_risk"]),
        "profit_at_risk_total": fmt_int(h["profit_at_risk_upper_total"]),
        "profit_at_risk_high_risk": fmt_int(h["profit_at_risk_upper_high_risk"]),
        "share_profit_at_risk_high_risk": fmt_pct(h["share_profit_at_risk_high_risk"]),
        "top_segment": segment_label(h["top_segment"]).lower(),
        "top_segment_n": fmt_int(h["top_segment_n"]),
        "top_segment_share": fmt_pct(h["top_segment_share"]),
        "top_segment_mean_p": fmt_num(h["top_segment_mean_p"], 2),
        "top_segment_observed_rate": fmt_pct(h["top_segment_observed_rate"], 0),
        "top_segment_profit_at_risk": fmt_int(h["top_segment_profit_at_risk_upper"]),
        "top_segment_share_of_profit_at_risk": fmt_pct(h["top_segment_share_of_profit_at_risk"]),
        "n_models": fmt_int(h["n_models"]),
        "business_model_label": model_label(h["business_model"]).lower(),
        "inference_model_label": model_label(h["inference_model"]).lower(),
        "business_auc": fmt_num(h["business_auc"], 3),
        "best_model_label": model_label(h["best_model"]).lower(),
        "best_auc": fmt_num(h["best_auc"], 3),
        "auc_diff": fmt_num(h["auc_diff"], 3),
        "auc_diff_ci": fmt_ci(h["auc_diff_conf_low"], h["auc_diff_conf_high"], 3),
        "auc_diff_p": fmt_p(h["auc_diff_p_value"]),
        "margin": fmt_num(h["equivalence_margin"], 3),
        "tost_p": fmt_p(h["tost_p_value"]),
        "hl_p": fmt_big(h["business_hl_p_value"]),
        "cal_slope": fmt_num(h["business_calibration_slope"], 2),
        "cal_intercept": fmt_num(h["business_calibration_intercept"], 2),
        "conf_level": f"{h['conf_level']:.0%}",
    }
    return s


@markdown_result
def summary_model_sentence(h: dict) -> str:
    """Accuracy and calibration of the business model, for the executive summary: the gap to the best model
    with its corrected interval and the equivalence verdict (never "not significant" read as "equivalent")."""
    s = summary_strings(h)
    if h["best_model"] == h["business_model"]:
        gap = f"The business model is also the most accurate of the {s['n_models']} models compared (cross-validated AUC {s['business_auc']})."
    else:
        verdict = ("within the stated equivalence margin" if h["equivalent"] else
                   "not shown to be within the stated equivalence margin")
        gap = (f"The business model ranks customers slightly less well than the best of the {s['n_models']} models compared, "
               f"{s['best_model_label']}: cross-validated AUC {s['business_auc']} vs {s['best_auc']}, a difference of "
               f"{s['auc_diff']} ({s['conf_level']} CI {s['auc_diff_ci']}), {verdict} of ±{s['margin']} "
               f"(equivalence test p = {s['tost_p']}).")
    cal = ("Its out-of-fold probabilities meet the calibration target" if h["business_meets_target"] else
           "Its out-of-fold probabilities are close to, but do not fully meet, the calibration target")
    return (f"{gap} {cal} (Hosmer–Lemeshow p = {s['hl_p']}, calibration slope {s['cal_slope']}, "
            f"intercept {s['cal_intercept']}).")


@markdown_result
def specification_summary(res: Results) -> dict[str, str]:
    steps = res["specification_steps"]
    chosen = steps[steps["selected"].astype(str).str.lower() == "true"]
    stab = res["selection_stability"]
    n_candidates = int((steps["step"] == 1).sum())
    n_folds = int(res["model_benchmark"]["n_folds"].iloc[0])
    sets = res["selection_sets"]
    out = {
        "n_candidates": fmt_int(n_candidates),
        "n_steps": fmt_int(steps["step"].max()),
        "n_tests": fmt_int(len(steps)),
        "n_added": fmt_int(len(chosen)),
        "added": "; ".join(term_label(c) for c in chosen["candidate"]) or "none",
        "first_threshold": fmt_big(steps["threshold"].iloc[0]) if len(steps) else "—",
        "alpha": f"{alpha(res):g}",
        "n_folds": fmt_int(n_folds),
        "n_sets": fmt_int(len(sets)),
        "top_set_share": fmt_pct(sets["share_of_folds"].max(), 0) if len(sets) else "—",
        "top_term": term_label(stab.sort_values("share_of_folds", ascending=False)["term"].iloc[0]) if len(stab) else "none",
        "top_term_share": fmt_pct(stab["share_of_folds"].max(), 0) if len(stab) else "—",
    }
    return out


@markdown_result
def ame_summary(res: Results) -> dict[str, str]:
    m = res["marginal_effects"]
    lead = m[m["role"] == "lead"].assign(abs_z=lambda d: d["statistic"].abs())
    a = alpha(res)
    sig = lead[lead["p_value"] < a].sort_values("abs_z", ascending=False)
    units = units_of(res)

    def describe(r) -> str:
        unit = ame_unit(r.variable, r.contrast, units)
        what = contrast_label(r.variable, r.contrast).lower()
        step = f" ({unit})" if unit and unit != "vs reference" else ""
        value = fmt_num(r.estimate * 100, 1)
        return f"{what}{step} {value if r.estimate < 0 else '+' + value} pp"

    return {"n_significant": fmt_int(len(sig)), "n_terms": fmt_int(len(lead)),
            "top": "; ".join(describe(r) for r in sig.head(4).itertuples()) or "none",
            "alpha": f"{a:g}", "lead_model": model_label(lead["model"].iloc[0]).lower() if len(lead) else "—"}


@markdown_result
def calibration_summary(res: Results, model: str | None = None) -> dict[str, str]:
    """Calibration of one model's out-of-fold probabilities (default: the business model)."""
    model = model or headline(res)["business_model"]
    tests = res["calibration_tests"]
    t = tests[tests["model"] == model].iloc[0]
    curve = res["calibration_curve"][res["calibration_curve"]["model"] == model]
    gap = (curve["observed_rate"] - curve["mean_predicted"])
    worst = curve.loc[gap.abs().idxmax()]
    outside = ((curve["mean_predicted"] < curve["conf_low"]) | (curve["mean_predicted"] > curve["conf_high"])).sum()
    rejects = t["hl_p_value"] < alpha(res)
    return {
        "model": model_label(model).lower(),
        "brier": fmt_num(t["brier"], 3), "brier_reference": fmt_num(t["brier_reference"], 3),
        "brier_gain": fmt_pct(1 - t["brier"] / t["brier_reference"], 0),
        "hl": fmt_num(t["hl_statistic"], 1), "hl_df": fmt_int(t["hl_df"]), "hl_p": fmt_big(t["hl_p_value"]),
        "hl_verdict": ("rejects calibration" if rejects else "does not reject calibration"),
        "n_bins": fmt_int(len(curve)), "n_outside": fmt_int(outside),
        "outside_sentence": capitalise(f"in {share_of(outside, len(curve), 'bins')}"),
        "worst_predicted": fmt_num(worst["mean_predicted"], 2), "worst_observed": fmt_num(worst["observed_rate"], 2),
        "worst_direction": ("over-predicts" if worst["mean_predicted"] > worst["observed_rate"] else
                            "under-predicts" if worst["mean_predicted"] < worst["observed_rate"] else
                            "matches the observed rate in every bin"),
    }


@markdown_result
def candidates_summary(res: Results) -> dict[str, str]:
    """The choice among the interpretable candidates (``model_candidates.csv``), in words."""
    c = res["model_candidates"]
    h = headline(res)
    inference = c[c["model"] == h["inference_model"]].iloc[0]
    business = c[c["model"] == h["business_model"]].iloc[0]
    recalibrated = h["business_model"] != h["inference_model"]
    return {
        "n_candidates": fmt_int((~c["model"].str.endswith("_recalibrated")).sum()),
        "inference": model_label(h["inference_model"]).lower(),
        "inference_log_loss": fmt_num(inference["log_loss"], 3),
        "inference_meets": "meets" if _true(inference["meets_target"]) else "does not meet",
        "inference_hl_p": fmt_big(inference["hl_p_value"]),
        "business": model_label(h["business_model"]).lower(),
        "business_log_loss": fmt_num(business["log_loss"], 3),
        "business_meets": "meets" if _true(business["meets_target"]) else "does not fully meet",
        "business_hl_p": fmt_big(business["hl_p_value"]),
        "business_slope": fmt_num(business["calibration_slope"], 2),
        "business_intercept": fmt_num(business["calibration_intercept"], 2),
        "recalibrated": ("Because it misses the target, its probabilities were recalibrated inside each fold for the "
                         "business figures, and both versions are reported." if recalibrated else
                         "It meets the target, so its own probabilities give the business figures."),
    }


@markdown_result
def benchmark_summary(res: Results) -> dict[str, str]:
    h = headline(res)
    s = summary_strings(h)
    info = run_info(res)
    b = res["model_benchmark"].set_index("model")
    a = alpha(res)
    if h["best_model"] == h["business_model"]:
        verdict = (f"The business model, {s['business_model_label']}, has the highest mean cross-validated AUC of "
                   "all models: the interpretable model costs no accuracy here.")
    else:
        significant = h["auc_diff_p_value"] < a
        if h["equivalent"]:
            tail = (f"The equivalence test (TOST on the corrected t) places the difference within ±{s['margin']} "
                    f"(p = {s['tost_p']}): interpretability costs no accuracy beyond that margin.")
        else:
            tail = (f"The equivalence test (TOST on the corrected t) cannot place the difference within "
                    f"±{s['margin']} (p = {s['tost_p']}): the data do not show that no accuracy is lost, only that "
                    "any loss is within the interval above.")
        verdict = (f"The business model ({s['business_model_label']}) is behind {s['best_model_label']} by "
                   f"{fmt_num(-h['auc_diff'], 3)} AUC ({s['conf_level']} corrected CI of the difference "
                   f"{s['auc_diff_ci']}; p = {s['auc_diff_p']}, "
                   f"{'significant' if significant else 'not significant'}). A non-significant difference is not "
                   f"evidence of equivalence. {tail}")
    return {
        "verdict": verdict, "n_models": fmt_int(len(b)), "n_folds": fmt_int(b["n_folds"].iloc[0]),
        "n_splits": fmt_int(info["protocol"].get("n_splits", np.nan)),
        "n_repeats": fmt_int(info["protocol"].get("n_repeats", np.nan)),
        "inner_splits": fmt_int(info["protocol"].get("inner_splits", np.nan)),
        "n_pairs": fmt_int(h["n_comparison_pairs"]), "n_sig": fmt_int(h["n_pairs_significant"]),
        "n_sig_holm": fmt_int(h["n_pairs_significant_holm"]),
        "alpha": f"{a:g}", "holdout": fmt_pct(holdout_share(res), 0),
    }


def _offers_sentence(n_targeted: int, n_personal: int, n_none: int, allowed: list[str]) -> str:
    """Who gets what, in words that read right for any count (no "0 need a personal contact"; "no customer
    keeps", singular as "1 customer keeps")."""
    if not allowed:
        head = "No store action is offered, so no high-risk customer receives an action"
    else:
        names = "; ".join(lever_label(x).lower() for x in allowed)
        head = (f"{capitalise(count_of(n_targeted, 'high-risk customer'))} "
                f"{'receives' if n_targeted <= 1 else 'receive'} the offered action ({names})")
    personal = ("" if n_personal == 0 else
                f"; {count_of(n_personal, 'customer')} {'needs' if n_personal == 1 else 'need'} a personal contact "
                "because the action cannot reach them (no consent, or no support)")
    return (f"{head}{personal}; {count_of(n_none, 'low-risk customer')} "
            f"{'keeps' if n_none <= 1 else 'keep'} the standard communication.")


@markdown_result
def offers_summary(res: Results) -> dict[str, str]:
    o = res["offers"]
    targeted = o[~o["offer"].isin(["none", "personal_contact"])]
    top = targeted["offer"].value_counts()
    allowed = res["allowed_levers"]["action"].tolist() if len(res["allowed_levers"]) else []
    width = (targeted["risk_drop_conf_high"] - targeted["risk_drop_conf_low"]) if len(targeted) else pd.Series([])
    return {"n_targeted": fmt_int(len(targeted)), "n_none": fmt_int((o["offer"] == "none").sum()),
            "n_personal": fmt_int((o["offer"] == "personal_contact").sum()),
            "top_offer": lever_label(top.index[0]).lower() if len(top) else "none",
            "top_offer_n": fmt_int(top.iloc[0]) if len(top) else "0",
            "allowed": "; ".join(lever_label(x).lower() for x in allowed) or "none",
            "n_allowed": fmt_int(len(allowed)),
            "sentence": _offers_sentence(len(targeted), int((o["offer"] == "personal_contact").sum()),
                                         int((o["offer"] == "none").sum()), allowed),
            "drop_median": _pp(targeted["risk_drop"].median()) if len(targeted) else "—",
            "drop_min": _pp(targeted["risk_drop"].min()) if len(targeted) else "—",
            "drop_max": _pp(targeted["risk_drop"].max()) if len(targeted) else "—",
            "width_median": _pp(width.median()) if len(targeted) else "—"}


@markdown_result
def engagement_sentence(res: Results) -> str:
    """Engagement outcomes as associations, in words (never as levers, never with customers kept)."""
    e = res["engagement_associations"]
    e = e[e["group"] == ALL_HIGH_RISK]
    if e.empty:
        return "No engagement association was estimated."
    parts = [f"high-risk customers who view {ENGAGEMENT_LABELS.get(r.outcome, r.outcome)} decline "
             f"{fmt_num(-100 * r.effect, 1)} percentage points less often ({fmt_ci(-100 * r.conf_high, -100 * r.conf_low, 1)})"
             if r.effect < 0 else
             f"high-risk customers who view {ENGAGEMENT_LABELS.get(r.outcome, r.outcome)} decline "
             f"{fmt_num(100 * r.effect, 1)} percentage points more often ({fmt_ci(100 * r.conf_low, 100 * r.conf_high, 1)})"
             for r in e.itertuples()]
    return "As associations only: " + "; ".join(parts) + "."


@markdown_result
def floor_summary(res: Results) -> dict[str, str]:
    f = res["floor_logit_coefficients"].set_index("term")
    lr = res["floor_lr_test"].iloc[0]
    g = f.loc["floor_gamma"] if "floor_gamma" in f.index else None
    return {"gamma": fmt_num(g["estimate"], 3) if g is not None else "—",
            "gamma_ci": fmt_ci(g["conf_low"], g["conf_high"], 3) if g is not None else "—",
            "lr": fmt_num(lr["lr_chi2"], 1), "lr_p": fmt_big(lr["p_value"]),
            "convergence": convergence_sentence(res, "logit_floor")}


def convergence_sentence(res: Results, model: str) -> str:
    """Whether ``model``'s fits converged in the outer folds (``folds_not_converged`` of
    ``model_candidates.csv``), in words; empty when the model reports no convergence flag."""
    c = res["model_candidates"]
    row = c[c["model"] == model]
    if row.empty or pd.isna(row["folds_not_converged"].iloc[0]):
        return ""
    k, n = int(row["folds_not_converged"].iloc[0]), int(row["n_folds"].iloc[0])
    if k == 0:
        return f"Its maximum-likelihood fit converged in all {fmt_int(n)} outer training folds."
    return (f"Its maximum-likelihood fit did not converge in {fmt_int(k)} of the {fmt_int(n)} outer training folds "
            "(the Newton iterations reached their limit without meeting the convergence criterion), so in those "
            "folds its out-of-fold predictions depend on where the iterations stopped, and its cross-validated "
            "figures are less reliable than the others'.")


@markdown_result
def influence_summary(res: Results) -> dict[str, str]:
    inf = res["influence"]
    n = len(res["offers"])
    oof = res["oof_predictions"].set_index("id")
    column = headline(res)["business_model"]
    y = oof.loc[inf["id"], "y_true"].to_numpy()
    p = oof.loc[inf["id"], column].to_numpy()
    surprising = int(((y == 1) & (p < 0.5)).sum() + ((y == 0) & (p >= 0.5)).sum())
    max_cooks = float(inf["cooks_distance"].max())
    return {"n_shown": fmt_int(len(inf)), "max_cooks": fmt_num(max_cooks, 4),
            "rule": fmt_num(4 / n, 4), "max_cooks_ratio": fmt_num(max_cooks / (4 / n), 1),
            "driver": ("far below one: no single customer drives the fit" if max_cooks < 0.5
                       else "large enough to check whether this customer drives the fit"),
            "surprising": (capitalise(share_of(surprising, len(inf), "customers")) + " had an outcome the business "
                           "model found unlikely out of fold (a decline predicted below one half, or no decline "
                           "predicted above it).")}


def _manifest(res: Results) -> dict:
    from analysis.results.store import read_manifest

    return read_manifest(res.directory)


@markdown_result
def methods_facts(res: Results) -> dict[str, str]:
    info = run_info(res)
    prot = info["protocol"]
    return {
        "seed": str(info.get("seed")), "n_splits": fmt_int(prot.get("n_splits", np.nan)),
        "n_repeats": fmt_int(prot.get("n_repeats", np.nan)), "inner_splits": fmt_int(prot.get("inner_splits", np.nan)),
        "protocol_name": "the quick protocol meant for tests" if info["quick"] else "the full protocol",
        "formula": str(info.get("formula")),
        "formula_terms": "; ".join(term_label(t.strip()) for t in str(info.get("formula")).split(" + ")),
        "run_id": _manifest(res)["run_id"], "run_date": str(_manifest(res)["created"])[:10],
        "results_dir": res.directory.name,
        "total_seconds": fmt_num(res["run_times"].set_index("stage")["seconds"].get("total", np.nan), 1),
        "conf_level": f"{conf_level(res):.0%}", "alpha": f"{alpha(res):g}",
        "choice_rule": protocol(res)["choice_rule"], "target": target_sentence(res),
        "margin": fmt_num(float(protocol(res)["equivalence_margin"]), 3),
        "svc_max_rows": fmt_int(float(protocol(res)["svc_max_rows"])),
        "forest_trees": fmt_int(float(protocol(res)["forest_trees"])),
        "forest_tuning_trees": fmt_int(float(protocol(res)["forest_tuning_trees"])),
        "support_rule": protocol(res)["support_rule"], "tie_rule": protocol(res)["tie_rule"],
        "n_bootstrap": fmt_int(float(protocol(res)["n_bootstrap"])),
        "inference_model": str(res["headline"]["inference_model"].iloc[0]),
    }


@markdown_result
def experiment_summary(res: Results) -> dict[str, str]:
    """Facts of the A/B test plan for the report's prose (all from ``experiment_plan.csv``): the headline is
    the plan of the most supported store action among all high-risk customers."""
    p = res["experiment_plan"]
    empty = {"n_rows": "0", "n_feasible": "0", "feasible_sentence": "No test can be planned", "first_group": "", "first_action": "", "first_needed": "",
             "first_available": "", "first_mde": "", "ratio": "",
             "summary": "no store action can reach enough customers to be tested."}
    if len(p) == 0:
        return empty
    feasible = p["feasible"].astype(str).str.lower() == "true"
    rows = {r["action"]: r for r in action_rows(res)}
    main = p[(p["group"] == ALL_HIGH_RISK) & (p["action"] == "more_marketing")]
    first = main.iloc[0] if len(main) else p.sort_values("n_per_arm_80", kind="stable").iloc[0]
    needed, available = first["n_per_arm_80"], first["n_per_arm_available"]
    label = rows[first["action"]]["label"].lower() if first["action"] in rows else lever_label(first["action"]).lower()
    summary = (f"for {label}, the {fmt_int(available)} high-risk customers available per arm could detect only a "
               f"change of about {fmt_num(100 * abs(first['mde_80']), 1)} percentage points with 80 % power, against "
               f"the {fmt_num(100 * abs(first['predicted_effect']), 1)} predicted; detecting the prediction needs "
               f"{fmt_int(needed)} customers per arm (@tbl-experiment-plan).")
    return {
        "n_rows": fmt_int(len(p)), "n_feasible": fmt_int(int(feasible.sum())),
        "feasible_sentence": capitalise(share_of(int(feasible.sum()), len(p), "planned tests")),
        "first_group": segment_label(first["group"]).lower(), "first_action": lever_label(first["action"]),
        "first_needed": fmt_int(needed), "first_available": fmt_int(available),
        "first_mde": fmt_num(100 * abs(first["mde_80"]), 1),
        "ratio": fmt_num(needed / max(available, 1), 0), "summary": summary,
    }


@markdown_result
def robustness_sentence(res: Results) -> str:
    """How the store actions' effects move with the model, and which tied model blocks a roll-out."""
    d = decision_summary(res)
    if "main_effect" not in d:
        return ""
    text = (f"For {d['main_label']}, the inference model's change among the high-risk customers it reaches is "
            f"{d['main_effect']}, and the candidates range from {d['main_range']}; the bootstrap SD is "
            f"{d['main_se_ratio']} times the delta-method SE.")
    if d["main_blocking"]:
        text += (f" Its AME interval includes zero under a tied candidate, {d['main_blocking']}: the data do not "
                 "support it under every model that fits them as well, so it is offered as a test, not recommended "
                 "for a roll-out.")
    return text


@markdown_result
def gam_facts(res: Results) -> dict[str, str]:
    """The GAM's specification in words and symbols, from ``gam_smooths.csv`` and ``gam_coefficients.csv``."""
    g = res["gam_smooths"]
    c = res["gam_coefficients"]
    linear = list(dict.fromkeys(t.split("[")[0] for t in c["term"] if not t.startswith("cr(") and t != "Intercept"))
    first = g.iloc[0] if len(g) else None
    return {
        "smooths": "; ".join(variable_label(v).lower() for v in g["smooth"]),
        "linear": "; ".join(term_label(t).lower() for t in linear),
        "linear_formula": " + ".join(linear),
        "basis": str(first["basis"]) if first is not None else "",
        "n_basis": fmt_int(first["n_basis"]) if first is not None else "",
        "alpha": fmt_num(first["alpha"], 2) if first is not None else "",
        "edf_total": fmt_num(first["edf_total"], 1) if first is not None else "",
        "n_coefficients": fmt_int(first["n_coefficients"]) if first is not None else "",
        "edf_smooths": "; ".join(f"{variable_label(r.smooth).lower()} {fmt_num(r.edf, 2)}" for r in g.itertuples()),
    }


@markdown_result
def recalibration_facts(res: Results) -> dict[str, str]:
    """The recalibration map's fitted parameters (empty strings without a map)."""
    r = res["recalibration_map"]
    if r.empty:
        return {"present": "", "floor": "", "ceiling": "", "slope": "", "shift": "",
                "ceiling_note": "The business model is the inference model itself: no map."}
    m = r.set_index("parameter")["value"]
    note = (f"The ceiling c₁ = {fmt_num(m['ceiling'], 4)} is at its bound of 1, so the map is in effect "
            "p = c₀ + (1 − c₀)·expit(a·s + b): a floor of background decline and a stretched logit."
            if m["ceiling"] > 0.9999 else
            f"Between the floor c₀ = {fmt_num(m['floor'], 4)} and the ceiling c₁ = {fmt_num(m['ceiling'], 4)} the "
            "map stretches the GAM's logit.")
    return {"present": "yes", "floor": fmt_num(m["floor"], 4), "ceiling": fmt_num(m["ceiling"], 4),
            "slope": fmt_num(m["slope"], 4), "shift": fmt_num(m["shift"], 4), "ceiling_note": note}
