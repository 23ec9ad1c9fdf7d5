"""Tests of stats._common: argument checks and the Wald columns.
"""

from __future__ import annotations

import re
import warnings
import numpy as np
import pytest
from scipy import stats as sps
from stats._common import (
    binary_array,
    check_conf_level,
    check_positive_int,
    probability_array,
    wald_columns,
)


# ---------------------------------------------------------------------------------------------------------
# test_mutation_stats4.py: Tests written from the mutation runs of stats/_common.py, diagnostics.py, correlation.py and logit.py
# ---------------------------------------------------------------------------------------------------------
def _raises_exactly(message, func, *args, **kwargs):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        func(*args, **kwargs)


def test_check_conf_level_bounds_and_messages():
    assert check_conf_level(0.95) == 0.95
    assert check_conf_level(np.float32(0.5)) == 0.5
    _raises_exactly("conf_level must be in (0, 1), got 0.0", check_conf_level, 0.0)
    _raises_exactly("conf_level must be in (0, 1), got 1", check_conf_level, 1)
    _raises_exactly("conf_level must be in (0, 1), got nan", check_conf_level, float("nan"))
    _raises_exactly("conf_level must be a number in (0, 1), got 'high'", check_conf_level, "high")
    _raises_exactly("conf_level must be a number in (0, 1), got None", check_conf_level, None)


def test_check_positive_int_messages():
    assert check_positive_int("k", np.int64(3)) == 3
    assert type(check_positive_int("k", np.int64(3))) is int
    assert check_positive_int("k", 2, minimum=2) == 2
    _raises_exactly("k must be an integer >= 2, got 1", check_positive_int, "k", 1, minimum=2)
    _raises_exactly("k must be an integer >= 1, got 0", check_positive_int, "k", 0)
    _raises_exactly("k must be an integer >= 1, got True", check_positive_int, "k", True)
    _raises_exactly("k must be an integer >= 1, got 2.0", check_positive_int, "k", 2.0)


def test_wald_columns_against_hand_formulas_float32_and_quiet_zero_se():
    est = np.array([0.3, -1.2, 2.0], dtype=np.float32)
    se = np.array([0.1, 0.7, 1.3], dtype=np.float32)
    out = wald_columns(est, se, 0.9)
    e, s = est.astype(np.float64), se.astype(np.float64)
    z = sps.norm.ppf(0.95)
    for key in ("statistic", "p_value", "conf_low", "conf_high"):
        assert out[key].dtype == np.float64
    np.testing.assert_allclose(out["statistic"], e / s, rtol=1e-15)
    np.testing.assert_allclose(out["p_value"], 2 * sps.norm.sf(np.abs(e / s)), rtol=1e-14)
    # computed in float64: a float32 product z * se would differ at ~1e-8
    np.testing.assert_allclose(out["conf_low"], e - z * s, rtol=1e-15, atol=0)
    np.testing.assert_allclose(out["conf_high"], e + z * s, rtol=1e-15, atol=0)
    # zero standard errors give inf / nan without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zero = wald_columns([1.0, 0.0], [0.0, 0.0], 0.95)
    assert zero["statistic"][0] == np.inf and np.isnan(zero["statistic"][1])


def test_binary_array_messages_and_dtype():
    out = binary_array(np.array([True, False]))
    assert out.dtype == np.float64 and out.tolist() == [1.0, 0.0]
    out = binary_array(["0", "1", "1"])
    assert out.dtype == np.float64 and out.tolist() == [0.0, 1.0, 1.0]
    _raises_exactly("y must be one-dimensional, got shape (1, 2)", binary_array, [[0, 1]])
    _raises_exactly("target must be one-dimensional, got shape (2, 1)", binary_array, [[0], [1]], "target")
    _raises_exactly("y must contain only 0/1 values", binary_array, ["a", "b"])
    _raises_exactly(
        "y must contain only 0/1 values, found array([2., 3., 4., 5., 6.])", binary_array, [0, 2, 3, 4, 5, 6, 7]
    )


def test_probability_array_messages_and_dtype():
    out = probability_array([0, 1])
    assert out.dtype == np.float64
    assert probability_array(["0.25"]).tolist() == [0.25]
    _raises_exactly("p must be one-dimensional, got shape (1, 2)", probability_array, [[0.1, 0.2]])
    _raises_exactly(
        "p must lie in [0, 1], found array([1.1, 1.2, 1.3, 1.4, 1.5])",
        probability_array,
        [0.5, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6],
    )
    _raises_exactly("q must lie in [0, 1], found array([nan])", probability_array, [np.nan], "q")
