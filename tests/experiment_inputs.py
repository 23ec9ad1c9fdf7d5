"""TEST INPUTS for :mod:`analysis.experiment`: the results tables it reads, built by hand-coded rules.

The modelling that will write ``action_effects.csv`` and ``customer_groups.csv`` is being rewritten; until
then these builders stand in for it. Nothing here is a model result: the groups are simple threshold rules
and the effects of :data:`HAND_EFFECTS` are typed-in test values.

``python -m tests.experiment_inputs RESULTS_DIR [--from-scenarios]`` adds the two tables (and the
``p_chosen`` column of ``oof_predictions.csv``) to the results of ``python -m analysis run``; with
``--from-scenarios`` the effects are converted from that run's ``scenarios.csv`` / ``recommendations.csv``
(the current modelling's numbers, as a preview of the real plan) instead of typed in.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from analysis.experiment import STORE_ACTIONS
from analysis.features import model_frame
from analysis.segments import LEVER_BY_NAME, apply_lever, lever_bounds

#: Typed-in test effects (change in the 3-month decline rate among customers with room) and their SE.
HAND_EFFECTS = {"more_marketing": (-0.08, 0.02), "less_promotion": (-0.05, 0.015),
                "cart_reminder": (-0.03, 0.01), "marketing_this_month": (-0.01, 0.02)}
#: Current segment names of analysis.segments -> the group codes of the new interface.
GROUP_CODES = {"high risk, high profit": "high_risk_high_profit", "high risk, low profit": "high_risk_low_profit",
               "high risk, promotion-dependent": "high_risk_promo", "all high risk": "high_risk_all"}


def groups_by_rule(customer_table: pd.DataFrame, p_chosen: pd.Series) -> pd.DataFrame:
    """Long table ``id, group``: high risk = p ≥ 0.5; high profit = profit ≥ its median; promo ≥ 0.5."""
    risk = customer_table["id"].map(p_chosen).to_numpy()
    high = risk >= 0.5
    rich = customer_table["profit"].to_numpy() >= np.median(customer_table["profit"])
    promo = customer_table["promo_share"].to_numpy() >= 0.5
    masks = {"high_risk_high_profit": high & rich, "high_risk_low_profit": high & ~rich,
             "high_risk_promo": high & promo, "high_risk_all": high}
    parts = [pd.DataFrame({"id": customer_table.loc[m, "id"].to_numpy(), "group": g}) for g, m in masks.items()]
    return pd.concat(parts, ignore_index=True).sort_values(["id", "group"]).reset_index(drop=True)


def hand_action_effects(customer_table: pd.DataFrame, groups: pd.DataFrame, p_chosen: pd.Series) -> pd.DataFrame:
    """``action_effects.csv`` with the typed-in effects of :data:`HAND_EFFECTS` in every group."""
    frame = model_frame(customer_table)
    rows = []
    for group in groups["group"].unique():
        members = frame[frame["id"].isin(groups.loc[groups["group"] == group, "id"])]
        for action in STORE_ACTIONS:
            _, room = apply_lever(members, LEVER_BY_NAME[action], lever_bounds(frame))
            base = float(members.loc[room, "id"].map(p_chosen).mean())
            effect, se = HAND_EFFECTS[action]
            rows.append({"group": group, "action": action, "n_customers": len(members),
                         "n_with_room": int(room.sum()), "decline_rate_baseline": base,
                         "decline_rate_scenario": base + effect, "effect": effect,
                         "conf_low": effect - 1.96 * se, "conf_high": effect + 1.96 * se,
                         "p_value": float(2 * sps.norm.sf(abs(effect / se)))})
    table = pd.DataFrame(rows)
    table["p_value_holm"] = multipletests(table["p_value"], method="holm")[1]
    table["recommended"] = (table["p_value_holm"] < 0.05) & (table["effect"] < 0)
    return table


def effects_from_scenarios(scenarios: pd.DataFrame, recommendations: pd.DataFrame) -> pd.DataFrame:
    """The current ``scenarios.csv`` in the new interface: effects averaged over the customers with room.

    ``customers_kept`` is a sum over the group, so the per-customer effect among those with room is
    ``-customers_kept / n_with_room`` (the other customers do not move); the CI scales the same way. The
    p values are the scenarios' own; Holm is over the store-controlled rows.
    """
    s = scenarios[scenarios["lever"].isin(STORE_ACTIONS) & scenarios["segment"].isin(GROUP_CODES)].copy()
    room = s["n_with_room"].to_numpy(dtype=float)
    recommended = set(zip(recommendations["segment"], recommendations["lever"]))
    out = pd.DataFrame({
        "group": s["segment"].map(GROUP_CODES).to_numpy(), "action": s["lever"].to_numpy(),
        "n_customers": s["n_customers"].to_numpy(), "n_with_room": s["n_with_room"].to_numpy(),
        "decline_rate_baseline": s["decline_rate_baseline"].to_numpy(),
        "decline_rate_scenario": s["decline_rate_scenario"].to_numpy(),
        "effect": -s["customers_kept"].to_numpy() / room,
        "conf_low": -s["customers_kept_high"].to_numpy() / room,
        "conf_high": -s["customers_kept_low"].to_numpy() / room,
        "p_value": s["p_value"].to_numpy(),
    })
    out["p_value_holm"] = multipletests(out["p_value"], method="holm")[1]
    out["recommended"] = [(seg, lev) in recommended or (p < 0.05 and e < 0)
                          for seg, lev, p, e in zip(s["segment"], s["lever"], out["p_value_holm"], out["effect"])]
    return out


def synthetic_inputs(n_customers: int = 600, seed: int = 1) -> dict[str, pd.DataFrame]:
    """All four inputs from the synthetic customer table; ``p_chosen`` is the TRUE probability (a stand-in
    for the out-of-fold risk) and ``y_true`` the synthetic outcome."""
    from analysis.synthetic import customer_table, true_probability

    table = customer_table(n_customers, seed)
    p = pd.Series(true_probability(table), index=table["id"].to_numpy())
    oof = pd.DataFrame({"id": table["id"], "p_chosen": p.to_numpy(), "y_true": table["activity_decline"]})
    groups = groups_by_rule(table, p)
    return {"action_effects": hand_action_effects(table, groups, p), "customer_groups": groups,
            "oof_predictions": oof, "customer_table": table}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results_dir")
    parser.add_argument("--from-scenarios", action="store_true")
    args = parser.parse_args(argv)
    results = Path(args.results_dir)
    table = pd.read_csv(results / "customer_table.csv")
    oof = pd.read_csv(results / "oof_predictions.csv")
    oof["p_chosen"] = oof["logit_spec"]
    p = oof.set_index("id")["p_chosen"]
    groups = groups_by_rule(table, p)
    if args.from_scenarios:
        effects = effects_from_scenarios(pd.read_csv(results / "scenarios.csv"),
                                         pd.read_csv(results / "recommendations.csv"))
    else:
        effects = hand_action_effects(table, groups, p)
    oof.to_csv(results / "oof_predictions.csv", index=False)
    groups.to_csv(results / "customer_groups.csv", index=False)
    effects.to_csv(results / "action_effects.csv", index=False)
    print(f"wrote test inputs to {results}")


if __name__ == "__main__":
    main()
