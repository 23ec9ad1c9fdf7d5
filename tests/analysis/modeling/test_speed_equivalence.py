"""Issue 12: the faster pieces of the benchmark compute what the library code they replace computes.

Each replacement is checked against the scikit-learn / patsy / libsvm computation it stands in for, on data with
ties, unseen levels, constant columns and values beyond the training range, so that a speed-up cannot change a
result silently.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from analysis.modeling.benchmark import OOBTunedForest, SigmoidSVC, TabularEncoder
from stats.crossval import grid_search, roc_auc
from stats.design import build_design, check_complete, design_dataframe


def _frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "a": rng.normal(size=n), "b": rng.integers(0, 5, n).astype(float), "const": np.full(n, 3.0),
        "g": pd.array(rng.choice(["x", "y", "z"], n), dtype="str"), "h": rng.integers(0, 2, n),
    })


def test_roc_auc_equals_sklearn_with_ties():
    rng = np.random.default_rng(1)
    for n, k in ((50, 3), (400, 7), (1000, 1000)):
        y = rng.integers(0, 2, n)
        score = rng.integers(0, k, n).astype(float)  # heavy ties when k is small
        assert roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-14)
    assert roc_auc([0, 1, 1], [0.2, 0.1, 0.3]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="both classes"):
        roc_auc([1, 1], [0.2, 0.3])


def test_tabular_encoder_equals_the_column_transformer():
    frame = _frame()
    train, test = frame.iloc[:200].copy(), frame.iloc[200:].copy()
    train = train[train["g"] != "z"]  # the level "z" is unseen in training: encoded as the first level
    for scale in (True, False):
        ref = ColumnTransformer([("num", StandardScaler() if scale else "passthrough", ["a", "b", "const"]),
                                 ("cat", OneHotEncoder(drop="first", handle_unknown="ignore"), ["g", "h"])],
                                sparse_threshold=0.0)
        with pytest.warns(UserWarning, match="unknown categories"):
            expected = ref.fit(train).transform(test)
        got = TabularEncoder(numeric=("a", "b", "const"), categorical=("g", "h"), scale=scale).fit(train)
        np.testing.assert_allclose(got.transform(test), expected, rtol=0, atol=1e-12)
        np.testing.assert_allclose(got.transform(train), ref.transform(train), rtol=0, atol=1e-12)


def test_grid_search_chooses_what_gridsearchcv_chooses():
    frame = _frame(400, seed=3)
    rng = np.random.default_rng(4)
    y = (frame["a"] + 0.5 * frame["b"] + (frame["g"] == "y") + rng.normal(size=len(frame)) > 1.5).astype(int).to_numpy()
    enc = dict(numeric=("a", "b", "const"), categorical=("g", "h"))
    cases = [
        (Pipeline([("prep", TabularEncoder(**enc)), ("model", KNeighborsClassifier())]),
         {"model__n_neighbors": [1, 5, 15, 31]}),
        (Pipeline([("prep", TabularEncoder(**enc, scale=False)), ("model", DecisionTreeClassifier(random_state=0))]),
         {"model__max_depth": [1, 2, 3, 30, 40], "model__min_samples_leaf": [10]}),  # 30 and 40 tie
        (Pipeline([("prep", TabularEncoder(**enc)), ("model", LogisticRegression(solver="liblinear", random_state=0))]),
         {"model__C": [0.01, 1.0], "model__l1_ratio": [0.0, 1.0]}),
        (Pipeline([("prep", TabularEncoder(**enc)), ("model", SigmoidSVC())]),
         [{"model__C": [0.5, 2.0], "model__gamma": ["scale"]}, {"model__C": [1.0], "model__gamma": [0.02]}]),
    ]
    for estimator, grid in cases:
        for seed in (0, 1):
            cv = StratifiedKFold(3, shuffle=True, random_state=seed)
            ref = GridSearchCV(estimator, grid, cv=cv, scoring="roc_auc", refit=True, error_score="raise")
            ref.fit(frame, y)
            fitted, best = grid_search(estimator, grid, frame, y, cv)
            assert best == ref.best_params_
            np.testing.assert_allclose(fitted.predict_proba(frame), ref.best_estimator_.predict_proba(frame),
                                       rtol=0, atol=1e-12)
            # another scorer goes through scikit-learn's scorer
            _, best_acc = grid_search(estimator, grid, frame, y, cv, scoring="accuracy")
            ref_acc = GridSearchCV(estimator, grid, cv=cv, scoring="accuracy").fit(frame, y)
            assert best_acc == ref_acc.best_params_


def test_sigmoid_svc_decision_function_equals_libsvm():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(500, 8))
    y = (X[:, 0] + X[:, 1] ** 2 + rng.normal(size=500) > 1).astype(int)
    X_new = 2.0 * rng.normal(size=(200, 8))  # beyond the training range too
    for C, gamma in ((0.5, "scale"), (2.0, 0.02)):
        model = SigmoidSVC(C=C, gamma=gamma).fit(X, y)
        reference = SVC(kernel="rbf", C=C, gamma=gamma).fit(X, y)
        np.testing.assert_allclose(model.decision_function(X_new), reference.decision_function(X_new),
                                   rtol=0, atol=1e-10)
        np.testing.assert_array_equal(model.predict(X_new), reference.predict(X_new))
        p = model.predict_proba(X_new)[:, 1]
        order = np.argsort(reference.decision_function(X_new))
        assert np.all(np.diff(p[order]) >= -1e-12)  # the probabilities keep the SVM's ranking


def test_oob_forest_grown_on_equals_a_direct_forest():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] - X[:, 1] + rng.normal(size=400) > 0).astype(int)
    grid = [{"min_samples_leaf": leaf, "max_features": "sqrt"} for leaf in (2, 10)]
    model = OOBTunedForest(grid=grid, n_estimators=60, tuning_trees=20, random_state=9).fit(X, y)
    direct = RandomForestClassifier(n_estimators=60, random_state=9, n_jobs=1, **model.best_params_).fit(X, y)
    assert len(model.forest_.estimators_) == 60
    np.testing.assert_array_equal(model.predict_proba(X), direct.predict_proba(X))
    # the setting was chosen by the out-of-bag AUC of the 20-tree forests
    oob = {}
    for params in grid:
        small = RandomForestClassifier(n_estimators=20, random_state=9, n_jobs=1, oob_score=True, **params).fit(X, y)
        oob[params["min_samples_leaf"]] = roc_auc_score(y, small.oob_decision_function_[:, 1])
    assert model.best_params_["min_samples_leaf"] == max(oob, key=oob.get)
    assert model.oob_auc_ == pytest.approx(max(oob.values()), abs=1e-15)


def test_complete_designs_equal_patsy_bit_for_bit():
    frame = _frame(250, seed=7).astype({"g": object})
    formula = ("a + C(g, Treatment('y')) + C(h) + I(a - 0.5):I(b - 2.0) + cr(b, df=4, constraints='center')")
    ours = design_dataframe(formula, frame)
    theirs = patsy.dmatrix(formula, frame, return_type="dataframe")
    assert list(ours.columns) == list(theirs.columns)
    np.testing.assert_array_equal(ours.to_numpy(), theirs.to_numpy())
    new = _frame(80, seed=8)
    new["a"] *= 3  # beyond the training range
    np.testing.assert_array_equal(build_design(ours.design_info, new),
                                  np.asarray(patsy.build_design_matrices([theirs.design_info], new)[0]))
    gap = frame.copy()
    gap.loc[3, "a"] = np.nan
    with pytest.raises(ValueError, match=r"X has missing values in column\(s\) \['a'\]"):
        design_dataframe(formula, gap)
    with pytest.raises(ValueError, match=r"new has missing values in column\(s\) \['a'\]"):
        build_design(ours.design_info, gap, name="new")
    with pytest.raises(ValueError, match="must be a pandas DataFrame"):
        check_complete(frame.to_numpy())


def test_sigmoid_svc_above_max_rows_fits_a_stratified_subsample():
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(10)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + rng.normal(size=300) > 0.8).astype(int)
    model = SigmoidSVC(C=1.0, max_rows=120, random_state=3).fit(X, y)
    keep, _ = train_test_split(np.arange(300), train_size=120, stratify=y, random_state=3)
    keep = np.sort(keep)
    reference = SVC(kernel="rbf", C=1.0).fit(X[keep], y[keep])
    np.testing.assert_allclose(model.decision_function(X), reference.decision_function(X), rtol=0, atol=1e-10)
    assert abs(y[keep].mean() - y.mean()) < 0.01  # stratified: the decline share is kept
    # at or below the bound every row is used
    full = SigmoidSVC(C=1.0, max_rows=300).fit(X, y)
    np.testing.assert_allclose(full.decision_function(X), SVC(kernel="rbf", C=1.0).fit(X, y).decision_function(X),
                               rtol=0, atol=1e-10)


def test_roc_curve_table_area_equals_the_rank_auc():
    from analysis.modeling.checks import roc_curves

    rng = np.random.default_rng(12)
    y = rng.integers(0, 2, 300)
    oof = pd.DataFrame({"a": np.round(rng.uniform(size=300) + 0.3 * y, 2), "b": rng.uniform(size=300)})
    table = roc_curves(y, oof)
    assert list(table.columns) == ["model", "fpr", "tpr", "pooled_auc"]
    for name in ("a", "b"):
        curve = table[table["model"] == name]
        area = float(np.sum(np.diff(curve["fpr"]) * (curve["tpr"].to_numpy()[1:] + curve["tpr"].to_numpy()[:-1]) / 2))
        assert area == pytest.approx(roc_auc(y, oof[name]), abs=1e-12)
        assert curve["pooled_auc"].iloc[0] == pytest.approx(roc_auc(y, oof[name]), abs=1e-12)
        assert curve["fpr"].iloc[0] == 0 and curve["tpr"].iloc[-1] == 1


def test_selected_logit_on_arrays_equals_the_formula_fit(synthetic_model_frame):
    from analysis.modeling.features import xy
    from analysis.modeling.specification import SelectedLogitClassifier
    from stats.logit import FormulaLogitClassifier

    X, y = xy(synthetic_model_frame)
    train, test = X.iloc[: len(X) * 2 // 3], X.iloc[len(X) * 2 // 3:]
    y_train = y.iloc[: len(X) * 2 // 3]
    selected = SelectedLogitClassifier().fit(train, y_train)
    formula = FormulaLogitClassifier(formula=selected.formula_).fit(train, y_train)
    np.testing.assert_allclose(np.asarray(selected.result_.params), np.asarray(formula.result_.params),
                               rtol=1e-10, atol=1e-10)
    assert list(selected.result_.params.index) == list(formula.result_.params.index)
    np.testing.assert_allclose(selected.predict_proba(test), formula.predict_proba(test), rtol=0, atol=1e-12)


def test_bench_cpu_seconds_count_worker_processes():
    """`make bench` prints the CPU seconds of a `make report` (the floor of its wall time on the machine's cores):
    the count must include the joblib workers of the process it starts, measured here against a known burn."""
    import subprocess
    import sys

    from analysis.bench.timings import _children_cpu

    code = ("import time\nfrom joblib import Parallel, delayed\n"
            "def burn(s):\n    t = time.process_time()\n    while time.process_time() - t < s: pass\n"
            "Parallel(n_jobs=2)(delayed(burn)(0.5) for _ in range(4))\n")
    before = _children_cpu()
    subprocess.run([sys.executable, "-c", code], check=True)
    spent = _children_cpu() - before
    # 4 × 0.5 CPU-s of burning in the workers, plus start-up; far more than the parent alone could account for
    assert 2.0 <= spent < 10.0


def test_bench_peak_memory_is_the_workers_own():
    """A bench worker's peak memory is its own, not its parent's: the parent here touches 400 MB and frees it
    before it starts the worker (getrusage's ru_maxrss would report the parent's 400 MB in the child)."""
    import subprocess
    import sys

    script = ("import subprocess, sys\n"
              "import numpy as np\n"
              "block = np.ones(50_000_000); del block\n"
              "child = 'from analysis.bench.timings import _peak_mib; print(_peak_mib())'\n"
              "print(subprocess.run([sys.executable, '-c', child], capture_output=True, text=True, check=True)"
              ".stdout)\n")
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert float(completed.stdout) < 300  # a Python with numpy and pandas imported: about 100 MiB
