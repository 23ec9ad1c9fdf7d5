"""`score` on new exports: training reference values, target ignored, new levels, no scorable customer, drift.
"""

from __future__ import annotations

import math
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy
from sklearn.model_selection import StratifiedKFold
from analysis import segments
from analysis.decisions import actions
from analysis.modeling import model_file
from analysis.scoring import memory as scoring
from analysis.data.dataset import load_dataset
from analysis.data.dictionary import TARGET_RU
from analysis.modeling.features import linear_formula, model_frame
from analysis.paths import MODEL_PATH_NAME
from stats.drift import drift_status, population_stability_index
from stats.logit import fit_logit
from tests.conftest import run_cli
from analysis.data.dictionary import TARGET
from analysis.data.synthetic import customer_table, write_exports
from tests.support_oracle import moved as _support_moved
from tests.oracles import central_jacobian


N_TRAIN = 3000


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A model file fitted on a synthetic export, as `run` writes it (out-of-fold risk from 5 folds)."""
    base = tmp_path_factory.mktemp("scoring")
    write_exports(base / "train", n_customers=N_TRAIN, seed=5, zero_revenue_customers=3,
                  extreme_revenue_customers=2)
    dataset = load_dataset(base / "train")
    frame = model_frame(dataset.model_table)
    formula = f"{TARGET} ~ {linear_formula()}"
    result = fit_logit(formula, frame)
    oof = np.empty(len(frame))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(frame, frame[TARGET]):
        oof[test] = fit_logit(formula, frame.iloc[train]).predict(frame.iloc[test])
    thresholds = segments.make_thresholds(frame["profit"].to_numpy())
    spec = model_file.freeze(result, frame, thresholds=thresholds,
                             allowed_levers=[lever.name for lever in actions.STORE_ACTIONS],
                             support=actions.support_reference(frame), rules=dataset.data.reference, oof_risk=oof)
    results = base / "results"
    model_file.save_model(results / MODEL_PATH_NAME, spec)
    return results


def _score(results: Path, data_dir: Path, out: Path, *extra: str) -> tuple[int, str, str, pd.DataFrame | None]:
    code, stdout, stderr = run_cli("score", "--data-dir", str(data_dir), "--results-dir", str(results),
                                   "--out", str(out), *extra)
    return code, stdout, stderr, pd.read_csv(out) if out.is_file() else None


def _subset_export(source: Path, target: Path, ids: set[int]) -> Path:
    """The rows of the given customers of an export, byte for byte (header kept)."""
    target.mkdir(parents=True)
    for path in source.glob("*.csv"):
        lines = path.read_bytes().split(b"\r\n")
        sep = b";" if path.name == "money.csv" else b","
        kept = [lines[0]] + [line for line in lines[1:] if line and int(line.split(sep)[0]) in ids]
        (target / path.name).write_bytes(b"\r\n".join(kept) + b"\r\n")
    return target


def _edit_market(directory: Path, edit) -> None:
    path = directory / "market_file.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(frame).to_csv(path, index=False, lineterminator="\r\n")


# --- business rules with training reference values ----------------------------------------------------
def test_one_customer_batch_scored_as_in_full_export(trained, tmp_path):
    full = tmp_path / "full"
    write_exports(full, n_customers=400, seed=31, with_target=False, extreme_revenue_customers=2,
                  zero_revenue_customers=1)
    _, _, _, offers = _score(trained, full, tmp_path / "full_offers.csv")
    extreme = offers[offers["reason"].str.startswith("extreme_revenue:", na=False)]
    assert len(extreme) == 2
    picks = [int(extreme["id"].iloc[0]), int(offers.loc[offers["segment"] != "not_scored", "id"].iloc[0])]
    for customer in picks:
        batch = _subset_export(full, tmp_path / f"one_{customer}", {customer})
        code, _, stderr, alone = _score(trained, batch, tmp_path / f"one_{customer}" / "offers.csv")
        assert code == 0, stderr
        pd.testing.assert_frame_equal(alone, offers[offers["id"] == customer].reset_index(drop=True))
    # a batch of 30 customers: the same rows as in the full export
    ids = set(offers["id"].iloc[::13].astype(int))
    code, _, _, some = _score(trained, _subset_export(full, tmp_path / "some", ids), tmp_path / "some.csv")
    pd.testing.assert_frame_equal(some, offers[offers["id"].isin(ids)].reset_index(drop=True))


def test_extreme_rule_uses_training_medians(trained, tmp_path):
    # the batch's own medians would never call a one-customer batch extreme (its ratio is 1)
    full = tmp_path / "full"
    write_exports(full, n_customers=50, seed=32, with_target=False, extreme_revenue_customers=1)
    spec = model_file.load_model(trained / MODEL_PATH_NAME)
    own = load_dataset(full, require_target=False)
    customer = int(own.data.excluded["id"].iloc[0])
    batch = _subset_export(full, tmp_path / "one", {customer})
    assert load_dataset(batch, require_target=False).data.excluded.empty  # the old, batch-dependent rule
    with_reference = load_dataset(batch, require_target=False,
                                  revenue_medians=spec["rules"]["revenue_medians"]).data.excluded
    assert with_reference["id"].tolist() == [customer] and with_reference["step"].tolist() == ["extreme_revenue"]


# --- target column ignored ------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["labels", "empty", "unknown"])
def test_target_column_ignored(trained, tmp_path, variant):
    plain = tmp_path / "plain"
    write_exports(plain, n_customers=120, seed=33, with_target=False, zero_revenue_customers=1)
    _, _, _, expected = _score(trained, plain, tmp_path / "plain.csv")
    with_target = tmp_path / variant
    write_exports(with_target, n_customers=120, seed=33, with_target=True, zero_revenue_customers=1)
    values = {"labels": None, "empty": "", "unknown": "может быть"}[variant]
    if values is not None:
        _edit_market(with_target, lambda f: f.assign(**{TARGET_RU: values}))
    code, _, stderr, offers = _score(trained, with_target, tmp_path / f"{variant}.csv")
    assert code == 0, stderr
    pd.testing.assert_frame_equal(offers, expected)


# --- nobody scorable, new levels ----------------------------------------------------------------------
def test_no_scorable_customer_lists_everyone(trained, tmp_path):
    export = tmp_path / "irregular"
    write_exports(export, n_customers=6, seed=34, with_target=False, zero_revenue_customers=6)
    code, _, stderr, offers = _score(trained, export, tmp_path / "offers.csv")
    assert code == 0
    assert [line for line in stderr.splitlines() if "no customer of the export could be scored" in line] == [
        f"warning: no customer of the export could be scored: {tmp_path / 'offers.csv'} lists all 6 with the "
        "reason"]
    assert len(offers) == 6 and (offers["segment"] == "not_scored").all()
    assert offers["reason"].str.startswith("regular_customer: zero revenue in").all()
    summary = pd.read_csv(tmp_path / "score_summary.csv", keep_default_na=False)
    counts = dict(zip(summary["quantity"] + "/" + summary["reason"], summary["customers"]))
    assert counts["customers_read/"] == 6 and counts["scored/"] == 0 and counts["not_scored/regular_customer"] == 6
    drift = pd.read_csv(tmp_path / "drift.csv")
    assert (drift["status"] == "not_computed").all()


def test_new_category_level_not_scored_others_scored(trained, tmp_path):
    plain = tmp_path / "plain"
    write_exports(plain, n_customers=200, seed=35, with_target=False)
    _, _, _, expected = _score(trained, plain, tmp_path / "plain.csv")
    edited = tmp_path / "edited"
    write_exports(edited, n_customers=200, seed=35, with_target=False)
    customer = None

    def new_level(frame):
        nonlocal customer
        customer = int(frame["id"].iloc[7])
        return frame.assign(**{"Популярная_категория": np.where(frame.index == 7, "Спорт и отдых",
                                                                  frame["Популярная_категория"])})

    _edit_market(edited, new_level)
    code, _, stderr, offers = _score(trained, edited, tmp_path / "edited.csv")
    assert code == 0, stderr
    row = offers[offers["id"] == customer].iloc[0]
    assert row["segment"] == "not_scored" and np.isnan(row["p_decline"])
    assert row["reason"] == ("new_level: popular_category = 'Спорт и отдых' is a level the model has not seen in "
                             "training")
    others = offers[offers["id"] != customer].reset_index(drop=True)
    pd.testing.assert_frame_equal(others, expected[expected["id"] != customer].reset_index(drop=True))
    summary = pd.read_csv(tmp_path / "score_summary.csv", keep_default_na=False)
    assert summary.query("quantity == 'not_scored'")[["reason", "customers"]].values.tolist() == [["new_level", 1]]


def test_malformed_category_still_refused(trained, tmp_path):
    export = tmp_path / "bad"
    write_exports(export, n_customers=30, seed=36, with_target=False)
    _edit_market(export, lambda f: f.assign(**{"Разрешить сообщать": np.where(f.index == 3, "может быть",
                                                                               f["Разрешить сообщать"])}))
    code, _, stderr, _ = _score(trained, export, tmp_path / "o.csv")
    # --engine auto says which engine it chose, then the one error line
    engine, error = stderr.splitlines()
    assert code == 2 and engine.startswith("engine: memory (") and error.startswith("error: market_file.csv:5")


def test_out_is_a_directory(trained, tmp_path):
    export = tmp_path / "e"
    write_exports(export, n_customers=30, seed=36, with_target=False)
    code, _, stderr, _ = _score(trained, export, tmp_path)
    assert code == 2 and stderr.strip().splitlines() == [
        f"error: --out {tmp_path}: is a directory; give the path of the CSV file to write"]


def test_tampered_model_refused_in_one_line(trained, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    text = (trained / MODEL_PATH_NAME).read_text(encoding="utf-8")
    (results / MODEL_PATH_NAME).write_text(text.replace('"risk": 0.5', '"risk": 0.9'), encoding="utf-8")
    export = tmp_path / "e"
    write_exports(export, n_customers=30, seed=36, with_target=False)
    code, _, stderr, _ = _score(results, export, tmp_path / "o.csv")
    assert code == 2 and len(stderr.strip().splitlines()) == 1 and "does not match its SHA-256" in stderr


# --- per-batch scoring ----------------------------------------------------------------------------------
def test_batches_concatenate_to_the_whole(trained, tmp_path):
    export = tmp_path / "e"
    write_exports(export, n_customers=300, seed=37, with_target=False, zero_revenue_customers=2)
    spec = model_file.load_model(trained / MODEL_PATH_NAME)
    dataset = load_dataset(export, require_target=False, revenue_medians=spec["rules"]["revenue_medians"])
    table, excluded = dataset.model_table, dataset.data.excluded
    whole = scoring.score_table(table, excluded, spec)
    half = len(table) // 2
    parts = [scoring.score_table(table.iloc[:half], excluded, spec),
             scoring.score_table(table.iloc[half:], excluded.iloc[:0], spec)]
    joined = pd.concat(parts).sort_values("id", kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(joined, whole)
    counts = scoring.drift_counts(table, whole, spec)
    split = pd.concat([scoring.drift_counts(table.iloc[:half], parts[0], spec),
                       scoring.drift_counts(table.iloc[half:], parts[1], spec)])
    summed = split.groupby(["feature", "kind", "bin"], sort=False)["count"].sum().reset_index()
    pd.testing.assert_frame_equal(summed, counts)
    pd.testing.assert_frame_equal(scoring.drift_table(split, spec), scoring.drift_table(counts, spec))


# --- drift ------------------------------------------------------------------------------------------------
def test_psi_equals_hand_formula_and_symmetric_kl():
    expected, counts = np.array([0.25, 0.25, 0.5]), np.array([30, 20, 50])
    by_hand = (0.3 - 0.25) * math.log(0.3 / 0.25) + (0.2 - 0.25) * math.log(0.2 / 0.25)
    assert population_stability_index(expected, counts) == pytest.approx(by_hand, rel=1e-12)
    a = counts / counts.sum()
    assert population_stability_index(expected, counts) == pytest.approx(entropy(a, expected) + entropy(expected, a),
                                                                         rel=1e-12)
    # an empty bin is floored at 1e-4, not infinite
    floored = (1e-4 - 0.5) * math.log(1e-4 / 0.5) + (1.0 - 0.5) * math.log(1.0 / 0.5)
    assert population_stability_index([0.5, 0.5], [0, 10]) == pytest.approx(floored, rel=1e-12)
    assert math.isnan(population_stability_index([0.5, 0.5], [0, 0]))
    assert [drift_status(v, 0.1, 0.25) for v in (0.0, 0.1, 0.2, 0.25, float("nan"))] == [
        "ok", "watch", "watch", "alert", "not_computed"]
    with pytest.raises(ValueError, match="same length"):
        population_stability_index([0.5, 0.5], [1, 2, 3])


def test_drift_counts_match_training_deciles(trained, tmp_path):
    spec = model_file.load_model(trained / MODEL_PATH_NAME)
    summary = spec["training"]["numeric"]["pages_per_visit"]
    table = pd.DataFrame({"pages_per_visit": summary["edges"] + [summary["edges"][-1] + 1, -1.0]})
    counts = scoring._bin_counts(table["pages_per_visit"].to_numpy(), summary["edges"])
    # each edge falls in the bin it closes; above the last edge: the last bin; below the first: bin 0
    assert counts.tolist() == [2] + [1] * (len(summary["edges"]) - 1) + [1]


def _drift_of(trained, tmp_path, name, edit=None, seed=40) -> tuple[int, str, pd.DataFrame]:
    export = tmp_path / name
    write_exports(export, n_customers=N_TRAIN, seed=seed, with_target=False)
    if edit is not None:
        _edit_market(export, edit)
    code, _, stderr, _ = _score(trained, export, tmp_path / f"{name}_out" / "offers.csv", "--fail-on-drift")
    return code, stderr, pd.read_csv(tmp_path / f"{name}_out" / "drift.csv")


def test_same_process_raises_no_drift(trained, tmp_path):
    code, stderr, drift = _drift_of(trained, tmp_path, "same")
    assert code == 0, stderr
    assert (drift["status"] == "ok").all(), drift[drift["status"] != "ok"]
    assert list(drift.columns) == scoring.DRIFT_COLUMNS
    assert set(drift["feature"]) >= {"marketing_6m", "popular_category", "service_type", "predicted_risk"}


def test_halved_marketing_alerts_on_exactly_the_shifted_features(trained, tmp_path):
    def halve(frame):
        return frame.assign(**{c: (frame[c].astype(float) / 2).map(repr)
                               for c in ("Маркет_актив_6_мес", "Маркет_актив_тек_мес")})

    code, stderr, drift = _drift_of(trained, tmp_path, "shifted", halve)
    assert code == 3
    alerted = set(drift.loc[drift["status"] == "alert", "feature"]) - {"predicted_risk"}
    assert alerted == {"marketing_6m", "marketing_current"}
    assert (drift.loc[~drift["feature"].isin(["marketing_6m", "marketing_current", "predicted_risk"]),
                      "status"] == "ok").all()
    # marketing lowers the risk in this process (-0.40 per contact): halving it shifts the predicted risk too
    assert drift.set_index("feature").loc["predicted_risk", "status"] in ("watch", "alert")
    risk_alert = drift.set_index("feature").loc["predicted_risk", "status"] == "alert"
    expected = ["marketing_6m", "marketing_current"] + (["predicted_risk"] if risk_alert else [])
    warnings = [line for line in stderr.splitlines() if line.startswith("warning: drift alert")]
    assert [w.split()[3] for w in warnings] == expected  # one line per alerted feature
    assert stderr.strip().splitlines()[-1] == f"error: drift alert on {', '.join(expected)} (--fail-on-drift)"


def test_real_export_scores_from_the_file_as_in_memory(real_data_dir, tmp_path):
    dataset = load_dataset(real_data_dir)
    frame = model_frame(dataset.model_table)
    formula = f"{TARGET} ~ {linear_formula()} + pages_per_visit:minutes_current"
    result = fit_logit(formula, frame)
    spec = model_file.freeze(result, frame, thresholds=segments.make_thresholds(frame["profit"].to_numpy()),
                             allowed_levers=["more_marketing"], support=actions.support_reference(frame),
                             rules=dataset.data.reference, oof_risk=result.predict(frame).to_numpy())
    model_file.save_model(tmp_path / MODEL_PATH_NAME, spec)
    spec = model_file.load_model(tmp_path / MODEL_PATH_NAME)
    np.testing.assert_allclose(model_file.predict_proba(spec, frame), result.predict(frame).to_numpy(), rtol=0,
                               atol=1e-12)
    # scoring the training export itself: the same customers excluded as in `run`, for the same reasons
    scored = load_dataset(real_data_dir, require_target=False, ignore_target=True,
                          revenue_medians=spec["rules"]["revenue_medians"])
    pd.testing.assert_frame_equal(scored.data.excluded, dataset.data.excluded)


# ---------------------------------------------------------------------------------------------------------
# test_mutation_scoring.py: ``score`` against independent oracles (issue 10, items 1 and 6: the survivors of mutmut on analysis/scoring/memory.py).
# ---------------------------------------------------------------------------------------------------------
ALLOWED = ["marketing_this_month", "more_marketing"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    base = tmp_path_factory.mktemp("mutation_scoring")
    write_exports(base / "train", n_customers=800, seed=8, zero_revenue_customers=2, extreme_revenue_customers=1)
    dataset = load_dataset(base / "train")
    frame = model_frame(dataset.model_table)
    result = fit_logit(f"{TARGET} ~ {linear_formula()}", frame)
    risk = result.predict(frame).to_numpy()
    thresholds = segments.Thresholds(risk=0.45, profit=float(np.quantile(frame["profit"], 0.4)), promo=0.5,
                                     profit_quantile=0.4)
    spec = model_file.freeze(result, frame, thresholds=thresholds, allowed_levers=ALLOWED,
                             support=actions.support_reference(frame), rules=dataset.data.reference, oof_risk=risk)
    results = base / "results"
    model_file.save_model(results / MODEL_PATH_NAME, spec)
    return result, model_file.load_model(results / MODEL_PATH_NAME), results, base, frame


@pytest.fixture(scope="module")
def new_export(fitted):
    """A new batch: another seed, without the target, some customers moved beyond the training range."""
    _, spec, _, base, _ = fitted
    table = customer_table(300, 9).drop(columns=[TARGET])
    table.loc[:20, "tenure_days"] = table["tenure_days"].max() * 2  # beyond the training range
    table.loc[10:30, "marketing_6m"] = 0.0  # below the training minimum: + 1 lands where few customers are
    table = model_frame(table)
    assert table["tenure_100d"].max() > spec["training"]["numeric"]["tenure_100d"]["edges"][-1] * 1.5
    excluded = pd.DataFrame({"id": [1, 999999999], "step": ["regular_customer", "extreme_revenue"],
                             "reason": ["r1", "r2"], "detail": ["zero revenue in revenue_prev", "x = 1 ₽"]})
    return table, excluded


def _difference_se(result, frame0, frame1):
    """Per-customer delta SE of the risk drop p(frame0) − p(frame1) of the plain logit (the inference model's
    change), from statsmodels alone: the Jacobian of each row's drop by central differences of statsmodels' own
    predictions at moved coefficients, and its covariance."""
    import copy

    inner = getattr(result, "_results", result)  # the results object behind statsmodels' wrapper

    def diff(b):
        moved = copy.copy(inner)
        moved.params = b
        return np.asarray(moved.predict(frame0)) - np.asarray(moved.predict(frame1))

    beta = result.params.to_numpy()
    J = central_jacobian(diff, beta)
    return np.sqrt(np.einsum("ij,jk,ik->i", J, result.cov_params().to_numpy(), J))


def _segment(p, profit, t):
    risk = "high_risk" if p >= t["risk"] else "low_risk"
    return f"{risk}_{'high' if profit >= t['profit'] else 'low'}_profit"


def test_offers_against_statsmodels_and_the_saved_thresholds(fitted, new_export):
    result, spec, _, _, training = fitted
    table, excluded = new_export
    offers = scoring.score_table(table, excluded, spec)
    assert list(offers.columns) == scoring.OFFER_COLUMNS
    assert offers["id"].tolist() == sorted(table["id"].tolist() + excluded["id"].tolist())
    scored = offers[offers["segment"] != scoring.NOT_SCORED].set_index("id").loc[table["id"]]
    p = result.predict(table).to_numpy()
    np.testing.assert_allclose(scored["p_decline"], p, rtol=0, atol=1e-10)
    t = spec["thresholds"]
    assert t["risk"] == 0.45
    assert scored["segment"].tolist() == [_segment(a, b, t) for a, b in zip(p, table["profit"])]
    np.testing.assert_array_equal(scored["profit"], table["profit"])
    assert (scored["reason"] == "scored").all()
    # room by the support rule against the training customers themselves (the file stores only their counts)
    drops, ses = {}, {}
    for name in ALLOWED:
        moved, room, _ = _support_moved(table, actions.LEVER_BY_NAME[name], training)
        drops[name] = np.where(room, p - result.predict(moved).to_numpy(), 0.0)
        ses[name] = _difference_se(result, table, moved)
    stacked = np.column_stack([drops[n] for n in ALLOWED])
    best = stacked.max(axis=1)
    best_name = np.array(ALLOWED, dtype=object)[stacked.argmax(axis=1)]
    high = p >= t["risk"]
    expected_offer = np.where(~high, "none", np.where(best > 0, best_name, "personal_contact"))
    assert scored["offer"].tolist() == expected_offer.tolist()
    np.testing.assert_allclose(scored["risk_drop"], np.where(high & (best > 0), best, 0.0), rtol=1e-8, atol=1e-12)
    assert (scored.loc[high & (best > 0), "risk_drop"] > 0).all()
    assert len(set(expected_offer)) >= 3
    # the interval of each offered drop: ± 1.96 delta SEs of that action's difference (0 where nothing is offered)
    se = np.select([expected_offer == n for n in ALLOWED], [ses[n] for n in ALLOWED], default=0.0)
    z = 1.959963984540054
    np.testing.assert_allclose(scored["risk_drop"] - scored["risk_drop_conf_low"], z * se, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(scored["risk_drop_conf_high"] - scored["risk_drop"], z * se, rtol=1e-5, atol=1e-12)
    assert (se[high & (best > 0)] > 0).all()
    out = offers[offers["segment"] == scoring.NOT_SCORED].set_index("id")
    assert out.loc[1, "reason"] == "regular_customer: zero revenue in revenue_prev"
    assert out.loc[999999999, "reason"] == "extreme_revenue: x = 1 ₽"
    assert (out["offer"] == "none").all() and out[["p_decline", "profit", "risk_drop", "risk_drop_conf_low",
                                                   "risk_drop_conf_high"]].isna().all().all()


def test_new_levels_are_named_and_the_rest_scored(fitted, new_export):
    result, spec, _, _, training = fitted
    table, _ = new_export
    edited = table.copy()
    edited["popular_category"] = edited["popular_category"].astype(object)
    edited["service_type"] = edited["service_type"].astype(object)
    edited.loc[3, "popular_category"] = "sport"
    edited.loc[5, ["service_type", "popular_category"]] = ["vip", "garden"]
    reasons = scoring.new_level_reasons(spec, model_frame(edited).reset_index(drop=True))
    assert reasons.tolist() == [""] * 3 + [
        "new_level: popular_category = 'sport' is a level the model has not seen in training", "",
        "new_level: popular_category = 'garden', service_type = 'vip' is a level the model has not seen in "
        "training"] + [""] * (len(table) - 6)
    offers = scoring.score_table(edited, pd.DataFrame(columns=["id", "step", "reason", "detail"]), spec)
    by_id = offers.set_index("id")
    for row in (3, 5):
        customer = table["id"].iloc[row]
        assert by_id.loc[customer, "segment"] == scoring.NOT_SCORED and by_id.loc[customer, "offer"] == "none"
        assert by_id.loc[customer, "reason"] == reasons.iloc[row]
        assert np.isnan(by_id.loc[customer, "p_decline"])
    kept = edited.drop(index=[3, 5])
    np.testing.assert_allclose(by_id.loc[kept["id"], "p_decline"], result.predict(kept).to_numpy(), atol=1e-10)
    assert list(by_id.loc[kept["id"], "reason"].unique()) == ["scored"]
    assert offers["id"].is_monotonic_increasing


def test_nothing_to_score(fitted, new_export):
    _, spec, _, _, _ = fitted
    table, _ = new_export
    empty = scoring.score_table(table.iloc[:0], pd.DataFrame(columns=["id", "step", "reason", "detail"]), spec)
    assert list(empty.columns) == scoring.OFFER_COLUMNS and len(empty) == 0
    only_excluded = scoring.score_table(table.iloc[:0], pd.DataFrame(
        {"id": [7, 3], "step": ["regular_customer"] * 2, "reason": ["r"] * 2, "detail": ["a", "b"]}), spec)
    assert only_excluded["id"].tolist() == [3, 7]
    assert only_excluded["reason"].tolist() == ["regular_customer: b", "regular_customer: a"]


def _bin_of(value, edges):
    """Bin ``i`` is ``(edges[i-1], edges[i]]``: the number of edges strictly below the value."""
    return sum(1 for e in edges if e < value)


def test_bin_counts_by_hand():
    edges = [1.0, 2.0, 4.0]
    values = [0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 4.5, 9.0]
    assert scoring._bin_counts(np.array(values), edges).tolist() == [2, 2, 2, 2]
    assert scoring._bin_counts(np.array([5.0]), edges).tolist() == [0, 0, 0, 1]
    assert scoring._bin_counts(np.array([], dtype=float), edges).tolist() == [0, 0, 0, 0]


def test_drift_counts_and_table_by_hand(fitted, new_export):
    _, spec, _, _, _ = fitted
    table, excluded = new_export
    table = table.copy()
    table["popular_category"] = table["popular_category"].astype(object)
    table.loc[0, "popular_category"] = "sport"  # an unseen level goes to the extra bin
    offers = scoring.score_table(table, excluded, spec)
    counts = scoring.drift_counts(table, offers, spec)
    assert list(counts.columns) == scoring.COUNT_COLUMNS and counts["count"].dtype == np.int64
    training = spec["training"]
    frame = model_frame(table)
    expected_rows = []
    for name, summary in training["numeric"].items():
        bins = [_bin_of(v, summary["edges"]) for v in frame[name]]
        expected_rows += [(name, "numeric", i, bins.count(i)) for i in range(len(summary["edges"]) + 1)]
    for name, summary in training["categorical"].items():
        levels = summary["levels"]
        codes = [levels.index(v) if v in levels else len(levels) for v in frame[name]]
        expected_rows += [(name, "categorical", i, codes.count(i)) for i in range(len(levels) + 1)]
    p = offers["p_decline"].dropna().tolist()
    risk_bins = [_bin_of(v, training["risk"]["edges"]) for v in p]
    expected_rows += [("predicted_risk", "risk", i, risk_bins.count(i))
                      for i in range(len(training["risk"]["edges"]) + 1)]
    assert list(counts.itertuples(index=False, name=None)) == expected_rows
    assert counts.loc[(counts["feature"] == "popular_category"), "count"].iloc[-1] == 1

    drift = scoring.drift_table(counts, spec)
    assert list(drift.columns) == scoring.DRIFT_COLUMNS
    for row in drift.itertuples():
        got = counts[counts["feature"] == row.feature]["count"].to_numpy(dtype=float)
        if row.feature == "predicted_risk":
            expected = np.array(training["risk"]["shares"])
        elif row.feature in training["categorical"]:
            expected = np.array(training["categorical"][row.feature]["shares"] + [0.0])
        else:
            expected = np.array(training["numeric"][row.feature]["shares"])
        actual = got / got.sum()
        if row.statistic == "psi":
            a, e = np.maximum(actual, 1e-4), np.maximum(expected, 1e-4)
            assert row.value == pytest.approx(sum((a - e) * np.log(a / e)), rel=1e-12)
            watch, alert = 0.1, 0.25
        else:
            assert row.statistic == "max_share_change" and row.feature in training["categorical"]
            assert row.value == pytest.approx(max(abs(actual - expected)), rel=1e-12)
            watch, alert = 0.05, 0.10
        assert (row.threshold_watch, row.threshold_alert) == (watch, alert)
        assert row.status == ("alert" if row.value >= alert else "watch" if row.value >= watch else "ok")
    n_cat = len(training["categorical"])
    assert len(drift) == len(training["numeric"]) + 2 * n_cat + 1
    assert drift["feature"].tolist()[:len(training["numeric"])] == list(training["numeric"])


def test_drift_table_statuses_and_empty_batches(fitted):
    _, spec, _, _, _ = fitted
    training = spec["training"]
    name, summary = next(iter(training["categorical"].items()))
    k = len(summary["levels"])
    # everyone in the first level: a large PSI and a share change of 1 − share of that level
    counts = pd.DataFrame({"feature": name, "kind": "categorical", "bin": np.arange(k + 1),
                           "count": [100] + [0] * k})
    drift = scoring.drift_table(counts, spec).set_index("statistic")
    assert drift.loc["max_share_change", "value"] == pytest.approx(max(1 - summary["shares"][0],
                                                                       *summary["shares"][1:]))
    assert drift.loc["psi", "status"] == "alert" and drift.loc["max_share_change", "status"] == "alert"
    empty = scoring.drift_table(counts.assign(count=0), spec)
    assert empty["status"].tolist() == ["not_computed", "not_computed"]
    assert math.isnan(empty["value"].iloc[0]) and math.isnan(empty["value"].iloc[1])
    # the counts of two batches are summed before the index is computed
    halves = pd.concat([counts.assign(count=[50] + [0] * k), counts.assign(count=[50] + [0] * k)])
    pd.testing.assert_frame_equal(scoring.drift_table(halves, spec), scoring.drift_table(counts, spec))
    # bins given out of order are put in order
    shuffled = counts.iloc[::-1].reset_index(drop=True)
    pd.testing.assert_frame_equal(scoring.drift_table(shuffled, spec), scoring.drift_table(counts, spec))
    assert scoring.drift_table(counts.iloc[:0], spec).columns.tolist() == scoring.DRIFT_COLUMNS


def test_score_summary_by_hand():
    offers = pd.DataFrame({"id": [1, 2, 3, 4, 5, 6], "segment": ["a", "not_scored", "b", "not_scored",
                                                                   "not_scored", "not_scored"],
                           "reason": ["scored", "regular_customer: x", "scored", "new_level: a: b",
                                      "extreme_revenue: y", "regular_customer: z"]})
    drift = pd.DataFrame({"feature": ["f", "f", "g", "h", "k"], "status": ["alert", "alert", "watch", "alert", "ok"]})
    summary = scoring.score_summary(offers, drift, customers_read=9)
    assert list(summary.columns) == scoring.SUMMARY_COLUMNS
    assert summary.to_dict("records") == [
        {"quantity": "customers_read", "reason": "", "customers": 9},
        {"quantity": "scored", "reason": "", "customers": 2},
        {"quantity": "not_scored", "reason": "extreme_revenue", "customers": 1},
        {"quantity": "not_scored", "reason": "new_level", "customers": 1},
        {"quantity": "not_scored", "reason": "regular_customer", "customers": 2},
        {"quantity": "drift_alerts", "reason": "", "customers": 2},
        {"quantity": "drift_watch", "reason": "", "customers": 1},
    ]


def test_score_export_writes_three_files_and_reports(fitted, tmp_path):
    result, spec, results, _, _ = fitted
    export = tmp_path / "export"
    write_exports(export, n_customers=120, seed=12, with_target=False, zero_revenue_customers=2)
    run = scoring.score_export(export, results, tmp_path / "out" / "offers.csv")
    assert (run.offers_path, run.drift_path, run.summary_path) == (
        tmp_path / "out" / "offers.csv", tmp_path / "out" / "drift.csv", tmp_path / "out" / "score_summary.csv")
    pd.testing.assert_frame_equal(pd.read_csv(run.offers_path), run.offers, check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_csv(run.drift_path), run.drift, check_dtype=False)
    written = pd.read_csv(run.summary_path, keep_default_na=False)
    assert written["customers"].tolist() == run.summary["customers"].tolist()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["drift.csv", "offers.csv", "score_summary.csv"]
    assert len(run.offers) == 120
    assert (run.offers["segment"] == scoring.NOT_SCORED).sum() == 2
    assert run.summary.set_index("quantity").loc["customers_read", "customers"] == 120
    dataset = load_dataset(export, require_target=False, revenue_medians=spec["rules"]["revenue_medians"])
    scored = run.offers[run.offers["segment"] != scoring.NOT_SCORED].set_index("id").loc[dataset.model_table["id"]]
    np.testing.assert_allclose(scored["p_decline"], result.predict(model_frame(dataset.model_table)).to_numpy(),
                               atol=1e-10)
    alerts = [w for w in run.warnings if w.startswith("drift alert")]
    assert run.drift_alerts == list(dict.fromkeys(run.drift.loc[run.drift["status"] == "alert", "feature"]))
    for feature, line in zip(run.drift_alerts, alerts):
        row = run.drift[(run.drift["feature"] == feature) & (run.drift["status"] == "alert")].iloc[0]
        assert line == (f"drift alert: {feature} {row['statistic']} = {row['value']:.3f} (alert at "
                        f"{row['threshold_alert']:g})")
    assert len(alerts) == len(run.drift_alerts)


def test_score_export_warns_when_nobody_is_scored_and_alerts_on_drift(fitted, tmp_path):
    _, _, results, _, _ = fitted
    export = tmp_path / "export"
    write_exports(export, n_customers=5, seed=13, with_target=False, zero_revenue_customers=5)
    out = tmp_path / "offers.csv"
    run = scoring.score_export(export, results, out)
    assert run.warnings == [f"no customer of the export could be scored: {out} lists all 5 with the reason"]
    assert run.drift_alerts == []
    # a small batch of one category: alerts with their exact lines
    export = tmp_path / "one"
    write_exports(export, n_customers=40, seed=14, with_target=False)
    run = scoring.score_export(export, results, tmp_path / "one.csv")
    alerts = [w for w in run.warnings if w.startswith("drift alert")]
    assert alerts and len(alerts) == len(run.drift_alerts)
    assert all(" (alert at 0.25)" in w or " (alert at 0.1)" in w for w in alerts)


def test_score_export_refuses_a_directory_and_a_model_without_rules(fitted, tmp_path):
    _, spec, results, _, _ = fitted
    with pytest.raises(ValueError) as info:
        scoring.score_export(tmp_path, results, tmp_path)
    assert str(info.value) == f"--out {tmp_path} is a directory: give the file name of the offers CSV"
    for rules in ({}, {"revenue_medians": {}}, {"extreme_revenue_factor": 10.0},
                  {"revenue_medians": spec["rules"]["revenue_medians"]}, []):
        bare = dict(spec, rules=rules)
        bare.pop("sha256", None)
        directory = tmp_path / f"bare{len(list(tmp_path.iterdir()))}"
        model_file.save_model(directory / MODEL_PATH_NAME, bare)
        with pytest.raises(model_file.ModelFileError) as info:
            scoring.load_scoring_model(directory)
        assert str(info.value) == (f"model file {directory / MODEL_PATH_NAME} lacks the business rules' reference "
                                   "values: rerun `python -m analysis run`")
    assert scoring.load_scoring_model(results)["rules"] == spec["rules"]


def test_write_csv_replaces_through_a_temporary_file(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("old")
    scoring._write_csv(pd.DataFrame({"a": [1, 2]}), path)
    assert path.read_text() == "a\n1\n2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]


def test_empty_results_keep_their_columns_and_types(fitted, new_export):
    import warnings

    _, spec, _, _, _ = fitted
    table, excluded = new_export
    empty = scoring.score_table(table.iloc[:0], excluded.iloc[:0], spec)
    assert pd.api.types.is_string_dtype(empty["reason"]) or empty["reason"].dtype == object
    assert not pd.api.types.is_float_dtype(empty["reason"])
    bare = dict(spec, training={"numeric": {}, "categorical": {}})
    counts = scoring.drift_counts(table, scoring.score_table(table, excluded, spec), bare)
    assert list(counts.columns) == scoring.COUNT_COLUMNS and len(counts) == 0
    offers = scoring.score_table(table, excluded, spec)
    counts = scoring.drift_counts(table, offers, spec)
    assert counts.index.equals(pd.RangeIndex(len(counts)))  # one row per bin, numbered once
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an empty batch is "not computed", without a division warning
        drift = scoring.drift_table(counts.assign(count=0), spec)
    assert (drift["status"] == "not_computed").all()


def _edit_market_2(directory: Path, column: str, value: str) -> None:
    path = directory / "market_file.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame[column] = value
    frame.to_csv(path, index=False, lineterminator="\r\n")


def test_one_warning_per_alerted_feature_and_nested_output_directories(fitted, tmp_path):
    _, _, results, _, _ = fitted
    export = tmp_path / "export"
    write_exports(export, n_customers=150, seed=15, with_target=False)
    _edit_market_2(export, "Популярная_категория", "Кухонная посуда")  # everyone in one category
    out = tmp_path / "a" / "b" / "offers.csv"
    run = scoring.score_export(export, results, out)
    assert out.is_file() and (out.parent / "drift.csv").is_file()
    rows = run.drift[run.drift["feature"] == "popular_category"].set_index("statistic")["status"]
    assert rows.to_dict() == {"psi": "alert", "max_share_change": "alert"}
    alerts = [w for w in run.warnings if w.startswith("drift alert: popular_category ")]
    psi = run.drift[(run.drift["feature"] == "popular_category") & (run.drift["statistic"] == "psi")].iloc[0]
    assert alerts == [f"drift alert: popular_category psi = {psi['value']:.3f} (alert at 0.25)"]


def test_score_export_uses_the_saved_extreme_factor(fitted, tmp_path):
    _, spec, _, _, _ = fitted
    factor = 1.3
    strict = dict(spec, rules=dict(spec["rules"], extreme_revenue_factor=factor))
    strict.pop("sha256", None)
    results = tmp_path / "strict"
    model_file.save_model(results / MODEL_PATH_NAME, strict)
    export = tmp_path / "export"
    write_exports(export, n_customers=120, seed=16, with_target=False)
    run = scoring.score_export(export, results, tmp_path / "offers.csv")
    customers = load_dataset(export, require_target=False).data.customers
    medians = spec["rules"]["revenue_medians"]
    months = list(medians)
    regular = customers[(customers[months] > 0).all(axis=1)]
    extreme = {int(row["id"]) for _, row in regular.iterrows() if any(row[m] / medians[m] > factor for m in months)}
    assert extreme  # the factor matters on these data
    flagged = run.offers[run.offers["reason"].str.startswith("extreme_revenue:")]
    assert set(flagged["id"]) == extreme
    assert all("above" not in r for r in flagged["reason"])  # the detail, not the reason text, follows the step


def test_a_results_bundle_is_verified_before_its_model_is_read(fitted, tmp_path):
    import shutil

    from analysis.results.store import ResultsError, write_manifest

    _, spec, results, _, _ = fitted
    bundle = tmp_path / "bundle"
    shutil.copytree(results, bundle)
    write_manifest(bundle, run_id="r1", created="2026-01-01", seed=1, protocol="quick", protocol_settings={},
                   inputs={}, code={})
    assert scoring.load_scoring_model(bundle)["estimates"] == spec["estimates"]
    (bundle / MODEL_PATH_NAME).write_text((bundle / MODEL_PATH_NAME).read_text(encoding="utf-8") + " ",
                                          encoding="utf-8")
    with pytest.raises(ResultsError) as info:
        scoring.load_scoring_model(bundle)
    assert str(info.value).startswith(f"{bundle}: results do not match manifest r1: changed ")


# --- issue 22, item 7: what mutmut showed unpinned ------------------------------------------------------
def _counts(drift_rows, summary_rows, warnings=()):
    drift = pd.DataFrame(drift_rows, columns=scoring.COUNT_COLUMNS)
    summary = pd.DataFrame(summary_rows, columns=scoring.SUMMARY_COLUMNS)
    return scoring.ScoreCounts(drift, summary, tuple(warnings))


def test_score_counts_add_up_batches_and_keep_each_warning_once():
    """``ScoreCounts.total`` (the stream engines' sum): the batches' rows one after the other, warnings once each in
    the order they first appear; an empty list of batches is refused; a generator is accepted."""
    a = _counts([("x", "numeric", 0, 2), ("x", "numeric", 1, 1)],
                [("customers_read", "", 3), ("scored", "", 3)], ["w1", "w2"])
    b = _counts([("x", "numeric", 0, 4)],
                [("customers_read", "", 5), ("scored", "", 4), ("not_scored", "new_level", 1)], ["w2", "w3"])
    total = scoring.ScoreCounts.total(p for p in (a, b))
    assert total.warnings == ("w1", "w2", "w3")
    pd.testing.assert_frame_equal(total.drift, pd.DataFrame(
        [("x", "numeric", 0, 2), ("x", "numeric", 1, 1), ("x", "numeric", 0, 4)], columns=scoring.COUNT_COLUMNS))
    pd.testing.assert_frame_equal(total.summary, pd.DataFrame(
        [("customers_read", "", 3), ("scored", "", 3), ("customers_read", "", 5), ("scored", "", 4),
         ("not_scored", "new_level", 1)], columns=scoring.SUMMARY_COLUMNS))
    with pytest.raises(ValueError) as info:
        scoring.ScoreCounts.total([])
    assert str(info.value) == "no batch counts to add up"


def test_score_counts_of_a_batch_keep_its_warnings(fitted, new_export):
    _, spec, _, _, _ = fitted
    table, excluded = new_export
    offers = scoring.score_table(table, excluded, spec)
    counts = scoring.ScoreCounts.of_batch(table, offers, spec, customers_read=321, warnings=["a", "b"])
    assert counts.warnings == ("a", "b")
    assert counts.summary.iloc[0].tolist() == ["customers_read", "", 321]


def test_summary_table_of_counts_without_some_rows():
    """A quantity absent from the counts is 0 (not 1, not an error), not-scored reasons sorted by name."""
    counts = pd.DataFrame([("customers_read", "", 4), ("not_scored", "regular_customer", 1),
                           ("not_scored", "extreme_revenue", 3)], columns=scoring.SUMMARY_COLUMNS)
    drift = pd.DataFrame({"feature": ["a", "a", "b"], "status": ["alert", "alert", "watch"]})
    got = scoring.summary_table(counts, drift)
    expected = pd.DataFrame([("customers_read", "", 4), ("scored", "", 0), ("not_scored", "extreme_revenue", 3),
                             ("not_scored", "regular_customer", 1), ("drift_alerts", "", 1), ("drift_watch", "", 1)],
                            columns=scoring.SUMMARY_COLUMNS)
    pd.testing.assert_frame_equal(got, expected)


def test_finish_run_warns_with_the_number_listed_only_when_nobody_is_scored(fitted, tmp_path):
    """The warning counts the customers listed as not scored (not every row of the summary), and is absent as soon
    as one customer is scored."""
    _, spec, _, _, _ = fitted
    nobody = _counts([], [("customers_read", "", 7), ("scored", "", 0), ("not_scored", "regular_customer", 2),
                          ("not_scored", "new_level", 3)], ["header note"])
    out = tmp_path / "offers.csv"
    run = scoring.finish_run(out, nobody, spec)
    assert run.warnings == ["header note",
                            f"no customer of the export could be scored: {out} lists all 5 with the reason"]
    some = _counts([], [("customers_read", "", 7), ("scored", "", 1), ("not_scored", "new_level", 6)])
    assert scoring.finish_run(out, some, spec).warnings == []


def test_score_export_passes_the_exports_warnings_on(fitted, tmp_path):
    """A column the store added to market_file.csv is ignored with a warning, which reaches the run's warnings."""
    _, _, results, _, _ = fitted
    export = tmp_path / "export"
    write_exports(export, n_customers=60, seed=21, with_target=False)
    path = export / "market_file.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame["Комментарий"] = "x"
    frame.to_csv(path, index=False, lineterminator="\r\n")
    run = scoring.score_export(export, results, tmp_path / "offers.csv")
    assert run.warnings[0] == "market_file.csv: extra column 'Комментарий' ignored"
