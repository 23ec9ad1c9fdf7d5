"""Two-arm experiments with a binary outcome: planning, stratified assignment, balance and analysis.

Functions
---------
sample_size_two_proportions
    Units per arm to detect ``p1`` vs ``p2`` (two-sided test of two proportions).
minimum_detectable_effect
    Smallest difference ``p2 - p1`` detectable with ``n`` units per arm.
quantile_bins
    Equal-count bins of a score (e.g. risk deciles), ties broken by position.
stratified_assignment
    Random allocation to two arms, balanced within one unit in every stratum.
standardized_mean_differences
    Balance table of two arms: means and standardised mean differences.
difference_in_proportions
    Difference of two proportions with Wald and Newcombe (hybrid score) intervals.
logit_treatment_effect
    Average marginal effect of treatment from a logit with stratum indicators (delta method).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import expit
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    test_proportions_2indep,
)

from ._common import binary_array, check_conf_level, check_positive_int, wald_columns

__all__ = [
    "sample_size_two_proportions",
    "minimum_detectable_effect",
    "quantile_bins",
    "stratified_assignment",
    "standardized_mean_differences",
    "difference_in_proportions",
    "logit_treatment_effect",
]

TREATMENT, CONTROL = "treatment", "control"
EFFECT_COLUMNS = ["method", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high",
                  "conf_level", "n_treatment", "n_control", "rate_treatment", "rate_control"]


def _check_rate(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a proportion in (0, 1), got {value!r}") from None
    if not (0.0 < value < 1.0):
        raise ValueError(f"{name} must be a proportion in (0, 1), got {value!r}")
    return value


def _check_alpha_power(alpha: float, power: float) -> None:
    if not (0.0 < float(alpha) < 1.0):
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if not (0.0 < float(power) < 1.0):
        raise ValueError(f"power must be in (0, 1), got {power!r}")


def sample_size_two_proportions(p1: float, p2: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Units per arm (equal arms) for a two-sided test of ``p1`` against ``p2``.

    Parameters
    ----------
    p1, p2 : float
        Outcome proportions of the control and treatment arms, in (0, 1), ``p1 != p2``.
    alpha : float
        Two-sided significance level.
    power : float
        Probability of rejecting when the true proportions are ``p1`` and ``p2``.

    Returns
    -------
    int
        The number per arm, rounded up.

    Notes
    -----
    statsmodels' :class:`~statsmodels.stats.power.NormalIndPower` on Cohen's arcsine effect size
    ``h = 2 asin(sqrt(p2)) - 2 asin(sqrt(p1))`` (:func:`~statsmodels.stats.proportion.proportion_effectsize`):
    ``n = ((z_{1-α/2} + z_{power}) / h)²`` (the negligible far-tail term is included by statsmodels). It
    agrees within a few per cent with the classical formula
    ``n = (z_{1-α/2} sqrt(2 p̄(1-p̄)) + z_{power} sqrt(p1(1-p1) + p2(1-p2)))² / (p1-p2)²``, ``p̄ = (p1+p2)/2``.
    """
    p1, p2 = _check_rate("p1", p1), _check_rate("p2", p2)
    _check_alpha_power(alpha, power)
    if p1 == p2:
        raise ValueError(f"p1 and p2 must differ to size an experiment, got {p1!r} twice")
    h = abs(proportion_effectsize(p2, p1))
    n = NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=power, ratio=1.0,
                                     alternative="two-sided")
    return int(np.ceil(float(n) - 1e-9))


def minimum_detectable_effect(p1: float, n_per_arm: int, alpha: float = 0.05, power: float = 0.8,
                              direction: int = -1) -> float:
    """Smallest difference ``p2 - p1`` that ``n_per_arm`` units per arm detect with the given power.

    Parameters
    ----------
    p1 : float
        Control-arm proportion, in (0, 1).
    n_per_arm : int
        Units in each arm (>= 2).
    alpha, power : float
        Two-sided level and power.
    direction : {-1, 1}
        -1 for a decrease (``p2 < p1``), 1 for an increase.

    Returns
    -------
    float
        Signed difference ``p2 - p1``; NaN when even ``p2 = 0`` (or 1) is not detectable.

    Notes
    -----
    Inverts :func:`sample_size_two_proportions`: ``h`` solved by NormalIndPower for ``n_per_arm``, then
    ``p2 = sin²(asin(sqrt(p1)) + direction · h / 2)``.
    """
    p1 = _check_rate("p1", p1)
    n = check_positive_int("n_per_arm", n_per_arm, minimum=2)
    _check_alpha_power(alpha, power)
    if direction not in (-1, 1):
        raise ValueError(f"direction must be -1 or 1, got {direction!r}")
    h = float(NormalIndPower().solve_power(nobs1=n, alpha=alpha, power=power, ratio=1.0,
                                           alternative="two-sided"))
    angle = np.arcsin(np.sqrt(p1)) + direction * h / 2.0
    if not (0.0 <= angle <= np.pi / 2):
        return float("nan")
    return float(np.sin(angle) ** 2 - p1)


def quantile_bins(values, n_bins: int) -> np.ndarray:
    """Equal-count bins ``1..n_bins`` of ``values`` (e.g. risk deciles).

    Ties are broken by position so that bins have sizes that differ by at most one; missing values
    are not allowed.

    Returns
    -------
    numpy.ndarray of int
        Bin number of each value, 1 = lowest.
    """
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or len(arr) == 0:
        raise ValueError(f"values must be a non-empty one-dimensional array, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError("values must not contain missing values")
    k = check_positive_int("n_bins", n_bins)
    order = np.argsort(arr, kind="stable")
    ranks = np.empty(len(arr), dtype=int)
    ranks[order] = np.arange(len(arr))
    return (ranks * min(k, len(arr)) // len(arr) + 1).astype(int)


def stratified_assignment(ids, strata, seed: int, match_on=None) -> pd.DataFrame:
    """Randomly allocate units to ``treatment`` and ``control``, balanced within one unit per stratum.

    Parameters
    ----------
    ids : array-like
        Unique unit identifiers (their order does not matter: the result depends only on the set of
        ``(id, stratum)`` pairs and the seed).
    strata : array-like
        Stratum label of each unit.
    seed : int
        Seed of :func:`numpy.random.default_rng`.
    match_on : array-like, optional
        A numeric score (e.g. predicted risk). When given, the units of each stratum are sorted by it and
        randomised within consecutive pairs (matched-pair randomisation), which balances the score far more
        tightly than one random block per stratum; each unit is still treated with probability 1/2.

    Returns
    -------
    pandas.DataFrame
        Columns ``id, stratum, arm``, sorted by stratum then id. In every stratum the arms differ by at
        most one unit; the odd units of odd-sized strata are split between the arms by a balanced random
        sequence, so the arm totals also differ by at most one. Every unit is treated with probability 1/2.

    Notes
    -----
    Within a stratum the units are randomly permuted and the first half goes to treatment (permuted
    block randomisation with one block per stratum).
    """
    frame = pd.DataFrame({"id": np.asarray(ids), "stratum": np.asarray(strata)})
    if match_on is not None:
        frame["_score"] = np.asarray(match_on, dtype=float)
    if frame["id"].duplicated().any():
        dup = frame.loc[frame["id"].duplicated(), "id"].iloc[0]
        raise ValueError(f"ids must be unique, id {dup} appears more than once")
    seed = check_positive_int("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)
    frame = frame.sort_values(["stratum", "id"], kind="stable").reset_index(drop=True)
    codes, _ = pd.factorize(frame["stratum"], sort=True)
    sizes = np.bincount(codes)
    first = np.r_[0, np.cumsum(sizes)[:-1]]
    n_odd = int((sizes % 2).sum())
    # half the odd units to each arm; when their number is odd, the last one by a fair coin (a fixed
    # choice would give the units of odd strata a treatment probability other than 1/2)
    odd_arms = [TREATMENT, CONTROL] * (n_odd // 2)
    if n_odd % 2:
        odd_arms.append(TREATMENT if rng.random() < 0.5 else CONTROL)
    odd_arms = np.asarray(odd_arms, dtype=object)[rng.permutation(n_odd)]
    # a uniform random order within each stratum: the position of each unit in it
    noise = rng.random(len(frame))
    half = sizes[codes] // 2
    if match_on is None:
        order = np.lexsort((noise, codes))
    else:
        # sorted by the score (ties by id); the last unit of an odd-sized stratum is split as below
        order = np.lexsort((frame["id"].to_numpy(), frame["_score"].to_numpy(), codes))
    position = np.empty(len(frame), dtype=int)
    position[order] = np.arange(len(frame)) - first[codes[order]]
    if match_on is None:
        arm = np.where(position < half, TREATMENT, CONTROL).astype(object)
    else:
        # a fair coin per consecutive pair: the first unit of the pair gets its result, the second the other
        flips = rng.random(len(frame)) < 0.5
        pair_first = order[(position[order] % 2 == 0)]
        coin = np.empty(len(frame), dtype=bool)
        coin[pair_first] = flips[: len(pair_first)]
        partner = np.empty(len(frame), dtype=int)
        partner[order] = np.where(position[order] % 2 == 0, order, np.r_[order[:1], order[:-1]])
        first_of_pair = partner
        treated = np.where(position % 2 == 0, coin, ~coin[first_of_pair])
        arm = np.where(treated, TREATMENT, CONTROL).astype(object)
    is_odd = position == 2 * half  # the last position of an odd-sized stratum
    odd_strata = np.flatnonzero(sizes % 2)
    arm[is_odd] = odd_arms[np.searchsorted(odd_strata, codes[is_odd])]
    frame["arm"] = arm
    return frame[["id", "stratum", "arm"]]


def standardized_mean_differences(frame: pd.DataFrame, arm, numeric: Sequence[str],
                                  categorical: Sequence[str] = ()) -> pd.DataFrame:
    """Balance of two arms: the mean of every variable per arm and its standardised mean difference.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per unit.
    arm : array-like
        ``"treatment"`` or ``"control"`` for every row of ``frame``.
    numeric : sequence of str
        Numeric columns.
    categorical : sequence of str
        Categorical columns; each level becomes a 0/1 indicator ``column=level``.

    Returns
    -------
    pandas.DataFrame
        Columns ``variable, mean_treatment, mean_control, smd``.

    Notes
    -----
    ``smd = (mean_t - mean_c) / sqrt((s_t² + s_c²) / 2)`` with sample variances (ddof 1), as in
    Austin (2009); for an indicator the variance is the same formula applied to 0/1 values. 0 when both
    variances are 0 and the means agree, ±inf when they do not. |smd| < 0.1 is the usual target.
    """
    arm = np.asarray(arm)
    bad = ~np.isin(arm, (TREATMENT, CONTROL))
    if bad.any():
        raise ValueError(f"arm must be 'treatment' or 'control', found {arm[bad][0]!r}")
    is_t = arm == TREATMENT
    if is_t.sum() < 2 or (~is_t).sum() < 2:
        raise ValueError("each arm needs at least two units for a balance table")
    columns: dict[str, np.ndarray] = {}
    for name in numeric:
        columns[name] = frame[name].to_numpy(dtype=float)
    for name in categorical:
        values = frame[name].astype(str).to_numpy()
        for level in sorted(set(values)):
            columns[f"{name}={level}"] = (values == level).astype(float)
    rows = []
    for name, values in columns.items():
        t, c = values[is_t], values[~is_t]
        mt, mc = float(np.mean(t)), float(np.mean(c))
        pooled = np.sqrt((np.var(t, ddof=1) + np.var(c, ddof=1)) / 2.0)
        if pooled > 0:
            smd = (mt - mc) / pooled
        else:
            smd = 0.0 if mt == mc else float(np.sign(mt - mc) * np.inf)
        rows.append({"variable": name, "mean_treatment": mt, "mean_control": mc, "smd": float(smd)})
    return pd.DataFrame(rows, columns=["variable", "mean_treatment", "mean_control", "smd"])


def _arms(y, treated) -> tuple[np.ndarray, np.ndarray]:
    y = binary_array(y, "y")
    treated = binary_array(treated, "treated").astype(bool)
    if len(y) != len(treated):
        raise ValueError(f"y and treated have different lengths ({len(y)} and {len(treated)})")
    if treated.sum() == 0 or (~treated).sum() == 0:
        raise ValueError("both arms need at least one unit")
    return y, treated


def difference_in_proportions(y, treated, conf_level: float = 0.95) -> pd.DataFrame:
    """Difference ``rate_treatment - rate_control`` of a binary outcome, with two intervals.

    Parameters
    ----------
    y : array-like of 0/1
        Outcome of every unit.
    treated : array-like of 0/1 or bool
        1 for the treatment arm.
    conf_level : float

    Returns
    -------
    pandas.DataFrame
        Two rows (``method`` ``wald`` and ``newcombe``) with columns :data:`EFFECT_COLUMNS`. Both rows
        have the same estimate; ``std_error`` is the unpooled Wald one. The ``wald`` p value is the
        unpooled z test, the ``newcombe`` p value the pooled score test.

    Notes
    -----
    Wald: ``d ± z sqrt(p_t(1-p_t)/n_t + p_c(1-p_c)/n_c)``. Newcombe (1998, method 10): the hybrid score
    interval built from the two Wilson intervals ``(l_t, u_t)``, ``(l_c, u_c)``:
    ``d - z sqrt(l_t(1-l_t)/n_t + u_c(1-u_c)/n_c)`` … ``d + z sqrt(u_t(1-u_t)/n_t + l_c(1-l_c)/n_c)``, via
    :func:`statsmodels.stats.proportion.confint_proportions_2indep`. It keeps close to nominal coverage
    with small arms and rates near 0 or 1, where the Wald interval does not.
    """
    conf_level = check_conf_level(conf_level)
    y, treated = _arms(y, treated)
    n_t, n_c = int(treated.sum()), int((~treated).sum())
    k_t, k_c = float(y[treated].sum()), float(y[~treated].sum())
    p_t, p_c = k_t / n_t, k_c / n_c
    estimate = p_t - p_c
    se = float(np.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c))
    wald = wald_columns(np.array([estimate]), np.array([se]), conf_level)
    low, high = confint_proportions_2indep(k_t, n_t, k_c, n_c, method="newcomb", compare="diff",
                                           alpha=1 - conf_level)
    with np.errstate(divide="ignore", invalid="ignore"):  # statsmodels also forms an odds ratio, 1/0 at a zero count
        _, p_score = test_proportions_2indep(k_t, n_t, k_c, n_c, method="score", compare="diff")
    common = {"estimate": estimate, "std_error": se, "conf_level": conf_level, "n_treatment": n_t,
              "n_control": n_c, "rate_treatment": p_t, "rate_control": p_c}
    rows = [
        {"method": "wald", **common, "statistic": float(wald["statistic"][0]),
         "p_value": float(wald["p_value"][0]) if se > 0 else float("nan"),
         "conf_low": float(wald["conf_low"][0]), "conf_high": float(wald["conf_high"][0])},
        {"method": "newcombe", **common, "statistic": float("nan"), "p_value": float(p_score),
         "conf_low": float(low), "conf_high": float(high)},
    ]
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)


def _fit_logit(X: np.ndarray, y: np.ndarray, max_iter: int = 100, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Newton-Raphson maximum likelihood; returns the estimates and the inverse information."""
    beta = np.zeros(X.shape[1])
    for _ in range(max_iter):
        p = expit(X @ beta)
        info = X.T @ (X * (p * (1 - p))[:, None])
        step = np.linalg.solve(info, X.T @ (y - p))
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            break
    else:
        raise ValueError(f"the logit did not converge in {max_iter} iterations")
    p = expit(X @ beta)
    info = X.T @ (X * (p * (1 - p))[:, None])
    return beta, np.linalg.inv(info)


def logit_treatment_effect(y, treated, strata, conf_level: float = 0.95) -> pd.DataFrame:
    """Average marginal effect of treatment from ``logit P(y=1) = a + b·treated + stratum indicators``.

    Parameters
    ----------
    y : array-like of 0/1
    treated : array-like of 0/1 or bool
    strata : array-like
        Stratum label of each unit (the randomisation strata).
    conf_level : float

    Returns
    -------
    pandas.DataFrame
        One row (``method`` ``logit_stratum_ame``) with columns :data:`EFFECT_COLUMNS` plus ``n_strata``
        and ``n_strata_constant`` (strata whose outcome does not vary).

    Notes
    -----
    ``AME = (1/N) Σ_i [Λ(x_i1'β) - Λ(x_i0'β)]`` with ``x_i1``, ``x_i0`` unit ``i``'s row with treatment set
    to 1 and 0; its standard error is the delta method ``sqrt(g' V g)``,
    ``g = (1/N) Σ_i [Λ'(x_i1'β) x_i1 - Λ'(x_i0'β) x_i0]``, ``V`` the inverse information. A stratum whose
    units all have the same outcome has an infinite indicator coefficient at the maximum: it is left out
    of the fit and its units contribute their limit, 0, to the sum (the AME stays an average over all
    ``N`` units). Strata are indicators against the first (sorted) stratum.
    """
    conf_level = check_conf_level(conf_level)
    y, treated = _arms(y, treated)
    strata = pd.Series(np.asarray(strata)).astype(str).to_numpy()
    if len(strata) != len(y):
        raise ValueError(f"strata has {len(strata)} values for {len(y)} outcomes")
    frame = pd.DataFrame({"y": y, "t": treated.astype(float), "s": strata})
    stratum_mean = frame.groupby("s")["y"].transform("mean").to_numpy()
    constant = (stratum_mean == 0) | (stratum_mean == 1)
    n_strata = int(frame["s"].nunique())
    n_constant = int(frame.loc[constant, "s"].nunique())
    used = frame.loc[~constant]
    if used.empty or used["t"].nunique() < 2:
        raise ValueError("no stratum with a varying outcome holds both arms: the logit effect is not estimable")
    levels = sorted(used["s"].unique())
    dummies = (used["s"].to_numpy()[:, None] == np.asarray(levels[1:])[None, :]).astype(float)
    X1 = np.column_stack([np.ones(len(used)), np.ones(len(used)), dummies])
    X0 = X1.copy()
    X0[:, 1] = 0.0
    X = np.where(used["t"].to_numpy()[:, None] == 1, X1, X0)
    beta, cov = _fit_logit(X, used["y"].to_numpy())
    p1, p0 = expit(X1 @ beta), expit(X0 @ beta)
    n_all = len(frame)
    estimate = float(np.sum(p1 - p0) / n_all)
    grad = ((p1 * (1 - p1))[:, None] * X1 - (p0 * (1 - p0))[:, None] * X0).sum(axis=0) / n_all
    se = float(np.sqrt(grad @ cov @ grad))
    wald = wald_columns(np.array([estimate]), np.array([se]), conf_level)
    row = {"method": "logit_stratum_ame", "estimate": estimate, "std_error": se,
           "statistic": float(wald["statistic"][0]), "p_value": float(wald["p_value"][0]),
           "conf_low": float(wald["conf_low"][0]), "conf_high": float(wald["conf_high"][0]),
           "conf_level": conf_level, "n_treatment": int(treated.sum()), "n_control": int((~treated).sum()),
           "rate_treatment": float(y[treated].mean()), "rate_control": float(y[~treated].mean()),
           "n_strata": n_strata, "n_strata_constant": n_constant}
    return pd.DataFrame([row], columns=EFFECT_COLUMNS + ["n_strata", "n_strata_constant"])
