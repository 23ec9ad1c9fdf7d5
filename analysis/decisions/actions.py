"""What the store can do: its actions, the support rule, scenarios, the test of each action, recommendations
and per-customer offers.

Only a variable the store sets is a lever (the ``control`` column of the data dictionary): the marketing
contacts (:data:`STORE_ACTIONS`). A store action that can at most *influence* a customer behaviour (a cart
reminder → unpaid items; fewer promotional mailings → promotional share) gets a scenario only under an
explicitly stated assumption (:data:`ASSUMED_ACTIONS`), in its own table, never in the headline, the
recommendations or the offers: the experiment plan is where such an assumption gets tested. Engagement
(pages, categories) is reported as an association only (:data:`ENGAGEMENT`).

A scenario is the business model's counterfactual prediction: an association in observational data,
conditional on the model's form, and evaluated only where the data support it (:data:`SUPPORT_RULE`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from analysis.settings import FULL
from analysis.data.dictionary import FIELDS
from analysis.modeling.features import PROMO_UPPER, with_promo_cluster
from stats.link_margins import LinkModel, design_difference

#: Months of the target's horizon: the decline is measured over the next three months.
HORIZON_MONTHS = 3
HORIZON = "next three months"

#: The support rule: a counterfactual value is evaluated for a customer only where at least this many customers
#: of the modelling data, in the customer's own cluster of the variable, lie within half a step of it.
SUPPORT_MIN_CUSTOMERS = 20
SUPPORT_RULE = (f"a customer's scenario is evaluated only where at least {SUPPORT_MIN_CUSTOMERS} customers of the "
                "modelling data, in the customer's own cluster of the variable (promotional share: below or above "
                "0.5), have a value within half a step of the new value (|x − new| ≤ |change| / 2)")
#: Model columns whose values fall into separate clusters, and the column that names the cluster.
CLUSTER_OF = {"promo_share_10pp": PROMO_UPPER}


@dataclass(frozen=True)
class Lever:
    """A change of one model column.

    ``kind``: ``action`` (the store sets the variable: a lever), ``assumption`` (a store action that might move a
    customer behaviour; the scenario holds only under ``assumption``) or ``engagement`` (a behaviour reported as
    an association). ``variable`` is the data-dictionary variable behind ``column``; ``contacts`` the marketing
    contacts one treated customer receives (for the price per contact).
    """

    name: str
    column: str
    variable: str
    change: float
    description: str
    kind: str
    needs_consent: bool = False
    contacts: float = 0.0
    assumption: str = ""


STORE_ACTIONS = (
    Lever("more_marketing", "marketing_6m", "marketing_6m", 1.0,
          "+1 marketing contact per month for six months (raises marketing_6m by 1)", "action",
          needs_consent=True, contacts=6.0),
    Lever("marketing_this_month", "marketing_current", "marketing_current", 1.0,
          "+1 marketing contact this month (raises marketing_current by 1)", "action", needs_consent=True,
          contacts=1.0),
)
ASSUMED_ACTIONS = (
    Lever("cart_reminder", "unpaid_items", "unpaid_items", -1.0, "a reminder about unpaid items in the cart",
          "assumption", assumption="assumes a reminder removes one unpaid item (unpaid_items − 1)"),
    Lever("less_promotion", "promo_share_10pp", "promo_share", -1.0, "fewer promotional mailings", "assumption",
          assumption="assumes fewer promotional mailings lower the customer's promotional share by 10 percentage "
                     "points (promo_share − 0.10)"),
)
ENGAGEMENT = (
    Lever("more_categories", "categories_per_visit", "categories_per_visit", 1.0,
          "one more category viewed per visit", "engagement"),
    Lever("more_pages", "pages_per_visit", "pages_per_visit", 2.0, "two more pages per visit", "engagement"),
)
LEVERS = STORE_ACTIONS + ASSUMED_ACTIONS + ENGAGEMENT
LEVER_BY_NAME = {lever.name: lever for lever in LEVERS}


def check_levers(levers=LEVERS) -> None:
    """``ValueError`` when a lever's kind disagrees with the data dictionary: a store action must move a
    variable classified ``store_action``, every other lever a variable that is not one."""
    for lever in levers:
        control = FIELDS[lever.variable].control
        if (lever.kind == "action") != (control == "store_action"):
            raise ValueError(f"lever {lever.name!r} is a {lever.kind} but {lever.variable} is a {control}")
        if lever.kind == "assumption" and not lever.assumption:
            raise ValueError(f"lever {lever.name!r} rests on an assumption that is not stated")


check_levers()


# ---------------------------------------------------------------------------------------------------------
# Support
# ---------------------------------------------------------------------------------------------------------
def _clusters(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in CLUSTER_OF:
        return np.zeros(len(frame), dtype=np.int64)
    return with_promo_cluster(frame)[CLUSTER_OF[column]].to_numpy().astype(np.int64)


def support_reference(frame: pd.DataFrame, levers=LEVERS) -> dict[str, dict]:
    """Counts of the distinct values of every lever column in the modelling data, per cluster (no customer rows):
    ``{column: {"cluster": [...], "value": [...], "count": [...]}}``, sorted by cluster and value."""
    out = {}
    for column in dict.fromkeys(lever.column for lever in levers):
        counts = (pd.DataFrame({"cluster": _clusters(frame, column),
                                "value": frame[column].to_numpy(dtype=float)})
                  .value_counts().sort_index().reset_index(name="count"))
        out[column] = {"cluster": counts["cluster"].astype(int).tolist(),
                       "value": counts["value"].astype(float).tolist(),
                       "count": counts["count"].astype(int).tolist()}
    return out


def neighbours(reference: dict, clusters: np.ndarray, new_values: np.ndarray, half_width: float) -> np.ndarray:
    """For each customer, the reference customers of the same cluster within ``half_width`` of the new value
    (the interval is closed; a tolerance of 1e-9 absorbs the rounding of one-decimal values)."""
    ref_cluster = np.asarray(reference["cluster"], dtype=np.int64)
    ref_value = np.asarray(reference["value"], dtype=float)
    ref_count = np.asarray(reference["count"], dtype=np.int64)
    out = np.zeros(len(new_values), dtype=np.int64)
    for cluster in np.unique(clusters):
        mine = ref_cluster == cluster
        values, cumulative = ref_value[mine], np.concatenate([[0], np.cumsum(ref_count[mine])])
        rows = clusters == cluster
        low = np.searchsorted(values, new_values[rows] - half_width - 1e-9, side="left")
        high = np.searchsorted(values, new_values[rows] + half_width + 1e-9, side="right")
        out[rows] = cumulative[high] - cumulative[low]
    return out


def apply_action(frame: pd.DataFrame, lever: Lever, reference: dict,
                 min_customers: int = SUPPORT_MIN_CUSTOMERS) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The counterfactual frame of ``lever``, where it applies and which customers it could reach.

    A customer is *eligible* when the store may use the action on them (consent, for contacts); the action is
    applied (``room``) to eligible customers whose new value ``x + change`` has support: at least
    ``min_customers`` customers of the modelling data in the same cluster within ``|change| / 2`` of it. The
    new value is never clipped: without support the customer is left out, not moved somewhere else.

    Returns
    -------
    (counterfactual, room, eligible)
    """
    values = frame[lever.column].to_numpy(dtype=float)
    new = values + lever.change
    eligible = (frame["contact_allowed"].to_numpy() == 1) if lever.needs_consent else np.ones(len(frame), bool)
    counts = neighbours(reference[lever.column], _clusters(frame, lever.column), new, abs(lever.change) / 2)
    room = eligible & (counts >= min_customers)
    moved = np.where(room, new, values)
    counterfactual = frame.copy()
    counterfactual[lever.column] = (moved.astype(frame[lever.column].dtype)
                                    if np.all(np.mod(moved, 1) == 0) else moved)
    return counterfactual, room, eligible


# ---------------------------------------------------------------------------------------------------------
# Scenarios (point estimates and delta-method intervals; the bootstrap adds its own, analysis.decisions.decide)
# ---------------------------------------------------------------------------------------------------------
SCENARIO_COLUMNS = [
    "group", "action", "kind", "assumption", "n_customers", "n_eligible", "n_without_support", "n_with_room",
    "decline_rate_baseline", "decline_rate_scenario", "effect", "std_error", "conf_low", "conf_high",
    "std_error_delta", "customers_kept", "customers_kept_low", "customers_kept_high", "profit_retained_upper",
    "profit_retained_upper_low", "profit_retained_upper_high", "interval",
]


def scenarios(frame: pd.DataFrame, model: LinkModel, groups: dict[str, np.ndarray], reference: dict,
              levers=STORE_ACTIONS, conf_level: float = 0.95) -> pd.DataFrame:
    """What-if of every lever in every group: counterfactual predictions of the business model.

    Among the group's customers with room (eligible and supported), ``effect`` is the mean change of the
    predicted probability of decline over the next three months (negative = fewer declines);
    ``customers_kept`` = −Σ change (expected customers whose decline is avoided); ``profit_retained_upper`` =
    −Σ profit × change per month (an upper bound, as profit at risk: a declining customer is assumed to lose the
    store all their monthly profit). ``n_without_support`` counts the eligible customers left out by the support
    rule. The intervals here are the delta method's, conditional on the fitted model (penalty weight and
    recalibration map held fixed; ``interval`` = ``delta``); :func:`analysis.decisions.decide.bootstrap_columns`
    replaces them by the customer bootstrap of the whole procedure and keeps the delta SE in
    ``std_error_delta``. There are no p-values: group figures are estimates with intervals, and each action is
    tested once (:func:`action_tests`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SCENARIO_COLUMNS`.
    """
    from stats._common import normal_quantile

    z = normal_quantile(conf_level)
    # each lever's counterfactual over all customers, and one design of the base and every counterfactual (a
    # design call costs more than its rows); a group takes its rows
    applied = {lever.name: apply_action(frame, lever, reference) for lever in levers}
    needed = [name for name, (_, room, _) in applied.items()
              if room.any() and any(np.asarray(mask, dtype=bool).any() for mask in groups.values())]
    prepared = {name: (applied[name][1], applied[name][2], None) for name in applied}
    if needed:
        n = len(frame)
        stacked = pd.concat([frame] + [applied[name][0] for name in needed], ignore_index=True)
        X = np.asarray(model.design(stacked), dtype=float)
        base = X[:n]
        for k, name in enumerate(needed, start=1):
            prepared[name] = (applied[name][1], applied[name][2], (base, X[k * n:(k + 1) * n]))
    profit = frame["profit"].to_numpy(dtype=float)
    rows = []
    for name, mask in groups.items():
        mask = np.asarray(mask, dtype=bool)
        for lever in levers:
            room, eligible, designs = prepared[lever.name]
            row = {"group": name, "action": lever.name, "kind": lever.kind, "assumption": lever.assumption,
                   "n_customers": int(mask.sum()), "interval": "delta",
                   "n_eligible": int((mask & eligible).sum()),
                   "n_without_support": int((mask & eligible & ~room).sum())}
            reached = mask & room
            n = int(reached.sum())
            row["n_with_room"] = n
            if n == 0:
                rows.append(row)
                continue
            X0, X1 = designs[0][reached], designs[1][reached]
            mean = design_difference(model, X0, X1, conf_level=conf_level).iloc[0]
            money = design_difference(model, X0, X1, weights=profit[reached], normalize=False,
                                      conf_level=conf_level).iloc[0]
            effect, se = float(mean["difference"]), float(mean["std_error"])
            row.update({
                "decline_rate_baseline": mean["estimate_baseline"],
                "decline_rate_scenario": mean["estimate_counterfactual"],
                "effect": effect, "std_error": se, "conf_low": effect - z * se, "conf_high": effect + z * se,
                "std_error_delta": se,
                "customers_kept": -effect * n, "customers_kept_low": -(effect + z * se) * n,
                "customers_kept_high": -(effect - z * se) * n,
                "profit_retained_upper": -money["difference"],
                "profit_retained_upper_low": -(money["difference"] + z * money["std_error"]),
                "profit_retained_upper_high": -(money["difference"] - z * money["std_error"]),
            })
            rows.append(row)
    return pd.DataFrame(rows, columns=SCENARIO_COLUMNS)


# ---------------------------------------------------------------------------------------------------------
# One test per action, recommendations
# ---------------------------------------------------------------------------------------------------------
TEST_COLUMNS = ["action", "column", "hypothesis", "estimate", "std_error", "statistic", "p_value", "p_value_holm",
                "conf_low", "conf_high", "std_error_delta", "n_models_tied", "robust", "offered", "recommended"]


def action_tests(ames: pd.DataFrame, tied_ames: pd.DataFrame, alpha: float = FULL.alpha,
                 levers=STORE_ACTIONS) -> pd.DataFrame:
    """One hypothesis per store action: its average marginal effect is zero (under the inference model, where the
    changes come from: :data:`analysis.decisions.decide.EFFECT_SCALE`).

    Parameters
    ----------
    ames
        One row per lever column with the business model's AME: ``variable, estimate, std_error, conf_low,
        conf_high, std_error_delta`` (the bootstrap's SD and interval, :data:`analysis.decisions.decide.BOOTSTRAP_INTERVAL`, and the delta SE).
    tied_ames
        ``model, variable, conf_low, conf_high``: the AME intervals under every candidate tied with the best
        out-of-fold log loss (the tie rule of the protocol).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TEST_COLUMNS`. ``statistic`` = estimate / bootstrap SD, ``p_value`` two-sided normal;
        ``p_value_holm`` over the store actions (the family is the set of distinct action hypotheses).
        ``robust``: the interval lies on the side of fewer declines under every tied candidate. ``offered``: Holm
        p < ``alpha`` and the bootstrap interval on the side of fewer declines (the business model supports it:
        the per-customer offers use it). ``recommended``: offered and robust (a roll-out the data support under
        every model that fits them as well). The p-values are conditional on the model's form.
    """
    from scipy.stats import norm

    rows, signs = [], []
    by_variable = ames.set_index("variable")
    for lever in levers:
        a = by_variable.loc[lever.column]
        sign = float(np.sign(lever.change))
        signs.append(sign)
        statistic = float(a["estimate"] / a["std_error"]) if a["std_error"] > 0 else np.nan
        tied = tied_ames[tied_ames["variable"] == lever.column]
        # fewer declines: the effect of the action's change (sign × AME) is below zero in every tied model; an
        # action that changes nothing never is
        robust = bool(sign != 0 and len(tied)
                      and np.all(np.where(sign > 0, tied["conf_high"] < 0, tied["conf_low"] > 0)))
        rows.append({"action": lever.name, "column": lever.column,
                     "hypothesis": f"AME of {lever.column} = 0 (inference model)", "estimate": float(a["estimate"]),
                     "std_error": float(a["std_error"]), "statistic": statistic,
                     "p_value": float(2 * norm.sf(abs(statistic))) if np.isfinite(statistic) else np.nan,
                     "conf_low": float(a["conf_low"]), "conf_high": float(a["conf_high"]),
                     "std_error_delta": float(a["std_error_delta"]), "n_models_tied": int(len(tied)),
                     "robust": robust})
    table = pd.DataFrame(rows)
    tested = table["p_value"].notna()
    table["p_value_holm"] = np.nan
    if tested.any():
        table.loc[tested, "p_value_holm"] = multipletests(table.loc[tested, "p_value"], method="holm")[1]
    # the same sign as for ``robust``: the change of the action as passed
    fewer = np.array(signs)
    beneficial = np.where(fewer > 0, table["conf_high"] < 0, np.where(fewer < 0, table["conf_low"] > 0, False))
    table["offered"] = (table["p_value_holm"] < alpha) & beneficial
    table["recommended"] = table["offered"] & table["robust"]
    return table[TEST_COLUMNS]


RECOMMENDATION_COLUMNS = ["group", "rank", "action", "n_with_room", "effect", "conf_low", "conf_high",
                          "customers_kept", "customers_kept_low", "customers_kept_high", "profit_retained_upper",
                          "profit_retained_upper_low", "profit_retained_upper_high", "share_with_room"]


def recommendations(scenario_table: pd.DataFrame, recommended: list[str]) -> pd.DataFrame:
    """Per group, the given store actions (those :func:`action_tests` offers) ranked by customers kept.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RECOMMENDATION_COLUMNS` (the group's scenario estimates with their intervals).
    """
    useful = scenario_table[scenario_table["action"].isin(recommended) & (scenario_table["n_with_room"] > 0)]
    useful = useful.assign(share_with_room=useful["n_with_room"] / useful["n_customers"])
    useful = useful.sort_values(["group", "customers_kept"], ascending=[True, False], kind="stable")
    ranked = useful.copy()
    ranked["rank"] = ranked.groupby("group", sort=False).cumcount() + 1
    return ranked[RECOMMENDATION_COLUMNS].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------------
# Offers
# ---------------------------------------------------------------------------------------------------------
OFFER_COLUMNS = ["id", "p_decline", "profit", "segment", "offer", "risk_drop", "risk_drop_conf_low",
                 "risk_drop_conf_high"]


def customer_offers(frame: pd.DataFrame, predict, p_decline: np.ndarray, thresholds, allowed_levers: list[str],
                    reference: dict, drop_se=None, conf_level: float = 0.95) -> pd.DataFrame:
    """One offer per customer: for high-risk customers the allowed store action that lowers their predicted
    risk most (``predict(frame) − predict(counterfactual)``, only where the action has room and the drop is
    positive); for low-risk customers no retention offer.

    ``predict`` is the model whose change is the drop (the inference model,
    :data:`analysis.decisions.decide.EFFECT_SCALE`); ``p_decline`` (the labelled risk) decides the segment and who is
    at high risk. ``drop_se(frame, counterfactual)`` gives each customer's
    delta-method standard error of the drop (conditional on the fitted model); the interval is
    ``risk_drop ± z·se``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`OFFER_COLUMNS`; ``offer`` is an action code, ``none`` (low risk) or ``personal_contact``
        (high risk, no allowed action has room); ``risk_drop`` and its interval are 0 where no action is offered.
    """
    from analysis.segments import assign_segments
    from stats._common import normal_quantile

    z = normal_quantile(conf_level)
    p_decline = np.asarray(p_decline, dtype=float)
    profit = frame["profit"].to_numpy()
    segment = assign_segments(p_decline, profit, thresholds)
    base_p = np.asarray(predict(frame), dtype=float)
    best_drop = np.zeros(len(frame))
    best_se = np.zeros(len(frame))
    best_lever = np.full(len(frame), "", dtype=object)
    for name in allowed_levers:
        lever = LEVER_BY_NAME[name]
        if lever.kind != "action":
            raise ValueError(f"{name!r} is not an action the store controls ({lever.kind}): it cannot be offered")
        counterfactual, room, _ = apply_action(frame, lever, reference)
        drop = np.where(room, base_p - np.asarray(predict(counterfactual), dtype=float), 0.0)
        se = np.asarray(drop_se(frame, counterfactual), dtype=float) if drop_se is not None else np.zeros(len(frame))
        better = drop > best_drop
        best_drop = np.where(better, drop, best_drop)
        best_se = np.where(better, se, best_se)
        best_lever = np.where(better, name, best_lever)
    high_risk = p_decline >= thresholds.risk
    has_lever = best_lever != ""
    offered = high_risk & has_lever
    offers = np.where(~high_risk, "none", np.where(has_lever, best_lever, "personal_contact"))
    drop = np.where(offered, best_drop, 0.0)
    half = np.where(offered, z * best_se, 0.0)
    return pd.DataFrame({"id": frame["id"].to_numpy(), "p_decline": p_decline, "profit": profit,
                         "segment": segment, "offer": offers, "risk_drop": drop,
                         "risk_drop_conf_low": drop - half, "risk_drop_conf_high": drop + half})
