"""The benchmark: the interpretable candidates against the models published solutions of this case use.

Every model is a full estimator whose learned steps run inside the folds: encoding and scaling (sklearn
Pipelines), the logit's specification search (:class:`analysis.modeling.specification.SelectedLogitClassifier`), the
smoothing weight of the penalised splines and the recalibration map. Hyper-parameters are tuned only in the
inner loop of a nested, repeated stratified K-fold; the grids are small on purpose (two cores).

Interpretable candidates (:data:`INTERPRETABLE`): the logit with its specification selected inside each fold,
the all-linear logit, the logit with a floor (ML), penalised regression splines of the engagement variables, and
the all-linear logit with a promotion term of its own for the upper cluster of the bimodal promotional share.
The rule for choosing among them, with its tie rule, is stated before the run (:data:`CHOICE_RULE`,
:data:`TIE_RULE`) and applied by :func:`choose_model`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from analysis.codes import ROLES
from analysis.settings import FULL
from analysis.modeling.features import (
    CATEGORICAL_PREDICTORS,
    NUMERIC_PREDICTORS,
    linear_formula,
    promo_flexible_formula,
    with_promo_cluster,
)
from analysis.modeling.specification import SelectedLogitClassifier
from stats.calibration import AsymptoteCalibrator, hosmer_lemeshow
from stats.floor_logit import FloorLogitClassifier
from stats.gam import PenalizedSplineLogitClassifier
from stats.logit import FormulaLogitClassifier

#: Every model code of the run, in the order tables list them (display labels: analysis/report/labels.py).
MODEL_ORDER = (
    "logit_selected",
    "logit_selected_recalibrated",
    "logit_linear",
    "logit_floor",
    "gam_engagement",
    "gam_engagement_recalibrated",
    "logit_promo_flexible",
    "logit_promo_flexible_recalibrated",
    "logit_linear_recalibrated",
    "logit_floor_recalibrated",
    "logit_l2",
    "svc_rbf",
    "random_forest",
    "decision_tree",
    "knn",
)

#: Interpretable candidates for inference: each has coefficients with standard errors.
INTERPRETABLE = ("logit_selected", "logit_linear", "logit_floor", "gam_engagement", "logit_promo_flexible")

#: Engagement variables entered as penalised splines in the GAM candidate.
GAM_SMOOTH = ("pages_per_visit", "categories_per_visit", "minutes_prev", "minutes_current")

#: Calibration target of the chosen model (out of fold), stated before the run.
CALIBRATION_TARGET = {"hl_p_value_min": 0.05, "slope_low": 0.9, "slope_high": 1.1, "intercept_abs_max": 0.1}

#: Equivalence margin for the AUC gap to the best benchmarked model (TOST on the corrected t), stated in advance:
#: a difference in AUC below 0.01 would not change which customers fall in the top risk groups in practice.
EQUIVALENCE_MARGIN = 0.01

CHOICE_RULE = (
    "Among the interpretable candidates, the one with the lowest mean out-of-fold log loss is the model for "
    "inference. If its out-of-fold calibration meets the target (Hosmer–Lemeshow p ≥ 0.05 with G df, calibration "
    "slope in [0.9, 1.1], calibration-in-the-large within ±0.1), its probabilities are used for the business "
    "figures; otherwise its version recalibrated inside each fold (floor-and-ceiling logistic map) is evaluated on "
    "the same folds and used for the business figures, and both are reported."
)

TIE_RULE = (
    "Candidates whose mean out-of-fold log loss lies within one corrected standard error (Nadeau–Bengio, over the "
    "outer folds) of the lowest tie with it. A tie does not change the choice above, but the decisions must hold "
    "under every tied candidate: a store action is recommended only if its average marginal effect lowers the "
    "decline with an interval below zero under each of them, and the headline gives each action's effect as the "
    "range across all interpretable candidates beside the business model's bootstrap interval."
)


class ClusterPromotionLogit(FormulaLogitClassifier):
    """The all-linear logit plus an intercept and a slope of its own for the upper promotion cluster
    (:func:`analysis.modeling.features.promo_flexible_formula`); the cluster column is derived from ``promo_share_10pp``
    when the rows do not carry it."""

    def __init__(self, formula: str | None = None, cov_type: str = "nonrobust", maxiter: int = 100):
        super().__init__(formula=formula if formula is not None else promo_flexible_formula(), cov_type=cov_type,
                         maxiter=maxiter)

    def fit(self, X: pd.DataFrame, y):
        return super().fit(with_promo_cluster(X), y)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return super().decision_function(with_promo_cluster(X))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return super().predict_proba(with_promo_cluster(X))


class TabularEncoder(TransformerMixin, BaseEstimator):
    """Numeric columns standardised (or passed through) and categorical columns one-hot encoded with the first
    level dropped, learned on the rows given to ``fit``: the same matrix as
    ``ColumnTransformer([("num", StandardScaler(), numeric), ("cat", OneHotEncoder(drop="first",
    handle_unknown="ignore"), categorical)])`` (a test checks it to 1e-12), computed with numpy.

    The benchmark's grid searches fit and apply this step thousands of times; scikit-learn's column transformer
    spent more time in pandas than the models did in fitting.

    Levels are the sorted distinct values of the training rows; a level not seen in ``fit`` is encoded as the
    dropped first level (all zeros), as ``handle_unknown="ignore"`` does. A constant numeric column (by
    ``StandardScaler``'s bound on the variance's rounding error) is centred and not scaled (scale 1), as there.
    """

    def __init__(self, numeric=NUMERIC_PREDICTORS, categorical=CATEGORICAL_PREDICTORS, scale: bool = True):
        self.numeric = numeric
        self.categorical = categorical
        self.scale = scale

    def fit(self, X: pd.DataFrame, y=None):
        values = X[list(self.numeric)].to_numpy(dtype=float)
        if self.scale:
            self.mean_ = values.mean(axis=0)
            var = values.var(axis=0)
            # StandardScaler leaves a column unscaled when its variance is within the rounding error of the
            # two-pass variance (its bound: sklearn.preprocessing._data._is_constant_feature)
            n, eps = len(values), np.finfo(float).eps
            constant = var <= n * eps * var + (n * self.mean_ * eps) ** 2
            self.scale_ = np.where(constant, 1.0, np.sqrt(var))
        self.levels_ = [np.unique(X[c].to_numpy(dtype=object)) for c in self.categorical]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        numeric = X[list(self.numeric)].to_numpy(dtype=float)
        if self.scale:
            numeric = (numeric - self.mean_) / self.scale_
        dummies = [(X[c].to_numpy(dtype=object)[:, None] == levels[None, 1:]).astype(float)
                   for c, levels in zip(self.categorical, self.levels_)]
        return np.column_stack([numeric, *dummies])


def _preprocess(scale: bool = True) -> TabularEncoder:
    return TabularEncoder(scale=scale)


#: Training rows above which the SVM is fitted on a stratified random subsample (see :class:`SigmoidSVC`).
SVC_MAX_ROWS = 2000


class SigmoidSVC(ClassifierMixin, BaseEstimator):
    """An RBF support vector machine whose scores are mapped to probabilities by a sigmoid fitted on the
    training decision values.

    ``SVC(probability=True)`` (deprecated in scikit-learn 1.9) runs an internal 5-fold CV and made the benchmark
    three times slower. The sigmoid here is fitted in-sample, so its probabilities are somewhat over-confident;
    the ranking, and with it the ROC-AUC of the benchmark, is exactly that of the SVM's decision function.

    Above ``max_rows`` training rows (:data:`SVC_MAX_ROWS`) the machine is fitted on a stratified random
    subsample of that many rows (seeded by ``random_state``), in the inner tuning as in the final fit: libsvm's
    cost grows with the square of the rows. The store's data (about a thousand rows per training fold) is below
    the bound, so there it is fitted on every row.

    The decision function ``f(x) = Σ_i a_i exp(−γ‖x − s_i‖²) + b`` over the support vectors ``s_i`` is computed
    with numpy (one matrix product) rather than by libsvm's pairwise loop, which was most of the cost of the
    benchmark's SVM; a test checks it against ``SVC.decision_function``.
    """

    def __init__(self, C: float = 1.0, gamma="scale", max_rows: int | None = SVC_MAX_ROWS, random_state=None):
        self.C = C
        self.gamma = gamma
        self.max_rows = max_rows
        self.random_state = random_state

    def fit(self, X, y):
        X = np.asarray(X, dtype=float)
        y = np.asarray(y)
        if self.max_rows is not None and len(y) > self.max_rows:
            # libsvm's cost grows with the square of the rows: above max_rows, a stratified random subsample
            keep, _ = train_test_split(np.arange(len(y)), train_size=self.max_rows, stratify=y,
                                       random_state=self.random_state)
            X, y = X[np.sort(keep)], y[np.sort(keep)]
        self.svc_ = SVC(kernel="rbf", C=self.C, gamma=self.gamma).fit(X, y)
        self.classes_ = self.svc_.classes_
        self.support_vectors_ = self.svc_.support_vectors_
        self.sv_norms_ = np.einsum("ij,ij->i", self.support_vectors_, self.support_vectors_)
        scores = self.decision_function(X).reshape(-1, 1)
        self.sigmoid_ = LogisticRegression(C=1e6, max_iter=1000).fit(scores, y)
        return self

    def decision_function(self, X):
        X = np.asarray(X, dtype=float)
        sq = np.einsum("ij,ij->i", X, X)[:, None] + self.sv_norms_[None, :] - 2.0 * (X @ self.support_vectors_.T)
        kernel = np.exp(-self.svc_._gamma * np.maximum(sq, 0.0))
        return kernel @ self.svc_.dual_coef_[0] + self.svc_.intercept_[0]

    def predict_proba(self, X):
        return self.sigmoid_.predict_proba(self.decision_function(X).reshape(-1, 1))

    def predict(self, X):
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


def _gam_linear_formula() -> str:
    return " + ".join(t for t in linear_formula().split(" + ") if t not in GAM_SMOOTH)


def candidate_models() -> dict[str, tuple[object, dict | None]]:
    """The interpretable candidates: name -> (estimator, None)."""
    return {
        "logit_selected": (SelectedLogitClassifier(), None),
        "logit_linear": (FormulaLogitClassifier(formula=linear_formula()), None),
        "logit_floor": (FloorLogitClassifier(formula=linear_formula()), None),
        "gam_engagement": (PenalizedSplineLogitClassifier(linear_formula=_gam_linear_formula(), smooth=GAM_SMOOTH),
                           None),
        "logit_promo_flexible": (ClusterPromotionLogit(), None),
    }


class OOBTunedForest(ClassifierMixin, BaseEstimator):
    """A random forest whose leaf size and feature share are chosen by the out-of-bag ROC-AUC on the training
    rows: each setting is grown once to ``tuning_trees`` trees and judged on the rows its trees did not see,
    instead of refitting it on every inner fold (tuned on the training rows only). The winner is then grown on
    to ``n_estimators`` trees (``warm_start``: the result is the forest a direct fit of ``n_estimators`` trees
    with the same seed gives, tree for tree; a test checks it), so only one setting pays for the full forest."""

    def __init__(self, grid=None, n_estimators: int = 200, tuning_trees: int = 100, random_state=None):
        self.grid = grid
        self.n_estimators = n_estimators
        self.tuning_trees = tuning_trees
        self.random_state = random_state

    def fit(self, X, y):
        y = np.asarray(y)
        best = None
        tuning = min(self.tuning_trees, self.n_estimators)
        for params in (self.grid or [{"min_samples_leaf": 2, "max_features": "sqrt"}]):
            forest = RandomForestClassifier(n_estimators=tuning, oob_score=True, n_jobs=1,
                                            random_state=self.random_state, **params).fit(X, y)
            score = roc_auc_score(y, forest.oob_decision_function_[:, 1])
            if best is None or score > best[0]:
                best = (score, params, forest)
        self.oob_auc_, self.best_params_, self.forest_ = best
        if self.n_estimators > tuning:
            self.forest_.set_params(n_estimators=self.n_estimators, warm_start=True, oob_score=False).fit(X, y)
        self.classes_ = self.forest_.classes_
        return self

    def cv_info(self):
        return {"oob_auc": self.oob_auc_, **self.best_params_}

    def predict_proba(self, X):
        return self.forest_.predict_proba(X)

    def predict(self, X):
        return self.forest_.predict(X)


#: Trees of the benchmark's forest, and of the forests whose out-of-bag AUC chooses its setting.
FOREST_TREES = 200
FOREST_TUNING_TREES = 100

#: The forest's tuning grid (out-of-bag AUC on the training rows).
FOREST_GRID = [{"min_samples_leaf": leaf, "max_features": features}
               for leaf in (2, 10) for features in ("sqrt", 0.5)]


class Recalibrated(ClassifierMixin, BaseEstimator):
    """A base classifier followed by a floor-and-ceiling recalibration map fitted on the training rows only.

    ``fit``: the base is fitted on all rows given; out-of-fold probabilities of the same procedure on
    ``inner_splits`` stratified folds of those rows feed :class:`stats.calibration.AsymptoteCalibrator`. When the
    base chose a specification (``formula_``), the inner folds refit that formula rather than search again
    (which keeps the cost to one search per outer fold; the inner predictions are then slightly optimistic, so
    the map, if anything, under-corrects).
    """

    def __init__(self, base=None, inner_splits: int = 5, seed: int = 0):
        self.base = base
        self.inner_splits = inner_splits
        self.seed = seed

    def fit(self, X, y):
        y = np.asarray(y)
        self.base_ = clone(self.base).fit(X, y)
        # a specification search is not repeated in the inner folds (its formula is refitted); any other base
        # (e.g. penalised splines, whose smoothing weight is re-chosen) is cloned as it is
        inner_model = (FormulaLogitClassifier(formula=self.base_.formula_)
                       if isinstance(self.base_, SelectedLogitClassifier) else clone(self.base))
        oof = np.zeros(len(y))
        folds = StratifiedKFold(self.inner_splits, shuffle=True, random_state=self.seed)
        for train, test in folds.split(np.zeros(len(y)), y):
            fitted = clone(inner_model).fit(X.iloc[train], y[train])
            oof[test] = fitted.predict_proba(X.iloc[test])[:, 1]
        self.calibrator_ = AsymptoteCalibrator().fit(oof, y)
        self.classes_ = np.array([0, 1])
        return self

    def cv_info(self):
        return self.calibrator_.params()

    def predict_proba(self, X):
        p = self.calibrator_.transform(self.base_.predict_proba(X)[:, 1])
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def benchmark_models(seed: int) -> dict[str, tuple[object, dict | None]]:
    """The other models of the benchmark: name -> (estimator, inner-loop parameter grid or None)."""
    return {
        "logit_l2": (
            Pipeline([("prep", _preprocess()),
                      ("model", LogisticRegression(solver="liblinear", max_iter=2000, random_state=seed))]),
            {"model__C": [0.05, 0.5], "model__l1_ratio": [0.0, 1.0]},
        ),
        "svc_rbf": (
            Pipeline([("prep", _preprocess()), ("model", SigmoidSVC())]),
            {"model__C": [0.5, 2.0], "model__gamma": ["scale", 0.02]},
        ),
        "random_forest": (
            Pipeline([("prep", _preprocess(scale=False)),
                      ("model", OOBTunedForest(grid=FOREST_GRID, n_estimators=FOREST_TREES,
                                                tuning_trees=FOREST_TUNING_TREES, random_state=seed))]),
            None,
        ),
        "decision_tree": (
            Pipeline([("prep", _preprocess(scale=False)),
                      ("model", DecisionTreeClassifier(random_state=seed))]),
            {"model__max_depth": [3, 4, 5, 7], "model__min_samples_leaf": [10]},
        ),
        "knn": (
            Pipeline([("prep", _preprocess()), ("model", KNeighborsClassifier())]),
            {"model__n_neighbors": [15, 31, 51]},
        ),
    }


def holdout_auc(models: dict, X: pd.DataFrame, y: pd.Series, seed: int, test_size: float = FULL.holdout_share,
                inner_splits: int = 3, n_jobs: int = 1) -> pd.DataFrame:
    """ROC-AUC on one stratified 25 % hold-out (tuned on the 75 % only), for comparison with published numbers.

    Each model is one task of the nested CV's own (:func:`stats.crossval.one_fold`: the grid search of
    ``GridSearchCV``'s procedure on ``inner_splits`` shuffled stratified folds of the 75 %, seeded by ``seed``);
    the models run as ``n_jobs`` parallel tasks.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, test_auc, n_test``.
    """
    from joblib import Parallel, delayed

    from stats.crossval import one_fold, validate_parameters

    y = np.asarray(y)
    # the rows of train_test_split(X, ...), in its order (which the inner folds depend on)
    train, test = train_test_split(np.arange(len(y)), test_size=test_size, stratify=y, random_state=seed)
    for name, (estimator, grid) in models.items():
        validate_parameters(name, estimator, grid)
    outputs = Parallel(n_jobs=n_jobs)(
        delayed(one_fold)(name, estimator, grid, X, y, train, test, inner_splits, "roc_auc", seed)
        for name, (estimator, grid) in models.items())
    rows = [{"model": name, "test_auc": roc_auc_score(y[test], proba), "n_test": len(test)}
            for name, proba, _auc, _best, _info in outputs]
    return pd.DataFrame(rows, columns=["model", "test_auc", "n_test"])


def ordered(frame: pd.DataFrame, column: str = "model") -> pd.DataFrame:
    """Rows in the order of :data:`MODEL_ORDER`."""
    order = {name: i for i, name in enumerate(MODEL_ORDER)}
    return frame.sort_values(column, key=lambda s: s.map(order).fillna(len(order)).astype(np.int64),
                             kind="stable").reset_index(drop=True)


@dataclass
class BenchmarkResult:
    """Everything the benchmark stage produces."""

    tables: dict
    oof: pd.DataFrame
    inference: str
    business: str
    calibration_models: list


def _selection_stability(scores: pd.DataFrame) -> pd.DataFrame:
    """How often each candidate term was chosen by the in-fold selection (share of the outer folds)."""
    chosen = scores.loc[scores["model"] == "logit_selected", "fit_info"]
    n = len(chosen)
    counts: dict[str, int] = {}
    for terms in chosen:
        for term in terms or []:
            counts[term] = counts.get(term, 0) + 1
    # the same set of terms, whatever the order the search added them in
    sets = chosen.map(lambda t: " + ".join(sorted(t or [])) or "(all linear)").value_counts()
    table = pd.DataFrame({"term": list(counts), "n_folds": list(counts.values())})
    table["share_of_folds"] = table["n_folds"] / n
    table = table.sort_values(["share_of_folds", "term"], ascending=[False, True], kind="stable")
    combos = pd.DataFrame({"specification": sets.index, "n_folds": sets.to_numpy()})
    combos["share_of_folds"] = combos["n_folds"] / n
    return table.reset_index(drop=True), combos


def accuracy_gap(scores: pd.DataFrame, models, reference: str, n_train: int, n_test: int,
                 margin: float = EQUIVALENCE_MARGIN, conf_level: float = 0.95) -> pd.DataFrame:
    """AUC of each model minus the reference (best benchmarked) model on the same folds: corrected t test,
    corrected interval and the TOST equivalence test against ``margin``.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, reference, auc_diff, std_error, conf_low, conf_high, statistic, p_value, margin,
        tost_p_value, equivalent`` (``equivalent``: TOST p < 0.05, i.e. the 90 % interval inside ±margin).
    """
    from scipy import stats as sps

    from stats.crossval import corrected_resampled_ttest, equivalence_test

    wide = scores.pivot_table(index=["repeat", "fold"], columns="model", values="auc", aggfunc="first")
    rows = []
    for name in models:
        diff = (wide[name] - wide[reference]).to_numpy()
        test = corrected_resampled_ttest(diff, n_train, n_test)
        tost = equivalence_test(diff, n_train, n_test, margin)
        half = sps.t.ppf(0.5 + conf_level / 2, tost["df"]) * tost["std_error"]
        rows.append({"model": name, "reference": reference, "auc_diff": test["mean_diff"],
                     "std_error": tost["std_error"], "conf_low": test["mean_diff"] - half,
                     "conf_high": test["mean_diff"] + half, "statistic": test["t_stat"], "p_value": test["p_value"],
                     "margin": margin, "tost_p_value": tost["p_value"], "equivalent": bool(tost["p_value"] < 0.05)})
    return pd.DataFrame(rows)


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


def run_benchmark(X: pd.DataFrame, y: pd.Series, seed: int, protocol: dict, n_jobs: int = 2,
                  holdout_share: float = FULL.holdout_share) -> BenchmarkResult:
    """Nested CV of the candidates and the benchmark models on the same outer folds; the stated choice rule;
    the recalibrated version of the chosen model when its calibration misses the target.

    Tables: ``model_candidates``, ``model_benchmark``, ``model_comparison`` (with Holm), ``cv_scores``,
    ``selection_stability``, ``selection_sets``, ``accuracy_gap``.
    """
    import json

    from statsmodels.stats.multitest import multipletests

    from stats.crossval import nested_cv, pairwise_comparisons, summarise_cv

    import os
    import sys

    # a progress bar on a terminal, none in CI or in a log file
    progress = sys.stderr.isatty() and not os.environ.get("CI")
    y_arr = y.to_numpy()
    # text columns as Python objects: patsy reads categorical values one by one, and pandas' arrow-backed strings
    # are several times slower to iterate (same levels, same designs)
    X = X.astype({c: object for c in X.columns if pd.api.types.is_string_dtype(X[c].dtype)})
    models = {**candidate_models(), **benchmark_models(seed)}
    cv = nested_cv(models, X, y, seed=seed, n_jobs=n_jobs, progress=progress, **protocol)
    scores, oof = cv.scores, cv.oof
    candidates = candidate_metrics(scores, oof, y_arr, cv.n_train, cv.n_test, INTERPRETABLE, CALIBRATION_TARGET)
    inference = choose_model(candidates, INTERPRETABLE)
    business = inference
    if not bool(candidates.loc[candidates["model"] == inference, "meets_target"].iloc[0]):
        business = f"{inference}_recalibrated"
        extra = nested_cv({business: (Recalibrated(base=models[inference][0], seed=seed), None)}, X, y, seed=seed,
                          n_jobs=n_jobs, progress=progress, **protocol)
        scores = pd.concat([scores, extra.scores], ignore_index=True)
        oof = pd.concat([oof, extra.oof], axis=1)
        row = candidate_metrics(scores, oof, y_arr, cv.n_train, cv.n_test, [business], CALIBRATION_TARGET)
        candidates = pd.concat([candidates, row], ignore_index=True)
    # the tie rule among the candidates (the recalibrated business model is a version of one of them, not a
    # candidate: its difference is shown but it never counts as tied)
    candidates = log_loss_ties(candidates, scores, inference, cv.n_train, cv.n_test)
    candidates["tied"] = candidates["tied"] & candidates["model"].isin(INTERPRETABLE)
    candidates["role"] = np.select(
        [candidates["model"].eq(inference) & candidates["model"].eq(business), candidates["model"].eq(inference),
         candidates["model"].eq(business)],
        list(ROLES), default="")
    candidates["chosen"] = candidates["model"].eq(business)

    summary = summarise_cv(scores, cv.n_train, cv.n_test)
    means = scores.groupby("model")[["log_loss", "brier"]].mean().reset_index()
    holdout = holdout_auc(models, X, y, seed=seed, test_size=holdout_share, inner_splits=protocol["inner_splits"],
                          n_jobs=n_jobs)
    bench = ordered(summary.merge(means, on="model").merge(holdout[["model", "test_auc"]], on="model", how="left"))
    comparison = pairwise_comparisons(scores, cv.n_train, cv.n_test)
    comparison["p_value_holm"] = multipletests(comparison["p_value"], method="holm")[1]
    others = [m for m in models if m not in INTERPRETABLE]
    best = str(bench[bench["model"].isin(others)].sort_values("auc_mean", ascending=False).iloc[0]["model"])
    gap = accuracy_gap(scores, [m for m in dict.fromkeys([inference, business, *INTERPRETABLE])], best,
                       cv.n_train, cv.n_test)
    stability, sets = _selection_stability(scores)
    cv_scores = scores.assign(best_params=scores["best_params"].map(lambda d: json.dumps(d, sort_keys=True)),
                              fit_info=scores["fit_info"].map(lambda d: json.dumps(d, sort_keys=True)))
    return BenchmarkResult(
        tables={"model_candidates": candidates, "model_benchmark": bench,
                "model_comparison": ordered(comparison, "model_a"), "cv_scores": cv_scores,
                "selection_stability": stability, "selection_sets": sets, "accuracy_gap": gap},
        oof=oof, inference=inference, business=business,
        calibration_models=list(dict.fromkeys([business, inference, *INTERPRETABLE])),
    )
