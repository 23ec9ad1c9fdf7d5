"""Small shared helpers of the :mod:`stats` toolkit (validation, intervals)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import stats as sps


def check_conf_level(conf_level: float) -> float:
    """Return ``conf_level`` as float after checking ``0 < conf_level < 1``."""
    try:
        value = float(conf_level)
    except (TypeError, ValueError):
        raise ValueError(f"conf_level must be a number in (0, 1), got {conf_level!r}") from None
    if not (0.0 < value < 1.0) or not np.isfinite(value):
        raise ValueError(f"conf_level must be in (0, 1), got {conf_level!r}")
    return value


def check_choice(name: str, value: object, allowed: Iterable[object]) -> None:
    """Raise ``ValueError`` naming ``value`` when it is not one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed!r}, got {value!r}")


def check_positive_int(name: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` as int after checking it is an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def normal_quantile(conf_level: float) -> float:
    """Two-sided standard-normal critical value for ``conf_level``."""
    return float(sps.norm.ppf(0.5 + check_conf_level(conf_level) / 2.0))


def wald_columns(estimate: np.ndarray, std_error: np.ndarray, conf_level: float) -> dict[str, np.ndarray]:
    """Wald z statistic, two-sided p value and normal interval.

    Returns a dict with keys ``statistic, p_value, conf_low, conf_high``.
    """
    estimate = np.asarray(estimate, dtype=float)
    std_error = np.asarray(std_error, dtype=float)
    z_crit = normal_quantile(conf_level)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = estimate / std_error
    p_value = 2.0 * sps.norm.sf(np.abs(statistic))
    return {
        "statistic": statistic,
        "p_value": p_value,
        "conf_low": estimate - z_crit * std_error,
        "conf_high": estimate + z_crit * std_error,
    }


def binary_array(y: object, name: str = "y") -> np.ndarray:
    """Return ``y`` as a float array of 0/1 values; ``ValueError`` otherwise."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype == bool:
        return arr.astype(float)
    try:
        arr = arr.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must contain only 0/1 values") from None
    bad = ~np.isin(arr, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"{name} must contain only 0/1 values, found {arr[bad][:5]!r}")
    return arr


def probability_array(p: object, name: str = "p") -> np.ndarray:
    """Return ``p`` as a float array checked to lie in [0, 1]."""
    arr = np.asarray(p, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    bad = ~((arr >= 0.0) & (arr <= 1.0))
    if bad.any():
        raise ValueError(f"{name} must lie in [0, 1], found {arr[bad][:5]!r}")
    return arr
