"""From association to evidence: A/B tests of the store's actions, and of the assumptions behind the others.

Three verbs, each a pure function on DataFrames with a thin file layer around it:

* :func:`experiment_plan` — for every (group, action) of ``action_effects.csv`` (store actions, and store
  actions whose scenario rests on an assumption, which only an experiment can test): the effect the
  model predicts, the baseline rate, the minimum detectable effect of the customers available and the
  customers per arm needed for 80 % and 90 % power (α = 0.05, two-sided, two proportions).
* :func:`assign_customers` — stratified randomisation of the customers an action can reach, with a balance
  table of every model variable.
* :func:`analyze_experiment` — the observed effect (difference in proportions; logit with the stratum as
  covariate), the predicted effect beside it and a one-line verdict.

The population of an experiment is the customers of the group **with room** for the action (the ones the
action can reach: consent for marketing, a variable that can still move inside the observed range; the rule
of :func:`analysis.decisions.actions.apply_action`), because that is the population the predicted effect is averaged
over (``n_with_room`` in ``action_effects.csv``).

Inputs (written by ``python -m analysis run``):

* ``action_effects.csv`` — ``group, action, n_customers, n_with_room, decline_rate_baseline,
  decline_rate_scenario, effect, conf_low, conf_high, kind, assumption``;
* ``customer_groups.csv`` — ``id, group`` (one row per customer per group);
* ``oof_predictions.csv`` — ``id, p_chosen, y_true``;
* ``customer_table.csv`` — ``id`` and the model variables.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import paths
from analysis.settings import FULL
from analysis.modeling.features import CATEGORICAL_PREDICTORS, NUMERIC_PREDICTORS, SCALED, model_frame
from analysis.data.load import ExportError, Violation
from analysis.decisions.actions import ASSUMED_ACTIONS, LEVER_BY_NAME, STORE_ACTIONS as STORE_LEVERS, apply_action, \
    support_reference
from stats.experiments import (
    CONTROL,
    TREATMENT,
    difference_in_proportions,
    logit_treatment_effect,
    minimum_detectable_effect,
    quantile_bins,
    sample_size_two_proportions,
    standardized_mean_differences,
    stratified_assignment,
)

#: What an experiment can test: the store actions, and the store actions whose effect rests on an assumption
#: (the experiment is where that assumption gets tested).
STORE_ACTIONS = tuple(lever.name for lever in STORE_LEVERS + ASSUMED_ACTIONS)
POWERS = (0.8, 0.9)
#: Smallest stratum the assignment aims for: with fewer customers a stratum indicator in the analysis logit
#: is poorly estimated (and an all-0 or all-1 stratum is uninformative), so risk bins are at most n / 20.
MIN_STRATUM = 20
N_RISK_BINS = 10

INPUT_COLUMNS = {
    "action_effects.csv": ["group", "action", "n_customers", "n_with_room", "decline_rate_baseline",
                           "decline_rate_scenario", "effect", "conf_low", "conf_high", "kind", "assumption"],
    "customer_groups.csv": ["id", "group"],
    "oof_predictions.csv": ["id", "p_chosen", "y_true"],
    "customer_table.csv": ["id"],
}

PLAN_COLUMNS = [
    "group", "action", "n_customers", "n_with_room", "baseline_rate", "predicted_effect", "predicted_conf_low",
    "predicted_conf_high", "kind", "assumption", "n_per_arm_available", "mde_80", "n_per_arm_80", "n_per_arm_90",
    "n_per_arm_80_ci_bound", "feasible", "note",
]
ASSIGNMENT_COLUMNS = ["id", "arm", "stratum", "action", "group"]
ANALYSIS_COLUMNS = ["method", "estimate", "std_error", "p_value", "conf_low", "conf_high", "n_treatment",
                    "n_control", "rate_treatment", "rate_control"]


# ----------------------------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------------------------


def read_inputs(results_dir: Path) -> dict[str, pd.DataFrame]:
    """The four input tables of ``results_dir``, checked for their columns (keys: file stems)."""
    tables = {}
    for name, columns in INPUT_COLUMNS.items():
        path = Path(results_dir) / name
        if not path.exists():
            raise FileNotFoundError(f"{path}: not found (run `python -m analysis run` first)")
        frame = pd.read_csv(path)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{path}: line 1: missing column '{missing[0]}' (found: {', '.join(frame.columns)})")
        tables[path.stem] = frame
    return tables


def _as_bool(values: pd.Series) -> np.ndarray:
    if values.dtype == bool:
        return values.to_numpy()
    return values.astype(str).str.strip().str.lower().isin(("true", "1", "yes")).to_numpy()


def _model_variables(customer_table: pd.DataFrame) -> pd.DataFrame:
    """The customer table with the model's rescaled columns (added when the table has only the raw ones)."""
    if all(column in customer_table.columns for column in SCALED):
        return customer_table
    return model_frame(customer_table)


def group_members(customer_groups: pd.DataFrame, group: str) -> np.ndarray:
    """Ids of the customers of ``group`` (sorted); ``ValueError`` when the group is unknown or empty."""
    ids = np.sort(customer_groups.loc[customer_groups["group"] == group, "id"].unique())
    if len(ids) == 0:
        known = ", ".join(sorted(customer_groups["group"].unique()))
        raise ValueError(f"customer_groups.csv: group {group!r} has no customers (groups: {known})")
    return ids


def population(action: str, group: str, customer_groups: pd.DataFrame, oof: pd.DataFrame,
               customer_table: pd.DataFrame) -> pd.DataFrame:
    """The customers of ``group`` the action can reach, with their model variables and out-of-fold risk.

    Room is :func:`analysis.decisions.actions.apply_action` applied to the group's customers with the support reference of
    the whole modelling table (the scenarios and offers use the same), so that the count equals ``n_with_room`` of
    the same group and action.

    Returns
    -------
    pandas.DataFrame
        The rows of the model table for those customers (sorted by id) plus ``p_chosen``.
    """
    if action not in LEVER_BY_NAME:
        raise ValueError(f"unknown action {action!r} (known: {', '.join(STORE_ACTIONS)})")
    ids = group_members(customer_groups, group)
    table = _model_variables(customer_table)
    members = table[table["id"].isin(ids)].sort_values("id", kind="stable").reset_index(drop=True)
    absent = np.setdiff1d(ids, members["id"].to_numpy())
    if len(absent):
        raise ValueError(f"customer_table.csv: {len(absent)} customers of group {group!r} are missing "
                         f"(first ids: {', '.join(map(str, absent[:5]))})")
    _, room, _ = apply_action(members, LEVER_BY_NAME[action], support_reference(table))
    reach = members[room].reset_index(drop=True)
    risk = oof.set_index("id")["p_chosen"]
    no_risk = ~reach["id"].isin(risk.index)
    if no_risk.any():
        raise ValueError(f"oof_predictions.csv: no out-of-fold risk for {int(no_risk.sum())} customers of "
                         f"group {group!r} (first id: {reach.loc[no_risk, 'id'].iloc[0]})")
    return reach.assign(p_chosen=risk.loc[reach["id"]].to_numpy())


# ----------------------------------------------------------------------------------------------------------
# plan
# ----------------------------------------------------------------------------------------------------------


def _pp(x: float) -> str:
    return f"{100 * x:+.1f} pp"


def _pooling_candidate(row, plan_rows: pd.DataFrame, customer_groups: pd.DataFrame) -> pd.Series | None:
    """The largest other group of the same action that contains this group (pooling = testing it there)."""
    members = set(group_members(customer_groups, row.group))
    best = None
    for other in plan_rows[(plan_rows["action"] == row.action) & (plan_rows["group"] != row.group)].itertuples():
        if members <= set(group_members(customer_groups, other.group)):
            if best is None or other.n_with_room > best.n_with_room:
                best = other
    return best


def _note(r: dict, pool) -> str:
    if not np.isfinite(r["n_per_arm_80"]):
        return ("No sample size: the predicted effect is zero or leaves the 0–1 range; the experiment cannot be "
                "sized from it.")
    if r["feasible"]:
        text = (f"Feasible: {int(r['n_per_arm_80'])} customers per arm for 80 % power (of "
                f"{r['n_per_arm_available']} available per arm); the group can detect changes of "
                f"{_pp(r['mde_80'])} or larger.")
        bound = r["n_per_arm_80_ci_bound"]
        if not np.isfinite(bound) or bound > r["n_per_arm_available"]:
            text += (" If the true effect is as small as the end of its CI nearest zero, the test would be "
                     "underpowered.")
        return text
    need = 2 * int(r["n_per_arm_80"])
    text = (f"Too small: detecting the predicted {_pp(r['predicted_effect'])} needs {int(r['n_per_arm_80'])} "
            f"customers per arm ({need} in all) but only {r['n_with_room']} can receive the action; they can "
            f"detect changes of {_pp(r['mde_80']) if np.isfinite(r['mde_80']) else 'no size'} or larger. "
            f"Options: enrol about {need - r['n_with_room']} more customers (new customers as they enter the "
            "group over the following months), a longer follow-up if the effect grows with time")
    if pool is not None:
        verdict = "which would be feasible" if pool.feasible else "which would still be short"
        text += (f", or pooling into {pool.group} ({pool.n_with_room} with room, {verdict}).")
    else:
        text += ", or testing the action in a wider group of customers."
    return text


def experiment_plan(action_effects: pd.DataFrame, customer_groups: pd.DataFrame, oof: pd.DataFrame,
                    customer_table: pd.DataFrame, alpha: float = FULL.alpha, powers=POWERS) -> pd.DataFrame:
    """Sample sizes of an A/B test for every store action (and assumption-based action) in every group.

    Parameters
    ----------
    action_effects, customer_groups, oof, customer_table : pandas.DataFrame
        The tables described in the module docstring.
    alpha : float
        Two-sided significance level of the planned test.
    powers : tuple of two floats
        The powers of ``n_per_arm_80`` and ``n_per_arm_90`` (named for the defaults 0.8 and 0.9).

    Returns
    -------
    pandas.DataFrame
        One row per (group, action) with customers to reach, columns :data:`PLAN_COLUMNS`:
        ``baseline_rate`` mean out-of-fold risk of the customers with room (the control arm's expected
        decline rate); ``predicted_effect`` / ``predicted_conf_low`` / ``predicted_conf_high`` the model's
        change in the three-month decline rate among them, with its 95 % CI; ``n_per_arm_available``
        ``n_with_room // 2``; ``mde_80`` the smallest change (signed, same direction as the prediction) the
        available customers detect with 80 % power; ``n_per_arm_80`` / ``n_per_arm_90`` customers per arm
        for the predicted effect; ``n_per_arm_80_ci_bound`` the same at the CI end nearest zero (NaN when
        the CI includes zero); ``feasible`` whether ``n_per_arm_80 <= n_per_arm_available``; ``note``
        in plain words, with what would be needed when the group is too small.

    Notes
    -----
    Sample sizes are those of :func:`stats.experiments.sample_size_two_proportions` with control rate
    ``p1 = baseline_rate`` and treatment rate ``p2 = baseline_rate + predicted_effect``.
    """
    effects = action_effects[action_effects["action"].isin(STORE_ACTIONS)]
    effects = effects[(effects["n_with_room"] > 0) & effects["effect"].notna()]
    effects = effects.sort_values(["action", "group"], kind="stable")
    rows = []
    for e in effects.itertuples():
        reach = population(e.action, e.group, customer_groups, oof, customer_table)
        p1 = float(reach["p_chosen"].mean()) if len(reach) else float("nan")
        p2 = p1 + float(e.effect)
        available = len(reach) // 2
        sizes = []
        for power in powers:
            ok = 0 < p1 < 1 and 0 < p2 < 1 and p1 != p2
            sizes.append(sample_size_two_proportions(p1, p2, alpha, power) if ok else float("nan"))
        nearest = float(e.conf_high) if e.effect < 0 else float(e.conf_low)
        crosses = e.conf_low <= 0 <= e.conf_high
        p2_bound = p1 + nearest
        bound = (sample_size_two_proportions(p1, p2_bound, alpha, powers[0])
                 if not crosses and 0 < p2_bound < 1 and 0 < p1 < 1 else float("nan"))
        mde = (minimum_detectable_effect(p1, available, alpha, powers[0], direction=-1 if e.effect <= 0 else 1)
               if available >= 2 and 0 < p1 < 1 else float("nan"))
        rows.append({
            "group": e.group, "action": e.action, "n_customers": int(e.n_customers), "n_with_room": len(reach),
            "baseline_rate": p1, "predicted_effect": float(e.effect), "predicted_conf_low": float(e.conf_low),
            "predicted_conf_high": float(e.conf_high), "kind": e.kind,
            "assumption": e.assumption if isinstance(e.assumption, str) else "",
            "n_per_arm_available": available, "mde_80": mde, "n_per_arm_80": sizes[0], "n_per_arm_90": sizes[1],
            "n_per_arm_80_ci_bound": bound,
            "feasible": bool(np.isfinite(sizes[0]) and sizes[0] <= available),
        })
        if len(reach) != int(e.n_with_room):
            rows[-1]["_mismatch"] = int(e.n_with_room)
    plan = pd.DataFrame(rows)
    if plan.empty:
        return pd.DataFrame(columns=PLAN_COLUMNS)
    notes = []
    for r in plan.to_dict("records"):
        pool = None if r["feasible"] else _pooling_candidate(pd.Series(r), plan, customer_groups)
        note = _note(r, pool)
        if np.isfinite(r.get("_mismatch", np.nan)):
            note += (f" Warning: action_effects.csv counts {int(r['_mismatch'])} customers with room, this plan "
                     f"finds {r['n_with_room']}.")
        notes.append(note)
    plan["note"] = notes
    for column in ("n_per_arm_80", "n_per_arm_90", "n_per_arm_80_ci_bound"):
        plan[column] = plan[column].astype("Int64") if plan[column].notna().all() else plan[column]
    return plan[PLAN_COLUMNS].reset_index(drop=True)


# ----------------------------------------------------------------------------------------------------------
# assignment
# ----------------------------------------------------------------------------------------------------------


def default_group(action: str, action_effects: pd.DataFrame) -> str:
    """The group of ``action`` with the most customers with room (the largest experiment)."""
    rows = action_effects[(action_effects["action"] == action) & (action_effects["n_with_room"] > 0)]
    if rows.empty:
        raise ValueError(f"action_effects.csv: action {action!r} can reach no customer of any group; pass "
                         "--group to assign customers anyway")
    return str(rows.sort_values(["n_with_room", "group"], ascending=[False, True]).iloc[0]["group"])


def strata(reach: pd.DataFrame, group: str, customer_groups: pd.DataFrame, min_stratum: int = MIN_STRATUM,
           n_risk_bins: int = N_RISK_BINS) -> np.ndarray:
    """Stratum of every customer of ``reach``: segment cell × risk bin within the cell.

    The segment cell is the customer's pattern of membership of the other groups (a partition even when
    the groups overlap); cells with fewer than ``min_stratum`` customers are pooled into ``other``. Within a
    cell the out-of-fold risk is cut into ``min(n_risk_bins, n_cell // min_stratum)`` (at least 1)
    equal-count bins: risk deciles when the cell has 200 customers or more.
    """
    others = customer_groups[(customer_groups["group"] != group) & customer_groups["id"].isin(reach["id"])]
    pattern = others.sort_values("group").groupby("id")["group"].agg("+".join)
    cell = reach["id"].map(pattern).fillna("none").to_numpy(dtype=object)
    counts = pd.Series(cell).value_counts()
    cell = np.where(pd.Series(cell).map(counts).to_numpy() < min_stratum, "other", cell)
    labels = np.empty(len(reach), dtype=object)
    for name in sorted(set(cell)):
        mask = cell == name
        k = min(n_risk_bins, max(1, int(mask.sum()) // min_stratum))
        bins = quantile_bins(reach.loc[mask, "p_chosen"].to_numpy(), k)
        labels[mask] = [f"{name}|risk{b:02d}of{k:02d}" for b in bins]
    return labels


def balance_table(reach: pd.DataFrame, arm) -> pd.DataFrame:
    """Standardised mean differences of every model variable (and the out-of-fold risk) between arms.

    Returns
    -------
    pandas.DataFrame
        Columns ``variable, mean_treatment, mean_control, smd`` (categoricals as ``name=level`` indicators;
        ``p_chosen`` is the out-of-fold risk).
    """
    numeric = [c for c in NUMERIC_PREDICTORS if c in reach.columns] + ["p_chosen"]
    categorical = [c for c in CATEGORICAL_PREDICTORS if c in reach.columns]
    return standardized_mean_differences(reach, arm, numeric=numeric, categorical=categorical)


def assign_customers(action: str, seed: int, inputs: dict[str, pd.DataFrame],
                     group: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Randomise the customers of ``group`` with room for ``action`` to treatment and control.

    Parameters
    ----------
    action : str
        One of :data:`STORE_ACTIONS`.
    seed : int
        Seed of the randomisation (same inputs and seed, same file).
    inputs : dict of DataFrame
        :func:`read_inputs` tables.
    group : str, optional
        Default: :func:`default_group`.

    Returns
    -------
    assignments : pandas.DataFrame
        Columns :data:`ASSIGNMENT_COLUMNS`, sorted by stratum then id; arms differ by at most one customer
        in every stratum and overall.
    balance : pandas.DataFrame
        :func:`balance_table` of the assignment.
    """
    if action not in STORE_ACTIONS:
        raise ValueError(f"unknown action {action!r}: the store controls {', '.join(STORE_ACTIONS)}")
    group = group or default_group(action, inputs["action_effects"])
    reach = population(action, group, inputs["customer_groups"], inputs["oof_predictions"],
                       inputs["customer_table"])
    if len(reach) < 4:
        raise ValueError(f"group {group!r} has {len(reach)} customers with room for {action!r}: too few to "
                         "randomise")
    labels = strata(reach, group, inputs["customer_groups"])
    # matched pairs on the out-of-fold risk inside each stratum: risk, the outcome's strongest predictor, is
    # balanced much more tightly than by one random block per stratum
    assigned = stratified_assignment(reach["id"].to_numpy(), labels, seed=seed, match_on=reach["p_chosen"].to_numpy())
    assigned = assigned.assign(action=action, group=group)[ASSIGNMENT_COLUMNS]
    arm = reach["id"].map(assigned.set_index("id")["arm"]).to_numpy()
    return assigned, balance_table(reach, arm)


# ----------------------------------------------------------------------------------------------------------
# analysis
# ----------------------------------------------------------------------------------------------------------

_INTEGER = re.compile(r"^[+-]?\d+$")


def _read_text_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ExportError([Violation(str(path), None, None, None,
                                     f"cannot be read as CSV ({str(err).splitlines()[0]})")]) from None


def _check_file(path: Path, frame: pd.DataFrame, allowed: dict[str, tuple[str, ...] | None],
                limit: int = 20) -> pd.DataFrame:
    """Integer unique ids and allowed values (``None``: any non-empty text); every violation collected."""
    name = str(path)
    missing = [c for c in ["id", *allowed] if c not in frame.columns]
    if missing:
        raise ExportError([Violation(name, 1, missing[0], None,
                                     f"missing column (found: {', '.join(frame.columns) or 'none'})")])
    violations: list[Violation] = []
    first_line: dict[int, int] = {}
    for i, raw in enumerate(frame["id"].str.strip()):
        line = i + 2  # line 1 is the header
        if not _INTEGER.match(raw):
            violations.append(Violation(name, line, "id", raw, "is not an integer id"))
        elif int(raw) in first_line:
            violations.append(Violation(name, line, "id", raw, f"duplicate id (first on line {first_line[int(raw)]})"))
        else:
            first_line[int(raw)] = line
    for column, values in allowed.items():
        for i, raw in enumerate(frame[column].str.strip()):
            if (values is None and raw == "") or (values is not None and raw not in values):
                expected = "must not be empty" if values is None else f"must be one of {', '.join(values)}"
                violations.append(Violation(name, i + 2, column, raw, expected))
    if violations:
        violations.sort(key=lambda v: (v.line, v.column))
        raise ExportError(violations[:limit], n_total=len(violations))
    out = frame[["id", *allowed]].apply(lambda s: s.str.strip())
    return out.assign(id=out["id"].astype(np.int64))


def read_outcomes(path: Path) -> pd.DataFrame:
    """Outcome file ``id, declined`` checked (integer unique ids, declined 0/1). Columns ``id, declined``."""
    frame = _check_file(Path(path), _read_text_csv(Path(path)), {"declined": ("0", "1")})
    return frame.assign(declined=frame["declined"].astype(int))


def read_assignments(path: Path) -> pd.DataFrame:
    """Assignment file checked (integer unique ids, arm treatment/control, a stratum on every row).

    Returns the columns ``id, arm, stratum`` and, when the file has them, ``action, group``.
    """
    raw = _read_text_csv(Path(path))
    allowed: dict[str, tuple[str, ...] | None] = {"arm": (TREATMENT, CONTROL), "stratum": None}
    for optional in ("action", "group"):
        if optional in raw.columns:
            allowed[optional] = None
    return _check_file(Path(path), raw, allowed)


@dataclass
class ExperimentAnalysis:
    """Result of :func:`analyze_experiment`.

    ``effects`` has the columns :data:`ANALYSIS_COLUMNS` (methods ``wald``, ``newcombe``,
    ``logit_stratum_ame`` and, when known, ``model_prediction``); ``missing_outcome`` the assigned ids
    without an outcome; ``not_assigned`` the outcome ids that were never assigned.
    """

    effects: pd.DataFrame
    missing_outcome: list[int]
    not_assigned: list[int]
    verdict: str


def verdict(effects: pd.DataFrame, conf_level: float = 0.95) -> str:
    """One line reading the Newcombe difference: its direction only when the CI excludes zero, its CI always.

    A CI that includes zero is "not statistically significant", never "no effect".
    """
    row = effects.set_index("method").loc["newcombe"]
    ci = (f"{_pp(row['estimate'])} (in decline rate over three months; {conf_level:.0%} CI "
          f"{_pp(row['conf_low'])} to {_pp(row['conf_high'])}, p = {row['p_value']:.3g})")
    if row["conf_high"] < 0:
        text = f"The action lowered the decline rate: {ci}."
    elif row["conf_low"] > 0:
        text = f"The action raised the decline rate: {ci}."
    else:
        text = (f"Not statistically significant: {ci}; the data are compatible with every effect in that "
                "interval, including none, so this is not evidence of no effect.")
    if "model_prediction" in effects["method"].to_numpy():
        predicted = effects.set_index("method").loc["model_prediction", "estimate"]
        inside = row["conf_low"] <= predicted <= row["conf_high"]
        text += (f" The model predicted {_pp(predicted)}, {'inside' if inside else 'outside'} the experiment's "
                 "CI.")
    return text


def analyze_experiment(assignments: pd.DataFrame, outcomes: pd.DataFrame,
                       action_effects: pd.DataFrame | None = None, conf_level: float = 0.95) -> ExperimentAnalysis:
    """Effect of the action on the decline rate in a finished experiment.

    Parameters
    ----------
    assignments : pandas.DataFrame
        ``id, arm, stratum`` (and ``action, group`` to look the prediction up).
    outcomes : pandas.DataFrame
        ``id, declined``.
    action_effects : pandas.DataFrame, optional
        The model's predictions; the row of the experiment's (group, action) is shown beside the result.
    conf_level : float

    Returns
    -------
    ExperimentAnalysis
        Estimates are ``rate_treatment - rate_control`` (negative: fewer declines). Customers are analysed
        in the arm they were assigned to (intention to treat); only those with an outcome are used, and
        the others are listed.
    """
    merged = assignments.merge(outcomes, on="id", how="inner", validate="one_to_one")
    missing = sorted(set(assignments["id"]) - set(outcomes["id"]))
    unknown = sorted(set(outcomes["id"]) - set(assignments["id"]))
    arms = set(merged["arm"])
    if arms != {TREATMENT, CONTROL}:
        raise ValueError(f"outcomes cover only the arm(s) {sorted(arms)}: both arms need outcomes")
    treated = (merged["arm"] == TREATMENT).to_numpy()
    y = merged["declined"].to_numpy()
    diff = difference_in_proportions(y, treated, conf_level=conf_level)
    logit = logit_treatment_effect(y, treated, merged["stratum"].to_numpy(), conf_level=conf_level)
    effects = pd.concat([diff, logit], ignore_index=True)[ANALYSIS_COLUMNS]
    if action_effects is not None and {"action", "group"} <= set(assignments.columns):
        key = (action_effects["action"] == assignments["action"].iloc[0]) & (
            action_effects["group"] == assignments["group"].iloc[0])
        if key.any():
            e = action_effects[key].iloc[0]
            effects = pd.concat([effects, pd.DataFrame([{
                "method": "model_prediction", "estimate": e["effect"], "p_value": e.get("p_value", np.nan),
                "conf_low": e["conf_low"], "conf_high": e["conf_high"],
                "rate_control": e["decline_rate_baseline"], "rate_treatment": e["decline_rate_scenario"]}])],
                ignore_index=True)
    return ExperimentAnalysis(effects=effects[ANALYSIS_COLUMNS], missing_outcome=[int(i) for i in missing],
                              not_assigned=[int(i) for i in unknown], verdict=verdict(effects, conf_level))


# ----------------------------------------------------------------------------------------------------------
# command line: python -m analysis experiment {plan,assign,analyze}
# ----------------------------------------------------------------------------------------------------------


def plan_from_results(results_dir: Path) -> pd.DataFrame:
    """:func:`experiment_plan` of the tables in ``results_dir`` (columns :data:`PLAN_COLUMNS`)."""
    inputs = read_inputs(Path(results_dir))
    return experiment_plan(inputs["action_effects"], inputs["customer_groups"], inputs["oof_predictions"],
                           inputs["customer_table"])


def _cmd_plan(args: argparse.Namespace) -> int:
    plan = plan_from_results(Path(args.results_dir))
    out = Path(args.out or Path(args.results_dir) / "experiment_plan.csv")
    # the run already wrote this file into results/; rewriting it gives the same bytes (the bundle stays valid)
    plan.to_csv(out, index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(plan.drop(columns="note").to_string(index=False))
    print(f"wrote {out}")
    return 0


def _cmd_assign(args: argparse.Namespace) -> int:
    inputs = read_inputs(Path(args.results_dir))
    assigned, balance = assign_customers(args.action, args.seed, inputs, group=args.group)
    # not inside results/: the bundle is sealed by its manifest, and an extra file there would make it fail to verify
    out = Path(args.out or Path("experiments") / "assignments.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    balance_path = out.with_name("balance.csv" if out.name == "assignments.csv" else f"{out.stem}_balance.csv")
    assigned.to_csv(out, index=False)
    balance.to_csv(balance_path, index=False)
    counts = assigned["arm"].value_counts()
    worst = balance.loc[balance["smd"].abs().idxmax()]
    print(f"{args.action} in {assigned['group'].iloc[0]}: {counts.get(TREATMENT, 0)} treatment, "
          f"{counts.get(CONTROL, 0)} control, {assigned['stratum'].nunique()} strata; largest |smd| "
          f"{abs(worst['smd']):.3f} ({worst['variable']}); "
          f"{int((balance['smd'].abs() >= 0.1).sum())} of {len(balance)} variables at |smd| >= 0.1 "
          f"(chance alone gives an smd a s.d. of about "
          f"{np.sqrt(1 / max(counts.get(TREATMENT, 1), 1) + 1 / max(counts.get(CONTROL, 1), 1)):.2f} here)")
    print(f"wrote {out} and {balance_path}")
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    assignments = read_assignments(Path(args.assignments))
    outcomes = read_outcomes(Path(args.outcomes))
    effects_path = Path(args.results_dir) / "action_effects.csv"
    action_effects = pd.read_csv(effects_path) if effects_path.exists() else None
    result = analyze_experiment(assignments, outcomes, action_effects)
    print(f"assigned without an outcome: {len(result.missing_outcome)}"
          + (f" (ids: {', '.join(map(str, result.missing_outcome))})" if result.missing_outcome else ""))
    print(f"outcomes of customers never assigned (not analysed): {len(result.not_assigned)}"
          + (f" (ids: {', '.join(map(str, result.not_assigned))})" if result.not_assigned else ""))
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(result.effects.to_string(index=False))
    print(result.verdict)
    out = Path(args.out or Path(args.assignments).with_name("experiment_analysis.csv"))
    result.effects.to_csv(out, index=False)
    print(f"wrote {out}")
    return 0


def add_parser(sub) -> None:
    """Register ``experiment {plan,assign,analyze}`` on the subparsers of ``python -m analysis``."""
    parser = sub.add_parser("experiment", help="A/B tests of the store's actions: plan, assign, analyze")
    verbs = parser.add_subparsers(dest="verb", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--results-dir", default=str(paths.RESULTS_DIR), help="where `run` wrote its tables")
        p.add_argument("--out", default=None, help="output CSV (default: see the command's help)")

    p = verbs.add_parser("plan", help="sample sizes per action and group -> experiment_plan.csv")
    common(p)
    p.set_defaults(func=_cmd_plan)
    p = verbs.add_parser("assign", help="stratified randomisation -> assignments.csv and balance.csv")
    common(p)
    p.add_argument("--action", required=True, choices=STORE_ACTIONS)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--group", default=None, help="group code (default: the group with most room)")
    p.set_defaults(func=_cmd_assign)
    p = verbs.add_parser("analyze", help="effect of the action in a finished experiment")
    common(p)
    p.add_argument("--assignments", required=True)
    p.add_argument("--outcomes", required=True, help="CSV with columns id, declined (0/1)")
    p.set_defaults(func=_cmd_analyze)
