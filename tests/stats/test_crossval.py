"""Tests of stats.crossval: hand-computed corrected t tests, determinism, no leakage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_backend
from scipy import stats as sps
from sklearn.base import TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from stats.crossval import corrected_resampled_ttest, pairwise_comparisons
from stats.logit import FormulaLogitClassifier
import sklearn.base
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, RepeatedStratifiedKFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info
from stats.crossval import grid_search, roc_auc
from tests.estimators import Ranker
import json
import os
from pathlib import Path
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.neighbors import KNeighborsClassifier
import stats.crossval as crossval
from stats.crossval import nested_cv, summarise_cv


def test_corrected_ttest_hand_numbers():
    diff = [0.010, 0.020, -0.005, 0.015, 0.030]
    out = corrected_resampled_ttest(diff, n_train=80, n_test=20)
    # mean = 0.07 / 5 = 0.014; deviations -0.004, 0.006, -0.019, 0.001, 0.016
    # s^2 = (16 + 36 + 361 + 1 + 256) e-6 / 4 = 167.5e-6
    # var_corr = (1/5 + 20/80) * 167.5e-6 = 0.45 * 167.5e-6 = 75.375e-6
    t = 0.014 / np.sqrt(75.375e-6)
    assert out["mean_diff"] == pytest.approx(0.014, abs=1e-15)
    assert out["t_stat"] == pytest.approx(t, rel=1e-12)
    assert t == pytest.approx(1.612554, rel=1e-6)
    assert out["df"] == 4
    assert out["p_value"] == pytest.approx(2 * sps.t.sf(t, 4), rel=1e-12)
    zero = corrected_resampled_ttest([0.0, 0.0, 0.0], 10, 5)
    assert zero["t_stat"] == 0 and zero["p_value"] == 1
    with pytest.raises(ValueError, match="n_train"):
        corrected_resampled_ttest(diff, n_train=0, n_test=20)


def test_summarise_and_pairwise_by_hand():
    scores = pd.DataFrame(
        {
            "model": ["a"] * 4 + ["b"] * 4,
            "repeat": [0, 0, 1, 1] * 2,
            "fold": [0, 1, 0, 1] * 2,
            "auc": [0.70, 0.74, 0.72, 0.76, 0.68, 0.70, 0.71, 0.71],
        }
    )
    summ = summarise_cv(scores, n_train=50, n_test=50, conf_level=0.9).set_index("model")
    a = np.array([0.70, 0.74, 0.72, 0.76])
    half = sps.t.ppf(0.95, 3) * np.sqrt((1 / 4 + 1) * a.var(ddof=1))
    assert summ.loc["a", "auc_mean"] == pytest.approx(0.73)
    assert summ.loc["a", "auc_sd"] == pytest.approx(a.std(ddof=1))
    assert summ.loc["a", "auc_conf_low"] == pytest.approx(0.73 - half)
    assert summ.loc["a", "auc_conf_high"] == pytest.approx(0.73 + half)
    assert summ.loc["a", "n_folds"] == 4
    pair = pairwise_comparisons(scores, n_train=50, n_test=50)
    assert list(pair.columns) == ["model_a", "model_b", "auc_diff", "statistic", "p_value"]
    ref = corrected_resampled_ttest(a - np.array([0.68, 0.70, 0.71, 0.71]), 50, 50)
    assert pair["auc_diff"].iloc[0] == pytest.approx(ref["mean_diff"])
    assert pair["statistic"].iloc[0] == pytest.approx(ref["t_stat"])
    assert pair["p_value"].iloc[0] == pytest.approx(ref["p_value"])


class LeakDetector(BaseEstimator, TransformerMixin):
    """Raises if rows seen in fit are later transformed as 'new' data (test leakage)."""

    def fit(self, X, y=None):
        self.fit_index_ = frozenset(X.index)
        return self

    def fit_transform(self, X, y=None):
        return self.fit(X, y)._passthrough(X)

    def transform(self, X):
        overlap = self.fit_index_ & set(X.index)
        if overlap:
            raise RuntimeError(f"leakage: {len(overlap)} training rows transformed as new data")
        return self._passthrough(X)

    def _passthrough(self, X):
        return X


def make_data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.uniform(0, 10, n),
            "g": rng.choice(["a", "b", "c"], n),
        },
        index=pd.RangeIndex(1000, 1000 + n),
    )
    eta = -0.2 + X.x1 + np.sin(X.x2 / 3) + 0.5 * (X.g == "b")
    y = np.where(rng.uniform(size=n) < 1 / (1 + np.exp(-eta)), "yes", "no")
    return X, y


def make_models():
    pre = ColumnTransformer(
        [("num", StandardScaler(), ["x1", "x2"]), ("cat", OneHotEncoder(drop="first"), ["g"])]
    )
    return {
        "logit_formula": (
            make_pipeline(LeakDetector(), FormulaLogitClassifier(formula="x1 + bs(x2, df=4) + C(g)")),
            None,
        ),
        "logreg": (
            make_pipeline(LeakDetector(), pre, LogisticRegression(max_iter=1000)),
            {"logisticregression__C": [0.1, 1.0]},
        ),
        "forest": (
            make_pipeline(LeakDetector(), pre, RandomForestClassifier(n_estimators=5)),
            {"randomforestclassifier__max_depth": [2, 4]},
        ),
    }


def test_leak_detector_works():
    X, y = make_data(50)
    det = LeakDetector().fit(X)
    with pytest.raises(RuntimeError, match="leakage"):
        det.transform(X.iloc[:5])


def test_nested_cv_deterministic_complete_and_leak_free():
    X, y = make_data()
    res = nested_cv(make_models(), X, y, n_splits=3, n_repeats=2, inner_splits=3, seed=5)
    scores, oof = res.scores, res.oof
    assert list(scores.columns) == ["model", "repeat", "fold", "auc", "log_loss", "brier", "best_params", "fit_info"]
    assert len(scores) == 3 * 3 * 2
    assert scores["auc"].between(0.5, 1).all()
    assert scores.loc[scores.model == "logit_formula", "best_params"].map(len).eq(0).all()
    assert scores.loc[scores.model == "logreg", "best_params"].map(
        lambda d: d["logisticregression__C"] in (0.1, 1.0)
    ).all()
    assert list(oof.columns) == ["logit_formula", "logreg", "forest"]
    assert oof.index.equals(X.index)
    assert oof.notna().all().all() and ((oof >= 0) & (oof <= 1)).all().all()
    assert res.positive_label == "yes"
    assert res.n_train == 200 and res.n_test == 100

    # out-of-fold: for the formula logit (no tuning) the oof mean equals refitting by hand
    from sklearn.model_selection import RepeatedStratifiedKFold

    y01 = (y == "yes").astype(int)
    manual = np.zeros(len(y))
    for train, test in RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=5).split(X, y01):
        clf = FormulaLogitClassifier(formula="x1 + bs(x2, df=4) + C(g)").fit(X.iloc[train], y01[train])
        manual[test] += clf.predict_proba(X.iloc[test])[:, 1] / 2
    np.testing.assert_allclose(oof["logit_formula"], manual, atol=1e-10)

    # same results with concurrent joblib workers (forest: random_state=None is seeded
    # per fold); threads here for speed, process workers in test_stats_slow.py
    forest = {"forest": make_models()["forest"]}
    with parallel_backend("threading"):
        again = nested_cv(forest, X, y, n_splits=3, n_repeats=2, inner_splits=3, seed=5, n_jobs=2)
    pd.testing.assert_frame_equal(
        scores[scores.model == "forest"].reset_index(drop=True), again.scores.reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(oof[["forest"]], again.oof)
    other = nested_cv(forest, X, y, n_splits=3, n_repeats=2, inner_splits=3, seed=6)
    assert not np.allclose(other.oof["forest"], oof["forest"])

    summ = summarise_cv(scores, res.n_train, res.n_test)
    assert summ["model"].tolist() == ["logit_formula", "logreg", "forest"]
    assert (summ["auc_conf_low"] < summ["auc_mean"]).all() and (summ["n_folds"] == 6).all()
    assert len(pairwise_comparisons(scores, res.n_train, res.n_test)) == 3


def test_nested_cv_validation():
    X, y = make_data(60)
    with pytest.raises(ValueError, match="n_splits"):
        nested_cv(make_models(), X, y, n_splits=1)
    with pytest.raises(ValueError, match="binary"):
        nested_cv(make_models(), X, np.arange(60) % 3)
    with pytest.raises(ValueError, match="tuple"):
        nested_cv({"m": LogisticRegression()}, X, y)


def test_nested_cv_rejects_bad_arguments_with_named_messages():
    X, y = make_data(30)
    logit = (LogisticRegression(), None)
    cases = [
        (dict(models={}), r"^models must be a non-empty dict name -> \(estimator, grid or None\)$"),
        (dict(models=[("m", logit)]), r"^models must be a non-empty dict"),
        (dict(X=X.to_numpy()), r"^X must be a pandas DataFrame, got ndarray$"),
        (dict(n_splits=1), r"^n_splits must be an integer >= 2, got 1$"),
        (dict(n_repeats=0), r"^n_repeats must be an integer >= 1, got 0$"),
        (dict(inner_splits=1), r"^inner_splits must be an integer >= 2, got 1$"),
        (dict(seed=True), r"^seed must be an integer, got True$"),
        (dict(seed=1.5), r"^seed must be an integer, got 1.5$"),
        (dict(y=y[:-1]), r"^y must be 1-D with 30 values, got shape \(29,\)$"),
        (dict(y=np.column_stack([y, y])), r"^y must be 1-D with 30 values, got shape \(30, 2\)$"),
    ]
    for change, message in cases:
        kwargs = dict(models={"m": logit}, X=X, y=y) | change
        with pytest.raises(ValueError, match=message):
            nested_cv(**kwargs)


def test_nested_cv_smallest_allowed_sizes_run():
    """n_splits = inner_splits = 2 and n_repeats = 1 are valid (the minimums of the checks)."""
    X, y = make_data(60)
    res = nested_cv({"m": (make_pipeline(StandardScaler(with_mean=False), LogisticRegression()),
                           {"logisticregression__C": [0.1, 1.0]})},
                    X[["x1", "x2"]], y, n_splits=2, n_repeats=1, inner_splits=2, seed=1)
    assert len(res.scores) == 2 and res.n_train == 30 and res.n_test == 30


def test_corrected_ttest_edges_and_errors():
    # two values are enough: mean 0.02, s^2 = 2e-4, var_corr = (1/2 + 1/4) s^2
    out = corrected_resampled_ttest([0.01, 0.03], n_train=40, n_test=10)
    t = 0.02 / np.sqrt(0.75 * 2e-4)
    assert out["t_stat"] == pytest.approx(t, rel=1e-12) and out["df"] == 1
    assert out["p_value"] == pytest.approx(2 * sps.t.sf(t, 1), rel=1e-12)
    # constant non-zero differences: s = 0, t = +/-inf, p = 0
    pos = corrected_resampled_ttest([0.02, 0.02, 0.02], 10, 5)
    neg = corrected_resampled_ttest(np.array([-0.02, -0.02]), 10, 5)
    assert pos["t_stat"] == np.inf and pos["p_value"] == 0.0
    assert neg["t_stat"] == -np.inf and neg["p_value"] == 0.0
    with pytest.raises(ValueError, match=r"^diff needs at least 2 values, got 1$"):
        corrected_resampled_ttest([0.1], 10, 5)
    with pytest.raises(ValueError, match=r"^diff contains non-finite values$"):
        corrected_resampled_ttest([0.1, np.nan], 10, 5)
    with pytest.raises(ValueError, match=r"^n_train must be an integer >= 1"):
        corrected_resampled_ttest([0.1, 0.2], 0, 5)
    with pytest.raises(ValueError, match=r"^n_test must be an integer >= 1"):
        corrected_resampled_ttest([0.1, 0.2], 10, 0)


def _two_model_scores():
    return pd.DataFrame({"model": ["a"] * 3 + ["b"] * 3, "repeat": [0] * 6, "fold": [0, 1, 2] * 2,
                         "auc": [0.70, 0.74, 0.72, 0.68, 0.70, 0.71]})


def test_summarise_and_pairwise_errors_single_fold_and_dtypes():
    scores = _two_model_scores()
    for func in (summarise_cv, pairwise_comparisons):
        with pytest.raises(ValueError, match=r"^scores must be a pandas DataFrame, got dict$"):
            func(scores.to_dict(), 10, 5)
        with pytest.raises(ValueError, match=r"^scores lacks columns \['auc'\]$"):
            func(scores.drop(columns="auc"), 10, 5)
    with pytest.raises(ValueError, match=r"^n_train must be an integer >= 1"):
        summarise_cv(scores, 0, 5)
    with pytest.raises(ValueError, match=r"^n_test must be an integer >= 1"):
        summarise_cv(scores, 10, 0)
    # integer AUC-like scores (e.g. 0/1 accuracies) are averaged as floats
    summ = summarise_cv(scores.assign(auc=[1, 0, 0, 1, 1, 1]), 10, 5).set_index("model")
    assert summ.loc["a", "auc_mean"] == pytest.approx(1 / 3, rel=1e-12)
    assert summ.loc["a", "auc_sd"] == pytest.approx(np.std([1, 0, 0], ddof=1), rel=1e-12)
    assert str(summ.reset_index()["model"].dtype) == "str"
    # two folds: a finite interval; one fold: no spread, no interval
    two = summarise_cv(scores[scores["fold"] < 2], 10, 5).set_index("model")
    half = sps.t.ppf(0.975, 1) * np.sqrt((1 / 2 + 5 / 10) * np.var([0.70, 0.74], ddof=1))
    assert two.loc["a", "auc_conf_high"] == pytest.approx(0.72 + half, rel=1e-12)
    one = summarise_cv(scores[scores["fold"] == 0], 10, 5)
    assert one["auc_sd"].isna().all() and one["auc_conf_low"].isna().all() and one["auc_conf_high"].isna().all()
    pair = pairwise_comparisons(scores, 10, 5)
    assert pair[["model_a", "model_b"]].values.tolist() == [["a", "b"]]
    assert str(pair["model_a"].dtype) == "str" and str(pair["model_b"].dtype) == "str"
    # duplicated (repeat, fold) rows: the first AUC is used for the pair, not their mean
    dup = pd.concat([scores, scores.iloc[[0]].assign(auc=0.0)], ignore_index=True)
    first = pairwise_comparisons(dup, 10, 5)
    assert first["auc_diff"].iloc[0] == pytest.approx(pair["auc_diff"].iloc[0], rel=1e-12)


class _ColumnProba(BaseEstimator):
    """Predicts the probability stored in column ``p`` (so every fold's predictions are known in advance)."""

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        p = X["p"].to_numpy()
        return np.column_stack([1 - p, p])


def test_nested_cv_fold_log_loss_and_brier_by_hand_with_certain_predictions():
    rng = np.random.default_rng(14)
    n = 40
    y = np.tile([0, 1], n // 2)
    p = rng.uniform(0.05, 0.95, n)
    p[:4] = [1.0, 0.0, 0.0, 1.0]  # certain and wrong (rows 0, 3) or right (rows 1, 2)
    X = pd.DataFrame({"p": p})
    res = nested_cv({"col": (_ColumnProba(), None)}, X, y, n_splits=4, n_repeats=1, seed=3)
    assert list(res.scores.columns) == ["model", "repeat", "fold", "auc", "log_loss", "brier", "best_params",
                                        "fit_info"]
    from sklearn.model_selection import RepeatedStratifiedKFold

    splits = RepeatedStratifiedKFold(n_splits=4, n_repeats=1, random_state=3).split(np.zeros(n), y)
    for (_, test), (_, row) in zip(splits, res.scores.iterrows()):
        pt, yt = np.clip(p[test], 1e-15, 1 - 1e-15), y[test]
        by_hand = -np.mean([np.log(q) if t == 1 else np.log1p(-q) for q, t in zip(pt, yt)])
        assert row["log_loss"] == pytest.approx(by_hand, rel=1e-12)
        assert row["brier"] == pytest.approx(np.mean((p[test] - yt) ** 2), rel=1e-12)
        assert np.isfinite(row["log_loss"])
    np.testing.assert_allclose(res.oof["col"], p, rtol=0, atol=0)


def test_nested_cv_defaults_summary_columns_and_failing_grid_points_raise():
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import RepeatedStratifiedKFold

    rng = np.random.default_rng(21)
    n = 50
    y = np.tile([0, 1], n // 2)
    p = np.clip(0.5 * y + rng.uniform(0, 0.6, n), 0, 1)
    X = pd.DataFrame({"p": p})
    res = nested_cv({"col": (_ColumnProba(), None)}, X, y)  # documented defaults: 5 x 5 folds, seed 0
    splits = list(RepeatedStratifiedKFold(n_splits=5, n_repeats=5, random_state=0).split(np.zeros(n), y))
    assert len(res.scores) == 25
    np.testing.assert_allclose(res.scores["auc"], [roc_auc_score(y[te], p[te]) for _, te in splits], rtol=1e-12)
    summ = summarise_cv(res.scores, res.n_train, res.n_test)
    assert summ.columns.tolist() == ["model", "auc_mean", "auc_sd", "auc_conf_low", "auc_conf_high", "n_folds"]
    # a grid point whose fit fails stops the run (error_score="raise") instead of being scored NaN
    Xd, yd = make_data(60)
    bad = {"m": (LogisticRegression(), {"C": [1.0, -1.0]})}
    with pytest.raises(ValueError, match="'C' parameter"):
        nested_cv(bad, Xd[["x1", "x2"]], yd, n_splits=2, n_repeats=1, inner_splits=2)


# ---------------------------------------------------------------------------------------------------------
# test_mutation_crossval.py: stats.crossval: the fast inner loop (rank-sum AUC, grid search, parameter checks once, one BLAS thread per task)
# ---------------------------------------------------------------------------------------------------------
def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    y = (X["x1"] + rng.normal(size=n) > 0).astype(int).to_numpy()
    return X, y


def test_roc_auc_smallest_samples_and_integer_scores_against_sklearn():
    # one row of each class: 1 when ordered, 0 when reversed, 1/2 on a tie
    assert roc_auc([0, 1], [0.1, 0.9]) == 1.0
    assert roc_auc([1, 0], [0.1, 0.9]) == 0.0
    assert roc_auc(np.array([0, 1]), [3, 3]) == 0.5
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 31)
    score = rng.integers(0, 4, 31)  # integer scores with ties
    assert roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-15)
    with pytest.raises(ValueError, match=r"^ROC AUC needs both classes in y$"):
        roc_auc([0, 0, 0], [0.1, 0.2, 0.3])


class _Recorder(ClassifierMixin, BaseEstimator):
    """A logistic regression that records, per fit, the rows it saw, the BLAS thread counts it ran with and
    whether scikit-learn would validate parameters; ``c`` < 0 makes it predict NaN (a grid point that scores NaN)."""

    log: list = []

    def __init__(self, c=1.0):
        self.c = c

    def fit(self, X, y):
        import sklearn

        threads = sorted({info["num_threads"] for info in threadpool_info()})
        _Recorder.log.append({"n": len(X), "threads": threads,
                              "skip": sklearn.get_config()["skip_parameter_validation"]})
        self.model_ = LogisticRegression(C=abs(self.c)).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        p = self.model_.predict_proba(X)
        return np.full_like(p, np.nan) if self.c < 0 else p


def test_grid_search_ignores_a_grid_point_that_scores_nan_as_gridsearchcv_does():
    X, y = _data()
    cv = StratifiedKFold(3, shuffle=True, random_state=2)
    grid = {"c": [-1.0, 0.01, 1.0]}
    fitted, best = grid_search(_Recorder(), grid, X, y, cv)
    with pytest.warns(UserWarning):
        reference = GridSearchCV(_Recorder(), grid, cv=cv, scoring="roc_auc").fit(X, y)
    assert best == reference.best_params_ and best["c"] > 0
    np.testing.assert_allclose(fitted.predict_proba(X), reference.best_estimator_.predict_proba(X), rtol=0,
                               atol=1e-12)
    with pytest.raises(ValueError, match="^every grid point scored NaN in the inner cross-validation$"):
        grid_search(_Recorder(), {"c": [-1.0, -2.0]}, X, y, cv)


def test_nested_cv_tasks_one_blas_thread_no_revalidation_and_three_inner_folds_by_default():
    from threadpoolctl import threadpool_limits

    X, y = _data(90, seed=3)
    _Recorder.log = []
    # two BLAS threads around the call (analysis/__init__.py sets one for the whole test session), one inside
    with threadpool_limits(limits=2):
        assert max(info["num_threads"] for info in threadpool_info()) == 2
        res = nested_cv({"rec": (_Recorder(), {"c": [0.1, 1.0]})}, X, y, n_splits=3, n_repeats=1, seed=4)
    log = _Recorder.log
    # per outer fold: 2 grid points x 3 inner folds, then the refit on the outer training rows
    outer = [len(tr) for tr, _ in RepeatedStratifiedKFold(n_splits=3, n_repeats=1, random_state=4).split(X, y)]
    assert len(log) == 3 * (2 * 3 + 1)
    inner_sizes = sorted({entry["n"] for entry in log} - set(outer))
    assert all(abs(size - 60 * 2 / 3) <= 1 for size in inner_sizes)  # thirds of the 60 outer training rows
    assert all(entry["threads"] == [1] for entry in log) and log[0]["threads"]
    assert all(entry["skip"] for entry in log)
    assert len(res.scores) == 3


def test_nested_cv_checks_every_parameter_once_before_the_tasks(monkeypatch):
    calls = []
    original = sklearn.base.BaseEstimator._validate_params

    def counting(self):
        calls.append(type(self).__name__)
        return original(self)

    monkeypatch.setattr(sklearn.base.BaseEstimator, "_validate_params", counting)
    X, y = _data(60, seed=5)
    model = make_pipeline(StandardScaler(), LogisticRegression())
    nested_cv({"m": (model, {"logisticregression__C": [0.1, 1.0, 10.0]})}, X, y, n_splits=2, n_repeats=1,
              inner_splits=2)
    # three grid points, each: the pipeline and its two steps; none again inside the folds
    assert sorted(calls) == sorted(["Pipeline", "StandardScaler", "LogisticRegression"] * 3)
    calls.clear()
    nested_cv({"m": (LogisticRegression(), None)}, X, y, n_splits=2, n_repeats=1)
    assert calls == ["LogisticRegression"]
    # a bad value of a step inside a pipeline is caught before any fold runs, naming the parameter
    bad = make_pipeline(StandardScaler(), LogisticRegression(C=-1.0))
    with pytest.raises(ValueError, match="'C' parameter of LogisticRegression"):
        nested_cv({"m": (bad, None)}, X, y, n_splits=2, n_repeats=1)


class _TwoFaced(ClassifierMixin, BaseEstimator):
    """``decision_function`` ranks by ``sign · x1``, ``predict_proba`` by the opposite: which one the inner score
    reads decides the grid point."""

    def __init__(self, sign=1.0):
        self.sign = sign

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X):
        return self.sign * X["x1"].to_numpy()

    def predict_proba(self, X):
        p = 1 / (1 + np.exp(self.sign * X["x1"].to_numpy()))
        return np.column_stack([1 - p, p])


def test_grid_search_scores_the_decision_function_when_there_is_one_as_the_roc_auc_scorer():
    X, y = _data(90, seed=6)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    grid = {"sign": [-1.0, 1.0]}
    _, best = grid_search(_TwoFaced(), grid, X, y, cv)
    reference = GridSearchCV(_TwoFaced(), grid, cv=cv, scoring="roc_auc").fit(X, y)
    assert best == reference.best_params_ == {"sign": 1.0}


def test_nested_cv_inner_search_uses_the_given_scoring():
    X, y = _data(120, seed=7)
    minority = int(y.mean() < 0.5)
    to_all = {0: 50.0, 1: -50.0}
    # x1 ranks well but its cut labels every row the minority class; x2 is noise labelling every row the majority
    grid = [{"column": ["x1"], "cut": [to_all[minority]]}, {"column": ["x2"], "cut": [to_all[1 - minority]]}]
    models = {"r": (Ranker(), grid)}
    by_auc = nested_cv(models, X, y, n_splits=2, n_repeats=1, inner_splits=2, seed=1)
    by_accuracy = nested_cv(models, X, y, n_splits=2, n_repeats=1, inner_splits=2, seed=1, scoring="accuracy")
    assert [p["column"] for p in by_auc.scores["best_params"]] == ["x1", "x1"]
    assert [p["column"] for p in by_accuracy.scores["best_params"]] == ["x2", "x2"]


def test_nested_cv_progress_bar_only_when_asked_same_results(capsys, monkeypatch):
    from tqdm import tqdm

    # no monitor thread: a fork-based runner (mutmut) forking while that thread holds tqdm's lock deadlocks
    monkeypatch.setattr(tqdm, "monitor_interval", 0)
    X, y = _data(60, seed=8)
    models = {"lr": (LogisticRegression(), None), "lr2": (LogisticRegression(C=0.1), None)}
    quiet = nested_cv(models, X, y, n_splits=2, n_repeats=2)
    assert capsys.readouterr().err == ""  # no bar by default
    shown = nested_cv(models, X, y, n_splits=2, n_repeats=2, progress=True)
    err = capsys.readouterr().err
    pd.testing.assert_frame_equal(quiet.scores, shown.scores)
    pd.testing.assert_frame_equal(quiet.oof, shown.oof)
    # a bar over the 2 models x 4 outer folds, cleared when done (leave=False)
    assert "cross-validation:" in err and "0/8" in err and "fit/s" in err
    assert err.endswith("\r")  # a kept bar (leave=True) would end with its last state and a newline


# ---------------------------------------------------------------------------------------------------------
# test_stats_crossval_leaks.py: A leak detector for stats.crossval.nested_cv.
# ---------------------------------------------------------------------------------------------------------
class RowRecorder(ClassifierMixin, BaseEstimator):
    """Fits ``estimator`` and records the rows (index labels) of every fit and prediction in ``log_path``."""

    def __init__(self, estimator=None, log_path=None):
        self.estimator = estimator
        self.log_path = log_path

    def _record(self, event: str, X: pd.DataFrame) -> None:
        line = json.dumps({"event": event, "pid": os.getpid(), "rows": [int(i) for i in X.index]})
        with open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def fit(self, X, y):
        self._record("fit", X)
        self.estimator_ = clone(self.estimator).fit(X.to_numpy(), y)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X):
        self._record("predict", X)
        return self.estimator_.predict_proba(X.to_numpy())


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def leak_report(events: list[dict], index: pd.Index, y01, n_splits: int, n_repeats: int, seed: int,
                fits_per_task: int) -> list[str]:
    """Every way the recorded fits break the nested-CV contract; empty when there is no leak.

    The outer splits are recomputed independently with the documented ``RepeatedStratifiedKFold``. Per process,
    the fits since the previous outer prediction belong to the outer split whose test fold is predicted next.
    """
    splits = list(RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed)
                  .split(np.zeros(len(y01)), y01))
    by_test = {frozenset(index[test]): frozenset(index[train]) for train, test in splits}
    problems: list[str] = []
    pending: dict[int, list[frozenset]] = {}
    predicted: list[frozenset] = []
    for event in events:
        rows = frozenset(event["rows"])
        if event["event"] == "fit":
            pending.setdefault(event["pid"], []).append(rows)
        elif rows in by_test:  # the outer prediction closes a task
            fits = pending.pop(event["pid"], [])
            train, task = by_test[rows], len(predicted)
            predicted.append(rows)
            if len(fits) != fits_per_task:
                problems.append(f"task {task}: {len(fits)} fits recorded, expected {fits_per_task}")
            for k, seen in enumerate(fits):
                if seen & rows:
                    problems.append(f"task {task} fit {k}: saw {len(seen & rows)} rows of its outer test fold")
                if not seen <= train:
                    problems.append(f"task {task} fit {k}: saw {len(seen - train)} rows outside its outer training set")
            if fits and fits[-1] != train:
                problems.append(f"task {task}: the final refit is not on the whole outer training set")
    if sorted(map(sorted, predicted)) != sorted(sorted(frozenset(index[test])) for _, test in splits):
        problems.append("the outer test folds predicted are not the documented outer splits")
    if any(pending.values()):
        problems.append("fits recorded after the last outer prediction")
    return problems


def noise_data(n=150, seed=11):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"], index=pd.RangeIndex(5000, 5000 + n))
    y = rng.integers(0, 2, n)  # pure noise: the labels do not depend on X
    return X, y


GRID = {"estimator__n_neighbors": [1, 15]}


N_SPLITS, N_REPEATS, INNER, SEED = 3, 2, 3, 4


def run_recorded(tmp_path, X, y, n_jobs=1, n_splits=N_SPLITS, n_repeats=N_REPEATS):
    log = tmp_path / "fits.jsonl"
    log.unlink(missing_ok=True)
    model = RowRecorder(KNeighborsClassifier(), log_path=str(log))
    res = nested_cv({"knn": (model, GRID)}, X, y, n_splits=n_splits, n_repeats=n_repeats, inner_splits=INNER,
                    seed=SEED, n_jobs=n_jobs)
    report = leak_report(read_log(log), X.index, np.asarray(y), n_splits, n_repeats, SEED,
                         fits_per_task=len(GRID["estimator__n_neighbors"]) * INNER + 1)
    return res, report, read_log(log)


def _leaky_one_fold_inner(name, estimator, grid, X, y01, train, test, inner_splits, scoring, seed):
    """The planted bug: the inner search is fitted on all rows, outer test rows included."""
    est = crossval._seed_random_states(clone(estimator), seed)
    inner = StratifiedKFold(n_splits=inner_splits, shuffle=True, random_state=seed)
    search = GridSearchCV(est, grid, cv=inner, scoring=scoring, n_jobs=1, refit=True, error_score="raise")
    search.fit(X, y01)
    fitted = search.best_estimator_
    proba = np.asarray(fitted.predict_proba(X.iloc[test]))[:, list(fitted.classes_).index(1)]
    return name, proba, float(crossval.roc_auc_score(y01[test], proba)), dict(search.best_params_), None


def test_no_fit_sees_its_outer_test_rows(tmp_path):
    X, y = noise_data()
    _, report, events = run_recorded(tmp_path, X, y)
    fits = [e for e in events if e["event"] == "fit"]
    assert len(fits) == N_SPLITS * N_REPEATS * (2 * INNER + 1)  # the inner searches were recorded too
    assert report == []


def test_leak_detector_catches_an_inner_search_on_all_rows(tmp_path, monkeypatch):
    X, y = noise_data()
    monkeypatch.setattr(crossval, "_one_fold_inner", _leaky_one_fold_inner)
    _, report, _ = run_recorded(tmp_path, X, y)
    assert any("rows of its outer test fold" in p for p in report)
    assert any("final refit" in p for p in report)


def test_noise_auc_interval_contains_one_half(tmp_path, monkeypatch):
    X, y = noise_data(n=200, seed=12)
    res, report, _ = run_recorded(tmp_path, X, y, n_splits=5, n_repeats=3)
    assert report == []
    summ = summarise_cv(res.scores, res.n_train, res.n_test).iloc[0]
    assert summ["auc_conf_low"] < 0.5 < summ["auc_conf_high"]
    assert summ["auc_conf_high"] - summ["auc_conf_low"] < 0.3  # informative, not an interval of everything

    # the same check rejects a leaky nested CV: 1-NN fitted on the test rows predicts them perfectly
    monkeypatch.setattr(crossval, "_one_fold_inner", _leaky_one_fold_inner)
    leaky, _, _ = run_recorded(tmp_path, X, y, n_splits=5, n_repeats=3)
    leaky_summ = summarise_cv(leaky.scores, leaky.n_train, leaky.n_test).iloc[0]
    assert leaky_summ["auc_conf_low"] > 0.5


@pytest.mark.slow
def test_no_leak_with_process_workers(tmp_path):
    """joblib's loky workers are other processes: the file log and per-process attribution still hold."""
    X, y = noise_data()
    res, report, events = run_recorded(tmp_path, X, y, n_jobs=2)
    assert report == []
    assert len({e["pid"] for e in events}) >= 2 or os.cpu_count() == 1
    serial, _, _ = run_recorded(tmp_path, X, y, n_jobs=1)
    pd.testing.assert_frame_equal(res.scores, serial.scores)
