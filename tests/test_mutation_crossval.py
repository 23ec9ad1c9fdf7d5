"""stats.crossval: the fast inner loop (rank-sum AUC, grid search, parameter checks once, one BLAS thread per task)
against scikit-learn and against what the docstrings state (issue 10, item 6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn.base
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, RepeatedStratifiedKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info

from stats.crossval import grid_search, nested_cv, roc_auc
from tests.estimators import Ranker


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
