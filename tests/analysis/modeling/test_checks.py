"""analysis.modeling.checks on small simulated customer frames, against independent computations.

Pins: the phik matrix as a long frame (against the ``phik`` package's own matrix) and phik with the target sorted
by strength (:func:`correlation_checks`); VIF and GVIF of the linear design and of a fitted design with a spline
and a product (the inverse correlation matrix and the Fox–Monette determinant ratio by hand), with the ``flagged``
column at, below and above the threshold; the ROC curve of every out-of-fold column (``sklearn.metrics.roc_curve``,
the AUC as a Mann–Whitney count by hand); calibration (the reliability curve, Brier scores and the out-of-sample
Hosmer–Lemeshow test with G degrees of freedom, all by hand); and the diagnostics of a fitted logit (Cook's
distance, leverage and residuals from statsmodels' GLM influence, the separation summary).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import patsy
import phik
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats as sps
from sklearn.metrics import roc_curve

from analysis.data.synthetic import customer_table
from analysis.modeling import checks
from analysis.modeling.features import model_frame
from stats.correlation import phik_with_target

LINEAR = ("marketing_6m + marketing_current + tenure_100d + promo_share_10pp + categories_per_visit + unpaid_items"
          " + service_errors + pages_per_visit + revenue_prev2_k + revenue_prev_k + revenue_current_k + minutes_prev"
          " + minutes_current + C(service_type, Treatment('standard')) + C(contact_allowed, Treatment(0))"
          " + C(popular_category, Treatment('kids_goods'))")
VARIABLES = ["service_type", "contact_allowed", "marketing_6m", "marketing_current", "tenure_days", "promo_share",
             "popular_category", "categories_per_visit", "unpaid_items", "service_errors", "pages_per_visit",
             "revenue_prev2", "revenue_prev", "revenue_current", "minutes_prev", "minutes_current", "profit"]
CATEGORICAL = ["service_type", "contact_allowed", "popular_category"]
INTERVAL = [v for v in VARIABLES if v not in CATEGORICAL]
FITTED = ("marketing_6m + cr(pages_per_visit, df=4, constraints='center') + minutes_prev"
          " + I(marketing_6m - 4):I(minutes_prev - 13) + C(popular_category, Treatment('kids_goods'))")


def _frame(n=300, seed=5):
    return model_frame(customer_table(n, seed))


def _collinear_frame(n=300, seed=5):
    """The revenue of the previous month nearly a copy of the month before: VIFs far above 5."""
    frame = _frame(n, seed)
    rng = np.random.default_rng(seed)
    frame["revenue_prev_k"] = frame["revenue_prev2_k"] + rng.normal(0, 0.05, n)
    return frame


def _vif_by_hand(X: pd.DataFrame) -> pd.Series:
    """VIF_j = [R⁻¹]_jj, R the correlation matrix of the non-intercept columns (the design has an intercept)."""
    cols = [c for c in X.columns if c != "Intercept"]
    R = np.corrcoef(X[cols].to_numpy(), rowvar=False)
    return pd.Series(np.diag(np.linalg.inv(R)), index=cols)


def _gvif_by_hand(X: pd.DataFrame, terms: dict) -> pd.DataFrame:
    cols = [c for c in X.columns if c != "Intercept"]
    R = np.corrcoef(X[cols].to_numpy(), rowvar=False)
    rows = []
    for label, members in terms.items():
        t = [cols.index(m) for m in members]
        o = [i for i in range(len(cols)) if i not in t]
        gvif = np.linalg.det(R[np.ix_(t, t)]) * np.linalg.det(R[np.ix_(o, o)]) / np.linalg.det(R)
        rows.append({"term": label, "n_columns": len(t), "gvif": gvif, "gvif_adjusted": gvif ** (1 / (2 * len(t)))})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------------
# correlation_checks
# ---------------------------------------------------------------------------------------------------------------
def test_correlation_checks_against_phik():
    frame = _frame(250)
    matrix, with_target = checks.correlation_checks(frame, seed=11, n_simulations=20)
    data = frame[VARIABLES].astype({c: object for c in CATEGORICAL})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = phik.phik_matrix(data, interval_cols=INTERVAL, verbose=False, njobs=1)
    expected = pd.DataFrame([{"variable_a": a, "variable_b": b, "phik": float(reference.loc[a, b])}
                             for b in VARIABLES for a in VARIABLES])
    assert list(matrix.columns) == ["variable_a", "variable_b", "phik"]
    assert matrix["variable_a"].tolist() == expected["variable_a"].tolist()
    assert matrix["variable_b"].tolist() == expected["variable_b"].tolist()
    np.testing.assert_allclose(matrix["phik"].to_numpy(), expected["phik"].to_numpy(), rtol=1e-9, atol=1e-12)
    # phik with the target: the stats function on the stated interval columns, seed and simulations, by strength
    target = phik_with_target(frame[VARIABLES + ["activity_decline"]], "activity_decline", interval_cols=INTERVAL,
                              seed=11, n_simulations=20)
    # by strength (the order among equal phik is not specified): the same rows, phik non-increasing, index 0…n-1
    assert np.all(np.diff(with_target["phik"].to_numpy()) <= 0)
    assert with_target["variable"].tolist() != VARIABLES
    pd.testing.assert_index_equal(with_target.index, pd.RangeIndex(len(VARIABLES)))
    pd.testing.assert_frame_equal(with_target.sort_values("variable").reset_index(drop=True),
                                  target.sort_values("variable").reset_index(drop=True))
    # its phik values are the phik package's, with the target as a categorical column
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = phik.phik_matrix(frame[VARIABLES + ["activity_decline"]].astype(
            {c: object for c in CATEGORICAL + ["activity_decline"]}), interval_cols=INTERVAL, verbose=False, njobs=1)
    np.testing.assert_allclose(with_target["phik"].to_numpy(),
                               full.loc[with_target["variable"], "activity_decline"].to_numpy(), rtol=1e-9)


def test_correlation_checks_seed_and_simulations_reach_the_test():
    frame = _frame(250)
    _, first = checks.correlation_checks(frame, seed=11, n_simulations=20)
    _, other_seed = checks.correlation_checks(frame, seed=12, n_simulations=20)
    assert not np.allclose(first["p_value"], other_seed["p_value"])


def test_correlation_checks_default_simulations(monkeypatch):
    seen = {}
    real = checks.phik_with_target

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **{**kwargs, "n_simulations": 10})

    monkeypatch.setattr(checks, "phik_with_target", spy)
    checks.correlation_checks(_frame(120), seed=3)
    assert seen["n_simulations"] == 1000 and seen["seed"] == 3


# ---------------------------------------------------------------------------------------------------------------
# VIF and GVIF of the linear design
# ---------------------------------------------------------------------------------------------------------------
def test_vif_table_of_the_linear_design():
    frame = _collinear_frame()
    out = checks.vif_table(frame)
    X = patsy.dmatrix(LINEAR, frame, return_type="dataframe")
    vif = _vif_by_hand(X)
    assert list(out.columns) == ["term", "vif", "flagged"]
    assert out["term"].tolist() == list(vif.index)
    np.testing.assert_allclose(out["vif"].to_numpy(), vif.to_numpy(), rtol=1e-7)
    assert out["flagged"].tolist() == (vif > 5.0).tolist()
    assert out["flagged"].sum() == 2 and out["flagged"].dtype == bool


def test_vif_table_threshold_is_strict():
    frame = _collinear_frame()
    out = checks.vif_table(frame, threshold=1.2)
    vif = _vif_by_hand(patsy.dmatrix(LINEAR, frame, return_type="dataframe"))
    assert out["flagged"].tolist() == (vif > 1.2).tolist()
    assert 0 < out["flagged"].sum() < len(out) - 2
    # a VIF exactly at the threshold is not flagged
    at = float(out["vif"].iloc[0])
    again = checks.vif_table(frame, threshold=at)
    assert not again["flagged"].iloc[0]
    assert again["flagged"].tolist() == (out["vif"] > at).tolist()


def test_gvif_table_of_the_linear_design():
    frame = _collinear_frame()
    out = checks.gvif_table(frame)
    X = patsy.dmatrix(LINEAR, frame, return_type="dataframe")
    terms = {}
    for c in X.columns[1:]:
        terms.setdefault(c.split("[")[0], []).append(c)
    expected = _gvif_by_hand(X, terms)
    assert list(out.columns) == list(expected.columns)
    assert out["term"].tolist() == expected["term"].tolist()
    assert out["n_columns"].tolist() == [1, 1, 5] + [1] * 13
    np.testing.assert_allclose(out[["gvif", "gvif_adjusted"]].to_numpy(),
                               expected[["gvif", "gvif_adjusted"]].to_numpy(), rtol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# ROC curves and calibration
# ---------------------------------------------------------------------------------------------------------------
def _auc_by_hand(y, score):
    pos, neg = score[y == 1], score[y == 0]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return greater / (len(pos) * len(neg))


def test_roc_curves_of_every_column():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 120)
    oof = pd.DataFrame({"good": np.clip(0.3 + 0.4 * y + rng.normal(0, 0.25, 120), 0, 1),
                        "coarse": np.round(rng.random(120), 1)})
    out = checks.roc_curves(y, oof)
    parts = []
    for name in ["good", "coarse"]:
        fpr, tpr, _ = roc_curve(y, oof[name].to_numpy())
        parts.append(pd.DataFrame({"model": name, "fpr": fpr, "tpr": tpr,
                                   "pooled_auc": _auc_by_hand(y, oof[name].to_numpy())}))
    expected = pd.concat(parts, ignore_index=True)
    assert list(out.columns) == ["model", "fpr", "tpr", "pooled_auc"]
    assert out["model"].tolist() == expected["model"].tolist()
    pd.testing.assert_index_equal(out.index, pd.RangeIndex(len(expected)))
    np.testing.assert_allclose(out[["fpr", "tpr", "pooled_auc"]].to_numpy(),
                               expected[["fpr", "tpr", "pooled_auc"]].to_numpy(), rtol=1e-12)


def _wilson(k, n, z):
    centre = (k + z**2 / 2) / (n + z**2)
    half = z * np.sqrt(k * (n - k) / n + z**2 / 4) / (n + z**2)
    return centre - half, centre + half


@pytest.mark.parametrize("n_bins", [8, None])
def test_calibration_checks_by_hand(n_bins):
    rng = np.random.default_rng(7)
    p = rng.beta(2, 3, 400)
    y = (rng.random(400) < np.clip(p * 1.2, 0, 1)).astype(int)
    curve, tests = checks.calibration_checks(y, p) if n_bins is None else checks.calibration_checks(y, p, n_bins)
    G = 10 if n_bins is None else n_bins
    codes = pd.qcut(p, G, labels=False)
    k = np.array([y[codes == g].sum() for g in range(G)])
    n = np.array([(codes == g).sum() for g in range(G)])
    e = np.array([p[codes == g].sum() for g in range(G)])
    low, high = _wilson(k, n, sps.norm.ppf(0.975))
    expected_curve = pd.DataFrame({"bin": np.arange(G), "n": n, "mean_predicted": e / n, "observed_rate": k / n,
                                   "conf_low": low, "conf_high": high})
    assert list(curve.columns) == list(expected_curve.columns)
    np.testing.assert_allclose(curve.to_numpy(dtype=float), expected_curve.to_numpy(dtype=float), rtol=1e-9)
    hl = float(np.sum((k - e) ** 2 / (e * (1 - e / n))))
    expected = {"brier": np.mean((p - y) ** 2), "brier_reference": np.mean((y.mean() - y) ** 2),
                "hl_statistic": hl, "hl_df": G, "hl_p_value": sps.chi2.sf(hl, G)}
    assert list(tests.columns) == list(expected) and len(tests) == 1
    for key, value in expected.items():
        assert tests[key].iloc[0] == pytest.approx(value, rel=1e-9)
    assert isinstance(tests["hl_df"].iloc[0], (int, np.integer))
    assert expected["hl_p_value"] < 0.5


# ---------------------------------------------------------------------------------------------------------------
# diagnostics and collinearity of a fitted logit
# ---------------------------------------------------------------------------------------------------------------
def _fitted(frame):
    return smf.logit(f"activity_decline ~ {FITTED}", frame).fit(disp=0)


@pytest.mark.parametrize("top", [4, None])
def test_model_diagnostics_against_glm_influence(top):
    frame = _frame().set_axis(np.arange(300) * 3 + 7)
    result = _fitted(frame)
    separation, influence = checks.model_diagnostics(result) if top is None else checks.model_diagnostics(result, top)
    glm = sm.GLM(result.model.endog, result.model.exog, family=sm.families.Binomial()).fit()
    inf = glm.get_influence()
    cooks = inf.cooks_distance[0]
    order = np.argsort(-cooks)[: (10 if top is None else top)]
    assert list(influence.columns) == ["row", "leverage", "cooks_distance", "pearson_residual", "deviance_residual"]
    assert influence["row"].tolist() == frame.index[order].tolist()
    np.testing.assert_allclose(influence["cooks_distance"], cooks[order], rtol=1e-6)
    np.testing.assert_allclose(influence["leverage"], inf.hat_matrix_diag[order], rtol=1e-6)
    np.testing.assert_allclose(influence["pearson_residual"], glm.resid_pearson[order], rtol=1e-6)
    np.testing.assert_allclose(influence["deviance_residual"], glm.resid_deviance[order], rtol=1e-6)
    assert len(separation) == 1
    row = separation.iloc[0]
    assert row["separation"] == "none" and row["n_fitted_extreme"] == 0
    assert row["max_abs_coef"] == pytest.approx(np.max(np.abs(glm.params)), rel=1e-5)
    assert row["max_std_error"] == pytest.approx(np.max(glm.bse), rel=1e-5)


def test_fitted_vif_and_gvif():
    frame = _collinear_frame()
    result = smf.logit(f"activity_decline ~ {FITTED} + revenue_prev2_k + revenue_prev_k", frame).fit(disp=0)
    X = pd.DataFrame(result.model.exog, columns=result.model.exog_names)
    vif = _vif_by_hand(X)
    out = checks.fitted_vif(result)
    assert list(out.columns) == ["term", "vif", "flagged"]
    assert out["term"].tolist() == list(vif.index)
    np.testing.assert_allclose(out["vif"].to_numpy(), vif.to_numpy(), rtol=1e-7)
    assert out["flagged"].tolist() == (vif > 5.0).tolist() and out["flagged"].sum() == 2
    low = checks.fitted_vif(result, threshold=1.5)
    assert low["flagged"].tolist() == (vif > 1.5).tolist() and 2 < low["flagged"].sum() < len(vif)
    at = float(out["vif"].iloc[0])
    assert checks.fitted_vif(result, threshold=at)["flagged"].tolist() == (out["vif"] > at).tolist()
    # GVIF: the spline and the categorical as one term each, the product as its own term
    spline = [c for c in X.columns if c.startswith("cr(")]
    category = [c for c in X.columns if c.startswith("C(")]
    terms = {"C(popular_category, Treatment('kids_goods'))": category, "marketing_6m": ["marketing_6m"],
             "cr(pages_per_visit, df=4, constraints='center')": spline, "minutes_prev": ["minutes_prev"],
             "I(marketing_6m - 4):I(minutes_prev - 13)": ["I(marketing_6m - 4):I(minutes_prev - 13)"],
             "revenue_prev2_k": ["revenue_prev2_k"], "revenue_prev_k": ["revenue_prev_k"]}
    expected = _gvif_by_hand(X, terms)
    gvif = checks.fitted_gvif(result)
    assert list(gvif.columns) == list(expected.columns)
    assert gvif["term"].tolist() == expected["term"].tolist()
    assert gvif["n_columns"].tolist() == [5, 1, 4, 1, 1, 1, 1]
    np.testing.assert_allclose(gvif[["gvif", "gvif_adjusted"]].to_numpy(),
                               expected[["gvif", "gvif_adjusted"]].to_numpy(), rtol=1e-6)
