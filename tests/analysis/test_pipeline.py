"""The analysis pipeline on synthetic exports: every results table, segments, scenarios, offers and scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.settings import FULL, QUICK
from analysis import segments
from analysis.decisions import actions
from analysis.modeling.features import linear_formula, model_frame
from analysis.paths import MODEL_PATH_NAME
from analysis.pipeline import run_analysis
from analysis.results.registry import REGISTRY
from analysis.data.synthetic import customer_table, write_exports
from stats.logit import fit_logit
from tests.conftest import run_cli
from tests.support_oracle import moved

EXPECTED_COLUMNS = {
    name: list(spec.columns) for name, spec in REGISTRY.items() if not spec.open_columns
}
SCORE_COLUMNS = ["id", "p_decline", "profit", "segment", "offer", "risk_drop", "risk_drop_conf_low",
                 "risk_drop_conf_high", "reason"]
MODELS = ["logit_selected", "logit_linear", "logit_floor", "gam_engagement", "logit_promo_flexible", "logit_l2", "svc_rbf", "random_forest",
          "decision_tree", "knn"]


#: the run's protocol: quick, with a risk threshold other than the default (it must reach every stage)
PROTOCOL = QUICK.replace(seed=3, n_jobs=1, risk_threshold=0.55)


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("pipeline")
    data_dir = base / "export"
    write_exports(data_dir, n_customers=500, seed=11, zero_revenue_customers=2, extreme_revenue_customers=1)
    results = base / "results"
    run_analysis(data_dir=data_dir, results_dir=results, protocol=PROTOCOL)
    tables = {p.stem: pd.read_csv(p) for p in results.glob("*.csv")}
    return data_dir, results, tables


def test_typical_every_table_written(pipeline_run):
    _, results, tables = pipeline_run
    for name, columns in EXPECTED_COLUMNS.items():
        assert list(tables[name].columns) == columns, name
    assert (results / MODEL_PATH_NAME).exists() and not list(results.glob("*.pkl"))
    assert set(MODELS) <= set(tables["model_benchmark"]["model"])
    chosen = tables["model_candidates"].query("chosen")
    assert len(chosen) == 1 and set(tables["model_candidates"]["model"]) <= set(tables["model_benchmark"]["model"])
    assert set(tables) == set(REGISTRY)  # every table written is documented, every documented table written
    assert tables["row_accounting"]["rows_out"].iloc[-1] == 497


def test_oof_predictions_cover_every_customer(pipeline_run):
    _, _, tables = pipeline_run
    oof = tables["oof_predictions"]
    assert list(oof.columns[:3]) == ["id", "y_true", "p_chosen"] and set(MODELS) <= set(oof.columns)
    assert len(oof) == 497 and oof["id"].is_unique
    assert oof[MODELS].notna().all().all() and ((oof[MODELS] >= 0) & (oof[MODELS] <= 1)).all().all()
    chosen = tables["model_candidates"].query("chosen")["model"].iloc[0]
    np.testing.assert_array_equal(oof["p_chosen"], oof[chosen])


def test_segment_counts_add_up(pipeline_run):
    _, _, tables = pipeline_run
    grid = tables["segments"].query("kind == 'grid'")
    assert grid["n_customers"].sum() == len(tables["oof_predictions"])
    assert grid["share"].sum() == pytest.approx(1.0)
    offers = tables["offers"]
    assert offers.groupby("segment").size().to_dict() == dict(zip(grid["segment"], grid["n_customers"]))


def test_profit_at_risk_equals_hand_computation(pipeline_run):
    _, _, tables = pipeline_run
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
    from stats.margins import result_design

    result = fit_logit(f"activity_decline ~ {linear_formula()}", frame)
    return result, logit_link_model(lambda f: result_design(result, f), result.params, result.cov_params())


def test_offers_deterministic(pipeline_run):
    table = model_frame(customer_table(500, 11, zero_revenue_customers=2, extreme_revenue_customers=1))
    table = table[(table[["revenue_prev2", "revenue_prev", "revenue_current"]] > 0).all(axis=1)]
    _, link = _logit_link(table)
    p = link.predict(table)
    y = table["activity_decline"].to_numpy()
    a = segments.segment_analysis(table, p, y)
    b = segments.segment_analysis(table, p, y)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    reference = actions.support_reference(table)
    names = [lever.name for lever in actions.STORE_ACTIONS]
    first, second = (actions.customer_offers(table, link.predict, p, a.thresholds, names, reference)
                     for _ in range(2))
    pd.testing.assert_frame_equal(first, second)
    pd.testing.assert_frame_equal(actions.scenarios(table, link, a.groups, reference),
                                  actions.scenarios(table, link, b.groups, reference))


def test_offers_and_recommendations_use_store_actions_only(pipeline_run):
    _, _, tables = pipeline_run
    store = {lever.name for lever in actions.STORE_ACTIONS}
    assumed = {lever.name for lever in actions.ASSUMED_ACTIONS}
    engagement = {lever.name for lever in actions.ENGAGEMENT}
    assert set(tables["offers"]["offer"]) - {"none", "personal_contact"} <= store
    assert set(tables["recommendations"]["action"]) <= store
    assert set(tables["scenarios"]["action"]) == store and set(tables["scenarios"]["kind"]) == {"action"}
    # an action that rests on an assumption has its own table, with the assumption stated on every row
    scen = tables["assumption_scenarios"]
    assert set(scen["action"]) == assumed and set(scen["kind"]) == {"assumption"}
    assert all(scen["assumption"] == scen["action"].map(lambda a: actions.LEVER_BY_NAME[a].assumption))
    assert set(tables["action_effects"]["action"]) == store | assumed
    assert set(tables["effects_by_model"]["action"]) == store | assumed
    assert set(tables["engagement_associations"]["outcome"]) == engagement
    assert "customers_kept" not in tables["engagement_associations"].columns
    assert set(tables["action_tests"]["action"]) == store
    # the offers use the actions the tests offer, and nothing else
    tests = tables["action_tests"].set_index("action")
    offered = set(tests.index[tests["offered"].astype(bool)])
    assert set(tables["allowed_levers"]["action"]) == offered
    assert set(tables["offers"]["offer"]) - {"none", "personal_contact"} <= offered
    assert set(tables["recommendations"]["action"]) <= offered


def test_action_tests_holm_over_the_store_actions_and_robust_over_the_tied_models(pipeline_run):
    """The rule of analysis.decisions.actions.action_tests applied to the run's own tables: Holm over the two store actions
    (not over groups × actions), robustness from the delta-method AME intervals of the tied candidates, the
    bootstrap interval of the business model for the offer."""
    from scipy.stats import norm

    _, _, tables = pipeline_run
    tests = tables["action_tests"].set_index("action")
    assert list(tests.index) == [lever.name for lever in actions.STORE_ACTIONS]
    p = 2 * norm.sf(np.abs(tests["estimate"] / tests["std_error"]))
    np.testing.assert_allclose(tests["p_value"], p, rtol=1e-10)
    lo, hi = sorted(p)
    holm = {min(p): min(1, 2 * lo), max(p): min(1, max(2 * lo, hi))}
    np.testing.assert_allclose(tests["p_value_holm"], [holm[v] for v in p], rtol=1e-12)
    candidates = tables["model_candidates"]
    tied = set(candidates.loc[candidates["tied"].astype(bool), "model"])
    by_model = tables["effects_by_model"]
    for action, row in tests.iterrows():
        rows = by_model[(by_model["action"] == action) & (by_model["quantity"] == "ame")
                        & (by_model["interval"] == "delta") & by_model["model"].isin(tied)]
        assert row["n_models_tied"] == len(rows) == len(tied & set(by_model["model"]))
        assert row["robust"] == bool(len(rows) and (rows["conf_high"] < 0).all())
        assert row["offered"] == bool(row["p_value_holm"] < FULL.alpha and row["conf_high"] < 0)
        assert row["recommended"] == bool(row["offered"] and row["robust"])
        # the business model's bootstrap AME beside its delta SE
        boot = by_model[(by_model["action"] == action) & (by_model["quantity"] == "ame")
                        & (by_model["interval"] == "bootstrap")].iloc[0]
        assert (boot["estimate"], boot["conf_low"], boot["conf_high"]) == pytest.approx(
            (row["estimate"], row["conf_low"], row["conf_high"]), rel=1e-12)


def test_saved_model_carries_the_support_reference_and_the_offered_actions(pipeline_run):
    from analysis.modeling import model_file

    _, results, tables = pipeline_run
    spec = model_file.load_model(results / MODEL_PATH_NAME)
    frame = model_frame(tables["customer_table"])
    assert spec["support"] == actions.support_reference(frame)
    assert spec["allowed_levers"] == tables["allowed_levers"]["action"].tolist()


def test_offer_plan_adds_up_the_offers(pipeline_run):
    _, _, tables = pipeline_run
    offers, plan = tables["offers"], tables["offer_plan"].set_index("offer")
    risk = float(tables["segment_thresholds"].set_index("threshold").loc["risk", "value"])
    high = offers[offers["p_decline"] >= risk]
    assert plan.index[-1] == "total" and plan.loc["total", "n_customers"] == len(high)
    for name, rows in [*high.groupby("offer"), ("total", high)]:
        row = plan.loc[name]
        assert row["n_customers"] == len(rows)
        assert row["expected_declines"] == pytest.approx(rows["p_decline"].sum(), rel=1e-12)
        assert row["profit_at_risk_upper"] == pytest.approx((rows["p_decline"] * rows["profit"]).sum(), rel=1e-12)
        assert row["customers_kept"] == pytest.approx(rows["risk_drop"].sum(), rel=1e-12, abs=1e-15)
        assert row["profit_retained_upper"] == pytest.approx((rows["risk_drop"] * rows["profit"]).sum(), rel=1e-12,
                                                             abs=1e-15)
    # every offered drop has an interval around it; the others have none
    offered = offers["risk_drop"] > 0
    assert (offers.loc[offered, "risk_drop_conf_low"] < offers.loc[offered, "risk_drop"]).all()
    assert (offers.loc[offered, "risk_drop_conf_high"] > offers.loc[offered, "risk_drop"]).all()
    assert (offers.loc[~offered, ["risk_drop_conf_low", "risk_drop_conf_high"]] == 0).all().all()


def test_offer_drop_is_the_inference_models_change():
    """p_decline (here a noisy label) decides who is at high risk; the drop is the inference model's change
    (decisions.EFFECT_SCALE), recomputed independently for every allowed action."""
    table = model_frame(customer_table(800, 5))
    result, link = _logit_link(table)
    from analysis.modeling.effects import change_std_error

    rng = np.random.default_rng(0)
    p_label = np.clip(link.predict(table) + rng.normal(0, 0.05, len(table)), 0.01, 0.99)
    thresholds = segments.make_thresholds(table["profit"].to_numpy())
    names = ["more_marketing", "marketing_this_month"]
    offers = actions.customer_offers(table, link.predict, p_label, thresholds, names, actions.support_reference(table),
                                     drop_se=change_std_error(link))
    np.testing.assert_array_equal(offers["p_decline"], p_label)
    # oracle: for each high-risk customer, recompute every allowed action's drop independently
    from scipy.special import expit

    eta = link.design(table) @ link.params
    best = np.zeros(len(table))
    for name in names:
        cf, room, _ = moved(table, actions.LEVER_BY_NAME[name], table)
        drop = expit(eta) - expit(link.design(cf) @ link.params)
        best = np.maximum(best, np.where(room, drop, 0.0))
    high = p_label >= thresholds.risk
    np.testing.assert_allclose(offers.loc[high, "risk_drop"], best[high], rtol=1e-9, atol=1e-12)
    assert (offers.loc[high & (best > 0), "risk_drop"] > 0).all()
    width = offers["risk_drop_conf_high"] - offers["risk_drop_conf_low"]
    assert (width[offers["risk_drop"] > 0] > 0).all() and (width[offers["risk_drop"] == 0] == 0).all()


def test_zero_effect_action_shows_no_significant_change():
    # In the synthetic process marketing_current has a true coefficient of exactly zero.
    from stats.link_margins import average_marginal_effects

    frame = model_frame(customer_table(6000, 21))
    _, link = _logit_link(frame)
    groups = {"all": np.ones(len(frame), dtype=bool)}
    reference = actions.support_reference(frame)
    table = actions.scenarios(frame, link, groups, reference, levers=actions.LEVERS).set_index("action")
    row = table.loc["marketing_this_month"]
    assert row["conf_low"] < 0 < row["conf_high"]
    assert row["customers_kept_low"] < 0 < row["customers_kept_high"]
    ames = average_marginal_effects(link, frame, numeric=["marketing_6m", "marketing_current"])
    ames["std_error_delta"] = ames["std_error"]
    tied = ames.assign(model="logit_linear")[["model", "variable", "conf_low", "conf_high"]]
    tests = actions.action_tests(ames, tied).set_index("action")
    assert tests.loc["marketing_this_month", "p_value_holm"] > 0.05
    assert not tests.loc["marketing_this_month", "offered"] and not tests.loc["marketing_this_month", "recommended"]
    assert tests.loc["more_marketing", "recommended"]
    # and an association with a real effect (pages per visit, true coefficient -0.18) is detected: an engagement
    # outcome is never a lever, whatever its scenario says
    assert table.loc["more_pages", "conf_high"] < 0 and table.loc["more_pages", "customers_kept"] > 0
    assert table.loc["more_pages", "kind"] == "engagement"


def test_action_respects_support_and_consent():
    training = pd.DataFrame({"marketing_6m": [2.0] * 20 + [6.6] * 20, "contact_allowed": 1,
                             "unpaid_items": [0] * 25 + [2] * 15})
    reference = actions.support_reference(training, [actions.LEVER_BY_NAME[n] for n in ("more_marketing",
                                                                                         "cart_reminder")])
    frame = pd.DataFrame({"marketing_6m": [1.0, 6.5, 1.0], "contact_allowed": [1, 1, 0], "unpaid_items": [0, 3, 1]})
    out, room, eligible = actions.apply_action(frame, actions.LEVER_BY_NAME["more_marketing"], reference)
    # 6.5 → 7.5 has no customer near it: left where it is (not clipped to 6.6); no consent, no contact
    assert out["marketing_6m"].tolist() == [2.0, 6.5, 1.0] and room.tolist() == [True, False, False]
    assert eligible.tolist() == [True, True, False]
    out, room, eligible = actions.apply_action(frame, actions.LEVER_BY_NAME["cart_reminder"], reference)
    # 0 → −1 has no support; 3 → 2 (15 customers: too few); 1 → 0 (25)
    assert out["unpaid_items"].tolist() == [0, 3, 0] and room.tolist() == [False, False, True] and eligible.all()


def test_thresholds_raise_on_bad_values():
    with pytest.raises(ValueError, match="risk threshold must be in \\(0, 1\\), got 1.5"):
        segments.make_thresholds(np.array([1.0, 2.0]), risk=1.5)


def test_score_new_export_without_target(pipeline_run, tmp_path):
    _, results, _ = pipeline_run
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


def test_score_raises_on_invalid_export(pipeline_run, tmp_path):
    _, results, _ = pipeline_run
    new = tmp_path / "bad"
    write_exports(new, n_customers=50, seed=1, with_target=False)
    (new / "money.csv").unlink()
    code, _, stderr = run_cli("score", "--data-dir", str(new), "--results-dir", str(results),
                              "--out", str(tmp_path / "o.csv"))
    assert code == 2 and stderr.startswith("error: money.csv: file not found")


def test_the_protocol_reaches_every_stage(pipeline_run):
    """A setting passed in the protocol object is the one the stages use and the one the tables state."""
    _, results, tables = pipeline_run
    stated = tables["protocol"].set_index("name")["value"]
    assert float(stated["risk_threshold"]) == PROTOCOL.risk_threshold != FULL.risk_threshold
    assert int(stated["n_bootstrap"]) == PROTOCOL.n_bootstrap and float(stated["alpha"]) == PROTOCOL.alpha
    assert float(tables["segment_thresholds"].set_index("threshold").loc["risk", "value"]) == 0.55
    oof = tables["oof_predictions"]
    high = tables["customer_groups"].query("group == 'high_risk_all'")["id"]
    assert set(high) == set(oof.loc[oof["p_chosen"] >= 0.55, "id"])
    assert len(tables["bootstrap_replicates"]) == PROTOCOL.n_bootstrap


def test_results_folder_explains_itself(pipeline_run):
    """results/README.md is written by every run, from the registry, and is docs/results.md."""
    from analysis.paths import ROOT
    from analysis.results.registry import results_markdown

    _, results, _ = pipeline_run
    text = (results / "README.md").read_text(encoding="utf-8")
    assert text == results_markdown() == (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    for name in REGISTRY:
        assert f"`{name}.csv`" in text
