"""Segments, focus groups, profiles and the stress test of the thresholds against brute-force oracles (issue 10,
item 6: the survivors of mutmut on analysis/segments.py). What the store can do about each group (levers,
scenarios, tests, offers) is tested in tests/test_actions.py and tests/test_decisions.py.

The risk is a hand-made logit ``p = expit(Xβ)`` of six columns, so that every group can be recomputed here by
loops over customers and Holm by its step-down definition.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from analysis import segments
from analysis.modeling.features import model_frame
from analysis.data.synthetic import customer_table
from tests.oracles import holm

COLUMNS = ["marketing_6m", "marketing_current", "promo_share_10pp", "unpaid_items", "categories_per_visit",
           "pages_per_visit"]
BETA = np.array([0.8, -0.45, 0.04, 0.3, 0.35, -0.2, -0.1])


def result_design(frame: pd.DataFrame) -> np.ndarray:
    return np.column_stack([np.ones(len(frame))] + [frame[c].to_numpy(dtype=float) for c in COLUMNS])


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return model_frame(customer_table(400, 17))


def _p(frame: pd.DataFrame, beta=BETA) -> np.ndarray:
    return expit(result_design(frame) @ beta)


# --- thresholds and segments ------------------------------------------------------------------------------

def test_make_thresholds_by_hand_and_bad_values():
    t = segments.make_thresholds(np.array([4.0, 1.0, 3.0, 2.0]))
    assert (t.risk, t.profit, t.promo, t.profit_quantile) == (0.5, 2.5, 0.5, 0.5)
    t = segments.make_thresholds(np.array([0.0, 10.0]), risk=0.3, profit_quantile=0.25, promo=0.7)
    assert (t.risk, t.profit, t.promo, t.profit_quantile) == (0.3, 2.5, 0.7, 0.25)
    for risk in (0, 1, -0.1, 1.5):
        with pytest.raises(ValueError) as info:
            segments.make_thresholds(np.array([1.0]), risk=risk)
        assert str(info.value) == f"risk threshold must be in (0, 1), got {risk!r}"
    for q in (0, 1, 2.0):
        with pytest.raises(ValueError) as info:
            segments.make_thresholds(np.array([1.0]), profit_quantile=q)
        assert str(info.value) == f"profit_quantile must be in (0, 1), got {q!r}"


def _segment(p: float, profit: float, t) -> str:
    if p >= t.risk:
        return "high_risk_high_profit" if profit >= t.profit else "high_risk_low_profit"
    return "low_risk_high_profit" if profit >= t.profit else "low_risk_low_profit"


def test_assign_segments_boundaries_are_inclusive():
    t = segments.Thresholds(risk=0.5, profit=3.0, promo=0.5, profit_quantile=0.5)
    p = np.array([0.5, 0.5, 0.49, 0.49, 0.9, 0.1])
    profit = np.array([3.0, 2.99, 3.0, 2.99, 10.0, 0.0])
    expected = [_segment(a, b, t) for a, b in zip(p, profit)]
    assert list(segments.assign_segments(p, profit, t)) == expected
    assert expected == ["high_risk_high_profit", "high_risk_low_profit", "low_risk_high_profit",
                        "low_risk_low_profit", "high_risk_high_profit", "low_risk_low_profit"]


def test_focus_masks_by_hand(frame):
    t = segments.Thresholds(risk=0.5, profit=4.0, promo=0.5, profit_quantile=0.5)
    p = _p(frame)
    masks = segments.focus_masks(frame, p, t)
    categories = sorted(set(frame["popular_category"]))
    assert list(masks) == ["high_risk_promo"] + [f"high_risk_{c}" for c in categories]
    promo = [pi >= 0.5 and s >= 0.5 for pi, s in zip(p, frame["promo_share"])]
    assert masks["high_risk_promo"].tolist() == promo and any(promo)
    for c in categories:
        assert masks[f"high_risk_{c}"].tolist() == [pi >= 0.5 and v == c for pi, v in zip(p, frame["popular_category"])]


def test_segment_table_by_hand():
    t = segments.Thresholds(risk=0.5, profit=3.0, promo=0.5, profit_quantile=0.5)
    p = np.array([0.9, 0.6, 0.2, 0.7, 0.1])
    profit = np.array([5.0, 1.0, 4.0, 6.0, 2.0])
    y = np.array([1, 0, 0, 1, 1])
    seg = segments.assign_segments(p, profit, t)
    focus = {"some": np.array([True, False, False, True, False]), "none": np.zeros(5, dtype=bool)}
    table = segments.segment_table(seg, focus, p, profit, y).set_index("segment")
    assert list(table.columns) == segments.SEGMENT_COLUMNS[1:]
    assert list(table.index) == list(segments.GRID_SEGMENTS) + ["some", "none"]
    hh = table.loc["high_risk_high_profit"]
    assert (hh["kind"], hh["n_customers"], hh["share"]) == ("grid", 2, 0.4)
    assert hh["mean_p_decline"] == pytest.approx(0.8) and hh["mean_profit"] == pytest.approx(5.5)
    assert hh["observed_decline_rate"] == 1.0 and hh["profit_at_risk_upper"] == pytest.approx(0.9 * 5 + 0.7 * 6)
    ll = table.loc["low_risk_low_profit"]
    assert (ll["n_customers"], ll["observed_decline_rate"], ll["profit_at_risk_upper"]) == (1, 1.0, pytest.approx(0.2))
    assert table.loc["some", "kind"] == "focus" and table.loc["some", "n_customers"] == 2
    none = table.loc["none"]
    assert none["n_customers"] == 0 and none["share"] == 0 and none["profit_at_risk_upper"] == 0
    assert np.isnan(none["mean_p_decline"]) and np.isnan(none["mean_profit"]) and np.isnan(none["observed_decline_rate"])
    without_y = segments.segment_table(seg, {}, p, profit)
    assert without_y["observed_decline_rate"].isna().all() and len(without_y) == 4


# --- sensitivity, profiles, the whole analysis ------------------------------------------------------------------

def test_sensitivity_by_hand(frame):
    p = _p(frame)
    profit = frame["profit"].to_numpy()
    table = segments.sensitivity(p, profit, risks=(0.3, 0.6), quantiles=(0.25, 0.5))
    assert list(table.columns) == ["risk_threshold", "profit_quantile", "profit_threshold", "segment", "n_customers",
                                   "profit_at_risk_upper"]
    assert len(table) == 2 * 2 * 4
    for row in table.itertuples():
        cut = np.quantile(profit, row.profit_quantile)
        assert row.profit_threshold == cut
        t = segments.Thresholds(row.risk_threshold, cut, 0.5, row.profit_quantile)
        members = [i for i in range(len(p)) if _segment(p[i], profit[i], t) == row.segment]
        assert row.n_customers == len(members)
        assert row.profit_at_risk_upper == pytest.approx(sum(p[i] * profit[i] for i in members), rel=1e-12)
    default = segments.sensitivity(p, profit)
    assert sorted(set(default["risk_threshold"])) == [0.4, 0.45, 0.5, 0.55, 0.6]
    assert sorted(set(default["profit_quantile"])) == [0.4, 0.5, 0.6] and len(default) == 60


def test_defining_variables_are_every_profile_variable():
    expected = {"marketing_6m", "marketing_current", "tenure_days", "promo_share", "categories_per_visit",
                "unpaid_items", "service_errors", "pages_per_visit", "revenue_prev2", "revenue_prev",
                "revenue_current", "minutes_prev", "minutes_current", "profit", "service_type", "contact_allowed",
                "popular_category"}
    for group in ("high_risk_high_profit", "high_risk_promo", "anything"):
        assert segments.defining_variables(group) == expected


def test_segment_profiles_blank_the_defining_variables_and_holm_the_rest(frame, monkeypatch):
    from stats.groups import compare_groups

    p = _p(frame)
    masks = {"high": p >= 0.5, "everyone": np.ones(len(frame), dtype=bool), "nobody": np.zeros(len(frame), bool),
             "promo": frame["promo_share"].to_numpy() >= 0.5}
    table = segments.segment_profiles(frame, masks)
    assert list(table["segment"].unique()) == ["high", "promo"]  # groups without a rest are left out
    assert table.columns[0] == "segment" and (table["role"] == "described").all()
    assert table[["test", "statistic", "p_value", "p_adjusted"]].isna().all().all()
    # with some variables not defining the group, those are tested and Holm runs over them only
    described = {"high": {"profit", "promo_share", "popular_category"}, "promo": {"promo_share"}}
    monkeypatch.setattr(segments, "defining_variables", lambda group: described[group])
    table = segments.segment_profiles(frame, masks)
    for name in ("high", "promo"):
        part = table[table["segment"] == name]
        full = compare_groups(frame, masks[name], numeric=list(segments.PROFILE_NUMERIC),
                              categorical=list(segments.PROFILE_CATEGORICAL), correction="none")
        is_described = part["variable"].isin(described[name]).to_numpy()
        assert part["role"].tolist() == ["described" if d else "tested" for d in is_described]
        assert part.loc[is_described, ["test", "statistic", "p_value", "p_adjusted"]].isna().all().all()
        np.testing.assert_allclose(part.loc[~is_described, "p_value"], full.loc[~is_described, "p_value"])
        per_variable = full.loc[~is_described].groupby("variable", sort=False)["p_value"].first()
        by_variable = dict(zip(per_variable.index, holm(per_variable.to_numpy())))
        np.testing.assert_allclose(part.loc[~is_described, "p_adjusted"],
                                   part.loc[~is_described, "variable"].map(by_variable), rtol=1e-12)
        bonferroni = np.minimum(1, per_variable.to_numpy() * len(per_variable))
        assert not np.allclose(list(by_variable.values()), bonferroni)
    assert segments.segment_profiles(frame, {"nobody": np.zeros(len(frame), bool)}).empty


def test_segment_analysis_tables_by_hand(frame):
    p = _p(frame)
    p[:3] = 0.5  # exactly at the risk threshold: high risk
    y = frame["activity_decline"].to_numpy()
    result = segments.segment_analysis(frame, p, y)
    profit = frame["profit"].to_numpy()
    t = result.thresholds
    assert (t.risk, t.profit, t.promo, t.profit_quantile) == (0.5, float(np.median(profit)), 0.5, 0.5)
    # what the store can do moved to analysis.decisions.actions / analysis.decisions.decide: segments only here
    assert set(result.tables) == {"segments", "segment_profiles", "segment_sensitivity", "segment_thresholds",
                                  "customer_groups"}
    tables = result.tables
    seg = np.array([_segment(a, b, t) for a, b in zip(p, profit)])
    table = tables["segments"].set_index("segment")
    for name in segments.GRID_SEGMENTS:
        members = seg == name
        assert table.loc[name, "n_customers"] == members.sum() and table.loc[name, "kind"] == "grid"
        assert table.loc[name, "mean_p_decline"] == pytest.approx(sum(p[members]) / members.sum(), rel=1e-12)
        assert table.loc[name, "observed_decline_rate"] == pytest.approx(sum(y[members]) / members.sum(), rel=1e-12)
        assert table.loc[name, "mean_profit"] == pytest.approx(sum(profit[members]) / members.sum(), rel=1e-12)
        assert table.loc[name, "profit_at_risk_upper"] == pytest.approx(sum(p[members] * profit[members]), rel=1e-12)
    assert table.loc["high_risk_promo", "kind"] == "focus"
    # each profile describes its group against the rest: the group's median profit
    profiles = tables["segment_profiles"]
    for name in segments.GRID_SEGMENTS:
        row = profiles[(profiles["segment"] == name) & (profiles["variable"] == "profit")].iloc[0]
        assert row["group_value"] == pytest.approx(float(np.median(profit[seg == name])), rel=1e-12)
        assert row["rest_value"] == pytest.approx(float(np.median(profit[seg != name])), rel=1e-12)
    high = p >= 0.5
    promo = high & (frame["promo_share"].to_numpy() >= 0.5)
    # the groups the scenarios are evaluated in, as boolean masks, in this order
    assert list(result.groups) == ["high_risk_high_profit", "high_risk_low_profit", "high_risk_promo",
                                   "high_risk_all"]
    expected_groups = {"high_risk_high_profit": seg == "high_risk_high_profit",
                       "high_risk_low_profit": seg == "high_risk_low_profit", "high_risk_promo": promo,
                       "high_risk_all": high}
    for name, mask in expected_groups.items():
        assert result.groups[name].dtype == bool and result.groups[name].tolist() == mask.tolist(), name
    profile_segments = set(tables["segment_profiles"]["segment"])
    assert profile_segments == {name for name in segments.GRID_SEGMENTS if 0 < (seg == name).sum() < len(seg)} | (
        {"high_risk_promo"} if 0 < promo.sum() else set())
    thresholds = tables["segment_thresholds"]
    assert thresholds.to_dict("records") == [
        {"threshold": "risk", "value": 0.5, "rule": "P(decline over the next three months) ≥ value"},
        {"threshold": "profit", "value": t.profit, "rule": "profit ≥ value: the 50% quantile of profit"},
        {"threshold": "promotion", "value": 0.5,
         "rule": "promo_share ≥ value: the upper mode of the bimodal promotional share"}]
    groups = tables["customer_groups"]
    assert list(groups.columns) == ["id", "group"] and groups.index.equals(pd.RangeIndex(len(groups)))
    assert tables["segment_profiles"].index.equals(pd.RangeIndex(len(tables["segment_profiles"])))
    expected = {name: set(frame["id"][seg == name]) for name in segments.GRID_SEGMENTS if (seg == name).any()}
    expected["high_risk_promo"] = set(frame["id"][promo])
    expected["high_risk_all"] = set(frame["id"][high])
    for category in set(frame["popular_category"]):
        members = high & (frame["popular_category"].to_numpy() == category)
        if members.any():
            expected[f"high_risk_{category}"] = set(frame["id"][members])
    assert {g: set(ids) for g, ids in groups.groupby("group")["id"]} == expected
    assert len(tables["segment_sensitivity"]) == 60
    # given thresholds are used as they are
    fixed = segments.Thresholds(risk=0.3, profit=3.0, promo=0.6, profit_quantile=0.25)
    other = segments.segment_analysis(frame, p, y, thresholds=fixed)
    assert other.thresholds is fixed
    assert other.groups["high_risk_all"].tolist() == (p >= 0.3).tolist()
    assert other.groups["high_risk_promo"].tolist() == ((p >= 0.3) & (frame["promo_share"] >= 0.6)).tolist()
    assert other.groups["high_risk_high_profit"].tolist() == [_segment(a, b, fixed) == "high_risk_high_profit"
                                                             for a, b in zip(p, profit)]
    assert other.tables["segment_thresholds"]["rule"].iloc[1] == "profit ≥ value: the 25% quantile of profit"


# --- second round: the survivors of the first mutmut run ------------------------------------------------------

def test_thresholds_are_inclusive_for_focus_groups(frame):
    t = segments.Thresholds(risk=0.5, profit=4.0, promo=0.5, profit_quantile=0.5)
    p = _p(frame)
    p[:4] = 0.5
    edited = frame.copy()
    edited.loc[edited.index[:2], "promo_share"] = 0.5  # at the promotion threshold
    masks = segments.focus_masks(edited, p, t)
    assert masks["high_risk_promo"][:2].tolist() == [True, True]
    category = edited["popular_category"].iloc[0]
    assert masks[f"high_risk_{category}"][0]


def test_segment_table_of_an_empty_segment_gives_no_warning():
    import warnings

    t = segments.Thresholds(risk=0.5, profit=3.0, promo=0.5, profit_quantile=0.5)
    p, profit = np.array([0.9, 0.8]), np.array([5.0, 6.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mean of empty slice" for the three empty segments
        table = segments.segment_table(segments.assign_segments(p, profit, t), {}, p, profit, np.array([1, 0]))
    assert table["n_customers"].tolist() == [2, 0, 0, 0]


def test_segment_profiles_one_member_groups_and_untestable_variables(frame, monkeypatch):
    one = np.zeros(len(frame), dtype=bool)
    one[5] = True
    table = segments.segment_profiles(frame, {"one": one})
    assert set(table["segment"]) == {"one"}
    # a tested variable without a p-value (one level only) is left out of Holm; the others are adjusted alone
    constant = frame.assign(contact_allowed=1)
    mask = _p(frame) >= 0.5
    monkeypatch.setattr(segments, "defining_variables", lambda group: {"profit"})
    table = segments.segment_profiles(constant, {"high": mask})
    tested = table[(table["role"] == "tested") & table["p_value"].notna()]
    per_variable = tested.groupby("variable", sort=False)["p_value"].first()
    by_variable = dict(zip(per_variable.index, holm(per_variable.to_numpy())))
    np.testing.assert_allclose(tested["p_adjusted"], tested["variable"].map(by_variable), rtol=1e-12)
    assert table.loc[table["variable"] == "contact_allowed", "p_adjusted"].isna().all()
