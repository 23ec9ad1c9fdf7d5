"""A statistician refits the inference and business models from what the report's appendix prints, with other
code: patsy's ``cr`` basis from the printed knots, the roughness penalty integrated afresh (Simpson's rule on a
finer grid, second derivatives by ``numpy.gradient``), mgcv's penalty scaling, the printed weight α, and
statsmodels' ``GLMGam`` for the fit; then the printed recalibration map. The coefficients must be the report's."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.api as sm
from scipy.integrate import simpson
from scipy.special import expit

from analysis.modeling.features import model_frame


def _frame(results) -> pd.DataFrame:
    return model_frame(pd.read_csv(results / "customer_table.csv"))


def _penalty(knots: np.ndarray, x: np.ndarray, n_grid: int = 4001) -> np.ndarray:
    """∫ B''(t) B''(t)' dt over [min x, max x] for the centred cr basis with these knots."""
    inner = ", ".join(repr(float(k)) for k in knots[1:-1])
    spec = f"cr(x, knots=[{inner}], lower_bound={float(knots[0])!r}, upper_bound={float(knots[-1])!r}, " \
           "constraints='center') - 1"
    info = patsy.dmatrix(spec, {"x": x}).design_info
    grid = np.linspace(x.min(), x.max(), n_grid)
    basis = np.asarray(patsy.build_design_matrices([info], {"x": grid})[0])
    second = np.gradient(np.gradient(basis, grid, axis=0), grid, axis=0)
    # the ends of a second difference by np.gradient are one-sided: drop two points at each end
    keep = slice(2, -2)
    return simpson(second[keep, :, None] * second[keep, None, :], x=grid[keep], axis=0), info


def test_gam_refit_from_the_appendix_tables(synthetic_run):
    from statsmodels.gam.api import GLMGam
    from statsmodels.gam.smooth_basis import GenericSmoothers, UnivariateGenericSmoother

    frame = _frame(synthetic_run)
    smooths = pd.read_csv(synthetic_run / "gam_smooths.csv")
    printed = pd.read_csv(synthetic_run / "gam_coefficients.csv")
    alpha = float(smooths["alpha"].iloc[0])
    linear_terms = [t for t in printed["term"] if not t.startswith("cr(")]
    # the linear part as printed: the design of its terms, in their order
    rhs = " + ".join(dict.fromkeys(t.split("[")[0] for t in linear_terms if t != "Intercept"))
    linear = patsy.dmatrix(rhs, frame, return_type="dataframe")
    assert list(linear.columns) == linear_terms
    bases, penalties, smoothers = [], [], []
    for row in smooths.itertuples():
        x = frame[row.smooth].to_numpy(dtype=float)
        knots = np.array([float(k) for k in row.knots.split()])
        S, info = _penalty(knots, x)
        basis = np.asarray(patsy.build_design_matrices([info], {"x": x})[0])
        scale = np.max(np.abs(basis).sum(axis=1)) ** 2 / np.max(np.abs(S).sum(axis=1))
        assert scale == pytest.approx(row.penalty_scale, rel=2e-3)
        penalties.append(S * scale)
        smoothers.append(UnivariateGenericSmoother(x, basis, basis, basis, S * scale, row.smooth))
        bases.append(basis)
    smoother = GenericSmoothers(frame[list(smooths["smooth"])].to_numpy(dtype=float), smoothers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = GLMGam(frame["activity_decline"].to_numpy(), exog=linear.to_numpy(), smoother=smoother,
                     alpha=[alpha] * len(smoothers), family=sm.families.Binomial()).fit()
    ours = printed["estimate"].to_numpy()
    np.testing.assert_allclose(np.asarray(fit.params), ours, rtol=2e-3, atol=2e-3)
    # the linear part to a tighter tolerance (the penalty grid moves only the spline coefficients much)
    n_linear = len(linear_terms)
    np.testing.assert_allclose(np.asarray(fit.params)[:n_linear], ours[:n_linear], rtol=1e-3, atol=1e-3)


def test_business_probability_from_the_printed_map(synthetic_run):
    """The business probability of every customer follows from the printed GAM coefficients and the printed map;
    the run's model file must give the same."""
    from analysis.modeling.model_file import load_model, predict_proba

    frame = _frame(synthetic_run)
    spec = load_model(synthetic_run / "model.json")
    recal = pd.read_csv(synthetic_run / "recalibration_map.csv")
    p_file = predict_proba(spec, frame)
    eta = np.asarray(predict_proba({**spec, "probability": {"link": "logit"}}, frame))
    s = np.log(eta) - np.log1p(-eta)
    if len(recal):
        m = recal.set_index("parameter")["value"]
        p_printed = m["floor"] + (m["ceiling"] - m["floor"]) * expit(m["slope"] * s + m["shift"])
    else:
        p_printed = eta
    np.testing.assert_allclose(p_file, p_printed, rtol=1e-9, atol=1e-12)
