"""stats.experiments: sample sizes, assignment, balance and effect estimates against independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as sps
from scipy.special import expit
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize

from stats.experiments import (
    difference_in_proportions,
    logit_treatment_effect,
    minimum_detectable_effect,
    quantile_bins,
    sample_size_two_proportions,
    standardized_mean_differences,
    stratified_assignment,
)

GRID = [(0.6, 0.5), (0.78, 0.70), (0.78, 0.75), (0.88, 0.80), (0.5, 0.45), (0.3, 0.2), (0.1, 0.05),
        (0.95, 0.9), (0.2, 0.3)]


def hand_sample_size(p1, p2, alpha=0.05, power=0.8):
    """Classical normal-approximation formula (Fleiss), on the proportions themselves."""
    za, zb = sps.norm.ppf(1 - alpha / 2), sps.norm.ppf(power)
    pbar = (p1 + p2) / 2
    return (za * np.sqrt(2 * pbar * (1 - pbar)) + zb * np.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / (p1 - p2) ** 2


@pytest.mark.parametrize("power", [0.8, 0.9])
@pytest.mark.parametrize("p1,p2", GRID)
def test_sample_size_matches_statsmodels_and_hand_formula(p1, p2, power):
    n = sample_size_two_proportions(p1, p2, alpha=0.05, power=power)
    direct = NormalIndPower().solve_power(effect_size=proportion_effectsize(p1, p2), alpha=0.05, power=power,
                                          ratio=1.0, alternative="two-sided")
    assert n == int(np.ceil(direct))
    # arcsine vs raw-proportion approximations: within 3 % on this grid (1.1 % for rates in 0.2-0.9)
    assert n == pytest.approx(hand_sample_size(p1, p2, power=power), rel=0.03)


def test_sample_size_textbook_value():
    # Fleiss et al. (2003): 0.6 vs 0.5 at alpha 0.05, power 0.8 -> 387.3 by the classical formula
    assert hand_sample_size(0.6, 0.5) == pytest.approx(387.3, abs=0.05)
    assert sample_size_two_proportions(0.6, 0.5) in (388, 389)


def test_power_by_simulation_at_planned_size():
    # the z test at the planned n rejects in ~80 % of simulated experiments (known truth 0.78 vs 0.70)
    p1, p2 = 0.78, 0.70
    n = sample_size_two_proportions(p1, p2, power=0.8)
    rng = np.random.default_rng(7)
    reps = 20_000
    x1, x2 = rng.binomial(n, p1, reps), rng.binomial(n, p2, reps)
    pooled = (x1 + x2) / (2 * n)
    z = (x1 / n - x2 / n) / np.sqrt(pooled * (1 - pooled) * 2 / n)
    power = np.mean(np.abs(z) > sps.norm.ppf(0.975))
    assert power == pytest.approx(0.80, abs=0.015)  # MC s.e. 0.003


@pytest.mark.parametrize("p1,n", [(0.78, 100), (0.5, 400), (0.2, 1000)])
def test_minimum_detectable_effect_inverts_sample_size(p1, n):
    for direction in (-1, 1):
        mde = minimum_detectable_effect(p1, n, power=0.8, direction=direction)
        assert np.sign(mde) == direction
        # the power of the classical z test (raw proportions, independent of the arcsine route) at n
        p2 = p1 + mde
        pbar = (p1 + p2) / 2
        za = sps.norm.ppf(0.975)
        power = sps.norm.cdf((abs(mde) * np.sqrt(n) - za * np.sqrt(2 * pbar * (1 - pbar)))
                             / np.sqrt(p1 * (1 - p1) + p2 * (1 - p2)))
        # arcsine and raw-proportion routes differ by up to ~2 points of power for large effects (n = 100)
        assert power == pytest.approx(0.8, abs=0.025)
        # and it inverts the sample size up to the rounding of the solver
        assert sample_size_two_proportions(p1, p2, power=0.8) in (n, n + 1)


def test_minimum_detectable_effect_edge_case_not_detectable():
    assert np.isnan(minimum_detectable_effect(0.02, 3, direction=-1))


def test_sample_size_raises():
    with pytest.raises(ValueError, match="p2"):
        sample_size_two_proportions(0.5, 1.2)
    with pytest.raises(ValueError, match="differ"):
        sample_size_two_proportions(0.5, 0.5)
    with pytest.raises(ValueError, match="power"):
        sample_size_two_proportions(0.5, 0.4, power=1.0)
    with pytest.raises(ValueError, match="n_per_arm"):
        minimum_detectable_effect(0.5, 1)


def test_quantile_bins_equal_counts():
    values = np.random.default_rng(1).normal(size=103)
    bins = quantile_bins(values, 10)
    counts = np.bincount(bins)[1:]
    assert len(counts) == 10 and counts.max() - counts.min() <= 1
    # monotone: every value of bin k is <= every value of bin k+1
    for k in range(1, 10):
        assert values[bins == k].max() <= values[bins == k + 1].min()
    assert set(quantile_bins([1.0, 1.0, 1.0], 10)) == {1, 2, 3}


def test_assignment_balanced_within_one_per_stratum():
    rng = np.random.default_rng(3)
    ids = rng.permutation(np.arange(1000, 1000 + 437))
    strata = rng.integers(0, 17, len(ids))
    out = stratified_assignment(ids, strata, seed=5)
    assert sorted(out["id"]) == sorted(ids)
    per = out.groupby(["stratum", "arm"]).size().unstack(fill_value=0)
    assert (per["treatment"] - per["control"]).abs().max() <= 1
    assert abs((out["arm"] == "treatment").sum() - (out["arm"] == "control").sum()) <= 1


def test_assignment_reproducible_and_order_free():
    rng = np.random.default_rng(4)
    ids = np.arange(200)
    strata = rng.integers(0, 5, 200)
    a = stratified_assignment(ids, strata, seed=11)
    order = rng.permutation(200)
    b = stratified_assignment(ids[order], strata[order], seed=11)
    pd.testing.assert_frame_equal(a, b)
    c = stratified_assignment(ids, strata, seed=12)
    assert not a["arm"].equals(c["arm"])


def test_assignment_is_uniform_over_seeds():
    # every unit is treated with probability 1/2 (stratum of 3: the odd unit split by the balanced sequence)
    ids, strata = np.arange(9), np.repeat([0, 1, 2], 3)
    share = np.mean([stratified_assignment(ids, strata, seed=s)["arm"].eq("treatment").to_numpy()
                     for s in range(1500)], axis=0)
    np.testing.assert_allclose(share, 0.5, atol=0.045)  # s.e. 0.013


def test_assignment_raises_on_duplicate_ids():
    with pytest.raises(ValueError, match="id 3"):
        stratified_assignment([1, 3, 3], [0, 0, 0], seed=1)


def test_smd_hand_values():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 2.0, 3.0, 4.0], "c": ["a", "a", "b", "a", "b", "b"]})
    arm = ["treatment"] * 3 + ["control"] * 3
    out = standardized_mean_differences(frame, arm, numeric=["x"], categorical=["c"]).set_index("variable")
    assert out.loc["x", "smd"] == pytest.approx(-1.0, abs=1e-12)  # means 2 vs 3, both variances 1
    # c=a: 2/3 vs 1/3, variances 1/3 each -> (1/3) / sqrt(1/3)
    assert out.loc["c=a", "smd"] == pytest.approx((1 / 3) / np.sqrt(1 / 3), abs=1e-12)
    assert out.loc["c=b", "mean_control"] == pytest.approx(2 / 3)


def test_difference_in_proportions_wald_matches_statsmodels():
    y = np.r_[np.ones(56), np.zeros(14), np.ones(48), np.zeros(32)]
    t = np.r_[np.ones(70), np.zeros(80)]
    out = difference_in_proportions(y, t).set_index("method")
    low, high = confint_proportions_2indep(56, 70, 48, 80, method="wald", compare="diff")
    assert out.loc["wald", "conf_low"] == pytest.approx(low, abs=1e-10)
    assert out.loc["wald", "conf_high"] == pytest.approx(high, abs=1e-10)


def _wilson(x, n, z):
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@pytest.mark.parametrize("x1,n1,x2,n2,low,high", [
    # Newcombe (1998), Stat Med 17:873-890, Table II, method 10
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (5, 56, 0, 29, -0.0381, 0.1926),
])
def test_difference_in_proportions_newcombe_published(x1, n1, x2, n2, low, high):
    y = np.r_[np.ones(x1), np.zeros(n1 - x1), np.ones(x2), np.zeros(n2 - x2)]
    t = np.r_[np.ones(n1), np.zeros(n2)]
    row = difference_in_proportions(y, t).set_index("method").loc["newcombe"]
    assert row["estimate"] == pytest.approx(x1 / n1 - x2 / n2, abs=1e-12)
    assert row["conf_low"] == pytest.approx(low, abs=5e-5)
    assert row["conf_high"] == pytest.approx(high, abs=5e-5)
    # and the hand composition of the two Wilson intervals
    z = sps.norm.ppf(0.975)
    (l1, u1), (l2, u2) = _wilson(x1, n1, z), _wilson(x2, n2, z)
    d = x1 / n1 - x2 / n2
    assert row["conf_low"] == pytest.approx(d - np.hypot(x1 / n1 - l1, u2 - x2 / n2), abs=1e-10)
    assert row["conf_high"] == pytest.approx(d + np.hypot(u1 - x1 / n1, x2 / n2 - l2), abs=1e-10)


def test_logit_ame_matches_statsmodels_margeff():
    rng = np.random.default_rng(2)
    n = 600
    s = rng.integers(0, 6, n)
    t = rng.integers(0, 2, n)
    y = rng.binomial(1, expit(-0.5 + 0.3 * s - 0.6 * t))
    out = logit_treatment_effect(y, t, s).iloc[0]
    X = pd.get_dummies(pd.Series(s, dtype="category"), prefix="s", drop_first=True).astype(float)
    X.insert(0, "t", t.astype(float))
    fit = sm.Logit(y, sm.add_constant(X)).fit(disp=0)
    margeff = fit.get_margeff(at="overall", dummy=True)
    assert out["estimate"] == pytest.approx(margeff.margeff[0], rel=1e-6)
    assert out["std_error"] == pytest.approx(margeff.margeff_se[0], rel=1e-4)
    assert out["n_strata_constant"] == 0


def test_logit_ame_constant_stratum_left_out():
    rng = np.random.default_rng(8)
    s = np.repeat([0, 1, 2], 100)
    t = np.tile([0, 1], 150)
    y = rng.binomial(1, 0.5, 300)
    y[s == 2] = 1  # separated stratum: its units contribute their limit 0 to the AME
    out = logit_treatment_effect(y, t, s).iloc[0]
    keep = s != 2
    sub = logit_treatment_effect(y[keep], t[keep], s[keep]).iloc[0]
    assert out["n_strata_constant"] == 1
    assert out["estimate"] == pytest.approx(sub["estimate"] * 200 / 300, rel=1e-10)


def _simulate_experiments(reps, n, effect_logit, seed):
    """Superpopulation simulation: new customers each time, risk varying across 8 strata, stratified arms."""
    rng = np.random.default_rng(seed)
    # true average risk difference E[Λ(η+δ) - Λ(η)] by a large Monte Carlo sample of the same population
    eta_big = rng.normal(0.6, 0.7, 2_000_000)
    truth = float(np.mean(expit(eta_big + effect_logit) - expit(eta_big)))
    for _ in range(reps):
        eta = rng.normal(0.6, 0.7, n)
        stratum = quantile_bins(eta + rng.normal(0, 0.3, n), 8)
        arm = stratified_assignment(np.arange(n), stratum, seed=int(rng.integers(2**31)))
        arm = arm.sort_values("id")
        treated = (arm["arm"] == "treatment").to_numpy()
        y = rng.binomial(1, expit(eta + effect_logit * treated))
        yield truth, y, treated, arm["stratum"].to_numpy()


@pytest.mark.slow
def test_coverage_difference_in_proportions():
    reps, hits = 1500, {"wald": 0, "newcombe": 0}
    for truth, y, treated, _ in _simulate_experiments(reps, 400, -0.4, seed=21):
        out = difference_in_proportions(y, treated).set_index("method")
        for method in hits:
            hits[method] += out.loc[method, "conf_low"] <= truth <= out.loc[method, "conf_high"]
    for method, count in hits.items():
        assert 0.93 <= count / reps <= 0.97, (method, count / reps)  # MC s.e. 0.006


@pytest.mark.slow
def test_coverage_logit_stratum_ame():
    reps, hits, estimates = 1000, 0, []
    truth = None
    for truth, y, treated, strata in _simulate_experiments(reps, 400, -0.4, seed=22):
        row = logit_treatment_effect(y, treated, strata).iloc[0]
        hits += row["conf_low"] <= truth <= row["conf_high"]
        estimates.append(row["estimate"])
    assert 0.93 <= hits / reps <= 0.97, hits / reps  # MC s.e. 0.007
    assert np.mean(estimates) == pytest.approx(truth, abs=0.005)  # recovers the known effect


# ---- issue 10, item 6: tests that kill the surviving mutants of stats/experiments.py (see docs/mutation.md)


def test_argument_errors_name_the_argument_and_boundaries():
    from stats.experiments import minimum_detectable_effect

    for bad in (0.0, 1.0):
        with pytest.raises(ValueError, match=rf"^p1 must be a proportion in \(0, 1\), got {bad}$"):
            sample_size_two_proportions(bad, 0.3)
        with pytest.raises(ValueError, match=rf"^p2 must be a proportion in \(0, 1\), got {bad}$"):
            sample_size_two_proportions(0.3, bad)
        with pytest.raises(ValueError, match=rf"^p1 must be a proportion in \(0, 1\), got {bad}$"):
            minimum_detectable_effect(bad, 100)
        with pytest.raises(ValueError, match=rf"^alpha must be in \(0, 1\), got {bad}$"):
            sample_size_two_proportions(0.2, 0.3, alpha=bad)
        with pytest.raises(ValueError, match=rf"^power must be in \(0, 1\), got {bad}$"):
            sample_size_two_proportions(0.2, 0.3, power=bad)
    with pytest.raises(ValueError, match=r"^n_per_arm must be an integer >= 2, got 1$"):
        minimum_detectable_effect(0.3, 1)
    assert np.isfinite(minimum_detectable_effect(0.3, 2000))
    # the smallest allowed arm: h from NormalIndPower for 2 units, p2 = sin^2(asin(sqrt p1) - h/2) if in range
    from statsmodels.stats.power import NormalIndPower

    h = NormalIndPower().solve_power(nobs1=2, alpha=0.05, power=0.8, ratio=1.0, alternative="two-sided")
    angle = np.arcsin(np.sqrt(0.95)) - h / 2
    expected = np.sin(angle) ** 2 - 0.95 if 0 <= angle <= np.pi / 2 else np.nan
    got = minimum_detectable_effect(0.95, 2)
    assert (np.isnan(got) and np.isnan(expected)) or got == pytest.approx(expected, rel=1e-10)
    # an upward effect whose angle lands exactly ... beyond pi/2 is not detectable: NaN
    assert np.isnan(minimum_detectable_effect(0.999, 20, direction=1))
    # sizes are rounded up, not up by one
    n = NormalIndPower().solve_power(effect_size=2 * np.arcsin(np.sqrt(0.3)) - 2 * np.arcsin(np.sqrt(0.2)),
                                     alpha=0.05, power=0.8, ratio=1.0, alternative="two-sided")
    assert sample_size_two_proportions(0.2, 0.3) == int(np.ceil(abs(n)))

    with pytest.raises(ValueError, match=r"^values must be a non-empty one-dimensional array, got shape \(0,\)$"):
        quantile_bins([], 3)
    with pytest.raises(ValueError, match=r"^values must be a non-empty one-dimensional array, got shape \(2, 2\)$"):
        quantile_bins(np.ones((2, 2)), 3)
    with pytest.raises(ValueError, match=r"^values must not contain missing values$"):
        quantile_bins([1.0, np.nan], 2)
    with pytest.raises(ValueError, match=r"^n_bins must be an integer >= 1"):
        quantile_bins([1.0, 2.0], 0)
    assert quantile_bins([5.0], 3).tolist() == [1]
    # ties keep their input order (stable sort): equal values split across bins by position
    assert quantile_bins([1.0, 1.0, 1.0, 1.0], 2).tolist() == [1, 1, 2, 2]
    with pytest.raises(ValueError, match=r"^seed must be an integer >= 0, got -1$"):
        stratified_assignment([1, 2], ["a", "a"], seed=-1)


def test_balance_and_effect_tables_every_column_by_hand():
    from statsmodels.stats.proportion import confint_proportions_2indep

    frame = pd.DataFrame({"x": [1.0, 1.0, 2.0, 2.0], "z": [5.0, 5.0, 5.0, 5.0]})
    arm = ["treatment", "treatment", "control", "control"]
    out = standardized_mean_differences(frame, arm, numeric=["x", "z"])
    assert out.columns.tolist() == ["variable", "mean_treatment", "mean_control", "smd"]
    # both variances 0: -inf when the means differ, 0 when they agree
    assert out["smd"].tolist() == [-np.inf, 0.0]
    assert out["mean_treatment"].tolist() == [1.0, 5.0] and out["mean_control"].tolist() == [2.0, 5.0]
    with pytest.raises(ValueError, match=r"^arm must be 'treatment' or 'control', found (np\.str_\()?'x'\)?$"):
        standardized_mean_differences(frame, ["treatment", "x", "y", "control"], numeric=["x"])
    for arms in (["treatment", "control", "control", "control"], ["treatment", "treatment", "treatment", "control"]):
        with pytest.raises(ValueError, match=r"^each arm needs at least two units for a balance table$"):
            standardized_mean_differences(frame, arms, numeric=["x"])

    y = np.r_[np.ones(12), np.zeros(28), np.ones(20), np.zeros(20)]
    t = np.r_[np.ones(40), np.zeros(40)]
    dip = difference_in_proportions(y, t, conf_level=0.9)
    assert dip.columns.tolist() == ["method", "estimate", "std_error", "statistic", "p_value", "conf_low",
                                    "conf_high", "conf_level", "n_treatment", "n_control", "rate_treatment",
                                    "rate_control"]
    se = np.sqrt(0.3 * 0.7 / 40 + 0.5 * 0.5 / 40)
    assert dip["std_error"].tolist() == pytest.approx([se, se], rel=1e-12)
    assert dip["conf_level"].tolist() == [0.9, 0.9]
    assert dip[["rate_treatment", "rate_control"]].values.tolist() == [[0.3, 0.5], [0.3, 0.5]]
    assert dip["statistic"].iloc[0] == pytest.approx(-0.2 / se, rel=1e-12) and np.isnan(dip["statistic"].iloc[1])
    assert dip["p_value"].iloc[0] == pytest.approx(2 * sps.norm.sf(0.2 / se), rel=1e-10)
    # the score test of the difference: pooled z with the Miettinen-Nurminen factor N / (N - 1)
    pooled = 32 / 80
    z = 0.2 / np.sqrt(pooled * (1 - pooled) * (2 / 40) * 80 / 79)
    assert dip["p_value"].iloc[1] == pytest.approx(2 * sps.norm.sf(z), rel=1e-8)
    low, high = confint_proportions_2indep(12, 40, 20, 40, method="newcomb", compare="diff", alpha=0.1)
    assert (dip["conf_low"].iloc[1], dip["conf_high"].iloc[1]) == pytest.approx((low, high), rel=1e-12)
    # no outcome at all: se = 0 and the Wald p-value is undefined
    assert np.isnan(difference_in_proportions(np.zeros(6), [1, 1, 1, 0, 0, 0])["p_value"].iloc[0])
    # one unit per arm is enough; an empty arm or a bad label is not
    assert difference_in_proportions([1, 0], [1, 0])["n_treatment"].tolist() == [1, 1]
    with pytest.raises(ValueError, match=r"^both arms need at least one unit$"):
        difference_in_proportions([1, 0, 1], [1, 1, 1])
    with pytest.raises(ValueError, match=r"^both arms need at least one unit$"):
        difference_in_proportions([1, 0, 1], [0, 0, 0])
    with pytest.raises(ValueError, match=r"^y must contain only 0/1"):
        difference_in_proportions([2, 0], [1, 0])
    with pytest.raises(ValueError, match=r"^treated must contain only 0/1"):
        difference_in_proportions([1, 0], [2, 0])


def test_logit_effect_table_columns_counts_and_errors():
    rng = np.random.default_rng(22)
    n = 400
    strata = np.repeat(["a", "b", "c", "d"], n // 4)
    t = np.tile([1, 0], n // 2)
    y = (rng.uniform(size=n) < np.where(t == 1, 0.3, 0.45)).astype(int)
    y[strata == "d"] = 0  # a constant stratum: left out of the fit
    out = logit_treatment_effect(y, t, strata, conf_level=0.9)
    assert out.columns.tolist() == ["method", "estimate", "std_error", "statistic", "p_value", "conf_low",
                                    "conf_high", "conf_level", "n_treatment", "n_control", "rate_treatment",
                                    "rate_control", "n_strata", "n_strata_constant"]
    row = out.iloc[0]
    assert (row["n_treatment"], row["n_control"], row["n_strata"], row["n_strata_constant"]) == (200, 200, 4, 1)
    assert row["rate_treatment"] == pytest.approx(y[t == 1].mean()) and row["rate_control"] == pytest.approx(
        y[t == 0].mean())
    z = sps.norm.ppf(0.95)
    assert row["conf_level"] == 0.9
    assert row["statistic"] == pytest.approx(row["estimate"] / row["std_error"], rel=1e-12)
    assert row["p_value"] == pytest.approx(2 * sps.norm.sf(abs(row["statistic"])), rel=1e-10)
    assert row["conf_low"] == pytest.approx(row["estimate"] - z * row["std_error"], rel=1e-12)
    assert row["conf_high"] == pytest.approx(row["estimate"] + z * row["std_error"], rel=1e-12)
    # all outcomes 1 in a stratum is constant too
    y1 = y.copy()
    y1[strata == "d"] = 1
    assert logit_treatment_effect(y1, t, strata)["n_strata_constant"].iloc[0] == 1
    with pytest.raises(ValueError, match=r"^no stratum with a varying outcome holds both arms"):
        logit_treatment_effect(np.zeros(8), np.tile([1, 0], 4), np.repeat(["a", "b"], 4))


def test_matched_pairs_split_every_consecutive_pair_by_a_fair_coin():
    rng = np.random.default_rng(23)
    n = 40
    ids = np.arange(n)
    strata = np.repeat(["a", "b"], n // 2)
    score = rng.uniform(size=n)
    first_treated = []
    for seed in range(12):
        out = stratified_assignment(ids, strata, seed=seed, match_on=score).set_index("id")
        for s in ("a", "b"):
            members = ids[strata == s]
            ranked = members[np.argsort(score[members], kind="stable")]
            arms = out.loc[ranked, "arm"].to_numpy()
            # each pair of neighbours in score order: one treatment, one control
            assert all({arms[i], arms[i + 1]} == {"treatment", "control"} for i in range(0, len(arms), 2))
            first_treated.extend(arms[0::2] == "treatment")
    # the first unit of a pair is treated about half of the time (240 pairs): a coin, not a fixed rule
    assert 0.4 < np.mean(first_treated) < 0.6
    with pytest.raises(ValueError, match=r"^p1 must be a proportion in \(0, 1\), got 'abc'$"):
        sample_size_two_proportions("abc", 0.3)


def test_remaining_messages_and_unequal_arms():
    from stats.experiments import minimum_detectable_effect

    with pytest.raises(ValueError, match=r"^y and treated have different lengths \(3 and 2\)$"):
        difference_in_proportions([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match=r"^strata has 2 values for 4 outcomes$"):
        logit_treatment_effect([1, 0, 1, 0], [1, 0, 1, 0], ["a", "b"])
    with pytest.raises(ValueError, match=r"^direction must be -1 or 1, got 0$"):
        minimum_detectable_effect(0.3, 100, direction=0)
    # informative strata holding only one arm: not estimable
    y = np.array([1, 0, 1, 0, 0, 0])
    t = np.array([1, 1, 1, 1, 0, 0])
    with pytest.raises(ValueError, match=r"^no stratum with a varying outcome holds both arms"):
        logit_treatment_effect(y, t, ["a", "a", "a", "a", "b", "b"])
    rng = np.random.default_rng(24)
    t = (np.arange(300) % 3 == 0).astype(int)  # 100 treated, 200 controls
    y = (rng.uniform(size=300) < 0.4).astype(int)
    row = logit_treatment_effect(y, t, np.repeat(["a", "b"], 150)).iloc[0]
    assert (row["n_treatment"], row["n_control"]) == (100, 200)
