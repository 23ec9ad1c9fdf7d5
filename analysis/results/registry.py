"""The results bundle: THE registry of result tables (name -> columns -> meaning), writing and loading.

``python -m analysis run`` writes every table through :func:`write_table`, which refuses a frame whose columns
differ from the registry; the report reads them back with :func:`load_results`. ``docs/results.md`` is generated
from the registry by :func:`results_markdown` (a test keeps the file in step), as ``data/README.md`` is from
:mod:`analysis.data.dictionary`.

Column vocabulary: estimates carry ``estimate, std_error, statistic, p_value, conf_low, conf_high`` where a table
is new or rewritten; intervals are at the confidence level of ``protocol.csv`` (``conf_level``). Codes are
snake_case (models, segments, actions, offers); display labels live in :mod:`analysis.report.labels`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.paths import RESULTS_DIR, RESULTS_ENV_VAR, resolve_results_dir



@dataclass(frozen=True)
class ResultTable:
    """One table of the results bundle: its columns in order, what it holds, and whether further columns
    (one per model code) may follow the listed ones."""

    columns: tuple[str, ...]
    meaning: str
    open_columns: bool = False


#: Every table ``python -m analysis run`` writes (``<name>.csv``) and the report may read.
REGISTRY: dict[str, ResultTable] = {
    "accuracy_gap": ResultTable(
        ("model", "reference", "auc_diff", "std_error", "conf_low", "conf_high", "statistic", "p_value", "margin", "tost_p_value", "equivalent",),
        "Each interpretable candidate against the best benchmarked model (reference): AUC difference with its Nadeau–Bengio corrected CI and t test, and a TOST equivalence test against `margin` (`equivalent` only when tost_p_value < 0.05; a non-significant difference is not equivalence)."),
    "action_effects": ResultTable(
        ("group", "action", "kind", "assumption", "n_customers", "n_eligible", "n_without_support", "n_with_room", "decline_rate_baseline", "decline_rate_scenario", "effect", "std_error", "conf_low", "conf_high", "std_error_delta", "customers_kept", "customers_kept_low", "customers_kept_high", "profit_retained_upper", "profit_retained_upper_low", "profit_retained_upper_high", "interval",),
        "The rows of `scenarios` (store actions, `kind` action) and `assumption_scenarios` (kind assumption) together, for the experiment plan."),
    "action_tests": ResultTable(
        ("action", "column", "hypothesis", "estimate", "std_error", "statistic", "p_value", "p_value_holm", "conf_low", "conf_high", "std_error_delta", "n_models_tied", "robust", "offered", "recommended",),
        "One hypothesis per store action (AME of its column under the inference model = 0: changes come from the inference model, decisions.EFFECT_SCALE): bootstrap SD and normal interval (estimate ± z·SD, protocol `bootstrap_interval`), Wald statistic with the bootstrap SD, Holm over the store actions; std_error_delta beside; robust = the AME interval is below zero under every candidate tied with the best log loss; offered = Holm p < α and the bootstrap interval below zero (the per-customer offers use it); recommended = offered and robust (a roll-out). p-values are conditional on the model's form."),
    "action_value": ResultTable(
        ("action", "n_treated", "contacts_per_customer", "effect", "effect_conf_low", "effect_conf_high", "customers_kept", "customers_kept_low", "customers_kept_high", "profit_retained_month", "profit_retained_month_low", "profit_retained_month_high", "horizon_months", "break_even_per_customer", "break_even_per_customer_low", "break_even_per_customer_high", "break_even_per_contact", "break_even_per_contact_low", "break_even_per_contact_high", "offered", "recommended",),
        "What each store action is worth among the high-risk customers it can reach (n_treated): change in P(decline), customers kept, monthly profit retained (upper bound), and the break-even cost per treated customer (profit retained per treated customer per month × horizon_months) and per contact (÷ contacts_per_customer), all with bootstrap intervals. An upper bound, like profit at risk."),
    "allowed_levers": ResultTable(
        ("action",),
        "Codes of the store actions allowed in offers (`offered` in `action_tests`)."),
    "assumption_scenarios": ResultTable(
        ("group", "action", "kind", "assumption", "n_customers", "n_eligible", "n_without_support", "n_with_room", "decline_rate_baseline", "decline_rate_scenario", "effect", "std_error", "conf_low", "conf_high", "std_error_delta", "customers_kept", "customers_kept_low", "customers_kept_high", "profit_retained_upper", "profit_retained_upper_low", "profit_retained_upper_high", "interval",),
        "Scenarios of store actions that can at most influence a customer behaviour (a cart reminder, fewer promotional mailings): each holds only under its `assumption`. Never in the headline, recommendations or offers; tested by the experiment plan. Columns as `scenarios`."),
    "bootstrap_replicates": ResultTable(
        ("replicate", "alpha", "floor", "ceiling", "slope", "shift", "converged",),
        "Each replicate of the customer bootstrap: the GAM's penalty weight chosen by AIC (NaN for an unpenalised logit), the recalibration map's parameters when a replicate refits one (NaN: the changes are the inference model's, decisions.EFFECT_SCALE, so no map is refitted) and whether every fit converged."),
    "calibration_curve": ResultTable(
        ("bin", "n", "mean_predicted", "observed_rate", "conf_low", "conf_high", "model",),
        "Reliability curve of out-of-fold probabilities per model: decile bins with Wilson CI of the observed rate."),
    "calibration_tests": ResultTable(
        ("brier", "brier_reference", "hl_statistic", "hl_df", "hl_p_value", "model",),
        "Out-of-fold Brier score (and base-rate reference) and Hosmer–Lemeshow test (G df) per model."),
    "centring_values": ResultTable(
        ("variable", "centre", "rule",),
        "Typical values (medians) at which numeric variables are centred before forming products."),
    "conditional_effects": ResultTable(
        ("variable", "partner", "partner_quantile", "partner_value", "log_odds_slope", "std_error", "odds_ratio", "or_conf_low", "or_conf_high", "ame", "ame_std_error", "ame_conf_low", "ame_conf_high",),
        "For each variable in a product, its log-odds slope, odds ratio (CI) and AME (CI) at the quartiles of its partner."),
    "customer_groups": ResultTable(
        ("id", "group",),
        "Grid segment code of each customer (business model's out-of-fold risk × profit)."),
    "customer_table": ResultTable(
        ("id", "activity_decline", "service_type", "contact_allowed", "marketing_6m", "marketing_current", "tenure_days", "promo_share", "popular_category", "categories_per_visit", "unpaid_items", "service_errors", "pages_per_visit", "revenue_prev2", "revenue_prev", "revenue_current", "minutes_prev", "minutes_current", "profit",),
        "The modelling table: one row per regular customer (data/README.md documents the columns)."),
    "cv_scores": ResultTable(
        ("model", "repeat", "fold", "auc", "log_loss", "brier", "best_params", "fit_info",),
        "Per model, repeat and outer fold: AUC, log loss, Brier score, tuned hyper-parameters and fit notes."),
    "data_files": ResultTable(
        ("file", "sha256", "bytes",),
        "The four exports analysed: SHA-256 and size."),
    "deployed_predictions": ResultTable(
        ("id", "p_oof", "p_deployed", "segment", "offer", "risk_drop", "risk_drop_conf_low", "risk_drop_conf_high",),
        "Every training customer under the deployed model (the business model fitted on all customers, as results/model.json holds it): its probability beside the out-of-fold one the run's lists use, and the segment, offer and risk drop (the inference model's change, delta-method interval) it implies. `score` on the training export gives these from the model file alone (to 1e-12)."),
    "effects_by_model": ResultTable(
        ("model", "role", "tied", "action", "kind", "quantity", "group", "n_customers", "estimate", "std_error", "conf_low", "conf_high", "interval",),
        "Each action's AME (quantity ame, per unit of its column, all customers) and its scenario among all high-risk customers (quantity scenario) under every interpretable candidate and the business model: interval delta (conditional on that fitted model) or bootstrap (the decision's estimate: the inference model's change, whole procedure). tied: the candidate ties with the best out-of-fold log loss."),
    "engagement_associations": ResultTable(
        ("group", "outcome", "n_with_room", "n_without_support", "decline_rate_baseline", "decline_rate_scenario", "effect", "conf_low", "conf_high",),
        "Engagement outcomes (pages, categories) among all high-risk customers: difference in P(decline) associated with more engagement (delta-method CI, conditional on the business model). Associations, not levers: no customers kept, no test, never offered."),
    "excluded_customers": ResultTable(
        ("id", "step", "reason", "detail",),
        "Customers removed by the business rules, with the rule and a detail."),
    "excluded_variables": ResultTable(
        ("variable", "reason",),
        "Variables left out of the risk model as exported, with the reason."),
    "experiment_plan": ResultTable(
        ("group", "action", "n_customers", "n_with_room", "baseline_rate", "predicted_effect", "predicted_conf_low", "predicted_conf_high", "kind", "assumption", "n_per_arm_available", "mde_80", "n_per_arm_80", "n_per_arm_90", "n_per_arm_80_ci_bound", "feasible", "note",),
        "A/B-test plan of every store action and every assumption-based action (kind) per group (analysis.decisions.experiment): baseline = mean out-of-fold risk of the customers with room, predicted effect with CI, customers per arm for 80 % and 90 % power (α = 0.05, two-sided), minimum detectable effect of the customers available (mde_80), feasible, a plain-words note."),
    "floor_logit_coefficients": ResultTable(
        ("term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high",),
        "All-linear logit with a floor p = γ + (1 − γ)·expit(η), ML; row floor_gamma is γ."),
    "floor_lr_test": ResultTable(
        ("lr_chi2", "df", "p_value", "null_distribution", "floor_gamma",),
        "LR test of γ = 0 for the floor logit, on the boundary: 50:50 χ²₀/χ²₁ mixture."),
    "gam_coefficients": ResultTable(
        ("term", "estimate", "std_error", "z", "p_value", "conf_low", "conf_high", "odds_ratio", "odds_ratio_low", "odds_ratio_high",),
        "Coefficients of the logistic GAM on all customers (the inference model when it is chosen): the linear terms and the spline basis coefficients, with the Bayesian covariance (H + 2αS)⁻¹ conditional on the chosen weight; Wald z, p and CI."),
    "gam_smooths": ResultTable(
        ("smooth", "basis", "n_basis", "knots", "penalty_scale", "alpha", "edf", "edf_total", "n_coefficients",),
        "The logistic GAM on all customers, one row per smooth: the basis (natural cubic regression spline, centred), its knots (boundary knots included), the factor by which its roughness penalty was scaled (mgcv's scale.penalty: ‖X_j‖²∞ / ‖S_j‖∞), the weight α chosen by AIC (one for all smooths), the smooth's effective degrees of freedom and the model's."),
    "gvif": ResultTable(
        ("term", "n_columns", "gvif", "gvif_adjusted",),
        "Generalised VIF per predictor of the linear design."),
    "gvif_fitted": ResultTable(
        ("term", "n_columns", "gvif", "gvif_adjusted",),
        "Generalised VIF per term of the fitted (selected, centred) design."),
    "headline": ResultTable(
        ("n_exported", "n_customers", "decline_rate", "n_duplicate_rows", "n_typo_labels", "n_typo_cells", "n_not_regular", "n_extreme_revenue", "promotion_split", "share_promo_upper", "n_vif_flagged", "n_comparison_pairs", "n_pairs_significant", "n_pairs_significant_holm", "risk_threshold", "n_high_risk", "share_high_risk", "profit_at_risk_upper_total", "profit_at_risk_upper_high_risk", "share_profit_at_risk_high_risk", "top_segment", "top_segment_n", "top_segment_share", "top_segment_mean_p", "top_segment_observed_rate", "top_segment_profit_at_risk_upper", "top_segment_share_of_profit_at_risk", "inference_model", "business_model", "business_meets_target", "business_hl_p_value", "business_calibration_slope", "business_calibration_intercept", "n_models", "best_model", "best_auc", "business_auc", "auc_diff", "auc_diff_conf_low", "auc_diff_conf_high", "auc_diff_p_value", "equivalence_margin", "tost_p_value", "equivalent", "quick", "n_offered", "n_personal_contact", "plan_expected_declines", "plan_customers_kept", "plan_customers_kept_low", "plan_customers_kept_high", "plan_profit_retained", "plan_profit_retained_low", "plan_profit_retained_high", "plan_share_of_profit_at_risk",),
        "Headline numbers of the executive summary and the counts the report's prose quotes, one row: computed by analysis.summary from the other tables (plan_*: the total row of `offer_plan`; n_duplicate_rows, n_typo_*, n_not_regular, n_extreme_revenue from `row_accounting` and `typo_corrections`; share_promo_upper: customers at or above promotion_split, the `promotion` threshold; n_vif_flagged from `vif`; n_pairs_significant(_holm) at the protocol's α over `model_comparison`)."),
    "headline_actions": ResultTable(
        ("action", "recommended", "offered", "robust", "p_value_holm", "n_treated", "effect", "conf_low", "conf_high", "std_error", "std_error_delta", "model_min", "model_max", "model_min_code", "model_max_code", "n_models", "customers_kept", "customers_kept_low", "customers_kept_high", "profit_retained_month", "profit_retained_month_low", "profit_retained_month_high", "break_even_per_customer", "break_even_per_customer_low", "break_even_per_customer_high", "break_even_per_contact", "break_even_per_contact_low", "break_even_per_contact_high",),
        "One row per store action, the figures of the executive summary and the brief: recommended, offered, robust and Holm p (`action_tests`), the business model's scenario among the high-risk customers it can reach with the bootstrap interval and both SEs, the range of that scenario over every interpretable candidate, and the money of `action_value`."),
    "influence": ResultTable(
        ("row", "leverage", "cooks_distance", "pearson_residual", "deviance_residual", "id",),
        "The most influential customers of the selected logit (Cook's distance, leverage, residuals)."),
    "levers": ResultTable(
        ("action", "column", "variable", "control", "change", "description", "kind", "needs_consent", "contacts", "assumption",),
        "Every scenario variable: code, model column, the data-dictionary variable and its control class, change, description (in the variable's own terms), kind (action, assumption or engagement), consent needed, contacts per treated customer, the assumption a scenario rests on."),
    "logit_coefficients": ResultTable(
        ("term", "estimate", "std_error", "z", "p_value", "conf_low", "conf_high", "odds_ratio", "odds_ratio_low", "odds_ratio_high",),
        "Coefficients of the logit with the specification selected on all customers (model-based SE); products centred."),
    "logit_coefficients_hc3": ResultTable(
        ("term", "estimate", "std_error", "z", "p_value", "conf_low", "conf_high", "odds_ratio", "odds_ratio_low", "odds_ratio_high",),
        "The same coefficients with HC3 sandwich standard errors."),
    "marginal_effects": ResultTable(
        ("model", "role", "variable", "contrast", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high",),
        "Average marginal effects (delta method through the whole link): role lead = business model, inference model, sensitivity = plain all-linear logit."),
    "model_benchmark": ResultTable(
        ("model", "auc_mean", "auc_sd", "auc_conf_low", "auc_conf_high", "n_folds", "log_loss", "brier", "test_auc",),
        "Every model of the nested CV: mean AUC with corrected CI, log loss, Brier, single hold-out AUC."),
    "model_candidates": ResultTable(
        ("model", "auc_mean", "auc_conf_low", "auc_conf_high", "log_loss", "log_loss_diff", "log_loss_diff_se", "tied", "brier", "hl_statistic", "hl_df", "hl_p_value", "calibration_slope", "calibration_intercept", "n_folds", "folds_not_converged", "meets_target", "role", "chosen",),
        "Interpretable candidates on the same outer folds with calibration against the target; log_loss_diff and log_loss_diff_se: mean out-of-fold log loss minus the best candidate's with the Nadeau–Bengio corrected SE; tied: within one SE (the tie rule of `protocol`); folds_not_converged counts the outer folds whose fit reported no convergence (empty: the model reports none); role (a code: inference, business, or inference_and_business) says which model is for inference and which gives the business figures; chosen marks the business model."),
    "model_comparison": ResultTable(
        ("model_a", "model_b", "auc_diff", "statistic", "p_value", "p_value_holm",),
        "Pairwise corrected resampled t tests of AUC, with Holm-adjusted p over all pairs."),
    "model_fit": ResultTable(
        ("model", "n", "n_events", "df_model", "log_likelihood", "null_log_likelihood", "lr_chi2", "lr_df", "lr_p_value", "pseudo_r2_mcfadden", "aic", "bic", "converged", "cov_type",),
        "Fit statistics of the selected and the all-linear logit on all customers."),
    "model_units": ResultTable(
        ("variable", "unit",),
        "Unit of one step of each model variable."),
    "offer_plan": ResultTable(
        ("offer", "n_customers", "expected_declines", "profit_at_risk_upper", "customers_kept", "customers_kept_low", "customers_kept_high", "profit_retained_upper", "profit_retained_upper_low", "profit_retained_upper_high", "share_of_declines_avoided", "share_of_profit_at_risk_retained",),
        "The offer plan among the high-risk customers: per offered action, personal_contact and total: customers, expected declines (Σ P) and profit at risk (Σ P × profit, upper bound) beside expected customers kept and monthly profit retained (upper bound) with bootstrap intervals, and the shares of declines avoided and of profit at risk retained."),
    "offers": ResultTable(
        ("id", "p_decline", "profit", "segment", "offer", "risk_drop", "risk_drop_conf_low", "risk_drop_conf_high",),
        "One offer per customer: an offered store action (`action_tests`), `none` or `personal_contact`; segment and high risk from the labelled (out-of-fold) probability; risk_drop the inference model's predicted change (decisions.EFFECT_SCALE), with its delta-method interval (conditional on the fitted model)."),
    "recalibration_map": ResultTable(
        ("parameter", "value", "meaning",),
        "The business model's recalibration map p = floor + (ceiling − floor)·expit(slope·s + shift), s the inference model's logit, fitted by maximum likelihood on the inference model's out-of-fold probabilities (empty without recalibration)."),
    "roc_curves": ResultTable(
        ("model", "fpr", "tpr", "pooled_auc",),
        "Empirical ROC curve of each model's pooled out-of-fold probabilities (one row per threshold) and its pooled AUC (slightly optimistic against the per-fold AUCs of `model_benchmark`)."),
    "oof_predictions": ResultTable(
        ("id", "y_true",),
        "Out-of-fold P(decline) of every model (averaged over repeats); one column per model code.", open_columns=True),
    "phik_matrix": ResultTable(
        ("variable_a", "variable_b", "phik",),
        "phik correlation of every pair of variables (long format)."),
    "phik_target": ResultTable(
        ("variable", "phik", "p_value", "significance_z",),
        "phik correlation of each variable with the target, simulation-based p-value."),
    "protocol": ResultTable(
        ("name", "value", "meaning",),
        "The rules stated before the run: choice rule, calibration target, equivalence margin, α, confidence level, thresholds, hold-out share."),
    "recommendations": ResultTable(
        ("group", "rank", "action", "n_with_room", "effect", "conf_low", "conf_high", "customers_kept", "customers_kept_low", "customers_kept_high", "profit_retained_upper", "profit_retained_upper_low", "profit_retained_upper_high", "share_with_room",),
        "Per group, the store actions offered (`action_tests`) with the group's scenario estimates and bootstrap intervals, ranked by customers kept over the next three months."),
    "row_accounting": ResultTable(
        ("step", "rows_in", "rows_out", "removed", "reason",),
        "Rows in and out of every step from the raw exports to the analysed customers."),
    "run_info": ResultTable(
        ("seed", "protocol", "quick", "data_dir", "formula", "n_customers", "decline_rate",),
        "Seed, protocol, formula, number of customers and decline rate of the run."),
    "run_times": ResultTable(
        ("stage", "seconds",),
        "Seconds per stage of the run."),
    "scenarios": ResultTable(
        ("group", "action", "kind", "assumption", "n_customers", "n_eligible", "n_without_support", "n_with_room", "decline_rate_baseline", "decline_rate_scenario", "effect", "std_error", "conf_low", "conf_high", "std_error_delta", "customers_kept", "customers_kept_low", "customers_kept_high", "profit_retained_upper", "profit_retained_upper_low", "profit_retained_upper_high", "interval",),
        "What-if of every store action per group: the inference model's change in P(decline over the next three months) among the customers with room (eligible: consent; supported: the support rule of `protocol`), with n_without_support; customers kept and monthly profit retained (upper bound). `interval` bootstrap: SD and normal interval (estimate ± z·SD, protocol `bootstrap_interval`) of the customer bootstrap of the whole procedure behind the change (the penalty weight re-chosen, any specification search redone), conditional on the model's form; std_error_delta the delta-method SE holding the weight fixed. No p-values: each action is tested once (`action_tests`)."),
    "segment_profiles": ResultTable(
        ("segment", "variable", "level", "kind", "group_value", "rest_value", "effect_size", "effect_measure", "conf_low", "conf_high", "test", "statistic", "p_value", "p_adjusted", "role",),
        "Each group against the rest; role described (the variable defines the group: no test) or tested (Holm)."),
    "segment_sensitivity": ResultTable(
        ("risk_threshold", "profit_quantile", "profit_threshold", "segment", "n_customers", "profit_at_risk_upper",),
        "Size and upper-bound profit at risk of each grid segment as the thresholds move."),
    "segment_thresholds": ResultTable(
        ("threshold", "value", "rule",),
        "Segment thresholds and their rules."),
    "segments": ResultTable(
        ("segment", "kind", "n_customers", "share", "mean_p_decline", "observed_decline_rate", "mean_profit", "profit_at_risk_upper",),
        "Grid segments and focus groups: size, mean predicted and observed decline rate, mean profit, profit at risk (upper bound)."),
    "selection_sets": ResultTable(
        ("specification", "n_folds", "share_of_folds",),
        "The specifications selected inside the outer training folds and how often each was chosen."),
    "selection_stability": ResultTable(
        ("term", "n_folds", "share_of_folds",),
        "How often each candidate term was selected inside the outer training folds."),
    "separation": ResultTable(
        ("separation", "n_fitted_extreme", "max_abs_coef", "max_std_error", "method",),
        "Separation check of the selected logit."),
    "specification_steps": ResultTable(
        ("step", "candidate", "kind", "score_chi2", "df", "p_value", "threshold", "selected",),
        "Forward selection on all customers: score (LM) test of every candidate at every step, Bonferroni threshold."),
    "typo_corrections": ResultTable(
        ("file", "column", "typo", "correction", "rows",),
        "Known typos corrected on reading, with the number of cells."),
    "vif": ResultTable(
        ("term", "vif", "flagged",),
        "Variance inflation factors of the linear design."),
    "vif_fitted": ResultTable(
        ("term", "vif", "flagged",),
        "Variance inflation factors of the fitted (selected, centred) design."),
}
#: Written last: a results directory without it is an unfinished run.
LAST_TABLE = "run_info"


def check_columns(frame: pd.DataFrame, name: str) -> None:
    """Raise ``ValueError`` (one line, naming the table) when ``frame`` does not have the registry's columns."""
    if name not in REGISTRY:
        raise ValueError(f"result table {name!r} is not in the registry (analysis/results/registry.py)")
    spec = REGISTRY[name]
    columns = tuple(frame.columns)
    head = columns[:len(spec.columns)]
    if head != spec.columns or (len(columns) > len(spec.columns) and not spec.open_columns):
        raise ValueError(f"result table {name}: columns {list(columns)} differ from the registry's "
                         f"{list(spec.columns)}")


def write_table(frame: pd.DataFrame, results_dir: Path, name: str) -> Path:
    """Write ``frame`` as ``results_dir/<name>.csv`` after checking its columns against :data:`REGISTRY`."""
    check_columns(frame, name)
    path = Path(results_dir) / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


class Results(dict):
    """``name -> DataFrame`` for every table of :data:`REGISTRY`, plus the directory they came from."""

    directory: Path

    def __init__(self, tables: dict[str, pd.DataFrame], directory: Path):
        super().__init__(tables)
        self.directory = directory


def _read(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:  # a table with no rows (e.g. no recommended action)
        return pd.DataFrame()


def read_tables(results_dir: str | os.PathLike, names) -> dict[str, pd.DataFrame]:
    """Read the named tables of a results directory (no check that the run is complete)."""
    return {name: _read(Path(results_dir) / f"{name}.csv") for name in names}


def load_results(results_dir: str | os.PathLike | None = None) -> Results:
    """Read every table of the registry; raises ``FileNotFoundError`` naming all missing tables and
    ``ValueError`` naming a table whose columns differ from the registry."""
    directory = resolve_results_dir(results_dir)
    from analysis.results.store import verify as verify_results

    verify_results(directory)  # refuse a tampered, mixed or unfinished results directory, in one line
    missing = [name for name in REGISTRY if not (directory / f"{name}.csv").is_file()]
    if missing:
        raise FileNotFoundError(f"{directory.name}: missing result tables {', '.join(missing)} "
                                "(run `python -m analysis run` first)")
    tables = read_tables(directory, REGISTRY)
    for name, frame in tables.items():
        if len(frame.columns):
            check_columns(frame, name)
    return Results(tables, directory)


def results_markdown() -> str:
    """Render ``docs/results.md`` from :data:`REGISTRY` (the file is checked against this by a test)."""
    lines = [
        "# The results bundle",
        "",
        "`python -m analysis run` writes these tables to `results/` (one CSV each) through the registry in",
        "`analysis/results/registry.py`, which checks every table's columns; the report reads only these files.",
        "Intervals are at the confidence level of `protocol.csv` (`conf_level`); codes are snake_case and are",
        "labelled in `analysis/report/labels.py`.",
        "",
        "This file is generated from the registry: `docs/results.md` in the repository (`python -m",
        "analysis.results.registry > docs/results.md`; a test checks that it is in step) and `results/README.md`,",
        "which every run writes beside the tables. `manifest.json` records the run (seed, protocol, package and",
        "code versions, the SHA-256 of every export and every file here); the report refuses files that do not",
        "match it.",
        "",
        "| Table | Columns | Meaning |",
        "|---|---|---|",
    ]
    for name, spec in REGISTRY.items():
        columns = ", ".join(f"`{c}`" for c in spec.columns) + (", one column per model code"
                                                                 if spec.open_columns else "")
        meaning = spec.meaning.replace("|", "\\|")
        lines.append(f"| `{name}.csv` | {columns} | {meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(results_markdown(), end="")
