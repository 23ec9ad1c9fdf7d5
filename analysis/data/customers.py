"""Build the one-row-per-customer table and apply the business rules, accounting for every row.

Row accounting: every step has ``rows_in, rows_out, removed`` with ``rows_out = rows_in - removed``; from the
join on, each step starts where the previous one ended. Every excluded customer is listed with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from analysis.data.dictionary import (
    CATEGORY_LABELS,
    DICTIONARY,
    ID_RU,
    MARKET_FILE,
    MARKET_MONEY,
    MARKET_TIME,
    MINUTES_RU,
    MONEY,
    PERIOD_RU,
    PROFIT_RU,
    REVENUE_PERIODS,
    REVENUE_RU,
    TARGET,
    TARGET_LABELS,
    TIME_PERIODS,
)
from analysis.data.validate import ValidatedExports

REVENUE_COLUMNS = list(REVENUE_PERIODS.values())
#: A customer's revenue in a month above this multiple of that month's median revenue over all customers is
#: taken as an export error (the real exports hold one such value, about 21 times the median), and the
#: customer is excluded rather than capped: the other months of an implausible record are not trusted either.
EXTREME_REVENUE_FACTOR = 10.0

ACCOUNTING_COLUMNS = ["step", "rows_in", "rows_out", "removed", "reason"]
EXCLUDED_COLUMNS = ["id", "step", "reason", "detail"]


@dataclass
class CustomerData:
    """The customer table before and after the business rules, with the accounting that links them."""

    customers: pd.DataFrame  # every validated customer
    model_table: pd.DataFrame  # the regular customers kept for modelling
    accounting: pd.DataFrame  # columns ACCOUNTING_COLUMNS
    excluded: pd.DataFrame  # columns EXCLUDED_COLUMNS
    reference: dict = field(default_factory=dict)  # the rules' reference values (see rule_reference)


def build_customer_table(validated: ValidatedExports) -> pd.DataFrame:
    """Join the four validated exports into one row per customer with English snake_case columns.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`analysis.data.dictionary.DICTIONARY` in its order (``activity_decline`` only when
        the export has the target), sorted by ``id``.
    """
    frames = validated.frames
    market = frames[MARKET_FILE]
    renames = {f.source_name: f.name for f in DICTIONARY if f.source_file == MARKET_FILE}
    table = market.rename(columns=renames)
    for column, mapping in CATEGORY_LABELS.items():
        # a value outside the dictionary reaches this point only when validation was told to let it through
        # (scoring: the customer is then reported as "not scored", naming the value); it is kept as written
        text = table[column].astype("str")
        table[column] = text.map(mapping).fillna(text) if column != "contact_allowed" else text.map(mapping)
    table["contact_allowed"] = table["contact_allowed"].astype("int64")
    if validated.has_target:
        table[TARGET] = table[TARGET].astype("str").map(TARGET_LABELS).astype("int64")
    table = table.set_index("id")
    revenue = _wide(frames[MARKET_MONEY], REVENUE_RU, REVENUE_PERIODS)
    minutes = _wide(frames[MARKET_TIME], MINUTES_RU, TIME_PERIODS)
    profit = frames[MONEY].set_index(ID_RU)[PROFIT_RU].rename("profit")
    table = table.join(revenue).join(minutes).join(profit)
    columns = [f.name for f in DICTIONARY if f.name in table.columns or f.name == "id"]
    table = table.reset_index()[columns].sort_values("id", kind="stable").reset_index(drop=True)
    for field in DICTIONARY:
        if field.kind == "count" and field.name in table and (table[field.name] % 1 == 0).all():
            table[field.name] = table[field.name].astype("int64")
    return table


def _wide(long: pd.DataFrame, value: str, periods: dict[str, str]) -> pd.DataFrame:
    wide = long.assign(**{PERIOD_RU: long[PERIOD_RU].astype("str")}).pivot(index=ID_RU, columns=PERIOD_RU,
                                                                           values=value)
    return wide[list(periods)].rename(columns=periods)


def apply_business_rules(
    customers: pd.DataFrame, extreme_factor: float = EXTREME_REVENUE_FACTOR,
    revenue_medians: dict[str, float] | None = None,
) -> tuple[pd.DataFrame, list[dict], pd.DataFrame]:
    """Keep regular customers with plausible revenue.

    Rules, in order:
    1. ``regular_customer`` — the brief defines a regular customer as one who bought something in each of the
       last three months: revenue > 0 in all three months.
    2. ``extreme_revenue`` — revenue in some month above ``extreme_factor`` × that month's median revenue:
       the median of the regular customers of this table, or ``revenue_medians`` when given (scoring uses
       the training medians, so that a customer's result does not depend on who else is in the file).

    Returns
    -------
    (model_table, accounting_rows, excluded)
        ``excluded`` has columns ``id, step, reason, detail``.
    """
    if not extreme_factor > 1:
        raise ValueError(f"extreme_factor must be > 1, got {extreme_factor!r}")
    steps, excluded = [], []
    table = customers

    zero = (table[REVENUE_COLUMNS] <= 0).any(axis=1)
    reason = "not a regular customer: no purchase (revenue 0) in at least one of the last three months"
    for _, row in table[zero].iterrows():
        months = [c for c in REVENUE_COLUMNS if row[c] <= 0]
        excluded.append({"id": int(row["id"]), "step": "regular_customer", "reason": reason,
                         "detail": "zero revenue in " + ", ".join(months)})
    steps.append(_step("regular_customer", len(table), int(zero.sum()), reason))
    table = table[~zero]

    medians = (table[REVENUE_COLUMNS].median() if revenue_medians is None
               else pd.Series({c: float(revenue_medians[c]) for c in REVENUE_COLUMNS}))
    ratio = table[REVENUE_COLUMNS] / medians
    extreme = (ratio > extreme_factor).any(axis=1)
    reason = f"implausible revenue: above {extreme_factor:g} × the month's median revenue"
    for index, row in table[extreme].iterrows():
        month = ratio.loc[index].idxmax()
        excluded.append({"id": int(row["id"]), "step": "extreme_revenue", "reason": reason,
                         "detail": f"{month} = {row[month]:.1f} ₽, {ratio.loc[index, month]:.1f} × median "
                                   f"{medians[month]:.1f} ₽"})
    steps.append(_step("extreme_revenue", len(table), int(extreme.sum()), reason))
    table = table[~extreme].reset_index(drop=True)
    return table, steps, pd.DataFrame(excluded, columns=EXCLUDED_COLUMNS)


def _step(step: str, rows_in: int, removed: int, reason: str) -> dict:
    return {"step": step, "rows_in": rows_in, "rows_out": rows_in - removed, "removed": removed, "reason": reason}


def rule_reference(customers: pd.DataFrame, extreme_factor: float = EXTREME_REVENUE_FACTOR) -> dict:
    """The reference values of the business rules in ``customers``: the extreme-revenue factor and the
    monthly median revenues of the regular customers (what :func:`apply_business_rules` compares with)."""
    regular = customers[(customers[REVENUE_COLUMNS] > 0).all(axis=1)]
    return {"extreme_revenue_factor": float(extreme_factor),
            "revenue_medians": {c: float(regular[c].median()) for c in REVENUE_COLUMNS}}


def customer_data(validated: ValidatedExports, extreme_factor: float = EXTREME_REVENUE_FACTOR,
                  revenue_medians: dict[str, float] | None = None) -> CustomerData:
    """The customer table, the modelling table and the full row accounting from the raw files on.

    ``revenue_medians``: reference medians of the extreme-revenue rule (default: this table's own); the
    values used are returned in ``reference``."""
    steps = [
        _step(f"read {name}", validated.raw_rows[name], validated.duplicates_dropped[name],
              "exact duplicate rows dropped (file rows)")
        for name in validated.frames
    ]
    customers = build_customer_table(validated)
    steps.append(_step("join the four files", len(validated.frames[MARKET_FILE]),
                       len(validated.frames[MARKET_FILE]) - len(customers),
                       "one row per customer; the same customers in all four files (validated)"))
    model_table, rule_steps, excluded = apply_business_rules(customers, extreme_factor, revenue_medians)
    accounting = pd.DataFrame(steps + rule_steps, columns=ACCOUNTING_COLUMNS)
    reference = (rule_reference(customers, extreme_factor) if revenue_medians is None else
                 {"extreme_revenue_factor": float(extreme_factor),
                  "revenue_medians": {c: float(revenue_medians[c]) for c in REVENUE_COLUMNS}})
    return CustomerData(customers=customers, model_table=model_table, accounting=accounting, excluded=excluded,
                        reference=reference)
