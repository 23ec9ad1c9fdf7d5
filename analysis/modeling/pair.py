"""The chosen pair of models: the inference model and the business model (possibly recalibrated), each as a link
model with its covariance, fitted on all customers.

Each function takes the model frame (:func:`analysis.modeling.features.model_frame`) or fitted models and returns tidy
frames; the generic statistics live in :mod:`stats`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.data.dictionary import TARGET
from analysis.modeling.features import PREDICTORS, linear_formula, promo_flexible_formula, with_promo_cluster


@dataclass
class ModelPair:
    """The model for inference and the model for the business figures (the same, or recalibrated)."""

    inference_code: str
    business_code: str
    inference: object          # stats.link_margins.LinkModel
    business: object           # stats.link_margins.LinkModel
    score_map: object | None   # AsymptoteCalibrator or None (p = expit(s) for logits)
    estimator: object          # the fitted full-data estimator (statsmodels result, classifier)


#: Candidates that are plain formula logits (statsmodels), and their right-hand sides.
FORMULA_LOGITS = ("logit_selected", "logit_linear", "logit_promo_flexible")


def formula_of(code: str, selected_formula: str) -> str:
    """The right-hand side of a formula-logit candidate (the selected one is the run's search result)."""
    return {"logit_selected": selected_formula, "logit_linear": linear_formula(),
            "logit_promo_flexible": promo_flexible_formula()}[code]


#: Full-data fits of the candidates, keyed by (code, formula, the frame's content hash): the effects stage and the
#: decisions stage need the same fits, and a fit is deterministic in its data.
_FITS: dict = {}


def _frame_key(frame: pd.DataFrame) -> int:
    return int(pd.util.hash_pandas_object(frame, index=True).sum())


def link_model(code: str, frame: pd.DataFrame, formula: str):
    """Full-data fit of an interpretable candidate: ``(LinkModel, estimator)`` (fitted once per candidate, formula
    and data; later calls return the same fit)."""
    key = (code, formula, _frame_key(frame), tuple(frame.columns))
    if key not in _FITS:
        if len(_FITS) > 32:
            _FITS.clear()
        _FITS[key] = fit_link_model(code, frame, formula)
    return _FITS[key]


def fit_link_model(code: str, frame: pd.DataFrame, formula: str):
    """Full-data fit of an interpretable candidate: ``(LinkModel, estimator)``."""
    from analysis.modeling.benchmark import candidate_models
    from stats.floor_logit import floor_link_pieces
    from stats.link_margins import LinkModel, logit_link_model
    from stats.logit import fit_logit
    import patsy

    from stats.design import build_design
    from stats.margins import result_design, result_model_spec

    X, y = frame[list(PREDICTORS)], frame[TARGET]
    if code in FORMULA_LOGITS:
        rhs = formula_of(code, formula)
        result = fit_logit(f"{TARGET} ~ {rhs}", with_promo_cluster(frame))

        spec = result_model_spec(result)

        derive = code == "logit_promo_flexible"

        def design(f, result=result, spec=spec, derive=derive):
            # complete frames: patsy's design without its per-value missing check (stats.design); any other
            # model specification through statsmodels. The promotion cluster follows the (counterfactual) share.
            f = with_promo_cluster(f) if derive else f
            return build_design(spec, f, name="frame") if isinstance(spec, patsy.DesignInfo) else result_design(result, f)

        return logit_link_model(design, result.params, result.cov_params()), result
    estimator = candidate_models()[code][0].fit(X, y)
    if code == "logit_floor":
        prob, jac = floor_link_pieces()
        return LinkModel(design=estimator.design, params=estimator.fit_.params, cov=estimator.fit_.cov, prob=prob,
                         jacobian=jac), estimator
    if code == "gam_engagement":
        return logit_link_model(estimator.design, estimator.params_, estimator.cov_), estimator
    raise ValueError(f"unknown interpretable model {code!r}")


def recalibrated(link, calibrator):
    """``p = g(logit(p_base))`` with the recalibration map ``g`` held fixed (delta method conditional on it)."""
    from stats.link_margins import LinkModel

    def prob(params, X):
        p = np.clip(link.prob(params, X), 1e-12, 1 - 1e-12)
        return calibrator.transform_score(np.log(p) - np.log1p(-p))

    def jacobian(params, X):
        p = np.clip(link.prob(params, X), 1e-12, 1 - 1e-12)
        s = np.log(p) - np.log1p(-p)
        return (calibrator.derivative(s) / (p * (1 - p)))[:, None] * link.jacobian(params, X)

    return LinkModel(design=link.design, params=link.params, cov=link.cov, prob=prob, jacobian=jacobian)


def model_pair(inference_code: str, business_code: str, frame: pd.DataFrame, formula: str,
               oof_inference: np.ndarray) -> ModelPair:
    """Fit the chosen model on all customers; when the business model is its recalibrated version, the map is
    fitted on the inference model's out-of-fold probabilities (never on in-sample ones)."""
    from stats.calibration import AsymptoteCalibrator

    link, estimator = link_model(inference_code, frame, formula)
    if business_code == inference_code:
        return ModelPair(inference_code, business_code, link, link, None, estimator)
    calibrator = AsymptoteCalibrator().fit(oof_inference, frame[TARGET].to_numpy())
    return ModelPair(inference_code, business_code, link, recalibrated(link, calibrator), calibrator, estimator)
