"""Choose the logit's specification by likelihood-ratio tests, with every step recorded.

Start from the model with every predictor linear. Candidates: a natural cubic spline (``cr(x, df=4, constraints='center')``: centred, so it is not collinear with the intercept) in
place of each numeric predictor with enough distinct values, and the product of each pair of numeric
predictors. Forward selection: at each step the candidate with the largest likelihood-ratio χ² (smallest p)
is added if its p-value is below ``alpha`` divided by the number of candidates still open (Bonferroni), so
that the family of tests is controlled rather than hunted through; selection stops when no candidate passes.
Collinearity of the result is checked with VIF on the linear part.
"""

from __future__ import annotations

import itertools
import warnings

import pandas as pd
import patsy
import statsmodels.api as sm
from scipy import stats as sps

from analysis.dictionary import TARGET
from analysis.features import NUMERIC_PREDICTORS, linear_formula

STEP_COLUMNS = ["step", "candidate", "kind", "lr_chi2", "df", "p_value", "threshold", "aic", "selected"]


def candidate_terms(frame: pd.DataFrame, min_unique: int = 8) -> dict[str, tuple[str, str]]:
    """Candidates: name -> (kind, term). Splines replace the linear term; interactions are added."""
    candidates = {}
    for column in NUMERIC_PREDICTORS:
        if frame[column].nunique() >= min_unique:
            candidates[f"spline({column})"] = ("spline", column)
    for a, b in itertools.combinations(NUMERIC_PREDICTORS, 2):
        candidates[f"{a}:{b}"] = ("interaction", f"{a}:{b}")
    return candidates


def _formula(splines: list[str], interactions: list[str]) -> str:
    rhs = linear_formula()
    for column in splines:
        spline = f"cr({column}, df=4, constraints='center')"
        rhs = " + ".join(spline if term == column else term for term in rhs.split(" + "))
    return " + ".join([rhs, *interactions])


def select_specification(frame: pd.DataFrame, alpha: float = 0.05, max_steps: int = 6) -> tuple[str, pd.DataFrame]:
    """Forward selection by likelihood-ratio tests with a Bonferroni threshold.

    The design of every candidate is built once (patsy, on the whole frame, exactly as the final formula
    builds it) and the candidate models are fitted on arrays, which keeps the search to about a second.

    Returns
    -------
    (formula, steps)
        The chosen right-hand side and a frame with columns ``step, candidate, kind, lr_chi2, df, p_value,
        threshold, aic, selected`` (every candidate tested at every step).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    y = frame[TARGET].to_numpy(dtype=float)
    base = patsy.dmatrix(linear_formula(), frame, return_type="dataframe")
    blocks = {}
    for name, (kind, term) in candidate_terms(frame).items():
        if kind == "spline":
            block = patsy.dmatrix(f"cr({term}, df=4, constraints='center') - 1", frame, return_type="dataframe")
            blocks[name] = (kind, term, block, term)  # replaces the linear column `term`
        else:
            a, b = term.split(":")
            blocks[name] = (kind, term, (frame[a] * frame[b]).rename(term).to_frame(), None)
    chosen: list[str] = []

    def design(names: list[str]) -> pd.DataFrame:
        drop = [blocks[n][3] for n in names if blocks[n][3]]
        return pd.concat([base.drop(columns=drop)] + [blocks[n][2] for n in names], axis=1)

    def fit(names: list[str]):
        return sm.Logit(y, design(names).to_numpy()).fit(method="newton", maxiter=100, disp=0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a candidate that does not converge simply loses
        current = fit(chosen)
        rows = []
        for step in range(1, max_steps + 1):
            open_names = [n for n in blocks if n not in chosen]
            threshold = alpha / len(open_names)
            results = []
            for name in open_names:
                fitted = fit(chosen + [name])
                chi2 = 2 * (fitted.llf - current.llf)
                df = int(round(fitted.df_model - current.df_model))
                results.append({"step": step, "candidate": name, "kind": blocks[name][0], "lr_chi2": chi2,
                                "df": df, "p_value": float(sps.chi2.sf(chi2, df)), "threshold": threshold,
                                "aic": fitted.aic, "selected": False, "_fit": fitted})
            best = min(results, key=lambda r: (r["p_value"], -r["lr_chi2"]))
            if best["p_value"] < threshold:
                best["selected"] = True
                chosen.append(best["candidate"])
                current = best["_fit"]
            rows += [{k: v for k, v in r.items() if k != "_fit"} for r in results]
            if not best["selected"]:
                break
    splines = [blocks[n][1] for n in chosen if blocks[n][0] == "spline"]
    interactions = [blocks[n][1] for n in chosen if blocks[n][0] == "interaction"]
    return _formula(splines, interactions), pd.DataFrame(rows, columns=STEP_COLUMNS)
