"""Average marginal effects and counterfactual predictions of fitted logits.

Everything is computed by predicting through the model's formula, so effects
are with respect to the ORIGINAL variables even when the formula transforms
them (splines, logs, ``standardize``, interactions, categorical coding). The
approach follows ``marginaleffects`` (Arel-Bundock) and statsmodels'
``discrete_margins``: effects are averages over the observed rows and their
standard errors come from the delta method with the model's
``cov_params()`` (so robust covariances propagate).

Functions
---------
average_marginal_effects
    AME of each variable: derivative (numeric) or discrete change (categorical).
average_prediction
    (Weighted) mean predicted probability with delta-method standard error.
compare_predictions
    Difference of mean predicted probability between two data sets ("what-if").
model_variables
    Original data columns used by a fitted formula model.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
from pandas.api import types as pdt

from ._common import check_choice, check_conf_level, wald_columns

__all__ = [
    "average_marginal_effects",
    "average_prediction",
    "compare_predictions",
    "model_variables",
]

_KINDS = ("numeric", "categorical")


# ----------------------------------------------------------------------------
# design building
# ----------------------------------------------------------------------------


def result_model_spec(result):
    model = result.model
    if getattr(model, "formula", None) is None:
        return None
    return getattr(model, "model_spec", None) or getattr(model.data, "model_spec", None)


def result_design(result, data: pd.DataFrame) -> np.ndarray:
    """Design matrix of ``data`` built with the fitted model's stored design.

    Raises ``ValueError`` when rows would be dropped (missing values) or the
    data cannot be transformed (e.g. unseen categorical level).
    """
    spec = result_model_spec(result)
    if spec is None:
        names = list(result.model.exog_names)
        missing = [c for c in names if c not in data.columns]
        if missing:
            raise ValueError(f"data lacks design columns {missing!r} of a non-formula model")
        X = data[names].to_numpy(dtype=float)
    else:
        try:
            import patsy

            if isinstance(spec, patsy.DesignInfo):
                X = np.asarray(
                    patsy.build_design_matrices([spec], data, NA_action="raise")[0], dtype=float
                )
            else:  # formulaic model spec
                from statsmodels.formula._manager import FormulaManager

                X = np.asarray(
                    FormulaManager().get_matrices(spec, data, pandas=False, prediction=True),
                    dtype=float,
                )
        except ValueError:
            raise
        except Exception as exc:  # patsy errors, NotImplementedError of bs() outside knots ...
            raise ValueError(f"cannot build the model design for the supplied data: {exc}") from exc
    if X.shape[0] != len(data):
        raise ValueError(
            f"design has {X.shape[0]} rows for {len(data)} data rows: remove missing values first"
        )
    if not np.all(np.isfinite(X)):
        raise ValueError("design contains non-finite values for the supplied data")
    return X


def _names_in_code(code: str) -> list[str]:
    """Python identifiers referenced in an expression (string literals ignored)."""
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError:
        stripped = re.sub(r"('[^']*'|\"[^\"]*\")", " ", code)
        return re.findall(r"[A-Za-z_][A-Za-z0-9_]*", stripped)
    return [node.id for node in ast.walk(tree) if isinstance(node, ast.Name)]


def _factor_variables(result, columns) -> tuple[list[str], set[str]]:
    """Variables used by the formula and the subset entering categorical factors."""
    spec = result_model_spec(result)
    cols = {str(c) for c in columns}
    ordered: list[str] = []
    categorical: set[str] = set()
    if spec is None:
        for name in result.model.exog_names:
            if name in cols and name not in ordered:
                ordered.append(name)
        const = set()
        if getattr(result.model, "k_constant", 0):
            const = {n for n, v in zip(result.model.exog_names, np.ptp(result.model.exog, axis=0)) if v == 0}
        return [n for n in ordered if n not in const], categorical
    infos = getattr(spec, "factor_infos", None)
    if infos is not None:  # patsy
        for factor, info in infos.items():
            names = [n for n in _names_in_code(factor.code) if n in cols]
            for name in names:
                if name not in ordered:
                    ordered.append(name)
            if info.type == "categorical":
                categorical.update(names)
        return ordered, categorical
    rhs = str(result.model.formula).split("~", 1)[-1]
    for name in _names_in_code(rhs):
        if name in cols and name not in ordered:
            ordered.append(name)
    return ordered, categorical


def model_variables(result, data: pd.DataFrame | None = None) -> pd.DataFrame:
    """Original data columns used by a fitted model and their inferred kind.

    Parameters
    ----------
    result : statsmodels results
        Fitted (formula) model.
    data : pandas.DataFrame, optional
        Data to inspect; the training frame by default.

    Returns
    -------
    pandas.DataFrame
        Columns ``variable`` (str) and ``kind`` ("numeric" or "categorical").

    Notes
    -----
    A variable is categorical when it enters a categorical factor (e.g.
    ``C(x)``), is boolean, string or categorical dtype, or is numeric with at
    most two distinct values (0/1 dummies); otherwise it is numeric.
    """
    data = _training_frame(result) if data is None else data
    names, categorical = _factor_variables(result, data.columns)
    kinds = [_infer_kind(data[n], n in categorical) for n in names]
    return pd.DataFrame({"variable": pd.array(names, dtype="str"), "kind": pd.array(kinds, dtype="str")})


def _infer_kind(column: pd.Series, in_categorical_factor: bool) -> str:
    if in_categorical_factor:
        return "categorical"
    if pdt.is_bool_dtype(column) or not pdt.is_numeric_dtype(column):
        return "categorical"
    return "numeric" if column.nunique(dropna=True) > 2 else "categorical"


def _training_frame(result) -> pd.DataFrame:
    frame = getattr(result.model.data, "frame", None)
    if frame is None:
        raise ValueError("data must be supplied: the model keeps no training frame")
    return frame


def _levels(column: pd.Series) -> list:
    if isinstance(column.dtype, pd.CategoricalDtype):
        present = set(column.dropna().unique())
        return [c for c in column.cat.categories if c in present]
    values = column.dropna().unique()
    try:
        return sorted(values.tolist())
    except TypeError:
        return sorted(values.tolist(), key=str)


def _constant_column(column: pd.Series, value) -> pd.Series:
    """``column`` with every entry set to ``value``, keeping the dtype."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return pd.Series(
            pd.Categorical([value] * len(column), dtype=column.dtype), index=column.index, name=column.name
        )
    out = pd.Series([value] * len(column), index=column.index, name=column.name)
    try:
        return out.astype(column.dtype)
    except (TypeError, ValueError):
        return out


def _expit(eta: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * eta))


def _prob_and_grad(X: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted probabilities and their derivative ``p(1-p)`` w.r.t. the linear predictor."""
    p = _expit(X @ beta)
    return p, p * (1.0 - p)


def _check_logit(result) -> None:
    model = result.model
    if not hasattr(model, "cdf") or type(model).__name__ not in ("Logit",):
        raise ValueError(f"result must be a fitted statsmodels Logit, got {type(model).__name__}")


# ----------------------------------------------------------------------------
# average marginal effects
# ----------------------------------------------------------------------------


def average_marginal_effects(
    result,
    data: pd.DataFrame | None = None,
    variables: Mapping[str, str] | None = None,
    conf_level: float = 0.95,
    eps: float = 1e-4,
    reference: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """Average marginal effects (AME) on the probability scale, with delta-method SEs.

    Parameters
    ----------
    result : statsmodels Logit results
        Fitted with the formula API (or a plain ``Logit(y, X)`` with a
        DataFrame design, in which case variables are design columns).
    data : pandas.DataFrame, optional
        Rows over which effects are averaged; the training frame by default.
        Must not contain missing values in model variables.
    variables : dict, optional
        Maps ORIGINAL column name to ``"numeric"`` or ``"categorical"``.
        Default: every variable of the formula, kind inferred as in
        :func:`model_variables` (numeric with > 2 distinct values -> numeric;
        0/1, boolean, string, categorical, or inside ``C()`` -> categorical).
    conf_level : float, default 0.95
        Confidence level of the Wald intervals.
    eps : float, default 1e-4
        Relative step of the numeric derivative: ``h = eps * sd(x)``.
    reference : dict, optional
        Reference level per categorical variable; default the first level
        (categories order for categorical dtype, otherwise sorted values).

    Returns
    -------
    pandas.DataFrame
        One row per numeric variable and per non-reference level, columns:

        - ``term`` (str): original variable name.
        - ``contrast`` (str): ``"dY/dX"`` (numeric) or ``"level - reference"``.
        - ``ame`` (float): average marginal effect on ``P(y=1)``; for numeric
          variables per ONE UNIT of the original variable (probability points
          per unit, i.e. 0.01 = one percentage point), for categorical
          variables the average change of probability from reference to level.
        - ``std_error`` (float): delta-method standard error.
        - ``statistic`` (float): ``ame / std_error``.
        - ``p_value`` (float): two-sided normal p value.
        - ``conf_low``, ``conf_high`` (float): Wald interval.

    Raises
    ------
    ValueError
        Unknown variable or kind, invalid ``conf_level``/``eps``, or data that
        cannot be passed through the formula.

    Notes
    -----
    Numeric ``x``: ``AME = (1/n) sum_i [p_i(x_i + h) - p_i(x_i - h)] / (2h)``
    with all other columns fixed, predictions made through the formula (so
    ``bs(x)``, ``log(x)``, ``x:z`` ... are differentiated correctly). Points are
    clipped to the observed range ``[min x, max x]`` of ``data`` (one-sided
    difference at the extremes), which keeps spline bases inside their knots;
    the divisor is the actual step.

    Categorical ``x`` with level ``l`` and reference ``r``:
    ``AME = mean_i p_i(x = l) - mean_i p_i(x = r)`` (everyone set to ``l``
    versus everyone set to ``r``).

    Delta method: with ``g(beta)`` the AME, ``J = dg/dbeta`` is analytic,
    ``d p_i / d beta = p_i (1 - p_i) x_i`` evaluated at each counterfactual
    design row, and ``se = sqrt(J V J')`` with ``V = result.cov_params()``.
    For a linear formula this reproduces ``result.get_margeff(at="overall")``.
    """
    _check_logit(result)
    conf_level = check_conf_level(conf_level)
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    data = _training_frame(result) if data is None else data
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError("data has no rows")
    reference = dict(reference or {})

    if variables is None:
        names, categorical = _factor_variables(result, data.columns)
        kinds = {n: _infer_kind(data[n], n in categorical) for n in names}
    else:
        kinds = dict(variables)
        for name, kind in kinds.items():
            check_choice(f"kind of variable {name!r}", kind, _KINDS)
            if name not in data.columns:
                raise ValueError(f"variable {name!r} is not a column of data")
    for name in reference:
        if kinds.get(name) != "categorical":
            raise ValueError(f"reference given for {name!r}, which is not a categorical variable")

    beta = np.asarray(result.params, dtype=float)
    cov = np.asarray(result.cov_params(), dtype=float)

    # plan every counterfactual data set, then build their designs in few patsy calls
    plans = []
    for name, kind in kinds.items():
        if kind == "numeric":
            plans.append(_plan_numeric(data, name, eps))
        else:
            plans.append(_plan_categorical(data, name, reference.get(name, None)))
    frames = [frame for plan in plans for frame in plan["frames"]]
    designs = iter(_designs(result, frames, len(data)))

    rows: list[dict] = []
    for plan in plans:
        Xs = [next(designs) for _ in plan["frames"]]
        if plan["kind"] == "numeric":
            step = plan["step"]
            (X_hi, X_lo) = Xs
            p_hi, g_hi = _prob_and_grad(X_hi, beta)
            p_lo, g_lo = _prob_and_grad(X_lo, beta)
            ame = float(np.mean((p_hi - p_lo) / step))
            jac = ((X_hi * g_hi[:, None] - X_lo * g_lo[:, None]) / step[:, None]).mean(axis=0)
            rows.append({"term": plan["name"], "contrast": "dY/dX", "ame": ame, "std_error": _se(jac, cov)})
            continue
        X_ref, X_levels = Xs[0], Xs[1:]
        p_ref, g_ref = _prob_and_grad(X_ref, beta)
        grad_ref = (X_ref * g_ref[:, None]).mean(axis=0)
        for level, X_l in zip(plan["levels"], X_levels):
            p_l, g_l = _prob_and_grad(X_l, beta)
            jac = (X_l * g_l[:, None]).mean(axis=0) - grad_ref
            rows.append(
                {
                    "term": plan["name"],
                    "contrast": f"{level} - {plan['reference']}",
                    "ame": float(p_l.mean() - p_ref.mean()),
                    "std_error": _se(jac, cov),
                }
            )

    table = pd.DataFrame(rows, columns=["term", "contrast", "ame", "std_error"])
    table["term"] = table["term"].astype("str")
    table["contrast"] = table["contrast"].astype("str")
    wald = wald_columns(table["ame"].to_numpy(float), table["std_error"].to_numpy(float), conf_level)
    for key in ("statistic", "p_value", "conf_low", "conf_high"):
        table[key] = wald[key]
    return table


_MAX_STACKED_ROWS = 250_000


def _designs(result, frames: list, n: int) -> list[np.ndarray]:
    """Designs of equally long frames, built by stacking up to ``_MAX_STACKED_ROWS`` rows per call."""
    out: list[np.ndarray] = []
    batch: list = []
    for i, frame in enumerate(frames):
        batch.append(frame)
        if (len(batch) + 1) * n > _MAX_STACKED_ROWS or i == len(frames) - 1:
            stacked = batch[0] if len(batch) == 1 else pd.concat(batch, ignore_index=True)
            X = result_design(result, stacked)
            out.extend(X[j * n : (j + 1) * n] for j in range(len(batch)))
            batch = []
    return out


def _se(jac: np.ndarray, cov: np.ndarray) -> float:
    return float(np.sqrt(max(float(jac @ cov @ jac), 0.0)))


def _plan_numeric(data: pd.DataFrame, name: str, eps: float) -> dict:
    column = data[name]
    if not pdt.is_numeric_dtype(column) or pdt.is_bool_dtype(column):
        raise ValueError(f"variable {name!r} is declared numeric but has dtype {column.dtype}")
    x = column.to_numpy(dtype=float)
    # a constant column (np.ptp exactly 0) takes the fallback step: its rounded std (e.g. 5.6e-17 for 0.3
    # repeated) would give a step lost in x + h, hence 0/0
    sd = float(np.std(x, ddof=1)) if len(x) > 1 and np.ptp(x) > 0 else 0.0
    h = eps * sd if np.isfinite(sd) and sd > 0 else eps * max(1.0, float(np.abs(x).mean()))
    hi, lo = x + h, x - h
    xmin, xmax = float(np.min(x)), float(np.max(x))
    if xmax - xmin > 2.0 * h:
        hi, lo = np.minimum(hi, xmax), np.maximum(lo, xmin)
    return {
        "kind": "numeric",
        "name": name,
        "step": hi - lo,
        "frames": [data.assign(**{name: hi}), data.assign(**{name: lo})],
    }


def _plan_categorical(data: pd.DataFrame, name: str, ref) -> dict:
    column = data[name]
    levels = _levels(column)
    if ref is None:
        if len(levels) < 2:
            raise ValueError(f"categorical variable {name!r} has fewer than two levels in data")
        ref = levels[0]
    elif ref not in levels:
        raise ValueError(f"reference level {ref!r} of {name!r} is not present in data")
    others = [lev for lev in levels if lev != ref]
    frames = [data.assign(**{name: _constant_column(column, lev)}) for lev in [ref, *others]]
    return {"kind": "categorical", "name": name, "reference": ref, "levels": others, "frames": frames}


# ----------------------------------------------------------------------------
# predictions and counterfactual comparisons
# ----------------------------------------------------------------------------


def _weights(weights, n: int, normalize: bool) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or len(w) != n:
        raise ValueError(f"weights must be 1-D with {n} values, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite")
    if normalize:
        total = w.sum()
        if total == 0:
            raise ValueError("weights sum to zero and cannot be normalised")
        return w / total
    return w


def _mean_prediction(result, data, w) -> tuple[float, np.ndarray]:
    X = result_design(result, data)
    p, g = _prob_and_grad(X, np.asarray(result.params, dtype=float))
    return float(w @ p), (X * (w * g)[:, None]).sum(axis=0)


def average_prediction(
    result,
    data: pd.DataFrame | None = None,
    conf_level: float = 0.95,
    weights=None,
    normalize_weights: bool = True,
) -> pd.DataFrame:
    """Average predicted probability with a delta-method standard error.

    Parameters
    ----------
    result : statsmodels Logit results
    data : pandas.DataFrame, optional
        Rows to average over; the training frame by default.
    conf_level : float, default 0.95
    weights : array-like, optional
        Non-negative weights per row (e.g. customer profit). See Notes.
    normalize_weights : bool, default True
        Divide by ``sum(weights)`` (weighted mean) or not (weighted total).

    Returns
    -------
    pandas.DataFrame
        One row, columns ``estimate, std_error, statistic, p_value, conf_low,
        conf_high, n`` (``statistic``/``p_value`` test ``estimate = 0``).

    Notes
    -----
    ``estimate = sum_i w_i p_i`` with ``w_i = 1/n`` (no weights),
    ``w_i = weights_i / sum(weights)`` (normalised) or ``w_i = weights_i``
    (total, e.g. expected profit at risk ``sum_i profit_i p_i``).
    ``se = sqrt(J V J')``, ``J = sum_i w_i p_i (1 - p_i) x_i``. Weights are
    treated as fixed constants.
    """
    _check_logit(result)
    conf_level = check_conf_level(conf_level)
    data = _training_frame(result) if data is None else data
    w = _weights(weights, len(data), normalize_weights)
    est, jac = _mean_prediction(result, data, w)
    cov = np.asarray(result.cov_params(), dtype=float)
    se = float(np.sqrt(max(jac @ cov @ jac, 0.0)))
    wald = wald_columns(np.array([est]), np.array([se]), conf_level)
    return pd.DataFrame(
        {
            "estimate": [est],
            "std_error": [se],
            "statistic": wald["statistic"],
            "p_value": wald["p_value"],
            "conf_low": wald["conf_low"],
            "conf_high": wald["conf_high"],
            "n": [len(data)],
        }
    )


def compare_predictions(
    result,
    data_baseline: pd.DataFrame,
    data_counterfactual: pd.DataFrame,
    conf_level: float = 0.95,
    weights=None,
    normalize_weights: bool = True,
) -> pd.DataFrame:
    """Difference of the average predicted probability between two scenarios.

    Typical use is a "what-if": ``data_counterfactual`` is a copy of
    ``data_baseline`` in which one predictor is changed for some rows.

    Parameters
    ----------
    result : statsmodels Logit results
    data_baseline, data_counterfactual : pandas.DataFrame
        Scenario data (rows may differ in number unless ``weights`` is given).
    conf_level : float, default 0.95
    weights : array-like, optional
        Row weights applied in both scenarios (requires equal row counts),
        e.g. profit per customer for a profit-weighted mean or total.
    normalize_weights : bool, default True
        Weighted mean (``True``) or weighted total ``sum_i w_i p_i`` (``False``).

    Returns
    -------
    pandas.DataFrame
        One row, columns:

        - ``estimate_baseline`` (float): ``sum_i w_i p_i`` on the baseline.
        - ``estimate_counterfactual`` (float): same on the counterfactual.
        - ``difference`` (float): counterfactual minus baseline.
        - ``std_error`` (float): delta-method SE of the difference.
        - ``statistic`` (float), ``p_value`` (float): Wald test of zero difference.
        - ``conf_low``, ``conf_high`` (float): Wald interval of the difference.

    Notes
    -----
    Without weights ``w_i = 1/n`` of each data set. ``J = J_cf - J_base`` with
    ``J = sum_i w_i p_i (1 - p_i) x_i`` (both scenarios share ``beta``, so the
    covariance between the two means is accounted for) and
    ``se = sqrt(J V J')``, ``V = result.cov_params()``.
    """
    _check_logit(result)
    conf_level = check_conf_level(conf_level)
    for label, frame in (("data_baseline", data_baseline), ("data_counterfactual", data_counterfactual)):
        if not isinstance(frame, pd.DataFrame) or len(frame) == 0:
            raise ValueError(f"{label} must be a non-empty pandas DataFrame")
    if weights is not None and len(data_baseline) != len(data_counterfactual):
        raise ValueError(
            "weights require equal row counts: "
            f"{len(data_baseline)} baseline vs {len(data_counterfactual)} counterfactual"
        )
    w_b = _weights(weights, len(data_baseline), normalize_weights)
    w_c = _weights(weights, len(data_counterfactual), normalize_weights)
    est_b, jac_b = _mean_prediction(result, data_baseline, w_b)
    est_c, jac_c = _mean_prediction(result, data_counterfactual, w_c)
    jac = jac_c - jac_b
    cov = np.asarray(result.cov_params(), dtype=float)
    se = float(np.sqrt(max(jac @ cov @ jac, 0.0)))
    diff = est_c - est_b
    wald = wald_columns(np.array([diff]), np.array([se]), conf_level)
    return pd.DataFrame(
        {
            "estimate_baseline": [est_b],
            "estimate_counterfactual": [est_c],
            "difference": [diff],
            "std_error": [se],
            "statistic": wald["statistic"],
            "p_value": wald["p_value"],
            "conf_low": wald["conf_low"],
            "conf_high": wald["conf_high"],
        }
    )
