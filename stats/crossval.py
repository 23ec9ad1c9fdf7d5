"""Nested repeated cross-validation and corrected comparisons of classifiers.

Functions
---------
nested_cv
    Outer repeated stratified K-fold, inner grid search; AUCs and out-of-fold
    probabilities.
corrected_resampled_ttest
    Nadeau-Bengio corrected resampled t test of per-fold score differences.
summarise_cv
    Mean AUC per model with a corrected t interval.
pairwise_comparisons
    Corrected t tests of AUC differences for all model pairs.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import stats as sps
from sklearn import config_context
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import get_scorer, roc_auc_score  # noqa: F401 (roc_auc_score: tests patch a leaky task with it)
from sklearn.model_selection import ParameterGrid, RepeatedStratifiedKFold, StratifiedKFold
from threadpoolctl import threadpool_limits

from ._common import check_conf_level, check_positive_int

__all__ = [
    "NestedCVResult",
    "nested_cv",
    "grid_search",
    "roc_auc",
    "corrected_resampled_ttest",
    "summarise_cv",
    "pairwise_comparisons",
    "equivalence_test",
]


@dataclass(frozen=True)
class NestedCVResult:
    """Output of :func:`nested_cv`.

    Attributes
    ----------
    scores : pandas.DataFrame
        Long frame, one row per model x outer fold, columns ``model`` (str),
        ``repeat`` (int, 0-based), ``fold`` (int, 0-based), ``auc`` (float,
        ROC AUC on the outer test fold), ``log_loss`` and ``brier`` (float, on
        the outer test fold), ``fit_info`` (what the fitted estimator's
        ``cv_info()`` returns, if it has that method, else ``None``), ``best_params`` (dict; the inner-CV
        selected hyper-parameters, ``{}`` for models without a grid).
    oof : pandas.DataFrame
        Index of ``X``; one column per model with the out-of-fold predicted
        probability of the positive class averaged over the repeats.
    n_train : int
        Mean outer training-set size (for the corrected t statistics).
    n_test : int
        Mean outer test-set size.
    positive_label : object
        Label treated as the positive class (the larger of the two).
    """

    scores: pd.DataFrame
    oof: pd.DataFrame
    n_train: int
    n_test: int
    positive_label: object = field(default=1)


def _seed_random_states(estimator, seed: int):
    """Set every ``random_state`` parameter that is ``None`` to ``seed``."""
    params = estimator.get_params(deep=True)
    fixed = {k: seed for k, v in params.items() if k.split("__")[-1] == "random_state" and v is None}
    if fixed:
        estimator.set_params(**fixed)
    return estimator


def roc_auc(y01: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC of 0/1 labels from the Mann-Whitney rank sum (ties count one half).

    ``AUC = (R₁ − n₁(n₁ + 1)/2) / (n₁ n₀)``, ``R₁`` the sum of the average ranks of the positives: the area under
    the empirical ROC curve that ``sklearn.metrics.roc_auc_score`` computes by the trapezoid rule (a test checks
    the two agree), without its input checks, which the thousands of inner-loop scorings do not need.
    """
    y01 = np.asarray(y01)
    n1 = int(np.count_nonzero(y01))
    n0 = len(y01) - n1
    if n1 == 0 or n0 == 0:
        raise ValueError("ROC AUC needs both classes in y")
    ranks = sps.rankdata(np.asarray(score, dtype=float))
    return float((ranks[y01 == 1].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def _inner_score(model, X, y01, scoring) -> float:
    if scoring != "roc_auc":
        return float(get_scorer(scoring)(model, X, y01))
    # as scikit-learn's "roc_auc" scorer: the decision function when there is one, else P(class 1)
    if hasattr(model, "decision_function"):
        score = np.asarray(model.decision_function(X), dtype=float)
    else:
        score = np.asarray(model.predict_proba(X))[:, list(model.classes_).index(1)]
    return roc_auc(y01, score)


def grid_search(estimator, grid, X: pd.DataFrame, y01: np.ndarray, cv, scoring: str = "roc_auc"):
    """Exhaustive search over ``grid`` with ``cv`` on ``(X, y01)``, then a refit of the best on all rows.

    The same procedure as ``GridSearchCV(estimator, grid, cv=cv, scoring=scoring, refit=True,
    error_score="raise")`` (a test checks that both choose the same parameters): the candidates of
    ``ParameterGrid(grid)`` in order, each fitted on every training split of ``cv`` and scored on its test
    split; the best mean score wins, the first candidate on ties. Without scikit-learn's generic plumbing
    (scorer objects, joblib, result dictionaries), which cost more than the small models themselves.

    Returns
    -------
    (fitted estimator, best parameters as a dict)
    """
    candidates = list(ParameterGrid(grid))
    splits = list(cv.split(np.zeros(len(y01)), y01))
    means = np.empty(len(candidates))
    for k, params in enumerate(candidates):
        scores = [_inner_score(clone(estimator).set_params(**params).fit(X.iloc[tr], y01[tr]),
                               X.iloc[te], y01[te], scoring) for tr, te in splits]
        means[k] = np.mean(scores)
    if np.all(np.isnan(means)):
        raise ValueError("every grid point scored NaN in the inner cross-validation")
    best = int(np.flatnonzero(means == np.nanmax(means))[0])
    return clone(estimator).set_params(**candidates[best]).fit(X, y01), dict(candidates[best])


def validate_parameters(name: str, estimator, grid) -> None:
    """scikit-learn's own parameter checks, once per grid point, for the estimator and every estimator nested
    in it (raises ``ValueError`` naming the parameter, as a fit would)."""
    for params in (ParameterGrid(grid) if grid is not None else [{}]):
        est = clone(estimator).set_params(**params)
        nested = [v for v in est.get_params(deep=True).values() if isinstance(v, BaseEstimator)]
        for obj in [est, *nested]:
            if hasattr(obj, "_parameter_constraints"):
                obj._validate_params()


def _fold_seed(seed: int, repeat: int, fold: int) -> int:
    """The seed of one outer fold's task (its inner folds and unset ``random_state`` parameters)."""
    return int(np.random.SeedSequence([int(seed), repeat, fold]).generate_state(1)[0])


def one_fold(name, estimator, grid, X, y01, train, test, inner_splits, scoring, seed):
    # parallelism is over folds: one BLAS thread per task (faster on small data, no oversubscription with
    # n_jobs > 1, bitwise-reproducible reductions); scikit-learn's parameter validation (signature inspection
    # at every fit, a large share of the cost of small models) is skipped inside the task: every grid point was
    # validated once by validate_parameters before the tasks started
    with threadpool_limits(limits=1), config_context(skip_parameter_validation=True):
        return _one_fold_inner(name, estimator, grid, X, y01, train, test, inner_splits, scoring, seed)


def _one_fold_inner(name, estimator, grid, X, y01, train, test, inner_splits, scoring, seed):
    est = _seed_random_states(clone(estimator), seed)
    X_train, X_test = X.iloc[train], X.iloc[test]
    y_train, y_test = y01[train], y01[test]
    if grid is None:
        fitted = est.fit(X_train, y_train)
        best = {}
    else:
        inner = StratifiedKFold(n_splits=inner_splits, shuffle=True, random_state=seed)
        fitted, best = grid_search(est, grid, X_train, y_train, inner, scoring)
    classes = list(fitted.classes_)
    proba = np.asarray(fitted.predict_proba(X_test))[:, classes.index(1)]
    # an estimator may describe what it learned in this fold (e.g. a chosen specification)
    info = fitted.cv_info() if hasattr(fitted, "cv_info") else None
    return name, proba, roc_auc(y_test, proba), best, info


def nested_cv(
    models: Mapping[str, tuple[object, Mapping | list | None]],
    X: pd.DataFrame,
    y,
    n_splits: int = 5,
    n_repeats: int = 5,
    inner_splits: int = 3,
    seed: int = 0,
    n_jobs: int = 1,
    scoring: str = "roc_auc",
    progress: bool = False,
) -> NestedCVResult:
    """Nested, repeated, stratified cross-validation of binary classifiers.

    Parameters
    ----------
    models : dict
        ``name -> (estimator, param_grid or None)``. Estimators should be full
        scikit-learn Pipelines (encoding, scaling inside) so that every learned
        transformation is fitted on training folds only. ``param_grid`` is a
        ``GridSearchCV`` grid (dict or list of dicts) or ``None`` (just fit);
        it is searched by :func:`grid_search` (the procedure of ``GridSearchCV``).
    X : pandas.DataFrame
        Features.
    y : array-like
        Binary target (two distinct labels; the larger is the positive class).
    n_splits, n_repeats : int, default 5, 5
        Outer ``RepeatedStratifiedKFold(n_splits, n_repeats, random_state=seed)``.
    inner_splits : int, default 3
        Inner ``StratifiedKFold(shuffle=True)`` used by the grid search on the
        outer-training part only.
    seed : int, default 0
        Master seed. The inner split and any ``random_state=None`` parameter
        of an estimator get a seed derived from ``(seed, repeat, fold)``; the
        same inner split is used for all models of one outer fold.
    n_jobs : int, default 1
        joblib workers over (model, outer fold) tasks; results do not depend
        on ``n_jobs``. Each task runs with BLAS limited to one thread.
    scoring : str, default "roc_auc"
        Scorer used to select hyper-parameters in the inner loop. The outer
        score reported is always the ROC AUC.
    progress : bool, default False
        Show a tqdm progress bar over the (model, outer fold) tasks on stderr.

    Returns
    -------
    NestedCVResult
        ``scores`` (columns ``model, repeat, fold, auc, best_params``), ``oof``
        (one probability column per model, index of ``X``), ``n_train``,
        ``n_test``, ``positive_label``.

    Raises
    ------
    ValueError
        Bad sizes, non-binary ``y``, empty ``models``, malformed entries.

    Notes
    -----
    Each row is in exactly one outer test fold per repeat, so
    ``oof[m][i] = (1/R) sum_r p_m^{(r)}(x_i)`` with ``p^{(r)}`` the model
    fitted without row ``i`` in repeat ``r``. The AUC of these averaged
    probabilities is slightly optimistic relative to per-fold AUCs; use
    ``scores`` for inference (:func:`summarise_cv`).
    """
    if not isinstance(models, Mapping) or len(models) == 0:
        raise ValueError("models must be a non-empty dict name -> (estimator, grid or None)")
    for name, spec in models.items():
        if not (isinstance(spec, tuple) and len(spec) == 2):
            raise ValueError(f"models[{name!r}] must be a tuple (estimator, param_grid or None)")
    if not isinstance(X, pd.DataFrame):
        raise ValueError(f"X must be a pandas DataFrame, got {type(X).__name__}")
    n_splits = check_positive_int("n_splits", n_splits, minimum=2)
    n_repeats = check_positive_int("n_repeats", n_repeats, minimum=1)
    inner_splits = check_positive_int("inner_splits", inner_splits, minimum=2)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    y_arr = np.asarray(y)
    if y_arr.ndim != 1 or len(y_arr) != len(X):
        raise ValueError(f"y must be 1-D with {len(X)} values, got shape {y_arr.shape}")
    labels = np.unique(y_arr)
    if len(labels) != 2:
        raise ValueError(f"y must be binary, found labels {labels.tolist()!r}")
    y01 = (y_arr == labels[1]).astype(int)

    for name, (estimator, grid) in models.items():
        validate_parameters(name, estimator, grid)

    outer = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=int(seed))
    splits = list(outer.split(np.zeros(len(y01)), y01))
    tasks = []
    for idx, (train, test) in enumerate(splits):
        repeat, fold = divmod(idx, n_splits)
        fold_seed = _fold_seed(seed, repeat, fold)
        for name, (estimator, grid) in models.items():
            tasks.append((name, repeat, fold, train, test, estimator, grid, fold_seed))

    outputs = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(one_fold)(name, est, grid, X, y01, train, test, inner_splits, scoring, fs)
        for (name, _, _, train, test, est, grid, fs) in tasks
    )
    if progress:
        from tqdm import tqdm

        outputs = tqdm(outputs, total=len(tasks), desc="cross-validation", unit="fit", leave=False)
    outputs = list(outputs)

    names = list(models)
    sums = {m: np.zeros(len(y01)) for m in names}
    counts = {m: np.zeros(len(y01)) for m in names}
    records = []
    for (name, repeat, fold, _, test, _, _, _), (_, proba, auc, best, info) in zip(tasks, outputs):
        sums[name][test] += proba
        counts[name][test] += 1
        p_clip = np.clip(proba, 1e-15, 1 - 1e-15)
        y_test = y01[test]
        records.append({"model": name, "repeat": repeat, "fold": fold, "auc": auc,
                        "log_loss": float(-np.mean(y_test * np.log(p_clip) + (1 - y_test) * np.log1p(-p_clip))),
                        "brier": float(np.mean((proba - y_test) ** 2)), "best_params": best,
                        "fit_info": info})
    scores = pd.DataFrame.from_records(records, columns=["model", "repeat", "fold", "auc", "log_loss", "brier",
                                                         "best_params", "fit_info"])
    scores["model"] = scores["model"].astype("str")
    oof = pd.DataFrame({m: sums[m] / counts[m] for m in names}, index=X.index)
    n_train = int(round(np.mean([len(tr) for tr, _ in splits])))
    n_test = int(round(np.mean([len(te) for _, te in splits])))
    return NestedCVResult(scores=scores, oof=oof, n_train=n_train, n_test=n_test, positive_label=labels[1])


def corrected_resampled_ttest(diff, n_train: int, n_test: int) -> dict[str, float]:
    """Nadeau-Bengio corrected resampled t test of per-fold score differences.

    Parameters
    ----------
    diff : array-like
        Score differences (model A minus model B) on the same ``J`` resamples
        (all folds of all repeats).
    n_train, n_test : int
        Training and test sizes of one resample.

    Returns
    -------
    dict
        Keys ``mean_diff`` (float), ``t_stat`` (float), ``df`` (int),
        ``p_value`` (float, two-sided).

    Notes
    -----
    ``mean = (1/J) sum_j d_j``, ``s^2 = sum_j (d_j - mean)^2 / (J - 1)``,
    ``var_corr = (1/J + n_test/n_train) s^2``, ``t = mean / sqrt(var_corr)``,
    ``df = J - 1``, ``p = 2 P(T_df > |t|)`` (Nadeau & Bengio, 2003; Bouckaert
    & Frank, 2004). If ``s = 0`` then ``t = 0, p = 1`` when ``mean = 0`` and
    ``t = +/-inf, p = 0`` otherwise.
    """
    d = np.asarray(diff, dtype=float).ravel()
    if len(d) < 2:
        raise ValueError(f"diff needs at least 2 values, got {len(d)}")
    if not np.all(np.isfinite(d)):
        raise ValueError("diff contains non-finite values")
    n_train = check_positive_int("n_train", n_train)
    n_test = check_positive_int("n_test", n_test)
    J = len(d)
    mean = float(d.mean())
    var_corr = (1.0 / J + n_test / n_train) * float(d.var(ddof=1))
    if var_corr > 0:
        t = mean / np.sqrt(var_corr)
        p = float(2.0 * sps.t.sf(abs(t), J - 1))
    else:
        t = 0.0 if mean == 0 else float(np.sign(mean) * np.inf)
        p = 1.0 if mean == 0 else 0.0
    return {"mean_diff": mean, "t_stat": float(t), "df": J - 1, "p_value": p}


def _check_scores(scores: pd.DataFrame) -> None:
    if not isinstance(scores, pd.DataFrame):
        raise ValueError(f"scores must be a pandas DataFrame, got {type(scores).__name__}")
    missing = {"model", "repeat", "fold", "auc"} - set(scores.columns)
    if missing:
        raise ValueError(f"scores lacks columns {sorted(missing)!r}")


def summarise_cv(scores: pd.DataFrame, n_train: int, n_test: int, conf_level: float = 0.95) -> pd.DataFrame:
    """Mean cross-validated AUC per model with a corrected t interval.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``NestedCVResult.scores`` (columns ``model, repeat, fold, auc``).
    n_train, n_test : int
        Outer training/test sizes (``NestedCVResult.n_train/n_test``).
    conf_level : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        One row per model (order of first appearance), columns ``model``
        (str), ``auc_mean``, ``auc_sd`` (SD over folds, ddof=1),
        ``auc_conf_low``, ``auc_conf_high`` (float), ``n_folds`` (int, ``J``).

    Notes
    -----
    ``mean -/+ t_{J-1, (1+conf)/2} sqrt((1/J + n_test/n_train) s^2)``: the
    Nadeau-Bengio variance accounts for the overlap of training sets, which
    makes the naive ``s^2 / J`` far too small.
    """
    _check_scores(scores)
    conf_level = check_conf_level(conf_level)
    n_train = check_positive_int("n_train", n_train)
    n_test = check_positive_int("n_test", n_test)
    rows = []
    for model in pd.unique(scores["model"]):
        auc = scores.loc[scores["model"] == model, "auc"].to_numpy(dtype=float)
        J = len(auc)
        mean = float(auc.mean())
        sd = float(auc.std(ddof=1)) if J > 1 else np.nan
        if J > 1:
            half = sps.t.ppf(0.5 + conf_level / 2, J - 1) * np.sqrt((1 / J + n_test / n_train) * sd**2)
        else:
            half = np.nan
        rows.append((str(model), mean, sd, mean - half, mean + half, J))
    out = pd.DataFrame(rows, columns=["model", "auc_mean", "auc_sd", "auc_conf_low", "auc_conf_high", "n_folds"])
    out["model"] = out["model"].astype("str")
    return out


def pairwise_comparisons(scores: pd.DataFrame, n_train: int, n_test: int) -> pd.DataFrame:
    """Corrected resampled t tests of the AUC difference of every model pair.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``NestedCVResult.scores``; differences are paired by ``(repeat, fold)``.
    n_train, n_test : int

    Returns
    -------
    pandas.DataFrame
        One row per unordered pair (model order of first appearance), columns
        ``model_a``, ``model_b`` (str), ``auc_diff`` (float, mean AUC of a
        minus b), ``statistic`` (the corrected t), ``p_value`` (float).

    Notes
    -----
    See :func:`corrected_resampled_ttest`; only resamples present for both
    models are used. No multiplicity adjustment is applied.
    """
    _check_scores(scores)
    wide = scores.pivot_table(index=["repeat", "fold"], columns="model", values="auc", aggfunc="first")
    rows = []
    for a, b in itertools.combinations([str(m) for m in pd.unique(scores["model"])], 2):
        pair = wide[[a, b]].dropna()
        res = corrected_resampled_ttest(pair[a] - pair[b], n_train, n_test)
        rows.append((a, b, res["mean_diff"], res["t_stat"], res["p_value"]))
    out = pd.DataFrame(rows, columns=["model_a", "model_b", "auc_diff", "statistic", "p_value"])
    out["model_a"] = out["model_a"].astype("str")
    out["model_b"] = out["model_b"].astype("str")
    return out


def equivalence_test(diff, n_train: int, n_test: int, margin: float, conf_level: float = 0.90) -> dict[str, float]:
    """Two one-sided tests (TOST) of ``|mean difference| < margin`` on the corrected resampled t.

    Parameters
    ----------
    diff : array-like
        Per-resample score differences (A minus B), as in :func:`corrected_resampled_ttest`.
    n_train, n_test : int
    margin : float
        Equivalence margin (> 0), stated before looking at the data.
    conf_level : float, default 0.90
        Level of the interval reported beside the test (``1 − 2α`` for TOST at ``α = 0.05``).

    Returns
    -------
    dict
        ``mean_diff, std_error, df, margin, t_lower, t_upper, p_value`` (the larger of the two one-sided
        p-values: equivalence is shown when it is below α), ``conf_low, conf_high``.

    Notes
    -----
    ``se = sqrt((1/J + n_test/n_train) s²)``; ``t_lower = (mean + margin)/se`` tested against
    ``H0: mean ≤ −margin``; ``t_upper = (mean − margin)/se`` against ``H0: mean ≥ margin``;
    ``p = max(P(T > t_lower), P(T < t_upper))`` with ``T ~ t_{J−1}``. Failing to reject a difference is not
    equivalence; only this test (or the interval inside ``±margin``) supports it.
    """
    d = np.asarray(diff, dtype=float).ravel()
    if len(d) < 2 or not np.all(np.isfinite(d)):
        raise ValueError("diff needs at least 2 finite values")
    if not (np.isfinite(margin) and margin > 0):
        raise ValueError(f"margin must be a positive number, got {margin!r}")
    conf_level = check_conf_level(conf_level)
    n_train = check_positive_int("n_train", n_train)
    n_test = check_positive_int("n_test", n_test)
    J = len(d)
    mean = float(d.mean())
    se = float(np.sqrt((1.0 / J + n_test / n_train) * d.var(ddof=1)))
    if se == 0:
        se = np.finfo(float).tiny
    t_lower = (mean + margin) / se
    t_upper = (mean - margin) / se
    p = float(max(sps.t.sf(t_lower, J - 1), sps.t.cdf(t_upper, J - 1)))
    half = float(sps.t.ppf(0.5 + conf_level / 2, J - 1) * se)
    return {"mean_diff": mean, "std_error": se, "df": J - 1, "margin": float(margin), "t_lower": float(t_lower),
            "t_upper": float(t_upper), "p_value": p, "conf_low": mean - half, "conf_high": mean + half}
