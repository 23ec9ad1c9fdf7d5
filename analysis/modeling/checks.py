"""Exploration and model checks: phik, VIF and GVIF, calibration, ROC curves, diagnostics of a fitted logit.

Each function takes the model frame (:func:`analysis.modeling.features.model_frame`) or fitted models and returns tidy
frames; the generic statistics live in :mod:`stats`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy

from analysis.settings import FULL
from analysis.data.dictionary import TARGET
from analysis.modeling.features import linear_formula
from stats.calibration import brier_score, hosmer_lemeshow, reliability_curve
from stats.collinearity import generalized_variance_inflation, variance_inflation
from stats.correlation import phik_matrix, phik_with_target
from stats.diagnostics import influence_table, separation_check




#: Variables for phik: the predictors in their natural units plus profit, the value axis of the segments.
PHIK_VARIABLES = (
    "service_type", "contact_allowed", "marketing_6m", "marketing_current", "tenure_days", "promo_share",
    "popular_category", "categories_per_visit", "unpaid_items", "service_errors", "pages_per_visit",
    "revenue_prev2", "revenue_prev", "revenue_current", "minutes_prev", "minutes_current", "profit",
)


PHIK_INTERVAL = tuple(v for v in PHIK_VARIABLES if v not in ("service_type", "contact_allowed", "popular_category"))


def correlation_checks(frame: pd.DataFrame, seed: int,
                       n_simulations: int = FULL.n_simulations) -> tuple[pd.DataFrame, pd.DataFrame]:
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


def vif_table(frame: pd.DataFrame, threshold: float = FULL.vif_threshold) -> pd.DataFrame:
    """VIF of each column of the linear design (all predictors linear, categoricals as dummies).

    Returns
    -------
    pandas.DataFrame
        Columns ``term, vif, flagged`` (``flagged``: VIF above ``threshold``, the protocol's ``vif_threshold``).
    """
    design = patsy.dmatrix(linear_formula(), frame, return_type="dataframe")
    vif = variance_inflation(design)
    vif["flagged"] = vif["vif"] > threshold
    return vif


def gvif_table(frame: pd.DataFrame, threshold: float = FULL.vif_threshold) -> pd.DataFrame:
    """Generalised VIF per predictor (categoricals as one term), from the linear design."""
    design = patsy.dmatrix(linear_formula(), frame, return_type="dataframe")
    info = design.design_info
    terms = {}
    for name, term_slice in info.term_name_slices.items():
        if name == "Intercept":
            continue
        terms[name] = list(design.columns[term_slice])
    return generalized_variance_inflation(design, terms)


def roc_curves(y: np.ndarray, oof: pd.DataFrame) -> pd.DataFrame:
    """The empirical ROC curve of every column of pooled out-of-fold probabilities, with its pooled AUC.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, fpr, tpr, pooled_auc`` (one row per threshold of ``sklearn.metrics.roc_curve``).
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    parts = []
    for name in oof.columns:
        fpr, tpr, _ = roc_curve(y, oof[name].to_numpy())
        parts.append(pd.DataFrame({"model": name, "fpr": fpr, "tpr": tpr,
                                   "pooled_auc": roc_auc_score(y, oof[name].to_numpy())}))
    return pd.concat(parts, ignore_index=True)


def calibration_checks(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Calibration of out-of-fold probabilities (Hosmer–Lemeshow with G degrees of freedom: no parameter was
    estimated on these rows).

    Returns
    -------
    (curve, tests)
        ``curve`` from :func:`stats.calibration.reliability_curve`; ``tests`` one row ``brier, brier_reference,
        hl_statistic, hl_df, hl_p_value`` (``brier_reference`` is the Brier score of always predicting the
        base rate).
    """
    curve = reliability_curve(y, p, n_bins=n_bins)
    hl = hosmer_lemeshow(y, p, n_groups=n_bins, out_of_sample=True)  # out-of-fold rows: G degrees of freedom
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


def fitted_vif(result, threshold: float = FULL.vif_threshold) -> pd.DataFrame:
    """VIF of every column of the fitted design (products and splines included), beside the linear design's.

    Returns
    -------
    pandas.DataFrame
        Columns ``term, vif, flagged``.
    """
    from stats.logit import design_frame

    vif = variance_inflation(design_frame(result))
    vif["flagged"] = vif["vif"] > threshold
    return vif


def fitted_gvif(result) -> pd.DataFrame:
    """Generalised VIF per term of the fitted design (a spline or a categorical as one term)."""
    from stats.logit import design_frame

    design = design_frame(result)
    info = result.model.data.model_spec  # patsy DesignInfo
    terms = {name: list(design.columns[s]) for name, s in info.term_name_slices.items() if name != "Intercept"}
    return generalized_variance_inflation(design, terms)
