"""Validate the four exports against a declarative schema and return them typed and normalised.

The schema is the table :data:`RULES` below: one line per column of each export, with its kind, range and
allowed values. Structural rules (unique ids, exactly the expected periods per customer, the same customers in
all four files) are the functions named ``check_*``. Every violation is collected with its file, line, column
and value, and all of them (up to :data:`MAX_REPORTED`) are raised together as one :class:`ExportError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.dictionary import (
    CATEGORY_LABELS,
    ID_RU,
    KNOWN_TYPOS,
    MARKET_FILE,
    MARKET_MONEY,
    MARKET_TIME,
    MINUTES_RU,
    MONEY,
    PERIOD_RU,
    PROFIT_RU,
    REVENUE_PERIODS,
    REVENUE_RU,
    TARGET_LABELS,
    TARGET_RU,
    TIME_PERIODS,
)
from analysis.load import ExportError, RawExport, Violation, line_of

MAX_REPORTED = 50


@dataclass(frozen=True)
class ColumnRule:
    """What one column of one export must hold.

    kind: ``id`` (integer customer number), ``number`` (finite number within [minimum, maximum]),
    ``category`` (one of ``allowed`` after the known typos are corrected).
    """

    file: str
    column: str
    kind: str
    minimum: float | None = None
    maximum: float | None = None
    allowed: tuple[str, ...] = ()
    required: bool = True


def _cats(name: str) -> tuple[str, ...]:
    return tuple(CATEGORY_LABELS[name])


RULES: tuple[ColumnRule, ...] = (
    ColumnRule(MARKET_FILE, ID_RU, "id"),
    ColumnRule(MARKET_FILE, TARGET_RU, "category", allowed=tuple(TARGET_LABELS), required=False),
    ColumnRule(MARKET_FILE, "Тип сервиса", "category", allowed=_cats("service_type")),
    ColumnRule(MARKET_FILE, "Разрешить сообщать", "category", allowed=_cats("contact_allowed")),
    ColumnRule(MARKET_FILE, "Маркет_актив_6_мес", "number", minimum=0),
    ColumnRule(MARKET_FILE, "Маркет_актив_тек_мес", "number", minimum=0),
    ColumnRule(MARKET_FILE, "Длительность", "number", minimum=0),
    ColumnRule(MARKET_FILE, "Акционные_покупки", "number", minimum=0, maximum=1),
    ColumnRule(MARKET_FILE, "Популярная_категория", "category", allowed=_cats("popular_category")),
    ColumnRule(MARKET_FILE, "Средний_просмотр_категорий_за_визит", "number", minimum=0),
    ColumnRule(MARKET_FILE, "Неоплаченные_продукты_штук_квартал", "number", minimum=0),
    ColumnRule(MARKET_FILE, "Ошибка_сервиса", "number", minimum=0),
    ColumnRule(MARKET_FILE, "Страниц_за_визит", "number", minimum=0),
    ColumnRule(MARKET_MONEY, ID_RU, "id"),
    ColumnRule(MARKET_MONEY, PERIOD_RU, "category", allowed=tuple(REVENUE_PERIODS)),
    ColumnRule(MARKET_MONEY, REVENUE_RU, "number", minimum=0),
    ColumnRule(MARKET_TIME, ID_RU, "id"),
    ColumnRule(MARKET_TIME, PERIOD_RU, "category", allowed=tuple(TIME_PERIODS)),
    ColumnRule(MARKET_TIME, MINUTES_RU, "number", minimum=0),
    ColumnRule(MONEY, ID_RU, "id"),
    ColumnRule(MONEY, PROFIT_RU, "number"),
)

# The key that makes a row unique in each file.
ROW_KEYS = {MARKET_FILE: [ID_RU], MARKET_MONEY: [ID_RU, PERIOD_RU], MARKET_TIME: [ID_RU, PERIOD_RU], MONEY: [ID_RU]}
PERIODS = {MARKET_MONEY: tuple(REVENUE_PERIODS), MARKET_TIME: tuple(TIME_PERIODS)}


@dataclass
class ValidatedExports:
    """The four exports after validation: typed, typos corrected, exact duplicate rows dropped.

    ``frames`` keep the exports' own column names. ``raw_rows`` and ``duplicates_dropped`` count rows per file;
    ``typos`` lists each typo correction applied (``file, column, typo, correction, rows``).
    """

    frames: dict[str, pd.DataFrame]
    has_target: bool
    raw_rows: dict[str, int]
    duplicates_dropped: dict[str, int]
    typos: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


class _Collector:
    """Collects violations; keeps the first MAX_REPORTED and counts the rest."""

    def __init__(self) -> None:
        self.kept: list[Violation] = []
        self.total = 0

    def add(self, violation: Violation) -> None:
        self.total += 1
        if len(self.kept) < MAX_REPORTED:
            self.kept.append(violation)

    def add_rows(self, file: str, column: str | None, rows: pd.Series, message: str) -> None:
        """Add one violation per offending row; ``rows`` is the offending values indexed by frame index."""
        room = max(0, MAX_REPORTED - len(self.kept))
        for index, value in rows.head(room).items():
            self.add(Violation(file, line_of(index), column, _show(value), message))
        self.total += len(rows) - min(room, len(rows))

    def raise_if_any(self) -> None:
        if self.total:
            raise ExportError(self.kept, self.total)


def _show(value) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return value


def normalise_typos(frame: pd.DataFrame, file: str) -> tuple[pd.DataFrame, list[dict]]:
    """Replace the known typos of one export (from :data:`analysis.dictionary.KNOWN_TYPOS`) and report each."""
    applied = []
    frame = frame.copy()
    for (typo_file, column), mapping in KNOWN_TYPOS.items():
        if typo_file != file or column not in frame.columns:
            continue
        for typo, correction in mapping.items():
            hits = frame[column] == typo
            n = int(hits.sum())
            if n:
                frame.loc[hits, column] = correction
                applied.append({"file": file, "column": column, "typo": typo, "correction": correction, "rows": n})
    return frame, applied


def check_columns(export: RawExport, require_target: bool, errors: _Collector) -> list[str]:
    """Required columns present; extra columns are returned as warnings (and later ignored)."""
    rules = [r for r in RULES if r.file == export.name]
    expected = {r.column for r in rules}
    for rule in rules:
        needed = rule.required or (rule.column == TARGET_RU and require_target)
        if needed and rule.column not in export.frame.columns:
            errors.add(Violation(export.name, 1, rule.column, None,
                                 f"required column is missing (header has: {', '.join(export.frame.columns)})"))
    return [f"{export.name}: extra column '{c}' ignored" for c in export.frame.columns if c not in expected]


def check_values(frame: pd.DataFrame, file: str, decimal: str, errors: _Collector,
                 open_categories: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Apply the column rules of one export; returns the frame with typed columns. A category column named
    in ``open_categories`` accepts values outside its allowed list (scoring reports such customers)."""
    frame = frame.copy()
    for rule in (r for r in RULES if r.file == file and r.column in frame.columns):
        column = frame[rule.column]
        missing = column.isna()
        if missing.any():
            errors.add_rows(file, rule.column, column[missing], "missing value")
        if rule.kind == "category":
            bad = ~missing & ~column.isin(rule.allowed)
            if bad.any() and rule.column not in open_categories:
                errors.add_rows(file, rule.column, column[bad],
                                f"unknown value; allowed: {', '.join(rule.allowed)}")
            # Categorical codes make the duplicate and period checks on millions of rows several times faster.
            frame[rule.column] = column.astype("category")
            continue
        numbers = _to_number(column, decimal)
        bad = ~missing & numbers.isna()
        if bad.any():
            errors.add_rows(file, rule.column, column[bad], "not a number")
        if rule.kind == "id":
            not_int = numbers.notna() & (numbers != np.round(numbers))
            if not_int.any():
                errors.add_rows(file, rule.column, column[not_int], "customer id is not an integer")
        infinite = np.isinf(numbers)
        if infinite.any():
            errors.add_rows(file, rule.column, column[infinite], "not a finite number")
        if rule.minimum is not None:
            low = numbers < rule.minimum
            if low.any():
                errors.add_rows(file, rule.column, column[low], f"below the allowed minimum {rule.minimum:g}")
        if rule.maximum is not None:
            high = numbers > rule.maximum
            if high.any():
                errors.add_rows(file, rule.column, column[high], f"above the allowed maximum {rule.maximum:g}")
        frame[rule.column] = numbers
        if rule.kind == "id" and numbers.notna().all() and (numbers == np.round(numbers)).all():
            frame[rule.column] = numbers.astype("int64")
    return frame


def _to_number(column: pd.Series, decimal: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.astype("float64")
    text = column.astype("str").str.strip()
    if decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce").astype("float64")


def drop_exact_duplicates(frame: pd.DataFrame, file: str, errors: _Collector) -> tuple[pd.DataFrame, int]:
    """Drop rows identical to an earlier row; a repeated key with different values is a violation."""
    key = ROW_KEYS[file]
    exact = frame.duplicated(keep="first")
    deduped = frame[~exact]
    conflicting = deduped.duplicated(subset=key, keep=False)
    if conflicting.any():
        rows = deduped[conflicting]
        first_line = rows.groupby(key, sort=False).head(1)
        for index in rows.index.difference(first_line.index):
            values = {k: rows.at[index, k] for k in key}
            key_text = ", ".join(f"{k}={v}" for k, v in values.items())
            match = first_line
            for k, v in values.items():
                match = match[match[k] == v]
            errors.add(Violation(file, line_of(index), ID_RU, _show(values[ID_RU]),
                                 f"conflicting duplicate of line {line_of(match.index[0])} ({key_text})"))
    return deduped, int(exact.sum())


def check_periods(frame: pd.DataFrame, file: str, errors: _Collector) -> None:
    """Every customer has exactly one row for each expected period."""
    expected = PERIODS[file]
    valid = frame[frame[PERIOD_RU].isin(expected)].drop_duplicates(subset=[ID_RU, PERIOD_RU])
    counts = valid.groupby(ID_RU, sort=False)[PERIOD_RU].nunique()
    ids_all = frame[ID_RU].drop_duplicates()
    counts = counts.reindex(ids_all.values, fill_value=0)
    short = counts[counts < len(expected)]
    if len(short):
        first_rows = frame.reset_index().drop_duplicates(subset=[ID_RU]).set_index(ID_RU)["index"]
        for customer in short.index[:MAX_REPORTED]:
            have = set(valid.loc[valid[ID_RU] == customer, PERIOD_RU])
            missing = [p for p in expected if p not in have]
            errors.add(Violation(file, line_of(first_rows[customer]), PERIOD_RU, _show(customer),
                                 f"customer has no row for period(s) {', '.join(missing)}"))
        errors.total += max(0, len(short) - MAX_REPORTED)


def check_same_customers(frames: dict[str, pd.DataFrame], errors: _Collector) -> None:
    """The same set of customer ids in all four files (market_file is the reference)."""
    reference = set(frames[MARKET_FILE][ID_RU].dropna())
    for file, frame in frames.items():
        ids = frame[ID_RU].dropna()
        extra = ids[~ids.isin(reference)].drop_duplicates()
        if len(extra):
            errors.add_rows(file, ID_RU, extra, f"customer is not in {MARKET_FILE}")
        if file == MARKET_FILE:
            continue
        present = set(ids)
        absent = sorted(reference - present)
        ref_frame = frames[MARKET_FILE]
        for customer in absent[:MAX_REPORTED]:
            index = ref_frame.index[ref_frame[ID_RU] == customer][0]
            errors.add(Violation(MARKET_FILE, line_of(index), ID_RU, int(customer), f"customer is missing from {file}"))
        errors.total += max(0, len(absent) - MAX_REPORTED)


def validate_exports(exports: dict[str, RawExport], require_target: bool = True,
                     open_categories: frozenset[str] = frozenset()) -> ValidatedExports:
    """Check the four raw exports against :data:`RULES` and the structural rules.

    Parameters
    ----------
    exports
        The four files as returned by :func:`analysis.load.read_exports`.
    require_target
        If False (an export to be scored), market_file.csv may lack the target column.
    open_categories
        Category columns (export names) whose unknown values are let through instead of refused.

    Raises
    ------
    ExportError
        With every violation found (up to :data:`MAX_REPORTED`, plus the total count).
    """
    errors = _Collector()
    warnings: list[str] = []
    typo_rows: list[dict] = []
    frames: dict[str, pd.DataFrame] = {}
    duplicates: dict[str, int] = {}
    for name, export in exports.items():
        warnings += check_columns(export, require_target, errors)
    errors.raise_if_any()
    for name, export in exports.items():
        known = [r.column for r in RULES if r.file == name and r.column in export.frame.columns]
        frame, applied = normalise_typos(export.frame[known], name)
        typo_rows += applied
        frames[name] = check_values(frame, name, export.decimal, errors, open_categories)
    errors.raise_if_any()
    for name in exports:
        frames[name], duplicates[name] = drop_exact_duplicates(frames[name], name, errors)
        if name in PERIODS:
            check_periods(frames[name], name, errors)
    check_same_customers(frames, errors)
    errors.raise_if_any()
    typos = pd.DataFrame(typo_rows, columns=["file", "column", "typo", "correction", "rows"])
    return ValidatedExports(
        frames=frames,
        has_target=TARGET_RU in frames[MARKET_FILE].columns,
        raw_rows={name: len(export.frame) for name, export in exports.items()},
        duplicates_dropped=duplicates,
        typos=typos,
        warnings=warnings,
    )
