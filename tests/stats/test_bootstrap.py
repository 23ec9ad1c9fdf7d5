"""stats.bootstrap: the seeded replicate streams, grouped stratified folds and the summary of replicates, against
numpy and scikit-learn computed here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stats.bootstrap import grouped_stratified_folds, replicate_rng, resample, summarise_replicates


def test_replicate_streams_depend_on_seed_and_replicate_only():
    a = replicate_rng(7, 3).integers(0, 1000, 20)
    expected = np.random.default_rng(np.random.SeedSequence([7, 3])).integers(0, 1000, 20)
    np.testing.assert_array_equal(a, expected)
    np.testing.assert_array_equal(replicate_rng(7, 3).integers(0, 1000, 20), a)
    assert not np.array_equal(replicate_rng(7, 4).integers(0, 1000, 20), a)
    assert not np.array_equal(replicate_rng(8, 3).integers(0, 1000, 20), a)
    # numpy integers (as a worker may receive them) give the same stream
    np.testing.assert_array_equal(replicate_rng(np.int64(7), np.int32(3)).integers(0, 1000, 20), a)


def test_resample_draws_n_rows_with_replacement():
    rng, twin = np.random.default_rng(1), np.random.default_rng(1)
    idx = resample(500, rng)
    np.testing.assert_array_equal(idx, twin.integers(0, 500, size=500))
    assert idx.min() >= 0 and idx.max() < 500 and len(np.unique(idx)) < 500  # some rows twice
    # about 1 − 1/e of the rows appear at least once
    assert abs(len(np.unique(idx)) / 500 - (1 - np.exp(-1))) < 0.05


def test_grouped_stratified_folds_keep_copies_together_and_are_stratified():
    rng = np.random.default_rng(5)
    y_all = (rng.uniform(size=300) < 0.3).astype(int)
    units = resample(300, np.random.default_rng(9))
    y = y_all[units]
    folds = grouped_stratified_folds(units, y, 5, np.random.default_rng(11))
    assert folds.shape == units.shape and set(folds) == set(range(5))
    # every copy of a customer is in its customer's fold
    for unit in np.unique(units):
        assert len(set(folds[units == unit])) == 1
    # stratified over the distinct customers: each fold's share of events within one customer of the overall
    distinct, first = np.unique(units, return_index=True)
    unit_fold, unit_y = folds[first], y[first]
    per_fold = pd.Series(unit_y).groupby(unit_fold).agg(["sum", "size"])
    assert (per_fold["sum"].max() - per_fold["sum"].min()) <= 1
    assert (per_fold["size"].max() - per_fold["size"].min()) <= 1
    # the split is scikit-learn's StratifiedKFold of the distinct customers, seeded by one draw of the stream
    from sklearn.model_selection import StratifiedKFold

    seed = int(np.random.default_rng(11).integers(0, 2**31 - 1))
    expected = np.empty(len(distinct), dtype=int)
    for k, (_, test) in enumerate(StratifiedKFold(5, shuffle=True, random_state=seed).split(distinct, unit_y)):
        expected[test] = k
    np.testing.assert_array_equal(unit_fold, expected)
    # the same stream, the same folds
    np.testing.assert_array_equal(grouped_stratified_folds(units, y, 5, np.random.default_rng(11)), folds)


def test_summarise_replicates_against_numpy():
    rng = np.random.default_rng(2)
    replicates = pd.DataFrame({"a": rng.normal(size=40), "b": rng.gamma(2.0, size=40), "c": rng.normal(size=40),
                               "ignored": 1.0})
    replicates.loc[[3, 7], "b"] = np.nan  # a replicate without the statistic is left out of it
    replicates.loc[:, "c"] = np.nan
    replicates.loc[5, "c"] = 1.0  # one replicate: no spread
    estimates = pd.Series({"b": 2.5, "a": 0.1, "c": 0.3})
    for conf_level in (0.95, 0.8):
        table = summarise_replicates(estimates, replicates, conf_level)
        assert list(table.index) == ["b", "a", "c"]
        assert list(table.columns) == ["estimate", "std_error", "conf_low", "conf_high", "n_replicates"]
        for name in ("a", "b"):
            values = replicates[name].dropna().to_numpy()
            row = table.loc[name]
            assert row["estimate"] == estimates[name] and row["n_replicates"] == len(values)
            assert row["std_error"] == pytest.approx(np.std(values, ddof=1), rel=1e-12)
            assert row["conf_low"] == pytest.approx(np.percentile(values, 50 * (1 - conf_level)), rel=1e-12)
            assert row["conf_high"] == pytest.approx(np.percentile(values, 50 * (1 + conf_level)), rel=1e-12)
        assert table.loc["b", "n_replicates"] == 38
        c = table.loc["c"]
        assert c["estimate"] == 0.3 and c["n_replicates"] == 1
        assert np.isnan(c["std_error"]) and np.isnan(c["conf_low"]) and np.isnan(c["conf_high"])
    # five replicates, 50 %: the quartiles are the 2nd and 4th sorted values (numpy's linear rule, exact here)
    five = pd.DataFrame({"x": [5.0, 1.0, 4.0, 2.0, 3.0]})
    row = summarise_replicates(pd.Series({"x": 3.0}), five, 0.5).loc["x"]
    assert (row["conf_low"], row["conf_high"]) == (2.0, 4.0)
    with pytest.raises(ValueError):
        summarise_replicates(estimates, replicates, 1.5)


def test_bootstrap_interval_kinds_by_hand():
    from scipy.stats import norm

    from stats.bootstrap import bootstrap_interval

    draws = np.array([1.0, 2.0, 3.0, 4.0, 5.0, np.nan])
    lo, hi = np.quantile(draws[:5], 0.25), np.quantile(draws[:5], 0.75)   # 2 and 4
    assert bootstrap_interval(2.5, draws, 0.5, "percentile") == (lo, hi)
    assert bootstrap_interval(2.5, draws, 0.5, "basic") == (2 * 2.5 - hi, 2 * 2.5 - lo)
    half = norm.ppf(0.75) * np.std(draws[:5], ddof=1)
    assert bootstrap_interval(2.5, draws, 0.5, "normal") == pytest.approx((2.5 - half, 2.5 + half))
    assert np.isnan(bootstrap_interval(1.0, [np.nan, 1.0], 0.95)[0])
    with pytest.raises(ValueError, match="method must be one of"):
        bootstrap_interval(1.0, draws, 0.95, "bca")
