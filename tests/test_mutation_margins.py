"""stats.margins against independent computations (issue 10, item 6: the survivors of mutmut on stats/margins.py).

References: statsmodels' own ``get_margeff`` and ``predict``, central differences through ``result.predict``,
analytic ``p(1 − p)β`` derivatives, and exact error messages.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.formula import options

from stats import margins
from stats.margins import average_marginal_effects, average_prediction, compare_predictions, model_variables


def make_data(n=400, seed=3):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x": rng.normal(size=n), "z": rng.uniform(0, 3, n), "g": rng.choice(["a", "b", "c"], n)})
    eta = -0.2 + 0.8 * df["x"] - 0.5 * df["z"] + 0.7 * (df["g"] == "b")
    df["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    return df


@pytest.fixture(scope="module")
def data():
    return make_data()


def _margeff(result) -> pd.DataFrame:
    return result.get_margeff(at="overall").summary_frame()


def test_numeric_ame_of_a_constant_column_is_the_analytic_derivative(data):
    result = smf.logit("y ~ x + z", data).fit(disp=0)
    beta = result.params
    for value, n in ((0.3, 50), (-2.0, 1), (0.0, 5)):
        frame = data.iloc[:n].assign(x=value)
        ame = average_marginal_effects(result, frame, variables={"x": "numeric"}).iloc[0]
        p = result.predict(frame).to_numpy()
        assert ame["ame"] == pytest.approx(float(np.mean(p * (1 - p))) * beta["x"], rel=1e-6)
        plan = margins._plan_numeric(frame, "x", 1e-4)
        # sd 0 (or one row): the step is eps × max(1, mean |x|), two-sided, not clipped
        np.testing.assert_allclose(plan["step"], 2e-4 * max(1.0, abs(value)), rtol=1e-12)
