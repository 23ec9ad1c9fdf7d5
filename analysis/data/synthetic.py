"""Synthetic exports of «В один клик» with a known logit data-generating process.

The generator produces customers that look like the store's four CSV exports (same files, columns,
labels, typos, number formats, CRLF line ends, ``;`` and decimal comma in ``money.csv``) but whose
target follows a *known* logit model, so that the loader, the model and the reports can be tested for
recovery of the truth.

Data-generating process
-----------------------
One latent "engagement" factor ``z ~ N(0, 1)`` per customer links the behavioural features (engaged
customers see more pages, stay longer, view more categories, buy less on promotion, leave fewer unpaid
items); every other draw is independent. Marginals resemble the real exports (1300 customers):

=========================  =====================================================================
column                     draw (rounded exactly as written in the export)
=========================  =====================================================================
service_type               premium with probability 0.29, else standard
contact_allowed            1 with probability 0.74
marketing_6m               4.25 + 0.45 z + 0.9 e, clipped to [0.9, 6.6], 1 decimal
marketing_current          3 / 4 / 5 with probabilities 0.237 / 0.515 / 0.248, independent of all
tenure_days                uniform integer 110 … 1079
promo_share                with probability expit(−2.1 − 0.6 z) a "promo hunter": uniform on
                           {0.89, …, 0.99}; else 0.11 + 0.33·Beta(2, 3.5); 0.3 % exactly 0; 2 dec.
popular_category           kids 25.4 %, home textiles 19.3 %, cosmetics 17.2 %, beauty devices
                           14.2 %, small appliances 13.4 %, kitchenware 10.6 %
categories_per_visit       round(3.2 + 0.5 z + 1.15 e), clipped to 1 … 6
unpaid_items               Poisson(2.7·exp(−0.3 z)), clipped to 0 … 10
service_errors             Binomial(9, 0.465)
pages_per_visit            round(8.2 + 2.2 z + 3.0 e), clipped to 1 … 20
minutes_prev               round(13.5 + 2.0 z + 3.4 e), clipped to 5 … 23
minutes_current            round(13.2 + 1.8 z + 3.8 e), clipped to 4 … 23
revenue_prev2              whole roubles, ≈ N(4825 + 120 z, 380)            (written ``4472.0``)
revenue_prev               half roubles,  ≈ N(4940 + 150 z, 600), correlated with prev2
revenue_current            1 decimal,     ≈ N(5240 + 100 z, 750), correlated with prev
profit                     N(4, 1) clipped to [0.5, 7.5], 2 decimals   (written ``4,16``, ``5``)
=========================  =====================================================================

(``e`` is a fresh standard normal for each column.)

The target is ``activity_decline ~ Bernoulli(expit(η))`` with ``η`` linear in the customer-table
columns of :data:`TRUE_FORMULA` and coefficients :data:`TRUE_COEFFICIENTS`, keyed by the exact parameter
names of ``statsmodels.formula.api.logit("activity_decline ~ " + TRUE_FORMULA, table)``::

    marketing_6m + marketing_current + tenure_days + promo_share + categories_per_visit
    + unpaid_items + service_errors + pages_per_visit + minutes_prev + minutes_current
    + C(service_type, Treatment('standard')) + C(popular_category, Treatment('kids_goods'))

``marketing_current`` has a true coefficient of exactly zero (it is also drawn independently of all
other columns): a lever with no effect. Revenue, profit and ``contact_allowed`` are not in ``η``; given
the formula's columns the target is independent of them (their marginal association with the target
comes only through ``z``). The class balance is ≈ 38 % declined and the true model's AUC ≈ 0.87,
close to the real data (38.3 %, in-sample AUC of a full logit ≈ 0.91).

Export quirks reproduced
------------------------
Ids are consecutive from 215348. «стандартт» replaces «стандарт» for ≈ 1.1 % of the standard
customers (at least one when there are standard customers), «Косметика и аксесуары» and
«предыдцщий_месяц» are always misspelt, the period rows of each customer come in a random order.
``zero_revenue_customers`` customers get 0.0 revenue in one or both earlier months;
``extreme_revenue_customers`` customers get a current-month revenue 18–22 times their own.

Drift
-----
``scale={"marketing_6m": 0.5}`` multiplies a numeric column of every customer by a factor AFTER the target
is drawn and rounds it to the column's written decimals (half to even): the customers and their target are
those of the unscaled export, only what is recorded has shifted. An export to test the drift checks of
``score`` (``--scale marketing_6m=0.5`` on the command line).

Randomness comes from three independent streams of ``numpy.random.SeedSequence(seed)``: the customers
(features and target), the anomalies, and the rendering (typos, row order). So for a seed the customers
are the same with or without anomalies, and the same in :func:`customer_table`, :func:`generate_exports`
and :func:`write_exports`.

Command line::

    python -m analysis.data.synthetic --customers 10000 --seed 1 --out DIR [--no-target]
                                 [--zero-revenue K] [--extreme-revenue K] [--scale COLUMN=FACTOR ...]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.dictionary import (
    CATEGORY_LABELS,
    DICTIONARY,
    FIELDS,
    ID_RU,
    KNOWN_TYPOS,
    MARKET_FILE,
    MARKET_MONEY,
    MARKET_TIME,
    MONEY,
    PERIOD_RU,
    PROFIT_RU,
    REVENUE_PERIODS,
    TARGET,
    TARGET_LABELS,
    TIME_PERIODS,
)

__all__ = [
    "FIRST_ID",
    "TRUE_FORMULA",
    "TRUE_COEFFICIENTS",
    "NUMERIC_COEFFICIENTS",
    "LEVEL_COEFFICIENTS",
    "REFERENCE_LEVELS",
    "customer_table",
    "true_linear_predictor",
    "true_probability",
    "true_average_marginal_effects",
    "generate_exports",
    "write_exports",
    "main",
]

FIRST_ID = 215348

# ---------------------------------------------------------------------------------------------------
# Marginals
# ---------------------------------------------------------------------------------------------------
PREMIUM_SHARE = 0.29
CONTACT_ALLOWED_SHARE = 0.74
MARKETING_CURRENT_SHARES = {3: 0.237, 4: 0.515, 5: 0.248}
TENURE_RANGE = (110, 1079)
CATEGORY_SHARES = {
    "kids_goods": 0.254,
    "home_textiles": 0.193,
    "cosmetics_accessories": 0.172,
    "beauty_health_devices": 0.142,
    "small_appliances_electronics": 0.134,
    "kitchenware": 0.105,
}
STANDARD_TYPO_SHARE = 0.011
EXTREME_REVENUE_FACTOR = (18.0, 22.0)

# ---------------------------------------------------------------------------------------------------
# The true logit model
# ---------------------------------------------------------------------------------------------------
INTERCEPT = 5.5
NUMERIC_COEFFICIENTS: dict[str, float] = {
    "marketing_6m": -0.40,
    "marketing_current": 0.0,  # the no-effect lever
    "tenure_days": 0.0005,
    "promo_share": 2.5,
    "categories_per_visit": -0.45,
    "unpaid_items": 0.22,
    "service_errors": 0.08,
    "pages_per_visit": -0.18,
    "minutes_prev": -0.15,
    "minutes_current": -0.12,
}
REFERENCE_LEVELS: dict[str, str] = {"service_type": "standard", "popular_category": "kids_goods"}
LEVEL_COEFFICIENTS: dict[str, dict[str, float]] = {
    "service_type": {"premium": 0.35},
    "popular_category": {
        "home_textiles": 0.30,
        "cosmetics_accessories": -0.10,
        "beauty_health_devices": -0.50,
        "small_appliances_electronics": -1.00,
        "kitchenware": -0.25,
    },
}


def _term(column: str) -> str:
    return f"C({column}, Treatment('{REFERENCE_LEVELS[column]}'))"


TRUE_FORMULA: str = " + ".join([*NUMERIC_COEFFICIENTS, *(_term(c) for c in LEVEL_COEFFICIENTS)])
TRUE_COEFFICIENTS: dict[str, float] = {
    "Intercept": INTERCEPT,
    **{f"{_term(c)}[T.{level}]": b for c, levels in LEVEL_COEFFICIENTS.items() for level, b in levels.items()},
    **NUMERIC_COEFFICIENTS,
}

# ---------------------------------------------------------------------------------------------------
# Labels of the exports, all taken from the data dictionary
# ---------------------------------------------------------------------------------------------------
_SERVICE_LEVELS = ("standard", "premium")
_CATEGORY_LEVELS = tuple(CATEGORY_LABELS["popular_category"].values())
assert set(_CATEGORY_LEVELS) == set(CATEGORY_SHARES) and set(_SERVICE_LEVELS) == set(
    CATEGORY_LABELS["service_type"].values()
)


def _ru(column: str, english: str) -> str:
    return {en: ru for ru, en in CATEGORY_LABELS[column].items()}[english]


def _typo(file: str, column: str, correct: str) -> str:
    return {fix: typo for typo, fix in KNOWN_TYPOS[(file, column)].items()}.get(correct, correct)


_TARGET_RU = FIELDS[TARGET].source_name
_SERVICE_RU = FIELDS["service_type"].source_name
_CATEGORY_RU = FIELDS["popular_category"].source_name
# service codes 0 = standard, 1 = premium, 2 = standard written with the typo
_SERVICE_EXPORT = (
    _ru("service_type", "standard"),
    _ru("service_type", "premium"),
    _typo(MARKET_FILE, _SERVICE_RU, _ru("service_type", "standard")),
)
_CATEGORY_EXPORT = tuple(
    _typo(MARKET_FILE, _CATEGORY_RU, _ru("popular_category", level)) for level in _CATEGORY_LEVELS
)
_CONTACT_EXPORT = (_ru("contact_allowed", "0"), _ru("contact_allowed", "1"))
_TARGET_EXPORT = tuple({v: k for k, v in TARGET_LABELS.items()}[i] for i in (0, 1))
_REVENUE_COLUMNS = tuple(REVENUE_PERIODS.values())  # prev2, prev, current
_REVENUE_EXPORT = tuple(REVENUE_PERIODS)
_MINUTES_COLUMNS = tuple(TIME_PERIODS.values())  # prev, current
_TIME_EXPORT = tuple(_typo(MARKET_TIME, PERIOD_RU, p) for p in TIME_PERIODS)
_MARKET_FILE_FIELDS = tuple(f for f in DICTIONARY if f.source_file == MARKET_FILE)
TABLE_COLUMNS = tuple(f.name for f in DICTIONARY)

# decimals as written; other numeric columns are integers
_DECIMALS = {
    "marketing_6m": 1,
    "promo_share": 2,
    "revenue_prev2": 1,
    "revenue_prev": 1,
    "revenue_current": 1,
    "profit": 2,
}
#: Columns ``scale`` may multiply: the numbers of the customer table (not the id, the target or the labels).
SCALABLE_COLUMNS = tuple(c for c in TABLE_COLUMNS
                         if c not in ("id", TARGET, "service_type", "popular_category", "contact_allowed"))


# ---------------------------------------------------------------------------------------------------
# Drawing the customers
# ---------------------------------------------------------------------------------------------------
def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    customers, anomalies, render = np.random.SeedSequence(seed).spawn(3)
    return np.random.default_rng(customers), np.random.default_rng(anomalies), np.random.default_rng(render)


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _rounded_normal(rng, n, mean, sd, lo, hi) -> np.ndarray:
    return np.clip(np.rint(mean + sd * rng.standard_normal(n)), lo, hi).astype(np.int64)


def _draw(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Feature draws; decimal columns as scaled integers (tenths or hundredths)."""
    z = rng.standard_normal(n)
    out: dict[str, np.ndarray] = {}
    out["service_type"] = (rng.random(n) < PREMIUM_SHARE).astype(np.int64)  # code into _SERVICE_LEVELS
    out["contact_allowed"] = (rng.random(n) < CONTACT_ALLOWED_SHARE).astype(np.int64)
    out["marketing_6m"] = np.clip(np.rint(10 * (4.25 + 0.45 * z + 0.9 * rng.standard_normal(n))), 9, 66)
    out["marketing_current"] = rng.choice(
        np.array(list(MARKETING_CURRENT_SHARES)), size=n, p=list(MARKETING_CURRENT_SHARES.values())
    )
    out["tenure_days"] = rng.integers(TENURE_RANGE[0], TENURE_RANGE[1] + 1, size=n)
    hunter = rng.random(n) < _expit(-2.1 - 0.6 * z)
    promo = np.where(
        hunter,
        rng.integers(89, 100, size=n),
        np.rint(100 * (0.11 + 0.33 * rng.beta(2.0, 3.5, size=n))),
    )
    out["promo_share"] = np.where(rng.random(n) < 0.003, 0, promo)
    out["popular_category"] = rng.choice(
        len(_CATEGORY_LEVELS), size=n, p=[CATEGORY_SHARES[c] for c in _CATEGORY_LEVELS]
    )
    out["categories_per_visit"] = np.clip(np.rint(3.2 + 0.5 * z + 1.15 * rng.standard_normal(n)), 1, 6)
    out["unpaid_items"] = np.minimum(rng.poisson(2.7 * np.exp(-0.3 * z)), 10)
    out["service_errors"] = rng.binomial(9, 0.465, size=n)
    out["pages_per_visit"] = np.clip(np.rint(8.2 + 2.2 * z + 3.0 * rng.standard_normal(n)), 1, 20)
    out["minutes_prev"] = np.clip(np.rint(13.5 + 2.0 * z + 3.4 * rng.standard_normal(n)), 5, 23)
    out["minutes_current"] = np.clip(np.rint(13.2 + 1.8 * z + 3.8 * rng.standard_normal(n)), 4, 23)
    e2, e1, e0 = rng.standard_normal((3, n))
    e1 = 0.45 * e2 + np.sqrt(1 - 0.45**2) * e1
    e0 = 0.3 * e1 + np.sqrt(1 - 0.3**2) * e0
    out["revenue_prev2"] = 10 * np.maximum(np.rint(4825 + 120 * z + 380 * e2), 1)  # whole roubles
    out["revenue_prev"] = 5 * np.maximum(np.rint(2 * (4940 + 150 * z + 600 * e1)), 2)  # half roubles
    out["revenue_current"] = np.maximum(np.rint(10 * (5240 + 100 * z + 750 * e0)), 10)
    out["profit"] = np.clip(np.rint(100 * (4.0 + rng.standard_normal(n))), 50, 750)
    return {k: v.astype(np.int64) for k, v in out.items()}


def _apply_anomalies(raw: dict[str, np.ndarray], n_zero: int, n_extreme: int, rng: np.random.Generator) -> None:
    n = len(raw["tenure_days"])
    if n_zero < 0 or n_extreme < 0 or n_zero + n_extreme > n:
        raise ValueError(f"need 0 <= zero + extreme revenue customers <= {n}, got {n_zero} + {n_extreme}")
    chosen = rng.permutation(n)[: n_zero + n_extreme]
    zero, extreme = np.sort(chosen[:n_zero]), np.sort(chosen[n_zero:])
    # which earlier months are zero: 0 = both, 1 = prev2 only, 2 = prev only
    which = rng.integers(0, 3, size=n_zero)
    raw["revenue_prev2"][zero[which != 2]] = 0
    raw["revenue_prev"][zero[which != 1]] = 0
    factor = rng.uniform(*EXTREME_REVENUE_FACTOR, size=n_extreme)
    raw["revenue_current"][extreme] = np.rint(raw["revenue_current"][extreme] * factor).astype(np.int64)


def _apply_scale(table: pd.DataFrame, scale: dict[str, float]) -> pd.DataFrame:
    """``table`` with each column of ``scale`` multiplied by its factor, rounded to the written decimals."""
    table = table.copy()
    for column, factor in scale.items():
        if column not in SCALABLE_COLUMNS:
            raise ValueError(f"cannot scale {column!r}: a numeric column of the customer table is needed "
                             f"({', '.join(SCALABLE_COLUMNS)})")
        if not (np.isfinite(factor) and factor > 0):
            raise ValueError(f"the factor of {column!r} must be a positive number, got {factor!r}")
        unit = 10 ** _DECIMALS.get(column, 0)
        values = np.rint(np.rint(table[column].to_numpy(dtype=float) * unit) * factor).astype(np.int64)
        table[column] = values / unit if column in _DECIMALS else values
    return table


def _table_from_raw(raw: dict[str, np.ndarray], target: np.ndarray) -> pd.DataFrame:
    n = len(target)
    cols: dict[str, object] = {"id": np.arange(FIRST_ID, FIRST_ID + n, dtype=np.int64), TARGET: target}
    for name in TABLE_COLUMNS[2:]:
        values = raw[name]
        if name == "service_type":
            cols[name] = pd.Series(np.array(_SERVICE_LEVELS, dtype=object)[values], dtype="str")
        elif name == "popular_category":
            cols[name] = pd.Series(np.array(_CATEGORY_LEVELS, dtype=object)[values], dtype="str")
        elif name in _DECIMALS:
            cols[name] = values / 10 ** _DECIMALS[name]
        else:
            cols[name] = values
    return pd.DataFrame(cols, columns=list(TABLE_COLUMNS))


def customer_table(
    n_customers: int,
    seed: int,
    *,
    zero_revenue_customers: int = 0,
    extreme_revenue_customers: int = 0,
    scale: dict[str, float] | None = None,
) -> pd.DataFrame:
    """The synthetic customers as the clean English customer table.

    Parameters
    ----------
    n_customers
        Number of customers (ids ``215348, 215349, …``).
    seed
        Seed of the numpy generators; the same seed gives the same customers as :func:`generate_exports`
        and :func:`write_exports`.
    zero_revenue_customers, extreme_revenue_customers
        As in :func:`generate_exports` (the other customers do not change).
    scale
        Column → factor: the column of every customer multiplied after the target is drawn (module docstring,
        "Drift"); any column of :data:`SCALABLE_COLUMNS`.

    Returns
    -------
    pandas.DataFrame
        Columns in data-dictionary order (:data:`analysis.data.dictionary.DICTIONARY`); ``service_type`` and
        ``popular_category`` hold the English values (``str``), ``contact_allowed`` and the target are 0/1
        integers, decimal columns are rounded exactly as written in the exports.
    """
    if n_customers < 1:
        raise ValueError("n_customers must be at least 1")
    rng, anomalies, _ = _streams(seed)
    raw = _draw(n_customers, rng)
    eta = _eta_from_codes(raw)
    target = (rng.random(n_customers) < _expit(eta)).astype(np.int64)
    _apply_anomalies(raw, zero_revenue_customers, extreme_revenue_customers, anomalies)
    table = _table_from_raw(raw, target)
    return _apply_scale(table, scale) if scale else table


# ---------------------------------------------------------------------------------------------------
# The true model
# ---------------------------------------------------------------------------------------------------
def _eta_from_codes(raw: dict[str, np.ndarray]) -> np.ndarray:
    eta = np.full(len(raw["tenure_days"]), INTERCEPT)
    for name, beta in NUMERIC_COEFFICIENTS.items():
        eta += beta * (raw[name] / 10 ** _DECIMALS.get(name, 0))
    service = np.array([LEVEL_COEFFICIENTS["service_type"].get(level, 0.0) for level in _SERVICE_LEVELS])
    category = np.array([LEVEL_COEFFICIENTS["popular_category"].get(level, 0.0) for level in _CATEGORY_LEVELS])
    return eta + service[raw["service_type"]] + category[raw["popular_category"]]


def true_linear_predictor(table: pd.DataFrame) -> np.ndarray:
    """The true ``η`` of each row of a customer table (English columns and values)."""
    eta = np.full(len(table), INTERCEPT)
    for name, beta in NUMERIC_COEFFICIENTS.items():
        eta += beta * table[name].to_numpy(dtype=float)
    for column, levels in LEVEL_COEFFICIENTS.items():
        values = table[column].to_numpy(dtype=object)
        for level, beta in levels.items():
            eta += beta * (values == level)
    return eta


def true_probability(table: pd.DataFrame) -> np.ndarray:
    """The true probability of ``activity_decline = 1`` of each row of a customer table."""
    return _expit(true_linear_predictor(table))


def true_average_marginal_effects(n_customers: int = 200_000, seed: int = 0) -> pd.DataFrame:
    """Population average marginal effects of the true model.

    For a numeric column: the mean of ``β·p·(1 − p)`` (the derivative of the probability). For a level of
    a categorical column: the mean over all customers of ``p(column = level) − p(column = reference)``,
    every other column kept as drawn (note: statsmodels' ``get_margeff(dummy=True)`` flips one dummy
    column at a time instead, which differs slightly for factors of more than two levels).

    Returns
    -------
    pandas.DataFrame
        Columns ``term, ame``; ``term`` is the statsmodels parameter name (as in
        :data:`TRUE_COEFFICIENTS`, without the intercept).
    """
    table = customer_table(n_customers, seed)
    eta = true_linear_predictor(table)
    p = _expit(eta)
    rows = []
    for column, levels in LEVEL_COEFFICIENTS.items():
        values = table[column].to_numpy(dtype=object)
        own = np.zeros(len(table))
        for level, beta in levels.items():
            own += beta * (values == level)
        base = eta - own  # everyone at the reference level
        for level, beta in levels.items():
            rows.append((f"{_term(column)}[T.{level}]", float(np.mean(_expit(base + beta) - _expit(base)))))
    for name, beta in NUMERIC_COEFFICIENTS.items():
        rows.append((name, float(np.mean(beta * p * (1 - p)))))
    return pd.DataFrame(rows, columns=["term", "ame"])


# ---------------------------------------------------------------------------------------------------
# Rendering the table as the four exports
# ---------------------------------------------------------------------------------------------------
# A rendered column: ("int", values) | ("dec", scaled integers, decimals) | ("label", codes, labels)
_Column = tuple


def _scaled(table: pd.DataFrame, name: str) -> np.ndarray:
    return np.rint(table[name].to_numpy(dtype=float) * 10 ** _DECIMALS[name]).astype(np.int64)


def _codes(values: pd.Series, levels: tuple[str, ...]) -> np.ndarray:
    codes = pd.Categorical(values, categories=list(levels)).codes.astype(np.int64)
    if (codes < 0).any():
        raise ValueError(f"unknown values in {values.name!r}; expected {levels}")
    return codes


def _render(table: pd.DataFrame, seed: int, with_target: bool) -> dict[str, list[tuple[str, _Column]]]:
    """The four exports as typed columns, from a customer table (render stream of ``seed``)."""
    *_, rng = _streams(seed)
    n = len(table)
    ids = table["id"].to_numpy(dtype=np.int64)

    service = _codes(table["service_type"], _SERVICE_LEVELS)
    standard = np.flatnonzero(service == 0)
    if len(standard):
        k = max(1, int(rng.binomial(len(standard), STANDARD_TYPO_SHARE)))
        service[rng.choice(standard, size=k, replace=False)] = 2
    market_file: list[tuple[str, _Column]] = []
    for f in _MARKET_FILE_FIELDS:
        if f.name == TARGET:
            if with_target:
                target = table[TARGET].to_numpy(dtype=np.int64)
                market_file.append((f.source_name, ("label", target, _TARGET_EXPORT)))
        elif f.name == "service_type":
            market_file.append((f.source_name, ("label", service, _SERVICE_EXPORT)))
        elif f.name == "popular_category":
            codes = _codes(table["popular_category"], _CATEGORY_LEVELS)
            market_file.append((f.source_name, ("label", codes, _CATEGORY_EXPORT)))
        elif f.name == "contact_allowed":
            contact = table[f.name].to_numpy(dtype=np.int64)
            market_file.append((f.source_name, ("label", contact, _CONTACT_EXPORT)))
        elif f.name in _DECIMALS:
            market_file.append((f.source_name, ("dec", _scaled(table, f.name), _DECIMALS[f.name])))
        else:
            market_file.append((f.source_name, ("int", table[f.name].to_numpy(dtype=np.int64))))

    def long(columns: tuple[str, ...], labels: tuple[str, ...], value_name: str, decimals: int | None):
        k = len(columns)
        perms = np.array(list(itertools.permutations(range(k))), dtype=np.int64)
        order = perms[rng.integers(0, len(perms), size=n)]  # (n, k) period index of each row
        if decimals is None:
            values = np.column_stack([table[c].to_numpy(dtype=np.int64) for c in columns])
            value_col: _Column = ("int", np.take_along_axis(values, order, axis=1).ravel())
        else:
            values = np.column_stack([_scaled(table, c) for c in columns])
            value_col = ("dec", np.take_along_axis(values, order, axis=1).ravel(), decimals)
        return [
            (ID_RU, ("int", np.repeat(ids, k))),
            (PERIOD_RU, ("label", order.ravel(), labels)),
            (value_name, value_col),
        ]

    revenue_ru = FIELDS[_REVENUE_COLUMNS[0]].source_name
    minutes_ru = FIELDS[_MINUTES_COLUMNS[0]].source_name
    return {
        MARKET_FILE: market_file,
        MARKET_MONEY: long(_REVENUE_COLUMNS, _REVENUE_EXPORT, revenue_ru, 1),
        MARKET_TIME: long(_MINUTES_COLUMNS, _TIME_EXPORT, minutes_ru, None),
        MONEY: [(ID_RU, ("int", ids)), (PROFIT_RU, ("dec", _scaled(table, "profit"), _DECIMALS["profit"]))],
    }


def _column_values(col: _Column) -> object:
    kind = col[0]
    if kind == "int":
        return col[1]
    if kind == "dec":
        return col[1] / 10 ** col[2]
    return pd.Series(np.array(col[2], dtype=object)[col[1]], dtype="str")


def _frames(rendered: dict[str, list[tuple[str, _Column]]]) -> dict[str, pd.DataFrame]:
    return {
        file: pd.DataFrame(
            {name: _column_values(col) for name, col in cols}, columns=[name for name, _ in cols]
        )
        for file, cols in rendered.items()
    }


def _prepare(n_customers, seed, with_target, zero_revenue_customers, extreme_revenue_customers, scale=None):
    table = customer_table(
        n_customers,
        seed,
        zero_revenue_customers=zero_revenue_customers,
        extreme_revenue_customers=extreme_revenue_customers,
        scale=scale,
    )
    return _render(table, seed, with_target)


def generate_exports(
    n_customers: int,
    seed: int,
    with_target: bool = True,
    zero_revenue_customers: int = 0,
    extreme_revenue_customers: int = 0,
    scale: dict[str, float] | None = None,
) -> dict[str, pd.DataFrame]:
    """The four raw exports of :func:`customer_table` ``(n_customers, seed)``.

    Parameters
    ----------
    n_customers, seed
        As in :func:`customer_table`.
    with_target
        Whether ``market_file.csv`` has the target column «Покупательская активность» (``False``: an export
        to be scored).
    zero_revenue_customers
        Number of customers with 0.0 revenue in one or both of the two earlier months.
    extreme_revenue_customers
        Number of customers whose current-month revenue is 18–22 times what it would have been.
    scale
        As in :func:`customer_table`: columns multiplied by a factor (a drifted export).

    Returns
    -------
    dict[str, pandas.DataFrame]
        Keyed by file name (:data:`analysis.data.dictionary.EXPORT_FILES`); Russian columns and labels with
        the export typos, long files with the periods of each customer in a random order; the dtypes
        ``pandas.read_csv`` gives the written files (``int64``, ``float64``, ``str``).
    """
    return _frames(_prepare(n_customers, seed, with_target, zero_revenue_customers, extreme_revenue_customers,
                            scale))


# --- text ------------------------------------------------------------------------------------------
# The text is assembled as a byte matrix, one row per CSV line and a fixed slot per field, padded with
# NUL bytes that are dropped at the end (UTF-8 text never contains NUL). This is ~10x faster than
# formatting strings element by element.
_CHUNK_ROWS = 250_000


def _pad_table(strings: list[str]) -> np.ndarray:
    """Each string's UTF-8 bytes in a row of a ``(len(strings), width)`` uint8 table, NUL-padded."""
    encoded = [s.encode("utf-8") for s in strings]
    width = max(1, max(len(b) for b in encoded))
    table = np.zeros((len(encoded), width), dtype=np.uint8)
    for i, b in enumerate(encoded):
        table[i, : len(b)] = np.frombuffer(b, dtype=np.uint8)
    return table


def _digit_bytes(values: np.ndarray) -> np.ndarray:
    """Decimal digits of non-negative integers, right-aligned in a NUL-padded uint8 matrix."""
    values = values.astype(np.int64, copy=False)
    if len(values) and values.min() < 0:
        raise ValueError("negative values are not written")
    width = len(str(int(values.max()))) if len(values) else 1
    out = np.empty((len(values), width), dtype=np.uint8)
    rest = values.copy()
    for k in range(width - 1, -1, -1):
        out[:, k] = 48 + rest % 10
        rest //= 10
    for k in range(width - 1):  # blank the leading zeros
        out[values < 10 ** (width - 1 - k), k] = 0
    return out


def _fraction_strings(decimals: int, point: str, drop_zero: bool) -> list[str]:
    """Written fraction of each scaled remainder, like Python's float repr (``.0``, ``.5``, ``.75``)."""
    out = []
    for r in range(10**decimals):
        digits = f"{r:0{decimals}d}".rstrip("0")
        out.append("" if (drop_zero and not digits) else point + (digits or "0"))
    return out


def _field_bytes(col: _Column, point: str) -> list[np.ndarray]:
    kind = col[0]
    if kind == "int":
        return [_digit_bytes(col[1])]
    if kind == "label":
        return [_pad_table(list(col[2]))[col[1]]]
    scaled, decimals = col[1], col[2]
    whole, rest = np.divmod(scaled, 10**decimals)
    # money.csv writes whole profits without a fraction («5»); the other files keep «.0»
    fraction = _pad_table(_fraction_strings(decimals, point, drop_zero=point == ","))
    return [_digit_bytes(whole), fraction[rest]]


def _csv_bytes(cols: list[tuple[str, _Column]], sep: str, point: str):
    """Yield the CSV file (header, then chunks of lines) as bytes with CRLF line ends."""
    yield (sep.join(name for name, _ in cols) + "\r\n").encode("utf-8")
    n = len(cols[0][1][1])
    sep_b = np.frombuffer(sep.encode(), dtype=np.uint8)
    eol_b = np.frombuffer(b"\r\n", dtype=np.uint8)
    for start in range(0, n, _CHUNK_ROWS):
        chunk = slice(start, min(start + _CHUNK_ROWS, n))
        pieces: list[np.ndarray] = []
        for i, (_, col) in enumerate(cols):
            if i:
                pieces.append(np.broadcast_to(sep_b, (chunk.stop - chunk.start, 1)))
            pieces.extend(_field_bytes((col[0], col[1][chunk], *col[2:]), point))
        pieces.append(np.broadcast_to(eol_b, (chunk.stop - chunk.start, 2)))
        matrix = np.concatenate(pieces, axis=1).ravel()
        yield matrix[matrix != 0].tobytes()


def write_exports(
    directory: str | Path,
    n_customers: int,
    seed: int,
    with_target: bool = True,
    zero_revenue_customers: int = 0,
    extreme_revenue_customers: int = 0,
    scale: dict[str, float] | None = None,
) -> dict[str, Path]:
    """Write the four exports of :func:`generate_exports` in the store's exact format.

    UTF-8 without BOM, CRLF line ends; ``,`` and ``.`` in ``market_file.csv``, ``market_money.csv``,
    ``market_time.csv``; ``;`` and decimal comma in ``money.csv``. Numbers are written as in the real
    exports: integers plain, decimals like Python's float repr (``3.4``, ``0.0``, ``4472.0``), profits with
    a comma and no trailing zeros (``4,16``, ``1,4``, ``5``). ``directory`` is created if missing. ``scale``:
    as in :func:`customer_table`.

    Returns
    -------
    dict[str, pathlib.Path]
        The written file of each export, keyed by file name.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rendered = _prepare(n_customers, seed, with_target, zero_revenue_customers, extreme_revenue_customers, scale)
    paths = {}
    for file, cols in rendered.items():
        sep, point = (";", ",") if file == MONEY else (",", ".")
        path = directory / file
        with open(path, "wb") as fh:
            fh.writelines(_csv_bytes(cols, sep, point))
        paths[file] = path
    return paths


# ---------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.data.synthetic",
        description="Write synthetic «В один клик» exports with a known logit data-generating process.",
    )
    parser.add_argument("--customers", type=int, default=10_000, help="number of customers (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the four CSV files into")
    parser.add_argument("--no-target", action="store_true", help="omit «Покупательская активность»")
    parser.add_argument("--zero-revenue", type=int, default=0, metavar="K",
                        help="customers with 0.0 revenue in earlier months")
    parser.add_argument("--extreme-revenue", type=int, default=0, metavar="K",
                        help="customers with ~20x current-month revenue")
    parser.add_argument("--scale", action="append", default=[], metavar="COLUMN=FACTOR",
                        help="multiply a numeric column by FACTOR after the target is drawn (a drifted export, "
                             "e.g. marketing_6m=0.5); repeatable")
    args = parser.parse_args(argv)
    scale = {}
    for item in args.scale:
        column, _, factor = item.partition("=")
        try:
            scale[column.strip()] = float(factor)
        except ValueError:
            parser.error(f"--scale {item!r}: expected COLUMN=FACTOR, e.g. marketing_6m=0.5")
    start = time.perf_counter()
    try:
        paths = write_exports(
            args.out,
            args.customers,
            args.seed,
            with_target=not args.no_target,
            zero_revenue_customers=args.zero_revenue,
            extreme_revenue_customers=args.extreme_revenue,
            scale=scale,
        )
    except ValueError as exc:
        parser.error(str(exc))
    elapsed = time.perf_counter() - start
    for path in paths.values():
        print(path)
    print(f"{args.customers} customers, seed {args.seed}, written in {elapsed:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
