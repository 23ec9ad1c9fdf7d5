"""Slow statistical checks of the stats toolkit (run with ``-m slow``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stats.logit import coefficient_table, fit_logit
from stats.margins import average_marginal_effects

BETA = np.array([-0.5, 0.8, -0.6, 0.5])  # Intercept, x1, x2, d


def simulate(n, rng):
    x1 = rng.normal(size=n)
    x2 = rng.exponential(size=n)
    d = rng.integers(0, 2, n)
    eta = BETA[0] + BETA[1] * x1 + BETA[2] * x2 + BETA[3] * d
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "d": d, "y": y}), eta


@pytest.mark.slow
def test_wald_and_ame_coverage():
    rng = np.random.default_rng(2024)
    # population AMEs from a large sample of the covariate distribution
    big, eta = simulate(2_000_000, rng)
    p = 1 / (1 + np.exp(-eta))
    true_ame = {
        ("x1", "dY/dX"): np.mean(BETA[1] * p * (1 - p)),
        ("x2", "dY/dX"): np.mean(BETA[2] * p * (1 - p)),
    }
    eta0 = eta - BETA[3] * big["d"].to_numpy()
    true_ame[("d", "1 - 0")] = np.mean(1 / (1 + np.exp(-(eta0 + BETA[3]))) - 1 / (1 + np.exp(-eta0)))

    n_rep, covered_beta, covered_ame = 150, [], []
    for _ in range(n_rep):
        df, _ = simulate(500, rng)
        res = fit_logit("y ~ x1 + x2 + d", df)
        tab = coefficient_table(res, conf_level=0.95)
        covered_beta.extend((tab["conf_low"] <= BETA) & (BETA <= tab["conf_high"]))
        ame = average_marginal_effects(res, df).set_index(["term", "contrast"])
        for key, value in true_ame.items():
            covered_ame.append(ame.loc[key, "conf_low"] <= value <= ame.loc[key, "conf_high"])
    rate_beta = np.mean(covered_beta)
    rate_ame = np.mean(covered_ame)
    print(f"coverage: beta {rate_beta:.3f}, ame {rate_ame:.3f}")
    assert 0.90 <= rate_beta <= 0.99, rate_beta
    assert 0.90 <= rate_ame <= 0.99, rate_ame


@pytest.mark.slow
def test_nested_cv_identical_with_process_workers():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from stats.crossval import nested_cv

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(240, 4)), columns=list("abcd"))
    y = (rng.uniform(size=240) < 1 / (1 + np.exp(-(X.a - X.b)))).astype(int)
    models = {
        "logreg": (make_pipeline(StandardScaler(), LogisticRegression()), {"logisticregression__C": [0.1, 1]}),
        "forest": (RandomForestClassifier(n_estimators=10), None),
    }
    one = nested_cv(models, X, y, n_splits=3, n_repeats=2, seed=1, n_jobs=1)
    two = nested_cv(models, X, y, n_splits=3, n_repeats=2, seed=1, n_jobs=2)
    pd.testing.assert_frame_equal(one.scores, two.scores)
    pd.testing.assert_frame_equal(one.oof, two.oof)
