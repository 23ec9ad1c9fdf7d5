"""analysis.decisions.decide (and the pieces of analysis.modeling it rests on) against independent computations: the customer
bootstrap of the whole procedure, the effects under every candidate, the action value and the offer plan, the tie
rule and the per-customer SE of a label-consistent risk drop.

Two small fitted pairs on 300 synthetic customers serve most tests: the all-linear logit (no recalibration) and the
GAM recalibrated by the floor-and-ceiling map (the shape of the real business model).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.model_selection import StratifiedKFold

from analysis.decisions import actions
from analysis.decisions import decide as decisions
from analysis.modeling.benchmark import candidate_models
from analysis.data.dictionary import TARGET
from analysis.modeling.features import PREDICTORS, linear_formula, model_frame
from analysis.modeling.effects import change_std_error
from analysis.modeling.pair import model_pair
from analysis.data.synthetic import customer_table
from stats.bootstrap import replicate_rng
from stats.link_margins import average_marginal_effects, logit_link_model
from tests.oracles import central_jacobian

LEVERS = actions.STORE_ACTIONS + actions.ASSUMED_ACTIONS
COLUMNS = list(dict.fromkeys(lever.column for lever in LEVERS))


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return model_frame(customer_table(300, 23))


def _oof(code: str, frame: pd.DataFrame) -> np.ndarray:
    """Out-of-fold probabilities of a candidate (3 folds): what the recalibration map is fitted on."""
    from sklearn.base import clone

    X, y = frame[list(PREDICTORS)], frame[TARGET].to_numpy()
    oof = np.empty(len(frame))
    for train, test in StratifiedKFold(3, shuffle=True, random_state=0).split(X, y):
        model = clone(candidate_models()[code][0]).fit(X.iloc[train], y[train])
        oof[test] = model.predict_proba(X.iloc[test])[:, 1]
    return oof


@pytest.fixture(scope="module")
def pairs(frame):
    """name -> (pair, p_label): the business model's out-of-fold risk stands in for the labels."""
    linear = model_pair("logit_linear", "logit_linear", frame, linear_formula(), None)
    oof_gam = _oof("gam_engagement", frame)
    gam = model_pair("gam_engagement", "gam_engagement_recalibrated", frame, linear_formula(), oof_gam)
    assert gam.score_map is not None and linear.score_map is None
    return {"linear": (linear, _oof("logit_linear", frame)),
            "gam_recalibrated": (gam, gam.score_map.transform(oof_gam))}


def _groups(frame, p_label) -> dict[str, np.ndarray]:
    return {"high_risk_all": p_label >= 0.5, "odd": (frame["id"].to_numpy() % 2) == 1}


def _task(pair, frame, p_label, reference):
    frames = decisions.evaluation_frames(frame, reference, LEVERS)
    plan = decisions.StatisticPlan(
        keys=frames.keys, groups=_groups(frame, p_label), room=frames.room, steps=frames.steps,
        profit=frame["profit"].to_numpy(float),
        scenario_levers=[lever.name for lever in LEVERS], ame_columns=COLUMNS,
        drop_levers=[lever.name for lever in actions.STORE_ACTIONS])
    return frames, plan, decisions.bootstrap_task(pair, frames, plan, frame[TARGET].to_numpy())


# ---------------------------------------------------------------------------------------------------------
# The statistics of a replicate at the full-data fit equal the package's delta-method estimates
# ---------------------------------------------------------------------------------------------------------
def test_evaluation_frames_by_hand(frame):
    reference = actions.support_reference(frame)
    frames = decisions.evaluation_frames(frame, reference, LEVERS)
    assert frames.keys == (["base"] + [f"cf:{lv.name}" for lv in LEVERS]
                           + [f"{d}:{c}" for c in COLUMNS for d in ("up", "down")])
    assert frames.frames["base"] is frame
    for lever in LEVERS:
        cf, room, _ = actions.apply_action(frame, lever, reference)
        pd.testing.assert_frame_equal(frames.frames[f"cf:{lever.name}"], cf)
        np.testing.assert_array_equal(frames.room[lever.name], room)
    for column in COLUMNS:
        h = decisions.AME_STEP * np.std(frame[column].to_numpy(float))
        assert frames.steps[column] == pytest.approx(h, rel=1e-15)
        np.testing.assert_allclose(frames.frames[f"up:{column}"][column] - frame[column], h, rtol=1e-6)
        np.testing.assert_allclose(frame[column] - frames.frames[f"down:{column}"][column], h, rtol=1e-6)


@pytest.mark.parametrize("name", ["linear", "gam_recalibrated"])
def test_statistics_at_the_full_data_fit_equal_scenarios_ames_and_drops(frame, pairs, name):
    pair, p_label = pairs[name]
    reference = actions.support_reference(frame)
    frames, plan, task = _task(pair, frame, p_label, reference)
    boot = decisions.bootstrap_procedure(task, pair, seed=1, n_boot=0)
    estimates = boot.estimates
    groups = _groups(frame, p_label)
    # changes are the inference model's (decisions.EFFECT_SCALE), for a recalibrated business model too
    table = actions.scenarios(frame, pair.inference, groups, reference, levers=LEVERS)
    n_rows = 0
    for row in table.itertuples():
        key = f"{row.group}:{row.action}"
        if row.n_with_room == 0:
            assert f"effect:{key}" not in estimates.index
            continue
        n_rows += 1
        assert estimates[f"effect:{key}"] == pytest.approx(row.effect, abs=1e-10)
        assert estimates[f"kept:{key}"] == pytest.approx(row.customers_kept, abs=1e-10)
        assert estimates[f"profit:{key}"] == pytest.approx(row.profit_retained_upper, abs=1e-10)
    assert n_rows >= 6
    ames = average_marginal_effects(pair.inference, frame, numeric=COLUMNS).set_index("variable")
    for column in COLUMNS:
        assert estimates[f"ame:{column}"] == pytest.approx(ames.loc[column, "estimate"], abs=1e-10)
    # each customer's drop: the inference model's change, where the action has room (the same changes as the
    # scenarios, so a group's drops add up to its scenario's customers kept)
    assert set(boot.drops_estimate) == {"more_marketing", "marketing_this_month"}
    base = pair.inference.predict(frame)
    for lever in actions.STORE_ACTIONS:
        expected = np.where(frames.room[lever.name],
                            base - pair.inference.predict(frames.frames[f"cf:{lever.name}"]), 0.0)
        np.testing.assert_allclose(boot.drops_estimate[lever.name], expected, atol=1e-10)
        high = groups[decisions.HEADLINE_GROUP]
        if f"kept:{decisions.HEADLINE_GROUP}:{lever.name}" in estimates.index:
            assert boot.drops_estimate[lever.name][high].sum() == pytest.approx(
                estimates[f"kept:{decisions.HEADLINE_GROUP}:{lever.name}"], rel=1e-10)


# ---------------------------------------------------------------------------------------------------------
# The bootstrap: a replicate recomputed by hand; seeds; workers; resamples missing a level
# ---------------------------------------------------------------------------------------------------------
def test_a_replicate_of_the_linear_logit_recomputed_with_statsmodels(frame, pairs):
    """Replicate b: the customers drawn by SeedSequence([seed, b]), the logit refitted on them (statsmodels), every
    statistic evaluated on the ORIGINAL customers."""
    import statsmodels.api as sm

    pair, p_label = pairs["linear"]
    reference = actions.support_reference(frame)
    frames, plan, task = _task(pair, frame, p_label, reference)
    boot = decisions.bootstrap_procedure(task, pair, seed=5, n_boot=2, n_jobs=1)
    assert list(boot.replicates.columns) == list(boot.estimates.index)
    assert boot.info["converged"].all() and boot.info["alpha"].isna().all() and boot.info["floor"].isna().all()
    X = np.asarray(pair.inference.design(frame), dtype=float)
    y = frame[TARGET].to_numpy()
    for b in range(2):
        rng = replicate_rng(5, b)
        idx = rng.integers(0, len(y), size=len(y))
        assert np.all(np.abs(X[idx]).max(axis=0) > 0)  # every level drawn: the first draw is the replicate
        beta = sm.Logit(y[idx], X[idx]).fit(disp=0, tol=1e-12).params
        p_base = expit(X @ beta)
        row = boot.replicates.iloc[b]
        for lever in LEVERS:
            cf = np.asarray(pair.inference.design(frames.frames[f"cf:{lever.name}"]), dtype=float)
            diff = expit(cf @ beta) - p_base
            for group, mask in plan.groups.items():
                m = mask & frames.room[lever.name]
                if m.any():
                    assert row[f"effect:{group}:{lever.name}"] == pytest.approx(diff[m].mean(), abs=1e-8)
                    assert row[f"profit:{group}:{lever.name}"] == pytest.approx(
                        -(frame["profit"].to_numpy()[m] * diff[m]).sum(), abs=1e-7)
        for lever in actions.STORE_ACTIONS:
            cf = np.asarray(pair.inference.design(frames.frames[f"cf:{lever.name}"]), dtype=float)
            drop = p_base - expit(cf @ beta)
            np.testing.assert_allclose(boot.drops[lever.name][b], np.where(frames.room[lever.name], drop, 0.0),
                                       atol=1e-8)
        # not the full-data fit: the replicate moved
        assert row["ame:marketing_6m"] != pytest.approx(boot.estimates["ame:marketing_6m"], rel=1e-6)


def test_a_replicate_of_the_recalibrated_gam_follows_the_stated_procedure(frame, pairs):
    """The GAM's weight by AIC on the resample, the refitted GAM evaluated on the original customers: recomputed with
    cold starts (the optima do not depend on the warm starts). The changes are the inference model's, so no map is
    refitted in a replicate (its columns are empty)."""
    from stats.gam import choose_weight

    pair, p_label = pairs["gam_recalibrated"]
    reference = actions.support_reference(frame)
    frames, plan, task = _task(pair, frame, p_label, reference)
    assert not hasattr(task, "recalibrate")  # a replicate has no map to refit
    boot = decisions.bootstrap_procedure(task, pair, seed=2, n_boot=1, n_jobs=1)
    est = pair.estimator
    X, S, y = est.design_matrix_, est.penalty_, frame[TARGET].to_numpy(float)
    rng = replicate_rng(2, 0)
    idx = rng.integers(0, len(y), size=len(y))
    assert np.all(np.abs(X[idx]).max(axis=0) > 0)
    alpha, fit = choose_weight(X[idx], y[idx], S, est.alphas)
    info = boot.info.iloc[0]
    assert info["alpha"] == alpha
    assert np.isnan([info["floor"], info["ceiling"], info["slope"], info["shift"]]).all()
    inference = lambda key: expit(est.design(frames.frames[key]) @ fit["params"])  # noqa: E731
    for lever in LEVERS:
        diff = inference(f"cf:{lever.name}") - inference("base")
        m = plan.groups["high_risk_all"] & frames.room[lever.name]
        assert boot.replicates.iloc[0][f"effect:high_risk_all:{lever.name}"] == pytest.approx(diff[m].mean(),
                                                                                               abs=1e-6)
    for column in COLUMNS:
        ame = np.mean(inference(f"up:{column}") - inference(f"down:{column}")) / (2 * frames.steps[column])
        assert boot.replicates.iloc[0][f"ame:{column}"] == pytest.approx(ame, abs=1e-5)


def test_the_same_seed_gives_the_same_replicates_whatever_the_workers(frame, pairs):
    pair, p_label = pairs["gam_recalibrated"]
    reference = actions.support_reference(frame)
    _, _, task = _task(pair, frame, p_label, reference)
    one = decisions.bootstrap_procedure(task, pair, seed=11, n_boot=3, n_jobs=1)
    two = decisions.bootstrap_procedure(task, pair, seed=11, n_boot=3, n_jobs=2)
    pd.testing.assert_frame_equal(one.replicates, two.replicates, check_exact=True)
    pd.testing.assert_frame_equal(one.info, two.info, check_exact=True)
    for name in one.drops:
        np.testing.assert_array_equal(one.drops[name], two.drops[name])
        assert one.drops[name].shape == (3, len(frame))
    # replicate b depends on (seed, b) only: fewer replicates are the first rows; another seed differs
    fewer = decisions.bootstrap_procedure(task, pair, seed=11, n_boot=2, n_jobs=1)
    pd.testing.assert_frame_equal(fewer.replicates, one.replicates.iloc[:2], check_exact=True)
    other = decisions.bootstrap_procedure(task, pair, seed=12, n_boot=1, n_jobs=1)
    assert not np.allclose(other.replicates.iloc[0].to_numpy(), one.replicates.iloc[0].to_numpy())
    summary = one.summary()
    assert (summary["n_replicates"] == 3).all() and (summary["std_error"] > 0).all()


def test_generic_bootstrap_path_equals_the_fast_path_on_the_same_resamples(frame, pairs):
    """The generic path (the candidate estimator refitted from scratch through statsmodels, as for the selected and
    the floor logit) and the fast path (Newton on resampled rows of one design) refit the same all-linear logit on
    the same resamples: every replicate's statistics agree."""
    pair, p_label = pairs["linear"]
    reference = actions.support_reference(frame)
    frames, plan, fast = _task(pair, frame, p_label, reference)
    generic = decisions.bootstrap_task(pair, frames, plan, frame[TARGET].to_numpy(), generic=True)
    assert generic.estimator is not None and fast.estimator is None
    a = decisions.bootstrap_procedure(fast, pair, seed=5, n_boot=4)
    b = decisions.bootstrap_procedure(generic, pair, seed=5, n_boot=4)
    pd.testing.assert_series_equal(a.estimates, b.estimates, rtol=1e-9)
    pd.testing.assert_frame_equal(a.replicates, b.replicates, rtol=1e-6, atol=1e-9)
    for name in a.drops:
        np.testing.assert_allclose(a.drops[name], b.drops[name], rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------------------------------------------------
# Tables from the bootstrap, by hand from a small BootstrapResult
# ---------------------------------------------------------------------------------------------------------
def _small_boot() -> decisions.BootstrapResult:
    """Five replicates, 50 % intervals: each percentile is the 2nd or 4th sorted value (exact)."""
    key_m, key_t = "high_risk_all:more_marketing", "high_risk_all:marketing_this_month"
    estimates = pd.Series({f"effect:{key_m}": -0.1, f"kept:{key_m}": 4.0, f"profit:{key_m}": 12.0,
                           f"effect:{key_t}": -0.02, f"kept:{key_t}": 0.5, f"profit:{key_t}": 1.5,
                           "ame:marketing_6m": -0.05, "ame:marketing_current": 0.01})
    replicates = pd.DataFrame({
        f"effect:{key_m}": [-0.12, -0.08, -0.1, -0.05, -0.14], f"kept:{key_m}": [5.0, 3.0, 4.0, 2.0, 6.0],
        f"profit:{key_m}": [15.0, 9.0, 12.0, 6.0, 18.0],
        f"effect:{key_t}": [-0.03, 0.01, -0.02, np.nan, -0.01], f"kept:{key_t}": [0.7, -0.1, 0.5, np.nan, 0.2],
        f"profit:{key_t}": [2.0, -0.5, 1.5, np.nan, 0.4],
        "ame:marketing_6m": [-0.06, -0.04, -0.05, -0.03, -0.07], "ame:marketing_current": [0.0, 0.02, 0.01, 0.03, -0.01]})
    drops = {"more_marketing": np.array([[0.1, 0.0, 0.2, 0.0], [0.05, 0.0, 0.1, 0.0], [0.2, 0.0, 0.3, 0.0],
                                         [0.0, 0.0, 0.1, 0.0], [0.15, 0.0, 0.25, 0.0]]),
             "marketing_this_month": np.array([[0.0, 0.01, 0.0, 0.0], [0.0, 0.03, 0.0, 0.0], [0.0, 0.02, 0.0, 0.0],
                                               [0.0, -0.01, 0.0, 0.0], [0.0, 0.04, 0.0, 0.0]])}
    return decisions.BootstrapResult(estimates, replicates, drops, {k: v[0] for k, v in drops.items()},
                                     conf_level=0.5, method="percentile")


def _quartiles(values) -> tuple[float, float]:
    v = sorted(x for x in values if np.isfinite(x))
    if len(v) == 5:
        return v[1], v[3]
    return tuple(np.percentile(v, [25, 75]))


def test_action_value_by_hand():
    boot = _small_boot()
    scenario = pd.DataFrame({"group": ["high_risk_all", "high_risk_all", "other"],
                             "action": ["more_marketing", "marketing_this_month", "more_marketing"],
                             "n_with_room": [40, 10, 99]})
    value = decisions.action_value(scenario, boot, recommended=["more_marketing"],
                                   offered=["more_marketing", "marketing_this_month"]).set_index("action")
    assert list(value.columns) == decisions.VALUE_COLUMNS[1:]
    m = value.loc["more_marketing"]
    assert (m["n_treated"], m["contacts_per_customer"], m["horizon_months"]) == (40, 6.0, 3)
    assert (m["offered"], m["recommended"]) == (True, True)
    assert (m["effect"], m["customers_kept"], m["profit_retained_month"]) == (-0.1, 4.0, 12.0)
    assert (m["effect_conf_low"], m["effect_conf_high"]) == pytest.approx((-0.12, -0.08))
    assert (m["customers_kept_low"], m["customers_kept_high"]) == pytest.approx((3.0, 5.0))
    assert (m["profit_retained_month_low"], m["profit_retained_month_high"]) == pytest.approx((9.0, 15.0))
    # break-even per treated customer: 12 per month over 40 customers × 3 months; per contact ÷ 6
    assert m["break_even_per_customer"] == pytest.approx(3 * 12.0 / 40)
    assert (m["break_even_per_customer_low"], m["break_even_per_customer_high"]) == pytest.approx(
        (3 * 9.0 / 40, 3 * 15.0 / 40))
    assert m["break_even_per_contact"] == pytest.approx(3 * 12.0 / 40 / 6)
    assert (m["break_even_per_contact_low"], m["break_even_per_contact_high"]) == pytest.approx(
        (3 * 9.0 / 40 / 6, 3 * 15.0 / 40 / 6))
    t = value.loc["marketing_this_month"]
    assert (t["offered"], t["recommended"], t["contacts_per_customer"]) == (True, False, 1.0)
    # a replicate without the statistic is left out of the interval (four values: numpy's quartiles)
    assert (t["profit_retained_month_low"], t["profit_retained_month_high"]) == pytest.approx(
        _quartiles([2.0, -0.5, 1.5, 0.4]))
    assert t["break_even_per_contact"] == pytest.approx(3 * 1.5 / 10)
    assert (t["break_even_per_customer_low"], t["break_even_per_customer_high"]) == pytest.approx(
        tuple(3 * v / 10 for v in _quartiles([2.0, -0.5, 1.5, 0.4])))
    # an action without room has a row without numbers
    empty = decisions.action_value(scenario.assign(n_with_room=[40, 0, 99]), boot, [], [])
    assert empty.set_index("action").loc["marketing_this_month", ["effect", "break_even_per_customer"]].isna().all()


def test_offer_plan_by_hand():
    boot = _small_boot()
    offers = pd.DataFrame({"id": [1, 2, 3, 4, 5], "p_decline": [0.8, 0.6, 0.9, 0.7, 0.2],
                           "profit": [2.0, 3.0, 4.0, 5.0, 6.0],
                           "offer": ["more_marketing", "marketing_this_month", "more_marketing", "personal_contact",
                                     "none"], "risk_drop": [0.1, 0.01, 0.2, 0.0, 0.0]})
    # customer 5 is low risk; the drops of the bootstrap are for customers 1–4 (a fifth column of zeros)
    boot.drops = {k: np.column_stack([v, np.zeros(5)]) for k, v in boot.drops.items()}
    plan = decisions.offer_plan(offers, boot, risk_threshold=0.5).set_index("offer")
    assert list(plan.index) == ["marketing_this_month", "more_marketing", "personal_contact", "total"]
    assert list(plan.columns) == decisions.PLAN_COLUMNS[1:]
    m = plan.loc["more_marketing"]
    assert (m["n_customers"], m["expected_declines"]) == (2, pytest.approx(1.7))
    assert m["profit_at_risk_upper"] == pytest.approx(0.8 * 2 + 0.9 * 4)
    assert m["customers_kept"] == pytest.approx(0.3) and m["profit_retained_upper"] == pytest.approx(0.1 * 2 + 0.2 * 4)
    kept = [0.1 + 0.2, 0.05 + 0.1, 0.2 + 0.3, 0.0 + 0.1, 0.15 + 0.25]
    money = [0.1 * 2 + 0.2 * 4, 0.05 * 2 + 0.1 * 4, 0.2 * 2 + 0.3 * 4, 0.1 * 4, 0.15 * 2 + 0.25 * 4]
    assert (m["customers_kept_low"], m["customers_kept_high"]) == pytest.approx(_quartiles(kept))
    assert (m["profit_retained_upper_low"], m["profit_retained_upper_high"]) == pytest.approx(_quartiles(money))
    assert m["share_of_declines_avoided"] == pytest.approx(0.3 / 1.7)
    assert m["share_of_profit_at_risk_retained"] == pytest.approx(1.0 / 5.2)
    t = plan.loc["marketing_this_month"]
    assert (t["n_customers"], t["customers_kept"]) == (1, pytest.approx(0.01))
    assert (t["customers_kept_low"], t["customers_kept_high"]) == pytest.approx(_quartiles([0.01, 0.03, 0.02, -0.01, 0.04]))
    contact = plan.loc["personal_contact"]
    assert (contact["n_customers"], contact["customers_kept"], contact["customers_kept_high"]) == (1, 0.0, 0.0)
    assert contact["expected_declines"] == pytest.approx(0.7)
    total = plan.loc["total"]
    assert total["n_customers"] == 4 and total["expected_declines"] == pytest.approx(3.0)
    assert total["customers_kept"] == pytest.approx(0.31)
    both = [k + d for k, d in zip(kept, [0.01, 0.03, 0.02, -0.01, 0.04])]
    assert (total["customers_kept_low"], total["customers_kept_high"]) == pytest.approx(_quartiles(both))
    assert total["profit_at_risk_upper"] == pytest.approx(0.8 * 2 + 0.6 * 3 + 0.9 * 4 + 0.7 * 5)


def test_bootstrap_columns_and_ames_by_hand():
    boot = _small_boot()
    scenario = pd.DataFrame({"group": ["high_risk_all", "other"], "action": ["more_marketing", "more_marketing"],
                             "std_error": [0.01, 0.02], "conf_low": [-0.2, -0.3], "conf_high": [0.0, 0.1],
                             "std_error_delta": [0.01, 0.02], "customers_kept_low": [1.0, 1.0],
                             "customers_kept_high": [2.0, 2.0], "profit_retained_upper_low": [1.0, 1.0],
                             "profit_retained_upper_high": [2.0, 2.0], "interval": ["delta", "delta"]})
    out = decisions.bootstrap_columns(scenario, boot)
    first = out.iloc[0]
    assert first["interval"] == "bootstrap" and first["std_error_delta"] == 0.01
    assert first["std_error"] == pytest.approx(np.std([-0.12, -0.08, -0.1, -0.05, -0.14], ddof=1))
    assert (first["conf_low"], first["conf_high"]) == pytest.approx((-0.12, -0.08))
    assert (first["customers_kept_low"], first["customers_kept_high"]) == pytest.approx((3.0, 5.0))
    assert (first["profit_retained_upper_low"], first["profit_retained_upper_high"]) == pytest.approx((9.0, 15.0))
    pd.testing.assert_series_equal(out.iloc[1], scenario.iloc[1])  # not bootstrapped: the delta row as it was
    delta = pd.DataFrame({"variable": ["marketing_current", "marketing_6m"], "std_error": [0.3, 0.2]})
    ames = decisions.bootstrap_ames(boot, delta, ["marketing_6m", "marketing_current"])
    assert ames["variable"].tolist() == ["marketing_6m", "marketing_current"]
    assert ames["std_error_delta"].tolist() == [0.2, 0.3] and ames["estimate"].tolist() == [-0.05, 0.01]
    assert (ames.loc[0, "conf_low"], ames.loc[0, "conf_high"]) == pytest.approx((-0.06, -0.04))
    assert ames.loc[1, "std_error"] == pytest.approx(np.std([0.0, 0.02, 0.01, 0.03, -0.01], ddof=1))


# ---------------------------------------------------------------------------------------------------------
# Effects under every model
# ---------------------------------------------------------------------------------------------------------
def test_effects_by_model_against_each_models_own_ames_and_scenarios(frame):
    def design(f):
        return np.column_stack([np.ones(len(f))] + [f[c].to_numpy(float) for c in COLUMNS])

    cov = 1e-3 * np.eye(len(COLUMNS) + 1)
    links = {"a": (logit_link_model(design, np.array([0.5, -0.4, 0.1, 0.05, 0.3]), cov), "inference", True),
             "b": (logit_link_model(design, np.array([0.2, -0.6, -0.1, 0.02, 0.2]), cov), "candidate", False)}
    reference = actions.support_reference(frame)
    group = (frame["id"].to_numpy() % 3) == 0
    extra = pd.DataFrame([{"model": "a", "role": "inference", "tied": True, "action": "more_marketing",
                           "kind": "action", "quantity": "ame", "group": "all", "n_customers": 300, "estimate": -1.0,
                           "std_error": 0.1, "conf_low": -1.2, "conf_high": -0.8, "interval": "bootstrap"}])
    table = decisions.effects_by_model(links, frame, group, reference, bootstrap_rows=extra)
    assert list(table.columns) == decisions.EFFECT_COLUMNS
    assert len(table) == 2 * len(LEVERS) * 2 + 1 and table.iloc[-1]["interval"] == "bootstrap"
    for name, (link, role, tied) in links.items():
        ames = average_marginal_effects(link, frame, numeric=COLUMNS).set_index("variable")
        scen = actions.scenarios(frame, link, {"high_risk_all": group}, reference, levers=LEVERS).set_index("action")
        rows = table[(table["model"] == name) & (table["interval"] == "delta")]
        assert set(rows["role"]) == {role} and set(rows["tied"]) == {tied}
        for lever in LEVERS:
            a = rows[(rows["action"] == lever.name) & (rows["quantity"] == "ame")].iloc[0]
            assert (a["group"], a["n_customers"], a["kind"]) == ("all", len(frame), lever.kind)
            assert (a["estimate"], a["std_error"], a["conf_low"]) == pytest.approx(
                (ames.loc[lever.column, "estimate"], ames.loc[lever.column, "std_error"],
                 ames.loc[lever.column, "conf_low"]), rel=1e-12)
            s = rows[(rows["action"] == lever.name) & (rows["quantity"] == "scenario")].iloc[0]
            assert (s["group"], s["n_customers"]) == ("high_risk_all", scen.loc[lever.name, "n_with_room"])
            assert s["estimate"] == pytest.approx(scen.loc[lever.name, "effect"], rel=1e-12)
            assert s["conf_high"] == pytest.approx(scen.loc[lever.name, "conf_high"], rel=1e-12)


# ---------------------------------------------------------------------------------------------------------
# The per-customer SE of a risk drop (the inference model's change)
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["linear", "gam_recalibrated"])
def test_change_std_error_against_a_finite_difference_jacobian(frame, pairs, name):
    """drop_i(θ) = q_θ(f_i) − q_θ(cf_i), q_θ the inference model's probability; J by central differences in θ,
    se_i = sqrt(J_i V J_i')."""
    pair, _ = pairs[name]
    link = pair.inference
    reference = actions.support_reference(frame)
    cf, room, _ = actions.apply_action(frame, actions.LEVER_BY_NAME["more_marketing"], reference)
    X0, X1 = link.design(frame), link.design(cf)
    theta = np.asarray(link.params, dtype=float)

    def drop(t):
        return link.prob(t, X0) - link.prob(t, X1)

    J = central_jacobian(drop, theta)
    expected = np.sqrt(np.einsum("ij,jk,ik->i", J, np.asarray(link.cov, dtype=float), J))
    se = change_std_error(link)(frame, cf)
    np.testing.assert_allclose(se[room], expected[room], rtol=1e-5)
    np.testing.assert_allclose(se[~room], 0.0, atol=1e-15)
    assert room.any() and (~room).any() and np.all(se[room] > 0)


def test_default_interval_is_normal_estimate_pm_z_sd():
    """The run's intervals (decisions.BOOTSTRAP_INTERVAL): estimate ± z·SD of the replicates (NaN left out)."""
    from scipy.stats import norm

    small = _small_boot()
    boot = decisions.BootstrapResult(small.estimates, small.replicates, small.drops, small.drops_estimate,
                                     conf_level=0.9)
    assert decisions.BOOTSTRAP_INTERVAL == "normal" and boot.method == "normal"
    summary = boot.summary()
    z = norm.ppf(0.95)
    for name, est in small.estimates.items():
        sd = float(small.replicates[name].dropna().std(ddof=1))
        assert summary.loc[name, "conf_low"] == pytest.approx(est - z * sd, rel=1e-12)
        assert summary.loc[name, "conf_high"] == pytest.approx(est + z * sd, rel=1e-12)
