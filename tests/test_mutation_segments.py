"""Segments, scenarios, recommendations and offers against brute-force oracles (issue 10, item 6: the
survivors of mutmut on analysis/segments.py).

The business model is a hand-made logit ``p = expit(Xβ)`` of six lever columns with a fixed covariance, so
that every effect can be recomputed here: means of ``expit`` by plain arithmetic, standard errors by a
numerical gradient of the effect in ``β``, Holm by its step-down definition, segments and offers by loops over
customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import norm

from analysis import segments
from analysis.features import model_frame
from analysis.synthetic import customer_table
from stats.link_margins import logit_link_model

COLUMNS = ["marketing_6m", "marketing_current", "promo_share_10pp", "unpaid_items", "categories_per_visit",
           "pages_per_visit"]
# more marketing and fewer promotional purchases or unpaid items lower the risk; marketing this month raises it a
# little (an action that must not be recommended)
BETA = np.array([0.8, -0.45, 0.04, 0.3, 0.35, -0.2, -0.1])
RISK_COLUMNS = segments.SCENARIO_COLUMNS


def _design(frame: pd.DataFrame) -> np.ndarray:
    return np.column_stack([np.ones(len(frame))] + [frame[c].to_numpy(dtype=float) for c in COLUMNS])


def _cov() -> np.ndarray:
    a = np.random.default_rng(4).normal(size=(7, 7))
    return 0.002 * (a @ a.T) / 7 + 0.001 * np.eye(7)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return model_frame(customer_table(400, 17))


@pytest.fixture(scope="module")
def model():
    return logit_link_model(_design, BETA, _cov())


def _p(frame: pd.DataFrame, beta=BETA) -> np.ndarray:
    return expit(_design(frame) @ beta)


def _bounds(frame: pd.DataFrame) -> dict:
    return {c: (float(frame[c].min()), float(frame[c].max())) for c in COLUMNS}


def _moved(frame: pd.DataFrame, lever, bounds) -> tuple[pd.DataFrame, np.ndarray]:
    """The lever applied by its stated rule, customer by customer."""
    out = frame.copy()
    values = []
    room = []
    low, high = bounds[lever.column]
    if lever.minimum is not None:
        low = max(low, lever.minimum)
    for value, consent in zip(frame[lever.column].to_numpy(dtype=float), frame["contact_allowed"]):
        new = min(max(value + lever.change, low), high)
        ok = new != value and (consent == 1 or not lever.needs_consent)
        values.append(new if ok else value)
        room.append(ok)
    out[lever.column] = values
    return out, np.array(room)


def _holm(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


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


# --- levers -------------------------------------------------------------------------------------------------

def test_lever_bounds_are_the_observed_ranges(frame):
    bounds = segments.lever_bounds(frame)
    assert set(bounds) == {lever.column for lever in segments.LEVERS}
    for column, (low, high) in bounds.items():
        values = sorted(frame[column].tolist())
        assert (low, high) == (values[0], values[-1]) and isinstance(low, float) and isinstance(high, float)


def test_apply_lever_by_hand_for_every_lever(frame):
    bounds = segments.lever_bounds(frame)
    for lever in segments.LEVERS:
        expected, room = _moved(frame, lever, bounds)
        out, got_room = segments.apply_lever(frame, lever, bounds)
        assert got_room.tolist() == room.tolist(), lever.name
        np.testing.assert_array_equal(out[lever.column].to_numpy(dtype=float), expected[lever.column].to_numpy())
        pd.testing.assert_frame_equal(out.drop(columns=lever.column), frame.drop(columns=lever.column))
        assert room.any() and not room.all(), lever.name
    # whole-number results keep the column's integer dtype; a fractional result becomes float
    out, _ = segments.apply_lever(frame, segments.LEVER_BY_NAME["cart_reminder"], bounds)
    assert out["unpaid_items"].dtype == frame["unpaid_items"].dtype == np.int64
    half = segments.Lever("half", "unpaid_items", -0.5, "half an item")
    out, room = segments.apply_lever(frame, half, bounds)
    assert out["unpaid_items"].dtype == np.float64
    assert out["unpaid_items"].tolist() == [v - 0.5 if v - 0.5 >= bounds["unpaid_items"][0] else v
                                            for v in frame["unpaid_items"]]


def test_apply_lever_minimum_above_the_observed_minimum():
    frame = pd.DataFrame({"promo_share_10pp": [0.5, 3.0, 0.0], "contact_allowed": [0, 0, 0]})
    lever = segments.LEVER_BY_NAME["less_promotion"]
    out, room = segments.apply_lever(frame, lever, {"promo_share_10pp": (-5.0, 9.0)})
    # the lever's own minimum 0 is above the observed minimum −5: 0.5 stops at 0 and 0 cannot move; no consent
    # is needed for a promotion policy
    assert out["promo_share_10pp"].tolist() == [0.0, 2.0, 0.0] and room.tolist() == [True, True, False]


# --- scenarios ----------------------------------------------------------------------------------------------

def _effect(base: pd.DataFrame, moved: pd.DataFrame, weights: np.ndarray, beta=BETA) -> float:
    return float(np.sum(weights * (_p(moved, beta) - _p(base, beta))))


def _se(base, moved, weights) -> float:
    cov = _cov()
    grad = np.empty(len(BETA))
    for j in range(len(BETA)):
        step = np.zeros(len(BETA))
        step[j] = 1e-6
        grad[j] = (_effect(base, moved, weights, BETA + step) - _effect(base, moved, weights, BETA - step)) / 2e-6
    return float(np.sqrt(grad @ cov @ grad))


@pytest.mark.parametrize("conf_level", [0.95, 0.9])
def test_scenarios_against_hand_effects_and_numerical_delta_method(frame, model, conf_level):
    bounds = segments.lever_bounds(frame)
    p = _p(frame)
    groups = {"all": np.ones(len(frame), dtype=bool), "high": p >= 0.5, "nobody": np.zeros(len(frame), dtype=bool),
              "no_consent": frame["contact_allowed"].to_numpy() == 0}
    assert groups["no_consent"].any() and groups["high"].any()
    table = segments.scenarios(frame, model, groups, bounds, levers=segments.LEVERS, conf_level=conf_level)
    assert list(table.columns) == RISK_COLUMNS
    assert list(table["group"].unique()) == ["all", "high", "no_consent"]  # the empty group has no rows
    assert len(table) == 3 * len(segments.LEVERS)
    z = norm.ppf(0.5 + conf_level / 2)
    for row in table.itertuples():
        lever = segments.LEVER_BY_NAME[row.action]
        base = frame[groups[row.group]]
        moved, room = _moved(base, lever, bounds)
        assert (row.kind, row.n_customers, row.n_with_room) == (lever.kind, len(base), int(room.sum()))
        if not room.any():
            assert row.group == "no_consent" and lever.needs_consent
            assert all(pd.isna(getattr(row, c)) for c in RISK_COLUMNS[5:14]) and not row.recommended
            continue
        b, m = base[room], moved[room]
        n = len(b)
        w = np.full(n, 1 / n)
        effect, se = _effect(b, m, w), _se(b, m, w)
        assert row.decline_rate_baseline == pytest.approx(_p(b).mean(), rel=1e-12)
        assert row.decline_rate_scenario == pytest.approx(_p(m).mean(), rel=1e-12)
        assert row.effect == pytest.approx(effect, rel=1e-10)
        assert row.std_error == pytest.approx(se, rel=1e-5)
        assert row.p_value == pytest.approx(2 * norm.sf(abs(effect) / se), rel=1e-4)
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
    tested = table["p_value"].notna().to_numpy()
    np.testing.assert_allclose(table.loc[tested, "p_value_holm"], _holm(table.loc[tested, "p_value"].to_numpy()),
                               rtol=1e-12)
    assert table.loc[~tested, "p_value_holm"].isna().all()
    recommended = [(r.kind == "action") and (r.p_value_holm < 0.05) and (r.conf_high < 0) for r in table.itertuples()]
    assert table["recommended"].tolist() == recommended
    assert table["recommended"].dtype == bool
    assert any(recommended) and not all(recommended)
    assert not table.loc[table["kind"] == "engagement", "recommended"].any()
    assert (table.loc[table["kind"] == "engagement", "p_value_holm"] < 0.05).any()


def test_scenarios_alpha_and_holm_differ_from_bonferroni(frame, model):
    bounds = segments.lever_bounds(frame)
    groups = {"all": np.ones(len(frame), dtype=bool)}
    table = segments.scenarios(frame, model, groups, bounds)
    assert list(table["action"]) == [lever.name for lever in segments.ACTIONS]
    bonferroni = np.minimum(1, table["p_value"] * len(table))
    assert not np.allclose(table["p_value_holm"], bonferroni)
    strict = segments.scenarios(frame, model, groups, bounds, alpha=1e-300)
    assert not strict["recommended"].any() and table["recommended"].any()


def test_scenarios_without_any_room():
    frame = pd.DataFrame({c: [1.0, 1.0] for c in COLUMNS} | {"contact_allowed": [0, 0], "profit": [1.0, 2.0]})
    bounds = {c: (1.0, 1.0) for c in COLUMNS}
    table = segments.scenarios(frame, logit_link_model(_design, BETA, _cov()), {"g": np.array([True, True])}, bounds)
    assert table["n_with_room"].tolist() == [0, 0, 0, 0] and table["p_value_holm"].isna().all()
    assert not table["recommended"].any()


# --- recommendations ----------------------------------------------------------------------------------------

def test_recommendations_top_three_by_customers_kept():
    rows = []
    kept = {"g1": [5, 9, 1, 7, 3], "g0": [2, 8]}
    for group, values in kept.items():
        for i, k in enumerate(values):
            rows.append({"group": group, "action": f"a{i}", "recommended": i != 1 or group == "g0",
                         "n_customers": 10, "n_with_room": i + 1, "effect": -k / 10, "conf_low": -1.0,
                         "conf_high": -0.01, "customers_kept": float(k), "customers_kept_low": k - 1.0,
                         "customers_kept_high": k + 1.0, "profit_retained_upper": 2.0 * k, "p_value_holm": 0.01})
    rows.append(dict(rows[0], group="g2", recommended=False))
    recs = segments.recommendations(pd.DataFrame(rows))
    assert list(recs.columns) == ["group", "rank", "action", "effect", "conf_low", "conf_high", "customers_kept",
                                  "customers_kept_low", "customers_kept_high", "profit_retained_upper",
                                  "share_with_room", "p_value_holm"]
    # g0 before g1 (sorted), g1 without its unrecommended a1 (kept 9): a3 (7), a0 (5), a4 (3); a2 (1) is 4th
    assert list(zip(recs["group"], recs["rank"], recs["action"])) == [
        ("g0", 1, "a1"), ("g0", 2, "a0"), ("g1", 1, "a3"), ("g1", 2, "a0"), ("g1", 3, "a4")]
    assert recs["share_with_room"].tolist() == [0.2, 0.1, 0.4, 0.1, 0.5]
    assert recs["customers_kept"].tolist() == [8.0, 2.0, 7.0, 5.0, 3.0]
    assert len(segments.recommendations(pd.DataFrame(rows), top=1)) == 2
    assert recs.index.tolist() == list(range(5))


# --- offers -------------------------------------------------------------------------------------------------

def test_customer_offers_against_a_per_customer_oracle(frame, model):
    bounds = segments.lever_bounds(frame)
    p = _p(frame)
    t = segments.make_thresholds(frame["profit"].to_numpy(), risk=0.4)
    allowed = ["cart_reminder", "marketing_this_month", "more_marketing", "less_promotion"]
    offers = segments.customer_offers(frame, model.predict, p, t, allowed, bounds)
    assert list(offers.columns) == segments.OFFER_COLUMNS
    moved = {name: _moved(frame, segments.LEVER_BY_NAME[name], bounds) for name in allowed}
    for i in range(len(frame)):
        drops = {}
        for name in allowed:
            cf, room = moved[name]
            if room[i]:
                drops[name] = p[i] - _p(cf.iloc[[i]])[0]
        positive = {k: v for k, v in drops.items() if v > 0}
        row = offers.iloc[i]
        assert row["segment"] == _segment(p[i], frame["profit"].iloc[i], t)
        assert row["id"] == frame["id"].iloc[i] and row["p_decline"] == p[i]
        assert row["profit"] == frame["profit"].iloc[i]
        if p[i] < t.risk:
            assert (row["offer"], row["risk_drop"]) == ("none", 0.0)
        elif positive:
            best = max(positive, key=positive.get)
            assert row["offer"] == best and row["risk_drop"] == pytest.approx(positive[best], rel=1e-9)
            assert row["risk_drop"] > 0
        else:
            assert (row["offer"], row["risk_drop"]) == ("personal_contact", 0.0)
    assert "none" in set(offers["offer"]) and len(set(offers["offer"])) >= 3
    # marketing this month raises the risk in this model: never the offer
    assert "marketing_this_month" not in set(offers["offer"])


def test_customer_offers_measure_from_predict_and_label_with_p_decline(frame, model):
    bounds = segments.lever_bounds(frame)
    t = segments.Thresholds(risk=0.5, profit=4.0, promo=0.5, profit_quantile=0.5)
    label = np.full(len(frame), 0.7)  # every customer labelled high risk, whatever the model says
    offers = segments.customer_offers(frame, model.predict, label, t, ["cart_reminder"], bounds)
    cf, room = _moved(frame, segments.LEVER_BY_NAME["cart_reminder"], bounds)
    drop = np.where(room, _p(frame) - _p(cf), 0.0)
    np.testing.assert_allclose(offers["risk_drop"], np.where(drop > 0, drop, 0.0), rtol=1e-12)
    assert offers["offer"].tolist() == ["cart_reminder" if d > 0 else "personal_contact" for d in drop]
    assert set(offers["segment"]) <= {"high_risk_high_profit", "high_risk_low_profit"}


def test_customer_offers_ties_keep_the_first_allowed_lever(frame):
    bounds = segments.lever_bounds(frame)
    t = segments.Thresholds(risk=0.5, profit=4.0, promo=0.5, profit_quantile=0.5)
    # a prediction that only counts how many lever columns moved: every lever drops the risk by the same 0.1
    reference = frame[COLUMNS].to_numpy(dtype=float)

    def predict(f):
        return 0.9 - 0.1 * (f[COLUMNS].to_numpy(dtype=float) != reference).sum(axis=1)

    offers = segments.customer_offers(frame, predict, np.full(len(frame), 0.9), t,
                                      ["less_promotion", "cart_reminder"], bounds)
    promo_room = _moved(frame, segments.LEVER_BY_NAME["less_promotion"], bounds)[1]
    cart_room = _moved(frame, segments.LEVER_BY_NAME["cart_reminder"], bounds)[1]
    expected = np.where(promo_room, "less_promotion", np.where(cart_room, "cart_reminder", "personal_contact"))
    assert offers["offer"].tolist() == expected.tolist()
    assert {"less_promotion", "cart_reminder"} <= set(expected)
    np.testing.assert_allclose(offers["risk_drop"], np.where(promo_room | cart_room, 0.1, 0.0), atol=1e-12)
    # a high-risk customer with no room for any allowed action is offered a personal contact
    stuck = frame.iloc[[0, 1]].copy()
    stuck["promo_share_10pp"] = bounds["promo_share_10pp"][0]
    stuck["unpaid_items"] = 0
    def rising(f):  # every allowed action would lower this risk where it has room
        return 0.5 + 0.01 * f["promo_share_10pp"].to_numpy() + 0.01 * f["unpaid_items"].to_numpy()

    offers = segments.customer_offers(stuck, rising, np.array([0.9, 0.2]), t, ["less_promotion", "cart_reminder"],
                                      bounds)
    assert offers["offer"].tolist() == ["personal_contact", "none"] and offers["risk_drop"].tolist() == [0.0, 0.0]


def test_customer_offers_refuse_an_engagement_outcome(frame, model):
    t = segments.make_thresholds(frame["profit"].to_numpy())
    with pytest.raises(ValueError) as info:
        segments.customer_offers(frame, model.predict, _p(frame), t, ["cart_reminder", "more_pages"],
                                 segments.lever_bounds(frame))
    assert str(info.value) == "'more_pages' is an engagement outcome, not an action the store controls"


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
        holm = dict(zip(per_variable.index, _holm(per_variable.to_numpy())))
        np.testing.assert_allclose(part.loc[~is_described, "p_adjusted"],
                                   part.loc[~is_described, "variable"].map(holm), rtol=1e-12)
        bonferroni = np.minimum(1, per_variable.to_numpy() * len(per_variable))
        assert not np.allclose(list(holm.values()), bonferroni)
    assert segments.segment_profiles(frame, {"nobody": np.zeros(len(frame), bool)}).empty


def test_segment_analysis_tables_by_hand(frame, model):
    p = _p(frame)
    p[:3] = 0.5  # exactly at the risk threshold: high risk
    y = frame["activity_decline"].to_numpy()
    result = segments.segment_analysis(frame, model, p, y, model.predict)
    profit = frame["profit"].to_numpy()
    t = result.thresholds
    assert (t.risk, t.profit, t.promo, t.profit_quantile) == (0.5, float(np.median(profit)), 0.5, 0.5)
    assert result.bounds == segments.lever_bounds(frame) and result.bounds["unpaid_items"] == (
        float(frame["unpaid_items"].min()), float(frame["unpaid_items"].max()))
    assert set(result.tables) == {"segments", "segment_profiles", "scenarios", "action_effects",
                                  "engagement_associations", "recommendations", "offers", "segment_sensitivity",
                                  "segment_thresholds", "allowed_levers", "customer_groups"}
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
    sizes = tables["scenarios"].groupby("group", sort=False)["n_customers"].first()
    assert sizes.to_dict() == {"high_risk_high_profit": (seg == "high_risk_high_profit").sum(),
                               "high_risk_low_profit": (seg == "high_risk_low_profit").sum(),
                               "high_risk_promo": promo.sum(), "high_risk_all": high.sum()}
    assert set(tables["scenarios"]["action"]) == {lever.name for lever in segments.ACTIONS}
    engagement = tables["engagement_associations"]
    assert list(engagement.columns) == ["group", "outcome", "n_with_room", "decline_rate_baseline",
                                        "decline_rate_scenario", "effect", "conf_low", "conf_high", "p_value"]
    assert engagement["outcome"].tolist() == ["more_categories", "more_pages"]
    assert set(engagement["group"]) == {"high_risk_all"}
    recs = tables["recommendations"]
    assert result.allowed_levers == sorted(set(recs["action"])) and len(result.allowed_levers) >= 2
    assert tables["allowed_levers"]["action"].tolist() == result.allowed_levers
    offered = set(tables["offers"]["offer"])
    assert offered <= set(result.allowed_levers) | {"none", "personal_contact"}
    assert tables["offers"]["segment"].tolist() == seg.tolist()
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
    other = segments.segment_analysis(frame, model, p, y, model.predict, thresholds=fixed)
    assert other.thresholds is fixed
    assert other.tables["offers"]["segment"].tolist() == [_segment(a, b, fixed) for a, b in zip(p, profit)]
    assert other.tables["segment_thresholds"]["rule"].iloc[1] == "profit ≥ value: the 25% quantile of profit"


# --- second round: the survivors of the first mutmut run ------------------------------------------------------

def test_thresholds_are_inclusive_for_focus_groups_and_offers(frame, model):
    t = segments.Thresholds(risk=0.5, profit=4.0, promo=0.5, profit_quantile=0.5)
    p = _p(frame)
    p[:4] = 0.5
    edited = frame.copy()
    edited.loc[edited.index[:2], "promo_share"] = 0.5  # at the promotion threshold
    masks = segments.focus_masks(edited, p, t)
    assert masks["high_risk_promo"][:2].tolist() == [True, True]
    category = edited["popular_category"].iloc[0]
    assert masks[f"high_risk_{category}"][0]
    offers = segments.customer_offers(edited, model.predict, p, t, ["cart_reminder"], segments.lever_bounds(frame))
    assert (offers["offer"].iloc[:4] != "none").all()  # p = threshold is high risk: an action or a contact


def test_segment_table_of_an_empty_segment_gives_no_warning():
    import warnings

    t = segments.Thresholds(risk=0.5, profit=3.0, promo=0.5, profit_quantile=0.5)
    p, profit = np.array([0.9, 0.8]), np.array([5.0, 6.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mean of empty slice" for the three empty segments
        table = segments.segment_table(segments.assign_segments(p, profit, t), {}, p, profit, np.array([1, 0]))
    assert table["n_customers"].tolist() == [2, 0, 0, 0]


def test_recommended_needs_holm_below_alpha_and_a_whole_interval_below_zero(frame, monkeypatch):
    """Scenario rows with chosen numbers (prediction_difference replaced): the rule, at its boundaries."""
    chosen = {  # lever column -> (difference, conf_high, p_value)
        "marketing_6m": (-0.1, 0.0, 0.001),  # interval touching 0: not recommended
        "marketing_current": (0.2, 0.5, 0.001),  # more declines: not recommended
        "promo_share_10pp": (-0.1, -0.02, 0.05),  # Holm p = 0.05 exactly (the largest p): not below alpha
        "unpaid_items": (-0.1, -0.01, 0.001),  # recommended
    }

    def fake(model, b, c, weights=None, normalize=True, conf_level=0.95):
        column = next(col for col in chosen if not np.array_equal(b[col].to_numpy(), c[col].to_numpy()))
        diff, high, p = chosen[column]
        return pd.DataFrame({"estimate_baseline": [0.5], "estimate_counterfactual": [0.5 + diff],
                             "difference": [diff], "std_error": [0.01], "statistic": [diff / 0.01],
                             "p_value": [p], "conf_low": [diff - 0.02], "conf_high": [high]})

    monkeypatch.setattr(segments, "prediction_difference", fake)
    table = segments.scenarios(frame, None, {"all": np.ones(len(frame), dtype=bool)}, segments.lever_bounds(frame))
    table = table.set_index("action")
    assert table.loc["less_promotion", "p_value_holm"] == 0.05
    assert table["recommended"].to_dict() == {"more_marketing": False, "marketing_this_month": False,
                                              "less_promotion": False, "cart_reminder": True}


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
    holm = dict(zip(per_variable.index, _holm(per_variable.to_numpy())))
    np.testing.assert_allclose(tested["p_adjusted"], tested["variable"].map(holm), rtol=1e-12)
    assert table.loc[table["variable"] == "contact_allowed", "p_adjusted"].isna().all()
