"""A leak detector for stats.crossval.nested_cv.

``RowRecorder`` wraps any classifier and appends the index labels of every ``fit`` and ``predict_proba`` call to
a file (a file, not a list: ``clone`` deep-copies parameters and joblib may run fits in other processes). The
inner grid search clones the recorder, so its fits are recorded too. Each task of ``nested_cv`` ends with the
prediction of its outer test fold, which tells which outer split the preceding fits of that process belong to.

The detector is shown to fail on a deliberately leaky ``nested_cv`` whose inner search is fitted on all rows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import GridSearchCV, RepeatedStratifiedKFold, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier

import stats.crossval as crossval
from stats.crossval import nested_cv, summarise_cv


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
