"""What the chosen models say: inference tables, conditional effects, the GAM's smooths, the recalibration map, the per-customer change's SE, and the scoring specification.

Each function takes the model frame (:func:`analysis.modeling.features.model_frame`) or fitted models and returns tidy
frames; the generic statistics live in :mod:`stats`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.dictionary import TARGET
from analysis.modeling.features import CATEGORICAL_PREDICTORS, NUMERIC_PREDICTORS, REFERENCE_LEVELS
from stats.logit import coefficient_table, fit_statistics

from analysis.settings import FULL
from analysis.modeling.checks import fitted_gvif, fitted_vif
from analysis.modeling.pair import FORMULA_LOGITS, ModelPair, formula_of, link_model


def typical_customer(frame: pd.DataFrame) -> pd.DataFrame:
    """One row: every numeric predictor at its median, every categorical at its reference level."""
    row = {c: float(np.median(frame[c])) for c in NUMERIC_PREDICTORS}
    row.update({c: REFERENCE_LEVELS[c] for c in CATEGORICAL_PREDICTORS})
    out = pd.DataFrame([row])
    for c in CATEGORICAL_PREDICTORS:
        out[c] = out[c].astype(frame[c].dtype)
    return out


def product_pairs(formula: str) -> list[tuple[str, str]]:
    """The pairs of variables that enter the formula as a (centred) product."""
    import re

    pairs = []
    for term in formula.split(" + "):
        names = re.findall(r"I\((\w+) - ", term)
        if ":" in term and len(names) == 2:
            pairs.append((names[0], names[1]))
    return pairs


CONDITIONAL_COLUMNS = ["variable", "partner", "partner_quantile", "partner_value", "log_odds_slope", "std_error",
                       "odds_ratio", "or_conf_low", "or_conf_high", "ame", "ame_std_error", "ame_conf_low",
                       "ame_conf_high"]


def conditional_effects(result, frame: pd.DataFrame, model, conf_level: float = 0.95,
                        quantiles=(0.25, 0.5, 0.75)) -> pd.DataFrame:
    """Effects of each variable that enters a product, at the quartiles of its partner.

    ``log_odds_slope``: ``∂η/∂x`` for the typical customer (:func:`typical_customer`) with the partner set to
    its quantile; its standard error from the model covariance (the slope is linear in the coefficients).
    ``ame``: the average marginal effect on the probability (``model``, the business
    :class:`~stats.link_margins.LinkModel`) with every customer's partner set to the quantile.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CONDITIONAL_COLUMNS`.
    """
    from stats._common import normal_quantile
    from stats.link_margins import average_marginal_effects as link_ames
    from stats.margins import result_design

    z = normal_quantile(conf_level)
    params = np.asarray(result.params, dtype=float)
    cov = np.asarray(result.cov_params(), dtype=float)
    formula = result.model.formula.split("~", 1)[1].strip()
    rows = []
    for a, b in product_pairs(formula):
        for variable, partner in ((a, b), (b, a)):
            for q in quantiles:
                value = float(np.quantile(frame[partner], q))
                typical = typical_customer(frame)
                typical[partner] = value
                h = 1e-4 * float(np.std(frame[variable]))
                up, down = typical.copy(), typical.copy()
                up[variable] += h
                down[variable] -= h
                grad = (result_design(result, up) - result_design(result, down))[0] / (2 * h)
                slope = float(grad @ params)
                se = float(np.sqrt(grad @ cov @ grad))
                fixed = frame.copy()
                fixed[partner] = value
                ame = link_ames(model, fixed, numeric=[variable], conf_level=conf_level).iloc[0]
                rows.append({"variable": variable, "partner": partner, "partner_quantile": q,
                             "partner_value": value, "log_odds_slope": slope, "std_error": se,
                             "odds_ratio": float(np.exp(slope)), "or_conf_low": float(np.exp(slope - z * se)),
                             "or_conf_high": float(np.exp(slope + z * se)), "ame": ame["estimate"],
                             "ame_std_error": ame["std_error"], "ame_conf_low": ame["conf_low"],
                             "ame_conf_high": ame["conf_high"]})
    return pd.DataFrame(rows, columns=CONDITIONAL_COLUMNS)


GAM_SMOOTH_COLUMNS = ["smooth", "basis", "n_basis", "knots", "penalty_scale", "alpha", "edf", "edf_total",
                      "n_coefficients"]


def gam_smooth_table(gam) -> pd.DataFrame:
    """The fitted GAM's smooths (all customers): basis, knots, the factor of the mgcv penalty scaling, the chosen
    weight α, the effective degrees of freedom of each smooth and of the whole model.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`GAM_SMOOTH_COLUMNS`; ``knots`` lists the knots (boundary knots included) as text.
    """
    rows = []
    for column, cols in gam.smooth_slices_.items():
        rows.append({"smooth": column, "basis": f"cr(df={gam.df}, constraints='center')",
                     "n_basis": int(cols.stop - cols.start), "knots": _knots_text(gam, column),
                     "penalty_scale": float(gam.penalty_scale_[column]), "alpha": float(gam.alpha_),
                     "edf": float(gam.edf_smooth_[column]), "edf_total": float(gam.edf_),
                     "n_coefficients": int(len(gam.params_))})
    return pd.DataFrame(rows, columns=GAM_SMOOTH_COLUMNS)


RECALIBRATION_COLUMNS = ["parameter", "value", "meaning"]


def recalibration_table(pair: ModelPair) -> pd.DataFrame:
    """The business model's recalibration map ``p = floor + (ceiling − floor)·expit(slope·s + shift)``, ``s`` the
    inference model's logit, with its parameters fitted on the inference model's out-of-fold probabilities (empty
    when the business model is not recalibrated).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RECALIBRATION_COLUMNS`.
    """
    if pair.score_map is None:
        return pd.DataFrame(columns=RECALIBRATION_COLUMNS)
    meaning = {"floor": "lowest probability the map gives (c0)", "ceiling": "highest probability (c1)",
               "slope": "a: stretch of the inference model's logit", "shift": "b: shift of the logit"}
    return pd.DataFrame([{"parameter": k, "value": float(v), "meaning": meaning[k]}
                         for k, v in pair.score_map.params().items()], columns=RECALIBRATION_COLUMNS)


def _knots_text(gam, column: str) -> str:
    """The knots of the smooth of ``column`` (boundary knots included), from the frozen design of the model file's
    writer, as text."""
    from analysis.modeling.model_file import freeze_design

    design = freeze_design(gam.design_info_)
    for factor in design["factors"].values():
        if factor.get("kind") == "cr" and factor.get("variable") == column:
            return " ".join(f"{k:.6g}" for k in factor["knots"])
    return ""


def change_std_error(link):
    """``se(f, counterfactual)``: each customer's delta-method standard error of the change
    ``p(f) − p(counterfactual)`` of ``link`` (the inference model: :data:`analysis.decisions.decide.EFFECT_SCALE`), from
    its covariance: ``J = ∂p(f)/∂θ − ∂p(cf)/∂θ``, ``se = sqrt(J V J')`` per row."""

    def se(f, counterfactual):
        J = link.jacobian(link.params, link.design(f)) - link.jacobian(link.params, link.design(counterfactual))
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", J, np.asarray(link.cov, dtype=float), J), 0.0))

    return se


def effect_tables(pair: ModelPair, frame: pd.DataFrame, formula: str,
                  vif_threshold: float = FULL.vif_threshold) -> dict[str, pd.DataFrame]:
    """Every inference table of the chosen models.

    - ``logit_coefficients`` / ``logit_coefficients_hc3``: the logit with the specification selected on all
      customers (model-based and HC3 standard errors); products are centred, so main-effect rows are effects at
      typical values of the partner.
    - ``model_fit``: fit statistics of the selected and the all-linear logit (no post-selection LR test: its
      p-value would ignore the search; the selection's stability across folds is reported instead).
    - ``floor_logit_coefficients`` and ``floor_lr_test``: the all-linear logit with a floor; the LR test of
      ``γ = 0`` uses the 50:50 χ²₀/χ²₁ mixture.
    - ``marginal_effects``: AMEs (delta method through the whole link) of the business model (``lead``), the
      inference model if different, and the all-linear logit (``sensitivity``); column ``model`` and ``role``.
    - ``conditional_effects``: effects of product variables at the quartiles of their partner.
    - ``vif_fitted`` / ``gvif_fitted``: collinearity of the fitted (selected) design.
    """
    from stats.floor_logit import floor_lr_test
    from stats.link_margins import average_marginal_effects as link_ames
    from stats.logit import fit_logit

    # the candidates' full-data fits are shared with the decisions stage (link_model fits each once)
    selected = link_model("logit_selected", frame, formula)[1]
    robust = fit_logit(f"{TARGET} ~ {formula}", frame, cov_type="HC3")
    linear = link_model("logit_linear", frame, formula)[1]
    fit = pd.concat([fit_statistics(selected).assign(model="logit_selected"),
                     fit_statistics(linear).assign(model="logit_linear")], ignore_index=True)
    fit = fit[["model"] + [c for c in fit.columns if c != "model"]]
    floor = link_model("logit_floor", frame, formula)[1]
    floor_table = floor.fit_.table()
    floor_lr = floor_lr_test(floor.fit_.llf, linear.llf).assign(floor_gamma=floor.fit_.gamma)

    numeric = list(NUMERIC_PREDICTORS)
    categorical = {c: REFERENCE_LEVELS[c] for c in CATEGORICAL_PREDICTORS}
    linear_link, _ = link_model("logit_linear", frame, formula)
    ames = [link_ames(pair.business, frame, numeric, categorical).assign(model=pair.business_code, role="lead")]
    if pair.inference_code != pair.business_code:
        ames.append(link_ames(pair.inference, frame, numeric, categorical).assign(model=pair.inference_code,
                                                                                  role="inference model"))
    if "logit_linear" not in (pair.business_code, pair.inference_code):
        ames.append(link_ames(linear_link, frame, numeric, categorical).assign(model="logit_linear",
                                                                               role="sensitivity"))
    marginal = pd.concat(ames, ignore_index=True)
    marginal = marginal[["model", "role"] + [c for c in marginal.columns if c not in ("model", "role")]]

    if pair.inference_code == "logit_selected":
        effect_model = pair.business
    else:
        effect_model, _ = link_model("logit_selected", frame, formula)
    gam = pair.estimator if pair.inference_code == "gam_engagement" else link_model("gam_engagement", frame,
                                                                                       formula)[1]
    from types import SimpleNamespace

    gam_result = SimpleNamespace(params=pd.Series(gam.params_, index=gam.column_names_),
                                 bse=pd.Series(np.sqrt(np.diag(gam.cov_)), index=gam.column_names_))
    return {
        "gam_smooths": gam_smooth_table(gam),
        "gam_coefficients": coefficient_table(gam_result),
        "recalibration_map": recalibration_table(pair),
        "logit_coefficients": coefficient_table(selected),
        "logit_coefficients_hc3": coefficient_table(robust),
        "model_fit": fit,
        "floor_logit_coefficients": floor_table,
        "floor_lr_test": floor_lr,
        "marginal_effects": marginal,
        "conditional_effects": conditional_effects(selected, frame, effect_model),
        "vif_fitted": fitted_vif(selected, vif_threshold),
        "gvif_fitted": fitted_gvif(selected),
        "_selected_result": selected,
    }


def linear_score_spec(pair: ModelPair, formula: str) -> tuple[str, pd.Series]:
    """The business model's score as a patsy right-hand side and named coefficients (for the model file):
    every interpretable candidate but the floor logit is linear in its design."""
    if pair.inference_code in FORMULA_LOGITS:
        return formula_of(pair.inference_code, formula), pair.estimator.params
    if pair.inference_code == "gam_engagement":
        return pair.estimator.formula_, pd.Series(pair.estimator.params_, index=pair.estimator.column_names_)
    if pair.inference_code == "logit_floor":
        return pair.estimator.formula, pd.Series(pair.estimator.fit_.beta, index=pair.estimator.fit_.names[:-1])
    raise NotImplementedError(f"the model file holds linear scores; {pair.inference_code} is not one")


def scoring_spec(pair: ModelPair, formula: str, frame: pd.DataFrame):
    """What the model file needs: a statsmodels-like formula result of the business model's score (the GAM is
    described by a formula logit model object carrying its penalised estimates and covariance) and the
    ``probability`` block (logit link, then the recalibration map when there is one)."""
    from types import SimpleNamespace

    import statsmodels.formula.api as smf

    score_formula, params = linear_score_spec(pair, formula)
    if pair.inference_code in FORMULA_LOGITS:
        result = pair.estimator
    else:
        model_object = smf.logit(f"{TARGET} ~ {score_formula}", frame)
        names = list(model_object.exog_names)
        matrix = (pair.estimator.cov_ if pair.inference_code == "gam_engagement"
                  else pair.estimator.fit_.cov[:-1, :-1])  # the floor's own variance is not needed to score
        cov = pd.DataFrame(matrix, index=names, columns=names)
        result = SimpleNamespace(model=model_object, params=pd.Series(np.asarray(params, dtype=float), index=names),
                                 cov_params=lambda: cov)
    probability = {"link": "logit"}
    if pair.inference_code == "logit_floor":
        probability = {"link": "floor_logit", "floor": float(pair.estimator.fit_.gamma)}
    if pair.score_map is not None:
        probability["calibrator"] = {"kind": "asymptote", **pair.score_map.params()}
    return result, probability
