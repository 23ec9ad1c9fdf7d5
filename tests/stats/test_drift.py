"""Tests of stats.drift against hand computations (issue 10, item 6: they kill the surviving mutants)."""

from __future__ import annotations

import numpy as np
import pytest

from stats.drift import SHARE_FLOOR, drift_status, population_stability_index


def test_psi_by_hand_including_a_single_observation_and_an_empty_bin():
    shares = [0.2, 0.5, 0.3]
    # one observation, in the middle bin: shares (1e-4, 1, 1e-4) after the floor
    a = np.array([SHARE_FLOOR, 1.0, SHARE_FLOOR])
    e = np.array(shares)
    assert population_stability_index(shares, [0, 1, 0]) == pytest.approx(np.sum((a - e) * np.log(a / e)),
                                                                           rel=1e-12)
    counts = [30, 50, 20]
    a = np.array([0.3, 0.5, 0.2])
    assert population_stability_index(shares, counts) == pytest.approx(np.sum((a - e) * np.log(a / e)),
                                                                       rel=1e-12)
    assert np.isnan(population_stability_index(shares, [0, 0, 0]))


def test_psi_and_status_errors():
    with pytest.raises(ValueError, match=r"^shares and counts must be non-negative$"):
        population_stability_index([0.5, 0.5], [-1, 3])
    with pytest.raises(ValueError, match=r"^shares and counts must be non-negative$"):
        population_stability_index([1.2, -0.2], [1, 3])
    with pytest.raises(ValueError, match=r"^expected_shares and actual_counts must be 1-D of the same length"):
        population_stability_index([0.5, 0.5], [1, 2, 3])
    with pytest.raises(ValueError, match=r"^the watch threshold must be below the alert threshold, got 0.2 and 0.2$"):
        drift_status(0.1, 0.2, 0.2)
    assert [drift_status(v, 0.1, 0.25) for v in (0.05, 0.1, 0.2, 0.25, float("nan"))] == [
        "ok", "watch", "watch", "alert", "not_computed"]
