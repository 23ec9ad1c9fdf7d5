"""The report's tables: each function takes the results bundle and returns a *display* frame (strings already
formatted, English column names); :func:`analysis.report.formats.md` shows one as Markdown."""

from __future__ import annotations

import platform
import re
from importlib import metadata

import numpy as np
import pandas as pd

from analysis.data.dictionary import CATEGORY_LABELS, DICTIONARY, EXPORT_FILES, FEATURE_GROUPS, KNOWN_TYPOS, dictionary_frame
from analysis.report.formats import fmt_big, fmt_ci, fmt_est_ci, fmt_int, fmt_num, fmt_p, fmt_p_model, fmt_pct, markdown_result
from analysis.report.labels import (
    ACTION_SHORT,
    ALL_HIGH_RISK,
    CI,
    ENGAGEMENT_LABELS,
    FILE_CONTENT,
    GRID_SEGMENTS,
    PERIOD_DISPLAY,
    PROMO_GROUP,
    ROLE_LABELS,
    STEP_KIND_LABELS,
    STEP_LABELS,
    capitalise,
    contrast_label,
    is_spline,
    level_label,
    lever_label,
    model_label,
    relabel,
    segment_label,
    short_unit,
    term_label,
    variable_label,
)
from analysis.results.registry import Results
from analysis.report.text import (
    PROFILE_MIN_DELTA,
    PROFILE_MIN_SHARE_DIFF,
    ame_unit,
    english_detail,
    term_unit,
    units_of,
    action_rows,
    alpha,
    headline,
    summary_strings,
    vif_threshold,
)



def sources_table(res: Results) -> pd.DataFrame:
    acc = res["row_accounting"].set_index("step")
    files = res["data_files"].set_index("file")
    rows = []
    for name in EXPORT_FILES:
        step = f"read {name}"
        rows.append({
            "file": name, "content": FILE_CONTENT.get(name, ""),
            "rows": fmt_int(acc.loc[step, "rows_in"]) if step in acc.index else "—",
            "Duplicates dropped": fmt_int(acc.loc[step, "removed"]) if step in acc.index else "—",
            "Size (KB)": fmt_num(files.loc[name, "bytes"] / 1024, 0) if name in files.index else "—",
        })
    return relabel(pd.DataFrame(rows))


def feature_groups_table() -> pd.DataFrame:
    rows = []
    for group, description in FEATURE_GROUPS.items():
        names = [variable_label(f.name) for f in DICTIONARY if f.group == group]
        rows.append({"group": group.capitalize(), "description": description.split(":")[0],
                     "variables": "; ".join(names)})
    return relabel(pd.DataFrame(rows))


def row_accounting_table(res: Results) -> pd.DataFrame:
    acc = res["row_accounting"]
    return relabel(pd.DataFrame({
        "step": [STEP_LABELS.get(s, s.replace("read ", "Read ")) for s in acc["step"]],
        "rows_in": acc["rows_in"].map(fmt_int), "rows_out": acc["rows_out"].map(fmt_int),
        "removed": acc["removed"].map(fmt_int), "reason": acc["reason"].str.capitalize(),
    }))


def excluded_table(res: Results, max_rows: int = 15) -> pd.DataFrame:
    ex = res["excluded_customers"].head(max_rows)
    return relabel(pd.DataFrame({
        "id": ex["id"].astype(str), "Rule": [STEP_LABELS.get(s, s) for s in ex["step"]],
        "detail": ex["detail"].astype(str).map(english_detail),
    }))


def _column_by_source(column_ru: str) -> str:
    for f in DICTIONARY:
        if f.source_name == column_ru and f.source_file and not f.period:
            return variable_label(f.name)
    return "Period" if column_ru == "Период" else column_ru


def _english_value(column_ru: str, value_ru: str) -> str:
    for f in DICTIONARY:
        if f.source_name == column_ru and f.name in CATEGORY_LABELS:
            code = CATEGORY_LABELS[f.name].get(value_ru)
            if code is not None:
                return level_label(f.name, code)
    return PERIOD_DISPLAY.get(value_ru, value_ru)


def typo_table(res: Results) -> pd.DataFrame:
    """The typo corrections in English (the Russian strings are in the appendix)."""
    t = res["typo_corrections"]
    return relabel(pd.DataFrame({
        "file": t["file"], "column": [_column_by_source(c) for c in t["column"]],
        "Value corrected to": [capitalise(_english_value(c, v)) for c, v in zip(t["column"], t["correction"])],
        "Cells corrected": t["rows"].map(fmt_int),
    }))


def vif_display(res: Results) -> pd.DataFrame:
    v = res["vif"]
    return relabel(pd.DataFrame({"term": v["term"].map(term_label), "vif": v["vif"].map(fmt_num),
                                 "flagged": np.where(v["vif"] > vif_threshold(res), "yes", "no")}))


def gvif_display(res: Results) -> pd.DataFrame:
    g = res["gvif"]
    return relabel(pd.DataFrame({"term": g["term"].map(term_label), "n_columns": g["n_columns"].map(fmt_int),
                                 "gvif": g["gvif"].map(fmt_num), "gvif_adjusted": g["gvif_adjusted"].map(fmt_num)}))

FIT_ROWS = (("n", "Customers", fmt_int), ("n_events", "Declines", fmt_int), ("df_model", "Model df", fmt_int),
            ("log_likelihood", "Log-likelihood", lambda x: fmt_num(x, 1)),
            ("null_log_likelihood", "Null log-likelihood", lambda x: fmt_num(x, 1)),
            ("lr_chi2", "LR χ² vs null", lambda x: fmt_num(x, 1)), ("lr_p_value", "p", fmt_p),
            ("pseudo_r2_mcfadden", "McFadden pseudo-R²", lambda x: fmt_num(x, 3)),
            ("aic", "AIC", lambda x: fmt_num(x, 1)), ("bic", "BIC", lambda x: fmt_num(x, 1)),
            ("converged", "Converged", lambda x: "yes" if str(x).lower() == "true" else "no"))


def thresholds_table(res: Results) -> pd.DataFrame:
    t = res["segment_thresholds"]
    return pd.DataFrame({"Threshold": t["threshold"].str.capitalize(), "Value": t["value"].map(fmt_num),
                         "Rule": t["rule"].str.replace("promo_share", "promotional share")})


def _profile_value(variable: str, kind: str, value: float) -> str:
    if kind == "categorical":
        return fmt_pct(value, 0)
    if variable == "promo_share":
        return fmt_pct(value, 0)
    if variable.startswith("revenue"):
        return fmt_int(value)
    return fmt_num(value, 2) if variable == "profit" or float(value) % 1 else fmt_num(value, 0)


def dictionary_table() -> pd.DataFrame:
    d = dictionary_frame()
    source = [f"{file}: {name}" + (f" ({period})" if period else "")
              for file, name, period in zip(d["source_file"], d["source_name"], d["period"])]
    return pd.DataFrame({"Column": d["name"], "Export column (file)": source, "Meaning": d["meaning"],
                         "Unit": d["unit"], "Group": d["group"]})


def category_values_table() -> pd.DataFrame:
    rows = [{"Column": variable_label(col), "Export value": ru, "English": level_label(col, en)}
            for col, mapping in CATEGORY_LABELS.items() for ru, en in mapping.items()]
    rows += [{"Column": "Period", "Export value": ru, "English": en} for ru, en in PERIOD_DISPLAY.items()]
    return pd.DataFrame(rows)


def typos_original_table() -> pd.DataFrame:
    rows = [{"File": file, "Export column": col, "Typo": typo, "Corrected to": fix}
            for (file, col), mapping in KNOWN_TYPOS.items() for typo, fix in mapping.items()]
    return pd.DataFrame(rows)


#: Packages of the rendering (figures, tables, the documents); the analysis's own are in the run's manifest.
RENDER_PACKAGES = ("matplotlib", "tabulate", "nbclient", "ipykernel", "pypandoc-binary", "typst")


def versions_table(res: Results) -> pd.DataFrame:
    """The versions the numbers come from (the run's manifest: the environment that ran the analysis) and the
    versions that drew and typeset them (this rendering environment)."""
    from analysis.results.store import read_manifest

    packages = read_manifest(res.directory)["packages"]
    rows = [(name if name != "python" else "Python", packages[name] or "not installed", "the analysis (run manifest)")
            for name in sorted(packages, key=lambda n: (n != "python", n))]
    rows.append(("Python", platform.python_version(), "the rendering"))
    for name in RENDER_PACKAGES:
        try:
            rows.append((name, metadata.version(name), "the rendering"))
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed", "the rendering"))
    return pd.DataFrame(rows, columns=["Package", "Version", "Used by"])


def run_times_table(res: Results) -> pd.DataFrame:
    t = res["run_times"]
    return pd.DataFrame({"Stage": t["stage"].map(segment_label), "Seconds": t["seconds"].map(lambda x: fmt_num(x, 1))})


def excluded_variables_table(res: Results) -> pd.DataFrame:
    e = res["excluded_variables"]
    return pd.DataFrame({"Variable": ["; ".join(variable_label(v.strip()) for v in str(x).split(","))
                                      for x in e["variable"]],
                         "Reason": e["reason"].str.capitalize()})


def _pp_est_ci(est, low, high, digits: int = 1) -> str:
    return fmt_est_ci(100 * est, 100 * low, 100 * high, digits)


def actions_table(res: Results) -> pd.DataFrame:
    """The executive summary's store actions: among the high-risk customers each can reach, the change in
    P(decline) with its bootstrap interval and its range across the candidate models, customers kept, monthly
    profit retained (upper bound), the break-even cost per contact, and the decision."""
    rows = []
    for a in action_rows(res):
        rows.append({
            "Store action": ACTION_SHORT.get(a["action"], a["label"]), "Reached": fmt_int(a["n_treated"]),
            f"Δ P(decline), pp ({CI}, bootstrap)": _pp_est_ci(a["effect"], a["conf_low"], a["conf_high"]),
            "Range over models, pp": a["range_text"].replace(" pp", ""),
            f"Customers kept ({CI})": a["kept_text"],
            f"Break-even per contact ({CI})": a["per_contact_text"],
            "Decision": ("roll out" if a["recommended"] else "offer as a test" if a["offered"] else "none"),
        })
    return pd.DataFrame(rows)


def action_tests_table(res: Results) -> pd.DataFrame:
    """One test per store action: the business model's AME with the bootstrap SD beside the delta-method SE,
    Holm over the actions, robustness over the tied candidates."""
    t = res["action_tests"]
    yes = lambda x: "yes" if str(x).lower() == "true" else "no"  # noqa: E731
    return pd.DataFrame({
        "Store action": t["action"].map(lever_label),
        "AME, pp per unit": (100 * t["estimate"]).map(lambda x: fmt_num(x, 2)),
        f"{CI} (bootstrap)": [fmt_ci(100 * lo, 100 * hi, 2) for lo, hi in zip(t["conf_low"], t["conf_high"])],
        "SE bootstrap": (100 * t["std_error"]).map(lambda x: fmt_num(x, 2)),
        "SE delta": (100 * t["std_error_delta"]).map(lambda x: fmt_num(x, 2)),
        "z": t["statistic"].map(lambda x: fmt_num(x, 2)),
        "p (Holm)": t["p_value_holm"].map(fmt_p_model),
        "Robust": t["robust"].map(yes), "Offered": t["offered"].map(yes), "Recommended": t["recommended"].map(yes),
    })


def effects_by_model_table(res: Results, quantity: str = "ame") -> pd.DataFrame:
    """Each action's effect under every model: AME per unit of the action's column (``ame``) or the scenario among
    the high-risk customers with room (``scenario``), in pp with the interval's kind."""
    e = res["effects_by_model"]
    e = e[e["quantity"] == quantity]
    return pd.DataFrame({
        "Action": e["action"].map(lambda a: ACTION_SHORT.get(a, lever_label(a))),
        "Model": e["model"].map(lambda m: model_label(m, short=True)),
        "Tied": e["tied"].map(lambda x: "yes" if str(x).lower() == "true" else ""),
        "Estimate, pp": (100 * e["estimate"]).map(lambda x: fmt_num(x, 2)),
        CI: [fmt_ci(100 * lo, 100 * hi, 2) for lo, hi in zip(e["conf_low"], e["conf_high"])],
        "Interval": e["interval"].map({"delta": "delta method", "bootstrap": "bootstrap"}),
    })


def _scenario_rows(s: pd.DataFrame, assumption: bool = False) -> pd.DataFrame:
    out = pd.DataFrame({
        "Group": s["group"].map(segment_label),
        "Action": s["action"].map(lambda a: ACTION_SHORT.get(a, lever_label(a))),
        "Reached": [f"{fmt_int(r)} of {fmt_int(n)}" for r, n in zip(s["n_with_room"], s["n_customers"])],
        "No support": s["n_without_support"].map(fmt_int),
        f"Δ P(decline), pp ({CI})": [_pp_est_ci(e, lo, hi) for e, lo, hi in zip(s["effect"], s["conf_low"],
                                                                                s["conf_high"])],
        "SE boot./delta": [fmt_num(a / b, 2) if b and np.isfinite(b) and b > 0 else "—"
                           for a, b in zip(s["std_error"], s["std_error_delta"])],
        "Customers kept": [fmt_est_ci(e, lo, hi, 1) for e, lo, hi in
                           zip(s["customers_kept"], s["customers_kept_low"], s["customers_kept_high"])],
        "Profit retained / month (upper bound)": [fmt_est_ci(e, lo, hi, 1) for e, lo, hi in
                                                  zip(s["profit_retained_upper"], s["profit_retained_upper_low"],
                                                      s["profit_retained_upper_high"])],
    })
    if assumption:
        out.insert(2, "Assumption", s["assumption"].fillna(""))
    return out


def scenarios_table(res: Results) -> pd.DataFrame:
    """Store actions per group: change in P(decline) among the customers reached (bootstrap interval), how many
    lack support, customers kept and upper-bound profit retained per month."""
    return _scenario_rows(res["scenarios"])


def assumption_scenarios_table(res: Results) -> pd.DataFrame:
    """Store actions that can at most influence a behaviour: their scenarios, the assumption beside every row."""
    s = res["assumption_scenarios"]
    s = s[s["group"] == ALL_HIGH_RISK]
    return _scenario_rows(s, assumption=True).drop(columns=["Group"])
def specification_table(res: Results) -> pd.DataFrame:
    """The selected steps of the forward search (score tests) and, last, the best candidate that failed."""
    steps = res["specification_steps"]
    selected = steps["selected"].astype(str).str.lower() == "true"
    rows = steps[selected].copy()
    last = steps[steps["step"] == steps["step"].max()]
    if not (last["selected"].astype(str).str.lower() == "true").any():
        rows = pd.concat([rows, last.sort_values(["p_value", "score_chi2"], ascending=[True, False]).head(1)])
    return relabel(pd.DataFrame({
        "step": rows["step"].map(fmt_int), "candidate": rows["candidate"].map(term_label),
        "kind": rows["kind"].map(lambda k: STEP_KIND_LABELS.get(k, k)),
        "score_chi2": rows["score_chi2"].map(lambda x: fmt_num(x, 1)), "df": rows["df"].map(fmt_int),
        "p_value": rows["p_value"].map(fmt_big), "threshold": rows["threshold"].map(fmt_big),
        "selected": np.where(rows["selected"].astype(str).str.lower() == "true", "yes", "no: stop"),
    }))


def selection_stability_table(res: Results) -> pd.DataFrame:
    s = res["selection_stability"].sort_values("share_of_folds", ascending=False, kind="stable")
    n = int(res["model_benchmark"]["n_folds"].iloc[0])
    return pd.DataFrame({"Candidate term": s["term"].map(term_label),
                         "Folds selecting it": [f"{fmt_int(k)} of {fmt_int(n)}" for k in s["n_folds"]],
                         "Share of folds": s["share_of_folds"].map(lambda x: fmt_pct(x, 0))})


def selection_sets_table(res: Results, max_rows: int = 8) -> pd.DataFrame:
    s = res["selection_sets"].sort_values("n_folds", ascending=False, kind="stable").head(max_rows)
    return pd.DataFrame({"Terms added to the linear logit": [
                             "; ".join(term_label(t.strip()) for t in str(x).split(" + ")) if str(x) not in ("", "nan")
                             else "none (all linear)" for x in s["specification"]],
                         "Folds": s["n_folds"].map(fmt_int),
                         "Share of folds": s["share_of_folds"].map(lambda x: fmt_pct(x, 0))})


def centring_table(res: Results) -> pd.DataFrame:
    c = res["centring_values"]
    used = set()
    for term in res["logit_coefficients"]["term"]:
        used.update(re.findall(r"I\((\w+) -", str(term)))
    c = c[c["variable"].isin(used)] if used else c.head(0)
    units = units_of(res)
    return pd.DataFrame({"Variable": c["variable"].map(variable_label), "Centred at": c["centre"].map(lambda x: fmt_num(x, 1)),
                         "Unit": [short_unit(units.get(v, "")) for v in c["variable"]],
                         "Rule": c["rule"].map(capitalise)})


def _odds_ratio(term: str, value: float) -> str:
    """An odds ratio where it means something: not for the intercept (the odds of the reference customer with
    every numeric variable at zero) nor for a spline basis coefficient (a basis function has no unit step)."""
    if term == "Intercept" or is_spline(term):
        return ""
    return fmt_num(value, 2) if abs(value) < 1000 else fmt_big(value)


def tidy_coefficients(c: pd.DataFrame, units: dict | None = None) -> pd.DataFrame:
    """A tidy coefficient frame (``term, estimate, std_error, z or statistic, p_value, conf_low, conf_high`` and
    optionally odds ratios) as a display table: log-odds with SE, z, p and CI on the coefficient scale, then the odds
    ratio with its CI where it means something."""
    z = c["z"] if "z" in c.columns else c["statistic"]
    out = {"Term": c["term"].map(term_label)}
    if units is not None:
        out["Unit (one step)"] = [term_unit(t, units) for t in c["term"]]
    out.update({
        "Log-odds": c["estimate"].map(lambda x: fmt_num(x, 3)),
        "SE": c["std_error"].map(lambda x: fmt_num(x, 3)),
        "z": z.map(lambda x: fmt_num(x, 2)),
        "p": c["p_value"].map(fmt_p),
        CI: [fmt_ci(lo, hi, 3) for lo, hi in zip(c["conf_low"], c["conf_high"])],
    })
    ors = np.exp(c["estimate"].to_numpy(dtype=float))
    lo, hi = np.exp(c["conf_low"].to_numpy(dtype=float)), np.exp(c["conf_high"].to_numpy(dtype=float))
    out["OR"] = [_odds_ratio(t, v) for t, v in zip(c["term"], ors)]
    out[f"OR {CI}"] = ["" if _odds_ratio(t, v) == "" else fmt_ci(a, b, 2)
                       for t, v, a, b in zip(c["term"], ors, lo, hi)]
    return pd.DataFrame(out)


def coefficient_table(res: Results, robust: bool = False) -> pd.DataFrame:
    """The selected logit's coefficients: log-odds with SE, z, p and CI, odds ratios with their CI (none for the
    intercept), units stated."""
    c = res["logit_coefficients_hc3" if robust else "logit_coefficients"]
    return tidy_coefficients(c, units_of(res))


def gam_coefficient_table(res: Results) -> pd.DataFrame:
    """The logistic GAM's coefficients (the linear part and the spline basis coefficients; Bayesian covariance
    conditional on the chosen weight)."""
    return tidy_coefficients(res["gam_coefficients"], units_of(res))


def gam_smooth_display(res: Results) -> pd.DataFrame:
    g = res["gam_smooths"]
    return pd.DataFrame({
        "Smooth": g["smooth"].map(variable_label), "Basis": g["basis"], "Knots": g["knots"],
        "Penalty scale": g["penalty_scale"].map(fmt_big), "α": g["alpha"].map(lambda x: fmt_num(x, 2)),
        "edf": g["edf"].map(lambda x: fmt_num(x, 2)),
    })


def recalibration_display(res: Results) -> pd.DataFrame:
    r = res["recalibration_map"]
    return pd.DataFrame({"Parameter": r["parameter"], "Value": r["value"].map(lambda x: fmt_num(x, 4)),
                         "Meaning": r["meaning"]})


def conditional_effects_table(res: Results) -> pd.DataFrame:
    c = res["conditional_effects"]
    return pd.DataFrame({
        "Variable": c["variable"].map(variable_label),
        "Partner at its quartile": [f"{variable_label(p)} = {fmt_num(v, 1)} (q{fmt_int(100 * q)})"
                                    for p, v, q in zip(c["partner"], c["partner_value"], c["partner_quantile"])],
        f"Odds ratio ({CI})": [fmt_est_ci(e, lo, hi, 2) for e, lo, hi in zip(c["odds_ratio"], c["or_conf_low"], c["or_conf_high"])],
        f"AME, pp ({CI})": [fmt_est_ci(100 * e, 100 * lo, 100 * hi, 2)
                            for e, lo, hi in zip(c["ame"], c["ame_conf_low"], c["ame_conf_high"])],
    })


def floor_table(res: Results) -> pd.DataFrame:
    """The floor logit: log-odds coefficients with SE, z, p, CI and odds ratios; γ on the probability scale (no
    odds ratio)."""
    f = res["floor_logit_coefficients"]
    table = tidy_coefficients(f)
    gamma = (f["term"] == "floor_gamma").to_numpy()
    table.loc[gamma, ["OR", f"OR {CI}"]] = ""
    return table


def ame_table(res: Results) -> pd.DataFrame:
    """The business model's AMEs (lead) with the plain logit's beside them (sensitivity), percentage points."""
    m = res["marginal_effects"]
    units = units_of(res)
    lead = m[m["role"] == "lead"].reset_index(drop=True)
    sens = m[m["role"] == "sensitivity"].set_index(["variable", "contrast"])
    rows = []
    for r in lead.itertuples():
        key = (r.variable, r.contrast)
        other = sens.loc[key] if key in sens.index else None
        rows.append({
            "term": contrast_label(r.variable, r.contrast), "unit": ame_unit(r.variable, r.contrast, units),
            "ame": fmt_num(100 * r.estimate, 2), "ame_conf_int": fmt_ci(r.conf_low, r.conf_high, 2, 100),
            "p_value": fmt_p(r.p_value),
            "Plain logit (pp)": fmt_est_ci(100 * other["estimate"], 100 * other["conf_low"], 100 * other["conf_high"], 2)
            if other is not None else "—",
        })
    return relabel(pd.DataFrame(rows))


def fit_table(res: Results) -> pd.DataFrame:
    f = res["model_fit"].set_index("model")
    out = {"statistic": [name for _, name, _ in FIT_ROWS]}
    for model in f.index:
        out[model_label(model, short=True)] = [fn(f.loc[model, col]) for col, _, fn in FIT_ROWS]
    return relabel(pd.DataFrame(out))


def candidates_table(res: Results) -> pd.DataFrame:
    """The interpretable candidates on the same outer folds, with calibration against the target."""
    c = res["model_candidates"]
    return pd.DataFrame({
        # short names (ten columns on a page); the benchmark table gives the long ones
        "Model": c["model"].map(lambda m: model_label(m, short=True)),
        "Mean CV AUC": c["auc_mean"].map(lambda x: fmt_num(x, 3)),
        "Log loss": c["log_loss"].map(lambda x: fmt_num(x, 3)), "Brier": c["brier"].map(lambda x: fmt_num(x, 3)),
        "HL p (G df)": c["hl_p_value"].map(fmt_big),
        "Calibration slope": c["calibration_slope"].map(fmt_num),
        "Calibration intercept": c["calibration_intercept"].map(fmt_num),
        "Fits not converged": [("—" if pd.isna(k) else f"{int(k)} of {int(n)}")
                               for k, n in zip(c["folds_not_converged"], c["n_folds"])],
        "Meets target": c["meets_target"].map(lambda x: "yes" if str(x).lower() == "true" else "no"),
        "Role": c["role"].fillna("").map(lambda r: ROLE_LABELS.get(r, r) if r else "—"),
    })


def calibration_table(res: Results) -> pd.DataFrame:
    t = res["calibration_tests"]
    return pd.DataFrame({"Model": t["model"].map(model_label), "Brier": t["brier"].map(lambda x: fmt_num(x, 4)),
                         "Brier, base rate": t["brier_reference"].map(lambda x: fmt_num(x, 4)),
                         "HL χ²": t["hl_statistic"].map(lambda x: fmt_num(x, 1)), "HL df": t["hl_df"].map(fmt_int),
                         "HL p": t["hl_p_value"].map(fmt_big)})


def influence_table(res: Results) -> pd.DataFrame:
    inf = res["influence"]
    oof = res["oof_predictions"].set_index("id")
    column = headline(res)["business_model"]
    ids = inf["id"]
    return relabel(pd.DataFrame({
        "id": ids.astype(str),
        "y_true": ids.map(lambda i: "yes" if int(oof.loc[i, "y_true"]) == 1 else "no"),
        "p_oof": ids.map(lambda i: fmt_num(oof.loc[i, column], 2)),
        "leverage": inf["leverage"].map(lambda x: fmt_num(x, 3)),
        "cooks_distance": inf["cooks_distance"].map(lambda x: fmt_num(x, 4)),
        "pearson_residual": inf["pearson_residual"].map(lambda x: fmt_num(x, 2)),
        "deviance_residual": inf["deviance_residual"].map(lambda x: fmt_num(x, 2)),
    }))


def benchmark_table(res: Results) -> pd.DataFrame:
    b = res["model_benchmark"]
    return relabel(pd.DataFrame({
        "model": b["model"].map(model_label),
        "auc_mean": b["auc_mean"].map(lambda x: fmt_num(x, 3)),
        "auc_conf_int": [fmt_ci(lo, hi, 3) for lo, hi in zip(b["auc_conf_low"], b["auc_conf_high"])],
        "Log loss": b["log_loss"].map(lambda x: fmt_num(x, 3)), "Brier": b["brier"].map(lambda x: fmt_num(x, 3)),
        "test_auc": b["test_auc"].map(lambda x: fmt_num(x, 3)),
    }))


def accuracy_gap_table(res: Results) -> pd.DataFrame:
    g = res["accuracy_gap"]
    return pd.DataFrame({
        "Model": g["model"].map(model_label), "Reference": g["reference"].map(lambda m: model_label(m, short=True)),
        "ΔAUC": g["auc_diff"].map(lambda x: fmt_num(x, 3)),
        f"{CI} (corrected)": [fmt_ci(lo, hi, 3) for lo, hi in zip(g["conf_low"], g["conf_high"])],
        "p (difference)": g["p_value"].map(fmt_p), "Margin": g["margin"].map(lambda x: f"±{fmt_num(x, 3)}"),
        "p (TOST)": g["tost_p_value"].map(fmt_p),
        "Equivalent": g["equivalent"].map(lambda x: "yes" if str(x).lower() == "true" else "not shown"),
    })


def comparison_table(res: Results) -> pd.DataFrame:
    c = res["model_comparison"]
    return relabel(pd.DataFrame({
        "model_a": c["model_a"].map(lambda m: model_label(m, short=True)),
        "model_b": c["model_b"].map(lambda m: model_label(m, short=True)),
        "auc_diff": c["auc_diff"].map(lambda x: fmt_num(x, 3)), "t_stat": c["statistic"].map(lambda x: fmt_num(x, 2)),
        "p_value": c["p_value"].map(fmt_p), "p_holm": c["p_value_holm"].map(fmt_p),
    }))


def vif_fitted_display(res: Results) -> pd.DataFrame:
    v = res["vif_fitted"]
    return pd.DataFrame({"Design column": v["term"].map(term_label), "VIF": v["vif"].map(fmt_num),
                         f"VIF > {vif_threshold(res):g}": np.where(v["vif"] > vif_threshold(res), "yes", "no")})


def segments_table(res: Results) -> pd.DataFrame:
    s = res["segments"]
    return pd.DataFrame({
        "Segment": s["segment"].map(segment_label), "Kind": s["kind"],
        "Customers": s["n_customers"].map(fmt_int), "Share": s["share"].map(fmt_pct),
        "Mean P(decline)": s["mean_p_decline"].map(fmt_num), "Observed decline rate": s["observed_decline_rate"].map(fmt_num),
        "Mean profit": s["mean_profit"].map(fmt_num),
        "Profit at risk (upper bound)": s["profit_at_risk_upper"].map(lambda x: fmt_num(x, 0)),
    })


def sensitivity_table(res: Results) -> pd.DataFrame:
    """High-risk customers and the size and profit at risk of the top grid segment as the boundaries move."""
    s = res["segment_sensitivity"]
    top = headline(res)["top_segment"]
    rows = []
    for risk, group in s.groupby("risk_threshold", sort=True):
        first = group[group["profit_quantile"] == group["profit_quantile"].iloc[0]]
        n_high = first[first["segment"].str.startswith("high_risk")]["n_customers"].sum()
        row = {"Risk threshold": fmt_num(risk), "High-risk customers": fmt_int(n_high)}
        for q, sub in group.groupby("profit_quantile", sort=True):
            r = sub[sub["segment"] == top].iloc[0]
            row[f"Profit quantile {fmt_num(q, 1)}"] = f"{fmt_int(r['n_customers'])} ({fmt_int(r['profit_at_risk_upper'])})"
        rows.append(row)
    return pd.DataFrame(rows)


#: Variables shown per group in the profiles table (the largest effects).
PROFILE_TOP = 6


def profiles_table(res: Results, segments: tuple[str, ...] | None = None, top: int = PROFILE_TOP) -> pd.DataFrame:
    """What distinguishes the top segment and the promotion-dependent group from the other customers: the
    ``top`` largest effect sizes of each with their intervals (Cliff's δ with the Hanley–McNeil interval for a
    numeric variable, the difference of shares with Newcombe's interval for a category level). Variables that
    define a group are described, not tested (a group chosen for its risk differs in the risk's predictors by
    construction); a tested variable shows its Holm p-value."""
    p = res["segment_profiles"]
    columns = ["Segment", "Variable", "Segment value", "Other customers", f"Effect ({CI})", "Test"]
    if p.empty:
        return pd.DataFrame(columns=columns)
    segments = segments or (headline(res)["top_segment"], PROMO_GROUP)
    # one row per binary variable (its two levels say the same thing)
    p = p[~((p["variable"] == "contact_allowed") & (p["level"].astype(str).isin(["0", "0.0"])))]
    size = np.where(p["kind"] == "numeric", p["effect_size"].abs(), 2 * p["effect_size"].abs())
    p = p.assign(_size=size)
    parts = [p[p["segment"] == seg].sort_values("_size", ascending=False, kind="stable").head(top)
             for seg in segments]
    sel = pd.concat(parts) if parts else p.head(0)
    names = [variable_label(v) if k == "numeric" else f"{variable_label(v)}: {level_label(v, lvl)}"
             for v, k, lvl in zip(sel["variable"], sel["kind"], sel["level"])]
    effect = [f"δ\u00a0=\u00a0{fmt_num(e)} ({fmt_ci(lo, hi)})" if k == "numeric" else
              f"Δ\u00a0=\u00a0{fmt_num(100 * e, 0)}\u00a0pp ({fmt_ci(100 * lo, 100 * hi, 0)})"
              for k, e, lo, hi in zip(sel["kind"], sel["effect_size"], sel["conf_low"], sel["conf_high"])]
    return pd.DataFrame({
        "Segment": sel["segment"].map(segment_label), "Variable": names,
        "Segment value": [_profile_value(v, k, x) for v, k, x in zip(sel["variable"], sel["kind"], sel["group_value"])],
        "Other customers": [_profile_value(v, k, x) for v, k, x in zip(sel["variable"], sel["kind"], sel["rest_value"])],
        f"Effect ({CI})": effect,
        "Test": [f"p (Holm) {fmt_p(x)}" if r == "tested" else "described" for r, x in zip(sel["role"], sel["p_adjusted"])],
    }, columns=columns)


@markdown_result
def described_variables(res: Results) -> str:
    p = res["segment_profiles"]
    d = p[p["role"] == "described"]
    return "; ".join(dict.fromkeys(variable_label(v).lower() for v in d["variable"])) or "none"


def engagement_table(res: Results) -> pd.DataFrame:
    """Engagement outcomes as associations: no customers kept, no recommendation."""
    e = res["engagement_associations"]
    return pd.DataFrame({
        "Group": e["group"].map(segment_label),
        "Customers who view": e["outcome"].map(lambda o: ENGAGEMENT_LABELS.get(o, o)),
        "Predicted decline rate": e["decline_rate_baseline"].map(fmt_pct),
        "With more engagement (model)": e["decline_rate_scenario"].map(fmt_pct),
        f"Difference, pp ({CI})": [fmt_est_ci(100 * x, 100 * lo, 100 * hi, 1)
                                  for x, lo, hi in zip(e["effect"], e["conf_low"], e["conf_high"])],
    })


def recommendations_table(res: Results) -> pd.DataFrame:
    r = res["recommendations"]
    return pd.DataFrame({
        "Group": r["group"].map(segment_label), "Rank": r["rank"].map(fmt_int), "Action": r["action"].map(lever_label),
        "Reached": r["n_with_room"].map(fmt_int),
        f"Customers kept ({CI})": [fmt_est_ci(e, lo, hi, 1) for e, lo, hi in
                                   zip(r["customers_kept"], r["customers_kept_low"], r["customers_kept_high"])],
        f"Profit retained / month, upper bound ({CI})": [
            fmt_est_ci(e, lo, hi, 1) for e, lo, hi in zip(r["profit_retained_upper"], r["profit_retained_upper_low"],
                                                          r["profit_retained_upper_high"])],
        "Share reached": r["share_with_room"].map(lambda x: fmt_pct(x, 0)),
    })


def action_value_table(res: Results) -> pd.DataFrame:
    """What each store action is worth among the high-risk customers it reaches: the break-even cost."""
    v = res["action_value"]
    return pd.DataFrame({
        "Store action": v["action"].map(lever_label), "Treated": v["n_treated"].map(fmt_int),
        "Contacts each": v["contacts_per_customer"].map(lambda x: fmt_num(x, 0)),
        f"Profit retained / month ({CI})": [fmt_est_ci(e, lo, hi, 1) for e, lo, hi in zip(
            v["profit_retained_month"], v["profit_retained_month_low"], v["profit_retained_month_high"])],
        f"Break-even per treated customer ({CI})": [fmt_est_ci(e, lo, hi, 2) for e, lo, hi in zip(
            v["break_even_per_customer"], v["break_even_per_customer_low"], v["break_even_per_customer_high"])],
        f"Break-even per contact ({CI})": [fmt_est_ci(e, lo, hi, 3) for e, lo, hi in zip(
            v["break_even_per_contact"], v["break_even_per_contact_low"], v["break_even_per_contact_high"])],
    })


def offer_plan_table(res: Results) -> pd.DataFrame:
    """The offer plan beside what is at risk among the high-risk customers."""
    o = res["offer_plan"]
    return pd.DataFrame({
        "Offer": o["offer"].map(lambda x: "All high-risk customers" if x == "total" else lever_label(x)),
        "Customers": o["n_customers"].map(fmt_int),
        "Expected declines": o["expected_declines"].map(lambda x: fmt_num(x, 1)),
        "Profit at risk / month (upper bound)": o["profit_at_risk_upper"].map(lambda x: fmt_num(x, 1)),
        f"Customers kept ({CI})": [fmt_est_ci(e, lo, hi, 1) for e, lo, hi in zip(
            o["customers_kept"], o["customers_kept_low"], o["customers_kept_high"])],
        f"Profit retained / month ({CI})": [fmt_est_ci(e, lo, hi, 1) for e, lo, hi in zip(
            o["profit_retained_upper"], o["profit_retained_upper_low"], o["profit_retained_upper_high"])],
        "Share of profit at risk": o["share_of_profit_at_risk_retained"].map(lambda x: fmt_pct(x, 1)),
    })


def offers_table(res: Results) -> pd.DataFrame:
    o = res["offers"]
    counts = pd.crosstab(o["offer"], o["segment"])
    columns = [s for s in GRID_SEGMENTS if s in counts.columns]
    counts = counts[columns]
    counts["total"] = counts.sum(axis=1)
    counts = counts.sort_values("total", ascending=False)
    out = pd.DataFrame({"Offer": counts.index.map(lever_label)})
    for column in columns + ["total"]:
        out[segment_label(column) if column != "total" else "Total"] = counts[column].map(fmt_int).to_numpy()
    return out


def data_files_table(res: Results) -> pd.DataFrame:
    f = res["data_files"]
    return pd.DataFrame({"File": f["file"], "Bytes": f["bytes"].map(fmt_int),
                         "SHA-256": f["sha256"].map(lambda h: f"`{h}`")})


def experiment_plan_table(res: Results) -> pd.DataFrame:
    """The A/B test plan among all high-risk customers: predicted effect, customers reachable and needed per arm,
    detectable effect (store actions and actions whose effect rests on an assumption)."""
    p = res["experiment_plan"]
    p = p[p["group"] == ALL_HIGH_RISK]
    return pd.DataFrame({
        "Kind": p["kind"].map({"action": "store action", "assumption": "assumed"}),
        "Action": p["action"].map(lambda a: ACTION_SHORT.get(a, lever_label(a))),
        f"Predicted Δ, pp ({CI})": [fmt_est_ci(100 * e, 100 * lo, 100 * hi, 1) for e, lo, hi in
                                    zip(p["predicted_effect"], p["predicted_conf_low"], p["predicted_conf_high"])],
        "Baseline": p["baseline_rate"].map(fmt_pct),
        "Per arm available": p["n_per_arm_available"].map(fmt_int),
        "Per arm needed (80 %)": p["n_per_arm_80"].map(fmt_int),
        "Per arm needed (90 %)": p["n_per_arm_90"].map(fmt_int),
        "Detectable Δ at 80 %, pp": (100 * p["mde_80"]).map(lambda x: fmt_num(x, 1)),
        "Feasible": p["feasible"].map(lambda f: "yes" if str(f).lower() == "true" else "no"),
    })
