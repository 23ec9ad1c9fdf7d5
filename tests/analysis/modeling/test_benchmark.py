"""analysis.modeling.benchmark on small synthetic data against independent computations (issue 10, item 6).

Each function of the benchmark is checked against what it is documented to compute, rebuilt from scikit-learn,
scipy and statsmodels pieces (``ColumnTransformer``, ``GridSearchCV``, ``SVC``, ``RandomForestClassifier``,
the corrected t and TOST formulas, Holm by hand) or against the stated choice rule. The whole pipeline is not run:
``run_benchmark`` is run on a few hundred rows with cheap models in place of the real candidates, so that every
test here takes seconds.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

import analysis.modeling.benchmark as bm
from analysis.settings import FULL
import stats.crossval
from analysis.modeling.features import CATEGORICAL_PREDICTORS, NUMERIC_PREDICTORS, linear_formula, model_frame
from analysis.data.synthetic import customer_table
from stats.calibration import AsymptoteCalibrator
from stats.crossval import corrected_resampled_ttest
from stats.floor_logit import FloorLogitClassifier
from stats.gam import PenalizedSplineLogitClassifier
from stats.logit import FormulaLogitClassifier
from tests.estimators import Ranker
from tests.oracles import holm


# ---------------------------------------------------------------------------------------------------------------
# helpers: data and the independent computations
# ---------------------------------------------------------------------------------------------------------------
def _store_rows(n=300, seed=1):
    """A synthetic customer table with the model's predictor columns (text columns as pandas strings)."""
    frame = model_frame(customer_table(n, seed))
    return frame[list(NUMERIC_PREDICTORS + CATEGORICAL_PREDICTORS)], frame["activity_decline"].to_numpy()


def _toy(n=240, seed=0):
    """Two numeric predictors and one text factor; the outcome follows a logit in x1 and the factor."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    g = rng.choice(["a", "b", "c"], n)
    eta = -0.3 + 1.4 * x1 + 0.8 * (g == "b")
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    X = pd.DataFrame({"x1": x1, "x2": x2, "g": pd.array(g, dtype="str")})
    return X, pd.Series(y, name="y")


def _reference_encoder(numeric, categorical, scale=True):
    return ColumnTransformer([("num", StandardScaler() if scale else "passthrough", list(numeric)),
                              ("cat", OneHotEncoder(drop="first", handle_unknown="ignore"), list(categorical))],
                             sparse_threshold=0.0)


def _corrected(diff, n_train, n_test, margin, conf_level):
    """Corrected resampled t test, its interval and TOST, by the formulas of Nadeau & Bengio and Schuirmann."""
    d = np.asarray(diff, dtype=float)
    J = len(d)
    mean = d.mean()
    se = np.sqrt((1 / J + n_test / n_train) * d.var(ddof=1))
    t = mean / se
    half = sps.t.ppf(1 - (1 - conf_level) / 2, J - 1) * se
    tost = max(sps.t.sf((mean + margin) / se, J - 1), sps.t.cdf((mean - margin) / se, J - 1))
    return {"auc_diff": mean, "std_error": se, "conf_low": mean - half, "conf_high": mean + half, "statistic": t,
            "p_value": 2 * sps.t.sf(abs(t), J - 1), "tost_p_value": tost}


# ---------------------------------------------------------------------------------------------------------------
# TabularEncoder
# ---------------------------------------------------------------------------------------------------------------
def test_tabular_encoder_defaults_are_the_model_predictors_and_match_the_column_transformer():
    X, _ = _store_rows(300)
    train, test = X.iloc[:200], X.iloc[200:]
    for scale in (True, False):
        encoder = bm.TabularEncoder(scale=scale).fit(train)
        reference = _reference_encoder(NUMERIC_PREDICTORS, CATEGORICAL_PREDICTORS, scale).fit(train)
        np.testing.assert_allclose(encoder.transform(test), reference.transform(test), rtol=0, atol=1e-12)
    default = bm.TabularEncoder()
    assert default.scale is True
    assert tuple(default.numeric) == NUMERIC_PREDICTORS and tuple(default.categorical) == CATEGORICAL_PREDICTORS
    assert bm._preprocess().scale is True and bm._preprocess(scale=False).scale is False


def test_tabular_encoder_constant_and_near_constant_columns_as_standard_scaler():
    """StandardScaler's rule for a constant column is a bound on the variance's rounding error,
    ``var ≤ n·eps·var + (n·mean·eps)²``; the encoder used a bound on the standard deviation, 10 eps × max(|mean|, 1),
    and scaled "rounding" by 1e-12 (and left "small" unscaled) where StandardScaler does the opposite."""
    n = 50
    rng = np.random.default_rng(2)
    base = pd.DataFrame({
        "const": np.full(n, 3.0),
        # a spread of a few dozen ulps around 1e3: rounding noise for StandardScaler, left unscaled
        "rounding": 1e3 + 5e-12 * rng.normal(size=n),
        # genuine variation of size 1e-15 around 0: StandardScaler scales it to unit variance
        "small": 1e-15 * rng.normal(size=n),
        # all zeros (variance and bound both 0) and a spread of 1e-10 around 1 (scaled)
        "zeros": np.zeros(n),
        "spread": 1.0 + 1e-10 * rng.normal(size=n),
        "g": pd.array(rng.choice(["u", "v"], n), dtype="str"),
    })
    numeric = ["const", "rounding", "small", "zeros", "spread"]
    encoder = bm.TabularEncoder(numeric=numeric, categorical=("g",)).fit(base)
    reference = StandardScaler().fit(base[numeric])
    np.testing.assert_array_equal(reference.scale_[[0, 1, 3]], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(encoder.scale_, reference.scale_, rtol=1e-6)
    np.testing.assert_allclose(encoder.mean_, reference.mean_, rtol=1e-15, atol=1e-30)
    out = encoder.transform(base)
    np.testing.assert_allclose(out[:, :5], reference.transform(base[numeric]), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(out[:, 5], (base["g"] == "v").to_numpy(dtype=float))


# ---------------------------------------------------------------------------------------------------------------
# SigmoidSVC
# ---------------------------------------------------------------------------------------------------------------
def test_sigmoid_svc_defaults_probabilities_and_predictions_against_libsvm_and_a_logit():
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    X = rng.normal(size=(260, 3))
    y = (X[:, 0] - X[:, 1] ** 2 + rng.normal(size=260) > -0.5).astype(int)
    default = bm.SigmoidSVC()
    assert (default.C, default.gamma, default.max_rows, default.random_state) == (1.0, "scale", bm.SVC_MAX_ROWS,
                                                                                 None)
    assert bm.SVC_MAX_ROWS == 2000  # the bound stated in protocol.csv and the report
    model = bm.SigmoidSVC().fit(X, y)
    reference = SVC(kernel="rbf", C=1.0, gamma="scale").fit(X, y)
    X_new = 1.5 * rng.normal(size=(80, 3))
    score = reference.decision_function(X_new)
    np.testing.assert_allclose(model.decision_function(X_new), score, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(model.predict(X_new), np.where(score > 0, 1, 0))
    np.testing.assert_array_equal(model.classes_, [0, 1])
    # the sigmoid: an (essentially unpenalised) logistic regression of y on the training decision values
    train_score = reference.decision_function(X)
    logit = sm.Logit(y, sm.add_constant(train_score)).fit(disp=0)
    p = model.predict_proba(X_new)
    np.testing.assert_allclose(p[:, 1], logit.predict(sm.add_constant(score)), rtol=0, atol=1e-4)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # labels other than 0/1 are kept by predict
    labels = np.where(y == 1, "decline", "same")
    named = bm.SigmoidSVC().fit(X, labels)
    np.testing.assert_array_equal(named.predict(X_new), SVC(kernel="rbf").fit(X, labels).predict(X_new))


def test_sigmoid_svc_subsample_is_the_stratified_split_of_the_documented_size():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(320, 2))
    y = (X[:, 0] + rng.normal(size=320) > 1.0).astype(int)
    model = bm.SigmoidSVC(max_rows=300, random_state=7).fit(X, y)
    keep, _ = train_test_split(np.arange(320), train_size=300, stratify=y, random_state=7)
    keep = np.sort(keep)
    reference = SVC(kernel="rbf").fit(X[keep], y[keep])
    np.testing.assert_allclose(model.decision_function(X), reference.decision_function(X), rtol=0, atol=1e-10)
    # no bound: every row
    unbounded = bm.SigmoidSVC(max_rows=None).fit(X, y)
    np.testing.assert_allclose(unbounded.decision_function(X), SVC(kernel="rbf").fit(X, y).decision_function(X),
                               rtol=0, atol=1e-10)


# ---------------------------------------------------------------------------------------------------------------
# the candidates and the benchmark models
# ---------------------------------------------------------------------------------------------------------------
def test_gam_linear_formula_is_the_linear_formula_without_the_smoothed_columns():
    terms = linear_formula().split(" + ")
    expected = [t for t in terms if t not in set(bm.GAM_SMOOTH)]
    assert len(expected) == len(terms) - len(bm.GAM_SMOOTH)  # each smoothed column is a term of its own
    assert bm._gam_linear_formula().split(" + ") == expected


def test_candidate_models_are_the_interpretable_candidates_as_labelled():
    models = bm.candidate_models()
    assert tuple(models) == bm.INTERPRETABLE
    assert all(grid is None for _, grid in models.values())
    assert type(models["logit_selected"][0]).__name__ == "SelectedLogitClassifier"
    linear = models["logit_linear"][0]
    assert isinstance(linear, FormulaLogitClassifier) and linear.formula == linear_formula()
    floor = models["logit_floor"][0]
    assert isinstance(floor, FloorLogitClassifier) and floor.formula == linear_formula()
    gam = models["gam_engagement"][0]
    assert isinstance(gam, PenalizedSplineLogitClassifier)
    assert tuple(gam.smooth) == bm.GAM_SMOOTH
    assert gam.linear_formula == " + ".join(t for t in linear_formula().split(" + ") if t not in bm.GAM_SMOOTH)
    # the other settings are the estimators' defaults
    assert gam.get_params() == PenalizedSplineLogitClassifier(linear_formula=gam.linear_formula,
                                                              smooth=gam.smooth).get_params()
    assert type(models["logit_selected"][0])().get_params() == models["logit_selected"][0].get_params()


#: The inner-loop grids stated before the run (the protocol): changing one is a change of protocol.
STATED_GRIDS = {
    "logit_l2": {"model__C": [0.05, 0.5], "model__l1_ratio": [0.0, 1.0]},
    "svc_rbf": {"model__C": [0.5, 2.0], "model__gamma": ["scale", 0.02]},
    "random_forest": None,
    "decision_tree": {"model__max_depth": [3, 4, 5, 7], "model__min_samples_leaf": [10]},
    "knn": {"model__n_neighbors": [15, 31, 51]},
}


def test_benchmark_models_fit_what_the_equivalent_scikit_learn_pipelines_fit():
    seed = 5
    X, y = _store_rows(300, seed=2)
    train, test = X.iloc[:220], X.iloc[220:]
    y_train = y[:220]
    models = bm.benchmark_models(seed)
    assert list(models) == list(STATED_GRIDS)
    assert {name: grid for name, (_, grid) in models.items()} == STATED_GRIDS
    assert set(models) | set(bm.INTERPRETABLE) <= set(bm.MODEL_ORDER)

    def reference(model, scale=True):
        return Pipeline([("prep", _reference_encoder(NUMERIC_PREDICTORS, CATEGORICAL_PREDICTORS, scale)),
                         ("model", model)])

    cases = {
        "logit_l2": ({"model__C": 0.5, "model__l1_ratio": 1.0},
                     reference(LogisticRegression(solver="liblinear", max_iter=2000, random_state=seed, C=0.5,
                                                  l1_ratio=1.0))),
        "decision_tree": ({"model__max_depth": 4, "model__min_samples_leaf": 10},
                          reference(DecisionTreeClassifier(random_state=seed, max_depth=4, min_samples_leaf=10),
                                    scale=False)),
        "knn": ({"model__n_neighbors": 15}, reference(KNeighborsClassifier(n_neighbors=15))),
    }
    for name, (params, ref) in cases.items():
        ours = clone(models[name][0]).set_params(**params).fit(train, y_train)
        np.testing.assert_allclose(ours.predict_proba(test), ref.fit(train, y_train).predict_proba(test),
                                   rtol=0, atol=1e-7, err_msg=name)
    # the L1 logit on liblinear: its solution depends on the seed only through liblinear's coordinate order
    lr = models["logit_l2"][0].named_steps["model"]
    assert (lr.solver, lr.max_iter, lr.random_state) == ("liblinear", 2000, seed)
    # seeded as well outside the cross-validation (the hold-out fits are not reseeded by nested_cv)
    assert models["decision_tree"][0].named_steps["model"].random_state == seed
    forest_step = models["random_forest"][0].named_steps["model"]
    assert forest_step.grid == [{"min_samples_leaf": leaf, "max_features": f} for leaf in (2, 10)
                                for f in ("sqrt", 0.5)]
    assert (forest_step.n_estimators, forest_step.tuning_trees, forest_step.random_state) == (200, 100, seed)
    # the SVM: libsvm on the standardised, one-hot encoded rows
    svc = clone(models["svc_rbf"][0]).set_params(model__C=2.0, model__gamma=0.02).fit(train, y_train)
    ref_svc = reference(SVC(kernel="rbf", C=2.0, gamma=0.02)).fit(train, y_train)
    np.testing.assert_allclose(svc.decision_function(test), ref_svc.decision_function(test), rtol=0, atol=1e-9)
    # the forest: 200 trees (seeded) with the leaf size and feature share of the best out-of-bag AUC of 100 trees
    forest = clone(models["random_forest"][0]).fit(train, y_train)
    encoded = _reference_encoder(NUMERIC_PREDICTORS, CATEGORICAL_PREDICTORS, scale=False).fit(train)
    Z_train, Z_test = encoded.transform(train), encoded.transform(test)
    oob = []
    for params in [{"min_samples_leaf": leaf, "max_features": f} for leaf in (2, 10) for f in ("sqrt", 0.5)]:
        small = RandomForestClassifier(n_estimators=100, oob_score=True, random_state=seed, **params)
        oob.append((roc_auc_score(y_train, small.fit(Z_train, y_train).oob_decision_function_[:, 1]), params))
    best_auc, best_params = max(oob, key=lambda item: item[0])
    fitted = forest.named_steps["model"]
    assert fitted.best_params_ == best_params and fitted.oob_auc_ == pytest.approx(best_auc, abs=1e-15)
    direct = RandomForestClassifier(n_estimators=200, random_state=seed, **best_params).fit(Z_train, y_train)
    assert len(fitted.forest_.estimators_) == 200
    np.testing.assert_allclose(forest.predict_proba(test), direct.predict_proba(Z_test), rtol=0, atol=1e-12)
    from analysis.summary import protocol_table

    stated = protocol_table().set_index("name")["value"]
    assert (int(stated["forest_trees"]), int(stated["forest_tuning_trees"])) == (200, 100)


# ---------------------------------------------------------------------------------------------------------------
# OOBTunedForest
# ---------------------------------------------------------------------------------------------------------------
def test_oob_forest_defaults_fewer_trees_than_tuning_ties_and_cv_info():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    default = bm.OOBTunedForest()
    assert (default.grid, default.n_estimators, default.tuning_trees, default.random_state) == (None, 200, 100, None)
    # no grid: the one default setting, grown to n_estimators
    plain = bm.OOBTunedForest(n_estimators=30, tuning_trees=10, random_state=1).fit(X, y)
    assert plain.best_params_ == {"min_samples_leaf": 2, "max_features": "sqrt"}
    direct = RandomForestClassifier(n_estimators=30, random_state=1, min_samples_leaf=2, max_features="sqrt")
    direct.fit(X, y)
    np.testing.assert_array_equal(plain.predict_proba(X), direct.predict_proba(X))
    np.testing.assert_array_equal(plain.predict(X), direct.predict(X))
    np.testing.assert_array_equal(plain.classes_, [0, 1])
    # fewer trees asked for than the tuning forests have: the tuning forest is the forest (n_estimators trees)
    small = bm.OOBTunedForest(n_estimators=8, tuning_trees=20, random_state=1).fit(X, y)
    assert len(small.forest_.estimators_) == 8
    tuned = RandomForestClassifier(n_estimators=8, random_state=1, oob_score=True, min_samples_leaf=2,
                                   max_features="sqrt").fit(X, y)
    assert small.oob_auc_ == pytest.approx(roc_auc_score(y, tuned.oob_decision_function_[:, 1]), abs=1e-15)
    # a tie of out-of-bag AUCs goes to the first setting, as in GridSearchCV: with two columns, "sqrt" and 0.5
    # both draw one feature per split, so the two forests are the same forest
    tie = bm.OOBTunedForest(grid=[{"max_features": "sqrt"}, {"max_features": 0.5}], n_estimators=12,
                            tuning_trees=12, random_state=2).fit(X, y)
    assert tie.best_params_ == {"max_features": "sqrt"}
    assert tie.cv_info() == {"oob_auc": tie.oob_auc_, "max_features": "sqrt"}
    assert list(tie.cv_info()) == ["oob_auc", "max_features"]


# ---------------------------------------------------------------------------------------------------------------
# Recalibrated
# ---------------------------------------------------------------------------------------------------------------
def _inner_oof(model, X, y, splits, seed):
    oof = np.zeros(len(y))
    for train, test in StratifiedKFold(splits, shuffle=True, random_state=seed).split(X, y):
        oof[test] = clone(model).fit(X.iloc[train], y[train]).predict_proba(X.iloc[test])[:, 1]
    return oof


def test_recalibrated_map_is_fitted_on_inner_out_of_fold_probabilities():
    X, y = _toy(240, seed=8)
    y = y.to_numpy()
    base = FormulaLogitClassifier(formula="x1 + x2 + C(g)")
    default = bm.Recalibrated()
    assert (default.base, default.inner_splits, default.seed) == (None, 5, 0)
    model = bm.Recalibrated(base=base, inner_splits=4, seed=3).fit(X, y)
    calibrator = AsymptoteCalibrator().fit(_inner_oof(base, X, y, 4, 3), y)
    assert model.cv_info() == pytest.approx(calibrator.params(), rel=1e-9)
    assert list(model.cv_info()) == ["floor", "ceiling", "slope", "shift"]
    raw = clone(base).fit(X, y).predict_proba(X)[:, 1]
    p = model.predict_proba(X)
    np.testing.assert_allclose(p[:, 1], calibrator.transform(raw), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(p[:, 0], 1.0 - p[:, 1], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(model.predict(X), (p[:, 1] >= 0.5).astype(int))
    assert model.predict(X).dtype.kind == "i"  # labels as the classes_, not floats
    np.testing.assert_array_equal(model.classes_, [0, 1])
    assert model.base is base and not hasattr(base, "result_")  # the given base is cloned, not fitted
    # the default inner split: five folds seeded 0
    five = bm.Recalibrated(base=base).fit(X, y)
    assert five.cv_info() == pytest.approx(AsymptoteCalibrator().fit(_inner_oof(base, X, y, 5, 0), y).params(),
                                           rel=1e-9)


def test_recalibrated_selected_logit_refits_its_chosen_formula_in_the_inner_folds():
    from analysis.modeling.specification import SelectedLogitClassifier

    frame = model_frame(customer_table(400, 3))
    X, y = frame, frame["activity_decline"].to_numpy()
    selected = SelectedLogitClassifier(max_steps=1)
    model = bm.Recalibrated(base=selected, inner_splits=3, seed=1).fit(X, y)
    formula = model.base_.formula_
    assert formula == clone(selected).fit(X, y).formula_
    refit = _inner_oof(FormulaLogitClassifier(formula=formula), X, y, 3, 1)
    assert model.cv_info() == pytest.approx(AsymptoteCalibrator().fit(refit, y).params(), rel=1e-9)


# ---------------------------------------------------------------------------------------------------------------
# holdout_auc, ordered, _selection_stability, accuracy_gap
# ---------------------------------------------------------------------------------------------------------------
def _toy_models(y=None):
    prep = bm.TabularEncoder(numeric=("x1", "x2"), categorical=("g",))
    # x1 predicts (best AUC) but its cut predicts every row as the minority class; x2 is noise whose cut
    # predicts every row as the majority class (best accuracy): the hold-out must tune by AUC
    minority = 0 if y is None else int(np.mean(y) < 0.5)
    to_all = {0: 50.0, 1: -50.0}
    return {
        "rank": (Ranker(), [{"column": ["x2"], "cut": [to_all[1 - minority]]},
                             {"column": ["x1"], "cut": [to_all[minority]]}]),
        "lr": (Pipeline([("prep", prep), ("model", LogisticRegression())]), {"model__C": [0.01, 1.0]}),
        "knn": (Pipeline([("prep", prep), ("model", KNeighborsClassifier())]), {"model__n_neighbors": [5, 25]}),
        "one": (FormulaLogitClassifier(formula="x2"), None),
        "empty_grid": (FormulaLogitClassifier(formula="x1"), {}),
    }


def _holdout_by_hand(models, X, y, seed, test_size=0.25, inner_splits=3):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, stratify=y, random_state=seed)
    out = {}
    for name, (estimator, grid) in models.items():
        if grid:
            cv = StratifiedKFold(inner_splits, shuffle=True, random_state=seed)
            fitted = GridSearchCV(estimator, grid, scoring="roc_auc", cv=cv).fit(X_train, y_train).best_estimator_
        else:
            fitted = clone(estimator).fit(X_train, y_train)
        out[name] = (roc_auc_score(y_test, fitted.predict_proba(X_test)[:, 1]), len(y_test))
    return out


def test_holdout_auc_is_a_stratified_quarter_tuned_on_the_rest(monkeypatch):
    X, y = _toy(203, seed=9)
    models = _toy_models(y)
    for kwargs in ({}, {"test_size": 0.4, "inner_splits": 2}):
        table = bm.holdout_auc(models, X, y, seed=4, **kwargs)
        assert list(table.columns) == ["model", "test_auc", "n_test"]
        assert list(table["model"]) == list(models)
        expected = _holdout_by_hand(models, X, y, 4, **kwargs)
        for row in table.itertuples():
            assert row.test_auc == pytest.approx(expected[row.model][0], abs=1e-12)
            assert row.n_test == expected[row.model][1]
    assert set(bm.holdout_auc(models, X, y, seed=4)["n_test"]) == {51}  # ceil(0.25 × 203)
    rank = bm.holdout_auc({"rank": models["rank"]}, X, y, seed=4)["test_auc"].iloc[0]
    assert rank > 0.7  # the x1 grid point (AUC), not the x2 one (accuracy)
    # the inner folds: inner_splits (default 3) shuffled stratified folds seeded by the seed
    made = []

    class Spy(StratifiedKFold):
        def __init__(self, n_splits=5, *, shuffle=False, random_state=None):
            made.append((n_splits, shuffle, random_state))
            super().__init__(n_splits, shuffle=shuffle, random_state=random_state)

    monkeypatch.setattr(stats.crossval, "StratifiedKFold", Spy)  # the hold-out runs the nested CV's task
    bm.holdout_auc({"lr": models["lr"]}, X, y, seed=4)
    bm.holdout_auc({"lr": models["lr"]}, X, y, seed=6, inner_splits=2)
    assert made == [(3, True, 4), (2, True, 6)]
    assert list(bm.holdout_auc({}, X, y, seed=0).columns) == ["model", "test_auc", "n_test"]


def test_ordered_follows_the_model_labels_stably_with_unknown_names_last():
    known = list(bm.MODEL_ORDER)
    rng = np.random.default_rng(10)
    names = rng.choice(known[:5] + ["zz_unknown", "aa_unknown"], 60)
    frame = pd.DataFrame({"name": names, "row": np.arange(60)}, index=rng.permutation(60) + 100)
    out = bm.ordered(frame, column="name")
    rank = {name: i for i, name in enumerate(known)}
    key = [rank.get(n, len(known)) for n in names]
    expected = sorted(range(60), key=lambda i: key[i])  # Python's sort is stable
    assert list(out["row"]) == expected
    assert list(out.index) == list(range(60))
    assert list(out.columns) == ["name", "row"]  # the old index is dropped, not kept as a column
    assert list(bm.ordered(pd.DataFrame({"model": ["knn", "logit_selected"]}))["model"]) == ["logit_selected", "knn"]


def test_selection_stability_counts_terms_and_sets_by_hand():
    fit_info = [["b", "a"], ["a"], None, ["a", "b"], [], ["c", "a"]]
    scores = pd.DataFrame({
        "model": ["logit_selected"] * 6 + ["logit_linear"] * 2,
        "fit_info": fit_info + [["zz"], ["zz"]],
    })
    terms, sets = bm._selection_stability(scores)
    assert list(terms.columns) == ["term", "n_folds", "share_of_folds"]
    assert list(terms["term"]) == ["a", "b", "c"]  # by share, then name
    assert list(terms["n_folds"]) == [4, 2, 1]
    np.testing.assert_allclose(terms["share_of_folds"], [4 / 6, 2 / 6, 1 / 6], rtol=1e-15)
    assert list(terms.index) == [0, 1, 2]
    got = {row.specification: (row.n_folds, row.share_of_folds) for row in sets.itertuples()}
    assert got == {"a + b": (2, 2 / 6), "(all linear)": (2, 2 / 6), "a": (1, 1 / 6), "a + c": (1, 1 / 6)}
    assert list(sets.columns) == ["specification", "n_folds", "share_of_folds"]
    assert list(sets["n_folds"]) == sorted(sets["n_folds"], reverse=True)
    # ties of the share are broken by the term's name
    tied, _ = bm._selection_stability(pd.DataFrame({"model": ["logit_selected"] * 2, "fit_info": [["q"], ["p"]]}))
    assert list(tied["term"]) == ["p", "q"] and list(tied["n_folds"]) == [1, 1]


def _fold_scores(seed=11, J=(3, 4)):
    """AUCs of four models on the same folds (rows shuffled, so that pairing by (repeat, fold) matters)."""
    rng = np.random.default_rng(seed)
    repeats, folds = J
    rows = []
    for r in range(repeats):
        for f in range(folds):
            base = 0.7 + 0.03 * rng.normal()
            for name, shift, noise in (("best", 0.0, 0.0), ("close", -0.002, 0.004), ("far", -0.05, 0.01),
                                       ("mid", -0.01, 0.02)):
                rows.append({"model": name, "repeat": r, "fold": f, "auc": base + shift + noise * rng.normal()})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=1).reset_index(drop=True)


def test_accuracy_gap_every_column_against_the_corrected_t_and_tost_formulas():
    scores = _fold_scores()
    wide = scores.pivot(index=["repeat", "fold"], columns="model", values="auc")
    for margin, conf_level in ((bm.EQUIVALENCE_MARGIN, 0.95), (0.03, 0.8)):
        kwargs = {} if conf_level == 0.95 else {"margin": margin, "conf_level": conf_level}
        gap = bm.accuracy_gap(scores, ["far", "close", "mid"], "best", n_train=80, n_test=20, **kwargs)
        assert list(gap.columns) == ["model", "reference", "auc_diff", "std_error", "conf_low", "conf_high",
                                     "statistic", "p_value", "margin", "tost_p_value", "equivalent"]
        assert list(gap["model"]) == ["far", "close", "mid"] and set(gap["reference"]) == {"best"}
        for row in gap.to_dict("records"):
            expected = _corrected(wide[row["model"]] - wide["best"], 80, 20, margin, conf_level)
            for column, value in expected.items():
                assert row[column] == pytest.approx(value, rel=1e-10, abs=1e-14), (row["model"], column)
            assert row["margin"] == margin
            assert row["equivalent"] is bool(expected["tost_p_value"] < 0.05)
    # a duplicated (repeat, fold) row: the first AUC is paired, as in stats.crossval.pairwise_comparisons
    dup = pd.concat([scores, scores[scores["model"] == "far"].iloc[[0]].assign(auc=0.0)], ignore_index=True)
    once = bm.accuracy_gap(scores, ["far"], "best", 80, 20)
    pd.testing.assert_frame_equal(bm.accuracy_gap(dup, ["far"], "best", 80, 20), once)
    # the data make both verdicts occur: "close" is within 0.01 of the best, "far" is not
    default = bm.accuracy_gap(scores, ["far", "close"], "best", 80, 20).set_index("model")["equivalent"]
    assert not default["far"] and default["close"]


# ---------------------------------------------------------------------------------------------------------------
# run_benchmark with cheap models in place of the real ones
# ---------------------------------------------------------------------------------------------------------------
PROTOCOL = {"n_splits": 2, "n_repeats": 2, "inner_splits": 2}


def _cheap_candidates():
    return {"logit_selected": (FormulaLogitClassifier(formula="x1 + C(g)"), None),
            "logit_linear": (FormulaLogitClassifier(formula="x1 + x2 + C(g)"), None),
            "logit_floor": (FormulaLogitClassifier(formula="x2"), None),
            "gam_engagement": (FormulaLogitClassifier(formula="x1"), None),
            "logit_promo_flexible": (FormulaLogitClassifier(formula="x1 + x2"), None)}


def _cheap_benchmark(seed):
    prep = bm.TabularEncoder(numeric=("x1", "x2"), categorical=("g",))
    weak = bm.TabularEncoder(numeric=("x2",), categorical=())
    return {"lr_weak": (Pipeline([("prep", weak), ("model", LogisticRegression())]), {"model__C": [0.01, 1.0]}),
            "knn": (Pipeline([("prep", prep), ("model", KNeighborsClassifier())]), {"model__n_neighbors": [9, 41]}),
            "forest": (Pipeline([("prep", prep), ("model", bm.OOBTunedForest(n_estimators=12, tuning_trees=6,
                                                                           random_state=seed))]), None)}


@pytest.fixture()
def cheap_run(monkeypatch):
    """``run_benchmark`` on 200 rows with cheap models; ``chosen_meets`` sets whether the candidate of lowest
    log loss meets the calibration target (the other candidates get the opposite verdict, so that reading
    another row's verdict changes the result)."""
    import stats.crossval

    monkeypatch.setattr(bm, "candidate_models", _cheap_candidates)
    monkeypatch.setattr(bm, "benchmark_models", _cheap_benchmark)
    real = bm.candidate_metrics

    def run(chosen_meets, seed=3):
        calls = []

        def candidate_metrics(scores, oof, y, n_train, n_test, models, target):
            assert target is bm.CALIBRATION_TARGET
            table = real(scores, oof, y, n_train, n_test, models, target)
            calls.append(list(models))
            if len(calls) == 1:
                winner = table.loc[table["log_loss"].idxmin(), "model"]
                table["meets_target"] = (table["model"] == winner) == chosen_meets
            return table

        holdout = bm.holdout_auc
        holdout_calls = []

        def holdout_spy(models, X, y, **kwargs):
            holdout_calls.append((list(models), kwargs))
            return holdout(models, X, y, **kwargs)

        real_cv = stats.crossval.nested_cv
        cv_calls = []

        def nested_cv_spy(models, X, y, **kwargs):
            cv_calls.append(kwargs)
            return real_cv(models, X, y, **kwargs)

        monkeypatch.setattr(bm, "candidate_metrics", candidate_metrics)
        monkeypatch.setattr(bm, "holdout_auc", holdout_spy)
        monkeypatch.setattr(stats.crossval, "nested_cv", nested_cv_spy)
        X, y = _toy(200, seed=12)
        result = bm.run_benchmark(X, y, seed=seed, protocol=PROTOCOL, n_jobs=1)
        assert calls[0] == list(bm.INTERPRETABLE)
        # every cross-validation (the recalibrated model's too) with the run's seed, workers and protocol
        expected = {"seed": seed, "n_jobs": 1, "progress": False, **PROTOCOL}
        assert cv_calls == [expected] * (1 if chosen_meets else 2)
        # the hold-out: every model of the run (not the recalibrated one), tuned with the protocol's inner folds,
        # on the run's workers
        assert holdout_calls == [(list(bm.INTERPRETABLE) + ["lr_weak", "knn", "forest"],
                                  {"seed": seed, "test_size": FULL.holdout_share, "inner_splits": PROTOCOL["inner_splits"],
                                   "n_jobs": 1})]
        return X, y, result

    return run


def _check_common(X, y, result, seed=3):
    tables = result.tables
    cv_scores = tables["cv_scores"]
    # the stated rule: the interpretable candidate of lowest mean out-of-fold log loss
    log_loss = cv_scores[cv_scores["model"].isin(bm.INTERPRETABLE)].groupby("model")["log_loss"].mean()
    assert result.inference == log_loss.idxmin()
    # every model on the same 2 × 2 outer folds, seeded by the run's seed
    counts = cv_scores.groupby("model").size()
    assert set(counts) == {4}
    from sklearn.model_selection import RepeatedStratifiedKFold

    Xo = X.astype({"g": object})
    linear = cv_scores[cv_scores["model"] == "logit_linear"]
    splits = RepeatedStratifiedKFold(n_splits=2, n_repeats=2, random_state=seed).split(X, y)
    for (train, test), row in zip(splits, linear.itertuples()):
        fitted = FormulaLogitClassifier(formula="x1 + x2 + C(g)").fit(Xo.iloc[train], y.iloc[train])
        assert row.auc == pytest.approx(roc_auc_score(y.iloc[test], fitted.predict_proba(Xo.iloc[test])[:, 1]),
                                        abs=1e-12)
    for name in ("cv_scores", "model_candidates", "model_benchmark", "model_comparison", "accuracy_gap"):
        assert list(tables[name].index) == list(range(len(tables[name]))), name
    # the benchmark table: mean AUC, log loss, Brier per model, and the hold-out AUC of the (tuned) models
    bench = tables["model_benchmark"].set_index("model")
    means = cv_scores.groupby("model")[["auc", "log_loss", "brier"]].mean()
    for model in means.index:
        assert bench.loc[model, "auc_mean"] == pytest.approx(means.loc[model, "auc"], rel=1e-12)
        assert bench.loc[model, "log_loss"] == pytest.approx(means.loc[model, "log_loss"], rel=1e-12)
        assert bench.loc[model, "brier"] == pytest.approx(means.loc[model, "brier"], rel=1e-12)
    models = {**_cheap_candidates(), **_cheap_benchmark(seed)}
    holdout = _holdout_by_hand(models, Xo, y, seed, inner_splits=PROTOCOL["inner_splits"])
    for model, (auc, _) in holdout.items():
        assert bench.loc[model, "test_auc"] == pytest.approx(auc, abs=1e-12), model
    order = list(tables["model_benchmark"]["model"])
    assert order == sorted(order, key=lambda m: list(bm.MODEL_ORDER).index(m) if m in bm.MODEL_ORDER else 99)
    # Holm over every pair, by hand
    comparison = tables["model_comparison"]
    assert len(comparison) == len(means) * (len(means) - 1) // 2
    np.testing.assert_allclose(comparison["p_value_holm"], holm(comparison["p_value"]), rtol=1e-12)
    assert not np.allclose(comparison["p_value_holm"], np.minimum(1, len(comparison) * comparison["p_value"]))
    # the accuracy gap: against the benchmarked (non-interpretable) model of the highest mean AUC
    others = [m for m in ("lr_weak", "knn", "forest")]
    best = means.loc[others, "auc"].idxmax()
    gap = tables["accuracy_gap"]
    assert set(gap["reference"]) == {best}
    assert list(gap["model"]) == list(dict.fromkeys([result.inference, result.business, *bm.INTERPRETABLE]))
    wide = cv_scores.pivot(index=["repeat", "fold"], columns="model", values="auc")
    n_train, n_test = 100, 100
    for row in gap.to_dict("records"):
        expected = _corrected(wide[row["model"]] - wide[best], n_train, n_test, bm.EQUIVALENCE_MARGIN, 0.95)
        assert row["auc_diff"] == pytest.approx(expected["auc_diff"], abs=1e-14)
        assert row["std_error"] == pytest.approx(expected["std_error"], rel=1e-10)
        assert row["conf_high"] == pytest.approx(expected["conf_high"], rel=1e-10)
    # JSON columns with sorted keys; the selection tables from the selected logit's folds
    for column in ("best_params", "fit_info"):
        for text in cv_scores[column]:
            value = json.loads(text)
            assert text == json.dumps(value, sort_keys=True)
            if isinstance(value, dict):
                assert list(value) == sorted(value)
    grids = cv_scores.set_index("model")["best_params"].map(json.loads)
    assert all(set(v) == {"model__C"} for v in grids.loc["lr_weak"])
    assert all(v == {} for v in grids.loc["logit_linear"])
    sets = tables["selection_sets"]
    assert list(sets["specification"]) == ["(all linear)"] and list(sets["n_folds"]) == [4]
    assert len(tables["selection_stability"]) == 0
    assert result.calibration_models == list(dict.fromkeys([result.business, result.inference,
                                                            *bm.INTERPRETABLE]))
    assert list(result.oof.index) == list(X.index)
    # the tie rule: each model's mean log-loss difference to the chosen candidate over the same outer folds and
    # its Nadeau–Bengio SE, from stats.crossval's corrected t test (|mean / t| is the SE it divides by)
    candidates = tables["model_candidates"]
    losses = cv_scores.pivot(index=["repeat", "fold"], columns="model", values="log_loss")
    for row in candidates.itertuples():
        diff = (losses[row.model] - losses[result.inference]).to_numpy()
        if row.model == result.inference:
            assert (row.log_loss_diff, row.log_loss_diff_se, row.tied) == (0.0, 0.0, True)
            continue
        test = stats.crossval.corrected_resampled_ttest(diff, 100, 100)
        assert row.log_loss_diff == pytest.approx(test["mean_diff"], abs=1e-15)
        assert row.log_loss_diff_se == pytest.approx(abs(test["mean_diff"] / test["t_stat"]), rel=1e-12)
        assert row.tied == (row.model in bm.INTERPRETABLE and row.log_loss_diff <= row.log_loss_diff_se)
    return candidates


def test_run_benchmark_when_the_chosen_model_meets_the_calibration_target(cheap_run):
    X, y, result = cheap_run(True)
    candidates = _check_common(X, y, result)
    assert result.business == result.inference
    assert list(candidates["model"]) == list(bm.INTERPRETABLE)
    roles = dict(zip(candidates["model"], candidates["role"]))
    assert roles == {m: ("inference_and_business" if m == result.inference else "")
                     for m in bm.INTERPRETABLE}
    assert list(candidates["chosen"]) == [m == result.inference for m in bm.INTERPRETABLE]
    assert list(candidates["meets_target"]) == [m == result.inference for m in bm.INTERPRETABLE]
    assert list(result.oof.columns) == list(bm.INTERPRETABLE) + ["lr_weak", "knn", "forest"]
    # a Pipeline has no cv_info: no fit information (JSON null)
    assert set(result.tables["cv_scores"].set_index("model").loc["forest", "fit_info"]) == {"null"}


def test_run_benchmark_recalibrates_the_chosen_model_when_it_misses_the_target(cheap_run):
    X, y, result = cheap_run(False)
    candidates = _check_common(X, y, result)
    inference = result.inference
    assert result.business == f"{inference}_recalibrated"
    assert list(candidates["model"]) == list(bm.INTERPRETABLE) + [result.business]
    roles = dict(zip(candidates["model"], candidates["role"]))
    assert roles == {**{m: ("inference" if m == inference else "") for m in bm.INTERPRETABLE},
                     result.business: "business"}
    assert list(candidates["chosen"]) == [False] * len(bm.INTERPRETABLE) + [True]
    assert list(candidates["meets_target"])[:len(bm.INTERPRETABLE)] == [m != inference for m in bm.INTERPRETABLE]
    # the recalibrated business model has its log-loss difference but is never tied: it is not a candidate
    business_row = candidates.set_index("model").loc[result.business]
    assert np.isfinite(business_row["log_loss_diff"]) and np.isfinite(business_row["log_loss_diff_se"])
    assert not business_row["tied"]
    # the recalibrated model on the same outer folds, its map fitted inside each (seeded by the run's seed)
    cv_scores = result.tables["cv_scores"]
    recal = cv_scores[cv_scores["model"] == result.business]
    assert len(recal) == 4 and list(result.oof.columns)[-1] == result.business
    assert all(list(json.loads(t)) == ["ceiling", "floor", "shift", "slope"] for t in recal["fit_info"])
    base = _cheap_candidates()[inference][0]
    outer = StratifiedKFold(2, shuffle=True, random_state=3)  # first repeat of RepeatedStratifiedKFold(seed 3)
    from sklearn.model_selection import RepeatedStratifiedKFold

    train, test = next(RepeatedStratifiedKFold(n_splits=2, n_repeats=2, random_state=3).split(X, y))
    del outer
    Xo = X.astype({"g": object})
    fold = bm.Recalibrated(base=base, seed=3).fit(Xo.iloc[train], y.to_numpy()[train])
    first = recal[(recal["repeat"] == 0) & (recal["fold"] == 0)].iloc[0]
    assert json.loads(first["fit_info"]) == pytest.approx(fold.cv_info(), rel=1e-9)
    bench = result.tables["model_benchmark"].set_index("model")
    assert np.isnan(bench.loc[result.business, "test_auc"])


class _Stop(Exception):
    pass


def test_run_benchmark_progress_bar_on_a_terminal_only_and_text_columns_as_objects(monkeypatch):
    """The arguments of the first cross-validation: a progress bar when stderr is a terminal and CI is not set;
    the run's seed and workers; text columns as Python objects (patsy iterates them faster)."""
    import io
    import sys

    import stats.crossval

    seen = []

    def stop(models, X, y, **kwargs):
        seen.append((kwargs["progress"], kwargs["n_jobs"], kwargs["seed"], X["g"].dtype, list(models)))
        raise _Stop

    class Terminal(io.StringIO):
        def __init__(self, tty):
            super().__init__()
            self.tty = tty

        def isatty(self):
            return self.tty

    monkeypatch.setattr(stats.crossval, "nested_cv", stop)
    X, y = _toy(40, seed=1)
    for tty, ci, expected in ((False, None, False), (True, None, True), (True, "1", False), (True, "", True)):
        if ci is None:
            monkeypatch.delenv("CI", raising=False)
        else:
            monkeypatch.setenv("CI", ci)
        monkeypatch.setattr(sys, "stderr", Terminal(tty))
        with pytest.raises(_Stop):
            bm.run_benchmark(X, y, seed=7, protocol=PROTOCOL, n_jobs=2)
        assert seen[-1][:3] == (expected, 2, 7), (tty, ci)
        assert seen[-1][3] == object
        assert seen[-1][4] == list(bm.INTERPRETABLE) + list(STATED_GRIDS)
    assert X["g"].dtype != object  # the caller's frame is not changed


def test_holdout_auc_does_not_depend_on_the_number_of_workers():
    X, y = _toy(203, seed=9)
    models = _toy_models(y)
    one = bm.holdout_auc(models, X, y, seed=4)
    two = bm.holdout_auc(models, X, y, seed=4, n_jobs=2)
    pd.testing.assert_frame_equal(one, two, check_exact=True)


# ---------------------------------------------------------------------------------------------------------
# The tie rule
# ---------------------------------------------------------------------------------------------------------
def _scores(losses: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for model, values in losses.items():
        for j, v in enumerate(values):
            rows.append({"repeat": j // 2, "fold": j % 2, "model": model, "log_loss": v})
    return pd.DataFrame(rows)


def test_log_loss_ties_against_the_corrected_t_test():
    s = 0.01
    se_unit = np.sqrt((1 / 4 + 1 / 4) * (4 / 3)) * s  # J = 4 folds, n_test/n_train = 1/4, var of ±s = 4 s²/3
    best = [0.40, 0.42, 0.38, 0.41]
    pattern = np.array([1.0, -1.0, 1.0, -1.0])
    losses = {"best": best,
              "just_inside": list(np.array(best) + se_unit * (1 - 1e-6) + s * pattern),
              "just_outside": list(np.array(best) + se_unit * (1 + 1e-6) + s * pattern),
              "better": list(np.array(best) - 0.05 + s * pattern),
              "shifted": list(np.array(best) + 0.001),  # the same in every fold: SE 0, never tied
              "noisy": [0.5, 0.3, 0.45, 0.33]}
    table = pd.DataFrame({"model": list(losses), "log_loss": [np.mean(v) for v in losses.values()]})
    out = bm.log_loss_ties(table, _scores(losses), "best", n_train=400, n_test=100)
    assert list(out.columns) == list(table.columns) + ["log_loss_diff", "log_loss_diff_se", "tied"]
    out = out.set_index("model")
    for model, values in losses.items():
        diff = np.array(values) - np.array(best)
        if model == "best":
            assert (out.loc[model, "log_loss_diff"], out.loc[model, "log_loss_diff_se"]) == (0.0, 0.0)
            continue
        test = corrected_resampled_ttest(diff, 400, 100)
        assert out.loc[model, "log_loss_diff"] == pytest.approx(test["mean_diff"], rel=1e-12)
        if model == "shifted":
            assert out.loc[model, "log_loss_diff_se"] == pytest.approx(0.0, abs=1e-15)
        else:
            assert out.loc[model, "log_loss_diff_se"] == pytest.approx(abs(test["mean_diff"] / test["t_stat"]),
                                                                       rel=1e-10)
    assert out.loc["just_inside", "log_loss_diff_se"] == pytest.approx(se_unit, rel=1e-10)
    assert out["tied"].to_dict() == {"best": True, "just_inside": True, "just_outside": False, "better": True,
                                     "shifted": False, "noisy": bool(out.loc["noisy", "log_loss_diff"]
                                                                    <= out.loc["noisy", "log_loss_diff_se"])}


# ---------------------------------------------------------------------------------------------------------
# The candidates' table, computed here by hand
# ---------------------------------------------------------------------------------------------------------
def _hosmer_lemeshow_by_hand(y, p, groups=10):
    """Out-of-sample Hosmer–Lemeshow: groups of (nearly) equal size by sorted risk, chi-square with G df."""
    order = np.argsort(p, kind="stable")
    stat = 0.0
    for part in np.array_split(order, groups):
        n, observed, expected = len(part), y[part].sum(), p[part].sum()
        stat += (observed - expected) ** 2 / (expected * (1 - expected / n))
    return stat, groups, float(sps.chi2.sf(stat, groups))


def _candidate_inputs(seed=3):
    rng = np.random.default_rng(seed)
    n = 400
    y = rng.integers(0, 2, n)
    oof = pd.DataFrame({"good": np.clip(0.25 + 0.5 * y + rng.normal(0, 0.15, n), 0.02, 0.98),
                        "flat": np.clip(rng.uniform(0.2, 0.8, n), 0.02, 0.98)})
    rows = []
    for model in ("good", "flat"):
        for j in range(6):
            rows.append({"model": model, "repeat": j // 3, "fold": j % 3, "auc": 0.6 + 0.03 * j + (model == "good") * 0.1,
                         "log_loss": 0.5 + 0.01 * j - (model == "good") * 0.1, "brier": 0.2 + 0.005 * j,
                         "best_params": {}, "fit_info": {"converged": j != 4} if model == "good" else None})
    return pd.DataFrame(rows), oof, y


def _expected_candidate_row(name, scores, oof, y, n_train, n_test, target):
    import statsmodels.api as sm

    s = scores[scores["model"] == name]
    auc = s["auc"].to_numpy()
    J = len(auc)
    half = sps.t.ppf(0.975, J - 1) * np.sqrt((1 / J + n_test / n_train) * auc.var(ddof=1))
    p = oof[name].to_numpy()
    stat, df, pval = _hosmer_lemeshow_by_hand(y, p)
    lp = np.log(p / (1 - p))
    slope = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit().params[1]
    intercept = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=lp).fit().params[0]
    meets = (pval >= target["hl_p_value_min"] and target["slope_low"] <= slope <= target["slope_high"]
             and abs(intercept) <= target["intercept_abs_max"])
    flags = [d["converged"] for d in s["fit_info"] if isinstance(d, dict)]
    return {"model": name, "auc_mean": auc.mean(), "auc_conf_low": auc.mean() - half, "auc_conf_high": auc.mean() + half,
            "log_loss": s["log_loss"].mean(), "log_loss_diff": np.nan, "log_loss_diff_se": np.nan, "tied": False,
            "brier": s["brier"].mean(), "hl_statistic": stat, "hl_df": df, "hl_p_value": pval,
            "calibration_slope": slope, "calibration_intercept": intercept, "n_folds": J,
            "folds_not_converged": sum(not f for f in flags) if flags else pd.NA, "meets_target": bool(meets),
            "role": "", "chosen": False}


def test_candidate_metrics_every_column_by_hand():
    """The whole table: AUC with the corrected t interval, mean log loss and Brier, out-of-sample Hosmer–Lemeshow
    (10 groups, 10 df), the calibration slope and intercept from statsmodels, the convergence count, the target
    verdict, and the columns left for the choice rule (ties, role, chosen)."""
    scores, oof, y = _candidate_inputs()
    target = {"hl_p_value_min": 0.05, "slope_low": 0.8, "slope_high": 1.2, "intercept_abs_max": 0.2}
    got = bm.candidate_metrics(scores, oof, y, 300, 100, ["good", "flat"], target)
    expected = pd.DataFrame([_expected_candidate_row(m, scores, oof, y, 300, 100, target) for m in ("good", "flat")],
                            columns=bm.CANDIDATE_COLUMNS)
    assert list(got.columns) == bm.CANDIDATE_COLUMNS
    for column in bm.CANDIDATE_COLUMNS:
        if column in ("model", "role", "tied", "chosen", "meets_target", "hl_df", "n_folds", "folds_not_converged"):
            assert got[column].tolist() == expected[column].tolist(), column
        else:
            np.testing.assert_allclose(got[column].to_numpy(float), expected[column].to_numpy(float), rtol=1e-6,
                                       err_msg=column)
    assert got["folds_not_converged"].tolist()[0] == 1 and pd.isna(got["folds_not_converged"].tolist()[1])


@pytest.mark.parametrize("edge", ["hl_p_value_min", "slope_low", "slope_high", "intercept_abs_max"])
def test_candidate_metrics_target_edges_are_inclusive_and_every_condition_counts(edge):
    """Each bound of the calibration target exactly at the model's value meets it; moving that one bound past
    the value fails the target even when the others are met."""
    scores, oof, y = _candidate_inputs()
    base = bm.candidate_metrics(scores, oof, y, 300, 100, ["good"],
                                {"hl_p_value_min": 0.0, "slope_low": -1e9, "slope_high": 1e9,
                                 "intercept_abs_max": 1e9}).iloc[0]
    at = {"hl_p_value_min": base["hl_p_value"], "slope_low": base["calibration_slope"],
          "slope_high": base["calibration_slope"], "intercept_abs_max": abs(base["calibration_intercept"])}[edge]
    loose = {"hl_p_value_min": 0.0, "slope_low": -1e9, "slope_high": 1e9, "intercept_abs_max": 1e9}
    assert bool(base["meets_target"])
    exact = bm.candidate_metrics(scores, oof, y, 300, 100, ["good"], {**loose, edge: at}).iloc[0]
    assert bool(exact["meets_target"])
    step = abs(at) * 1e-9 + 1e-15
    nudged = at + step if edge in ("hl_p_value_min", "slope_low") else at - step  # just past the model's value
    missed = bm.candidate_metrics(scores, oof, y, 300, 100, ["good"], {**loose, edge: nudged}).iloc[0]
    assert not missed["meets_target"]


def test_choose_model_among_the_interpretable_ties_by_name():
    """The rule picks the lowest log loss among the interpretable models only, ties broken by name."""
    table = pd.DataFrame({"model": ["b", "a", "c"], "log_loss": [0.4, 0.4, 0.3]})
    assert bm.choose_model(table, ["a", "b"]) == "a"
    assert bm.choose_model(table, ["b", "c"]) == "c"
