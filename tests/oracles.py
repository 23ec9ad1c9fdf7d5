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


def central_jacobian(f, theta, step: float = 1e-6) -> np.ndarray:
    """Central differences of ``f`` in each coordinate of ``theta``: column j is
    (f(θ + h·e_j) − f(θ − h·e_j)) / 2h (a vector of k partial derivatives when ``f`` returns a scalar)."""
    theta = np.asarray(theta, dtype=float)
    return np.stack([(np.asarray(f(theta + step * e)) - np.asarray(f(theta - step * e))) / (2 * step)
                     for e in np.eye(len(theta))], axis=-1)
