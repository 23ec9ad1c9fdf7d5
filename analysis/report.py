"""Everything ``report.qmd`` shows: the results tables, display labels, formatted tables, headline numbers
and figures.

``report.qmd`` holds prose only; every number it states is an inline expression over :func:`headline` /
:func:`summary_strings` or comes from a table built here, so the report renders unchanged on any run of
``python -m analysis run`` (the real exports or a synthetic one).

Where the results come from: :func:`load_results` reads ``$ONECLICK_RESULTS_DIR`` when set, else ``results/``
next to ``report.qmd`` (the repository root).

Conventions
    * one map of column display names, :data:`LABELS`; one map of variable names, :data:`VARIABLE_LABELS`;
      :func:`term_label` turns patsy term names into English.
    * table functions return *display* frames (strings already formatted); :func:`md` shows one as Markdown.
    * figure functions return :class:`matplotlib.figure.Figure` objects drawn on the Agg canvas (no pyplot
      state); :func:`show` displays one as a PNG at its natural size (6.5 in = the text width).
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import platform
import re
import textwrap
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from statsmodels.stats.multitest import multipletests

from analysis.benchmark import MODEL_LABELS
from analysis.dictionary import (
    CATEGORY_DISPLAY,
    CATEGORY_LABELS,
    DICTIONARY,
    EXPORT_FILES,
    FEATURE_GROUPS,
    FIELDS,
    KNOWN_TYPOS,
    TARGET,
    dictionary_frame,
)
from analysis.features import SCALED
from analysis.model import VIF_THRESHOLD
from analysis.paths import RESULTS_DIR
from analysis.results_store import verify as verify_results
from analysis.segments import ALPHA, GRID_SEGMENTS, LEVER_BY_NAME

# --------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------

RESULTS_ENV_VAR = "ONECLICK_RESULTS_DIR"

#: Every table ``python -m analysis run`` writes and the report reads.
RESULT_TABLES = (
    "row_accounting", "excluded_customers", "typo_corrections", "data_files", "customer_table", "model_units",
    "excluded_variables", "phik_matrix", "phik_target", "vif", "gvif", "specification_steps",
    "logit_coefficients", "logit_coefficients_hc3", "model_fit", "marginal_effects", "lr_test_vs_linear",
    "separation", "influence", "model_benchmark", "model_comparison", "cv_scores", "oof_predictions",
    "calibration_curve", "calibration_tests", "segments", "segment_profiles", "scenarios", "recommendations",
    "offers", "segment_sensitivity", "segment_thresholds", "allowed_levers", "run_times", "run_info",
)

#: Confidence level of every interval in the results (the pipeline's default everywhere).
CONF_LEVEL = 0.95
#: The group whose scenarios the executive summary quotes, and the focus group added when it has its own lever.
ALL_HIGH_RISK = "all high risk"
PROMO_GROUP = "high risk, promotion-dependent"
#: Actions in the executive summary: the best levers for all high-risk customers, plus one for the focus group.
N_SUMMARY_ACTIONS = 3
#: Profile rows shown: numeric differences with |Cliff's delta| at least "medium" (Romano et al.) and category
#: shares differing by at least this many proportion points, both significant after Holm's correction.
PROFILE_MIN_DELTA = 0.33
PROFILE_MIN_SHARE_DIFF = 0.05


class Results(dict):
    """``name -> DataFrame`` for every table of :data:`RESULT_TABLES`, plus the directory they came from."""

    directory: Path

    def __init__(self, tables: dict[str, pd.DataFrame], directory: Path):
        super().__init__(tables)
        self.directory = directory


def resolve_results_dir(results_dir: str | os.PathLike | None = None) -> Path:
    """The results directory: the argument, else ``$ONECLICK_RESULTS_DIR``, else ``results/`` of the repository."""
    if results_dir:
        return Path(results_dir).expanduser().resolve()
    env = os.environ.get(RESULTS_ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    return RESULTS_DIR


def _read(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:  # e.g. no LR test when the chosen specification is the linear one
        return pd.DataFrame()


def load_results(results_dir: str | os.PathLike | None = None) -> Results:
    """Read every result table; raises ``FileNotFoundError`` naming all missing tables."""
    directory = resolve_results_dir(results_dir)
    missing = [name for name in RESULT_TABLES if not (directory / f"{name}.csv").is_file()]
    if missing:
        raise FileNotFoundError(f"{directory}: missing result tables {', '.join(missing)} "
                                "(run `python -m analysis run` first)")
    verify_results(directory)  # refuse a tampered, mixed or unfinished results directory, in one line
    return Results({name: _read(directory / f"{name}.csv") for name in RESULT_TABLES}, directory)


# --------------------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------------------

CI = f"{CONF_LEVEL:.0%} CI"

#: Display names of table columns (one map for the whole report).
LABELS = {
    "term": "Term", "variable": "Variable", "unit": "Unit (one step)", "estimate": "Log-odds",
    "std_error": "Std. error", "std_error_hc3": "Std. error (HC3)", "z": "z", "p_value": "p",
    "p_value_hc3": "p (HC3)", "p_adjusted": "p (Holm)", "p_holm": "p (Holm)", "conf_int": CI,
    "odds_ratio": "Odds ratio", "or_conf_int": f"Odds ratio {CI}", "ame": "AME (pp)", "ame_conf_int": f"{CI} (pp)",
    "vif": "VIF", "flagged": f"VIF > {VIF_THRESHOLD:g}", "n_columns": "Design columns", "gvif": "GVIF",
    "gvif_adjusted": "GVIF^(1/(2 df))", "phik": "phik", "significance_z": "Significance (z)",
    "step": "Step", "candidate": "Candidate term", "kind": "Kind", "lr_chi2": "LR χ²", "df": "df",
    "threshold": "Bonferroni threshold", "aic": "AIC", "selected": "Added",
    "file": "File", "content": "Content", "rows": "Rows", "bytes": "Bytes", "sha256": "SHA-256",
    "rows_in": "Rows in", "rows_out": "Rows out", "removed": "Removed", "reason": "Reason", "id": "Customer id",
    "detail": "Detail", "column": "Column", "typo": "Typo", "correction": "Corrected to",
    "group": "Group", "description": "Description", "variables": "Variables",
    "model": "Model", "model_a": "Model A", "model_b": "Model B", "auc_mean": "Mean CV AUC", "auc_sd": "SD",
    "auc_conf_int": f"{CI} (corrected)", "test_auc": "Hold-out AUC", "n_folds": "Folds", "auc_diff": "ΔAUC (A − B)",
    "t_stat": "Corrected t", "leverage": "Leverage", "cooks_distance": "Cook's distance",
    "pearson_residual": "Pearson residual", "deviance_residual": "Deviance residual", "y_true": "Declined",
    "p_oof": "P(decline), out-of-fold",
    "segment": "Segment", "n_customers": "Customers", "share": "Share", "mean_p_decline": "Mean P(decline)",
    "mean_profit": "Mean profit", "profit_at_risk": "Profit at risk", "value": "Value", "rule": "Rule",
    "group_value": "Segment", "rest_value": "Other customers", "effect_size": "Effect", "effect_measure": "Measure",
    "lever": "Lever", "n_with_room": "With room", "customers_kept": f"Customers kept ({CI})",
    "profit_retained": f"Profit retained ({CI})", "rank": "Rank", "share_with_room": "Share with room",
    "offer": "Offer", "total": "Total", "stage": "Stage", "seconds": "Seconds", "package": "Package",
    "version": "Version", "statistic": "Statistic", "name": "Column", "source_name": "Export column",
    "source_file": "Export file", "meaning": "Meaning", "risk_threshold": "Risk threshold",
    "n_high_risk": "High-risk customers", "action": "Action", "who": "Customers targeted",
    "export_value": "Export value", "table_value": "Table value", "english": "English",
}

#: Short English names of the customer-table and model columns.
VARIABLE_LABELS = {
    "id": "Customer id",
    TARGET: "Activity declined",
    "service_type": "Service type",
    "contact_allowed": "Consent to offers",
    "marketing_6m": "Marketing, 6-month average",
    "marketing_current": "Marketing, current month",
    "tenure_days": "Tenure",
    "tenure_100d": "Tenure",
    "promo_share": "Promotional share",
    "promo_share_10pp": "Promotional share",
    "popular_category": "Popular category",
    "categories_per_visit": "Categories per visit",
    "unpaid_items": "Unpaid cart items",
    "service_errors": "Service errors",
    "pages_per_visit": "Pages per visit",
    "revenue_prev2": "Revenue, two months before",
    "revenue_prev": "Revenue, previous month",
    "revenue_current": "Revenue, current month",
    "revenue_prev2_k": "Revenue, two months before",
    "revenue_prev_k": "Revenue, previous month",
    "revenue_current_k": "Revenue, current month",
    "minutes_prev": "Minutes on site, previous month",
    "minutes_current": "Minutes on site, current month",
    "profit": "Profit",
}

#: Very short names for the axes of the phik heat-map.
SHORT_LABELS = {
    "service_type": "Service type", "contact_allowed": "Consent", "marketing_6m": "Marketing 6-mo",
    "marketing_current": "Marketing now", "tenure_days": "Tenure", "promo_share": "Promo share",
    "popular_category": "Category", "categories_per_visit": "Categories/visit", "unpaid_items": "Unpaid items",
    "service_errors": "Service errors", "pages_per_visit": "Pages/visit", "revenue_prev2": "Revenue m−2",
    "revenue_prev": "Revenue m−1", "revenue_current": "Revenue now", "minutes_prev": "Minutes m−1",
    "minutes_current": "Minutes now", "profit": "Profit",
}

#: Units of the customer-table columns for axis labels (the dictionary's units, profit stated as exported).
AXIS_UNITS = {f.name: f.unit for f in DICTIONARY}
AXIS_UNITS["profit"] = "profit units, as exported"
AXIS_UNITS["promo_share"] = "share of purchases, 0–1"

#: Short model names for the comparison table, ROC legend and benchmark figure.
MODEL_SHORT = {
    "logit_spec": "Logit, chosen spec.", "logit_linear": "Logit, linear", "logit_l2": "Penalised logit",
    "svc_rbf": "SVM (RBF)", "random_forest": "Random forest", "decision_tree": "Decision tree", "knn": "k-NN",
}

STEP_LABELS = {
    "regular_customer": "Regular customers only",
    "extreme_revenue": "Implausible revenue",
    "join the four files": "Join the four exports",
}

FILE_CONTENT = {
    "market_file.csv": "Behaviour, communication and product attributes; the target",
    "market_money.csv": "Revenue per customer and month (three months, long format)",
    "market_time.csv": "Minutes on the site per customer and month (two months, long format)",
    "money.csv": "Average monthly profit per customer",
}

PERIOD_DISPLAY = {"препредыдущий_месяц": "two months before", "предыдущий_месяц": "previous month",
                  "текущий_месяц": "current month"}

OFFER_NONE = "none: standard communication"
OFFER_PERSONAL = "personal contact: no lever has room"


def label(column: str) -> str:
    """Display name of a table column."""
    return LABELS.get(column, column.replace("_", " ").capitalize())


def relabel(frame: pd.DataFrame) -> pd.DataFrame:
    """Rename the columns that have a display name in :data:`LABELS`; others are kept as they are."""
    return frame.rename(columns={c: LABELS[c] for c in frame.columns if c in LABELS})


def variable_label(name: str) -> str:
    return VARIABLE_LABELS.get(name, name.replace("_", " ").capitalize())


def level_label(variable: str, level) -> str:
    """English display of a category level (``home_textiles`` -> ``Home textiles``, consent 1 -> ``yes``)."""
    text = str(level).strip().strip("'\"")
    if variable == "contact_allowed":
        return {"1": "yes", "0": "no", "1.0": "yes", "0.0": "no"}.get(text, text)
    return CATEGORY_DISPLAY.get(text, text.replace("_", " "))


_CATEGORICAL = re.compile(r"^C\((?P<var>\w+),\s*Treatment\((?P<ref>[^)]*)\)\)(?:\[T\.(?P<level>.+)\])?$")
_SPLINE = re.compile(r"^(?P<fn>cr|bs|cc)\((?P<var>\w+)\b[^)]*\)\[(?P<k>\d+)\]$")
_SPLINE_CANDIDATE = re.compile(r"^spline\((?P<var>\w+)\)$")
_SPLINE_TERM = re.compile(r"^(?P<fn>cr|bs|cc)\((?P<var>\w+),\s*df\s*=\s*(?P<df>\d+)\)$")


def term_label(term: str) -> str:
    """English name of a patsy term or design column.

    ``C(popular_category, Treatment('kids_goods'))[T.home_textiles]`` -> ``Popular category: Home textiles
    (vs Kids' goods)``; ``cr(pages_per_visit, df=4)[2]`` -> ``Pages per visit, spline basis 3``;
    ``a:b`` -> ``A × B``; a bare column -> its :data:`VARIABLE_LABELS` name.
    """
    term = str(term).strip()
    if term == "Intercept":
        return "Intercept"
    m = _CATEGORICAL.match(term)
    if m:
        var = m["var"]
        if m["level"] is None:
            return variable_label(var)
        return f"{variable_label(var)}: {level_label(var, m['level'])} (vs {level_label(var, m['ref'])})"
    m = _SPLINE.match(term)
    if m:
        return f"{variable_label(m['var'])}, spline basis {int(m['k']) + 1}"
    m = _SPLINE_CANDIDATE.match(term)
    if m:
        return f"Spline in {variable_label(m['var']).lower()}"
    m = _SPLINE_TERM.match(term)
    if m:
        return f"{variable_label(m['var'])} (natural cubic spline, df = {m['df']})"
    if ":" in term:
        return " × ".join(term_label(part) for part in term.split(":"))
    return variable_label(term)


def contrast_label(term: str, contrast: str) -> str:
    """Label of an AME row: a numeric derivative or a categorical contrast ``level - reference``."""
    if contrast and " - " in str(contrast):
        level, reference = str(contrast).split(" - ", 1)
        return f"{variable_label(term)}: {level_label(term, level)} (vs {level_label(term, reference)})"
    return term_label(term)


def segment_label(name: str) -> str:
    text = str(name)
    return text[:1].upper() + text[1:]


def lever_label(name: str) -> str:
    """Short description of a lever from its definition (``+2 pages per visit``)."""
    lever = LEVER_BY_NAME.get(name)
    if lever is None:
        return {OFFER_NONE: "None (standard communication)",
                OFFER_PERSONAL: "Personal contact (no lever has room)"}.get(name, str(name))
    c = lever.change
    texts = {
        "marketing_6m": f"{c:+g} marketing contact{'s' if abs(c) != 1 else ''} per month",
        "marketing_current": f"{c:+g} marketing contact{'s' if abs(c) != 1 else ''} this month",
        "promo_share_10pp": f"{10 * c:+g} pp share of promotional purchases",
        "categories_per_visit": f"{c:+g} categor{'ies' if abs(c) != 1 else 'y'} viewed per visit",
        "pages_per_visit": f"{c:+g} page{'s' if abs(c) != 1 else ''} per visit",
        "unpaid_items": f"{c:+g} unpaid cart item{'s' if abs(c) != 1 else ''}",
    }
    return texts.get(lever.column, lever.description).replace("-", "−")


def lever_description(name: str) -> str:
    lever = LEVER_BY_NAME.get(name)
    return lever.description if lever else str(name)


def short_unit(unit: str) -> str:
    return (str(unit).replace("percentage points", "pp").replace("vs reference ", "vs ")
            .replace("'", ""))


# --------------------------------------------------------------------------------------------------------
# Number formats
# --------------------------------------------------------------------------------------------------------

def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and np.isnan(x)) or pd.isna(x)


def fmt_int(x) -> str:
    return "—" if _missing(x) else f"{int(round(float(x))):,}"


def fmt_num(x, digits: int = 2) -> str:
    return "—" if _missing(x) else f"{float(x):,.{digits}f}".replace("-", "−")


def fmt_pct(x, digits: int = 1) -> str:
    return "—" if _missing(x) else f"{100 * float(x):.{digits}f}%".replace("-", "−")


def fmt_p(p) -> str:
    if _missing(p):
        return "—"
    p = float(p)
    return "<\u00a00.001" if p < 0.001 else f"{p:.3f}"


def fmt_ci(low, high, digits: int = 2, scale: float = 1.0) -> str:
    if _missing(low) or _missing(high):
        return "—"
    return f"{fmt_num(low * scale, digits)} to {fmt_num(high * scale, digits)}"


def fmt_est_ci(est, low, high, digits: int = 1) -> str:
    return f"{fmt_num(est, digits)} ({fmt_ci(low, high, digits)})"


def fmt_big(x) -> str:
    """A general statistic: fixed for moderate values, scientific for tiny/huge ones."""
    if _missing(x):
        return "—"
    x = float(x)
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.2e}".replace("-", "−")
    return fmt_num(x, 3)


_NUMERIC_CELL = re.compile(r"^[<>≤≥−+\-]?\s?[\d,.]+(%| \(.*\)|e[−\-+]?\d+)?$|^—$|^[−\-]?[\d.,]+ to [−\-]?[\d.,]+$|^[\d,]+ of [\d,]+$")


#: Text width of the PDF (A4, 2 cm margins) in points, and the approximate width of one character of table text.
TEXT_WIDTH_PT = (21 - 4) / 2.54 * 72
TABLE_CHAR_PT = 4.2
TABLE_CELL_PAD_PT = 10.0
SHORT_COLUMN_CHARS = 16


def _cell_len(text: str) -> int:
    return len(text.replace("\\", ""))


def md(frame: pd.DataFrame):
    """A display frame as Markdown (``IPython.display.Markdown(df.to_markdown(index=False))``).

    Strings are kept exactly as formatted; columns whose cells all look numeric are right-aligned. A table
    too wide for the page gets relative column widths (a separator line longer than Pandoc's ``--columns``),
    so that its text wraps at full size instead of the whole table being scaled down.
    """
    from IPython.display import Markdown

    align = []
    for column in frame.columns:
        cells = frame[column].astype(str)
        numeric = len(cells) > 0 and cells.map(lambda s: bool(_NUMERIC_CELL.match(s.strip()))).all()
        align.append("right" if numeric else "left")
    cells = frame.astype(str).apply(lambda col: col.str.replace("|", "\\|", regex=False)
                                    .str.replace("*", "\\*", regex=False))
    text = cells.to_markdown(index=False, disable_numparse=True, colalign=align)
    longest = [max([_cell_len(str(c)) for c in cells[col]] + [len(str(col))]) for col in cells.columns]
    natural = sum(n * TABLE_CHAR_PT + TABLE_CELL_PAD_PT for n in longest)
    if natural > TEXT_WIDTH_PT and len(cells.columns) > 1:
        # Short columns (numbers, codes) keep their natural width; the long text columns share the rest,
        # the shorter ones first (water-filling); any width left over widens headers that would wrap.
        budget = TEXT_WIDTH_PT / TABLE_CHAR_PT - len(longest) * TABLE_CELL_PAD_PT / TABLE_CHAR_PT
        headers = [str(col) for col in cells.columns]
        words = [max((len(w) for w in h.split()), default=1) for h in headers]
        body = [max([_cell_len(str(c)) for c in cells[col]] + [1]) for col in cells.columns]
        fixed = [a == "right" or n <= SHORT_COLUMN_CHARS for n, a in zip(body, align)]
        weights = [float(max(n, w) + 1) if f else 0.0 for n, w, f in zip(body, words, fixed)]
        remaining = budget - sum(weights)
        wrap = sorted((i for i, f in enumerate(fixed) if not f), key=lambda i: body[i])
        for k, i in enumerate(wrap):
            share = max(remaining / (len(wrap) - k), words[i] + 1, 8)
            weights[i] = min(float(body[i] + 1), share)
            remaining -= weights[i]
        deficits = [max(len(headers[i]) + 1 - weights[i], 0.0) if f else 0.0 for i, f in enumerate(fixed)]
        if remaining > 0 and sum(deficits) > 0:
            scale = min(1.0, remaining / sum(deficits))
            weights = [w + d * scale for w, d in zip(weights, deficits)]
        total = sum(weights)
        dashes = [max(3, round(1100 * w / total)) for w in weights]
        separator = "|" + "|".join(("-" * (d - 1) + ":") if a == "right" else (":" + "-" * (d - 1))
                                   for d, a in zip(dashes, align)) + "|"
        lines = text.split("\n")
        lines[1] = separator
        text = "\n".join(lines)
    return Markdown(text)


def bullets(lines: list[str]):
    from IPython.display import Markdown

    return Markdown("\n".join(f"- {line}" for line in lines))


# --------------------------------------------------------------------------------------------------------
# Headline numbers
# --------------------------------------------------------------------------------------------------------

def thresholds(res: Results) -> dict[str, float]:
    t = res["segment_thresholds"]
    return {str(k): float(v) for k, v in zip(t["threshold"], t["value"])}


def run_info(res: Results) -> dict:
    info = res["run_info"].iloc[0].to_dict()
    info["protocol"] = json.loads(info["protocol"]) if isinstance(info.get("protocol"), str) else {}
    info["quick"] = str(info.get("quick")).lower() == "true"
    return info


def _comparison(res: Results, a: str, b: str) -> dict:
    """ΔAUC a − b, t and p from the pairwise table (either order)."""
    comp = res["model_comparison"]
    row = comp[(comp["model_a"] == a) & (comp["model_b"] == b)]
    sign = 1.0
    if row.empty:
        row = comp[(comp["model_a"] == b) & (comp["model_b"] == a)]
        sign = -1.0
    if row.empty:
        return {"auc_diff": np.nan, "t_stat": np.nan, "p_value": np.nan}
    r = row.iloc[0]
    return {"auc_diff": sign * float(r["auc_diff"]), "t_stat": sign * float(r["t_stat"]),
            "p_value": float(r["p_value"])}


def summary_actions(res: Results, n: int = N_SUMMARY_ACTIONS) -> list[dict]:
    """The actions of the executive summary: the top ``n`` recommended levers for all high-risk customers, then
    the best recommended lever of the promotion-dependent group if it is not among them. Each with the group
    size, the customers with room, and customers kept / profit retained with their intervals (scenarios)."""
    recs, scen = res["recommendations"], res["scenarios"]
    if recs.empty:
        return []
    chosen = recs[recs["segment"] == ALL_HIGH_RISK].sort_values("rank").head(n)
    rows = [(ALL_HIGH_RISK, lever) for lever in chosen["lever"]]
    levers = {lever for _, lever in rows}
    promo = recs[(recs["segment"] == PROMO_GROUP) & ~recs["lever"].isin(levers)].sort_values("rank")
    if len(promo):
        rows.append((PROMO_GROUP, promo["lever"].iloc[0]))
    actions = []
    for group, lever in rows:
        s = scen[(scen["segment"] == group) & (scen["lever"] == lever)].iloc[0]
        actions.append({
            "group": group, "lever": lever, "label": lever_label(lever), "description": lever_description(lever),
            "n_customers": int(s["n_customers"]), "n_with_room": int(s["n_with_room"]),
            "customers_kept": float(s["customers_kept"]), "customers_kept_low": float(s["customers_kept_low"]),
            "customers_kept_high": float(s["customers_kept_high"]), "profit_retained": float(s["profit_retained"]),
            "profit_retained_low": float(s["profit_retained_low"]),
            "profit_retained_high": float(s["profit_retained_high"]), "p_value": float(s["p_value"]),
        })
    return actions


def headline(res: Results) -> dict:
    """Every number of the executive summary, computed from the results tables (raw values; see
    :func:`summary_strings` for their display)."""
    info = run_info(res)
    th = thresholds(res)
    offers = res["offers"]
    p, profit = offers["p_decline"].to_numpy(float), offers["profit"].to_numpy(float)
    high = p >= th["risk"]
    at_risk = p * profit
    grid = res["segments"][res["segments"]["kind"] == "grid"]
    top = grid.sort_values("profit_at_risk", ascending=False, kind="stable").iloc[0]
    bench = res["model_benchmark"].set_index("model")
    best = str(bench["auc_mean"].idxmax())
    comparison = _comparison(res, best, "logit_spec") if best != "logit_spec" else \
        {"auc_diff": 0.0, "t_stat": 0.0, "p_value": 1.0}
    actions = summary_actions(res)
    return {
        "n_customers": int(len(offers)),
        "n_exported": int(res["row_accounting"]["rows_in"].iloc[0]),
        "decline_rate": float(res["customer_table"][TARGET].mean()),
        "risk_threshold": th["risk"],
        "profit_threshold": th["profit"],
        "n_high_risk": int(high.sum()),
        "share_high_risk": float(high.mean()),
        "profit_at_risk_total": float(at_risk.sum()),
        "profit_at_risk_high_risk": float(at_risk[high].sum()),
        "share_profit_at_risk_high_risk": float(at_risk[high].sum() / at_risk.sum()),
        "top_segment": str(top["segment"]),
        "top_segment_n": int(top["n_customers"]),
        "top_segment_share": float(top["share"]),
        "top_segment_mean_p": float(top["mean_p_decline"]),
        "top_segment_profit_at_risk": float(top["profit_at_risk"]),
        "top_segment_share_of_profit_at_risk": float(top["profit_at_risk"] / at_risk.sum()),
        "n_models": int(len(bench)),
        "logit_auc": float(bench.loc["logit_spec", "auc_mean"]),
        "logit_linear_auc": float(bench.loc["logit_linear", "auc_mean"]) if "logit_linear" in bench.index else np.nan,
        "best_model": best,
        "best_model_label": MODEL_SHORT.get(best, best),
        "best_auc": float(bench.loc[best, "auc_mean"]),
        "auc_gap": float(bench.loc[best, "auc_mean"] - bench.loc["logit_spec", "auc_mean"]),
        "auc_gap_p": float(comparison["p_value"]),
        "actions": actions,
        "quick": info["quick"],
    }


def summary_strings(h: dict) -> dict[str, str]:
    """The display strings of :func:`headline` (what the executive summary prints)."""
    s = {
        "n_customers": fmt_int(h["n_customers"]),
        "n_exported": fmt_int(h["n_exported"]),
        "decline_rate": fmt_pct(h["decline_rate"]),
        "risk_threshold": fmt_num(h["risk_threshold"], 2),
        "n_high_risk": fmt_int(h["n_high_risk"]),
        "share_high_risk": fmt_pct(h["share_high_risk"]),
        "profit_at_risk_total": fmt_int(h["profit_at_risk_total"]),
        "profit_at_risk_high_risk": fmt_int(h["profit_at_risk_high_risk"]),
        "share_profit_at_risk_high_risk": fmt_pct(h["share_profit_at_risk_high_risk"]),
        "top_segment": h["top_segment"],
        "top_segment_n": fmt_int(h["top_segment_n"]),
        "top_segment_share": fmt_pct(h["top_segment_share"]),
        "top_segment_mean_p": fmt_num(h["top_segment_mean_p"], 2),
        "top_segment_profit_at_risk": fmt_int(h["top_segment_profit_at_risk"]),
        "top_segment_share_of_profit_at_risk": fmt_pct(h["top_segment_share_of_profit_at_risk"]),
        "n_models": fmt_int(h["n_models"]),
        "logit_auc": fmt_num(h["logit_auc"], 3),
        "best_model_label": h["best_model_label"],
        "best_auc": fmt_num(h["best_auc"], 3),
        "auc_gap": fmt_num(h["auc_gap"], 3),
        "auc_gap_p": fmt_p(h["auc_gap_p"]),
        "conf_level": f"{CONF_LEVEL:.0%}",
    }
    for i, a in enumerate(h["actions"], start=1):
        s[f"action{i}_kept"] = fmt_est_ci(a["customers_kept"], a["customers_kept_low"], a["customers_kept_high"], 1)
        s[f"action{i}_profit"] = fmt_est_ci(a["profit_retained"], a["profit_retained_low"],
                                            a["profit_retained_high"], 1)
        s[f"action{i}_room"] = fmt_int(a["n_with_room"])
    return s


def summary_model_sentence(h: dict) -> str:
    """One sentence on accuracy vs interpretability for the executive summary."""
    s = summary_strings(h)
    if h["best_model"] == "logit_spec":
        return (f"The interpretable logistic regression is also the most accurate of the {s['n_models']} models "
                f"compared (cross-validated AUC {s['logit_auc']}).")
    significant = h["auc_gap_p"] < ALPHA
    verdict = ("a statistically significant difference" if significant
               else "a difference that is not statistically significant")
    return (f"The interpretable logistic regression ranks customers almost as well as the best of the "
            f"{s['n_models']} models compared ({s['best_model_label']}): cross-validated AUC {s['logit_auc']} "
            f"vs {s['best_auc']}, {verdict} (p = {s['auc_gap_p']}).")


def actions_table(h: dict) -> pd.DataFrame:
    s = summary_strings(h)
    rows = []
    for i, a in enumerate(h["actions"], start=1):
        who = "All high-risk customers" if a["group"] == ALL_HIGH_RISK else f"{segment_label(a['group'])} customers"
        rows.append({
            "action": segment_label(a["description"]),
            "who": f"{who} ({s[f'action{i}_room']} with room)",
            "customers_kept": s[f"action{i}_kept"],
            "profit_retained": s[f"action{i}_profit"],
        })
    frame = pd.DataFrame(rows, columns=["action", "who", "customers_kept", "profit_retained"])
    return frame.rename(columns={"customers_kept": f"Customers kept ({CI})",
                                 "profit_retained": f"Profit retained per month ({CI})",
                                 "action": "Action", "who": "Customers targeted"})


# --------------------------------------------------------------------------------------------------------
# Data section
# --------------------------------------------------------------------------------------------------------

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
                     "variables": ", ".join(names)})
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
        "detail": ex["detail"].astype(str).map(_english_detail),
    }))


REVENUE_MONTHS = {"revenue_prev2": "two months before", "revenue_prev": "previous month",
                  "revenue_current": "current month"}
_EXTREME_DETAIL = re.compile(r"^(?P<col>\w+) = (?P<value>[\d.]+) ₽, (?P<ratio>[\d.]+) × median (?P<median>[\d.]+) ₽$")


def plural(n, word: str, plural_form: str | None = None) -> str:
    return f"{fmt_int(n)} {word if int(n) == 1 else (plural_form or word + 's')}"


def _english_detail(text: str) -> str:
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
        "Value corrected to": [segment_label(_english_value(c, v)) for c, v in zip(t["column"], t["correction"])],
        "Cells corrected": t["rows"].map(fmt_int),
    }))


def data_quality_findings(res: Results) -> list[str]:
    """Findings of the data checks, each a sentence with its numbers from the results."""
    acc = res["row_accounting"].set_index("step")
    reads = acc[acc.index.str.startswith("read ")]
    customers = res["customer_table"]
    th = thresholds(res)
    lines = []
    dups = int(reads["removed"].sum())
    lines.append(f"Exact duplicate rows in the exports: {fmt_int(dups)}."
                 if dups else "No exact duplicate rows in any of the exports.")
    typos = res["typo_corrections"]
    if len(typos):
        lines.append(f"{fmt_int(len(typos))} known misspellings of category or period labels, corrected in "
                     f"{fmt_int(typos['rows'].sum())} cells; each correction is listed in the typo table.")
    if "regular_customer" in acc.index:
        n = int(acc.loc["regular_customer", "removed"])
        lines.append(f"{plural(n, 'customer')} had no purchase in at least one of the three months: not regular "
                     "customers by the brief's definition, so excluded from the analysis.")
    if "extreme_revenue" in acc.index:
        n = int(acc.loc["extreme_revenue", "removed"])
        lines.append(f"{plural(n, 'customer')} had an implausible monthly revenue (far above the month's median), "
                     "excluded as a probable data error.")
    lines.append(f"The target is reasonably balanced: activity declined for {fmt_pct(customers[TARGET].mean())} "
                 f"of the {fmt_int(len(customers))} regular customers.")
    promo = customers["promo_share"]
    lines.append(f"The promotional share is bimodal: {fmt_pct((promo >= th.get('promotion', 0.5)).mean())} of the "
                 f"customers buy at least {fmt_pct(th.get('promotion', 0.5), 0)} of their purchases on promotion, "
                 f"the others mostly well below.")
    lines.append(f"Profit ranges from {fmt_num(customers['profit'].min())} to {fmt_num(customers['profit'].max())}; "
                 "the brief gives no unit, so profit is reported in profit units as exported.")
    vif = res["vif"].sort_values("vif", ascending=False).iloc[0]
    lines.append(f"No severe collinearity: the largest VIF is {fmt_num(vif['vif'])} ({term_label(vif['term'])}), "
                 f"{'above' if vif['vif'] > VIF_THRESHOLD else 'below'} the threshold of {VIF_THRESHOLD:g}."
                 if vif["vif"] <= VIF_THRESHOLD else
                 f"The largest VIF is {fmt_num(vif['vif'])} ({term_label(vif['term'])}), above the threshold of "
                 f"{VIF_THRESHOLD:g}.")
    return lines


# --------------------------------------------------------------------------------------------------------
# Exploration
# --------------------------------------------------------------------------------------------------------

def vif_display(res: Results) -> pd.DataFrame:
    v = res["vif"]
    return relabel(pd.DataFrame({"term": v["term"].map(term_label), "vif": v["vif"].map(fmt_num),
                                 "flagged": np.where(v["vif"] > VIF_THRESHOLD, "yes", "no")}))


def gvif_display(res: Results) -> pd.DataFrame:
    g = res["gvif"]
    return relabel(pd.DataFrame({"term": g["term"].map(term_label), "n_columns": g["n_columns"].map(fmt_int),
                                 "gvif": g["gvif"].map(fmt_num), "gvif_adjusted": g["gvif_adjusted"].map(fmt_num)}))


def vif_summary(res: Results) -> dict[str, str]:
    v = res["vif"]
    top = v.sort_values("vif", ascending=False).iloc[0]
    g = res["gvif"].sort_values("gvif_adjusted", ascending=False).iloc[0]
    return {"threshold": f"{VIF_THRESHOLD:g}", "n_flagged": fmt_int((v["vif"] > VIF_THRESHOLD).sum()),
            "max_vif": fmt_num(top["vif"]), "max_term": term_label(top["term"]),
            "max_gvif": fmt_num(g["gvif_adjusted"]), "max_gvif_term": term_label(g["term"])}


def phik_pairs_sentence(res: Results, n: int = 2) -> str:
    """The strongest associations between two different variables, and whether any makes a predictor redundant."""
    m = res["phik_matrix"]
    m = m[m["variable_a"] < m["variable_b"]].sort_values("phik", ascending=False).head(n)
    pairs = "; ".join(f"{variable_label(r.variable_a).lower()} with {variable_label(r.variable_b).lower()} "
                      f"({fmt_num(r.phik)})" for r in m.itertuples())
    vif = res["vif"]["vif"].max()
    tail = ("no predictor is redundant: every VIF is below the threshold (see Collinearity)"
            if vif <= VIF_THRESHOLD else "some predictors overlap strongly (see Collinearity)")
    return f"The strongest pairs are {pairs}; {tail}."


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


def phik_summary(res: Results) -> dict[str, str]:
    t = res["phik_target"]
    significant = t[t["p_value"] < ALPHA]
    top = t.sort_values("phik", ascending=False).head(3)
    weak = t[t["p_value"] >= ALPHA]
    return {
        "n_significant": fmt_int(len(significant)), "n_variables": fmt_int(len(t)),
        "top": ", ".join(f"{variable_label(r.variable).lower()} ({fmt_num(r.phik)})" for r in top.itertuples()),
        "not_significant": ", ".join(variable_label(v).lower() for v in weak["variable"]) or "none",
        "profit_phik": fmt_num(t.set_index("variable").loc["profit", "phik"]) if "profit" in set(t["variable"]) else "—",
        "profit_p": fmt_p(t.set_index("variable").loc["profit", "p_value"]) if "profit" in set(t["variable"]) else "—",
        "alpha": f"{ALPHA:g}",
    }


# --------------------------------------------------------------------------------------------------------
# The logit
# --------------------------------------------------------------------------------------------------------

def specification_table(res: Results) -> pd.DataFrame:
    """The selected steps of the forward search and, last, the best candidate that failed (the stop)."""
    steps = res["specification_steps"]
    rows = steps[steps["selected"].astype(str).str.lower() == "true"].copy()
    last = steps[steps["step"] == steps["step"].max()]
    if not (last["selected"].astype(str).str.lower() == "true").any():
        rows = pd.concat([rows, last.sort_values(["p_value", "lr_chi2"], ascending=[True, False]).head(1)])
    return relabel(pd.DataFrame({
        "step": rows["step"].map(fmt_int), "candidate": rows["candidate"].map(term_label),
        "kind": rows["kind"], "lr_chi2": rows["lr_chi2"].map(lambda x: fmt_num(x, 1)), "df": rows["df"].map(fmt_int),
        "p_value": rows["p_value"].map(fmt_big), "threshold": rows["threshold"].map(fmt_big),
        "aic": rows["aic"].map(lambda x: fmt_num(x, 1)),
        "selected": np.where(rows["selected"].astype(str).str.lower() == "true", "yes", "no: stop"),
    }))


def specification_summary(res: Results) -> dict[str, str]:
    steps = res["specification_steps"]
    chosen = steps[steps["selected"].astype(str).str.lower() == "true"]
    lr = res["lr_test_vs_linear"]
    n_candidates = int((steps["step"] == 1).sum())
    out = {
        "n_candidates": fmt_int(n_candidates),
        "n_steps": fmt_int(steps["step"].max()),
        "n_tests": fmt_int(len(steps)),
        "n_added": fmt_int(len(chosen)),
        "added": "; ".join(term_label(c) for c in chosen["candidate"]) or "none",
        "first_threshold": fmt_big(steps["threshold"].iloc[0]) if len(steps) else "—",
        "alpha": f"{ALPHA:g}",
    }
    if len(lr) and "lr_chi2" in lr:
        r = lr.iloc[0]
        out.update(lr_chi2=fmt_num(r["lr_chi2"], 1), lr_df=fmt_int(r["df"]), lr_p=fmt_big(r["p_value"]))
        out["lr_sentence"] = (f"Against the model with every predictor linear, the chosen specification improves "
                              f"the likelihood by LR χ² = {out['lr_chi2']} on {out['lr_df']} df (p = {out['lr_p']}).")
    else:
        out["lr_sentence"] = "No candidate passed, so the chosen specification is the linear one."
    return out


def _units(res: Results) -> dict[str, str]:
    return dict(zip(res["model_units"]["variable"], res["model_units"]["unit"]))


def _term_variable(term: str) -> str | None:
    m = _CATEGORICAL.match(term) or _SPLINE.match(term)
    if m:
        return m["var"]
    return term if ":" not in term else None


def _term_unit(term: str, units: dict[str, str]) -> str:
    if term == "Intercept":
        return ""
    if _CATEGORICAL.match(term):
        return "vs reference"
    if _SPLINE.match(term):
        return "spline basis"
    if ":" in term:
        return "product"
    return short_unit(units.get(term, ""))


def coefficient_table(res: Results, robust: bool = False) -> pd.DataFrame:
    """The full coefficient table: log-odds, SE, p and odds ratios with intervals, units stated."""
    c = res["logit_coefficients_hc3" if robust else "logit_coefficients"]
    units = _units(res)
    return relabel(pd.DataFrame({
        "term": c["term"].map(term_label),
        "unit": [_term_unit(t, units) for t in c["term"]],
        "estimate": c["estimate"].map(lambda x: fmt_num(x, 3)),
        "std_error": c["std_error"].map(lambda x: fmt_num(x, 3)),
        "p_value": c["p_value"].map(fmt_p),
        "odds_ratio": c["odds_ratio"].map(fmt_big),
        "or_conf_int": [fmt_ci(lo, hi, 2) for lo, hi in zip(c["odds_ratio_low"], c["odds_ratio_high"])],
    }))


def unidentified_terms(res: Results) -> list[str]:
    c = res["logit_coefficients"]
    return [str(t) for t in c.loc[c["std_error"].isna(), "term"]]


def identification_note(res: Results) -> str:
    terms = unidentified_terms(res)
    if not terms:
        return "Every coefficient has a standard error."
    labels = ", ".join(term_label(t) for t in terms)
    text = f"No standard error is reported for: {labels}."
    if any(_SPLINE.match(t) for t in terms):
        text += (" The natural cubic spline basis (cr) spans the constant, so together with the intercept the "
                 "design is rank-deficient by one and these coefficients are not separately identified; "
                 "predictions, average marginal effects and likelihood-ratio tests of the whole spline term "
                 "are identified and unaffected. Read the spline through its average marginal effect.")
    return text


def reference_levels_sentence(res: Results) -> str:
    units = _units(res)
    parts = []
    for var, unit in units.items():
        if str(unit).startswith("vs reference"):
            ref = str(unit).replace("vs reference", "").strip().strip("'")
            parts.append(f"{variable_label(var).lower()}: {level_label(var, ref)}")
    return "; ".join(parts)


def hc3_summary(res: Results) -> dict[str, str]:
    a = res["logit_coefficients"].set_index("term")
    b = res["logit_coefficients_hc3"].set_index("term")
    both = a[["std_error", "p_value"]].join(b[["std_error", "p_value"]], rsuffix="_hc3").dropna()
    ratio = both["std_error_hc3"] / both["std_error"]
    changed = both[(both["p_value"] < ALPHA) != (both["p_value_hc3"] < ALPHA)]
    return {
        "ratio_min": fmt_num(ratio.min()), "ratio_max": fmt_num(ratio.max()),
        "n_changed": fmt_int(len(changed)),
        "changed": ", ".join(term_label(t) for t in changed.index) or "none",
        "alpha": f"{ALPHA:g}",
        "conclusion": ("The inference does not hinge on the model-based variance." if len(changed) == 0 else
                       "For these terms the conclusion depends on the variance estimator; read them with care."),
    }


def hc3_changed_table(res: Results) -> pd.DataFrame:
    a = res["logit_coefficients"].set_index("term")
    b = res["logit_coefficients_hc3"].set_index("term")
    both = a[["std_error", "p_value"]].join(b[["std_error", "p_value"]], rsuffix="_hc3").dropna()
    changed = both[(both["p_value"] < ALPHA) != (both["p_value_hc3"] < ALPHA)]
    return relabel(pd.DataFrame({
        "term": changed.index.map(term_label), "std_error": changed["std_error"].map(lambda x: fmt_num(x, 3)),
        "std_error_hc3": changed["std_error_hc3"].map(lambda x: fmt_num(x, 3)),
        "p_value": changed["p_value"].map(fmt_p), "p_value_hc3": changed["p_value_hc3"].map(fmt_p),
    }))


def _ame_unit(term: str, contrast: str, units: dict[str, str]) -> str:
    if contrast and " - " in str(contrast):
        return "vs reference"
    return short_unit(units.get(term, ""))


def ame_table(res: Results) -> pd.DataFrame:
    m = res["marginal_effects"]
    units = _units(res)
    return relabel(pd.DataFrame({
        "term": [contrast_label(t, c) for t, c in zip(m["term"], m["contrast"])],
        "unit": [_ame_unit(t, c, units) for t, c in zip(m["term"], m["contrast"])],
        "ame": (100 * m["ame"]).map(lambda x: fmt_num(x, 2)),
        "ame_conf_int": [fmt_ci(lo, hi, 2, 100) for lo, hi in zip(m["conf_low"], m["conf_high"])],
        "p_value": m["p_value"].map(fmt_p),
    }))


def ame_summary(res: Results) -> dict[str, str]:
    m = res["marginal_effects"].assign(abs_z=lambda d: d["statistic"].abs())
    sig = m[m["p_value"] < ALPHA].sort_values("abs_z", ascending=False)
    units = _units(res)

    def describe(r) -> str:
        unit = _ame_unit(r.term, r.contrast, units)
        what = contrast_label(r.term, r.contrast).lower()
        step = f" ({unit})" if unit and unit != "vs reference" else ""
        return f"{what}{step} {fmt_num(r.ame * 100, 1).replace('−', '−') if r.ame < 0 else '+' + fmt_num(r.ame * 100, 1)} pp"

    return {"n_significant": fmt_int(len(sig)), "n_terms": fmt_int(len(m)),
            "top": "; ".join(describe(r) for r in sig.head(4).itertuples()) or "none",
            "alpha": f"{ALPHA:g}"}


FIT_ROWS = (("n", "Customers", fmt_int), ("n_events", "Declines", fmt_int), ("df_model", "Model df", fmt_int),
            ("log_likelihood", "Log-likelihood", lambda x: fmt_num(x, 1)),
            ("null_log_likelihood", "Null log-likelihood", lambda x: fmt_num(x, 1)),
            ("lr_chi2", "LR χ² vs null", lambda x: fmt_num(x, 1)), ("lr_p_value", "p", fmt_p),
            ("pseudo_r2_mcfadden", "McFadden pseudo-R²", lambda x: fmt_num(x, 3)),
            ("aic", "AIC", lambda x: fmt_num(x, 1)), ("bic", "BIC", lambda x: fmt_num(x, 1)),
            ("converged", "Converged", lambda x: "yes" if str(x).lower() == "true" else "no"))


def fit_table(res: Results) -> pd.DataFrame:
    f = res["model_fit"].set_index("model")
    out = {"statistic": [name for _, name, _ in FIT_ROWS]}
    for model in f.index:
        out[MODEL_SHORT.get(model, model)] = [fn(f.loc[model, col]) for col, _, fn in FIT_ROWS]
    return relabel(pd.DataFrame(out))


def calibration_table(res: Results) -> pd.DataFrame:
    t = res["calibration_tests"].iloc[0]
    rows = [("Brier score, out-of-fold logit", fmt_num(t["brier"], 4)),
            ("Brier score, always predicting the base rate", fmt_num(t["brier_reference"], 4)),
            ("Hosmer–Lemeshow χ²", fmt_num(t["hl_statistic"], 1)), ("Hosmer–Lemeshow df", fmt_int(t["hl_df"])),
            ("Hosmer–Lemeshow p", fmt_big(t["hl_p_value"]))]
    return pd.DataFrame(rows, columns=["Statistic", "Value"])


def calibration_summary(res: Results) -> dict[str, str]:
    t = res["calibration_tests"].iloc[0]
    curve = res["calibration_curve"]
    gap = (curve["observed_rate"] - curve["mean_predicted"])
    worst = curve.loc[gap.abs().idxmax()]
    outside = ((curve["mean_predicted"] < curve["conf_low"]) | (curve["mean_predicted"] > curve["conf_high"])).sum()
    rejects = t["hl_p_value"] < ALPHA
    return {
        "brier": fmt_num(t["brier"], 3), "brier_reference": fmt_num(t["brier_reference"], 3),
        "brier_gain": fmt_pct(1 - t["brier"] / t["brier_reference"], 0),
        "hl": fmt_num(t["hl_statistic"], 1), "hl_df": fmt_int(t["hl_df"]), "hl_p": fmt_big(t["hl_p_value"]),
        "hl_verdict": ("rejects perfect calibration" if rejects else "does not reject calibration"),
        "n_bins": fmt_int(len(curve)), "n_outside": fmt_int(outside),
        "worst_predicted": fmt_num(worst["mean_predicted"], 2), "worst_observed": fmt_num(worst["observed_rate"], 2),
        "worst_direction": "over-predicts" if worst["mean_predicted"] > worst["observed_rate"] else "under-predicts",
        "reading": ("The probabilities rank customers well, but taken one by one they are approximate, in particular "
                    "near the risk threshold; the sensitivity analysis of the segment thresholds covers this."
                    if rejects else
                    "The probabilities can be read at face value, which the risk threshold relies on."),
    }


def separation_sentence(res: Results) -> str:
    s = res["separation"].iloc[0]
    status = str(s["separation"])
    head = ("No complete or quasi-complete separation was found" if status == "none"
            else f"Separation check: {status}")
    return (f"{head} ({s['method']}); {fmt_int(s['n_fitted_extreme'])} customers have fitted probabilities at 0 or 1, "
            f"the largest absolute coefficient is {fmt_num(s['max_abs_coef'])} and the largest standard error "
            f"{fmt_big(s['max_std_error'])}.")


def influence_table(res: Results) -> pd.DataFrame:
    inf = res["influence"]
    oof = res["oof_predictions"].set_index("id")
    ids = inf["id"]
    return relabel(pd.DataFrame({
        "id": ids.astype(str),
        "y_true": ids.map(lambda i: "yes" if int(oof.loc[i, "y_true"]) == 1 else "no"),
        "p_oof": ids.map(lambda i: fmt_num(oof.loc[i, "logit_spec"], 2)),
        "leverage": inf["leverage"].map(lambda x: fmt_num(x, 3)),
        "cooks_distance": inf["cooks_distance"].map(lambda x: fmt_num(x, 4)),
        "pearson_residual": inf["pearson_residual"].map(lambda x: fmt_num(x, 2)),
        "deviance_residual": inf["deviance_residual"].map(lambda x: fmt_num(x, 2)),
    }))


def influence_summary(res: Results) -> dict[str, str]:
    inf = res["influence"]
    n = len(res["offers"])
    oof = res["oof_predictions"].set_index("id")
    y = oof.loc[inf["id"], "y_true"].to_numpy()
    p = oof.loc[inf["id"], "logit_spec"].to_numpy()
    surprising = int(((y == 1) & (p < 0.5)).sum() + ((y == 0) & (p >= 0.5)).sum())
    max_cooks = float(inf["cooks_distance"].max())
    return {"n_shown": fmt_int(len(inf)), "max_cooks": fmt_num(max_cooks, 4),
            "rule": fmt_num(4 / n, 4), "max_cooks_ratio": fmt_num(max_cooks / (4 / n), 1),
            "driver": ("far below one: no single customer drives the fit" if max_cooks < 0.5
                       else "large enough to check whether this customer drives the fit"),
            "surprising": (f"{fmt_int(surprising)} of these {fmt_int(len(inf))} customers had an outcome the model "
                           "found unlikely (a decline predicted below one half, or no decline predicted above it).")}


# --------------------------------------------------------------------------------------------------------
# Benchmark
# --------------------------------------------------------------------------------------------------------

def benchmark_table(res: Results) -> pd.DataFrame:
    b = res["model_benchmark"]
    return relabel(pd.DataFrame({
        "model": b["model"].map(lambda m: MODEL_LABELS.get(m, m)),
        "auc_mean": b["auc_mean"].map(lambda x: fmt_num(x, 3)), "auc_sd": b["auc_sd"].map(lambda x: fmt_num(x, 3)),
        "auc_conf_int": [fmt_ci(lo, hi, 3) for lo, hi in zip(b["auc_conf_low"], b["auc_conf_high"])],
        "test_auc": b["test_auc"].map(lambda x: fmt_num(x, 3)),
    }))


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (statsmodels' ``multipletests``, as in :mod:`stats.groups`)."""
    return multipletests(np.asarray(p, dtype=float), method="holm")[1]


def comparison_table(res: Results) -> pd.DataFrame:
    c = res["model_comparison"]
    return relabel(pd.DataFrame({
        "model_a": c["model_a"].map(lambda m: MODEL_SHORT.get(m, m)),
        "model_b": c["model_b"].map(lambda m: MODEL_SHORT.get(m, m)),
        "auc_diff": c["auc_diff"].map(lambda x: fmt_num(x, 3)), "t_stat": c["t_stat"].map(lambda x: fmt_num(x, 2)),
        "p_value": c["p_value"].map(fmt_p), "p_holm": pd.Series(holm(c["p_value"].to_numpy())).map(fmt_p),
    }))


def benchmark_summary(res: Results) -> dict[str, str]:
    h = headline(res)
    info = run_info(res)
    b = res["model_benchmark"].set_index("model")
    comp = res["model_comparison"]
    p_holm = holm(comp["p_value"].to_numpy())
    linear = _comparison(res, "logit_spec", "logit_linear")
    n_sig_logit = int(sum(1 for a, b_, p in zip(comp["model_a"], comp["model_b"], comp["p_value"])
                          if "logit_spec" in (a, b_) and p < ALPHA))
    worse = [m for m in b.index if m != "logit_spec"
             and _comparison(res, "logit_spec", m)["auc_diff"] > 0 and _comparison(res, "logit_spec", m)["p_value"] < ALPHA]
    gap = h["auc_gap"]
    if h["best_model"] == "logit_spec":
        verdict = ("The chosen logit has the highest mean cross-validated AUC of all models: the interpretable "
                   "model costs no accuracy here.")
    elif h["auc_gap_p"] < ALPHA:
        verdict = (f"{MODEL_LABELS.get(h['best_model'], h['best_model'])} ranks customers significantly better than "
                   f"the chosen logit (ΔAUC {fmt_num(gap, 3)}, p = {fmt_p(h['auc_gap_p'])}). It could score "
                   "customers while the logit explains them; the segments below use the logit's risk.")
    else:
        verdict = (f"The best model, {MODEL_LABELS.get(h['best_model'], h['best_model']).lower()}, is ahead of the "
                   f"chosen logit by {fmt_num(gap, 3)} AUC, about {fmt_num(100 * gap / h['logit_auc'], 1)}% of the "
                   f"logit's AUC, and the corrected t test does not find the difference significant "
                   f"(p = {fmt_p(h['auc_gap_p'])}). Giving up the logit's coefficients, marginal effects and "
                   "what-if scenarios would buy no demonstrable accuracy.")
    return {
        "verdict": verdict, "n_models": fmt_int(len(b)), "n_folds": fmt_int(b["n_folds"].iloc[0]),
        "n_splits": fmt_int(info["protocol"].get("n_splits", np.nan)),
        "n_repeats": fmt_int(info["protocol"].get("n_repeats", np.nan)),
        "inner_splits": fmt_int(info["protocol"].get("inner_splits", np.nan)),
        "logit_auc": fmt_num(h["logit_auc"], 3), "linear_auc": fmt_num(h["logit_linear_auc"], 3),
        "spec_vs_linear": fmt_num(linear["auc_diff"], 3), "spec_vs_linear_p": fmt_p(linear["p_value"]),
        "n_pairs": fmt_int(len(comp)), "n_sig": fmt_int((comp["p_value"] < ALPHA).sum()),
        "n_sig_holm": fmt_int((p_holm < ALPHA).sum()), "n_sig_logit": fmt_int(n_sig_logit),
        "worse": ", ".join(MODEL_SHORT.get(m, m).lower() for m in worse) or "none",
        "alpha": f"{ALPHA:g}",
        "holdout_n": fmt_int(round(0.25 * h["n_customers"])),
    }


# --------------------------------------------------------------------------------------------------------
# Segments
# --------------------------------------------------------------------------------------------------------

def segments_table(res: Results) -> pd.DataFrame:
    s = res["segments"]
    return relabel(pd.DataFrame({
        "segment": s["segment"].map(segment_label), "kind": s["kind"],
        "n_customers": s["n_customers"].map(fmt_int), "share": s["share"].map(fmt_pct),
        "mean_p_decline": s["mean_p_decline"].map(fmt_num), "mean_profit": s["mean_profit"].map(fmt_num),
        "profit_at_risk": s["profit_at_risk"].map(lambda x: fmt_num(x, 0)),
    }))


def thresholds_table(res: Results) -> pd.DataFrame:
    t = res["segment_thresholds"]
    return pd.DataFrame({"Threshold": t["threshold"].str.capitalize(), "Value": t["value"].map(fmt_num),
                         "Rule": t["rule"].str.replace("promo_share", "promotional share")})


def sensitivity_table(res: Results) -> pd.DataFrame:
    """High-risk customers and the size and profit at risk of the top grid segment as the boundaries move."""
    s = res["segment_sensitivity"]
    top = headline(res)["top_segment"]
    rows = []
    for risk, group in s.groupby("risk_threshold", sort=True):
        first = group[group["profit_quantile"] == group["profit_quantile"].iloc[0]]
        n_high = first[first["segment"].str.startswith("high risk")]["n_customers"].sum()
        row = {"Risk threshold": fmt_num(risk), "High-risk customers": fmt_int(n_high)}
        for q, sub in group.groupby("profit_quantile", sort=True):
            r = sub[sub["segment"] == top].iloc[0]
            row[f"Profit quantile {fmt_num(q, 1)}"] = f"{fmt_int(r['n_customers'])} ({fmt_int(r['profit_at_risk'])})"
        rows.append(row)
    return pd.DataFrame(rows)


def sensitivity_summary(res: Results) -> dict[str, str]:
    s = res["segment_sensitivity"]
    top = headline(res)["top_segment"]
    sub = s[s["segment"] == top]
    high = s[s["segment"].str.startswith("high risk")]
    by_risk = high[high["profit_quantile"] == high["profit_quantile"].iloc[0]].groupby("risk_threshold")["n_customers"].sum()
    tops = s.loc[s.groupby(["risk_threshold", "profit_quantile"])["profit_at_risk"].idxmax(), "segment"]
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
            "top_par_min": fmt_int(sub["profit_at_risk"].min()), "top_par_max": fmt_int(sub["profit_at_risk"].max())}


def _profile_value(variable: str, kind: str, value: float) -> str:
    if kind == "categorical":
        return fmt_pct(value, 0)
    if variable == "promo_share":
        return fmt_pct(value, 0)
    if variable.startswith("revenue"):
        return fmt_int(value)
    return fmt_num(value, 2) if variable == "profit" or float(value) % 1 else fmt_num(value, 0)


def profiles_table(res: Results, segments: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Significant (Holm) and sizeable differences of the top segment and the promotion-dependent group from the
    other customers: medians (numeric) or level shares (categorical)."""
    p = res["segment_profiles"]
    if p.empty:
        return pd.DataFrame(columns=["Segment", "Variable", "Segment value", "Other customers", "Effect", "p (Holm)"])
    segments = segments or (headline(res)["top_segment"], PROMO_GROUP)
    sel = p[p["segment"].isin(segments) & (p["p_adjusted"] < ALPHA)]
    numeric = (sel["kind"] == "numeric") & (sel["effect_size"].abs() >= PROFILE_MIN_DELTA)
    categorical = (sel["kind"] == "categorical") & (sel["effect_size"].abs() >= PROFILE_MIN_SHARE_DIFF)
    sel = sel[numeric | categorical]
    if "contact_allowed" in set(sel["variable"]):  # the two levels of a binary variable say the same thing
        sel = sel[~((sel["variable"] == "contact_allowed") & (sel["level"].astype(str) == "0"))]
    names = [variable_label(v) if k == "numeric" else f"{variable_label(v)}: {level_label(v, lvl)}"
             for v, k, lvl in zip(sel["variable"], sel["kind"], sel["level"])]
    return pd.DataFrame({
        "Segment": sel["segment"].map(segment_label), "Variable": names,
        "Segment value": [_profile_value(v, k, x) for v, k, x in zip(sel["variable"], sel["kind"], sel["group_value"])],
        "Other customers": [_profile_value(v, k, x) for v, k, x in zip(sel["variable"], sel["kind"], sel["rest_value"])],
        "Effect": [f"δ\u00a0=\u00a0{fmt_num(e)}" if k == "numeric" else f"Δ\u00a0=\u00a0{fmt_num(100 * e, 0)}\u00a0pp"
                   for k, e in zip(sel["kind"], sel["effect_size"])],
        "p (Holm)": sel["p_adjusted"].map(fmt_p),
    })


def scenarios_table(res: Results) -> pd.DataFrame:
    s = res["scenarios"]
    return relabel(pd.DataFrame({
        "group": s["segment"].map(segment_label), "lever": s["lever"].map(lever_label),
        "n_with_room": [f"{fmt_int(r)} of {fmt_int(n)}" for r, n in zip(s["n_with_room"], s["n_customers"])],
        "customers_kept": [fmt_est_ci(e, lo, hi, 1) for e, lo, hi in
                           zip(s["customers_kept"], s["customers_kept_low"], s["customers_kept_high"])],
        "profit_retained": [fmt_est_ci(e, lo, hi, 1) for e, lo, hi in
                            zip(s["profit_retained"], s["profit_retained_low"], s["profit_retained_high"])],
        "p_value": s["p_value"].map(fmt_p),
    }))


def recommendations_table(res: Results) -> pd.DataFrame:
    r = res["recommendations"]
    return relabel(pd.DataFrame({
        "segment": r["segment"].map(segment_label), "rank": r["rank"].map(fmt_int), "lever": r["lever"].map(lever_label),
        "customers_kept": [fmt_est_ci(e, lo, hi, 1) for e, lo, hi in
                           zip(r["customers_kept"], r["customers_kept_low"], r["customers_kept_high"])],
        "Profit retained": r["profit_retained"].map(lambda x: fmt_num(x, 1)),
        "share_with_room": r["share_with_room"].map(lambda x: fmt_pct(x, 0)),
    }))


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


def offers_summary(res: Results) -> dict[str, str]:
    o = res["offers"]
    targeted = o[~o["offer"].isin([OFFER_NONE])]
    top = targeted["offer"].value_counts()
    allowed = res["allowed_levers"]["lever"].tolist() if len(res["allowed_levers"]) else []
    return {"n_targeted": fmt_int(len(targeted)), "n_none": fmt_int((o["offer"] == OFFER_NONE).sum()),
            "n_personal": fmt_int((o["offer"] == OFFER_PERSONAL).sum()),
            "top_offer": lever_label(top.index[0]).lower() if len(top) else "none",
            "top_offer_n": fmt_int(top.iloc[0]) if len(top) else "0",
            "allowed": "; ".join(lever_label(x).lower() for x in allowed) or "none",
            "n_allowed": fmt_int(len(allowed))}


# --------------------------------------------------------------------------------------------------------
# Appendix
# --------------------------------------------------------------------------------------------------------

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


PACKAGES = ("numpy", "pandas", "scipy", "statsmodels", "patsy", "scikit-learn", "phik", "matplotlib",
            "tabulate", "nbclient", "ipykernel", "pypandoc-binary", "typst")


def versions_table() -> pd.DataFrame:
    rows = [("Python", platform.python_version())]
    for name in PACKAGES:
        try:
            rows.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return pd.DataFrame(rows, columns=["Package", "Version"])


def data_files_table(res: Results) -> pd.DataFrame:
    f = res["data_files"]
    return pd.DataFrame({"File": f["file"], "Bytes": f["bytes"].map(fmt_int),
                         "SHA-256": f["sha256"].map(lambda h: f"`{h}`")})


def run_times_table(res: Results) -> pd.DataFrame:
    t = res["run_times"]
    return pd.DataFrame({"Stage": t["stage"].map(segment_label), "Seconds": t["seconds"].map(lambda x: fmt_num(x, 1))})


def methods_facts(res: Results) -> dict[str, str]:
    info = run_info(res)
    prot = info["protocol"]
    return {
        "seed": str(info.get("seed")), "n_splits": fmt_int(prot.get("n_splits", np.nan)),
        "n_repeats": fmt_int(prot.get("n_repeats", np.nan)), "inner_splits": fmt_int(prot.get("inner_splits", np.nan)),
        "protocol_name": "the quick protocol meant for tests" if info["quick"] else "the full protocol",
        "formula": str(info.get("formula")),
        "formula_terms": "; ".join(term_label(t.strip()) for t in str(info.get("formula")).split(" + ")),
        "render_date": _dt.date.today().isoformat(), "results_dir": str(res.directory),
        "total_seconds": fmt_num(res["run_times"].set_index("stage")["seconds"].get("total", np.nan), 1),
        "conf_level": f"{CONF_LEVEL:.0%}", "alpha": f"{ALPHA:g}",
    }


def quick_protocol_note(res: Results) -> str:
    """A warning callout (Markdown) when the results come from the reduced test protocol, else nothing."""
    info = run_info(res)
    if not info["quick"]:
        return ""
    f = methods_facts(res)
    return ("::: {.callout-warning title=\"Quick protocol\"}\n"
            f"These results were produced with the reduced cross-validation protocol meant for tests "
            f"({f['n_splits']} folds × {f['n_repeats']} repeats, {f['inner_splits']} inner folds). Run "
            "`python -m analysis run` without `--quick` before relying on the benchmark.\n:::\n")


def holdout_share() -> float:
    import inspect

    from analysis import benchmark

    return float(inspect.signature(benchmark.holdout_auc).parameters["test_size"].default)


def excluded_variables_table(res: Results) -> pd.DataFrame:
    e = res["excluded_variables"]
    return pd.DataFrame({"Variable": [", ".join(variable_label(v.strip()) for v in str(x).split(","))
                                      for x in e["variable"]],
                         "Reason": e["reason"].str.capitalize()})


# --------------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------------

#: Okabe–Ito colour-blind-safe palette.
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73", "yellow": "#F0E442",
             "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7", "grey": "#999999"}
CLASS_COLORS = {1: OKABE_ITO["vermillion"], 0: OKABE_ITO["blue"]}
CLASS_NAMES = {1: "Declined", 0: "Same level"}
SEGMENT_COLORS = {"high risk, high profit": OKABE_ITO["vermillion"], "high risk, low profit": OKABE_ITO["orange"],
                  "low risk, high profit": OKABE_ITO["blue"], "low risk, low profit": OKABE_ITO["sky"]}
MODEL_STYLES = {
    "logit_spec": (OKABE_ITO["black"], "-"), "logit_linear": (OKABE_ITO["grey"], "--"),
    "logit_l2": (OKABE_ITO["purple"], ":"), "svc_rbf": (OKABE_ITO["green"], "-."),
    "random_forest": (OKABE_ITO["vermillion"], "-"), "decision_tree": (OKABE_ITO["orange"], "--"),
    "knn": (OKABE_ITO["blue"], ":"),
}
WIDTH = 6.5  # inches: the text width of the A4 PDF
DPI = 192
STYLE = {
    "font.size": 9, "axes.titlesize": 9.5, "axes.labelsize": 9, "xtick.labelsize": 8.5, "ytick.labelsize": 8.5,
    "legend.fontsize": 8.5, "axes.spines.top": False, "axes.spines.right": False, "axes.titleweight": "bold",
    "font.family": "DejaVu Sans", "axes.grid": False, "legend.frameon": False,
}


@contextmanager
def _style():
    with mpl.rc_context(STYLE):
        yield


def _figure(height: float, width: float = WIDTH) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Figure, dpi: int = DPI) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def show(fig: Figure):
    """Display a figure in the report as a PNG (its natural size: the figure width in inches)."""
    from IPython.display import Image, display

    display(Image(data=figure_png(fig), format="png"))


def key_predictors(res: Results, n: int = 6) -> list[str]:
    """The numeric variables most associated with the target (phik), for the class-wise distributions."""
    t = res["phik_target"]
    numeric = [v for v in t.sort_values("phik", ascending=False)["variable"]
               if v in res["customer_table"] and pd.api.types.is_numeric_dtype(res["customer_table"][v])
               and v not in ("contact_allowed", "profit")]
    return numeric[:n]


def fig_class_distributions(res: Results, variables: list[str] | None = None) -> Figure:
    data = res["customer_table"]
    variables = variables or key_predictors(res)
    ncols = 3
    nrows = int(np.ceil(len(variables) / ncols))
    with _style():
        fig = _figure(2.2 * nrows + 0.45)
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax, var in zip(axes, variables):
            x = data[var]
            discrete = (x % 1 == 0).all() and x.nunique() <= 25
            for cls in (0, 1):
                v = x[data[TARGET] == cls]
                if discrete:
                    levels = np.arange(int(x.min()), int(x.max()) + 1)
                    share = v.value_counts(normalize=True).reindex(levels, fill_value=0.0)
                    offset = -0.2 if cls == 0 else 0.2
                    ax.bar(levels + offset, share.to_numpy(), width=0.4, color=CLASS_COLORS[cls],
                           label=CLASS_NAMES[cls], alpha=0.9)
                else:
                    bins = np.histogram_bin_edges(x, bins=20)
                    ax.hist(v, bins=bins, density=False, weights=np.full(len(v), 1 / len(v)), histtype="stepfilled",
                            alpha=0.45, color=CLASS_COLORS[cls], label=CLASS_NAMES[cls])
                    ax.hist(v, bins=bins, weights=np.full(len(v), 1 / len(v)), histtype="step", linewidth=1.2,
                            color=CLASS_COLORS[cls])
            ax.set_title(textwrap.fill(variable_label(var), 24), fontsize=9)
            if discrete:
                ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True, nbins=6))
            ax.set_xlabel(AXIS_UNITS.get(var, ""))
            ax.set_ylabel("Share of class")
        for ax in axes[len(variables):]:
            ax.set_visible(False)
        handles, labels_ = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels_, loc="outside lower center", ncols=2, title=None)
    return fig


def phik_square(res: Results) -> pd.DataFrame:
    long = res["phik_matrix"]
    order = list(dict.fromkeys(long["variable_a"]))
    return long.pivot(index="variable_a", columns="variable_b", values="phik").loc[order, order]


def fig_phik_heatmap(res: Results) -> Figure:
    m = phik_square(res)
    n = len(m)
    values = m.to_numpy(dtype=float)
    mask = np.triu(np.ones_like(values, dtype=bool), k=1)
    shown = np.ma.masked_array(values, mask)
    with _style():
        fig = _figure(5.9)
        ax = fig.add_subplot()
        image = ax.imshow(shown, cmap="cividis", vmin=0, vmax=1)
        labels_ = [SHORT_LABELS.get(v, v) for v in m.index]
        ax.set_xticks(range(n), labels_, rotation=50, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(n), labels_)
        for i in range(n):
            for j in range(i + 1):
                v = values[i, j]
                if i != j and v >= 0.1:
                    ax.text(j, i, f"{v:.2f}".lstrip("0"), ha="center", va="center", fontsize=8,
                            color="black" if v > 0.55 else "white")
        ax.spines[["left", "bottom"]].set_visible(False)
        ax.tick_params(length=0)
        bar = fig.colorbar(image, ax=ax, shrink=0.7, pad=0.02)
        bar.set_label("phik correlation (0 = none, 1 = perfect)")
    return fig


def fig_phik_target(res: Results) -> Figure:
    t = res["phik_target"].sort_values("phik")
    significant = t["p_value"] < ALPHA
    with _style():
        fig = _figure(0.19 * len(t) + 0.9)
        ax = fig.add_subplot()
        y = np.arange(len(t))
        colors = np.where(significant, OKABE_ITO["blue"], OKABE_ITO["grey"])
        ax.barh(y, t["phik"], color=colors)
        ax.set_yticks(y, [variable_label(v) for v in t["variable"]])
        for yi, (v, z) in enumerate(zip(t["phik"], t["significance_z"])):
            ax.text(v + 0.01, yi, f"{v:.2f}  (z = {z:.1f})", va="center", fontsize=8)
        ax.set_xlim(0, max(1.0, t["phik"].max() + 0.25))
        ax.set_xlabel("phik correlation with «activity declined»")
        from matplotlib.patches import Patch
        ax.legend([Patch(color=OKABE_ITO["blue"]), Patch(color=OKABE_ITO["grey"])],
                  [f"significant (p < {ALPHA:g})", "not significant"], loc="lower right")
    return fig


def fig_ame(res: Results) -> Figure:
    m = res["marginal_effects"].copy()
    units = _units(res)
    m["label"] = [contrast_label(t, c) + (f" ({_ame_unit(t, c, units)})" if " - " not in str(c) else "")
                  for t, c in zip(m["term"], m["contrast"])]
    m = m.sort_values("ame")
    with _style():
        fig = _figure(0.2 * len(m) + 0.9)
        ax = fig.add_subplot()
        y = np.arange(len(m))
        sig = m["p_value"] < ALPHA
        for flag, color, name in ((True, OKABE_ITO["vermillion"], f"p < {ALPHA:g} (with {CI})"),
                                  (False, OKABE_ITO["grey"], "not significant")):
            sel = (sig == flag).to_numpy()
            ax.errorbar(100 * m["ame"][sel], y[sel],
                        xerr=[100 * (m["ame"] - m["conf_low"])[sel], 100 * (m["conf_high"] - m["ame"])[sel]],
                        fmt="o", color=color, ecolor=color, capsize=2, markersize=4, label=name)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(y, m["label"])
        ax.set_xlabel("Average marginal effect, percentage points")
        fig.legend(loc="outside lower center", ncols=2)
    return fig


def fig_calibration(res: Results) -> Figure:
    curve = res["calibration_curve"]
    oof = res["oof_predictions"]
    with _style():
        fig = _figure(3.2)
        ax, hx = fig.subplots(1, 2, width_ratios=[1.1, 1])
        ax.plot([0, 1], [0, 1], "--", color=OKABE_ITO["grey"], label="perfect calibration")
        ax.errorbar(curve["mean_predicted"], curve["observed_rate"],
                    yerr=[curve["observed_rate"] - curve["conf_low"], curve["conf_high"] - curve["observed_rate"]],
                    fmt="o-", color=OKABE_ITO["blue"], capsize=2, markersize=4, label=f"decile bins ({CI})")
        ax.set_xlim(0, 1), ax.set_ylim(0, 1.03)
        ax.set_xlabel("Mean predicted P(decline), out-of-fold")
        ax.set_ylabel("Observed share declined")
        ax.legend(loc="upper left")
        bins = np.linspace(0, 1, 21)
        for cls in (0, 1):
            v = oof.loc[oof["y_true"] == cls, "logit_spec"]
            hx.hist(v, bins=bins, alpha=0.55, color=CLASS_COLORS[cls], label=CLASS_NAMES[cls])
        hx.set_xlabel("Predicted P(decline), out-of-fold")
        hx.set_ylabel("Customers")
        hx.legend(loc="upper center")
    return fig


def fig_roc(res: Results) -> Figure:
    from sklearn.metrics import roc_auc_score, roc_curve

    oof = res["oof_predictions"]
    y = oof["y_true"].to_numpy()
    models = [m for m in MODEL_LABELS if m in oof.columns] + [c for c in oof.columns
                                                               if c not in MODEL_LABELS and c not in ("id", "y_true")]
    with _style():
        fig = _figure(4.0)
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], color=OKABE_ITO["grey"], linewidth=0.8, linestyle=(0, (1, 2)))
        for model in models:
            fpr, tpr, _ = roc_curve(y, oof[model])
            color, style = MODEL_STYLES.get(model, (OKABE_ITO["black"], "-"))
            ax.plot(fpr, tpr, color=color, linestyle=style, linewidth=1.4 if model == "logit_spec" else 1.1,
                    label=f"{MODEL_SHORT.get(model, model)} (AUC {roc_auc_score(y, oof[model]):.3f})")
        ax.set_xlabel("False-positive rate\n(share of stable customers flagged)")
        ax.set_ylabel("True-positive rate\n(share of declines flagged)")
        ax.set_xlim(0, 1), ax.set_ylim(0, 1.01)
        fig.legend(loc="outside right center", title="Pooled out-of-fold AUC")
    return fig


def fig_benchmark(res: Results) -> Figure:
    b = res["model_benchmark"].iloc[::-1].reset_index(drop=True)
    with _style():
        fig = _figure(0.33 * len(b) + 1.0)
        ax = fig.add_subplot()
        y = np.arange(len(b))
        ax.errorbar(b["auc_mean"], y, xerr=[b["auc_mean"] - b["auc_conf_low"], b["auc_conf_high"] - b["auc_mean"]],
                    fmt="o", color=OKABE_ITO["blue"], capsize=3, label=f"mean CV AUC, corrected {CI}")
        ax.plot(b["test_auc"], y, "D", color=OKABE_ITO["orange"], markersize=5, label="single hold-out AUC")
        logit = b.loc[b["model"] == "logit_spec", "auc_mean"]
        if len(logit):
            ax.axvline(float(logit.iloc[0]), color=OKABE_ITO["grey"], linestyle="--", linewidth=0.8,
                       label="chosen logit, mean CV AUC")
        ax.set_yticks(y, [MODEL_SHORT.get(m, m) for m in b["model"]])
        ax.set_xlabel("ROC AUC")
        fig.legend(loc="outside lower center", ncols=2)
    return fig


def fig_profit_at_risk(res: Results) -> Figure:
    """The executive-summary figure: profit at risk and customers of the four risk × profit segments."""
    grid = res["segments"][res["segments"]["kind"] == "grid"].set_index("segment")
    order = [s for s in GRID_SEGMENTS if s in grid.index][::-1]
    with _style():
        fig = _figure(1.75)
        ax = fig.add_subplot()
        y = np.arange(len(order))
        values = grid.loc[order, "profit_at_risk"].to_numpy(float)
        ax.barh(y, values, color=[SEGMENT_COLORS[s] for s in order], height=0.65)
        for yi, seg, v in zip(y, order, values):
            ax.text(v, yi, f"  {v:,.0f}  ({fmt_int(grid.loc[seg, 'n_customers'])} customers)", va="center",
                    fontsize=8.5)
        ax.set_yticks(y, [segment_label(s) for s in order])
        ax.set_xlim(0, values.max() * 1.45)
        ax.set_xlabel("Expected profit at risk per month, Σ P(decline) × profit (profit units, as exported)")
    return fig


def fig_risk_profit(res: Results) -> Figure:
    o = res["offers"]
    th = thresholds(res)
    rng = np.random.default_rng(0)
    jitter = rng.uniform(-0.02, 0.02, len(o))  # profit has two decimals; a little jitter shows overlapping points
    with _style():
        fig = _figure(3.9)
        ax = fig.add_subplot()
        for seg in GRID_SEGMENTS:
            sel = (o["segment"] == seg).to_numpy()
            ax.scatter(o["p_decline"][sel], o["profit"][sel] + jitter[sel], s=7, alpha=0.7,
                       color=SEGMENT_COLORS[seg], label=f"{segment_label(seg)} ({fmt_int(sel.sum())})", linewidths=0)
        ax.axvline(th["risk"], color="black", linestyle="--", linewidth=0.9)
        ax.axhline(th["profit"], color="black", linestyle=":", linewidth=0.9)
        ax.text(th["risk"], ax.get_ylim()[1], f" risk threshold {th['risk']:.2f}", va="top", ha="left", fontsize=8)
        ax.text(th["risk"] + 0.01, th["profit"], f"profit threshold {th['profit']:.2f}", va="bottom", ha="left", fontsize=8,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1})
        ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel("P(decline), out-of-fold logit")
        ax.set_ylabel("Average monthly profit (units as exported)")
        fig.legend(loc="outside lower center", ncols=2, markerscale=2.5)
    return fig


def fig_scenarios(res: Results, group: str = ALL_HIGH_RISK) -> Figure:
    s = res["scenarios"]
    s = s[s["segment"] == group].sort_values("customers_kept").reset_index(drop=True)
    recs = res["recommendations"]
    recommended = set(recs.loc[recs["segment"] == group, "lever"])
    significant = (s["p_value"] < ALPHA) & (s["customers_kept_low"] > 0)
    colors = [OKABE_ITO["blue"] if lever in recommended else (OKABE_ITO["sky"] if sig else OKABE_ITO["grey"])
              for lever, sig in zip(s["lever"], significant)]
    top = int(recs["rank"].max()) if len(recs) else 0
    with _style():
        fig = _figure(0.33 * len(s) + 1.3)
        axes = fig.subplots(1, 2, sharey=True)
        y = np.arange(len(s))
        for ax, column, title in ((axes[0], "customers_kept", "Customers kept"),
                                  (axes[1], "profit_retained", "Profit retained per month")):
            est, lo, hi = s[column], s[f"{column}_low"], s[f"{column}_high"]
            ax.barh(y, est, color=colors, height=0.6)
            ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="none", ecolor="black", capsize=2, linewidth=0.9)
            ax.axvline(0, color="black", linewidth=0.8)
            ax.set_title(title)
            ax.set_xlabel("customers (expected)" if column == "customers_kept" else "profit units, as exported")
        axes[0].set_yticks(y, [lever_label(v) for v in s["lever"]])
        from matplotlib.patches import Patch
        fig.legend([Patch(color=OKABE_ITO["blue"]), Patch(color=OKABE_ITO["sky"]), Patch(color=OKABE_ITO["grey"])],
                   [f"recommended (best {top})", "significant, not among the best", f"not significant (p ≥ {ALPHA:g})"],
                   loc="outside lower center", ncols=3)
    return fig
