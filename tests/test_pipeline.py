"""The analysis pipeline on synthetic exports: every results table, segments, scenarios, offers and scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import segments
from analysis.features import linear_formula, model_frame
from analysis.paths import MODEL_PATH_NAME
from analysis.pipeline import run_analysis
from analysis.report.results import REGISTRY
from analysis.synthetic import customer_table, write_exports
from stats.logit import fit_logit
from tests.conftest import run_cli

EXPECTED_COLUMNS = {
    name: list(spec.columns) for name, spec in REGISTRY.items() if not spec.open_columns
}
SCORE_COLUMNS = ["id", "p_decline", "profit", "segment", "offer", "risk_drop", "reason"]
MODELS = ["logit_selected", "logit_linear", "logit_floor", "gam_engagement", "logit_l2", "svc_rbf", "random_forest",
          "decision_tree", "knn"]


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("pipeline")
    data_dir = base / "export"
    write_exports(data_dir, n_customers=500, seed=11, zero_revenue_customers=2, extreme_revenue_customers=1)
    results = base / "results"
    run_analysis(data_dir=data_dir, results_dir=results, seed=3, quick=True, n_jobs=1)
    tables = {p.stem: pd.read_csv(p) for p in results.glob("*.csv")}
    return data_dir, results, tables


def test_typical_every_table_written(synthetic_run):
    _, results, tables = synthetic_run
    for name, columns in EXPECTED_COLUMNS.items():
        assert list(tables[name].columns) == columns, name
    assert (results / MODEL_PATH_NAME).exists() and not list(results.glob("*.pkl"))
    assert set(MODELS) <= set(tables["model_benchmark"]["model"])
    chosen = tables["model_candidates"].query("chosen")
    assert len(chosen) == 1 and set(tables["model_candidates"]["model"]) <= set(tables["model_benchmark"]["model"])
    assert set(tables) == set(REGISTRY)  # every table written is documented, every documented table written
    assert tables["row_accounting"]["rows_out"].iloc[-1] == 497


def test_oof_predictions_cover_every_customer(synthetic_run):
    _, _, tables = synthetic_run
    oof = tables["oof_predictions"]
    assert list(oof.columns[:3]) == ["id", "y_true", "p_chosen"] and set(MODELS) <= set(oof.columns)
    assert len(oof) == 497 and oof["id"].is_unique
    assert oof[MODELS].notna().all().all() and ((oof[MODELS] >= 0) & (oof[MODELS] <= 1)).all().all()
    chosen = tables["model_candidates"].query("chosen")["model"].iloc[0]
    np.testing.assert_array_equal(oof["p_chosen"], oof[chosen])


def test_segment_counts_add_up(synthetic_run):
    _, _, tables = synthetic_run
    grid = tables["segments"].query("kind == 'grid'")
    assert grid["n_customers"].sum() == len(tables["oof_predictions"])
    assert grid["share"].sum() == pytest.approx(1.0)
    offers = tables["offers"]
    assert offers.groupby("segment").size().to_dict() == dict(zip(grid["segment"], grid["n_customers"]))


def test_profit_at_risk_equals_hand_computation(synthetic_run):
    _, _, tables = synthetic_run
    oof = tables["oof_predictions"].merge(tables["customer_table"][["id", "profit"]], on="id")
    by_hand = {}
    offers = tables["offers"].set_index("id")
    for segment, rows in oof.groupby(offers.loc[oof["id"], "segment"].to_numpy()):
        by_hand[segment] = float((rows["p_chosen"] * rows["profit"]).sum())
    grid = tables["segments"].query("kind == 'grid'").set_index("segment")["profit_at_risk_upper"]
    for segment, value in by_hand.items():
        assert grid[segment] == pytest.approx(value, rel=1e-10)


def _logit_link(frame):
    from stats.link_margins import logit_link_model
    from stats.margins import _design

    result = fit_logit(f"activity_decline ~ {linear_formula()}", frame)
    return result, logit_link_model(lambda f: _design(result, f), result.params, result.cov_params())


def test_offers_deterministic(synthetic_run):
    table = model_frame(customer_table(500, 11, zero_revenue_customers=2, extreme_revenue_customers=1))
    table = table[(table[["revenue_prev2", "revenue_prev", "revenue_current"]] > 0).all(axis=1)]
    _, link = _logit_link(table)
    p = link.predict(table)
    y = table["activity_decline"].to_numpy()
    a = segments.segment_analysis(table, link, p, y, link.predict)
    b = segments.segment_analysis(table, link, p, y, link.predict)
    pd.testing.assert_frame_equal(a.tables["offers"], b.tables["offers"])
    pd.testing.assert_frame_equal(a.tables["scenarios"], b.tables["scenarios"])


def test_offers_and_recommendations_use_store_actions_only(synthetic_run):
    _, _, tables = synthetic_run
    engagement = {lever.name for lever in segments.ENGAGEMENT}
    assert not engagement & set(tables["offers"]["offer"])
    assert not engagement & set(tables["recommendations"]["action"])
    assert not engagement & set(tables["scenarios"]["action"])
    assert set(tables["engagement_associations"]["outcome"]) == engagement
    assert "customers_kept" not in tables["engagement_associations"].columns


def test_scenario_holm_adjustment_matches_statsmodels(synthetic_run):
    from statsmodels.stats.multitest import multipletests

    _, _, tables = synthetic_run
    sc = tables["scenarios"].dropna(subset=["p_value"])
    np.testing.assert_allclose(sc["p_value_holm"], multipletests(sc["p_value"], method="holm")[1], rtol=1e-12)
    rec = sc[sc["recommended"]]
    assert (rec["p_value_holm"] < segments.ALPHA).all() and (rec["conf_high"] < 0).all()


def test_offer_drop_is_measured_from_the_labelled_probability():
    table = model_frame(customer_table(800, 5))
    result, link = _logit_link(table)
    from analysis.model import ModelPair, label_consistent_predict

    pair = ModelPair("logit_linear", "logit_linear", link, link, lambda f: link.design(f) @ link.params, None,
                     result)
    rng = np.random.default_rng(0)
    p_label = np.clip(link.predict(table) + rng.normal(0, 0.05, len(table)), 0.01, 0.99)
    predict = label_consistent_predict(pair, table, p_label)
    np.testing.assert_allclose(predict(table), p_label, rtol=1e-12)
    thresholds = segments.make_thresholds(table["profit"].to_numpy())
    offers = segments.customer_offers(table, predict, p_label, thresholds, ["cart_reminder", "more_marketing"],
                                      segments.lever_bounds(table))
    # oracle: for each high-risk customer, recompute every allowed action's drop independently
    from scipy.special import expit, logit

    eta = link.design(table) @ link.params
    best = np.zeros(len(table))
    for name in ["cart_reminder", "more_marketing"]:
        cf, room = segments.apply_lever(table, segments.LEVER_BY_NAME[name], segments.lever_bounds(table))
        drop = p_label - expit(logit(p_label) + link.design(cf) @ link.params - eta)
        best = np.maximum(best, np.where(room, drop, 0.0))
    high = p_label >= thresholds.risk
    np.testing.assert_allclose(offers.loc[high, "risk_drop"], best[high], rtol=1e-9, atol=1e-12)
    assert (offers.loc[high & (best > 0), "risk_drop"] > 0).all()


def test_zero_effect_action_shows_no_significant_change():
    # In the synthetic process marketing_current has a true coefficient of exactly zero.
    frame = model_frame(customer_table(6000, 21))
    _, link = _logit_link(frame)
    groups = {"all": np.ones(len(frame), dtype=bool)}
    bounds = segments.lever_bounds(frame)
    table = segments.scenarios(frame, link, groups, bounds, levers=segments.LEVERS).set_index("action")
    assert table.loc["marketing_this_month", "p_value"] > 0.05
    assert table.loc["marketing_this_month", "customers_kept_low"] < 0 < table.loc["marketing_this_month",
                                                                                   "customers_kept_high"]
    assert not table.loc["marketing_this_month", "recommended"]
    # and an association with a real effect (pages per visit, true coefficient -0.18) is detected, but an
    # engagement outcome is never recommended
    assert table.loc["more_pages", "p_value"] < 0.001 and table.loc["more_pages", "customers_kept"] > 0
    assert not table.loc["more_pages", "recommended"]


def test_lever_respects_bounds_and_consent():
    frame = pd.DataFrame({"marketing_6m": [1.0, 6.5, 3.0], "contact_allowed": [1, 1, 0],
                          "unpaid_items": [0, 3, 1]})
    bounds = {"marketing_6m": (0.9, 6.6), "unpaid_items": (0.0, 10.0)}
    out, room = segments.apply_lever(frame, segments.LEVER_BY_NAME["more_marketing"], bounds)
    assert out["marketing_6m"].tolist() == [2.0, 6.6, 3.0] and room.tolist() == [True, True, False]
    out, room = segments.apply_lever(frame, segments.LEVER_BY_NAME["cart_reminder"], bounds)
    assert out["unpaid_items"].tolist() == [0, 2, 0] and room.tolist() == [False, True, True]


def test_thresholds_raise_on_bad_values():
    with pytest.raises(ValueError, match="risk threshold must be in \\(0, 1\\), got 1.5"):
        segments.make_thresholds(np.array([1.0, 2.0]), risk=1.5)


def test_score_new_export_without_target(synthetic_run, tmp_path):
    _, results, _ = synthetic_run
    new = tmp_path / "new"
    write_exports(new, n_customers=300, seed=99, with_target=False, zero_revenue_customers=1)
    out = tmp_path / "offers.csv"
    code, stdout, stderr = run_cli("score", "--data-dir", str(new), "--results-dir", str(results), "--out", str(out))
    assert code == 0, stderr
    offers = pd.read_csv(out)
    assert list(offers.columns) == SCORE_COLUMNS
    assert len(offers) == 300 and offers["id"].is_unique  # no customer silently lost
    assert (offers["segment"] == "not_scored").sum() == 1
    scored = offers[offers["segment"] != "not_scored"]
    assert scored["p_decline"].between(0, 1).all()


def test_score_raises_without_model(tmp_path):
    new = tmp_path / "new"
    write_exports(new, n_customers=50, seed=1, with_target=False)
    code, _, stderr = run_cli("score", "--data-dir", str(new), "--results-dir", str(tmp_path / "none"),
                              "--out", str(tmp_path / "o.csv"))
    assert code == 2
    assert stderr.strip().splitlines() == [
        f"error: no fitted model at {tmp_path / 'none' / MODEL_PATH_NAME}: run `python -m analysis run` first"]


def test_score_raises_on_invalid_export(synthetic_run, tmp_path):
    _, results, _ = synthetic_run
    new = tmp_path / "bad"
    write_exports(new, n_customers=50, seed=1, with_target=False)
    (new / "money.csv").unlink()
    code, _, stderr = run_cli("score", "--data-dir", str(new), "--results-dir", str(results),
                              "--out", str(tmp_path / "o.csv"))
    assert code == 2 and stderr.startswith("error: money.csv: file not found")
