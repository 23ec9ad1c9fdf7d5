"""stats.counts: exact medians from counts of distinct values, checked against numpy and pandas bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stats.counts import add_counts, median_from_counts, value_counts


@pytest.mark.parametrize("n", [1, 2, 7, 10, 1001, 5000])
def test_typical_median_equals_numpy_and_pandas(n):
    rng = np.random.default_rng(n)
    # Money rounded to a tenth: many ties, as in the revenue columns.
    values = np.round(rng.gamma(4.0, 1500.0, size=n), 1)
    counts = value_counts(values)
    assert median_from_counts(counts) == np.median(values)  # exact: the same float
    assert median_from_counts(counts) == pd.Series(values).median()


def test_parts_add_up_to_the_whole():
    rng = np.random.default_rng(3)
    values = rng.integers(0, 40, size=3000).astype(float) / 4
    parts = [value_counts(p) for p in np.array_split(values, 7)]
    total = add_counts(*parts)
    pd.testing.assert_series_equal(total, value_counts(values), check_names=False)
    assert median_from_counts(total) == np.median(values)


def test_edge_case_even_count_halfway_and_empty():
    assert median_from_counts(value_counts([1.0, 2.0])) == 1.5
    assert median_from_counts(value_counts([5.0, 5.0, 1.0, 9.0])) == 5.0
    assert np.isnan(median_from_counts(value_counts([])))
    assert len(add_counts()) == 0
    assert value_counts([np.nan, 1.0]).to_dict() == {1.0: 1}  # missing values are not data


def test_raises_on_negative_counts():
    with pytest.raises(ValueError, match="non-negative, got -1"):
        median_from_counts(pd.Series([2, -1], index=[1.0, 2.0]))


# ---- issue 10, item 6: tests that kill the surviving mutants of stats/counts.py (see docs/mutation.md)


def test_dtypes_order_of_added_parts_and_zero_counts():
    # integer input is counted on float values, so parts from integer and float columns add up
    ints = value_counts([3, 1, 3])
    assert ints.index.dtype == np.float64 and ints.dtype == np.int64
    assert ints.to_dict() == {1.0: 1, 3.0: 2}
    assert add_counts().dtype == np.int64
    # a later part with smaller values: the sum is sorted by value, not by first appearance
    total = add_counts(value_counts([5.0]), value_counts([1.0, 1.0, 7.0]))
    assert total.index.tolist() == [1.0, 5.0, 7.0] and total.tolist() == [2, 1, 1]
    # zero counts (a value seen in the reference but not in this part) are allowed and ignored
    counts = pd.Series([0, 2, 0, 1, 0], index=[0.5, 1.0, 2.0, 4.0, 9.0])
    assert median_from_counts(counts) == np.median([1.0, 1.0, 4.0])
