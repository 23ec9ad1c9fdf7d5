"""Segments from risk × profit, their profiles, what-if scenarios on the store's levers, and offers.

Risk is the out-of-fold P(decline) of the chosen logit (never an in-sample score); value is the customer's
average monthly profit. Scenarios are counterfactual predictions of the fitted logit: they describe
associations in these data, not causal effects; an A/B test of each offer is what would confirm them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scipy.special import expit

from analysis.dictionary import CATEGORY_DISPLAY
from stats.groups import compare_groups
from stats.logit import linear_predictor
from stats.margins import compare_predictions

#: P(decline) at or above which a customer is "high risk": "more likely than not to decline". The reliability
#: curve shows the out-of-fold probabilities track the observed rates around 0.5 (bins 0.42 → 0.33, 0.83 → 0.83),
#: though the Hosmer–Lemeshow test rejects overall; the stress test moves this threshold from 0.4 to 0.6.
RISK_THRESHOLD = 0.5
#: Profit quantile that splits "high" from "low" profit: the more profitable half of the customers.
PROFIT_QUANTILE = 0.5
#: Promotional share above which a customer is "promotion-dependent": promo_share is bimodal in these data
#: (most customers buy 10–35 % on promotion, a separate cluster 80–100 %), and 0.5 separates the two.
PROMO_DEPENDENT = 0.5
#: Scenario effects with a two-sided p-value above this are not recommended.
ALPHA = 0.05

SEGMENT_COLUMNS = ["segment", "kind", "n_customers", "share", "mean_p_decline", "mean_profit", "profit_at_risk"]
GRID_SEGMENTS = ("high risk, high profit", "high risk, low profit", "low risk, high profit", "low risk, low profit")


@dataclass(frozen=True)
class Lever:
    """A change the store can make for a customer, applied only where there is room for it."""

    name: str
    column: str
    change: float
    description: str
    minimum: float | None = None
    needs_consent: bool = False


#: The levers the store controls, as changes of model columns (the model's units).
LEVERS = (
    Lever("more_marketing", "marketing_6m", 1.0, "one more marketing contact per month", needs_consent=True),
    Lever("marketing_this_month", "marketing_current", 1.0, "one more marketing contact this month",
          needs_consent=True),
    Lever("less_promotion", "promo_share_10pp", -1.0,
          "10 percentage points fewer purchases on promotion (personal offers instead of blanket discounts)",
          minimum=0.0),
    Lever("more_categories", "categories_per_visit", 1.0,
          "one more category viewed per visit (cross-category recommendations)"),
    Lever("more_pages", "pages_per_visit", 2.0, "two more pages per visit (recommendations, site navigation)"),
    Lever("cart_reminder", "unpaid_items", -1.0, "one unpaid cart item fewer (cart reminders)", minimum=0.0),
)
LEVER_BY_NAME = {lever.name: lever for lever in LEVERS}


@dataclass
class Thresholds:
    """The segment boundaries, stated so that `score` applies exactly the same ones."""

    risk: float
    profit: float
    promo: float
    profit_quantile: float


@dataclass
class SegmentResult:
    thresholds: Thresholds
    allowed_levers: list[str]
    bounds: dict[str, tuple[float, float]]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def make_thresholds(profit: np.ndarray, risk: float = RISK_THRESHOLD, profit_quantile: float = PROFIT_QUANTILE,
                    promo: float = PROMO_DEPENDENT) -> Thresholds:
    """Thresholds from the stated rules; the profit boundary is a quantile of the observed profit."""
    if not 0 < risk < 1:
        raise ValueError(f"risk threshold must be in (0, 1), got {risk!r}")
    if not 0 < profit_quantile < 1:
        raise ValueError(f"profit_quantile must be in (0, 1), got {profit_quantile!r}")
    return Thresholds(risk=risk, profit=float(np.quantile(profit, profit_quantile)), promo=promo,
                      profit_quantile=profit_quantile)


def assign_segments(p_decline: np.ndarray, profit: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    """The risk × profit grid segment of each customer (one of :data:`GRID_SEGMENTS`)."""
    high_risk = np.asarray(p_decline) >= thresholds.risk
    high_profit = np.asarray(profit) >= thresholds.profit
    return np.select(
        [high_risk & high_profit, high_risk & ~high_profit, ~high_risk & high_profit],
        list(GRID_SEGMENTS[:3]), default=GRID_SEGMENTS[3],
    )


def focus_masks(frame: pd.DataFrame, p_decline: np.ndarray, thresholds: Thresholds) -> dict[str, np.ndarray]:
    """Named focus groups (they overlap the grid): promotion-dependent and per-category high-risk groups."""
    high_risk = np.asarray(p_decline) >= thresholds.risk
    masks = {"high risk, promotion-dependent": high_risk & (frame["promo_share"].to_numpy() >= thresholds.promo)}
    for category in sorted(frame["popular_category"].unique()):
        label = CATEGORY_DISPLAY.get(category, category)
        masks[f"high risk, {label}"] = high_risk & (frame["popular_category"].to_numpy() == category)
    return masks


def segment_table(segment: np.ndarray, focus: dict[str, np.ndarray], p: np.ndarray,
                  profit: np.ndarray) -> pd.DataFrame:
    """Size, mean risk, mean profit and profit at risk (Σ P(decline) × profit) of each segment.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SEGMENT_COLUMNS`; ``kind`` is ``grid`` (the four segments partition the customers)
        or ``focus`` (named overlapping groups).
    """
    rows = []
    masks = {name: segment == name for name in GRID_SEGMENTS}
    for name, mask in list(masks.items()) + list(focus.items()):
        rows.append({
            "segment": name, "kind": "grid" if name in GRID_SEGMENTS else "focus",
            "n_customers": int(mask.sum()), "share": float(mask.mean()),
            "mean_p_decline": float(p[mask].mean()) if mask.any() else np.nan,
            "mean_profit": float(profit[mask].mean()) if mask.any() else np.nan,
            "profit_at_risk": float(np.sum(p[mask] * profit[mask])),
        })
    return pd.DataFrame(rows, columns=SEGMENT_COLUMNS)


def lever_bounds(frame: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """The observed range of every lever's column in the modelling data (levers never leave it)."""
    return {lever.column: (float(frame[lever.column].min()), float(frame[lever.column].max())) for lever in LEVERS}


def apply_lever(frame: pd.DataFrame, lever: Lever,
                bounds: dict[str, tuple[float, float]] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """The counterfactual frame with the lever applied where it can move, and where that is.

    A lever never moves a variable outside the range observed in the modelling data (``bounds``, by
    default the range in ``frame``: no extrapolation), never below its minimum, and marketing levers apply
    only to customers who consented to offers.
    """
    values = frame[lever.column].to_numpy(dtype=float)
    low, high = (bounds or lever_bounds(frame))[lever.column]
    if lever.minimum is not None:
        low = max(low, lever.minimum)
    new = np.clip(values + lever.change, low, high)
    room = new != values
    if lever.needs_consent:
        room &= frame["contact_allowed"].to_numpy() == 1
    new = np.where(room, new, values)
    counterfactual = frame.copy()
    counterfactual[lever.column] = new.astype(frame[lever.column].dtype) if np.all(new % 1 == 0) else new
    return counterfactual, room


SCENARIO_COLUMNS = [
    "segment", "lever", "description", "n_customers", "n_with_room", "decline_rate_baseline",
    "decline_rate_scenario", "customers_kept", "customers_kept_low", "customers_kept_high", "profit_retained",
    "profit_retained_low", "profit_retained_high", "p_value",
]


def scenarios(frame: pd.DataFrame, result, groups: dict[str, np.ndarray], conf_level: float = 0.95) -> pd.DataFrame:
    """What-if of every lever in every group, as counterfactual predictions of the logit (delta-method CIs).

    ``customers_kept`` = Σ (p_baseline − p_scenario) over the group (expected customers whose decline is
    avoided); ``profit_retained`` = Σ profit × (p_baseline − p_scenario). Both with Wald intervals from the
    delta method (:func:`stats.margins.compare_predictions`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SCENARIO_COLUMNS`.
    """
    rows = []
    for name, mask in groups.items():
        base = frame[mask]
        if len(base) == 0:
            continue
        profit = base["profit"].to_numpy()
        for lever in LEVERS:
            counterfactual, room = apply_lever(base, lever)
            count = compare_predictions(result, base, counterfactual, conf_level=conf_level,
                                        weights=np.ones(len(base)), normalize_weights=False).iloc[0]
            money = compare_predictions(result, base, counterfactual, conf_level=conf_level,
                                        weights=profit, normalize_weights=False).iloc[0]
            rows.append({
                "segment": name, "lever": lever.name, "description": lever.description,
                "n_customers": len(base), "n_with_room": int(room.sum()),
                "decline_rate_baseline": count["estimate_baseline"] / len(base),
                "decline_rate_scenario": count["estimate_counterfactual"] / len(base),
                "customers_kept": -count["difference"], "customers_kept_low": -count["conf_high"],
                "customers_kept_high": -count["conf_low"], "profit_retained": -money["difference"],
                "profit_retained_low": -money["conf_high"], "profit_retained_high": -money["conf_low"],
                "p_value": count["p_value"],
            })
    return pd.DataFrame(rows, columns=SCENARIO_COLUMNS)


def recommendations(scenario_table: pd.DataFrame, alpha: float = ALPHA, top: int = 3) -> pd.DataFrame:
    """Per segment, the levers that keep the most customers, among those with a significant, positive effect.

    Returns
    -------
    pandas.DataFrame
        Columns ``segment, rank, lever, description, customers_kept, customers_kept_low, customers_kept_high,
        profit_retained, share_with_room, p_value``.
    """
    useful = scenario_table[(scenario_table["p_value"] < alpha) & (scenario_table["customers_kept_low"] > 0)]
    useful = useful.assign(share_with_room=useful["n_with_room"] / useful["n_customers"])
    useful = useful.sort_values(["segment", "customers_kept"], ascending=[True, False], kind="stable")
    ranked = useful.groupby("segment", sort=False).head(top).copy()
    ranked["rank"] = ranked.groupby("segment", sort=False).cumcount() + 1
    return ranked[["segment", "rank", "lever", "description", "customers_kept", "customers_kept_low",
                   "customers_kept_high", "profit_retained", "share_with_room", "p_value"]].reset_index(drop=True)


def customer_offers(frame: pd.DataFrame, predict, p_decline: np.ndarray, thresholds: Thresholds,
                    allowed_levers: list[str], bounds: dict[str, tuple[float, float]] | None = None) -> pd.DataFrame:
    """One offer per customer: for high-risk customers the allowed lever that lowers their own predicted risk
    most; for low-risk customers no retention offer.

    ``predict(frame) -> numpy.ndarray`` is the model's probability for each row of a frame; a lever's effect
    for a customer is ``predict(frame) - predict(counterfactual)``, computed only where the lever has room.

    Returns
    -------
    pandas.DataFrame
        Columns ``id, p_decline, profit, segment, offer, reason``.
    """
    p_decline = np.asarray(p_decline, dtype=float)
    profit = frame["profit"].to_numpy()
    segment = assign_segments(p_decline, profit, thresholds)
    base_p = None
    best_drop = np.zeros(len(frame))
    best_lever = np.full(len(frame), "", dtype=object)
    for name in allowed_levers:
        lever = LEVER_BY_NAME[name]
        counterfactual, room = apply_lever(frame, lever, bounds)
        drop = np.zeros(len(frame))
        if room.any():
            if base_p is None:
                base_p = np.asarray(predict(frame), dtype=float)
            drop[room] = base_p[room] - np.asarray(predict(counterfactual[room]), dtype=float)
        better = drop > best_drop
        best_drop = np.where(better, drop, best_drop)
        best_lever = np.where(better, name, best_lever)
    high_risk = p_decline >= thresholds.risk
    has_lever = best_lever != ""
    descriptions = pd.Series(best_lever).map({l.name: l.description for l in LEVERS}).fillna("")
    p_text = pd.Series(p_decline).map("{:.2f}".format)
    offers = np.where(~high_risk, "none: standard communication",
                      np.where(has_lever, best_lever, "personal contact: no lever has room"))
    reasons = np.where(
        ~high_risk,
        "P(decline) " + p_text + f" below the risk threshold {thresholds.risk:.2f}",
        np.where(has_lever,
                 "P(decline) " + p_text + "; " + descriptions + " lowers the model's risk by "
                 + pd.Series(best_drop).map("{:.2f}".format) + "; profit " + pd.Series(profit).map("{:.2f}".format),
                 "P(decline) " + p_text + "; every allowed lever is at its limit for this customer"))
    return pd.DataFrame({"id": frame["id"].to_numpy(), "p_decline": p_decline, "profit": profit,
                         "segment": segment, "offer": offers, "reason": reasons})


def sensitivity(p: np.ndarray, profit: np.ndarray, risks=(0.4, 0.45, 0.5, 0.55, 0.6),
                quantiles=(0.4, 0.5, 0.6)) -> pd.DataFrame:
    """Stress test of the thresholds: the size and profit at risk of each grid segment as each boundary moves.

    Returns
    -------
    pandas.DataFrame
        Columns ``risk_threshold, profit_quantile, profit_threshold, segment, n_customers, profit_at_risk``.
    """
    rows = []
    for risk in risks:
        for quantile in quantiles:
            thresholds = make_thresholds(profit, risk=risk, profit_quantile=quantile)
            table = segment_table(assign_segments(p, profit, thresholds), {}, p, profit)
            for row in table.itertuples():
                rows.append({"risk_threshold": risk, "profit_quantile": quantile,
                             "profit_threshold": thresholds.profit, "segment": row.segment,
                             "n_customers": row.n_customers, "profit_at_risk": row.profit_at_risk})
    return pd.DataFrame(rows)


PROFILE_NUMERIC = ("marketing_6m", "marketing_current", "tenure_days", "promo_share", "categories_per_visit",
                   "unpaid_items", "service_errors", "pages_per_visit", "revenue_prev2", "revenue_prev",
                   "revenue_current", "minutes_prev", "minutes_current", "profit")
PROFILE_CATEGORICAL = ("service_type", "contact_allowed", "popular_category")


def segment_analysis(frame: pd.DataFrame, result, p_oof: np.ndarray, seed: int,
                     thresholds: Thresholds | None = None) -> SegmentResult:
    """Segments, profiles, scenarios, recommendations and offers for the modelling table."""
    profit = frame["profit"].to_numpy()
    thresholds = thresholds or make_thresholds(profit)
    segment = assign_segments(p_oof, profit, thresholds)
    focus = focus_masks(frame, p_oof, thresholds)
    table = segment_table(segment, focus, p_oof, profit)

    profiles = []
    for name in list(GRID_SEGMENTS) + ["high risk, promotion-dependent"]:
        mask = segment == name if name in GRID_SEGMENTS else focus[name]
        if 0 < mask.sum() < len(mask):
            profile = compare_groups(frame, mask, numeric=list(PROFILE_NUMERIC),
                                     categorical=list(PROFILE_CATEGORICAL), correction="holm")
            profiles.append(profile.assign(segment=name))
    profile_table = pd.concat(profiles, ignore_index=True) if profiles else pd.DataFrame()
    if len(profile_table):
        profile_table = profile_table[["segment"] + [c for c in profile_table.columns if c != "segment"]]

    groups = {name: segment == name for name in GRID_SEGMENTS[:2]}
    groups["high risk, promotion-dependent"] = focus["high risk, promotion-dependent"]
    groups["all high risk"] = p_oof >= thresholds.risk
    scenario_table = scenarios(frame, result, groups)
    recs = recommendations(scenario_table)
    allowed = sorted(set(recs["lever"]))
    offers = customer_offers(frame, lambda f: expit(linear_predictor(result, f)), p_oof, thresholds, allowed,
                             lever_bounds(frame))
    threshold_table = pd.DataFrame([
        {"threshold": "risk", "value": thresholds.risk,
         "rule": "P(decline) ≥ value: more likely than not to decline (out-of-fold probabilities; calibration checked in the report)"},
        {"threshold": "profit", "value": thresholds.profit,
         "rule": f"profit ≥ value: the {thresholds.profit_quantile:.0%} quantile of profit (the more profitable "
                 "half)"},
        {"threshold": "promotion", "value": thresholds.promo,
         "rule": "promo_share ≥ value: the upper mode of the bimodal promotional share"},
    ])
    return SegmentResult(thresholds=thresholds, allowed_levers=allowed, bounds=lever_bounds(frame), tables={
        "segments": table, "segment_profiles": profile_table, "scenarios": scenario_table,
        "recommendations": recs, "offers": offers, "segment_sensitivity": sensitivity(p_oof, profit),
        "segment_thresholds": threshold_table,
        "allowed_levers": pd.DataFrame({"lever": allowed}),
    })
