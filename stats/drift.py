"""Distribution drift between a reference sample and a new one: population stability index and status."""

from __future__ import annotations

import numpy as np

#: Shares below this are raised to it before the logarithm of the PSI (an empty bin would give an infinite
#: index); a common convention, which caps one bin's contribution at about |a - e| × 9.2.
SHARE_FLOOR = 1e-4


def population_stability_index(expected_shares, actual_counts, floor: float = SHARE_FLOOR) -> float:
    """Population stability index of observed counts against reference shares over the same bins.

    Parameters
    ----------
    expected_shares : array-like
        Share of the reference sample in each bin (sums to 1).
    actual_counts : array-like
        Count of the new sample in each bin (same bins, same order).
    floor : float
        Shares below ``floor`` are set to ``floor`` (both samples) before the index is computed.

    Returns
    -------
    float
        ``PSI = Σ_i (a_i − e_i) ln(a_i / e_i)``; NaN when the new sample is empty.

    Notes
    -----
    ``a_i`` is the new sample's share of bin ``i``, ``e_i`` the reference share. The usual reading:
    below 0.1 no material shift, 0.1–0.25 a shift worth watching, above 0.25 a major shift.
    """
    expected = np.asarray(expected_shares, dtype=float)
    counts = np.asarray(actual_counts, dtype=float)
    if expected.shape != counts.shape or expected.ndim != 1:
        raise ValueError(f"expected_shares and actual_counts must be 1-D of the same length, got "
                         f"{expected.shape} and {counts.shape}")
    if np.any(expected < 0) or np.any(counts < 0):
        raise ValueError("shares and counts must be non-negative")
    total = counts.sum()
    if total == 0:
        return float("nan")
    actual = np.maximum(counts / total, floor)
    expected = np.maximum(expected, floor)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def drift_status(value: float, watch: float, alert: float) -> str:
    """``ok`` below ``watch``, ``watch`` from ``watch`` up to ``alert``, ``alert`` from ``alert`` on;
    ``not_computed`` for NaN (nothing to compare)."""
    if not watch < alert:
        raise ValueError(f"the watch threshold must be below the alert threshold, got {watch!r} and {alert!r}")
    if value != value:
        return "not_computed"
    return "alert" if value >= alert else "watch" if value >= watch else "ok"
