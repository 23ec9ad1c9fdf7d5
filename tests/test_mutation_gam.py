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
