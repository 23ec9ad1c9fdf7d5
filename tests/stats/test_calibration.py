"""Tests of stats.calibration against hand computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from stats.calibration import brier_score, hosmer_lemeshow, reliability_curve


def test_brier_by_hand():
    y = [0, 1, 1, 0]
    p = [0.1, 0.8, 0.6, 0.3]
    assert brier_score(y, p) == pytest.approx((0.01 + 0.04 + 0.16 + 0.09) / 4)
    with pytest.raises(ValueError, match="0/1"):
        brier_score([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        brier_score([0, 1], [0.1, 1.2])
    with pytest.raises(ValueError, match="length"):
        brier_score([0, 1], [0.1])


def test_reliability_curve_quantile_bins_and_wilson():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=1000)
    y = (rng.uniform(size=1000) < p).astype(int)
    out = reliability_curve(y, p, n_bins=5, conf_level=0.9)
    assert list(out.columns) == ["bin", "n", "mean_predicted", "observed_rate", "conf_low", "conf_high"]
    assert out["n"].tolist() == [200] * 5
    order = np.argsort(p)
    for b in range(5):
        idx = order[b * 200 : (b + 1) * 200]
        assert out["mean_predicted"].iloc[b] == pytest.approx(p[idx].mean())
        assert out["observed_rate"].iloc[b] == pytest.approx(y[idx].mean())
        lo, hi = proportion_confint(y[idx].sum(), 200, alpha=0.1, method="wilson")
        assert out["conf_low"].iloc[b] == pytest.approx(lo, abs=1e-12)
        assert out["conf_high"].iloc[b] == pytest.approx(hi, abs=1e-12)


def test_reliability_curve_uniform_bins():
    y = np.array([0, 0, 1, 1, 1, 0])
    p = np.array([0.05, 0.15, 0.55, 0.95, 1.0, 0.5])
    out = reliability_curve(y, p, n_bins=10, strategy="uniform")
    assert out["bin"].tolist() == [0, 1, 5, 9]
    assert out["n"].tolist() == [1, 1, 2, 2]
    assert out["observed_rate"].tolist() == [0.0, 0.0, 0.5, 1.0]
    with pytest.raises(ValueError, match="bogus"):
        reliability_curve(y, p, strategy="bogus")


def test_hosmer_lemeshow_hand_computation():
    # 12 observations, 3 groups of 4 sorted by p
    p = np.array([0.05, 0.10, 0.15, 0.20, 0.30, 0.35, 0.40, 0.45, 0.70, 0.80, 0.85, 0.90])
    y = np.array([0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1])
    perm = np.random.default_rng(1).permutation(12)
    out = hosmer_lemeshow(y[perm], p[perm], n_groups=3).iloc[0]
    # group 1: O=1, E=0.50, n=4; group 2: O=2, E=1.50; group 3: O=3, E=3.25
    stat = (1 - 0.5) ** 2 / (0.5 * (1 - 0.5 / 4))
    stat += (2 - 1.5) ** 2 / (1.5 * (1 - 1.5 / 4))
    stat += (3 - 3.25) ** 2 / (3.25 * (1 - 3.25 / 4))
    assert out["statistic"] == pytest.approx(stat, rel=1e-12)
    assert out["df"] == 1 and out["n_groups"] == 3
    assert out["p_value"] == pytest.approx(sps.chi2.sf(stat, 1), rel=1e-12)


def test_hosmer_lemeshow_null_distribution_of_fitted_logit():
    """With in-sample fitted probabilities of a correct logit, HL ~ chi2(g - 2): mean ~ 8."""
    import statsmodels.api as sm

    rng = np.random.default_rng(2)
    stats_, pvals = [], []
    for _ in range(150):
        x = rng.normal(size=(500, 2))
        X = sm.add_constant(x)
        y = (rng.uniform(size=500) < 1 / (1 + np.exp(-(X @ [-0.3, 1.0, -0.5])))).astype(int)
        p = sm.Logit(y, X).fit(disp=0).predict()
        out = hosmer_lemeshow(y, p).iloc[0]
        stats_.append(out["statistic"])
        pvals.append(out["p_value"])
    assert 7.0 < np.mean(stats_) < 9.0
    assert np.mean(np.array(pvals) < 0.05) < 0.12
    with pytest.raises(ValueError, match="n_groups"):
        hosmer_lemeshow([0, 1, 0], [0.1, 0.2, 0.3], n_groups=2)


# ---- issue 10, item 6: tests that kill the surviving mutants of stats/calibration.py (see docs/mutation.md)


def test_input_errors_name_the_argument_and_single_row_works():
    with pytest.raises(ValueError, match=r"^y must contain only 0/1"):
        brier_score([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"^p must lie in \[0, 1\]"):
        brier_score([0, 1], [0.1, 1.2])
    with pytest.raises(ValueError, match=r"^y and p are empty$"):
        brier_score([], [])
    # one observation is a valid (if tiny) sample: (0.3 - 1)^2
    assert brier_score([1], [0.3]) == pytest.approx(0.49, abs=1e-15)


def test_log_loss_against_hand_formula_with_clipping():
    from stats.calibration import log_loss

    y = np.array([1, 0, 1, 0, 1, 0])
    p = np.array([0.9, 0.2, 0.6, 0.7, 0.0, 1.0])
    # the last two are certain and wrong: clipped to 1e-15 and 1 - 1e-15 as documented (scikit-learn's rule);
    # 1 - 1e-15 rounds to 1 - 1.11e-15 in floating point
    by_hand = -(np.log(0.9) + np.log(0.8) + np.log(0.6) + np.log(0.3) + np.log(1e-15) + np.log1p(-(1 - 1e-15))) / 6
    assert log_loss(y, p) == pytest.approx(by_hand, rel=1e-12)
    assert log_loss([1, 0], [0.25, 0.25]) == pytest.approx(-(np.log(0.25) + np.log(0.75)) / 2, rel=1e-14)


def test_wilson_default_level_and_exact_bounds_at_zero_and_all_successes():
    from stats.calibration import wilson_interval

    lo, hi = wilson_interval([3, 7], [10, 20])
    ref = [proportion_confint(s, n, alpha=0.05, method="wilson") for s, n in [(3, 10), (7, 20)]]
    np.testing.assert_allclose(lo, [r[0] for r in ref], atol=1e-14)
    np.testing.assert_allclose(hi, [r[1] for r in ref], atol=1e-14)
    # 0 successes: the lower Wilson bound is 0, n successes: the upper is 1 (the formula gives -3e-17 or
    # 1 + 2e-16 in floating point for some n, which the clip must remove)
    n = np.arange(1, 300)
    for conf in (0.8, 0.95):
        lo0, hi0 = wilson_interval(np.zeros_like(n), n, conf)
        lon, hin = wilson_interval(n, n, conf)
        assert np.all((lo0 >= 0.0) & (lo0 < 1e-15)) and np.all((hin <= 1.0) & (hin > 1 - 1e-15))
        assert np.all((hi0 > 0) & (hi0 < 1)) and np.all((lon > 0) & (lon < 1))


def test_reliability_curve_defaults_single_bin_ties_and_argument_errors():
    rng = np.random.default_rng(10)
    p = rng.uniform(size=1000)
    y = (rng.uniform(size=1000) < p).astype(int)
    out = reliability_curve(y, p)
    assert out["n"].tolist() == [100] * 10  # default: 10 quantile bins
    one = reliability_curve(y, p, n_bins=1)
    assert one["n"].tolist() == [1000]
    assert one["mean_predicted"].iloc[0] == pytest.approx(p.mean(), rel=1e-12)
    # tied predictions: quantile edges coincide and are merged (fewer bins), not an error
    p_tied = np.repeat([0.1, 0.5, 0.9], [600, 300, 100])
    y_tied = np.tile([0, 1], 500)
    tied = reliability_curve(y_tied, p_tied, n_bins=10)
    assert tied["n"].sum() == 1000 and len(tied) < 10
    with pytest.raises(ValueError, match=r"^n_bins must be an integer >= 1"):
        reliability_curve(y, p, n_bins=0)
    with pytest.raises(ValueError, match=r"^strategy must be one of"):
        reliability_curve(y, p, strategy="bogus")


def test_hosmer_lemeshow_ties_zero_risk_group_and_errors():
    # 30 rows of certain 0 (p = 0, y = 0), then 60 rows spread: the p = 0 group has E (1 - E/n) = 0 and is skipped
    rng = np.random.default_rng(11)
    p = np.concatenate([np.zeros(30), np.linspace(0.1, 0.9, 60)])
    y = np.concatenate([np.zeros(30), (rng.uniform(size=60) < np.linspace(0.1, 0.9, 60)).astype(float)])
    out = hosmer_lemeshow(y, p, n_groups=3).iloc[0]
    codes = pd.qcut(p, 3, labels=False, duplicates="drop")
    stat = 0.0
    for g in np.unique(codes):
        o, e, n = y[codes == g].sum(), p[codes == g].sum(), (codes == g).sum()
        if e > 0:
            stat += (o - e) ** 2 / (e * (1 - e / n))
    assert np.isfinite(out["statistic"]) and out["statistic"] == pytest.approx(stat, rel=1e-12)
    with pytest.raises(ValueError, match=r"^n_groups must be an integer >= 3"):
        hosmer_lemeshow([0, 1, 0], [0.1, 0.2, 0.3], n_groups=2)
    with pytest.raises(ValueError, match="distinct risk groups"):
        hosmer_lemeshow(np.tile([0, 1], 50), np.repeat([0.2, 0.7], 50), n_groups=10)
