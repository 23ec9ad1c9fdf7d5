"""``python -m analysis score``: per-customer offers for a new export, from the model file written by ``run``.

The new export goes through the same reading and validation as the training data, with three differences:
the target column is dropped before validation (a new month has it empty or absent; it is never read); the
business rules use the reference values saved at training time (the extreme-revenue rule compares with the
TRAINING medians, so a customer's result does not depend on who else is in the file); and a customer whose
service type or favourite category is a level the model has never seen is kept as "not scored", with the
column and value named, while the others are scored. Every customer of the export is in the output: scored
with an offer, or not scored with the reason.

Beside the offers go ``drift.csv`` (does the new export still look like the training data?) and
``score_summary.csv`` (customers read, scored, not scored by reason, drift alerts).

Drift checks
------------
Every check compares the customers who pass the business rules with the training customers (the same
population), through aggregates stored in the model file:

* numeric model variable: PSI over the bins bounded by the distinct training deciles;
* categorical model variable: PSI over its training levels plus one bin for unseen levels, and the largest
  absolute change of a level's share (in share points, e.g. 0.07 = 7 percentage points);
* predicted risk: PSI of the new customers' predicted P(decline) over the bins of the training customers'
  out-of-fold risk deciles (out-of-fold: what the model predicts for customers it has not seen).

Thresholds: PSI watch 0.1, alert 0.25 (the usual reading of the index); share change watch 0.05, alert 0.10
(an alert is a level gaining or losing ten percentage points of the customers; with the sample sizes here the
sampling noise of a share is about 0.01–0.02, so neither threshold is reached by chance). Status ``ok`` below
the watch threshold, ``watch`` from it, ``alert`` from the alert threshold; ``not_computed`` when no customer is left
to compare.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.modeling import model_file
from analysis.data.dataset import load_dataset
from analysis.data.dictionary import DICTIONARY
from analysis.modeling.features import model_frame
from analysis.paths import MODEL_PATH_NAME
from analysis.decisions.actions import OFFER_COLUMNS as ACTION_OFFER_COLUMNS, customer_offers
from analysis.segments import Thresholds
from stats.drift import drift_status, population_stability_index

OFFER_COLUMNS = [*ACTION_OFFER_COLUMNS, "reason"]
DRIFT_COLUMNS = ["feature", "statistic", "value", "status", "threshold_watch", "threshold_alert"]
COUNT_COLUMNS = ["feature", "kind", "bin", "count"]
SUMMARY_COLUMNS = ["quantity", "reason", "customers"]

NOT_SCORED = "not_scored"
NOT_SCORED_OFFER = "none"
NEW_LEVEL_STEP = "new_level"
RISK_FEATURE = "predicted_risk"

PSI_WATCH, PSI_ALERT = 0.1, 0.25
SHARE_WATCH, SHARE_ALERT = 0.05, 0.10

#: Category columns whose unknown values are scored as "not scored" instead of refusing the export (text
#: categories; contact consent is yes/no and anything else is a malformed file).
OPEN_CATEGORIES = frozenset(f.source_name for f in DICTIONARY if f.name in ("service_type", "popular_category"))


def _not_scored(ids, reasons) -> pd.DataFrame:
    ids = np.asarray(ids)
    return pd.DataFrame({"id": ids, "p_decline": np.full(len(ids), np.nan), "profit": np.full(len(ids), np.nan),
                         "segment": NOT_SCORED, "offer": NOT_SCORED_OFFER, "risk_drop": np.full(len(ids), np.nan),
                         "risk_drop_conf_low": np.full(len(ids), np.nan),
                         "risk_drop_conf_high": np.full(len(ids), np.nan),
                         "reason": np.asarray(reasons, dtype=object)})


def new_level_reasons(spec: dict, frame: pd.DataFrame) -> pd.Series:
    """The "not scored" reason of each row with a category level the model has not seen ('' elsewhere)."""
    unseen = model_file.unseen_levels(spec, frame)
    reasons = pd.Series("", index=range(len(frame)), dtype=object)
    if len(unseen):
        text = unseen["variable"] + " = '" + unseen["value"].astype(str) + "'"
        joined = text.groupby(unseen["row"].to_numpy()).agg(", ".join)
        reasons.loc[joined.index] = (f"{NEW_LEVEL_STEP}: " + joined + " is a level the model has not seen in "
                                     "training").to_numpy()
    return reasons


def score_table(table: pd.DataFrame, excluded: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Offers for the customers of ``table``; every other customer gets a "not scored" row with its reason.

    A pure function of one batch of customers: a customer's row depends only on that customer and the model
    file, so batches can be scored separately and concatenated.

    Parameters
    ----------
    table
        Customers who passed the business rules (:attr:`analysis.data.dataset.Dataset.model_table`).
    excluded
        Customers excluded by the business rules (columns ``id, step, reason, detail``).
    spec
        The model file (:func:`analysis.modeling.model_file.load_model`).

    Returns
    -------
    pandas.DataFrame
        Columns ``id, p_decline, profit, segment, offer, risk_drop, risk_drop_conf_low, risk_drop_conf_high,
        reason``, sorted by ``id`` (the interval of the risk drop: delta method from the file's covariance, the
        probability map held fixed). Not-scored customers have ``segment`` "not_scored", offer "none", no
        ``p_decline``, ``profit`` or ``risk_drop``, and a ``reason`` that starts with the
        rule (``regular_customer``, ``extreme_revenue``, ``new_level``) followed by ``: `` and the detail.
    """
    frame = model_frame(table).reset_index(drop=True)
    reasons = new_level_reasons(spec, frame)
    scorable = (reasons == "").to_numpy()
    parts = []
    if scorable.any():
        scored = frame[scorable].reset_index(drop=True)
        p0 = model_file.predict_proba(spec, scored)
        # a risk drop is the change of the inference model's probability (analysis.decisions.decide.EFFECT_SCALE)
        parts.append(customer_offers(scored, lambda f: model_file.inference_probability(spec, f), p0,
                                     Thresholds(**spec["thresholds"]), spec["allowed_levers"], spec["support"],
                                     drop_se=lambda f, cf: model_file.inference_drop(spec, f, cf)[1])
                     .assign(reason="scored"))
    if not scorable.all():
        parts.append(_not_scored(frame["id"].to_numpy()[~scorable], reasons[~scorable].to_numpy()))
    if len(excluded):
        parts.append(_not_scored(excluded["id"].to_numpy(), (excluded["step"] + ": " + excluded["detail"]).to_numpy()))
    if not parts:
        parts.append(_not_scored([], []))
    offers = pd.concat(parts, ignore_index=True)
    return offers.sort_values("id", kind="stable").reset_index(drop=True)[OFFER_COLUMNS]


# ---------------------------------------------------------------------------------------------------
# Drift
# ---------------------------------------------------------------------------------------------------
def _bin_counts(values: np.ndarray, edges: list[float]) -> np.ndarray:
    bins = np.searchsorted(np.asarray(edges, dtype=float), np.asarray(values, dtype=float), side="left")
    return np.bincount(bins, minlength=len(edges) + 1)


def drift_counts(table: pd.DataFrame, offers: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Counts of one batch in the drift bins of the model file; counts of batches add up.

    Parameters
    ----------
    table
        The batch's customers who passed the business rules (as given to :func:`score_table`).
    offers
        :func:`score_table` of the batch (its scored rows give the predicted risk).
    spec
        The model file.

    Returns
    -------
    pandas.DataFrame
        Columns ``feature, kind, bin, count``; ``kind`` is ``numeric``, ``categorical`` or ``risk``; ``bin`` is
        the bin number (numeric, risk: bin ``i`` is ``(edge[i-1], edge[i]]``) or the level position in the
        training levels, the last bin holding levels not seen in training (categorical).
    """
    training = spec["training"]
    frame = model_frame(table)
    rows = []

    def add(feature: str, kind: str, counts: np.ndarray) -> None:
        rows.append(pd.DataFrame({"feature": feature, "kind": kind, "bin": np.arange(len(counts)),
                                  "count": counts.astype(np.int64)}))

    for name, summary in training["numeric"].items():
        add(name, "numeric", _bin_counts(frame[name].to_numpy(dtype=float), summary["edges"]))
    for name, summary in training["categorical"].items():
        codes = model_file.level_codes(frame[name], summary["levels"])
        codes[codes < 0] = len(summary["levels"])
        add(name, "categorical", np.bincount(codes, minlength=len(summary["levels"]) + 1))
    if "risk" in training:
        p = offers["p_decline"].to_numpy(dtype=float)
        add(RISK_FEATURE, "risk", _bin_counts(p[~np.isnan(p)], training["risk"]["edges"]))
    return pd.concat(rows, ignore_index=True)[COUNT_COLUMNS] if rows else pd.DataFrame(columns=COUNT_COLUMNS)


def drift_table(counts: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """The drift checks of the module docstring from (summed) :func:`drift_counts`.

    Returns
    -------
    pandas.DataFrame
        Columns ``feature, statistic, value, status, threshold_watch, threshold_alert``; ``statistic`` is
        ``psi`` or ``max_share_change``; ``status`` is ``ok``, ``watch``, ``alert`` or ``not_computed``.
    """
    training = spec["training"]
    totals = counts.groupby(["feature", "kind", "bin"], sort=False)["count"].sum().reset_index()
    rows = []

    def add(feature, statistic, value, watch, alert):
        rows.append({"feature": feature, "statistic": statistic, "value": value,
                     "status": drift_status(value, watch, alert), "threshold_watch": watch,
                     "threshold_alert": alert})

    for (feature, kind), group in totals.groupby(["feature", "kind"], sort=False):
        observed = group.sort_values("bin")["count"].to_numpy(dtype=float)
        if kind == "categorical":
            expected = np.append(np.asarray(training["categorical"][feature]["shares"], float), 0.0)
        else:
            source = training["risk"] if kind == "risk" else training["numeric"][feature]
            expected = np.asarray(source["shares"], float)
        add(feature, "psi", population_stability_index(expected, observed), PSI_WATCH, PSI_ALERT)
        if kind == "categorical":
            change = (float(np.max(np.abs(observed / observed.sum() - expected))) if observed.sum()
                      else float("nan"))
            add(feature, "max_share_change", change, SHARE_WATCH, SHARE_ALERT)
    return pd.DataFrame(rows, columns=DRIFT_COLUMNS)


def summary_counts(offers: pd.DataFrame, customers_read: int) -> pd.DataFrame:
    """The customers of one batch by outcome; counts of batches add up (summed by ``quantity, reason``).

    Returns
    -------
    pandas.DataFrame
        Columns ``quantity, reason, customers``: ``customers_read`` (the batch's customers after validation),
        ``scored``, and one ``not_scored`` row per rule that excluded a customer of the batch (``reason``: the
        rule).
    """
    not_scored = offers[offers["segment"] == NOT_SCORED]
    rows = [{"quantity": "customers_read", "reason": "", "customers": int(customers_read)},
            {"quantity": "scored", "reason": "", "customers": int(len(offers) - len(not_scored))}]
    steps = not_scored["reason"].str.split(":", n=1).str[0]
    for step, n in steps.value_counts(sort=False).sort_index().items():
        rows.append({"quantity": "not_scored", "reason": step, "customers": int(n)})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def summary_table(counts: pd.DataFrame, drift: pd.DataFrame) -> pd.DataFrame:
    """``score_summary.csv`` from (the :func:`summary_counts` of one or more batches) and the drift table.

    Returns
    -------
    pandas.DataFrame
        Columns ``quantity, reason, customers``: ``customers_read``, ``scored``, one ``not_scored`` row per
        reason (rule, in alphabetical order), and ``drift_alerts`` / ``drift_watch`` (in ``customers``: the
        number of features with that status).
    """
    totals = counts.groupby(["quantity", "reason"])["customers"].sum()
    rows = [{"quantity": q, "reason": "", "customers": int(totals.get((q, ""), 0))}
            for q in ("customers_read", "scored")]
    if "not_scored" in totals.index.get_level_values("quantity"):
        for step, n in totals.loc["not_scored"].sort_index().items():
            rows.append({"quantity": "not_scored", "reason": step, "customers": int(n)})
    for status in ("alert", "watch"):
        rows.append({"quantity": {"alert": "drift_alerts", "watch": "drift_watch"}[status], "reason": "",
                     "customers": int(drift.loc[drift["status"] == status, "feature"].nunique())})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def score_summary(offers: pd.DataFrame, drift: pd.DataFrame, customers_read: int) -> pd.DataFrame:
    """The short report of a ``score`` run over one batch: :func:`summary_table` of :func:`summary_counts`."""
    return summary_table(summary_counts(offers, customers_read), drift)


@dataclass(frozen=True)
class ScoreCounts:
    """What ``drift.csv`` and ``score_summary.csv`` are computed from, for one batch of customers or for the
    sum of several: counts that add up over batches, so that an export scored range by range gives the same
    tables as scored at once (without a second pass over it).

    ``drift``: :func:`drift_counts`; ``summary``: :func:`summary_counts`; ``warnings``: the validation
    warnings of the batch (lines about the files' headers, the same in every batch of one export).
    """

    drift: pd.DataFrame
    summary: pd.DataFrame
    warnings: tuple[str, ...] = ()

    @classmethod
    def of_batch(cls, table: pd.DataFrame, offers: pd.DataFrame, spec: dict, customers_read: int,
                 warnings=()) -> ScoreCounts:
        """The counts of one batch: ``table`` and ``offers`` as given to :func:`drift_counts`."""
        return cls(drift_counts(table, offers, spec), summary_counts(offers, customers_read), tuple(warnings))

    @classmethod
    def total(cls, parts) -> ScoreCounts:
        """The counts of several batches together (a warning once, in order of first appearance)."""
        parts = list(parts)
        if not parts:
            raise ValueError("no batch counts to add up")
        return cls(pd.concat([p.drift for p in parts], ignore_index=True),
                   pd.concat([p.summary for p in parts], ignore_index=True),
                   tuple(dict.fromkeys(w for p in parts for w in p.warnings)))


# ---------------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------------
@dataclass
class ScoreRun:
    """What a ``score`` run wrote and what it has to say (``offers`` is None when the engine streamed them
    to ``offers_path`` without holding them)."""

    offers_path: Path
    drift_path: Path
    summary_path: Path
    offers: pd.DataFrame | None
    drift: pd.DataFrame
    summary: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    @property
    def drift_alerts(self) -> list[str]:
        return list(dict.fromkeys(self.drift.loc[self.drift["status"] == "alert", "feature"]))


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    frame.to_csv(temporary, index=False)
    os.replace(temporary, path)


def load_scoring_model(results_dir: Path) -> dict:
    """The model file of ``results_dir``, checked (:func:`analysis.modeling.model_file.load_model`); when the directory
    is a results bundle written by ``run`` (it has ``manifest.json``), every file must match the manifest first."""
    from analysis.results.store import MANIFEST_NAME, verify

    path = Path(results_dir) / MODEL_PATH_NAME
    if (Path(results_dir) / MANIFEST_NAME).exists():
        verify(Path(results_dir))  # one-line ResultsError (a ValueError) on a mixed or tampered bundle
    spec = model_file.load_model(path)
    medians = spec["rules"].get("revenue_medians") if isinstance(spec["rules"], dict) else None
    if not medians or "extreme_revenue_factor" not in spec["rules"]:
        raise model_file.ModelFileError(f"model file {path} lacks the business rules' reference values: rerun "
                                        "`python -m analysis run`")
    return spec


def report_paths(out: Path) -> tuple[Path, Path]:
    """Where ``drift.csv`` and ``score_summary.csv`` go: beside the offers."""
    return Path(out).parent / "drift.csv", Path(out).parent / "score_summary.csv"


def finish_run(out: Path, counts: ScoreCounts, spec: dict, offers: pd.DataFrame | None = None) -> ScoreRun:
    """``drift.csv`` and ``score_summary.csv`` from the (summed) counts of every batch, written beside the
    offers ``out`` (already written), and the run's warnings; every engine ends here."""
    drift = drift_table(counts.drift, spec)
    summary = summary_table(counts.summary, drift)
    warnings = list(counts.warnings)
    scored = int(summary.loc[summary["quantity"] == "scored", "customers"].sum())
    if scored == 0:
        listed = int(summary.loc[summary["quantity"] == "not_scored", "customers"].sum())
        warnings.append(f"no customer of the export could be scored: {out} lists all {listed} with the reason")
    for row in drift[drift["status"] == "alert"].drop_duplicates("feature").itertuples():
        warnings.append(f"drift alert: {row.feature} {row.statistic} = {row.value:.3f} (alert at "
                        f"{row.threshold_alert:g})")
    drift_path, summary_path = report_paths(out)
    _write_csv(drift, drift_path)
    _write_csv(summary, summary_path)
    return ScoreRun(Path(out), drift_path, summary_path, offers=offers, drift=drift, summary=summary,
                    warnings=warnings)


def score_export(data_dir, results_dir: Path, out: Path) -> ScoreRun:
    """Read, validate and score a new export; write the offers to ``out`` and ``drift.csv`` and
    ``score_summary.csv`` beside it (each through a temporary file renamed at the end)."""
    out = Path(out)
    if out.is_dir():
        raise ValueError(f"--out {out} is a directory: give the file name of the offers CSV")
    spec = load_scoring_model(results_dir)
    rules = spec["rules"]
    dataset = load_dataset(data_dir, require_target=False, extreme_factor=rules["extreme_revenue_factor"],
                           ignore_target=True, revenue_medians=rules["revenue_medians"],
                           open_categories=OPEN_CATEGORIES)
    offers = score_table(dataset.model_table, dataset.data.excluded, spec)
    counts = ScoreCounts.of_batch(dataset.model_table, offers, spec, customers_read=len(dataset.data.customers),
                                  warnings=dataset.validated.warnings)
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_csv(offers, out)
    return finish_run(out, counts, spec, offers=offers)
