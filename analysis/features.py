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

from analysis.dictionary import TARGET

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


def model_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The customer table plus the rescaled model columns; the input is not modified.

    Returns
    -------
    pandas.DataFrame
        All columns of ``table`` plus the columns of :data:`SCALED`.
    """
    frame = table.copy()
    for column, (source, divisor, _) in SCALED.items():
        frame[column] = frame[source] / divisor
    return frame


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
