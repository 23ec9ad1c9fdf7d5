"""The risk model for this store: exploration checks, the chosen logit, its inference and diagnostics.

Each function takes the model frame (:func:`analysis.features.model_frame`) and returns tidy frames; the
generic statistics live in :mod:`stats`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import patsy

from analysis.dictionary import TARGET
from analysis.features import (
    CATEGORICAL_PREDICTORS,
    NUMERIC_PREDICTORS,
    PREDICTORS,
    REFERENCE_LEVELS,
    linear_formula,
)
from stats.calibration import brier_score, hosmer_lemeshow, reliability_curve
from stats.collinearity import generalized_variance_inflation, variance_inflation
from stats.correlation import phik_matrix, phik_with_target
from stats.diagnostics import influence_table, separation_check
from stats.logit import coefficient_table, fit_logit, fit_statistics, likelihood_ratio_test
from stats.margins import average_marginal_effects

#: VIF above this flags a predictor (a common rule of thumb: 5 is "worth a look", 10 "serious").
VIF_THRESHOLD = 5.0

#: Variables for phik: the predictors in their natural units plus profit, the value axis of the segments.
PHIK_VARIABLES = (
    "service_type", "contact_allowed", "marketing_6m", "marketing_current", "tenure_days", "promo_share",
    "popular_category", "categories_per_visit", "unpaid_items", "service_errors", "pages_per_visit",
    "revenue_prev2", "revenue_prev", "revenue_current", "minutes_prev", "minutes_current", "profit",
)
PHIK_INTERVAL = tuple(v for v in PHIK_VARIABLES if v not in ("service_type", "contact_allowed", "popular_category"))


def correlation_checks(frame: pd.DataFrame, seed: int, n_simulations: int = 1000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """phik matrix of all variables and phik of each variable with the target, with significance.

    Returns
    -------
    (matrix, with_target)
        ``matrix``: long frame ``variable_a, variable_b, phik``; ``with_target``: ``variable, phik, p_value,
        significance_z``, sorted by phik descending.
    """
    data = frame[list(PHIK_VARIABLES) + [TARGET]]
    matrix = phik_matrix(data[list(PHIK_VARIABLES)], interval_cols=list(PHIK_INTERVAL))
    long = matrix.rename_axis("variable_a").reset_index().melt(
        id_vars="variable_a", var_name="variable_b", value_name="phik")
    with_target = phik_with_target(data, TARGET, interval_cols=list(PHIK_INTERVAL), seed=seed,
                                   n_simulations=n_simulations)
    return long, with_target.sort_values("phik", ascending=False).reset_index(drop=True)


def vif_table(frame: pd.DataFrame) -> pd.DataFrame:
    """VIF of each column of the linear design (all predictors linear, categoricals as dummies).

    Returns
    -------
    pandas.DataFrame
        Columns ``term, vif, flagged`` (``flagged``: VIF above :data:`VIF_THRESHOLD`).
    """
    design = patsy.dmatrix(linear_formula(), frame, return_type="dataframe")
    vif = variance_inflation(design)
    vif["flagged"] = vif["vif"] > VIF_THRESHOLD
    return vif


def gvif_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Generalised VIF per predictor (categoricals as one term), from the linear design."""
    design = patsy.dmatrix(linear_formula(), frame, return_type="dataframe")
    info = design.design_info
    terms = {}
    for name, term_slice in info.term_name_slices.items():
        if name == "Intercept":
            continue
        terms[name] = list(design.columns[term_slice])
    return generalized_variance_inflation(design, terms)


@dataclass
class LogitFit:
    """The chosen logit and the tables that describe it."""

    formula: str
    result: object
    coefficients: pd.DataFrame
    coefficients_robust: pd.DataFrame
    fit: pd.DataFrame
    marginal_effects: pd.DataFrame
    lr_vs_linear: pd.DataFrame


def ame_variables() -> dict[str, str]:
    """Every predictor with its kind for the AMEs: numeric as derivatives, categoricals as discrete changes."""
    kinds = {p: "numeric" for p in NUMERIC_PREDICTORS}
    kinds.update({p: "categorical" for p in CATEGORICAL_PREDICTORS})
    return kinds


def fit_chosen_logit(frame: pd.DataFrame, formula: str) -> LogitFit:
    """Fit the chosen specification; coefficients (model-based and HC3), fit statistics, AMEs, LR vs linear."""
    result = fit_logit(f"{TARGET} ~ {formula}", frame)
    robust = fit_logit(f"{TARGET} ~ {formula}", frame, cov_type="HC3")
    linear = fit_logit(f"{TARGET} ~ {linear_formula()}", frame)
    fit = pd.concat([fit_statistics(result).assign(model="logit_spec"),
                     fit_statistics(linear).assign(model="logit_linear")], ignore_index=True)
    fit = fit[["model"] + [c for c in fit.columns if c != "model"]]
    ame = average_marginal_effects(result, frame, variables=ame_variables(), reference=REFERENCE_LEVELS)
    lr = (likelihood_ratio_test(linear, result) if formula != linear_formula()
          else pd.DataFrame(columns=["lr_chi2", "df", "p_value"]))
    return LogitFit(formula=formula, result=result, coefficients=coefficient_table(result),
                    coefficients_robust=coefficient_table(robust), fit=fit, marginal_effects=ame,
                    lr_vs_linear=lr)


def calibration_checks(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Calibration of out-of-fold probabilities.

    Returns
    -------
    (curve, tests)
        ``curve`` from :func:`stats.calibration.reliability_curve`; ``tests`` one row ``brier, brier_reference,
        hl_statistic, hl_df, hl_p_value`` (``brier_reference`` is the Brier score of always predicting the
        base rate).
    """
    curve = reliability_curve(y, p, n_bins=n_bins)
    hl = hosmer_lemeshow(y, p, n_groups=n_bins)
    base = float(np.mean(y))
    tests = pd.DataFrame([{
        "brier": brier_score(y, p),
        "brier_reference": brier_score(y, np.full(len(y), base)),
        "hl_statistic": float(hl["statistic"].iloc[0]),
        "hl_df": int(hl["df"].iloc[0]),
        "hl_p_value": float(hl["p_value"].iloc[0]),
    }])
    return curve, tests


def model_diagnostics(result, top: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Separation check and the most influential customers of the fitted logit."""
    return separation_check(result), influence_table(result, top=top)


__all__ = [
    "PREDICTORS", "VIF_THRESHOLD", "correlation_checks", "vif_table", "gvif_table", "fit_chosen_logit",
    "calibration_checks", "model_diagnostics", "LogitFit",
]
