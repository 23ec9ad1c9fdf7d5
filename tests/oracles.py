"""Hand computations the tests of several subjects compare against (no package code)."""

from __future__ import annotations

import numpy as np


def holm(p) -> np.ndarray:
    """Holm's step-down adjustment written out: sorted p times (m − rank), running maximum, capped at 1."""
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted
