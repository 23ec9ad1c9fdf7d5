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
