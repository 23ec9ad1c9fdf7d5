"""Tests of analysis.report (labels, formats, headline numbers) and of report.qmd rendered end to end.

The unit tests use the real results in ``results/`` when a complete run is there, else the synthetic run that
the end-to-end test makes anyway (one per session). The end-to-end test writes a small synthetic export, runs
the quick pipeline, renders report.qmd with ``ONECLICK_RESULTS_DIR`` pointing at it and checks the HTML and
PDF: every heading and caption present, and every number of the executive summary equal to the value
recomputed from the results tables.
"""

from __future__ import annotations

import html as html_lib
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import report as R
from analysis.paths import RESULTS_DIR

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "report.qmd"


# ---------------------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------------------


# ``synthetic_run`` (quick pipeline on a small synthetic export) is in conftest.py: the brief's tests share it.


@pytest.fixture(scope="session")
def results_dir(synthetic_run) -> Path:
    """The session's quick run on a synthetic export: the outcome never depends on the checkout's results/."""
    return synthetic_run


@pytest.fixture(scope="session")
def results(results_dir) -> R.Results:
    return R.load_results(results_dir)


# ---------------------------------------------------------------------------------------------------------
# Independent recomputation of the headline numbers from the CSV files
# ---------------------------------------------------------------------------------------------------------


def recompute_headline(directory: Path) -> dict:
    """The executive-summary numbers straight from the CSVs, without analysis.report or analysis.summary."""
    read = lambda name: pd.read_csv(directory / f"{name}.csv")  # noqa: E731
    customers, oof, thresholds = read("customer_table"), read("oof_predictions"), read("segment_thresholds")
    candidates = read("model_candidates")
    business = str(candidates.loc[candidates["chosen"].astype(str).str.lower() == "true", "model"].iloc[0])
    risk = float(thresholds.loc[thresholds["threshold"] == "risk", "value"].iloc[0])
    merged = customers[["id", "profit"]].merge(oof[["id", business]], on="id", validate="one_to_one")
    at_risk = merged[business] * merged["profit"]
    high = merged[business] >= risk
    segments = read("segments")
    grid = segments[segments["kind"] == "grid"]
    top = grid.loc[grid["profit_at_risk_upper"].idxmax()]
    bench = read("model_benchmark").set_index("model")
    scen = read("scenarios")
    first = scen[(scen["group"] == "high_risk_all") & (scen["action"] == "more_marketing")].iloc[0]
    # the offer plan by hand from the offers: what the offered customers' risk drops add up to
    offers = read("offers")
    offers_high = offers[offers["p_decline"] >= risk]
    offered = offers_high[~offers_high["offer"].isin(["none", "personal_contact"])]
    # the counts the prose quotes, each from its own table
    accounting, typos, comparison = read("row_accounting"), read("typo_corrections"), read("model_comparison")
    alpha = float(read("protocol").set_index("name").loc["alpha", "value"])
    promotion = float(thresholds.loc[thresholds["threshold"] == "promotion", "value"].iloc[0])
    removed = dict(zip(accounting["step"], accounting["removed"]))
    return {
        "n_duplicate_rows": sum(int(v) for k, v in removed.items() if k.startswith("read ")),
        "n_typo_labels": len(typos), "n_typo_cells": int(typos["rows"].sum()) if len(typos) else 0,
        "n_not_regular": int(removed.get("regular_customer", 0)),
        "n_extreme_revenue": int(removed.get("extreme_revenue", 0)),
        "share_promo_upper": float(np.mean(customers["promo_share"].to_numpy() >= promotion)),
        "n_vif_flagged": int(sum(str(x).lower() == "true" for x in read("vif")["flagged"])),
        "n_comparison_pairs": len(comparison),
        "n_pairs_significant": int((comparison["p_value"] < alpha).sum()),
        "n_pairs_significant_holm": int((comparison["p_value_holm"] < alpha).sum()),
        "n_customers": len(customers),
        "n_high_risk": int(high.sum()),
        "share_high_risk": float(high.mean()),
        "profit_at_risk_upper_total": float(at_risk.sum()),
        "profit_at_risk_upper_high_risk": float(at_risk[high].sum()),
        "grid_profit_at_risk_total": float(grid["profit_at_risk_upper"].sum()),
        "top_segment": str(top["segment"]),
        "top_segment_n": int(top["n_customers"]),
        "top_segment_profit_at_risk_upper": float(top["profit_at_risk_upper"]),
        "best_model": str(bench["auc_mean"].idxmax()),
        "best_auc": float(bench["auc_mean"].max()),
        "business_auc": float(bench.loc[business, "auc_mean"]),
        "business_model": business,
        "first_action": str(first["action"]),
        "first_n": int(first["n_with_room"]),
        "first_kept": float(first["customers_kept"]),
        "first_profit_low": float(first["profit_retained_upper_low"]),
        "first_profit_high": float(first["profit_retained_upper_high"]),
        "n_offered": len(offered),
        "plan_kept": float(offered["risk_drop"].sum()),
        "plan_profit": float((offered["risk_drop"] * offered["profit"]).sum()),
        "plan_declines": float(offers_high["p_decline"].sum()),
        "plan_share": float((offered["risk_drop"] * offered["profit"]).sum()
                            / (offers_high["p_decline"] * offers_high["profit"]).sum()),
        "decline_rate": float(customers["activity_decline"].mean()),
    }


def check_headline(h: dict, expected: dict) -> None:
    for key in ("n_customers", "n_high_risk", "top_segment", "top_segment_n", "best_model", "business_model",
                "n_duplicate_rows", "n_typo_labels", "n_typo_cells", "n_not_regular", "n_extreme_revenue",
                "n_vif_flagged", "n_comparison_pairs", "n_pairs_significant", "n_pairs_significant_holm"):
        assert h[key] == expected[key], key
    for key in ("share_high_risk", "profit_at_risk_upper_total", "profit_at_risk_upper_high_risk",
                "top_segment_profit_at_risk_upper", "best_auc", "business_auc", "decline_rate", "share_promo_upper"):
        assert h[key] == pytest.approx(expected[key], rel=1e-9), key
    # the segment table and the per-customer probabilities tell the same story
    assert h["profit_at_risk_upper_total"] == pytest.approx(expected["grid_profit_at_risk_total"], rel=1e-9)
    if h["best_model"] != h["business_model"]:
        assert h["auc_diff"] == pytest.approx(expected["business_auc"] - expected["best_auc"], abs=1e-9)
    a = {x["action"]: x for x in h["actions"]}[expected["first_action"]]
    assert a["n_treated"] == expected["first_n"]
    assert a["customers_kept"] == pytest.approx(expected["first_kept"], rel=1e-8)
    assert (a["profit_retained_month_low"], a["profit_retained_month_high"]) == pytest.approx(
        (expected["first_profit_low"], expected["first_profit_high"]), rel=1e-9)
    assert h["n_offered"] == expected["n_offered"]
    for key in ("plan_kept", "plan_declines", "plan_share"):
        name = {"plan_kept": "plan_customers_kept", "plan_declines": "plan_expected_declines",
                "plan_share": "plan_share_of_profit_at_risk"}[key]
        assert h[name] == pytest.approx(expected[key], rel=1e-9, abs=1e-12), key
    assert h["plan_profit_retained"] == pytest.approx(expected["plan_profit"], rel=1e-9, abs=1e-12)


# ---------------------------------------------------------------------------------------------------------
# Labels and formats
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("term, expected", [
    ("C(popular_category, Treatment('kids_goods'))[T.home_textiles]", "Popular category: Home textiles (vs Kids' goods)"),
    ("C(service_type, Treatment('standard'))[T.premium]", "Service type: Premium (vs Standard)"),
    ("C(contact_allowed, Treatment(0))[T.1]", "Consent to offers: yes (vs no)"),
    ("C(popular_category, Treatment('kids_goods'))", "Popular category"),
    ("cr(pages_per_visit, df=4)[2]", "Pages per visit, spline basis 3"),
    ("cr(pages_per_visit, df=4, constraints='center')[2]", "Pages per visit, spline basis 3"),
    ("cr(minutes_prev, df=4, constraints='center')", "Minutes on site, previous month (natural cubic spline, df = 4)"),
    ("I(pages_per_visit - 8.0):I(minutes_current - 13.0)",
     "Pages per visit × Minutes on site, current month (centred)"),
    ("floor_gamma", "Floor γ (lowest probability)"),
    ("cr(pages_per_visit, df=4)", "Pages per visit (natural cubic spline, df = 4)"),
    ("spline(minutes_prev)", "Spline in minutes on site, previous month"),
    ("pages_per_visit:minutes_current", "Pages per visit × Minutes on site, current month"),
    ("promo_share_10pp", "Promotional share"),
    ("Intercept", "Intercept"),
    ("something_new", "Something new"),
])
def test_term_label(term, expected):
    assert R.term_label(term) == expected


def test_contrast_segment_and_action_labels():
    assert R.contrast_label("popular_category", "small_appliances_electronics - kids_goods") == \
        "Popular category: Small appliances & electronics (vs Kids' goods)"
    assert R.contrast_label("marketing_6m", "dY/dX") == "Marketing, 6-month average"
    assert R.lever_label("less_promotion") == "Fewer promotional mailings (assumed: −10 pp promotional share)"
    assert R.lever_label("cart_reminder") == "Cart reminder (assumed: −1 unpaid item)"
    assert R.lever_label("more_marketing", short=True) == "+1 contact/month (6 months)"
    assert R.lever_label("none") == "None (standard communication)"
    assert R.segment_label("high_risk_high_profit") == "High risk, high profit"
    assert R.segment_label("high_risk_promo") == "High risk, promotion-dependent"
    assert R.model_label("gam_engagement_recalibrated", short=True) == "GAM, recal."


def test_display_labels_are_one_map():
    assert R.label("std_error") == "Std. error"
    assert R.label("p_value") == "p"
    frame = R.relabel(pd.DataFrame({"std_error": [1], "Already shown": [2]}))
    assert list(frame.columns) == ["Std. error", "Already shown"]


def test_number_formats():
    assert R.fmt_int(1296) == "1,296"
    assert R.fmt_pct(0.3248) == "32.5%"
    assert R.fmt_num(-0.0456, 3) == "−0.046"
    assert R.fmt_p(0.0004) == "<\u00a00.001" and R.fmt_p(0.0371) == "0.037" and R.fmt_p(np.nan) == "—"
    assert R.fmt_ci(0.1, 0.25, 1, 100) == "10.0 to 25.0"
    assert R.fmt_est_ci(35.65, 24.8, 46.5, 1) == "35.6 (24.8 to 46.5)"
    assert R.fmt_big(2.3e5) == "2.30e+05" and R.fmt_big(1.2e-14) == "1.20e−14"


def test_md_keeps_strings_and_aligns_numbers():
    text = R.md(pd.DataFrame({"Name": ["a|b", "c*"], "Value": ["0.050", "1,296"]})).data
    lines = text.splitlines()
    assert "0.050" in text and "1,296" in text  # no re-parsing of formatted numbers
    assert "a\\|b" in text and "c\\*" in text   # Markdown specials escaped
    assert lines[1].rstrip("|").endswith(":")  # numbers right-aligned
    wide = R.md(pd.DataFrame({"Text": ["word " * 60], "Value": ["1.0"]})).data.splitlines()
    # longer than Pandoc's (and Quarto's) 72 columns: relative widths, the text column wraps, the number keeps its width
    dashes = [len(c.strip(":")) for c in wide[1].strip("|").split("|")]
    assert len(wide[1]) > 72 and dashes[0] > 10 * dashes[1]


# that the report imports no stage module is part of the layer contract (tests/test_layers.py)


def test_results_readme_is_generated_from_registry():
    assert (ROOT / "docs" / "results.md").read_text(encoding="utf-8") == R.results_markdown()


def test_registry_refuses_undocumented_columns(tmp_path):
    with pytest.raises(ValueError, match="result table vif: columns"):
        R.write_table(pd.DataFrame({"term": ["a"], "vif": [1.0]}), tmp_path, "vif")
    with pytest.raises(ValueError, match="not in the registry"):
        R.write_table(pd.DataFrame({"a": [1]}), tmp_path, "no_such_table")
    assert not list(tmp_path.iterdir())


def test_results_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(R.RESULTS_ENV_VAR, str(tmp_path))
    assert R.resolve_results_dir() == tmp_path.resolve()
    monkeypatch.delenv(R.RESULTS_ENV_VAR)
    assert R.resolve_results_dir() == RESULTS_DIR
    from analysis.results.store import ResultsError

    with pytest.raises(ResultsError, match="no manifest.json"):  # an empty directory is refused before reading
        R.load_results(tmp_path)


# ---------------------------------------------------------------------------------------------------------
# Headline and tables on a complete run
# ---------------------------------------------------------------------------------------------------------


def test_headline_equals_values_recomputed_from_csv(results, results_dir):
    check_headline(R.headline(results), recompute_headline(results_dir))


def test_summary_strings_format_the_headline(results):
    h = R.headline(results)
    s = R.summary_strings(h)
    assert s["n_high_risk"] == f"{h['n_high_risk']:,}"
    assert s["share_high_risk"] == f"{100 * h['share_high_risk']:.1f}%"
    assert s["profit_at_risk_total"] == f"{h['profit_at_risk_upper_total']:,.0f}"
    assert s["business_auc"] == f"{h['business_auc']:.3f}"
    table = R.actions_table(results)
    assert len(table) == len(h["actions"]) == 2
    for row, a in zip(table.itertuples(index=False), h["actions"]):
        assert row[4].startswith(f"{a['customers_kept']:.1f} (")


def test_tables_and_figures_build(results):
    for name in ("sources_table", "row_accounting_table", "excluded_table", "typo_table", "vif_display",
                 "gvif_display", "specification_table", "coefficient_table", "ame_table", "fit_table",
                 "calibration_table", "influence_table", "benchmark_table", "comparison_table", "segments_table",
                 "thresholds_table", "sensitivity_table", "profiles_table", "scenarios_table",
                 "recommendations_table", "offers_table", "data_files_table", "run_times_table", "actions_table",
                 "action_tests_table", "effects_by_model_table", "assumption_scenarios_table", "action_value_table",
                 "offer_plan_table", "experiment_plan_table", "gam_coefficient_table", "gam_smooth_display",
                 "recalibration_display",
                 "candidates_table", "accuracy_gap_table", "selection_stability_table", "selection_sets_table",
                 "centring_table", "conditional_effects_table", "floor_table", "vif_fitted_display",
                 "engagement_table"):
        table = getattr(R, name)(results)
        assert isinstance(table, pd.DataFrame) and len(table.columns), name
        assert all(table[c].map(lambda v: isinstance(v, str)).all() for c in table.columns), name
    coefficients = R.coefficient_table(results)
    assert len(coefficients) == len(results["logit_coefficients"])
    assert not coefficients["Term"].str.contains(r"C\(|\[T\.|cr\(|I\(").any()  # every term in English
    for name in ("fig_profit_at_risk", "fig_class_distributions", "fig_phik_heatmap", "fig_phik_target", "fig_ame",
                 "fig_calibration", "fig_roc", "fig_benchmark", "fig_risk_profit", "fig_effects_by_model",
                 "fig_conditional_effects"):
        fig = getattr(R, name)(results)
        assert fig.get_size_inches()[0] == pytest.approx(R.WIDTH), name
        assert R.figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n", name


# ---------------------------------------------------------------------------------------------------------
# End to end: synthetic export -> pipeline -> report.qmd -> HTML + PDF
# ---------------------------------------------------------------------------------------------------------


def _normalise(text: str) -> str:
    text = html_lib.unescape(re.sub(r"<[^>]+>", " ", text))
    for a, b in (("\u00a0", " "), ("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"')):
        text = text.replace(a, b)
    return re.sub(r"\s+", " ", text)


def _qmd_parts(qmd: str) -> tuple[list[str], list[str]]:
    """Section headings and figure/table captions of the document."""
    body = qmd.split("\n---\n", 1)[1]
    prose = re.sub(r"```\{python\}.*?```", "", body, flags=re.S)
    headings = [m.group(2).strip() for m in re.finditer(r"^(#{1,3}) (.+)$", prose, flags=re.M)]
    captions = re.findall(r'^#\| (?:tbl|fig)-cap: "(.+)"$', body, flags=re.M)
    return headings, captions


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d[\d,]*(?:\.\d+)?%?", text)


@pytest.mark.slow  # renders a document
def test_report_renders_end_to_end(synthetic_run, tmp_path):
    out = tmp_path / "rendered"
    env = dict(os.environ, ONECLICK_RESULTS_DIR=str(synthetic_run), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    # --no-pre-render: the results are the synthetic run above, not the analysis that _quarto.yml would run
    proc = subprocess.run([sys.executable, "-m", "qmdrender", str(REPORT), "--output-dir", str(out),
                           "--quarto", "never", "--no-pre-render"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    html_path, pdf_path = out / "report.html", out / "report.pdf"
    assert html_path.stat().st_size > 10_000 and html_path.stat().st_size < 5_000_000
    assert pdf_path.read_bytes()[:5] == b"%PDF-" and pdf_path.stat().st_size > 10_000

    raw = html_path.read_text(encoding="utf-8")
    text = _normalise(raw)
    headings, captions = _qmd_parts(REPORT.read_text(encoding="utf-8"))
    assert len(headings) > 20 and len(captions) > 30
    for heading in headings:
        assert heading in text, f"heading {heading!r} missing"
    for caption in captions:
        assert caption in text, f"caption {caption!r} missing"
    assert "Quick protocol" in text  # the synthetic run used the quick protocol, and the report says so
    assert "?@" not in text  # every cross-reference resolved
    # citations resolved against references.bib, and the reference list at the end
    assert "(linear-programming check, Konis 2007)" in text and "(Nadeau and Bengio 2003)" in text
    assert 'id="refs"' in raw and "Linear Programming Algorithms for Detecting Separated Data" in text

    # The executive summary: its numbers are exactly the headline values of these results.
    res = R.load_results(synthetic_run)
    h = R.headline(res)
    check_headline(h, recompute_headline(synthetic_run))
    s = R.summary_strings(h)
    section = raw.split('id="executive-summary"', 1)[1].split(">", 1)[1].split('id="data"', 1)[0]
    section = re.sub(r'<span class="header-section-number">[^<]*</span>', " ", section)
    summary = re.sub(r"(Table|Figure) \d+", " ", _normalise(section))
    used = [k for k in s if k in (
        "n_customers", "n_high_risk", "share_high_risk", "risk_threshold", "profit_at_risk_total", "business_model_label",
        "share_profit_at_risk_high_risk", "profit_at_risk_high_risk", "top_segment", "top_segment_n",
        "top_segment_share", "top_segment_mean_p", "top_segment_profit_at_risk",
        "top_segment_share_of_profit_at_risk", "conf_level")]
    for key in used:
        assert s[key].replace("\u00a0", " ") in summary, f"summary value {key}={s[key]!r} missing"
    sentence = _normalise(R.summary_model_sentence(h))
    assert sentence in summary
    actions = R.actions_table(res)
    made = [*R.decision_summary(res).values(), R.experiment_summary(res)["summary"]]
    expected = " ".join([*s.values(), sentence, *made, *actions.columns, *actions.astype(str).to_numpy().ravel()])
    allowed = set(_numbers(_normalise(expected)))
    stray = [n for n in _numbers(summary) if n not in allowed]
    assert not stray, f"numbers in the executive summary that are not headline values: {stray}"
    assert "associated with" in summary and "upper bound" in summary and "next three months" in summary
    for key in ("main_effect", "main_range", "plan_kept", "plan_share", "main_per_contact", "month_effect"):
        value = R.decision_summary(res)[key]
        assert _normalise(value) in summary, f"decision value {key}={value!r} missing"

    # No engagement outcome appears as a recommended action or an offer anywhere in the rendered text.
    engagement = [R.lever_label(code) for code in R.ENGAGEMENT_CODES]
    for table_id in ("tbl-actions", "tbl-action-tests", "tbl-offers", "tbl-offer-plan", "tbl-scenarios"):
        block = raw.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
        for name in engagement + list(R.ENGAGEMENT_LABELS.values()):
            assert name.lower() not in _normalise(block).lower(), f"{name!r} in {table_id}"


@pytest.mark.slow  # renders a document
def test_rendered_report_reads_right(synthetic_run, tmp_path):
    """The rendered report has no zero-count leftovers ("0 columns are flagged", "for 0 terms (none)", "0 need a
    personal contact"), a filled profiles table, the references list and the decision tables."""
    out = tmp_path / "rendered"
    env = dict(os.environ, ONECLICK_RESULTS_DIR=str(synthetic_run), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "qmdrender", str(REPORT), "--output-dir", str(out), "--quarto",
                           "never", "--no-pre-render"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    raw = (out / "report.html").read_text(encoding="utf-8")
    text = _normalise(raw)
    for leftover in (r"\b0 columns", r"\bfor 0 terms", r"\(none\)", r"\b0 need", r"\b0 customers have",
                     r"\bIn 0 of", r"\b0 of \d+ planned", r"\b0 low-risk", r"(\d+) of these \1\b"):
        assert not re.search(leftover, text), f"zero-count or all-of leftover {leftover!r} in the report"
    block = raw.split('id="tbl-profiles"', 1)[1].split("</table>", 1)[0]
    assert block.count("<tr") >= 3, "the profiles table has no rows"
    assert "δ" in _normalise(block) and " to " in _normalise(block)
    assert 'id="refs"' in raw
    for table_id in ("tbl-action-tests", "tbl-effects-by-model", "tbl-assumptions", "tbl-action-value",
                     "tbl-offer-plan", "tbl-gam-smooths", "tbl-gam-coef", "tbl-recalibration"):
        assert f'id="{table_id}"' in raw, table_id


def test_summary_stage_gives_the_headline_recomputed_by_hand(results_dir):
    """The summary stage's functions (pure, from the result tables) against the hand recomputation: a wrong total
    or count in analysis.summary fails here even when the stored headline.csv predates it."""
    from analysis.summary import headline_actions_table, headline_table

    read = lambda name: pd.read_csv(results_dir / f"{name}.csv")  # noqa: E731
    names = ("row_accounting", "typo_corrections", "customer_table", "segment_thresholds", "offers", "segments",
             "model_candidates", "model_benchmark", "model_comparison", "accuracy_gap", "vif", "protocol",
             "offer_plan", "run_info")
    row = headline_table({n: read(n) for n in names}).iloc[0].to_dict()
    actions = headline_actions_table({n: read(n) for n in ("scenarios", "effects_by_model", "action_tests",
                                                            "action_value")})
    row["actions"] = actions.to_dict("records")
    check_headline(row, recompute_headline(results_dir))


def test_a_text_column_wraps_into_at_most_two_lines_when_numbers_crowd_it():
    """Wide number columns do not starve a text column down to a column of syllables (Table 1 of the report and
    Table 2 of the brief: "+1 con- tact/ month"): it keeps at least half its longest cell."""
    from analysis.report.formats import column_weights

    headers = ["Store action", "Reached", "Δ P(decline), pp (95% CI, bootstrap)", "Range over models, pp",
               "Customers kept (95% CI)", "Break-even per contact (95% CI)", "Decision"]
    body = [28, 3, 22, 12, 17, 22, 16]
    align = ["left", "right", "right", "right", "right", "right", "left"]
    weights = column_weights(headers, body, align)
    assert weights[0] >= (body[0] + 1) / 2 and weights[6] >= (body[6] + 1) / 2
    assert all(w >= max(len(x) for x in h.split()) for w, h in zip(weights, headers))
