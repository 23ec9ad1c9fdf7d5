"""Segments from risk × profit, their profiles, what-if scenarios of the store's actions, and offers.

Risk is the out-of-fold P(decline over the next three months) of the business model (never an in-sample
score); value is the customer's average monthly profit. Scenarios are counterfactual predictions of that model:
associations in these observational data, not causal effects; an A/B test of each action is what would confirm
them. Engagement outcomes (pages, categories) are reported as associations only, never as levers or offers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from statsmodels.stats.multitest import multipletests

from stats.groups import compare_groups
from stats.link_margins import LinkModel, prediction_difference

#: P(decline) at or above which a customer is "high risk". The business probabilities are checked for
#: calibration (model_candidates.csv); the report gives each segment's observed decline rate beside its mean
#: predicted risk, and the stress test moves this threshold from 0.4 to 0.6.
RISK_THRESHOLD = 0.5
#: Profit quantile that splits "high" from "low" profit: the more profitable half of the customers.
PROFIT_QUANTILE = 0.5
#: Promotional share above which a customer is "promotion-dependent": promo_share is bimodal in these data
#: (most customers buy 10–35 % on promotion, a separate cluster 80–100 %), and 0.5 separates the two.
PROMO_DEPENDENT = 0.5
#: Family-wise error rate of the scenario tests (Holm over every group × action).
ALPHA = 0.05
#: The target: a decline of purchasing activity over the next three months; every count of customers and
#: every probability refers to this horizon.
HORIZON = "next three months"

SEGMENT_COLUMNS = ["segment", "kind", "n_customers", "share", "mean_p_decline", "observed_decline_rate",
                   "mean_profit", "profit_at_risk_upper"]
#: Codes of the four grid segments (labels are attached in the report).
GRID_SEGMENTS = ("high_risk_high_profit", "high_risk_low_profit", "low_risk_high_profit", "low_risk_low_profit")
PROMO_GROUP = "high_risk_promo"
ALL_HIGH_RISK = "high_risk_all"


@dataclass(frozen=True)
class Lever:
    """A change of one model column, applied only where there is room for it.

    ``kind`` is ``action`` for something the store controls (it can send a contact, a reminder, change its
    promotion policy) and ``engagement`` for a customer behaviour the store can at most encourage (pages,
    categories): engagement is measured over windows that overlap the target, so its association with decline
    may run both ways and it is never offered as a lever.
    """

    name: str
    column: str
    change: float
    description: str
    kind: str = "action"
    minimum: float | None = None
    needs_consent: bool = False


#: Store-controlled actions (used for scenarios and offers).
ACTIONS = (
    Lever("more_marketing", "marketing_6m", 1.0, "one more marketing contact per month (average over six months)",
          needs_consent=True),
    Lever("marketing_this_month", "marketing_current", 1.0, "one more marketing contact this month",
          needs_consent=True),
    Lever("less_promotion", "promo_share_10pp", -1.0,
          "10 percentage points fewer purchases on promotion (personal offers instead of blanket discounts)",
          minimum=0.0),
    Lever("cart_reminder", "unpaid_items", -1.0, "one unpaid cart item fewer (cart reminders)", minimum=0.0),
)
#: Engagement outcomes: reported as associations ("customers who ... decline less"), never as levers.
ENGAGEMENT = (
    Lever("more_categories", "categories_per_visit", 1.0, "one more category viewed per visit", kind="engagement"),
    Lever("more_pages", "pages_per_visit", 2.0, "two more pages per visit", kind="engagement"),
)
LEVERS = ACTIONS + ENGAGEMENT
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
    masks = {PROMO_GROUP: high_risk & (frame["promo_share"].to_numpy() >= thresholds.promo)}
    for category in sorted(frame["popular_category"].unique()):
        masks[f"high_risk_{category}"] = high_risk & (frame["popular_category"].to_numpy() == category)
    return masks


def segment_table(segment: np.ndarray, focus: dict[str, np.ndarray], p: np.ndarray, profit: np.ndarray,
                  y: np.ndarray | None = None) -> pd.DataFrame:
    """Size, mean predicted risk, observed decline rate, mean profit and profit at risk of each segment.

    ``profit_at_risk_upper`` = Σ P(decline) × monthly profit: it assumes that a customer whose activity declines
    loses the store all of their monthly profit, so it is an upper bound (a decline is a fall in activity, not
    necessarily to zero; the exports do not record by how much it falls, so no lower bracket is computed).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SEGMENT_COLUMNS`; ``kind`` is ``grid`` (the four segments partition the customers)
        or ``focus`` (named overlapping groups). ``observed_decline_rate`` is NaN without ``y``.
    """
    rows = []
    masks = {name: segment == name for name in GRID_SEGMENTS}
    for name, mask in list(masks.items()) + list(focus.items()):
        rows.append({
            "segment": name, "kind": "grid" if name in GRID_SEGMENTS else "focus",
            "n_customers": int(mask.sum()), "share": float(mask.mean()),
            "mean_p_decline": float(p[mask].mean()) if mask.any() else np.nan,
            "observed_decline_rate": float(np.mean(y[mask])) if (y is not None and mask.any()) else np.nan,
            "mean_profit": float(profit[mask].mean()) if mask.any() else np.nan,
            "profit_at_risk_upper": float(np.sum(p[mask] * profit[mask])),
        })
    return pd.DataFrame(rows, columns=SEGMENT_COLUMNS)


def lever_bounds(frame: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """The observed range of every lever's column in the modelling data (levers never leave it); scenarios
    and offers use these same bounds."""
    return {lever.column: (float(frame[lever.column].min()), float(frame[lever.column].max())) for lever in LEVERS}


def apply_lever(frame: pd.DataFrame, lever: Lever,
                bounds: dict[str, tuple[float, float]]) -> tuple[pd.DataFrame, np.ndarray]:
    """The counterfactual frame with the lever applied where it can move, and where that is.

    A lever never moves a variable outside the range observed in the modelling data (``bounds``: no
    extrapolation), never below its minimum, and marketing levers apply only to customers who consented.
    """
    values = frame[lever.column].to_numpy(dtype=float)
    low, high = bounds[lever.column]
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
    "group", "action", "kind", "n_customers", "n_with_room", "decline_rate_baseline", "decline_rate_scenario",
    "effect", "std_error", "conf_low", "conf_high", "p_value", "p_value_holm", "customers_kept",
    "customers_kept_low", "customers_kept_high", "profit_retained_upper", "profit_retained_upper_low",
    "profit_retained_upper_high", "recommended",
]


def scenarios(frame: pd.DataFrame, model: LinkModel, groups: dict[str, np.ndarray],
              bounds: dict[str, tuple[float, float]], levers=ACTIONS, alpha: float = ALPHA,
              conf_level: float = 0.95) -> pd.DataFrame:
    """What-if of every lever in every group: counterfactual predictions of the business model.

    For the customers of the group with room for the lever, ``effect`` is the mean change of the predicted
    probability of decline over the next three months (negative = fewer declines), with its delta-method
    interval through the whole link; ``customers_kept`` = −effect × n_with_room (expected customers whose
    decline is avoided); ``profit_retained_upper`` = Σ profit × (p_baseline − p_scenario), an upper bound like
    profit at risk. ``p_value_holm`` adjusts over every group × lever of the table (nested groups make this
    conservative). ``recommended``: an action (never an engagement outcome) with Holm p < ``alpha`` and a
    whole interval of fewer declines. These are predictions from observational data, to be confirmed by an
    experiment before roll-out.

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
        for lever in levers:
            counterfactual, room = apply_lever(base, lever, bounds)
            row = {"group": name, "action": lever.name, "kind": lever.kind, "n_customers": len(base),
                   "n_with_room": int(room.sum())}
            if room.sum() == 0:
                rows.append(row)
                continue
            b, c = base[room], counterfactual[room]
            mean = prediction_difference(model, b, c, conf_level=conf_level).iloc[0]
            money = prediction_difference(model, b, c, weights=b["profit"].to_numpy(), normalize=False,
                                          conf_level=conf_level).iloc[0]
            n = int(room.sum())
            row.update({
                "decline_rate_baseline": mean["estimate_baseline"], "decline_rate_scenario": mean["estimate_counterfactual"],
                "effect": mean["difference"], "std_error": mean["std_error"], "conf_low": mean["conf_low"],
                "conf_high": mean["conf_high"], "p_value": mean["p_value"],
                "customers_kept": -mean["difference"] * n, "customers_kept_low": -mean["conf_high"] * n,
                "customers_kept_high": -mean["conf_low"] * n, "profit_retained_upper": -money["difference"],
                "profit_retained_upper_low": -money["conf_high"], "profit_retained_upper_high": -money["conf_low"],
            })
            rows.append(row)
    table = pd.DataFrame(rows, columns=SCENARIO_COLUMNS)
    tested = table["p_value"].notna()
    table["p_value_holm"] = np.nan
    if tested.any():
        table.loc[tested, "p_value_holm"] = multipletests(table.loc[tested, "p_value"], method="holm")[1]
    table["recommended"] = ((table["kind"] == "action") & (table["p_value_holm"] < alpha)
                            & (table["conf_high"] < 0)).astype(bool)
    return table


def recommendations(scenario_table: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    """Per group, the recommended actions that keep the most customers over the next three months.

    Returns
    -------
    pandas.DataFrame
        Columns ``group, rank, action, effect, conf_low, conf_high, customers_kept, customers_kept_low,
        customers_kept_high, profit_retained_upper, share_with_room, p_value_holm``.
    """
    useful = scenario_table[scenario_table["recommended"]]
    useful = useful.assign(share_with_room=useful["n_with_room"] / useful["n_customers"])
    useful = useful.sort_values(["group", "customers_kept"], ascending=[True, False], kind="stable")
    ranked = useful.groupby("group", sort=False).head(top).copy()
    ranked["rank"] = ranked.groupby("group", sort=False).cumcount() + 1
    return ranked[["group", "rank", "action", "effect", "conf_low", "conf_high", "customers_kept",
                   "customers_kept_low", "customers_kept_high", "profit_retained_upper", "share_with_room",
                   "p_value_holm"]].reset_index(drop=True)


OFFER_COLUMNS = ["id", "p_decline", "profit", "segment", "offer", "risk_drop"]


def customer_offers(frame: pd.DataFrame, predict, p_decline: np.ndarray, thresholds: Thresholds,
                    allowed_levers: list[str], bounds: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """One offer per customer: for high-risk customers the allowed store action that lowers their predicted
    risk most (``predict(frame) − predict(counterfactual)``, only where the action has room and the drop is
    positive); for low-risk customers no retention offer.

    ``predict(frame)`` must return the probability the customer is labelled with (``p_decline``), so that the
    drop is measured from that same probability.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`OFFER_COLUMNS`; ``offer`` is an action code, ``none`` (low risk) or
        ``personal_contact`` (high risk, no action has room); ``risk_drop`` is 0 where no action is offered.
    """
    p_decline = np.asarray(p_decline, dtype=float)
    profit = frame["profit"].to_numpy()
    segment = assign_segments(p_decline, profit, thresholds)
    base_p = np.asarray(predict(frame), dtype=float)
    best_drop = np.zeros(len(frame))
    best_lever = np.full(len(frame), "", dtype=object)
    for name in allowed_levers:
        lever = LEVER_BY_NAME[name]
        if lever.kind != "action":
            raise ValueError(f"{name!r} is an engagement outcome, not an action the store controls")
        counterfactual, room = apply_lever(frame, lever, bounds)
        drop = np.where(room, base_p - np.asarray(predict(counterfactual), dtype=float), 0.0)
        better = drop > best_drop
        best_drop = np.where(better, drop, best_drop)
        best_lever = np.where(better, name, best_lever)
    high_risk = p_decline >= thresholds.risk
    has_lever = best_lever != ""
    offers = np.where(~high_risk, "none", np.where(has_lever, best_lever, "personal_contact"))
    return pd.DataFrame({"id": frame["id"].to_numpy(), "p_decline": p_decline, "profit": profit,
                         "segment": segment, "offer": offers,
                         "risk_drop": np.where(high_risk & has_lever, best_drop, 0.0)})


def sensitivity(p: np.ndarray, profit: np.ndarray, risks=(0.4, 0.45, 0.5, 0.55, 0.6),
                quantiles=(0.4, 0.5, 0.6)) -> pd.DataFrame:
    """Stress test of the thresholds: the size and profit at risk of each grid segment as each boundary moves.

    Returns
    -------
    pandas.DataFrame
        Columns ``risk_threshold, profit_quantile, profit_threshold, segment, n_customers,
        profit_at_risk_upper``.
    """
    rows = []
    for risk in risks:
        for quantile in quantiles:
            thresholds = make_thresholds(profit, risk=risk, profit_quantile=quantile)
            table = segment_table(assign_segments(p, profit, thresholds), {}, p, profit)
            for row in table.itertuples():
                rows.append({"risk_threshold": risk, "profit_quantile": quantile,
                             "profit_threshold": thresholds.profit, "segment": row.segment,
                             "n_customers": row.n_customers, "profit_at_risk_upper": row.profit_at_risk_upper})
    return pd.DataFrame(rows)


PROFILE_NUMERIC = ("marketing_6m", "marketing_current", "tenure_days", "promo_share", "categories_per_visit",
                   "unpaid_items", "service_errors", "pages_per_visit", "revenue_prev2", "revenue_prev",
                   "revenue_current", "minutes_prev", "minutes_current", "profit")
PROFILE_CATEGORICAL = ("service_type", "contact_allowed", "popular_category")


def defining_variables(group: str) -> set[str]:
    """Variables that define a group: a test of them between the group and the rest is circular.

    Risk is a function of every model predictor, so every predictor (in its raw units) defines a high/low risk
    split; profit defines the profit axis; promotional share the promotion-dependent group.
    """
    return set(PROFILE_NUMERIC) | set(PROFILE_CATEGORICAL)


def segment_profiles(frame: pd.DataFrame, masks: dict[str, np.ndarray]) -> pd.DataFrame:
    """Describe each group against the rest; test (Holm) only variables that do not define the group.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`stats.groups.compare_groups` plus ``segment`` and ``role`` (``described``: the
        variable defines the group, its test columns are blanked; ``tested``).
    """
    profiles = []
    for name, mask in masks.items():
        if not 0 < mask.sum() < len(mask):
            continue
        profile = compare_groups(frame, mask, numeric=list(PROFILE_NUMERIC), categorical=list(PROFILE_CATEGORICAL),
                                 correction="holm")
        defining = defining_variables(name)
        described = profile["variable"].isin(defining)
        profile.loc[described, ["test", "statistic", "p_value", "p_adjusted"]] = np.nan
        profile["role"] = np.where(described, "described", "tested")
        # Holm again over the tested variables only (one p-value per variable, repeated on its level rows)
        tested = ~described & profile["p_value"].notna()
        if tested.any():
            per_variable = profile.loc[tested].groupby("variable", sort=False)["p_value"].first()
            adjusted = dict(zip(per_variable.index, multipletests(per_variable.to_numpy(), method="holm")[1]))
            profile.loc[tested, "p_adjusted"] = profile.loc[tested, "variable"].map(adjusted)
        profiles.append(profile.assign(segment=name))
    if not profiles:
        return pd.DataFrame()
    table = pd.concat(profiles, ignore_index=True)
    return table[["segment"] + [c for c in table.columns if c != "segment"]]


def segment_analysis(frame: pd.DataFrame, model: LinkModel, p_label: np.ndarray, y: np.ndarray,
                     offer_predict, thresholds: Thresholds | None = None) -> SegmentResult:
    """Segments, profiles, scenarios, engagement associations, recommendations and offers.

    Parameters
    ----------
    frame : the model frame.
    model : the business model (:class:`stats.link_margins.LinkModel`) for counterfactual predictions.
    p_label : out-of-fold probability of decline of the business model (labels, segments).
    y : observed decline (0/1), for the observed rate of each segment.
    offer_predict : ``predict(frame) -> p`` that returns ``p_label`` on ``frame`` and the shifted probability on
        a counterfactual copy (offers measure the drop from the labelled probability).
    """
    profit = frame["profit"].to_numpy()
    thresholds = thresholds or make_thresholds(profit)
    bounds = lever_bounds(frame)
    segment = assign_segments(p_label, profit, thresholds)
    focus = focus_masks(frame, p_label, thresholds)
    table = segment_table(segment, focus, p_label, profit, y)
    profile_masks = {name: segment == name for name in GRID_SEGMENTS}
    profile_masks[PROMO_GROUP] = focus[PROMO_GROUP]
    profile_table = segment_profiles(frame, profile_masks)

    groups = {name: segment == name for name in GRID_SEGMENTS[:2]}
    groups[PROMO_GROUP] = focus[PROMO_GROUP]
    groups[ALL_HIGH_RISK] = p_label >= thresholds.risk
    scenario_table = scenarios(frame, model, groups, bounds, levers=ACTIONS)
    engagement = scenarios(frame, model, {ALL_HIGH_RISK: groups[ALL_HIGH_RISK]}, bounds, levers=ENGAGEMENT)
    engagement = engagement[["group", "action", "n_with_room", "decline_rate_baseline", "decline_rate_scenario",
                             "effect", "conf_low", "conf_high", "p_value"]].rename(columns={"action": "outcome"})
    recs = recommendations(scenario_table)
    allowed = sorted(set(recs["action"]))
    offers = customer_offers(frame, offer_predict, p_label, thresholds, allowed, bounds)
    threshold_table = pd.DataFrame([
        {"threshold": "risk", "value": thresholds.risk,
         "rule": "P(decline over the next three months) ≥ value"},
        {"threshold": "profit", "value": thresholds.profit,
         "rule": f"profit ≥ value: the {thresholds.profit_quantile:.0%} quantile of profit"},
        {"threshold": "promotion", "value": thresholds.promo,
         "rule": "promo_share ≥ value: the upper mode of the bimodal promotional share"},
    ])
    membership = [pd.DataFrame({"id": frame["id"].to_numpy()[mask], "group": name})
                  for name, mask in {**{g: segment == g for g in GRID_SEGMENTS}, **focus,
                                     ALL_HIGH_RISK: groups[ALL_HIGH_RISK]}.items() if mask.any()]
    return SegmentResult(thresholds=thresholds, allowed_levers=allowed, bounds=bounds, tables={
        "segments": table, "segment_profiles": profile_table, "scenarios": scenario_table,
        "action_effects": scenario_table, "engagement_associations": engagement,
        "recommendations": recs, "offers": offers, "segment_sensitivity": sensitivity(p_label, profit),
        "segment_thresholds": threshold_table, "allowed_levers": pd.DataFrame({"action": allowed}),
        "customer_groups": pd.concat(membership, ignore_index=True),
    })
