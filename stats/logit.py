"""Interpretable binary logit models (statsmodels formula API) and tidy summaries.

Functions
---------
fit_logit
    Fit ``smf.logit`` with classical or heteroscedasticity-robust covariance.
coefficient_table
    Tidy coefficient table with Wald intervals and odds ratios.
fit_statistics
    One-row table of likelihood-based fit statistics.
likelihood_ratio_test
    Likelihood-ratio test of two nested fitted logits.
design_frame
    The fitted design matrix as a DataFrame (e.g. for collinearity checks).
FormulaLogitClassifier
    scikit-learn classifier whose whole formula design is learned in ``fit``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import patsy
import statsmodels.formula.api as smf
from patsy import splines as _patsy_splines
from patsy import stateful_transform as _patsy_stateful_transform
from scipy import stats as sps
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ._common import check_choice, check_positive_int, wald_columns

__all__ = [
    "COV_TYPES",
    "fit_logit",
    "coefficient_table",
    "fit_statistics",
    "likelihood_ratio_test",
    "design_frame",
    "FormulaLogitClassifier",
    "bs_clipped",
]

#: Covariance estimators accepted by :func:`fit_logit`.
COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3")

_DESCRIPTIONS = {
    "HC1": "Standard Errors are heteroscedasticity robust (HC1, n/(n-k) scaled sandwich)",
    "HC2": "Standard Errors are heteroscedasticity robust (HC2, leverage-adjusted sandwich)",
    "HC3": "Standard Errors are heteroscedasticity robust (HC3, squared-leverage-adjusted sandwich)",
}


def _logit_pieces(result) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Design ``X``, response ``y``, fitted ``p`` and ``(X'WX)^{-1}`` of a fitted logit."""
    model = result.model
    X = np.asarray(model.exog, dtype=float)
    y = np.asarray(model.endog, dtype=float)
    p = expit(X @ np.asarray(result.params, dtype=float))
    w = p * (1.0 - p)
    xtwx = X.T @ (X * w[:, None])
    try:
        bread = np.linalg.inv(xtwx)
    except np.linalg.LinAlgError:
        bread = np.linalg.pinv(xtwx)
    return X, y, p, bread


def _hat_values(X: np.ndarray, p: np.ndarray, bread: np.ndarray) -> np.ndarray:
    """Diagonal of the weighted hat matrix ``W^{1/2} X (X'WX)^{-1} X' W^{1/2}``."""
    w = p * (1.0 - p)
    return w * np.einsum("ij,jk,ik->i", X, bread, X, optimize=True)


def _sandwich(result, cov_type: str) -> np.ndarray:
    """HC0-HC3 sandwich covariance of a fitted logit (GLM definitions as in R ``sandwich``)."""
    X, y, p, bread = _logit_pieces(result)
    n, k = X.shape
    scores = X * (y - p)[:, None]
    if cov_type in ("HC0", "HC1"):
        omega = np.ones(n)
    else:
        h = np.clip(_hat_values(X, p, bread), 0.0, 1.0 - 1e-12)
        omega = 1.0 / (1.0 - h) if cov_type == "HC2" else 1.0 / (1.0 - h) ** 2
    meat = scores.T @ (scores * omega[:, None])
    cov = bread @ meat @ bread
    if cov_type == "HC1":
        cov *= n / (n - k)
    return (cov + cov.T) / 2.0


# mutmut: a trampoline frame would break eval_env=2 (the caller's namespace) in fit_logit; only fit_logit is
# left unmutated (a `no mutate block` pragma would switch mutation off for the rest of the file)
# pragma: no mutate start
def fit_logit(
    formula: str,
    data: pd.DataFrame,
    cov_type: str = "nonrobust",
    *,
    maxiter: int = 100,
    method: str = "newton",
    eval_env: Mapping[str, object] | None = None,
):
    """Fit a binary logit with the statsmodels formula API.

    Parameters
    ----------
    formula : str
        Full patsy formula ``"y ~ x1 + bs(x2, df=4) + C(g)"``; the response must be
        coded 0/1 (or boolean).
    data : pandas.DataFrame
        Data holding every variable of the formula. Rows with missing values in
        model variables are dropped by patsy.
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3"}
        Covariance of the estimates. ``"nonrobust"`` is the inverse observed
        information; the ``HC*`` options are sandwich estimators (see Notes).
    maxiter : int, default 100
        Maximum number of Newton iterations.
    method : str, default "newton"
        Optimiser passed to ``Logit.fit``.
    eval_env : mapping, optional
        Namespace used to evaluate functions in the formula. By default the
        namespace of the caller of ``fit_logit`` (as with ``smf.logit``).

    Returns
    -------
    statsmodels.discrete.discrete_model.BinaryResultsWrapper
        The fitted result; ``result.cov_type`` is ``cov_type`` and
        ``result.cov_params()`` is the chosen covariance, used by every
        downstream summary (``bse``, ``conf_int``, ``summary``, margins).

    Raises
    ------
    ValueError
        If ``cov_type`` is not one of :data:`COV_TYPES` or ``maxiter`` is not a
        positive integer.

    Notes
    -----
    With ``X`` the design, ``p`` the fitted probabilities, ``W = diag(p(1-p))``,
    ``B = (X'WX)^{-1}`` and scores ``s_i = (y_i - p_i) x_i``, the sandwich is
    ``B (sum_i omega_i s_i s_i') B`` with ``omega_i = 1`` (HC0),
    ``omega_i = 1`` and an overall factor ``n/(n-k)`` (HC1),
    ``omega_i = 1/(1-h_i)`` (HC2) and ``omega_i = 1/(1-h_i)^2`` (HC3), where
    ``h_i = w_i x_i' B x_i`` is the GLM leverage.

    statsmodels 0.15 silently returns the HC0 matrix for ``Logit.fit(cov_type=
    "HC1"|"HC2"|"HC3")`` (discrete models have no ``cov_HCx`` attributes), so
    HC1-HC3 are computed here and installed as the result's covariance.
    """
    check_choice("cov_type", cov_type, COV_TYPES)
    maxiter = check_positive_int("maxiter", maxiter)
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if not isinstance(formula, str) or "~" not in formula:
        raise ValueError(f"formula must be a string 'y ~ terms', got {formula!r}")
    env = 2 if eval_env is None else {"np": np, **dict(eval_env)}
    model = smf.logit(formula, data, eval_env=env)
    sm_cov = "nonrobust" if cov_type == "nonrobust" else "HC0"
    result = model.fit(method=method, maxiter=maxiter, disp=0, cov_type=sm_cov)
    if cov_type in ("HC1", "HC2", "HC3"):
        inner = result._results
        inner.cov_params_default = _sandwich(result, cov_type)
        inner.cov_type = cov_type
        inner.cov_kwds = dict(inner.cov_kwds, description=_DESCRIPTIONS[cov_type])
        inner._cache = {}
    return result
# pragma: no mutate end


def coefficient_table(result, conf_level: float = 0.95) -> pd.DataFrame:
    """Tidy coefficient table of a fitted logit.

    Parameters
    ----------
    result : statsmodels binary results
        Output of :func:`fit_logit` (or any statsmodels Logit result).
    conf_level : float, default 0.95
        Confidence level of the Wald intervals.

    Returns
    -------
    pandas.DataFrame
        One row per parameter, columns:

        - ``term`` (str): design column name as produced by the formula.
        - ``estimate`` (float): log-odds coefficient ``beta_j``.
        - ``std_error`` (float): ``sqrt(V_jj)`` from ``result.cov_params()``.
        - ``z`` (float): ``estimate / std_error``.
        - ``p_value`` (float): two-sided normal p value.
        - ``conf_low``, ``conf_high`` (float): Wald interval for ``beta_j``.
        - ``odds_ratio`` (float): ``exp(beta_j)``.
        - ``odds_ratio_low``, ``odds_ratio_high`` (float): exponentiated interval.

    Notes
    -----
    ``conf = beta_j -/+ z_{(1+conf_level)/2} * se_j``; odds-ratio limits are
    ``exp`` of these (the interval is not symmetric on the odds scale).
    """
    params = pd.Series(result.params)
    se = pd.Series(result.bse)
    wald = wald_columns(params.to_numpy(), se.to_numpy(), conf_level)
    table = pd.DataFrame(
        {
            "term": pd.array([str(t) for t in params.index], dtype="str"),
            "estimate": params.to_numpy(dtype=float),
            "std_error": se.to_numpy(dtype=float),
            "z": wald["statistic"],
            "p_value": wald["p_value"],
            "conf_low": wald["conf_low"],
            "conf_high": wald["conf_high"],
        }
    )
    table["odds_ratio"] = np.exp(table["estimate"])
    table["odds_ratio_low"] = np.exp(table["conf_low"])
    table["odds_ratio_high"] = np.exp(table["conf_high"])
    return table


def fit_statistics(result) -> pd.DataFrame:
    """One-row table of fit statistics of a fitted logit.

    Parameters
    ----------
    result : statsmodels binary results

    Returns
    -------
    pandas.DataFrame
        One row, columns:

        - ``n`` (int): observations used.
        - ``n_events`` (int): observations with ``y = 1``.
        - ``df_model`` (int): number of slope parameters ``k - 1``.
        - ``log_likelihood`` (float): ``l(beta_hat)``.
        - ``null_log_likelihood`` (float): ``l`` of the intercept-only model.
        - ``lr_chi2`` (float): ``2 (l - l_0)``.
        - ``lr_df`` (int): ``df_model``.
        - ``lr_p_value`` (float): ``P(chi2_{lr_df} > lr_chi2)``.
        - ``pseudo_r2_mcfadden`` (float): ``1 - l / l_0``.
        - ``aic`` (float): ``-2 l + 2 k``.
        - ``bic`` (float): ``-2 l + k log(n)``.
        - ``converged`` (bool): optimiser convergence flag.
        - ``cov_type`` (str): covariance estimator of the result.

    Notes
    -----
    The likelihood-ratio test of all slopes is valid whatever ``cov_type`` is:
    it uses the likelihood only.
    """
    y = np.asarray(result.model.endog, dtype=float)
    retvals = getattr(result, "mle_retvals", None) or {}
    return pd.DataFrame(
        {
            "n": [int(result.nobs)],
            "n_events": [int(round(y.sum()))],
            "df_model": [int(round(result.df_model))],
            "log_likelihood": [float(result.llf)],
            "null_log_likelihood": [float(result.llnull)],
            "lr_chi2": [float(result.llr)],
            "lr_df": [int(round(result.df_model))],
            "lr_p_value": [float(result.llr_pvalue)],
            "pseudo_r2_mcfadden": [float(result.prsquared)],
            "aic": [float(result.aic)],
            "bic": [float(result.bic)],
            "converged": [bool(retvals.get("converged", True))],
            "cov_type": pd.array([str(result.cov_type)], dtype="str"),
        }
    )


def likelihood_ratio_test(restricted, full) -> pd.DataFrame:
    """Likelihood-ratio test of a restricted logit nested in a fuller one.

    Parameters
    ----------
    restricted, full : statsmodels binary results
        Fits on the same observations; ``restricted``'s design must span a
        subspace of ``full``'s (the caller guarantees nesting).

    Returns
    -------
    pandas.DataFrame
        One row, columns ``lr_chi2`` (float), ``df`` (int), ``p_value`` (float).

    Raises
    ------
    ValueError
        If the fits use different numbers of observations or ``full`` does not
        have more parameters than ``restricted``.

    Notes
    -----
    ``lr_chi2 = 2 (l_full - l_restricted)``, ``df = k_full - k_restricted``,
    ``p_value = P(chi2_df > lr_chi2)``. The statistic is truncated at 0 against
    round-off.
    """
    if int(restricted.nobs) != int(full.nobs):
        raise ValueError(
            f"models use different observations: nobs {int(restricted.nobs)} vs {int(full.nobs)}"
        )
    k_r = len(np.asarray(restricted.params))
    k_f = len(np.asarray(full.params))
    df = k_f - k_r
    if df <= 0:
        raise ValueError(f"full model must have more parameters than restricted: {k_f} vs {k_r}")
    lr = max(0.0, 2.0 * (float(full.llf) - float(restricted.llf)))
    return pd.DataFrame({"lr_chi2": [lr], "df": [df], "p_value": [float(sps.chi2.sf(lr, df))]})


def design_frame(result) -> pd.DataFrame:
    """Design matrix of a fitted model as a DataFrame.

    Returns
    -------
    pandas.DataFrame
        Columns are ``result.model.exog_names``; index are the row labels of
        the observations used in the fit.
    """
    data = result.model.data
    index = getattr(data, "row_labels", None)
    return pd.DataFrame(np.asarray(result.model.exog), columns=list(result.model.exog_names), index=index)


def _term_variables(term, columns) -> set[str]:
    """Names of data columns a patsy term reads (quoted strings such as reference levels are ignored)."""
    names = set()
    for factor in term.factors:
        code = re.sub(r"'[^']*'|\"[^\"]*\"", "", getattr(factor, "code", str(factor)))
        names.update(n for n in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code) if n in columns)
    return names


def linear_predictor(result, data: pd.DataFrame, variables: Iterable[str] | None = None) -> np.ndarray:
    """Linear predictor ``X(data) @ beta`` of a formula-fitted model, term by term.

    Parameters
    ----------
    result : statsmodels results fitted with the formula API
    data : pandas.DataFrame
        New data holding every variable of the formula.
    variables : iterable of str, optional
        Only the terms that involve at least one of these variables are summed (the intercept is then
        left out). ``eta(data_b) - eta(data_a)`` over the terms of a changed variable is the change of the
        full linear predictor when only that variable changes.

    Returns
    -------
    numpy.ndarray
        One value per row of ``data``.

    Notes
    -----
    The same numbers as ``result.predict(data, which="linear")`` but much faster on large data: a term
    whose variables are all non-numeric (``C(g)``) is encoded on the distinct values only and mapped back,
    because patsy encodes categorical values one by one in Python (a ``C()`` term bypasses its fast path for
    pandas Categoricals).
    """
    info = getattr(result.model, "model_spec", None) or result.model.data.model_spec  # patsy DesignInfo
    params = np.asarray(result.params, dtype=float)
    wanted = None if variables is None else set(variables)
    eta = np.zeros(len(data))
    for term, columns in info.term_slices.items():
        names = _term_variables(term, data.columns)
        if wanted is not None and not names & wanted:
            continue
        if not names:
            eta += params[columns].sum()  # the intercept
            continue
        sub_info = info.subset([term])
        frame = data[sorted(names)]
        # a row with a missing value of the term gets NaN, as in statsmodels' predict (patsy would drop it)
        complete = ~frame.isna().any(axis=1).to_numpy()
        frame = frame[complete]
        if all(not pd.api.types.is_numeric_dtype(frame[n]) or frame[n].nunique() <= 2 for n in names):
            # groups are numbered in order of first appearance, the order drop_duplicates keeps
            codes = frame.groupby(list(frame.columns), sort=False, observed=True, dropna=False).ngroup().to_numpy()
            levels = frame.drop_duplicates().reset_index(drop=True)
            X = np.asarray(patsy.build_design_matrices([sub_info], levels)[0])[codes]
        else:
            X = np.asarray(patsy.build_design_matrices([sub_info], frame)[0])
        term_eta = np.full(len(data), np.nan)
        term_eta[complete] = X @ params[columns]
        eta += term_eta
    return eta


class _ClippedBS(_patsy_splines.BS):
    """patsy ``BS`` whose ``transform`` clips ``x`` to the boundary knots."""

    def transform(self, x, *args, **kwargs):
        lo, hi = float(np.min(self._all_knots)), float(np.max(self._all_knots))
        if isinstance(x, pd.Series):
            x = x.astype(float).clip(lo, hi)
        else:
            x = np.clip(np.asarray(x, dtype=float), lo, hi)
        return super().transform(x, *args, **kwargs)


#: Drop-in replacement of patsy's ``bs()`` that extrapolates CONSTANTLY beyond
#: the boundary knots learned at fit time (patsy's ``bs`` raises
#: ``NotImplementedError`` for new data outside the training range, which breaks
#: cross-validation). Identical to ``bs`` inside the range. Use it through
#: ``fit_logit(..., eval_env={"bs": bs_clipped})``; :class:`FormulaLogitClassifier`
#: uses it for ``bs`` automatically. ``cr()`` (natural cubic regression spline)
#: extrapolates linearly and needs no replacement.
bs_clipped = _patsy_stateful_transform(_ClippedBS)

_TARGET = "formula_logit_target__"


class FormulaLogitClassifier(ClassifierMixin, BaseEstimator):
    """scikit-learn classifier wrapping a formula logit.

    The whole design -- patsy stateful transforms such as ``standardize``,
    ``center``, ``bs``/``cr`` spline knots and categorical levels -- is learned
    in :meth:`fit` from the training rows only, so the estimator is leakage-free
    in ``cross_val_score``, ``GridSearchCV`` and Pipelines, and ``clone`` works.

    Parameters
    ----------
    formula : str
        Right-hand side only, e.g. ``"x1 + bs(x2, df=4) + C(g)"``.
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3"}
        Passed to :func:`fit_logit` (affects only ``result_``'s inference).
    maxiter : int, default 100
        Maximum Newton iterations.

    Attributes
    ----------
    result_ : statsmodels binary results
        The fitted logit (response coded 1 for ``classes_[1]``).
    classes_ : numpy.ndarray
        The two class labels, sorted; ``classes_[1]`` is the modelled event.
    n_features_in_ : int
    feature_names_in_ : numpy.ndarray

    Notes
    -----
    ``predict_proba`` returns ``[1 - p, p]`` with
    ``p = 1 / (1 + exp(-x' beta))``; ``decision_function`` returns ``x' beta``.
    Formula functions are evaluated with numpy available as ``np``, and
    ``bs()`` is :data:`bs_clipped`: test rows outside the training range get
    the boundary value of the spline instead of patsy's error. Rows with
    missing model variables are dropped in ``fit`` (patsy) and give NaN
    probabilities in ``predict_proba``.
    """

    def __init__(self, formula: str = "1", cov_type: str = "nonrobust", maxiter: int = 100):
        self.formula = formula
        self.cov_type = cov_type
        self.maxiter = maxiter

    def fit(self, X: pd.DataFrame, y) -> "FormulaLogitClassifier":
        """Fit the logit ``y ~ formula`` on ``X``; returns ``self``."""
        if not isinstance(X, pd.DataFrame):
            raise ValueError(f"X must be a pandas DataFrame, got {type(X).__name__}")
        if not isinstance(self.formula, str) or "~" in self.formula:
            raise ValueError(f"formula must be a right-hand side without '~', got {self.formula!r}")
        y_arr = np.asarray(y)
        if y_arr.ndim != 1 or len(y_arr) != len(X):
            raise ValueError(f"y must be 1-D with {len(X)} values, got shape {y_arr.shape}")
        classes = np.unique(y_arr)
        if len(classes) != 2:
            raise ValueError(f"y must have exactly two classes, got {classes.tolist()!r}")
        data = X.copy()
        data[_TARGET] = (y_arr == classes[1]).astype(float)
        self.result_ = fit_logit(
            f"{_TARGET} ~ {self.formula}",
            data,
            cov_type=self.cov_type,
            maxiter=self.maxiter,
            eval_env={"np": np, "bs": bs_clipped},
        )
        self.classes_ = classes
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        return self

    def _check_X(self, X) -> None:
        check_is_fitted(self, "result_")
        if not isinstance(X, pd.DataFrame):
            raise ValueError(f"X must be a pandas DataFrame, got {type(X).__name__}")

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Linear predictor ``x' beta`` (log-odds of ``classes_[1]``)."""
        self._check_X(X)
        return np.asarray(self.result_.predict(X, which="linear"), dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Array ``(n, 2)`` of class probabilities ``[1 - p, p]``."""
        self._check_X(X)
        p = np.asarray(self.result_.predict(X), dtype=float)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Class labels: ``classes_[1]`` where ``p > 0.5``."""
        p = self.predict_proba(X)[:, 1]
        return self.classes_[(p > 0.5).astype(int)]
