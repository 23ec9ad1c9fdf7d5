"""The score tests of the specification search against statsmodels on rank-deficient designs (issue 22, item 5).

The forward selection of :mod:`analysis.modeling.specification` tests each candidate block ``Z`` from the current fit alone;
its degrees of freedom must be the rank of ``Z`` after the current design ``X`` is projected out, not the number of
columns of ``Z``: a centred natural cubic spline contains the linear term already in ``X`` (4 columns, 3 new
directions), a spline of a variable with few distinct values loses more (4 values: 2, 3 values: 1), and a candidate
collinear with ``X`` adds nothing (df 0, no test).

The independent computation is statsmodels:

- the df is the rank statsmodels gives the augmented design minus that of ``X`` (``Logit(...).df_model`` is the
  rank of the exog minus one, computed with ``numpy.linalg.matrix_rank`` on the design itself, not on ``Z'WZ``);
- the statistic and p-value are ``LogitResults.score_test(exog_extra=...)`` on a full-rank choice of ``Z``'s
  columns spanning the same augmented model (the score statistic does not depend on the basis; statsmodels would
  count raw columns as its df and solve a singular system if given all of ``Z``), checked to report that same df.

Tolerances: the statistic to a relative 1e-6 (absolute 1e-8 for values near 0) when both use the same fit; 1e-5
when the selection and statsmodels each fit the model (Newton to 1e-8).
"""

from __future__ import annotations

import warnings

import numpy as np
import patsy
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats as sps
from scipy.special import expit

import analysis.modeling.specification as specification
from analysis.data.dictionary import TARGET
from analysis.modeling.features import NUMERIC_PREDICTORS, linear_formula
from analysis.modeling.specification import _score_test, select_specification


def reference_score_test(y: np.ndarray, X: np.ndarray, Z: np.ndarray, fit=None) -> tuple[float, int, float]:
    """Score test of adding ``Z`` to the logit of ``y`` on ``X``, by statsmodels: (statistic, df, p-value)."""
    base = sm.Logit(y, X)
    if fit is None:
        fit = base.fit(method="newton", maxiter=100, disp=0)
    df = int(round(sm.Logit(y, np.column_stack([X, Z])).df_model - base.df_model))
    kept: list[int] = []
    rank = np.linalg.matrix_rank(X)
    for j in range(Z.shape[1]):
        grown = np.linalg.matrix_rank(np.column_stack([X, Z[:, kept + [j]]]))
        if grown > rank:
            kept, rank = kept + [j], grown
    assert len(kept) == df
    if df == 0:
        return 0.0, 0, 1.0  # nothing to test: the augmented model is the current one
    result = fit.score_test(exog_extra=Z[:, kept])
    assert result.k_constraint == df
    return float(np.squeeze(result.statistic)), df, float(np.squeeze(result.pvalue))


def _spline(values: np.ndarray) -> np.ndarray:
    """The candidate block of the selection: a centred natural cubic spline with 4 columns."""
    return np.asarray(patsy.dmatrix("cr(v, df=4, constraints='center') - 1", {"v": values}), dtype=float)


# --- _score_test on hand-built designs ----------------------------------------------------------------------------

def result_design(seed: int, n: int = 600):
    """Current design X = [1, x, a, g]: x continuous, a in {3, 4} (more 3s, so its median is 3), g binary; the
    outcome has some curvature in x so that the spline's score is not near zero."""
    rng = np.random.default_rng(seed)
    x = rng.normal(5.0, 2.0, n) * 10 ** (seed % 3)  # scale varies with the seed: the rank must not depend on it
    a = rng.choice([3.0, 4.0], size=n, p=[0.6, 0.4])
    g = (rng.uniform(size=n) < 0.4).astype(float)
    xs = (x - x.mean()) / x.std()
    y = (rng.uniform(size=n) < expit(0.2 + 0.8 * xs + 0.3 * xs**2 - 0.4 * (a - 3) + 0.3 * g)).astype(float)
    return rng, y, np.column_stack([np.ones(n), x, a, g]), x, a, g


def _block(case: str, rng, x, a, g) -> tuple[np.ndarray, np.ndarray | None]:
    """(Z, replacement for x in the design or None), for each case."""
    n = len(x)
    if case == "spline_of_continuous":  # contains the linear x: 4 columns, 3 new directions
        return _spline(x), None
    if case == "spline_of_4_values":  # a natural spline on 4 points spans 1, v and 2 more directions
        v = rng.choice([1.0, 2.0, 3.0, 5.0], size=n)
        return _spline(v), v
    if case == "spline_of_3_values":  # two of the 4 columns are zero on 3 points; 1 new direction
        v = rng.choice([3.0, 4.0, 5.0], size=n, p=[0.25, 0.5, 0.25])
        return _spline(v), v
    if case == "product_collinear":
        # (a − median a)·(b − median b) where b − median b = 2 whenever a is above its median: 2·(a − 3)
        b = np.where(a == 4.0, 7.0, rng.normal(5.0, 1.0, n))
        return ((a - 3.0) * (b - 5.0))[:, None], None
    if case == "linear_combination":
        return (3.0 * x - 2.0 * g + 7.0)[:, None], None
    if case == "one_collinear_one_new":
        return np.column_stack([2.0 * x - 1.0, (x - np.median(x)) * (g - 0.5)]), None
    if case == "product_full_rank":
        return ((x - np.median(x)) * (g - np.median(g)))[:, None], None
    raise ValueError(case)


EXPECTED_DF = {"spline_of_continuous": 3, "spline_of_4_values": 2, "spline_of_3_values": 1,
               "product_collinear": 0, "linear_combination": 0, "one_collinear_one_new": 1, "product_full_rank": 1}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("case", EXPECTED_DF)
def test_score_test_and_df_equal_statsmodels(case, seed):
    rng, y, X, x, a, g = result_design(seed)
    Z, v = _block(case, rng, x, a, g)
    if v is not None:  # the variable of the spline is in the current design linearly, as in the selection
        X = np.column_stack([X, v])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.Logit(y, X).fit(method="newton", maxiter=100, disp=0)
        stat_ref, df_ref, p_ref = reference_score_test(y, X, Z, fit)
    p = fit.predict(X)
    xtwx_inv = np.linalg.pinv(X.T @ (X * (p * (1 - p))[:, None]))  # as select_specification computes it
    stat, df = _score_test(X, p, y, Z, xtwx_inv)
    assert df == df_ref == EXPECTED_DF[case]
    assert stat == pytest.approx(stat_ref, rel=1e-6, abs=1e-8)
    assert (float(sps.chi2.sf(stat, df)) if df else 1.0) == pytest.approx(p_ref, rel=1e-6, abs=1e-12)


# --- the whole selection: every candidate at every step ------------------------------------------------------------

def _formula_of(chosen: list[str], medians: dict[str, float]) -> str:
    """The current model after ``chosen`` (candidate names), written independently of the package's ``_formula``."""
    terms = [f"cr({t}, df=4, constraints='center')" if f"spline({t})" in chosen else t
             for t in linear_formula().split(" + ")]
    terms += [f"I({a} - {medians[a]!r}):I({b} - {medians[b]!r})" for a, b in
              (name.split(":") for name in chosen if ":" in name)]
    return " + ".join(terms)


def _candidate_block(frame, name: str, medians: dict[str, float]) -> np.ndarray:
    if name.startswith("spline("):
        return _spline(frame[name[len("spline("):-1]].to_numpy(dtype=float))
    a, b = name.split(":")
    return ((frame[a].to_numpy(dtype=float) - medians[a]) * (frame[b].to_numpy(dtype=float) - medians[b]))[:, None]


def _check_steps_against_statsmodels(frame, formula: str, steps, alpha: float = 0.05) -> None:
    medians = {c: float(np.median(frame[c].to_numpy(dtype=float))) for c in NUMERIC_PREDICTORS}
    y = frame[TARGET].to_numpy(dtype=float)
    chosen: list[str] = []
    for step, rows in steps.groupby("step", sort=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            current = smf.logit(f"{TARGET} ~ {_formula_of(chosen, medians)}", frame).fit(
                method="newton", maxiter=100, disp=0)
            X = current.model.exog
            for row in rows.itertuples():
                stat, df, p = reference_score_test(y, X, _candidate_block(frame, row.candidate, medians))
                assert row.df == df, (step, row.candidate)
                assert row.score_chi2 == pytest.approx(stat, rel=1e-5, abs=1e-7), (step, row.candidate)
                assert row.p_value == pytest.approx(p, rel=1e-5, abs=1e-12), (step, row.candidate)
        assert (rows["threshold"] == alpha / len(rows)).all()
        best = rows.loc[rows["p_value"].idxmin()]
        assert rows["selected"].sum() == (best["p_value"] < alpha / len(rows))
        if best["selected"]:
            chosen.append(best["candidate"])
    # the formula returned is the model of the chosen candidates (same fit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        returned = smf.logit(f"{TARGET} ~ {formula}", frame).fit(method="newton", disp=0)
        rebuilt = smf.logit(f"{TARGET} ~ {_formula_of(chosen, medians)}", frame).fit(method="newton", disp=0)
    assert returned.llf == pytest.approx(rebuilt.llf, rel=1e-10)


@pytest.fixture(scope="module")
def curved_frame(synthetic_model_frame):
    """The 600 synthetic customers with an outcome that has a product (tenure × service errors) and a curve in
    pages per visit, so that the search adds both and tests every candidate on a design that holds a spline."""
    frame = synthetic_model_frame.reset_index(drop=True).copy()
    rng = np.random.default_rng(22)
    pages, errors, tenure = frame["pages_per_visit"], frame["service_errors"], frame["tenure_100d"]
    eta = (-0.3 - 0.25 * (pages - 8) + 0.05 * (pages - 8) ** 2 - 0.4 * (frame["marketing_6m"] - 4)
           + 0.35 * (errors - errors.median()) * (tenure - tenure.median()))
    frame[TARGET] = (rng.uniform(size=len(frame)) < expit(eta)).astype(int)
    return frame


def test_every_score_test_of_the_search_equals_statsmodels(curved_frame):
    formula, steps = select_specification(curved_frame)
    assert specification.chosen_candidates(steps) == ["tenure_100d:service_errors", "spline(pages_per_visit)"]
    assert steps["step"].max() == 3  # the third step tests every candidate on the design with the spline
    splines = steps[steps["kind"] == "spline"]
    assert set(splines["df"]) == {3}  # 4 columns, one of them the linear term already in the model
    _check_steps_against_statsmodels(curved_frame, formula, steps)


def test_splines_of_few_distinct_values_lose_columns(curved_frame, monkeypatch):
    """With the distinct-value guard lowered to 3, marketing_current (3 values) and categories_per_visit
    (6 values) become spline candidates whose 4-column basis has fewer new directions."""
    original = specification.candidate_terms
    monkeypatch.setattr(specification, "candidate_terms",
                        lambda frame, centres=None, min_unique=8: original(frame, centres, min_unique=3))
    formula, steps = select_specification(curved_frame, max_steps=2)
    first = steps[steps["step"] == 1].set_index("candidate")
    assert curved_frame["marketing_current"].nunique() == 3 and curved_frame["categories_per_visit"].nunique() == 6
    assert first.loc["spline(marketing_current)", "df"] == 1
    assert first.loc["spline(categories_per_visit)", "df"] == 3
    _check_steps_against_statsmodels(curved_frame, formula, steps)
