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
    promo_flexible_formula,
    with_promo_cluster,
)
from stats.calibration import brier_score, hosmer_lemeshow, reliability_curve
from stats.collinearity import generalized_variance_inflation, variance_inflation
from stats.correlation import phik_matrix, phik_with_target
from stats.diagnostics import influence_table, separation_check
from stats.logit import coefficient_table, fit_logit, fit_statistics

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


__all__ = [
    "PREDICTORS", "VIF_THRESHOLD", "correlation_checks", "vif_table", "gvif_table",
    "calibration_checks", "model_diagnostics",
]


# --------------------------------------------------------------------------------------------------------------
# Candidates, the choice rule, the business model and effects read at typical values
# --------------------------------------------------------------------------------------------------------------

CANDIDATE_COLUMNS = ["model", "auc_mean", "auc_conf_low", "auc_conf_high", "log_loss", "log_loss_diff",
                     "log_loss_diff_se", "tied", "brier", "hl_statistic", "hl_df", "hl_p_value", "calibration_slope",
                     "calibration_intercept", "n_folds", "folds_not_converged", "meets_target", "role", "chosen"]


def candidate_metrics(scores: pd.DataFrame, oof: pd.DataFrame, y: np.ndarray, n_train: int, n_test: int,
                      models, target: dict) -> pd.DataFrame:
    """Out-of-fold performance of each model on the same outer folds.

    ``auc_*`` and the corrected interval from :func:`stats.crossval.summarise_cv`; ``log_loss`` and ``brier``
    the means over the outer test folds; Hosmer–Lemeshow (``G`` df: the rows were not used to fit), calibration
    slope and calibration-in-the-large on the out-of-fold probabilities (averaged over repeats).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CANDIDATE_COLUMNS` (``role`` and ``chosen`` are filled by :func:`choose_model`).
        ``folds_not_converged``: outer folds whose fit reported ``converged: False`` in its ``fit_info``
        (missing for a model that reports no convergence flag); its out-of-fold scores there depend on where the
        iterations stopped.
    """
    from stats.calibration import calibration_slope_intercept
    from stats.crossval import summarise_cv

    summary = summarise_cv(scores[scores["model"].isin(models)], n_train, n_test).set_index("model")
    means = scores.groupby("model")[["log_loss", "brier"]].mean()
    rows = []
    for name in models:
        info = scores.loc[scores["model"] == name, "fit_info"]
        # outer folds whose fit said it did not converge; missing when the model does not report convergence
        flags = [d["converged"] for d in info if isinstance(d, dict) and "converged" in d]
        not_converged = sum(not bool(flag) for flag in flags) if flags else pd.NA
        p = oof[name].to_numpy()
        hl = hosmer_lemeshow(y, p, n_groups=10, out_of_sample=True).iloc[0]
        cal = calibration_slope_intercept(y, p).iloc[0]
        meets = bool(hl["p_value"] >= target["hl_p_value_min"]
                     and target["slope_low"] <= cal["calibration_slope"] <= target["slope_high"]
                     and abs(cal["calibration_intercept"]) <= target["intercept_abs_max"])
        rows.append({"model": name, "auc_mean": summary.loc[name, "auc_mean"],
                     "auc_conf_low": summary.loc[name, "auc_conf_low"],
                     "auc_conf_high": summary.loc[name, "auc_conf_high"],
                     "log_loss": means.loc[name, "log_loss"], "log_loss_diff": np.nan, "log_loss_diff_se": np.nan,
                     "tied": False, "brier": means.loc[name, "brier"],
                     "hl_statistic": float(hl["statistic"]), "hl_df": int(hl["df"]),
                     "hl_p_value": float(hl["p_value"]), "calibration_slope": float(cal["calibration_slope"]),
                     "calibration_intercept": float(cal["calibration_intercept"]),
                     "n_folds": int(summary.loc[name, "n_folds"]),
                     "folds_not_converged": not_converged, "meets_target": meets,
                     "role": "", "chosen": False})
    return pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)


def choose_model(table: pd.DataFrame, interpretable) -> str:
    """The inference model by the stated rule: lowest mean out-of-fold log loss among ``interpretable``."""
    pool = table[table["model"].isin(interpretable)]
    return str(pool.sort_values(["log_loss", "model"], kind="stable").iloc[0]["model"])


def log_loss_ties(table: pd.DataFrame, scores: pd.DataFrame, best: str, n_train: int, n_test: int) -> pd.DataFrame:
    """The tie rule: each candidate's mean out-of-fold log loss minus the best's on the same outer folds, with the
    Nadeau–Bengio corrected standard error of that difference; ``tied`` when the difference is at most one SE
    (the best model ties with itself).

    Returns
    -------
    pandas.DataFrame
        ``table`` with ``log_loss_diff``, ``log_loss_diff_se`` and ``tied`` filled for its models.
    """
    wide = scores.pivot_table(index=["repeat", "fold"], columns="model", values="log_loss", aggfunc="first")
    out = table.copy()
    diffs, ses = [], []
    for name in out["model"]:
        diff = (wide[name] - wide[best]).to_numpy()
        # the variance of stats.crossval.corrected_resampled_ttest: (1/J + n_test/n_train) s²
        diffs.append(float(diff.mean()))
        ses.append(float(np.sqrt((1.0 / len(diff) + n_test / n_train) * diff.var(ddof=1))))
    out["log_loss_diff"] = diffs
    out["log_loss_diff_se"] = ses
    out["tied"] = out["log_loss_diff"] <= out["log_loss_diff_se"]
    return out


def fitted_vif(result) -> pd.DataFrame:
    """VIF of every column of the fitted design (products and splines included), beside the linear design's.

    Returns
    -------
    pandas.DataFrame
        Columns ``term, vif, flagged``.
    """
    from stats.logit import design_frame

    vif = variance_inflation(design_frame(result))
    vif["flagged"] = vif["vif"] > VIF_THRESHOLD
    return vif


def fitted_gvif(result) -> pd.DataFrame:
    """Generalised VIF per term of the fitted design (a spline or a categorical as one term)."""
    from stats.logit import design_frame

    design = design_frame(result)
    info = result.model.data.model_spec  # patsy DesignInfo
    terms = {name: list(design.columns[s]) for name, s in info.term_name_slices.items() if name != "Intercept"}
    return generalized_variance_inflation(design, terms)


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
    from stats.margins import _design

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
                grad = (_design(result, up) - _design(result, down))[0] / (2 * h)
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


@dataclass
class ModelPair:
    """The model for inference and the model for the business figures (the same, or recalibrated)."""

    inference_code: str
    business_code: str
    inference: object          # stats.link_margins.LinkModel
    business: object           # stats.link_margins.LinkModel
    score: object              # frame -> score s with business p = map(s)
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


def _link_model(code: str, frame: pd.DataFrame, formula: str):
    """Full-data fit of an interpretable candidate as a LinkModel, with its score function and estimator (fitted
    once per candidate, formula and data; later calls return the same fit)."""
    key = (code, formula, _frame_key(frame), tuple(frame.columns))
    if key not in _FITS:
        if len(_FITS) > 32:
            _FITS.clear()
        _FITS[key] = _fit_link_model(code, frame, formula)
    return _FITS[key]


def _fit_link_model(code: str, frame: pd.DataFrame, formula: str):
    """Full-data fit of an interpretable candidate as a LinkModel, with its score function and estimator."""
    from scipy.special import logit as _logit

    from analysis.benchmark import candidate_models
    from stats.floor_logit import floor_link_pieces
    from stats.link_margins import LinkModel, logit_link_model
    from stats.logit import fit_logit
    import patsy

    from stats.design import build_design
    from stats.margins import _design, _model_spec

    X, y = frame[list(PREDICTORS)], frame[TARGET]
    if code in FORMULA_LOGITS:
        rhs = formula_of(code, formula)
        result = fit_logit(f"{TARGET} ~ {rhs}", with_promo_cluster(frame))

        spec = _model_spec(result)

        derive = code == "logit_promo_flexible"

        def design(f, result=result, spec=spec, derive=derive):
            # complete frames: patsy's design without its per-value missing check (stats.design); any other
            # model specification through statsmodels. The promotion cluster follows the (counterfactual) share.
            f = with_promo_cluster(f) if derive else f
            return build_design(spec, f, name="frame") if isinstance(spec, patsy.DesignInfo) else _design(result, f)

        link = logit_link_model(design, result.params, result.cov_params())
        return link, (lambda f: design(f) @ link.params), result
    estimator = candidate_models()[code][0].fit(X, y)
    if code == "logit_floor":
        prob, jac = floor_link_pieces()
        link = LinkModel(design=estimator.design, params=estimator.fit_.params, cov=estimator.fit_.cov, prob=prob,
                         jacobian=jac)
        return link, (lambda f: _logit(np.clip(link.predict(f), 1e-12, 1 - 1e-12))), estimator
    if code == "gam_engagement":
        link = logit_link_model(estimator.design, estimator.params_, estimator.cov_)
        return link, (lambda f: estimator.design(f) @ link.params), estimator
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

    link, score, estimator = _link_model(inference_code, frame, formula)
    if business_code == inference_code:
        return ModelPair(inference_code, business_code, link, link, score, None, estimator)
    calibrator = AsymptoteCalibrator().fit(oof_inference, frame[TARGET].to_numpy())
    return ModelPair(inference_code, business_code, link, recalibrated(link, calibrator), score, calibrator,
                     estimator)


def business_probability(pair: ModelPair, score: np.ndarray) -> np.ndarray:
    """The business probability of a score (the inference model's logit scale)."""
    from scipy.special import expit

    return expit(score) if pair.score_map is None else pair.score_map.transform_score(score)


def business_score(pair: ModelPair, p: np.ndarray) -> np.ndarray:
    """Inverse of :func:`business_probability`."""
    if pair.score_map is None:
        p = np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12)
        return np.log(p) - np.log1p(-p)
    return pair.score_map.inverse(p)


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
    from analysis.model_file import freeze_design

    design = freeze_design(gam.design_info_)
    for factor in design["factors"].values():
        if factor.get("kind") == "cr" and factor.get("variable") == column:
            return " ".join(f"{k:.6g}" for k in factor["knots"])
    return ""


def change_std_error(link):
    """``se(f, counterfactual)``: each customer's delta-method standard error of the change
    ``p(f) − p(counterfactual)`` of ``link`` (the inference model: :data:`analysis.decisions.EFFECT_SCALE`), from
    its covariance: ``J = ∂p(f)/∂θ − ∂p(cf)/∂θ``, ``se = sqrt(J V J')`` per row."""

    def se(f, counterfactual):
        J = link.jacobian(link.params, link.design(f)) - link.jacobian(link.params, link.design(counterfactual))
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", J, np.asarray(link.cov, dtype=float), J), 0.0))

    return se


def effect_tables(pair: ModelPair, frame: pd.DataFrame, formula: str) -> dict[str, pd.DataFrame]:
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

    # the candidates' full-data fits are shared with the decisions stage (_link_model fits each once)
    selected = _link_model("logit_selected", frame, formula)[2]
    robust = fit_logit(f"{TARGET} ~ {formula}", frame, cov_type="HC3")
    linear = _link_model("logit_linear", frame, formula)[2]
    fit = pd.concat([fit_statistics(selected).assign(model="logit_selected"),
                     fit_statistics(linear).assign(model="logit_linear")], ignore_index=True)
    fit = fit[["model"] + [c for c in fit.columns if c != "model"]]
    floor = _link_model("logit_floor", frame, formula)[2]
    floor_table = floor.fit_.table()
    floor_lr = floor_lr_test(floor.fit_.llf, linear.llf).assign(floor_gamma=floor.fit_.gamma)

    numeric = list(NUMERIC_PREDICTORS)
    categorical = {c: REFERENCE_LEVELS[c] for c in CATEGORICAL_PREDICTORS}
    linear_link, _, _ = _link_model("logit_linear", frame, formula)
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
        effect_model, _, _ = _link_model("logit_selected", frame, formula)
    gam = pair.estimator if pair.inference_code == "gam_engagement" else _link_model("gam_engagement", frame,
                                                                                       formula)[2]
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
        "vif_fitted": fitted_vif(selected),
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
