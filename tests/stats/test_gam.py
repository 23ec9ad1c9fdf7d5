"""stats.gam.fit_penalized_logit at the edges the pipeline's tests do not reach (issue 10, item 6): rows whose
probability rounds to exactly 0 or 1, and the quadratic convergence of Newton's method."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from stats.gam import fit_penalized_logit


def _data(seed=0, n=300):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < expit(0.3 + 1.2 * x)).astype(float)
    return np.column_stack([np.ones(n), x]), y


def test_rows_with_probability_exactly_zero_or_one_keep_the_likelihood_finite():
    X, y = _data()
    # two far rows on the side the slope predicts: expit(η) rounds to exactly 1.0 and 0.0 there
    X = np.vstack([X, [[1.0, 1000.0], [1.0, -1000.0]]])
    y = np.append(y, [1.0, 0.0])
    P = np.diag([0.0, 0.5])
    fit = fit_penalized_logit(X, y, P)
    eta = X @ fit["params"]
    assert expit(eta[-2]) == 1.0 and expit(eta[-1]) == 0.0
    # the log-likelihood in its stable form, y η − log(1 + e^η): those rows contribute (almost exactly) 0
    llf = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    assert fit["converged"] is True
    assert fit["llf"] == pytest.approx(llf, rel=1e-12)
    assert np.isfinite(fit["aic"]) and np.isfinite(fit["edf"]) and np.all(np.isfinite(fit["cov"]))
    # the far rows carry no curvature: edf and covariance as without them
    without = fit_penalized_logit(X[:-2], y[:-2], P)
    np.testing.assert_allclose(fit["params"], without["params"], rtol=1e-8)
    assert fit["edf"] == pytest.approx(without["edf"], rel=1e-8)


def test_newton_converges_quadratically_even_under_a_strong_penalty():
    X, y = _data(seed=1)
    for P in (np.diag([0.0, 0.1]), np.diag([0.0, 500.0]), np.diag([50.0, 500.0])):
        # exact Newton steps from zero reach the 1e-10 step tolerance in a handful of iterations (a wrong
        # curvature converges only linearly)
        assert fit_penalized_logit(X, y, P, maxiter=8)["converged"] is True


# --- issue 20: the scaled penalties, the warm-started weight search, edf per smooth, the damped fit ------------------

def _spline_problem(seed=3, n=400):
    """A GAM design with two smooths of very different units and its raw (unscaled) penalty."""
    import pandas as pd

    from stats.gam import PenalizedSplineLogitClassifier

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.uniform(0, 1, n), "b": rng.uniform(0, 500, n), "z": rng.normal(size=n)})
    eta = np.sin(6 * frame["a"]) + 0.004 * frame["b"] - 1 + 0.5 * frame["z"]
    y = (rng.uniform(size=n) < expit(eta)).astype(int)
    clf = PenalizedSplineLogitClassifier(linear_formula="z", smooth=("a", "b"), df=5,
                                         alphas=(0.01, 0.1, 1.0, 10.0, 100.0)).fit(frame, y)
    return clf, frame, y.astype(float)


def test_scale_penalty_matches_mgcv_norms():
    from stats.gam import scale_penalty

    rng = np.random.default_rng(0)
    basis = rng.normal(size=(50, 4)) * [1.0, 30.0, 0.2, 5.0]
    a = rng.normal(size=(4, 4))
    S = a @ a.T * 1e4
    scaled, factor = scale_penalty(S, basis)
    inf_norm = lambda m: max(sum(abs(v) for v in row) for row in m)  # noqa: E731  largest absolute row sum
    assert inf_norm(scaled) == pytest.approx(inf_norm(basis) ** 2, rel=1e-12)
    np.testing.assert_allclose(scaled, factor * S, rtol=0, atol=0)
    assert factor == pytest.approx(inf_norm(basis) ** 2 / inf_norm(S), rel=1e-12)
    # the scale does not depend on the penalty's own units; a zero penalty or basis is left alone
    np.testing.assert_allclose(scale_penalty(7.0 * S, basis)[0], scaled, rtol=1e-12)
    zero = np.zeros((4, 4))
    assert scale_penalty(zero, basis)[1] == 1.0 and scale_penalty(S, np.zeros((5, 4)))[1] == 1.0


def test_the_classifier_scales_each_smooth_to_its_own_basis():
    from stats.gam import scale_penalty, second_derivative_penalty

    clf, frame, _ = _spline_problem()
    assert set(clf.penalty_scale_) == {"a", "b"}
    X = clf.design_matrix_
    for column in ("a", "b"):
        cols = clf.smooth_slices_[column]
        term = next(t for t in clf.design_info_.terms if t.name().startswith(f"cr({column}"))
        raw = second_derivative_penalty(clf.design_info_, term, column, frame[column].min(), frame[column].max())
        block = clf.penalty_[cols, cols]
        assert np.abs(block).sum(axis=1).max() == pytest.approx(np.abs(X[:, cols]).sum(axis=1).max() ** 2, rel=1e-12)
        np.testing.assert_allclose(block, scale_penalty(raw, X[:, cols])[0], rtol=1e-12)
    # the raw penalties differ by orders of magnitude (units of a vs b): the scale factors make up for it
    assert clf.penalty_scale_["b"] / clf.penalty_scale_["a"] > 1e3


def test_choose_weight_with_warm_starts_finds_the_cold_start_optima():
    from stats.gam import choose_weight

    clf, _, y = _spline_problem()
    X, S = clf.design_matrix_, clf.penalty_
    alphas = (100.0, 0.01, 1.0, 10.0, 0.1)  # any order: each fit starts at the previous weight's solution
    alpha, fit = choose_weight(X, y, S, alphas)
    cold = {a: fit_penalized_logit(X, y, a * S) for a in alphas}
    best = min(alphas, key=lambda a: (cold[a]["aic"], alphas.index(a)))
    assert alpha == best and isinstance(alpha, float)
    np.testing.assert_allclose(fit["params"], cold[best]["params"], atol=1e-8)
    assert fit["aic"] == pytest.approx(cold[best]["aic"], abs=1e-8)
    # the same optimum for every weight, warm or cold
    start = None
    for a in alphas:
        warm = fit_penalized_logit(X, y, a * S, start=start)
        start = warm["params"]
        np.testing.assert_allclose(warm["params"], cold[a]["params"], atol=1e-8)
    # the classifier's own choice is the cold-start one too
    assert clf.alpha_ == min(clf.alphas, key=lambda a: fit_penalized_logit(X, y, a * S)["aic"])


def test_choose_weight_keeps_the_first_of_tied_weights_and_passes_each_solution_on(monkeypatch):
    import stats.gam

    calls = []

    def fake(X, y, penalty, start=None, damped=False, **kwargs):
        calls.append((float(penalty[0, 0]), None if start is None else float(start[0]), damped))
        return {"params": np.array([penalty[0, 0]]), "aic": {2.0: 5.0, 3.0: 4.0, 5.0: 4.0, 7.0: 4.5}[penalty[0, 0]]}

    monkeypatch.setattr(stats.gam, "fit_penalized_logit", fake)
    fits = {}
    alpha, fit = stats.gam.choose_weight(np.ones((3, 1)), np.ones(3), np.eye(1), (2.0, 3.0, 5.0, 7.0), damped=True,
                                         fits=fits)
    assert alpha == 3.0 and fit["aic"] == 4.0
    assert calls == [(2.0, None, True), (3.0, 2.0, True), (5.0, 3.0, True), (7.0, 5.0, True)]
    assert {a: float(v[0]) for a, v in fits.items()} == {2.0: 2.0, 3.0: 3.0, 5.0: 5.0, 7.0: 7.0}
    # a given start for a weight replaces the previous weight's solution
    calls.clear()
    stats.gam.choose_weight(np.ones((3, 1)), np.ones(3), np.eye(1), (2.0, 3.0, 5.0), starts={3.0: np.array([-1.0])})
    assert calls == [(2.0, None, False), (3.0, -1.0, False), (5.0, 3.0, False)]


def test_smooth_edf_is_each_smooths_share_of_the_influence():
    from stats.gam import smooth_edf

    clf, _, y = _spline_problem()
    X, S = clf.design_matrix_, clf.penalty_
    fit = fit_penalized_logit(X, y, clf.alpha_ * S)
    p = expit(X @ fit["params"])
    H = X.T @ (X * (p * (1 - p))[:, None])
    influence = np.diag(np.linalg.solve(H + 2 * clf.alpha_ * S, H))
    np.testing.assert_allclose(fit["influence"], influence, rtol=1e-8)
    edf = smooth_edf(fit, clf.smooth_slices_)
    assert edf == pytest.approx({c: influence[clf.smooth_slices_[c]].sum() for c in ("a", "b")}, rel=1e-8)
    assert clf.edf_smooth_ == pytest.approx(edf, rel=1e-10)
    unpenalised = [j for j in range(X.shape[1]) if not np.any(S[j])]
    assert unpenalised == [0, 1]  # intercept and z
    assert sum(edf.values()) == pytest.approx(fit["edf"] - influence[unpenalised].sum(), rel=1e-10)
    # each unpenalised coefficient counts one degree of freedom; each smooth fewer than its 5 columns
    np.testing.assert_allclose(influence[unpenalised], 1.0, atol=1e-8)
    assert all(0 < v < 5 for v in edf.values())


def test_damped_newton_agrees_where_newton_works_and_stops_on_separation():
    X, y = _data(seed=2)
    P = np.diag([0.0, 0.3])
    plain, damped = fit_penalized_logit(X, y, P), fit_penalized_logit(X, y, P, damped=True)
    np.testing.assert_allclose(damped["params"], plain["params"], atol=1e-10)
    assert damped["converged"] is True and damped["aic"] == pytest.approx(plain["aic"], rel=1e-12)
    # separated data without a penalty: no finite optimum; the damped fit stops, reports it, and stays finite
    x = np.linspace(-1, 1, 40)
    Xs, ys = np.column_stack([np.ones(40), x]), (x > 0).astype(float)
    fit = fit_penalized_logit(Xs, ys, np.zeros((2, 2)), damped=True, maxiter=30)
    assert fit["converged"] is False and np.all(np.isfinite(fit["params"])) and fit["params"][1] > 10
    # a column without variation (a level not drawn): a singular Hessian is solved by least squares
    Xz = np.column_stack([X, np.zeros(len(y))])
    fit = fit_penalized_logit(Xz, y, np.zeros((3, 3)), damped=True)
    np.testing.assert_allclose(fit["params"][:2], fit_penalized_logit(X, y, np.zeros((2, 2)))["params"], atol=1e-8)
    with pytest.raises(np.linalg.LinAlgError):
        fit_penalized_logit(Xz, y, np.zeros((3, 3)))
