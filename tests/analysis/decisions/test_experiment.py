"""analysis.decisions.experiment: plan, assignment and analysis on hand-built test inputs (tests/experiment_inputs.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.special import expit

from analysis.decisions.experiment import (
    PLAN_COLUMNS,
    analyze_experiment,
    assign_customers,
    experiment_plan,
    population,
)
from stats.experiments import minimum_detectable_effect, sample_size_two_proportions
from tests.conftest import run_cli
from tests.experiment_inputs import synthetic_inputs


@pytest.fixture(scope="module")
def inputs():
    return synthetic_inputs(n_customers=600, seed=1)


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory, inputs):
    directory = tmp_path_factory.mktemp("experiment_results")
    for name, frame in inputs.items():
        frame.to_csv(directory / f"{name}.csv", index=False)
    return directory


def _plan(inputs):
    return experiment_plan(inputs["action_effects"], inputs["customer_groups"], inputs["oof_predictions"],
                           inputs["customer_table"])


def test_typical_plan(inputs):
    plan = _plan(inputs)
    assert list(plan.columns) == PLAN_COLUMNS
    effects = inputs["action_effects"]
    # every store action and every assumption-based action is planned in every group where it reaches someone
    reachable = effects[effects["n_with_room"] > 0]
    assert len(plan) == len(reachable) > 0
    assert set(zip(plan["group"], plan["action"])) == set(zip(reachable["group"], reachable["action"]))
    assert set(plan["action"]) == {"more_marketing", "marketing_this_month", "cart_reminder", "less_promotion"}
    effects = effects.set_index(["group", "action"])
    for row in plan.itertuples():
        assert row.kind == effects.loc[(row.group, row.action), "kind"]
        assert row.kind == ("action" if row.action in ("more_marketing", "marketing_this_month") else "assumption")
        assert (row.assumption == "") == (row.kind == "action")
        assert row.assumption == effects.loc[(row.group, row.action), "assumption"]
        reach = population(row.action, row.group, inputs["customer_groups"], inputs["oof_predictions"],
                           inputs["customer_table"])
        # the population is the customers with room, and the plan's count equals the effects table's
        assert row.n_with_room == len(reach) == effects.loc[(row.group, row.action), "n_with_room"]
        p1 = reach["p_chosen"].mean()
        assert row.baseline_rate == pytest.approx(p1, abs=1e-12)
        p2 = p1 + row.predicted_effect
        # classical formula as the independent check (3 % on these rates, see test_stats_experiments)
        za, pbar = sps.norm.ppf(0.975), (p1 + p2) / 2
        for power, n in ((0.8, row.n_per_arm_80), (0.9, row.n_per_arm_90)):
            hand = (za * np.sqrt(2 * pbar * (1 - pbar)) + sps.norm.ppf(power)
                    * np.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / (p1 - p2) ** 2
            assert n == pytest.approx(hand, rel=0.03)
        assert row.n_per_arm_80 == sample_size_two_proportions(p1, p2, power=0.8)
        assert row.mde_80 == pytest.approx(minimum_detectable_effect(p1, len(reach) // 2), abs=1e-12)
        assert row.feasible == (row.n_per_arm_80 <= len(reach) // 2)
        assert row.note.startswith("Feasible" if row.feasible else "Too small")
        if row.predicted_conf_low <= 0 <= row.predicted_conf_high:  # no CI end on the effect's side of zero
            assert np.isnan(row.n_per_arm_80_ci_bound)
        else:
            assert row.n_per_arm_80_ci_bound >= row.n_per_arm_80  # the CI end nearest zero is a smaller effect


def test_plan_feasible_when_effect_is_large(inputs):
    effects = inputs["action_effects"].copy()
    effects["effect"] = -0.4
    effects["conf_low"], effects["conf_high"] = -0.5, -0.3
    plan = _plan({**inputs, "action_effects": effects})
    big = plan[plan["group"] == "high_risk_all"]
    assert big["feasible"].all()
    assert big["note"].str.startswith("Feasible").all()


def test_plan_too_small_names_what_is_needed(inputs):
    plan = _plan(inputs)
    short = plan[~plan["feasible"]].iloc[0]
    assert f"needs {short.n_per_arm_80} customers per arm" in short.note
    assert "more customers" in short.note and "longer follow-up" in short.note


def test_edge_case_plan_empty_without_room_or_effect(inputs):
    effects = inputs["action_effects"].assign(n_with_room=0)
    plan = _plan({**inputs, "action_effects": effects})
    assert plan.empty and list(plan.columns) == PLAN_COLUMNS
    # a row without an effect (a scenario with no customer to evaluate) is not planned either
    effects = inputs["action_effects"].assign(effect=np.nan)
    assert _plan({**inputs, "action_effects": effects}).empty
    # an engagement outcome or an unknown action is never planned, whatever its numbers
    effects = inputs["action_effects"].assign(action="more_pages")
    assert _plan({**inputs, "action_effects": effects}).empty


def test_assignment_balanced_and_stratified(inputs):
    assigned, balance = assign_customers("more_marketing", 5, inputs, group="high_risk_all")
    per = assigned.groupby(["stratum", "arm"]).size().unstack(fill_value=0)
    assert (per["treatment"] - per["control"]).abs().max() <= 1
    assert assigned["id"].is_unique
    reach = population("more_marketing", "high_risk_all", inputs["customer_groups"], inputs["oof_predictions"],
                       inputs["customer_table"])
    assert set(assigned["id"]) == set(reach["id"])
    assert (reach["contact_allowed"] == 1).all()  # marketing only reaches customers who consented
    # the stratifying variable (risk) is balanced much tighter than chance (s.d. of smd ~ sqrt(2/n_arm))
    smd = balance.set_index("variable")["smd"]
    assert abs(smd["p_chosen"]) < 0.5 * np.sqrt(2 / (len(reach) / 2))
    assert {"marketing_6m", "service_type=premium", "popular_category=kids_goods"} <= set(smd.index)
    # smd of one variable recomputed by hand
    arm = reach["id"].map(assigned.set_index("id")["arm"])
    t, c = reach.loc[arm == "treatment", "marketing_6m"], reach.loc[arm == "control", "marketing_6m"]
    assert smd["marketing_6m"] == pytest.approx((t.mean() - c.mean()) / np.sqrt((t.var() + c.var()) / 2), rel=1e-12)


def test_assign_cli_reproducible(results_dir, tmp_path):
    def run(seed, name):
        out = tmp_path / name
        code, _, err = run_cli("experiment", "assign", "--results-dir", str(results_dir), "--action",
                               "less_promotion", "--seed", str(seed), "--out", str(out))
        assert code == 0, err
        return out.read_bytes(), out.with_name(f"{out.stem}_balance.csv").read_bytes()

    first, second, other = run(3, "a.csv"), run(3, "b.csv"), run(4, "c.csv")
    assert first == second
    assert first[0] != other[0]


def test_assign_raises_on_unknown_action_or_group(results_dir):
    code, _, err = run_cli("experiment", "assign", "--results-dir", str(results_dir), "--action",
                           "less_promotion", "--seed", "1", "--group", "nobody")
    assert code == 2 and err.startswith("error:") and "nobody" in err and len(err.strip().splitlines()) == 1


def test_plan_cli_writes_table(results_dir, tmp_path):
    out = tmp_path / "plan.csv"
    code, stdout, err = run_cli("experiment", "plan", "--results-dir", str(results_dir), "--out", str(out))
    assert code == 0, err
    assert list(pd.read_csv(out).columns) == PLAN_COLUMNS


def _simulated_outcomes(assigned, inputs, effect_logit, seed):
    risk = inputs["oof_predictions"].set_index("id")["p_chosen"]
    eta = np.log(risk / (1 - risk)).loc[assigned["id"]].to_numpy()
    treated = (assigned["arm"] == "treatment").to_numpy()
    y = np.random.default_rng(seed).binomial(1, expit(eta + effect_logit * treated))
    return pd.DataFrame({"id": assigned["id"].to_numpy(), "declined": y})


def test_analysis_recovers_large_effect_and_reports_it(inputs):
    assigned, _ = assign_customers("less_promotion", 1, inputs, group="high_risk_all")
    outcomes = _simulated_outcomes(assigned, inputs, -3.0, seed=2)
    result = analyze_experiment(assigned, outcomes, inputs["action_effects"])
    rows = result.effects.set_index("method")
    assert set(rows.index) == {"wald", "newcombe", "logit_stratum_ame", "model_prediction"}
    assert rows.loc["newcombe", "conf_high"] < 0
    assert result.verdict.startswith("The action lowered the decline rate")
    assert "CI" in result.verdict and "model predicted" in result.verdict
    assert rows.loc["model_prediction", "estimate"] == pytest.approx(-0.05)
    # the run's action_effects.csv carries no p-values (scenarios are estimates with intervals): none is shown
    assert "p_value" not in inputs["action_effects"].columns
    assert np.isnan(rows.loc["model_prediction", "p_value"])
    assert rows.loc["model_prediction", "conf_high"] == pytest.approx(-0.05 + 1.96 * 0.015)


def test_analysis_null_effect_never_claims_no_effect(inputs):
    assigned, _ = assign_customers("less_promotion", 1, inputs, group="high_risk_all")
    outcomes = _simulated_outcomes(assigned, inputs, 0.0, seed=3)
    result = analyze_experiment(assigned, outcomes)
    low, high = result.effects.set_index("method").loc["newcombe", ["conf_low", "conf_high"]]
    if low < 0 < high:  # the usual case under no effect (seeded: it is the case here)
        assert result.verdict.startswith("Not statistically significant")
        assert "not evidence of no effect" in result.verdict
    assert "no effect." not in result.verdict.replace("not evidence of no effect.", "")


def test_analysis_lists_missing_ids(inputs, tmp_path):
    assigned, _ = assign_customers("less_promotion", 1, inputs, group="high_risk_all")
    outcomes = _simulated_outcomes(assigned, inputs, -0.5, seed=4)
    dropped = outcomes["id"].iloc[[0, 5]].tolist()
    outcomes = pd.concat([outcomes.iloc[1:5], outcomes.iloc[6:], pd.DataFrame({"id": [1, 2], "declined": [0, 1]})])
    a, o = tmp_path / "assignments.csv", tmp_path / "outcomes.csv"
    assigned.to_csv(a, index=False)
    outcomes.to_csv(o, index=False)
    code, out, err = run_cli("experiment", "analyze", "--assignments", str(a), "--outcomes", str(o),
                             "--results-dir", str(tmp_path))
    assert code == 0, err
    assert f"assigned without an outcome: 2 (ids: {dropped[0]}, {dropped[1]})" in out
    assert "never assigned (not analysed): 2 (ids: 1, 2)" in out
    table = pd.read_csv(tmp_path / "experiment_analysis.csv").set_index("method")
    assert table.loc["wald", "n_treatment"] + table.loc["wald", "n_control"] == len(assigned) - 2


@pytest.mark.parametrize("content,needle", [
    ("id,outcome\n1,0\n", "outcomes.csv:1: column 'declined': missing column"),
    ("id,declined\n{first},0\n{second},2\n", "outcomes.csv:3: column 'declined': value '2': must be one of 0, 1"),
    ("id,declined\n{first},0\n{first},1\n", "outcomes.csv:3: column 'id': value '{first}': duplicate id (first on line 2)"),
    ("id,declined\n{first},0\nabc,1\n", "outcomes.csv:3: column 'id': value 'abc': is not an integer id"),
    ("id,declined\n{first},0\n1.5,1\n", "outcomes.csv:3: column 'id': value '1.5': is not an integer id"),
    ("id,declined\n{first},\n", "outcomes.csv:2: column 'declined': value '': must be one of 0, 1"),
    ("", "outcomes.csv: cannot be read as CSV"),
])
def test_raises_on_malformed_outcomes(inputs, tmp_path, content, needle):
    assigned, _ = assign_customers("less_promotion", 1, inputs, group="high_risk_all")
    a, o = tmp_path / "assignments.csv", tmp_path / "outcomes.csv"
    assigned.to_csv(a, index=False)
    first, second = assigned["id"].iloc[0], assigned["id"].iloc[1]
    o.write_text(content.format(first=first, second=second))
    code, out, err = run_cli("experiment", "analyze", "--assignments", str(a), "--outcomes", str(o))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert needle.format(first=first) in lines[0]


def test_raises_on_malformed_assignments(tmp_path):
    a, o = tmp_path / "assignments.csv", tmp_path / "outcomes.csv"
    a.write_text("id,arm,stratum\n1,treatment,s1\n2,placebo,s1\n")
    o.write_text("id,declined\n1,0\n2,1\n")
    code, _, err = run_cli("experiment", "analyze", "--assignments", str(a), "--outcomes", str(o))
    assert code == 2
    assert "assignments.csv:3: column 'arm': value 'placebo': must be one of treatment, control" in err


def test_registry_documents_the_plan_columns():
    from analysis.decisions.experiment import PLAN_COLUMNS
    from analysis.results.registry import REGISTRY

    assert list(REGISTRY["experiment_plan"].columns) == PLAN_COLUMNS
