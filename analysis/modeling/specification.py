"""Choose the logit's specification by forward selection, as a procedure that can run inside every fold.

Start from the model with every predictor linear. Candidates: a natural cubic spline
(``cr(x, df=4, constraints='center')``: centred, so it is not collinear with the intercept) in place of each
numeric predictor with enough distinct values, and the product of each pair of numeric predictors, each centred at
a typical value (its median in the data the selection sees) so that the main-effect rows of a chosen model are
effects at typical values of the partner, not at an impossible zero.

Forward selection by score (Lagrange-multiplier) tests: at each step every open candidate is tested from the
current fit alone (no candidate is fitted); the one with the smallest p-value is added if that p-value is below
``alpha`` divided by the number of candidates still open (Bonferroni), and the model is refitted once. Selection
stops when no candidate passes. One fit per step keeps the search fast enough to run inside each of the 25 outer
training folds of the benchmark (:class:`SelectedLogitClassifier`), so that the benchmark's figure for the chosen
logit is that of the whole procedure.

Because the specification is chosen on the data, a likelihood-ratio test of the chosen model against the linear
one on the same data is not a valid test (its p-value ignores the search); the report gives the selection's
stability across folds instead.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats as sps
from sklearn.base import BaseEstimator, ClassifierMixin

from analysis.data.dictionary import TARGET
from analysis.modeling.features import NUMERIC_PREDICTORS, linear_formula
from stats._common import binary_array
from stats.design import build_design, design_dataframe

STEP_COLUMNS = ["step", "candidate", "kind", "score_chi2", "df", "p_value", "threshold", "selected"]


def centring_values(frame: pd.DataFrame) -> dict[str, float]:
    """The typical value (median) of every numeric predictor: products are formed from ``x − median``."""
    return {column: float(np.median(frame[column].to_numpy(dtype=float))) for column in NUMERIC_PREDICTORS}


def centred(column: str, centres: dict[str, float]) -> str:
    """The patsy expression of ``column`` centred at its typical value, e.g. ``I(pages_per_visit - 3.0)``."""
    return f"I({column} - {centres[column]!r})"


def candidate_terms(frame: pd.DataFrame, centres: dict[str, float] | None = None,
                    min_unique: int = 8) -> dict[str, tuple[str, str]]:
    """Candidates: name -> (kind, term). Splines replace the linear term; centred products are added."""
    centres = centres or centring_values(frame)
    candidates = {}
    for column in NUMERIC_PREDICTORS:
        if frame[column].nunique() >= min_unique:
            candidates[f"spline({column})"] = ("spline", column)
    for a, b in itertools.combinations(NUMERIC_PREDICTORS, 2):
        candidates[f"{a}:{b}"] = ("interaction", f"{centred(a, centres)}:{centred(b, centres)}")
    return candidates


def _formula(splines: list[str], interactions: list[str]) -> str:
    rhs = linear_formula()
    for column in splines:
        spline = f"cr({column}, df=4, constraints='center')"
        rhs = " + ".join(spline if term == column else term for term in rhs.split(" + "))
    return " + ".join([rhs, *interactions])


def _score_test(X: np.ndarray, p: np.ndarray, y: np.ndarray, Z: np.ndarray, xtwx_inv: np.ndarray):
    """Score statistic and degrees of freedom for adding the columns ``Z`` to the logit fitted on ``X``.

    ``U = Z'(y − p)``, ``I = Z'WZ − Z'WX (X'WX)⁻¹ X'WZ`` (the efficient information of ``Z``), ``LM = U' I⁺ U``
    with the degrees of freedom the rank of ``I`` (a spline block contains the linear term already in ``X``,
    which removes one direction; a column collinear with ``X`` adds none).

    The rank is judged with every column of ``Z`` scaled to unit information before projection, so that a direction
    counts when more than 1e-9 of a column's own information is left once ``X`` is projected out. (Relative to the
    largest eigenvalue of ``I`` instead, a single column collinear with ``X`` kept its rounding noise as one degree
    of freedom about half the time.)
    """
    w = p * (1.0 - p)
    WZ = Z * w[:, None]
    cross = X.T @ WZ
    own = np.einsum("ij,ij->j", Z, WZ)  # diag(Z'WZ)
    scale = np.sqrt(np.where(own > 0, own, 1.0))  # an all-zero column (a spline on few values) stays zero
    info = (Z.T @ WZ - cross.T @ xtwx_inv @ cross) / np.outer(scale, scale)
    info = (info + info.T) / 2.0
    values, vectors = np.linalg.eigh(info)
    keep = values > 1e-9
    if not keep.any():
        return 0.0, 0
    u = Z.T @ (y - p) / scale
    proj = vectors[:, keep].T @ u
    return float(np.sum(proj ** 2 / values[keep])), int(keep.sum())


def select_specification(frame: pd.DataFrame, alpha: float = 0.05, max_steps: int = 6,
                         centres: dict[str, float] | None = None) -> tuple[str, pd.DataFrame]:
    """Forward selection by score tests with a Bonferroni threshold.

    Parameters
    ----------
    frame : pandas.DataFrame
        The model frame (target and every predictor); only these rows are used (pass a training fold to
        select inside it).
    alpha : float, default 0.05
    max_steps : int, default 6
    centres : dict, optional
        Typical values at which products are centred; default: the medians of ``frame``.

    Returns
    -------
    (formula, steps)
        The chosen right-hand side and a frame with columns ``step, candidate, kind, score_chi2, df, p_value,
        threshold, selected`` (every open candidate tested at every step).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    centres = centres or centring_values(frame)
    y = frame[TARGET].to_numpy(dtype=float)
    base = design_dataframe(linear_formula(), frame, name="frame")
    blocks = {}
    candidates = candidate_terms(frame, centres)
    splines = [term for kind, term in candidates.values() if kind == "spline"]
    # every spline block from one patsy call (each term is evaluated on its own column, as in separate calls)
    spline_design = (design_dataframe(" + ".join(f"cr({t}, df=4, constraints='center')" for t in splines) + " - 1",
                                      frame[splines], name="frame") if splines else None)
    for name, (kind, term) in candidates.items():
        if kind == "spline":
            info = spline_design.design_info
            columns = info.term_slices[info.terms[splines.index(term)]]
            block = spline_design.to_numpy(dtype=float)[:, columns]
            blocks[name] = (kind, term, block, term)  # replaces the linear column
        else:
            a, b = name.split(":")
            product = (frame[a].to_numpy(dtype=float) - centres[a]) * (frame[b].to_numpy(dtype=float) - centres[b])
            blocks[name] = (kind, term, product[:, None], None)
    chosen: list[str] = []

    def design(names: list[str]) -> np.ndarray:
        drop = {blocks[n][3] for n in names if blocks[n][3]}
        kept = base.drop(columns=list(drop)).to_numpy(dtype=float)
        return np.column_stack([kept] + [blocks[n][2] for n in names])

    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # near-separation in a fold must not stop the search
        for step in range(1, max_steps + 1):
            X = design(chosen)
            fit = sm.Logit(y, X).fit(method="newton", maxiter=100, disp=0)
            p = np.clip(fit.predict(X), 1e-10, 1 - 1e-10)
            xtwx_inv = np.linalg.pinv(X.T @ (X * (p * (1 - p))[:, None]))
            open_names = [n for n in blocks if n not in chosen]
            threshold = alpha / len(open_names)
            results = []
            for name in open_names:
                stat, df = _score_test(X, p, y, blocks[name][2], xtwx_inv)
                pval = float(sps.chi2.sf(stat, df)) if df > 0 else 1.0
                results.append({"step": step, "candidate": name, "kind": blocks[name][0], "score_chi2": stat,
                                "df": df, "p_value": pval, "threshold": threshold, "selected": False})
            best = min(results, key=lambda r: (r["p_value"], -r["score_chi2"]))
            if best["p_value"] < threshold:
                best["selected"] = True
                chosen.append(best["candidate"])
            rows += results
            if not best["selected"]:
                break
    splines = [blocks[n][1] for n in chosen if blocks[n][0] == "spline"]
    interactions = [blocks[n][1] for n in chosen if blocks[n][0] == "interaction"]
    return _formula(splines, interactions), pd.DataFrame(rows, columns=STEP_COLUMNS)


def chosen_candidates(steps: pd.DataFrame) -> list[str]:
    """Names of the candidates a selection added, in order."""
    return steps.loc[steps["selected"], "candidate"].tolist()


class SelectedLogitClassifier(ClassifierMixin, BaseEstimator):
    """The whole specification procedure as one estimator: ``fit`` runs the forward selection on the rows it
    is given (centring at their medians), then fits the chosen formula with statsmodels.

    Used in the benchmark so that selection happens inside every outer training fold. After ``fit``:
    ``formula_`` (chosen right-hand side), ``chosen_`` (candidate names), ``design_info_`` (the formula's patsy
    design: levels, knots), ``result_`` (statsmodels ``Logit`` fitted on that design: the fit
    ``fit_logit(formula)`` gives, without the formula layer, which the cross-validation does not need; a test
    checks the predictions against the formula fit).
    """

    def __init__(self, alpha: float = 0.05, max_steps: int = 6):
        self.alpha = alpha
        self.max_steps = max_steps

    def fit(self, X: pd.DataFrame, y):
        y01 = binary_array(np.asarray(y))
        frame = X.copy()
        frame[TARGET] = y01
        self.formula_, steps = select_specification(frame, alpha=self.alpha, max_steps=self.max_steps)
        self.chosen_ = chosen_candidates(steps)
        design = design_dataframe(self.formula_, X)
        self.design_info_ = design.design_info
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.result_ = sm.Logit(y01, design).fit(method="newton", maxiter=100, disp=0)
        self.classes_ = np.array([0, 1])
        return self

    def cv_info(self) -> list[str]:
        """The candidates chosen in this fit (recorded per fold by the benchmark)."""
        return list(self.chosen_)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        from scipy.special import expit

        p = expit(build_design(self.design_info_, X) @ np.asarray(self.result_.params, dtype=float))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
