"""analysis.decisions.actions against brute-force oracles: the levers and the data dictionary, the support rule, scenarios,
the test of each action, recommendations and per-customer offers.

The business model is a hand-made logit ``p = expit(Xβ)`` of the six lever columns with a fixed covariance, so
that every effect can be recomputed here: means of ``expit`` by plain arithmetic, standard errors by a numerical
gradient of the effect in ``β``, Holm by its step-down definition, room by counting the modelling customers near
each new value one customer at a time.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import norm

from analysis.decisions import actions
from analysis.data.dictionary import FIELDS
from analysis.modeling.features import model_frame
from analysis.segments import Thresholds, assign_segments, make_thresholds
from analysis.data.synthetic import customer_table
from stats.link_margins import logit_link_model
from tests.support_oracle import cluster, moved, support_counts
from tests.oracles import holm, central_jacobian

COLUMNS = ["marketing_6m", "marketing_current", "promo_share_10pp", "unpaid_items", "categories_per_visit",
           "pages_per_visit"]
# more marketing over six months, fewer promotional purchases or unpaid items lower the risk; marketing this month
# raises it a little (an action that must not be offered)
BETA = np.array([0.8, -0.45, 0.04, 0.3, 0.35, -0.2, -0.1])
LEVER = actions.LEVER_BY_NAME


def result_design(frame: pd.DataFrame) -> np.ndarray:
    return np.column_stack([np.ones(len(frame))] + [frame[c].to_numpy(dtype=float) for c in COLUMNS])


def _cov() -> np.ndarray:
    a = np.random.default_rng(4).normal(size=(7, 7))
    return 0.002 * (a @ a.T) / 7 + 0.001 * np.eye(7)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return model_frame(customer_table(400, 17))


@pytest.fixture(scope="module")
def reference(frame) -> dict:
    return actions.support_reference(frame)


@pytest.fixture(scope="module")
def model():
    return logit_link_model(result_design, BETA, _cov())


def _p(frame: pd.DataFrame, beta=BETA) -> np.ndarray:
    return expit(result_design(frame) @ beta)


_cluster, _support_counts, _moved = cluster, support_counts, moved


# ---------------------------------------------------------------------------------------------------------
# Levers and the data dictionary
# ---------------------------------------------------------------------------------------------------------
def test_only_store_actions_are_levers_of_kind_action():
    for lever in actions.LEVERS:
        control = FIELDS[lever.variable].control
        assert (lever.kind == "action") == (control == "store_action"), lever.name
        assert lever.kind in ("action", "assumption", "engagement")
        assert (lever.assumption != "") == (lever.kind == "assumption"), lever.name
        assert lever.needs_consent == (lever.kind == "action"), lever.name  # contacts need consent
        assert (lever.contacts > 0) == (lever.kind == "action"), lever.name
    assert actions.STORE_ACTIONS == tuple(lv for lv in actions.LEVERS if lv.kind == "action")
    assert actions.ASSUMED_ACTIONS == tuple(lv for lv in actions.LEVERS if lv.kind == "assumption")
    assert [lv.name for lv in actions.STORE_ACTIONS] == ["more_marketing", "marketing_this_month"]
    assert {lv.variable for lv in actions.STORE_ACTIONS} == {
        name for name, f in FIELDS.items() if f.control == "store_action"}
    assert (LEVER["more_marketing"].contacts, LEVER["marketing_this_month"].contacts) == (6.0, 1.0)
    assert LEVER["less_promotion"].column == "promo_share_10pp" and LEVER["less_promotion"].variable == "promo_share"
    assert actions.LEVER_BY_NAME == {lv.name: lv for lv in actions.LEVERS}
    actions.check_levers()  # the shipped levers agree with the dictionary


def test_check_levers_raises_on_a_disagreement_with_the_dictionary():
    behaviour = actions.Lever("remind", "unpaid_items", "unpaid_items", -1.0, "a reminder", "action",
                              needs_consent=True, contacts=1.0)
    with pytest.raises(ValueError) as info:
        actions.check_levers([*actions.STORE_ACTIONS, behaviour])
    assert str(info.value) == "lever 'remind' is a action but unpaid_items is a customer_behaviour"
    # a store action reported as an association is wrong too
    marketing = replace(LEVER["more_marketing"], kind="engagement")
    with pytest.raises(ValueError, match="is a engagement but marketing_6m is a store_action"):
        actions.check_levers([marketing])
    # an assumption lever must state its assumption
    silent = replace(LEVER["cart_reminder"], assumption="")
    with pytest.raises(ValueError) as info:
        actions.check_levers([silent])
    assert str(info.value) == "lever 'cart_reminder' rests on an assumption that is not stated"
    actions.check_levers([LEVER["cart_reminder"], LEVER["more_pages"], LEVER["more_marketing"]])


# ---------------------------------------------------------------------------------------------------------
# The support rule
# ---------------------------------------------------------------------------------------------------------
def test_support_reference_counts_each_value_per_cluster(frame, reference):
    assert set(reference) == {lever.column for lever in actions.LEVERS}
    for column, ref in reference.items():
        clusters = _cluster(frame, column)
        expected = sorted({(int(c), float(v)) for c, v in zip(clusters, frame[column].to_numpy(float))})
        assert list(zip(ref["cluster"], ref["value"])) == expected, column
        assert ref["count"] == [int(((clusters == c) & (frame[column].to_numpy(float) == v)).sum())
                                for c, v in expected]
        assert sum(ref["count"]) == len(frame)
    assert set(reference["promo_share_10pp"]["cluster"]) == {0, 1}
    assert set(reference["marketing_6m"]["cluster"]) == {0}


@pytest.mark.parametrize("name", [lever.name for lever in actions.LEVERS])
def test_neighbours_and_room_equal_a_per_customer_count(frame, reference, name):
    lever = LEVER[name]
    counts = _support_counts(frame, lever, frame)
    got = actions.neighbours(reference[lever.column], actions._clusters(frame, lever.column),
                             frame[lever.column].to_numpy(float) + lever.change, abs(lever.change) / 2)
    np.testing.assert_array_equal(got, counts)
    expected, room, eligible = _moved(frame, lever, frame)
    out, got_room, got_eligible = actions.apply_action(frame, lever, reference)
    assert got_room.tolist() == room.tolist() and got_eligible.tolist() == eligible.tolist()
    np.testing.assert_array_equal(out[lever.column].to_numpy(float), expected[lever.column].to_numpy(float))
    pd.testing.assert_frame_equal(out.drop(columns=lever.column), frame.drop(columns=lever.column))
    # the rule bites on this data: some customers have room, some eligible customers do not
    assert room.any() and (eligible & ~room).any(), name


def test_an_exact_half_step_counts_and_nineteen_neighbours_are_too_few():
    # 20 customers at 4.7: a customer at 3.2 moves to 4.2, exactly half a step (0.5) away; one at 3.1 (4.1) is
    # 0.6 away. One-decimal values: 4.7 − 4.2 is 0.5000000000000004 in binary, and still counts.
    training = pd.DataFrame({"marketing_6m": [4.7] * 20 + [9.9], "contact_allowed": 1})
    lever = LEVER["more_marketing"]
    reference = actions.support_reference(training, [lever])
    customers = pd.DataFrame({"marketing_6m": [3.2, 3.1, 4.2, 3.7], "contact_allowed": 1})
    counts = actions.neighbours(reference["marketing_6m"], np.zeros(4, int),
                                customers["marketing_6m"].to_numpy() + 1, 0.5)
    assert counts.tolist() == [20, 0, 20, 20] == _support_counts(customers, lever, training).tolist()
    _, room, _ = actions.apply_action(customers, lever, reference)
    assert room.tolist() == [True, False, True, True]
    # 19 customers are one too few; the threshold can be moved
    nineteen = actions.support_reference(training.iloc[1:], [lever])
    assert actions.SUPPORT_MIN_CUSTOMERS == 20
    assert actions.apply_action(customers, lever, nineteen)[1].tolist() == [False] * 4
    assert actions.apply_action(customers, lever, nineteen, min_customers=19)[1].tolist() == [True, False, True, True]


def test_support_of_a_decrease_looks_below():
    training = pd.DataFrame({"unpaid_items": [2] * 20 + [5] * 30, "contact_allowed": 0})
    lever = LEVER["cart_reminder"]
    reference = actions.support_reference(training, [lever])
    customers = pd.DataFrame({"unpaid_items": [3, 6, 2, 0, 4], "contact_allowed": 0})
    out, room, eligible = actions.apply_action(customers, lever, reference)
    # 3 → 2 (20 there), 6 → 5 (30), 2 → 1 (none within 0.5), 0 → −1 (none), 4 → 3 (none); no consent needed
    assert room.tolist() == [True, True, False, False, False] and eligible.all()
    assert out["unpaid_items"].tolist() == [2, 5, 2, 0, 4]
    assert out["unpaid_items"].dtype == customers["unpaid_items"].dtype  # whole numbers keep the integer dtype


def test_no_clipping_a_new_value_beyond_the_data_has_no_room(frame, reference):
    lever = LEVER["more_marketing"]
    top = frame["marketing_6m"].max()
    customers = frame[frame["contact_allowed"] == 1].head(3).copy()
    customers["marketing_6m"] = [top, top - 0.4, top - 3.0]
    out, room, eligible = actions.apply_action(customers, lever, reference)
    assert eligible.all()
    # at the maximum (new value 1 above every customer) and 0.4 below it (0.6 above every customer): left out,
    # not moved to the maximum; 3 below it: moved by the full step
    assert room.tolist()[:2] == [False, False]
    assert out["marketing_6m"].tolist()[:2] == [top, top - 0.4]
    if room[2]:
        assert out["marketing_6m"].iloc[2] == pytest.approx(top - 2.0)


def test_clusters_do_not_lend_support_to_each_other():
    # lower cluster: 30 customers at 4.5; upper cluster: 25 customers at 8.0
    training = pd.DataFrame({"promo_share_10pp": [4.5] * 30 + [8.0] * 25, "contact_allowed": 0})
    lever = LEVER["less_promotion"]
    reference = actions.support_reference(training, [lever])
    assert reference["promo_share_10pp"] == {"cluster": [0, 1], "value": [4.5, 8.0], "count": [30, 25]}
    # upper-cluster customers at 5.3, 5.5 and 5.0 move to 4.3, 4.5 and 4.0: 30 lower-cluster customers lie
    # within half a step, none of their own cluster; 4.9 (lower) → 3.9: 4.5 is 0.6 away; 8.8 and 9.0 (upper) →
    # 7.8 and 8.0: 25 upper customers within half a step
    customers = pd.DataFrame({"promo_share_10pp": [5.3, 4.9, 5.5, 8.8, 9.0, 5.0], "contact_allowed": 0})
    out, room, _ = actions.apply_action(customers, lever, reference)
    assert room.tolist() == [False, False, False, True, True, False]
    assert room.tolist() == (_support_counts(customers, lever, training) >= 20).tolist()
    # the same customers, were they in the lower cluster, would have room at 4.3 and 4.5
    lower = actions.neighbours(reference["promo_share_10pp"], np.zeros(6, int),
                               customers["promo_share_10pp"].to_numpy() - 1, 0.5)
    assert lower.tolist() == [30, 0, 30, 0, 0, 30]
    np.testing.assert_allclose(out["promo_share_10pp"], [5.3, 4.9, 5.5, 7.8, 8.0, 5.0])


def test_contacts_need_consent():
    training = pd.DataFrame({"marketing_6m": [4.0] * 25, "marketing_current": [4] * 25, "contact_allowed": 1})
    reference = actions.support_reference(training, actions.STORE_ACTIONS)
    customers = pd.DataFrame({"marketing_6m": [3.0, 3.0], "marketing_current": [3, 3], "contact_allowed": [1, 0]})
    for lever in actions.STORE_ACTIONS:
        out, room, eligible = actions.apply_action(customers, lever, reference)
        assert eligible.tolist() == [True, False] and room.tolist() == [True, False], lever.name
        assert out[lever.column].tolist() == [4, 3]


# ---------------------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------------------
def _effect(base: pd.DataFrame, moved: pd.DataFrame, weights: np.ndarray, beta=BETA) -> float:
    return float(np.sum(weights * (_p(moved, beta) - _p(base, beta))))


def _se(base, moved, weights) -> float:
    cov = _cov()
    grad = central_jacobian(lambda b: _effect(base, moved, weights, b), BETA)
    return float(np.sqrt(grad @ cov @ grad))


@pytest.mark.parametrize("conf_level", [0.95, 0.9])
def test_scenarios_against_hand_effects_and_a_numerical_delta_method(frame, reference, model, conf_level):
    p = _p(frame)
    groups = {"all": np.ones(len(frame), dtype=bool), "high": p >= 0.5, "nobody": np.zeros(len(frame), dtype=bool),
              "no_consent": frame["contact_allowed"].to_numpy() == 0}
    assert groups["no_consent"].any() and groups["high"].any()
    table = actions.scenarios(frame, model, groups, reference, levers=actions.LEVERS, conf_level=conf_level)
    assert list(table.columns) == actions.SCENARIO_COLUMNS
    assert not {"p_value", "p_value_holm", "recommended", "statistic"} & set(table.columns)
    assert list(table["group"]) == [g for g in groups for _ in actions.LEVERS]
    assert (table["interval"] == "delta").all()
    z = norm.ppf(0.5 + conf_level / 2)
    numeric = actions.SCENARIO_COLUMNS[actions.SCENARIO_COLUMNS.index("decline_rate_baseline"):-1]
    for row in table.itertuples():
        lever = LEVER[row.action]
        base = frame[groups[row.group]]
        assert (row.kind, row.assumption, row.n_customers) == (lever.kind, lever.assumption, len(base))
        if len(base) == 0:
            assert (row.n_eligible, row.n_without_support, row.n_with_room) == (0, 0, 0)
            assert all(pd.isna(getattr(row, c)) for c in numeric)
            continue
        moved, room, eligible = _moved(base, lever, frame)
        assert (row.n_eligible, row.n_without_support, row.n_with_room) == (
            int(eligible.sum()), int((eligible & ~room).sum()), int(room.sum()))
        if not room.any():
            assert row.group == "no_consent" and lever.needs_consent and row.n_eligible == 0
            assert all(pd.isna(getattr(row, c)) for c in numeric)
            continue
        b, m = base[room], moved[room]
        n = len(b)
        w = np.full(n, 1 / n)
        effect, se = _effect(b, m, w), _se(b, m, w)
        assert row.decline_rate_baseline == pytest.approx(_p(b).mean(), rel=1e-12)
        assert row.decline_rate_scenario == pytest.approx(_p(m).mean(), rel=1e-12)
        assert row.effect == pytest.approx(effect, rel=1e-10)
        assert row.std_error == pytest.approx(se, rel=1e-5) and row.std_error_delta == row.std_error
        assert row.conf_low == pytest.approx(effect - z * se, rel=1e-5, abs=1e-9)
        assert row.conf_high == pytest.approx(effect + z * se, rel=1e-5, abs=1e-9)
        assert row.customers_kept == pytest.approx(-effect * n, rel=1e-10)
        assert row.customers_kept_low == pytest.approx(-(effect + z * se) * n, rel=1e-5, abs=1e-9)
        assert row.customers_kept_high == pytest.approx(-(effect - z * se) * n, rel=1e-5, abs=1e-9)
        profit = b["profit"].to_numpy()
        money, money_se = _effect(b, m, profit), _se(b, m, profit)
        assert row.profit_retained_upper == pytest.approx(-money, rel=1e-10)
        assert row.profit_retained_upper_low == pytest.approx(-(money + z * money_se), rel=1e-5)
        assert row.profit_retained_upper_high == pytest.approx(-(money - z * money_se), rel=1e-5)
    # the support rule leaves eligible customers out of this data
    assert (table["n_without_support"] > 0).any()


def test_scenarios_of_the_store_actions_by_default_and_without_any_room(frame, reference, model):
    table = actions.scenarios(frame, model, {"all": np.ones(len(frame), dtype=bool)}, reference)
    assert list(table["action"]) == ["more_marketing", "marketing_this_month"]
    nobody = pd.DataFrame({c: [1.0, 1.0] for c in COLUMNS} | {"contact_allowed": [0, 0], "profit": [1.0, 2.0]})
    alone = actions.support_reference(nobody)  # two customers support no value
    table = actions.scenarios(nobody, model, {"g": np.array([True, True])}, alone, levers=actions.LEVERS)
    assert table["n_with_room"].tolist() == [0] * len(actions.LEVERS) and table["effect"].isna().all()
    assert table["n_eligible"].tolist() == [0, 0] + [2] * (len(actions.LEVERS) - 2)


# ---------------------------------------------------------------------------------------------------------
# One test per store action
# ---------------------------------------------------------------------------------------------------------
def _ames(rows: dict) -> pd.DataFrame:
    """AME rows from {column: (estimate, std_error, conf_low, conf_high)}."""
    return pd.DataFrame([{"variable": c, "estimate": e, "std_error": s, "conf_low": lo, "conf_high": hi,
                          "std_error_delta": s / 2} for c, (e, s, lo, hi) in rows.items()])


def _tied(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["model", "variable", "conf_low", "conf_high"])


def _se_for(p: float, estimate: float) -> float:
    """The SD that gives the two-sided normal p-value ``p`` to ``estimate``."""
    return abs(estimate) / norm.isf(p / 2)


def test_action_tests_holm_over_the_actions_only():
    # p = 0.03 and 0.04: each below 0.05 alone, Holm over the two actions 0.06 and 0.06 (step-down: 2 × 0.03,
    # then max(0.06, 1 × 0.04)); neither is offered
    ames = _ames({"marketing_6m": (-0.02, _se_for(0.03, -0.02), -0.03, -0.01),
                  "marketing_current": (-0.01, _se_for(0.04, -0.01), -0.02, -0.001)})
    tied = _tied([("m1", "marketing_6m", -0.03, -0.01), ("m1", "marketing_current", -0.02, -0.005)])
    table = actions.action_tests(ames, tied)
    assert list(table.columns) == actions.TEST_COLUMNS
    assert table["action"].tolist() == ["more_marketing", "marketing_this_month"]
    np.testing.assert_allclose(table["p_value"], [0.03, 0.04], rtol=1e-12)
    np.testing.assert_allclose(table["p_value_holm"], [0.06, 0.06], rtol=1e-12)
    np.testing.assert_allclose(table["p_value_holm"], holm(np.array([0.03, 0.04])), rtol=1e-12)
    assert (table["p_value"] < 0.05).all() and not table["offered"].any() and not table["recommended"].any()
    assert table["robust"].all()  # every interval below zero: robust, but not offered
    # p = 0.01 and 0.04: Holm 0.02 and 0.04 (Bonferroni would give 0.08 to the second): both offered
    ames = _ames({"marketing_6m": (-0.02, _se_for(0.01, -0.02), -0.03, -0.01),
                  "marketing_current": (-0.01, _se_for(0.04, -0.01), -0.02, -0.001)})
    table = actions.action_tests(ames, tied)
    np.testing.assert_allclose(table["p_value_holm"], [0.02, 0.04], rtol=1e-12)
    assert table["offered"].tolist() == [True, True] and table["recommended"].tolist() == [True, True]
    row = table.iloc[0]
    assert row["statistic"] == pytest.approx(-norm.isf(0.005), rel=1e-12)
    assert row["std_error_delta"] == pytest.approx(_se_for(0.01, -0.02) / 2)
    assert (row["n_models_tied"], row["column"]) == (1, "marketing_6m")
    assert row["hypothesis"] == "AME of marketing_6m = 0 (inference model)"
    # the family is the levers given: the same p-values among four hypotheses are adjusted more
    four = _ames({"marketing_6m": (-0.02, _se_for(0.01, -0.02), -0.03, -0.01),
                  "marketing_current": (-0.01, _se_for(0.04, -0.01), -0.02, -0.001),
                  "unpaid_items": (0.05, _se_for(0.5, 0.05), -0.1, 0.2),
                  "promo_share_10pp": (0.05, _se_for(0.6, 0.05), -0.1, 0.2)})
    wide = actions.action_tests(four, tied, levers=actions.STORE_ACTIONS + actions.ASSUMED_ACTIONS)
    np.testing.assert_allclose(wide["p_value_holm"], holm(np.array([0.01, 0.04, 0.5, 0.6])), rtol=1e-12)
    assert wide["offered"].tolist() == [True, False, False, False]


def test_action_tests_robust_only_when_every_tied_model_agrees():
    ames = _ames({"marketing_6m": (-0.02, 0.004, -0.03, -0.01), "marketing_current": (-0.02, 0.004, -0.03, -0.01)})
    tied = _tied([("m1", "marketing_6m", -0.03, -0.01), ("m2", "marketing_6m", -0.03, 0.002),
                  ("m1", "marketing_current", -0.03, -0.01), ("m2", "marketing_current", -0.04, -1e-9)])
    table = actions.action_tests(ames, tied).set_index("action")
    # m2's interval of marketing_6m crosses zero: offered (the business model supports it) but not recommended
    assert table["robust"].to_dict() == {"more_marketing": False, "marketing_this_month": True}
    assert table["offered"].to_dict() == {"more_marketing": True, "marketing_this_month": True}
    assert table["recommended"].to_dict() == {"more_marketing": False, "marketing_this_month": True}
    assert table["n_models_tied"].tolist() == [2, 2]
    # an interval touching zero is not below it
    touching = _tied([("m1", "marketing_6m", -0.03, 0.0), ("m1", "marketing_current", -0.03, -0.01)])
    assert actions.action_tests(ames, touching)["robust"].tolist() == [False, True]
    # no tied model at all: nothing is robust
    none = actions.action_tests(ames, _tied([]))
    assert none["robust"].tolist() == [False, False] and none["n_models_tied"].tolist() == [0, 0]
    assert not none["recommended"].any() and none["offered"].all()


def test_action_tests_sign_follows_the_change():
    # + contacts: fewer declines when the AME is below zero; − one unpaid item: when the AME is above zero
    ames = _ames({"marketing_6m": (0.03, 0.005, 0.02, 0.04), "marketing_current": (-0.03, 0.005, -0.04, -0.02),
                  "unpaid_items": (0.03, 0.005, 0.02, 0.04), "promo_share_10pp": (-0.03, 0.005, -0.04, -0.02)})
    tied = _tied([("m", c, lo, hi) for c, lo, hi in (("marketing_6m", 0.02, 0.04), ("marketing_current", -0.04, -0.02),
                                                      ("unpaid_items", 0.02, 0.04),
                                                      ("promo_share_10pp", -0.04, -0.02))])
    table = actions.action_tests(ames, tied, levers=actions.STORE_ACTIONS + actions.ASSUMED_ACTIONS)
    table = table.set_index("action")
    assert (table["p_value_holm"] < 1e-6).all()
    expected = {"more_marketing": False, "marketing_this_month": True, "cart_reminder": True, "less_promotion": False}
    assert table["offered"].to_dict() == expected and table["robust"].to_dict() == expected
    assert table["recommended"].to_dict() == expected


def test_action_tests_without_a_standard_error():
    ames = _ames({"marketing_6m": (-0.02, 0.0, -0.02, -0.02), "marketing_current": (-0.02, 0.004, -0.03, -0.01)})
    tied = _tied([("m", "marketing_6m", -0.03, -0.01), ("m", "marketing_current", -0.03, -0.01)])
    table = actions.action_tests(ames, tied)
    assert np.isnan(table["statistic"].iloc[0]) and np.isnan(table["p_value"].iloc[0])
    assert np.isnan(table["p_value_holm"].iloc[0]) and not table["offered"].iloc[0]
    # the one tested action is its own family
    assert table["p_value_holm"].iloc[1] == pytest.approx(table["p_value"].iloc[1], rel=1e-12)


# ---------------------------------------------------------------------------------------------------------
# Recommendations
# ---------------------------------------------------------------------------------------------------------
def test_recommendations_rank_the_given_actions_by_customers_kept():
    rows = []
    kept = {"g1": {"a0": 5, "a1": 9, "a2": 1, "a3": 7}, "g0": {"a0": 2, "a1": 8, "a3": 0}}
    for group, values in kept.items():
        for i, (action, k) in enumerate(values.items()):
            rows.append({"group": group, "action": action, "n_customers": 10, "n_with_room": 0 if k == 0 else i + 1,
                         "effect": -k / 10, "conf_low": -1.0, "conf_high": -0.01, "customers_kept": float(k),
                         "customers_kept_low": k - 1.0, "customers_kept_high": k + 1.0,
                         "profit_retained_upper": 2.0 * k, "profit_retained_upper_low": k,
                         "profit_retained_upper_high": 3.0 * k})
    recs = actions.recommendations(pd.DataFrame(rows), ["a0", "a2", "a3"])
    assert list(recs.columns) == actions.RECOMMENDATION_COLUMNS
    # g0 before g1; a1 is not given; a3 in g0 has no room
    assert list(zip(recs["group"], recs["rank"], recs["action"])) == [
        ("g0", 1, "a0"), ("g1", 1, "a3"), ("g1", 2, "a0"), ("g1", 3, "a2")]
    assert recs["share_with_room"].tolist() == [0.1, 0.4, 0.1, 0.3]
    assert recs["customers_kept"].tolist() == [2.0, 7.0, 5.0, 1.0] and recs.index.tolist() == [0, 1, 2, 3]
    assert actions.recommendations(pd.DataFrame(rows), []).empty


# ---------------------------------------------------------------------------------------------------------
# Offers
# ---------------------------------------------------------------------------------------------------------
# a model in which both contacts lower the risk (this month's less): which is offered depends on room
BETA_OFFERS = np.array([0.8, -0.45, -0.2, 0.3, 0.35, -0.2, -0.1])


def _predict_offers(f: pd.DataFrame) -> np.ndarray:
    return _p(f, BETA_OFFERS)


def _drop_se(f: pd.DataFrame, cf: pd.DataFrame) -> np.ndarray:
    """A stand-in SE that tells which action's counterfactual it was given."""
    moved6 = np.abs(cf["marketing_6m"].to_numpy(float) - f["marketing_6m"].to_numpy(float))
    moved1 = np.abs(cf["marketing_current"].to_numpy(float) - f["marketing_current"].to_numpy(float))
    return 0.003 * moved6 + 0.011 * moved1 + 0.0001 * f["unpaid_items"].to_numpy(float)


@pytest.mark.parametrize("conf_level", [0.95, 0.8])
def test_customer_offers_against_a_per_customer_oracle(frame, reference, conf_level):
    p = _predict_offers(frame)
    t = make_thresholds(frame["profit"].to_numpy(), risk=0.4)
    allowed = ["more_marketing", "marketing_this_month"]
    offers = actions.customer_offers(frame, _predict_offers, p, t, allowed, reference, drop_se=_drop_se,
                                     conf_level=conf_level)
    assert list(offers.columns) == actions.OFFER_COLUMNS
    moved = {name: _moved(frame, LEVER[name], frame) for name in allowed}
    z = norm.ppf(0.5 + conf_level / 2)
    for i in range(len(frame)):
        row = offers.iloc[i]
        one = frame.iloc[[i]]
        drops, ses = {}, {}
        for name in allowed:  # in the order given: a tie keeps the first
            cf, room, _ = moved[name]
            if room[i]:
                drops[name] = p[i] - _predict_offers(cf.iloc[[i]])[0]
                ses[name] = _drop_se(one, cf.iloc[[i]])[0]
        positive = {k: v for k, v in drops.items() if v > 0}
        assert row["segment"] == assign_segments(p[[i]], frame["profit"].to_numpy()[[i]], t)[0]
        assert (row["id"], row["p_decline"], row["profit"]) == (frame["id"].iloc[i], p[i], frame["profit"].iloc[i])
        if p[i] < t.risk:
            assert (row["offer"], row["risk_drop"], row["risk_drop_conf_low"], row["risk_drop_conf_high"]) == (
                "none", 0.0, 0.0, 0.0)
        elif positive:
            best = max(positive, key=positive.get)
            assert row["offer"] == best and row["risk_drop"] == pytest.approx(positive[best], rel=1e-9)
            assert row["risk_drop"] - row["risk_drop_conf_low"] == pytest.approx(z * ses[best], rel=1e-9)
            assert row["risk_drop_conf_high"] - row["risk_drop"] == pytest.approx(z * ses[best], rel=1e-9)
        else:
            assert (row["offer"], row["risk_drop"], row["risk_drop_conf_low"], row["risk_drop_conf_high"]) == (
                "personal_contact", 0.0, 0.0, 0.0)
    assert {"none", "personal_contact", "more_marketing", "marketing_this_month"} <= set(offers["offer"])


def test_customer_offers_without_drop_se_have_a_zero_width_interval(frame, reference):
    p = _predict_offers(frame)
    t = make_thresholds(frame["profit"].to_numpy(), risk=0.4)
    offers = actions.customer_offers(frame, _predict_offers, p, t, ["more_marketing"], reference)
    assert (offers["risk_drop_conf_low"] == offers["risk_drop"]).all()
    assert (offers["risk_drop_conf_high"] == offers["risk_drop"]).all() and (offers["risk_drop"] > 0).any()


def test_customer_offers_measure_from_predict_and_label_with_p_decline(frame, reference, model):
    t = Thresholds(risk=0.5, profit=4.0, promo=0.5, profit_quantile=0.5)
    label = np.full(len(frame), 0.7)  # every customer labelled high risk, whatever the model says
    offers = actions.customer_offers(frame, model.predict, label, t, ["more_marketing"], reference)
    cf, room, _ = _moved(frame, LEVER["more_marketing"], frame)
    drop = np.where(room, _p(frame) - _p(cf), 0.0)
    np.testing.assert_allclose(offers["risk_drop"], np.where(drop > 0, drop, 0.0), rtol=1e-12)
    assert offers["offer"].tolist() == ["more_marketing" if d > 0 else "personal_contact" for d in drop]
    assert set(offers["segment"]) <= {"high_risk_high_profit", "high_risk_low_profit"}
    # marketing this month raises the risk in this model: never the offer, a personal contact instead
    offers = actions.customer_offers(frame, model.predict, label, t, ["marketing_this_month"], reference)
    assert set(offers["offer"]) == {"personal_contact"}


def test_customer_offers_threshold_is_inclusive(frame, reference, model):
    t = Thresholds(risk=0.5, profit=4.0, promo=0.5, profit_quantile=0.5)
    p = _p(frame)
    p[:4] = 0.5
    offers = actions.customer_offers(frame, model.predict, p, t, ["more_marketing"], reference)
    assert (offers["offer"].iloc[:4] != "none").all()  # p = threshold is high risk: an action or a contact


@pytest.mark.parametrize("name", ["cart_reminder", "less_promotion", "more_pages", "more_categories"])
def test_customer_offers_refuse_what_the_store_does_not_control(frame, reference, model, name):
    t = make_thresholds(frame["profit"].to_numpy())
    with pytest.raises(ValueError) as info:
        actions.customer_offers(frame, model.predict, _p(frame), t, ["more_marketing", name], reference)
    kind = LEVER[name].kind
    assert str(info.value) == f"{name!r} is not an action the store controls ({kind}): it cannot be offered"


# ---------------------------------------------------------------------------------------------------------
# Edges the oracles above do not reach (small hand-made data, each value worked out by hand)
# ---------------------------------------------------------------------------------------------------------
def test_support_reference_is_plain_json_of_integer_clusters_and_counts():
    import json

    training = pd.DataFrame({"unpaid_items": [5] * 30 + [2] * 20, "promo_share_10pp": [4.5] * 25 + [8.0] * 25})
    reference = actions.support_reference(training, [LEVER["cart_reminder"], LEVER["less_promotion"]])
    # clusters and counts are whole numbers (0, 20), not floats (0.0, 20.0), in the stored reference
    assert json.dumps(reference) == (
        '{"unpaid_items": {"cluster": [0, 0], "value": [2.0, 5.0], "count": [20, 30]}, '
        '"promo_share_10pp": {"cluster": [0, 1], "value": [4.5, 8.0], "count": [25, 25]}}')
    # the cluster of a customer is an integer label: 4.9 below the split, 5.0 and 7.0 above it
    labels = actions._clusters(pd.DataFrame({"promo_share_10pp": [4.9, 5.0, 7.0], "marketing_6m": 1.0}),
                               "promo_share_10pp")
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 1]
    single = actions._clusters(pd.DataFrame({"marketing_6m": [1.0, 2.0]}), "marketing_6m")
    assert single.dtype == np.int64 and single.tolist() == [0, 0]


def test_neighbours_interval_is_closed_at_the_tolerance_and_counts_are_integers():
    # 7 customers at 1.0, 5 at 2.0; half width 0.5 and tolerance 1e-9:
    # 1.499999999 + 0.5 + 1e-9 is exactly 2.0 (upper edge, included) and 1.499999999 − 0.5 − 1e-9 ≤ 1.0;
    # 1.500000001 − 0.5 − 1e-9 is exactly 1.0 (lower edge, included); 1.4999999 reaches only 1.999999901
    reference = {"cluster": [0, 0], "value": [1.0, 2.0], "count": [7, 5]}
    new = np.array([1.499999999, 1.500000001, 1.4999999, 2.6])
    assert new[0] + 0.5 + 1e-9 == 2.0 and new[1] - 0.5 - 1e-9 == 1.0
    counts = actions.neighbours(reference, np.zeros(4, dtype=np.int64), new, 0.5)
    assert counts.tolist() == [12, 12, 7, 0]
    assert counts.dtype == np.int64


def test_apply_action_moves_a_single_precision_column_in_double_precision():
    training = pd.DataFrame({"marketing_6m": [4.2] * 20})
    lever = LEVER["more_marketing"]
    reference = actions.support_reference(training, [lever])
    customers = pd.DataFrame({"marketing_6m": np.array([3.2, 9.5], dtype=np.float32), "contact_allowed": 1})
    out, room, _ = actions.apply_action(customers, lever, reference)
    assert room.tolist() == [True, False]
    # x + 1 of the float32 value 3.2 (3.2000000476837158) is 4.200000047683716, not float32's 4.19999981
    assert out["marketing_6m"].dtype == np.float64
    assert out["marketing_6m"].tolist() == [4.200000047683716, 9.5]


def test_apply_action_keeps_a_fractional_new_value_of_an_integer_column():
    # a half-item change: 3 → 2.5 has support (20 customers at 2.5), 7 → 6.5 has none
    training = pd.DataFrame({"unpaid_items": [2.5] * 20})
    lever = replace(LEVER["cart_reminder"], change=-0.5)
    reference = actions.support_reference(training, [lever])
    customers = pd.DataFrame({"unpaid_items": np.array([3, 7], dtype=np.int64), "contact_allowed": 0})
    out, room, _ = actions.apply_action(customers, lever, reference)
    assert room.tolist() == [True, False]
    assert out["unpaid_items"].tolist() == [2.5, 7.0]  # not truncated back to the integer 2


def _small_frame() -> pd.DataFrame:
    return pd.DataFrame({"marketing_6m": [2.0, 5.0, 1.0, 1.0], "marketing_current": [1, 0, 2, 3],
                         "promo_share_10pp": [3.0, 6.0, 2.0, 1.0], "unpaid_items": [2, 2, 5, 2],
                         "categories_per_visit": [2.0, 1.0, 3.0, 1.5], "pages_per_visit": [4.0, 2.0, 6.0, 3.0],
                         "contact_allowed": [0, 0, 0, 0], "profit": [10.0, 20.0, 30.0, 40.0]})


def _small_reference() -> dict:
    # 20 modelling customers with one unpaid item: 2 → 1 has support, 5 → 4 has none; marketing 3.0 and 1 are
    # supported too, but nobody in the small frame consents to contacts
    training = pd.DataFrame({"unpaid_items": [1] * 20, "marketing_6m": [3.0] * 20, "marketing_current": [1] * 20})
    return actions.support_reference(training, actions.STORE_ACTIONS + (LEVER["cart_reminder"],))


def test_scenarios_accept_a_zero_one_integer_group_mask():
    frame = _small_frame()
    model = logit_link_model(result_design, BETA, _cov())
    group = np.array([1, 0, 1, 1])  # customers 0, 2 and 3; 2 has no support, 1 is outside the group
    table = actions.scenarios(frame, model, {"g": group}, _small_reference(), levers=(LEVER["cart_reminder"],))
    row = table.iloc[0]
    assert (row["n_customers"], row["n_eligible"], row["n_without_support"], row["n_with_room"]) == (3, 3, 1, 2)
    base = frame.iloc[[0, 3]]
    moved = base.assign(unpaid_items=base["unpaid_items"] - 1)
    change = _p(moved) - _p(base)
    assert row["decline_rate_baseline"] == pytest.approx(_p(base).mean(), rel=1e-12)
    assert row["effect"] == pytest.approx(change.mean(), rel=1e-10)
    assert row["customers_kept"] == pytest.approx(-change.sum(), rel=1e-10)
    assert row["profit_retained_upper"] == pytest.approx(-(10.0 * change[0] + 40.0 * change[1]), rel=1e-10)


def test_scenarios_build_the_design_only_for_levers_that_reach_someone():
    frame = _small_frame()
    calls = []

    def design(f):
        calls.append(len(f))
        return result_design(f)

    model = logit_link_model(design, BETA, _cov())
    reference = _small_reference()
    everyone, nobody = {"all": np.ones(4, dtype=bool)}, {"none": np.zeros(4, dtype=bool)}
    # no consent: the contacts have no room anywhere, so no design is built at all
    table = actions.scenarios(frame, model, everyone, reference)
    assert calls == [] and table["n_with_room"].tolist() == [0, 0]
    # room, but an empty group: nothing to build either
    table = actions.scenarios(frame, model, nobody, reference, levers=(LEVER["cart_reminder"],))
    assert calls == [] and table["n_with_room"].tolist() == [0]
    # one design call over the base and the one counterfactual with room (4 + 4 rows)
    table = actions.scenarios(frame, model, everyone, reference,
                              levers=(LEVER["more_marketing"], LEVER["cart_reminder"]))
    assert calls == [8] and table["n_with_room"].tolist() == [0, 3]


def test_action_tests_without_any_standard_error_test_nothing():
    ames = _ames({"marketing_6m": (-0.02, 0.0, -0.03, -0.01), "marketing_current": (-0.02, 0.0, -0.03, -0.01)})
    tied = _tied([("m", "marketing_6m", -0.03, -0.01), ("m", "marketing_current", -0.03, -0.01)])
    table = actions.action_tests(ames, tied)
    assert list(table.columns) == actions.TEST_COLUMNS
    assert table["p_value_holm"].isna().all() and not table["offered"].any() and not table["recommended"].any()


def test_action_tests_an_infinite_estimate_is_not_tested():
    ames = _ames({"marketing_6m": (-np.inf, 0.004, -0.03, -0.01), "marketing_current": (-0.02, 0.004, -0.03, -0.01)})
    tied = _tied([("m", "marketing_6m", -0.03, -0.01), ("m", "marketing_current", -0.03, -0.01)])
    table = actions.action_tests(ames, tied)
    assert table["statistic"].iloc[0] == -np.inf
    assert np.isnan(table["p_value"].iloc[0]) and np.isnan(table["p_value_holm"].iloc[0])
    assert table["offered"].tolist() == [False, True]
    # the finite one is its own family: z = −5, p = 2 Φ(−5)
    assert table["p_value_holm"].iloc[1] == pytest.approx(2 * norm.cdf(-5.0), rel=1e-12)


def test_action_tests_interval_touching_zero_is_not_on_the_side_of_fewer_declines():
    # + contacts: the interval must lie below zero; an upper end of exactly 0 does not
    more = _ames({"marketing_6m": (-0.03, 0.005, -0.04, 0.0)})
    tied = _tied([("m", "marketing_6m", -0.04, -0.01)])
    assert actions.action_tests(more, tied, levers=(LEVER["more_marketing"],))["offered"].tolist() == [False]
    more = _ames({"marketing_6m": (-0.03, 0.005, -0.04, -1e-9)})
    assert actions.action_tests(more, tied, levers=(LEVER["more_marketing"],))["offered"].tolist() == [True]
    # − one unpaid item: the interval must lie above zero; a lower end of exactly 0 does not, in the AME
    # interval (offered) nor in a tied model's (robust)
    lever = (LEVER["cart_reminder"],)
    ames = _ames({"unpaid_items": (0.03, 0.005, 0.0, 0.04)})
    tied = _tied([("m", "unpaid_items", 0.0, 0.04)])
    table = actions.action_tests(ames, tied, levers=lever)
    assert (table["offered"].tolist(), table["robust"].tolist()) == ([False], [False])
    ames = _ames({"unpaid_items": (0.03, 0.005, 1e-9, 0.04)})
    tied = _tied([("m", "unpaid_items", 1e-9, 0.04)])
    table = actions.action_tests(ames, tied, levers=lever)
    assert (table["offered"].tolist(), table["robust"].tolist()) == ([True], [True])


def test_action_tests_holm_p_equal_to_alpha_is_not_offered():
    ames = _ames({"marketing_6m": (-0.02, 0.008, -0.03, -0.01), "marketing_current": (-0.02, 0.0, -0.03, -0.01)})
    tied = _tied([("m", "marketing_6m", -0.03, -0.01)])
    holm_p = float(actions.action_tests(ames, tied)["p_value_holm"].iloc[0])
    assert holm_p == pytest.approx(2 * norm.cdf(-2.5), rel=1e-12)
    assert actions.action_tests(ames, tied, alpha=holm_p)["offered"].tolist() == [False, False]
    assert actions.action_tests(ames, tied, alpha=np.nextafter(holm_p, 1.0))["offered"].tolist() == [True, False]


def test_action_tests_a_lever_that_changes_nothing_is_not_robust():
    # change 0: the effect of the change (0 × AME) is never below zero, whatever the tied intervals say
    still = replace(LEVER["more_marketing"], change=0.0)
    ames = _ames({"marketing_6m": (-0.02, 0.004, -0.03, -0.01), "marketing_current": (-0.02, 0.004, -0.03, -0.01)})
    tied = _tied([("m", "marketing_6m", -0.03, -0.01), ("m", "marketing_current", -0.03, -0.01)])
    table = actions.action_tests(ames, tied, levers=(still, LEVER["marketing_this_month"]))
    assert table["robust"].tolist() == [False, True]


def test_customer_offers_compare_single_precision_risks_in_double_precision():
    # float32(0.7) is 0.699999988…: below a risk threshold of 0.7, so low risk; float32(0.71) is above it
    training = pd.DataFrame({"marketing_6m": [4.0] * 20})
    reference = actions.support_reference(training, [LEVER["more_marketing"]])
    frame = pd.DataFrame({"id": ["a", "b"], "profit": [10.0, 1.0], "contact_allowed": 1,
                          **{c: [3.0, 3.0] for c in COLUMNS}})
    t = Thresholds(risk=0.7, profit=5.0, promo=0.5, profit_quantile=0.5)
    p = np.array([0.7, 0.71], dtype=np.float32)
    offers = actions.customer_offers(frame, _predict_offers, p, t, ["more_marketing"], reference)
    assert offers["segment"].tolist() == ["low_risk_high_profit", "high_risk_low_profit"]
    assert offers["offer"].tolist() == ["none", "more_marketing"]
    assert offers["p_decline"].iloc[0] == 0.699999988079071 and offers["p_decline"].dtype == np.float64
    drop = _predict_offers(frame.iloc[[1]])[0] - _predict_offers(frame.iloc[[1]].assign(marketing_6m=4.0))[0]
    assert offers["risk_drop"].tolist() == [0.0, pytest.approx(drop, rel=1e-12)]


def test_action_tests_robust_and_offered_read_the_same_sign_of_the_change():
    """``robust`` and ``offered`` both ask whether the change *as passed* lowers the decline: a lever passed with
    the opposite change reads a positive AME as fewer declines in both columns; a lever that changes nothing is
    neither, whatever side its intervals lie on."""
    ames = _ames({"marketing_6m": (0.02, 0.004, 0.01, 0.03)})
    tied = _tied([("m", "marketing_6m", 0.01, 0.03)])
    fewer_contacts = replace(LEVER["more_marketing"], change=-1.0)
    table = actions.action_tests(ames, tied, levers=(fewer_contacts,))
    assert (table["robust"].tolist(), table["offered"].tolist(), table["recommended"].tolist()) == (
        [True], [True], [True])
    registered = actions.action_tests(ames, tied, levers=(LEVER["more_marketing"],))
    assert (registered["robust"].tolist(), registered["offered"].tolist()) == ([False], [False])
    still = replace(LEVER["more_marketing"], change=0.0)
    for interval in ((0.01, 0.03), (-0.03, -0.01)):
        a = _ames({"marketing_6m": (sum(interval) / 2, 0.004, *interval)})
        t = _tied([("m", "marketing_6m", *interval)])
        table = actions.action_tests(a, t, levers=(still,))
        assert (table["robust"].tolist(), table["offered"].tolist()) == ([False], [False]), interval
