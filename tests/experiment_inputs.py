"""TEST INPUTS for :mod:`analysis.decisions.experiment`: the results tables it reads, built by hand-coded rules.

``python -m analysis run`` writes ``action_effects.csv`` and ``customer_groups.csv`` itself; these builders make
small stand-ins for the tests of the experiment layer. Nothing here is a model result: the groups are simple
threshold rules and the effects of :data:`HAND_EFFECTS` are typed-in test values.

``python -m tests.experiment_inputs RESULTS_DIR`` writes the two tables (and the ``p_chosen`` column of
``oof_predictions.csv``, from the column ``--risk-column``) beside the customer table of a results directory.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.decisions.actions import LEVER_BY_NAME, apply_action, support_reference
from analysis.decisions.experiment import STORE_ACTIONS
from analysis.modeling.features import model_frame

#: Typed-in test effects (change in the 3-month decline rate among customers with room) and their SE.
HAND_EFFECTS = {"more_marketing": (-0.08, 0.02), "less_promotion": (-0.05, 0.015),
                "cart_reminder": (-0.03, 0.01), "marketing_this_month": (-0.01, 0.02)}


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
    """``action_effects.csv`` with the typed-in effects of :data:`HAND_EFFECTS` in every group (store actions and
    assumption-based actions, with their ``kind`` and ``assumption``); room by the support rule of the whole
    modelling table, as the run counts it."""
    frame = model_frame(customer_table)
    reference = support_reference(frame)
    rows = []
    for group in groups["group"].unique():
        members = frame[frame["id"].isin(groups.loc[groups["group"] == group, "id"])]
        for action in STORE_ACTIONS:
            lever = LEVER_BY_NAME[action]
            _, room, _ = apply_action(members, lever, reference)
            base = float(members.loc[room, "id"].map(p_chosen).mean())
            effect, se = HAND_EFFECTS[action]
            rows.append({"group": group, "action": action, "kind": lever.kind, "assumption": lever.assumption,
                         "n_customers": len(members), "n_with_room": int(room.sum()),
                         "decline_rate_baseline": base, "decline_rate_scenario": base + effect, "effect": effect,
                         "conf_low": effect - 1.96 * se, "conf_high": effect + 1.96 * se})
    return pd.DataFrame(rows)


def synthetic_inputs(n_customers: int = 600, seed: int = 1) -> dict[str, pd.DataFrame]:
    """All four inputs from the synthetic customer table; ``p_chosen`` is the TRUE probability (a stand-in
    for the out-of-fold risk) and ``y_true`` the synthetic outcome."""
    from analysis.data.synthetic import customer_table, true_probability

    table = customer_table(n_customers, seed)
    p = pd.Series(true_probability(table), index=table["id"].to_numpy())
    oof = pd.DataFrame({"id": table["id"], "p_chosen": p.to_numpy(), "y_true": table["activity_decline"]})
    groups = groups_by_rule(table, p)
    return {"action_effects": hand_action_effects(table, groups, p), "customer_groups": groups,
            "oof_predictions": oof, "customer_table": table}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results_dir")
    parser.add_argument("--risk-column", default="logit_linear",
                        help="column of oof_predictions.csv copied to p_chosen (default: logit_linear)")
    args = parser.parse_args(argv)
    results = Path(args.results_dir)
    table = pd.read_csv(results / "customer_table.csv")
    oof = pd.read_csv(results / "oof_predictions.csv")
    oof["p_chosen"] = oof[args.risk_column]
    p = oof.set_index("id")["p_chosen"]
    groups = groups_by_rule(table, p)
    effects = hand_action_effects(table, groups, p)
    oof.to_csv(results / "oof_predictions.csv", index=False)
    groups.to_csv(results / "customer_groups.csv", index=False)
    effects.to_csv(results / "action_effects.csv", index=False)
    print(f"wrote test inputs to {results}")


if __name__ == "__main__":
    main()
