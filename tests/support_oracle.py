"""The support rule of analysis.decisions.actions recomputed one customer at a time, against the modelling customers
themselves (not the reference counts the package stores): the oracle of the action, scenario and offer tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.decisions.actions import SUPPORT_MIN_CUSTOMERS


def cluster(frame: pd.DataFrame, column: str) -> np.ndarray:
    """The customer's own cluster of the variable: promotional share below or above one half; one cluster else."""
    if column != "promo_share_10pp":
        return np.zeros(len(frame), dtype=int)
    return (frame["promo_share_10pp"].to_numpy(dtype=float) >= 5 - 1e-9).astype(int)


def support_counts(frame: pd.DataFrame, lever, training: pd.DataFrame) -> np.ndarray:
    """For each customer: the training customers of the same cluster within |change|/2 of x + change (edges
    included; distances rounded to 9 decimals so that one-decimal values exactly half a step apart count)."""
    x = frame[lever.column].to_numpy(dtype=float)
    ref = training[lever.column].to_numpy(dtype=float)
    mine, theirs = cluster(frame, lever.column), cluster(training, lever.column)
    half = abs(lever.change) / 2
    counts = []
    for value, own in zip(x, mine):
        new = value + lever.change
        counts.append(int(np.sum((theirs == own) & (np.round(np.abs(ref - new), 9) <= half))))
    return np.array(counts, dtype=int)


def moved(frame: pd.DataFrame, lever, training: pd.DataFrame, k: int = SUPPORT_MIN_CUSTOMERS):
    """The action applied by its stated rule, customer by customer: ``(counterfactual, room, eligible)``.
    Eligible: consent where the action needs it; room: eligible and at least ``k`` supporting customers; the
    new value is x + change, never clipped."""
    eligible = np.array([(c == 1) or not lever.needs_consent for c in frame["contact_allowed"]])
    room = eligible & (support_counts(frame, lever, training) >= k)
    out = frame.copy()
    out[lever.column] = [v + lever.change if r else v for v, r in zip(frame[lever.column].to_numpy(float), room)]
    return out, room, eligible
