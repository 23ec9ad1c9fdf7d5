"""Model features: the customer table in units a reader can use, and the model specifications.

Units of the continuous predictors (so that a coefficient or an AME reads "per one of these"):

==================  ===============================  ==========================================
model column        from                             unit of one step
==================  ===============================  ==========================================
revenue_*_k         revenue_* (₽)                    1,000 ₽ of monthly revenue
tenure_100d         tenure_days                      100 days since registration
promo_share_10pp    promo_share (share 0–1)          10 percentage points of promotional purchases
all other counts    as exported                      one contact / category / item / page / minute
==================  ===============================  ==========================================

Categorical predictors use stated reference levels: ``service_type`` standard, ``popular_category``
kids_goods (the largest group), ``contact_allowed`` 0 (no consent).
"""

from __future__ import annotations

import pandas as pd

from analysis.data.dictionary import TARGET

#: Derived model column -> (source column, divisor, unit text).
SCALED = {
    "revenue_prev2_k": ("revenue_prev2", 1000.0, "per 1,000 ₽"),
    "revenue_prev_k": ("revenue_prev", 1000.0, "per 1,000 ₽"),
    "revenue_current_k": ("revenue_current", 1000.0, "per 1,000 ₽"),
    "tenure_100d": ("tenure_days", 100.0, "per 100 days"),
    "promo_share_10pp": ("promo_share", 0.1, "per 10 percentage points"),
}

NATURAL_UNITS = {
    "marketing_6m": "per contact / month",
    "marketing_current": "per contact",
    "categories_per_visit": "per category / visit",
    "unpaid_items": "per item",
    "service_errors": "per failure",
    "pages_per_visit": "per page / visit",
    "minutes_prev": "per minute",
    "minutes_current": "per minute",
}

REFERENCE_LEVELS = {"service_type": "standard", "popular_category": "kids_goods", "contact_allowed": 0}

NUMERIC_PREDICTORS = (
    "marketing_6m", "marketing_current", "tenure_100d", "promo_share_10pp", "categories_per_visit",
    "unpaid_items", "service_errors", "pages_per_visit", "revenue_prev2_k", "revenue_prev_k",
    "revenue_current_k", "minutes_prev", "minutes_current",
)
CATEGORICAL_PREDICTORS = ("service_type", "contact_allowed", "popular_category")
PREDICTORS = NUMERIC_PREDICTORS + CATEGORICAL_PREDICTORS

#: ``promo_share`` is bimodal: most customers buy 10–40 % on promotion, a separate cluster 74–99 %, almost no
#: one in between (3 customers in [0.5, 0.8) in the real data). This value separates the two clusters: the
#: promotion-dependent focus group, the cluster-specific promotion terms of the flexible candidate and the
#: support rule of the scenarios all use it.
PROMO_CLUSTER_SPLIT = 0.5
#: Model column: 1 for a customer in the upper promotion cluster (``promo_share ≥ PROMO_CLUSTER_SPLIT``).
PROMO_UPPER = "promo_upper"
#: Centre of the upper cluster's own promotion slope (``promo_share_10pp`` = 9, i.e. 90 % on promotion).
PROMO_UPPER_CENTRE = 9.0

#: Variables deliberately left out of the risk model, with the reason.
EXCLUDED_VARIABLES = {
    "id": "an identifier, no information about behaviour",
    "profit": "the value axis of the segmentation, kept out of the risk model so that risk and value stay "
              "two separate axes (its phik with the target is reported)",
    "revenue_prev2, revenue_prev, revenue_current, tenure_days, promo_share": "enter the model rescaled "
              "(columns *_k, tenure_100d, promo_share_10pp)",
}


def _categorical_term(name: str) -> str:
    reference = REFERENCE_LEVELS[name]
    ref = f"'{reference}'" if isinstance(reference, str) else reference
    return f"C({name}, Treatment({ref}))"


def linear_formula(predictors=PREDICTORS) -> str:
    """Right-hand side with every predictor entering linearly (categoricals against their reference)."""
    terms = [_categorical_term(p) if p in CATEGORICAL_PREDICTORS else p for p in predictors]
    return " + ".join(terms)


def promo_flexible_formula() -> str:
    """The all-linear right-hand side plus an intercept and a slope of its own for the upper promotion cluster:
    ``... + promo_share_10pp + promo_upper + I(promo_upper * (promo_share_10pp - 9))``. The promotion slope
    inside the upper cluster is then estimated from that cluster's customers instead of being borrowed from
    the lower one (where the linear term gets it)."""
    return (f"{linear_formula()} + {PROMO_UPPER} + "
            f"I({PROMO_UPPER} * (promo_share_10pp - {PROMO_UPPER_CENTRE}))")


def with_promo_cluster(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (a copy) with :data:`PROMO_UPPER` computed from ``promo_share_10pp``: always recomputed, so that a
    counterfactual value of the promotional share carries its own cluster."""
    out = frame.copy()
    # a tolerance far below the exports' two decimals: 0.5 / 0.1 must count as 5 however it rounds
    out[PROMO_UPPER] = (out["promo_share_10pp"].to_numpy(dtype=float) >= 10 * PROMO_CLUSTER_SPLIT - 1e-9).astype(float)
    return out


def model_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The customer table plus the rescaled model columns and the promotion cluster; the input is not modified.

    Returns
    -------
    pandas.DataFrame
        All columns of ``table`` plus the columns of :data:`SCALED` and :data:`PROMO_UPPER`.
    """
    frame = table.copy()
    for column, (source, divisor, _) in SCALED.items():
        frame[column] = frame[source] / divisor
    return with_promo_cluster(frame)


def unit_of(column: str) -> str:
    """The unit of one step of a model column (for table notes)."""
    if column in SCALED:
        return SCALED[column][2]
    if column in NATURAL_UNITS:
        return NATURAL_UNITS[column]
    if column in REFERENCE_LEVELS:
        return f"vs reference {REFERENCE_LEVELS[column]!r}"
    raise ValueError(f"unknown model column {column!r}")


def units_table() -> pd.DataFrame:
    """Columns ``variable, unit`` for every predictor of the model."""
    return pd.DataFrame({"variable": list(PREDICTORS), "unit": [unit_of(p) for p in PREDICTORS]})


def xy(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Predictors and target for the benchmark models."""
    return frame[list(PREDICTORS)], frame[TARGET]
