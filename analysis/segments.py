"""Segments from risk × profit, focus groups, their profiles and the stress test of the thresholds.

Risk is the out-of-fold P(decline over the next three months) of the business model (never an in-sample
score); value is the customer's average monthly profit. What the store can do about each group is in
:mod:`analysis.decisions.actions` and :mod:`analysis.decisions.decide`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from statsmodels.stats.multitest import multipletests

from analysis.codes import GRID_SEGMENTS
from analysis.settings import FULL
from analysis.modeling.features import PROMO_CLUSTER_SPLIT
from stats.groups import compare_groups

#: Promotional share above which a customer is "promotion-dependent": the split of the bimodal promotional share
#: (analysis.modeling.features.PROMO_CLUSTER_SPLIT).
PROMO_DEPENDENT = PROMO_CLUSTER_SPLIT

SEGMENT_COLUMNS = ["segment", "kind", "n_customers", "share", "mean_p_decline", "observed_decline_rate",
                   "mean_profit", "profit_at_risk_upper"]
#: Codes of the four grid segments (labels are attached in the report).
PROMO_GROUP = "high_risk_promo"
ALL_HIGH_RISK = "high_risk_all"


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
    groups: dict[str, np.ndarray]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def make_thresholds(profit: np.ndarray, risk: float = FULL.risk_threshold, profit_quantile: float = FULL.profit_quantile,
                    promo: float = PROMO_DEPENDENT) -> Thresholds:
    """Thresholds from the stated rules (the protocol's risk threshold and profit quantile,
    :mod:`analysis.settings`: the business probabilities are checked for calibration, the report gives each
    segment's observed decline rate beside its mean predicted risk, and the stress test moves the risk threshold
    from 0.4 to 0.6); the profit boundary is a quantile of the observed profit."""
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


def segment_analysis(frame: pd.DataFrame, p_label: np.ndarray, y: np.ndarray,
                     thresholds: Thresholds | None = None) -> SegmentResult:
    """Segments, focus groups, profiles, the stress test of the thresholds and each customer's groups.

    Parameters
    ----------
    frame : the model frame.
    p_label : out-of-fold probability of decline of the business model (labels, segments).
    y : observed decline (0/1), for the observed rate of each segment.

    Returns
    -------
    SegmentResult
        ``groups``: the groups the scenarios are evaluated in (the two high-risk grid segments, the
        promotion-dependent high-risk customers, all high-risk customers), as boolean masks.
    """
    profit = frame["profit"].to_numpy()
    thresholds = thresholds or make_thresholds(profit)
    segment = assign_segments(p_label, profit, thresholds)
    focus = focus_masks(frame, p_label, thresholds)
    table = segment_table(segment, focus, p_label, profit, y)
    profile_masks = {name: segment == name for name in GRID_SEGMENTS}
    profile_masks[PROMO_GROUP] = focus[PROMO_GROUP]
    profile_table = segment_profiles(frame, profile_masks)

    groups = {name: segment == name for name in GRID_SEGMENTS[:2]}
    groups[PROMO_GROUP] = focus[PROMO_GROUP]
    groups[ALL_HIGH_RISK] = p_label >= thresholds.risk
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
    return SegmentResult(thresholds=thresholds, groups=groups, tables={
        "segments": table, "segment_profiles": profile_table, "segment_sensitivity": sensitivity(p_label, profit),
        "segment_thresholds": threshold_table, "customer_groups": pd.concat(membership, ignore_index=True),
    })
