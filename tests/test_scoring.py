"""`score` on new exports: training reference values, target ignored, new levels, no scorable customer, drift."""

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
from analysis.data.dictionary import TARGET, TARGET_RU
from analysis.modeling.features import linear_formula, model_frame
from analysis.paths import MODEL_PATH_NAME
from analysis.data.synthetic import write_exports
from stats.drift import drift_status, population_stability_index
from stats.logit import fit_logit
from tests.conftest import run_cli

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
