"""Validate the four exports against a declarative schema and return them typed and normalised.

The schema is the table :data:`RULES` below: one line per column of each export, with its kind, range and
allowed values. Customer ids are checked on their text and converted to exact int64 without passing through a
float (:func:`parse_ids`); every numeric column has plausibility bounds from the data dictionary, checked
before any cast. An unknown category value that differs invisibly from an allowed one (a Latin look-alike, a
no-break or zero-width space, NFD form) is reported with a hint saying what differs. Structural rules (unique ids, exactly the expected periods per customer, the same customers in
all four files) are the functions named ``check_*``. Every violation is collected with its file, line, column
and value, and all of them (up to :data:`MAX_REPORTED`) are raised together as one :class:`ExportError`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.data.dictionary import (
    BOUND_OF,
    CATEGORY_LABELS,
    ID_MAX_DIGITS,
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
from analysis.data.load import ExportError, RawExport, Violation, empty_rows, line_of, show_value

MAX_REPORTED = 50


@dataclass(frozen=True)
class ColumnRule:
    """What one column of one export must hold.

    kind: ``id`` (customer number: see :data:`analysis.data.dictionary.ID_RULE`), ``number`` (finite number within
    [minimum, maximum], the plausibility bounds of :data:`analysis.data.dictionary.BOUNDS`),
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


def _number(file: str, column: str) -> ColumnRule:
    """A numeric column, bounded by its plausibility bounds (:data:`analysis.data.dictionary.BOUNDS`)."""
    bound = BOUND_OF[(file, column)]
    return ColumnRule(file, column, "number", minimum=bound.minimum, maximum=bound.maximum)


RULES: tuple[ColumnRule, ...] = (
    ColumnRule(MARKET_FILE, ID_RU, "id"),
    ColumnRule(MARKET_FILE, TARGET_RU, "category", allowed=tuple(TARGET_LABELS), required=False),
    ColumnRule(MARKET_FILE, "Тип сервиса", "category", allowed=_cats("service_type")),
    ColumnRule(MARKET_FILE, "Разрешить сообщать", "category", allowed=_cats("contact_allowed")),
    _number(MARKET_FILE, "Маркет_актив_6_мес"),
    _number(MARKET_FILE, "Маркет_актив_тек_мес"),
    _number(MARKET_FILE, "Длительность"),
    _number(MARKET_FILE, "Акционные_покупки"),
    ColumnRule(MARKET_FILE, "Популярная_категория", "category", allowed=_cats("popular_category")),
    _number(MARKET_FILE, "Средний_просмотр_категорий_за_визит"),
    _number(MARKET_FILE, "Неоплаченные_продукты_штук_квартал"),
    _number(MARKET_FILE, "Ошибка_сервиса"),
    _number(MARKET_FILE, "Страниц_за_визит"),
    ColumnRule(MARKET_MONEY, ID_RU, "id"),
    ColumnRule(MARKET_MONEY, PERIOD_RU, "category", allowed=tuple(REVENUE_PERIODS)),
    _number(MARKET_MONEY, REVENUE_RU),
    ColumnRule(MARKET_TIME, ID_RU, "id"),
    ColumnRule(MARKET_TIME, PERIOD_RU, "category", allowed=tuple(TIME_PERIODS)),
    _number(MARKET_TIME, MINUTES_RU),
    ColumnRule(MONEY, ID_RU, "id"),
    _number(MONEY, PROFIT_RU),
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
    """Collects violations; keeps the first MAX_REPORTED and counts the rest.

    Line numbers come from each export (:meth:`analysis.data.load.RawExport.line`), so that a quoted value spanning
    several lines does not shift them.
    """

    def __init__(self, exports: dict[str, RawExport] | None = None) -> None:
        self.kept: list[Violation] = []
        self.total = 0
        self._lines = {name: export.line for name, export in (exports or {}).items()}

    def line(self, file: str, index) -> int:
        return self._lines[file](index) if file in self._lines else line_of(index)

    def add(self, violation: Violation) -> None:
        self.total += 1
        if len(self.kept) < MAX_REPORTED:
            self.kept.append(violation)

    def add_rows(self, file: str, column: str | None, rows: pd.Series, message, with_value: bool = True) -> None:
        """Add one violation per offending row; ``rows`` is the offending values indexed by frame index.

        ``message`` is a string, or a function of the value that returns one (for hints about that value).
        Only the rows that are kept are looked at one by one; the others are only counted.
        """
        room = max(0, MAX_REPORTED - len(self.kept))
        for index, value in rows.head(room).items():
            text = message(value) if callable(message) else message
            self.add(Violation(file, self.line(file, index), column, _show(value) if with_value else None, text))
        self.total += len(rows) - min(room, len(rows))

    def raise_if_any(self) -> None:
        if self.total:
            raise ExportError(self.kept, self.total)


def _show(value) -> object:
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return ""
    return value


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(float(number))


# --- invisible differences ----------------------------------------------------------------------------------

_NAMED_CHARACTERS = {
    "\u00a0": "a no-break space",
    "\u202f": "a narrow no-break space",
    "\u2007": "a figure space",
    "\u2009": "a thin space",
    "\u200b": "a zero-width space",
    "\u200c": "a zero-width non-joiner",
    "\u200d": "a zero-width joiner",
    "\u2060": "a word joiner",
    "\ufeff": "a zero-width no-break space (byte-order mark)",
    "\u00ad": "a soft hyphen",
    "\t": "a tab",
    "\n": "a line break",
    "\r": "a carriage return",
}
_SPACES = {"\u00a0", "\u202f", "\u2007", "\u2009", "\t"}
# Latin letters drawn like Cyrillic ones: in a Cyrillic value they are almost always a keyboard-layout slip.
_LATIN_TO_CYRILLIC = str.maketrans("aceopxyABCEHKMOPTXY", "асеорхуАВСЕНКМОРТХУ")


def _has_cyrillic(text: str) -> bool:
    return any("CYRILLIC" in unicodedata.name(ch, "") for ch in text)


def invisible_differences(value: str) -> list[str]:
    """What in ``value`` a reader cannot see: NFD form, no-break or zero-width spaces, control characters,
    Latin look-alike letters in a Cyrillic value, surrounding spaces. Each as a short phrase."""
    notes = []
    if unicodedata.normalize("NFC", value) != value:
        notes.append("is in decomposed Unicode form (NFD; save it as NFC)")
    cyrillic = _has_cyrillic(value)
    for ch in dict.fromkeys(value):
        code = f"U+{ord(ch):04X}"
        if ch in _NAMED_CHARACTERS:
            notes.append(f"contains {_NAMED_CHARACTERS[ch]} ({code})")
        elif unicodedata.category(ch) in ("Cc", "Cf"):
            notes.append(f"contains an invisible character ({code})")
        elif cyrillic and ch.isascii() and ch.isalpha():
            notes.append(f"contains a Latin '{ch}' ({code})")
    if value != value.strip():
        notes.append("has leading or trailing spaces")
    return notes


def canonical(value: str) -> str:
    """``value`` with the invisible differences of :func:`invisible_differences` removed (to find what was meant)."""
    text = unicodedata.normalize("NFC", value)
    text = "".join(" " if ch in _SPACES else ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf"))
    if _has_cyrillic(text):
        text = text.translate(_LATIN_TO_CYRILLIC)
    return " ".join(text.split())


def _unknown_value(allowed: tuple[str, ...]):
    """The message for a value outside ``allowed``, with a hint when it differs invisibly from one of them."""
    meant = {canonical(a): a for a in allowed}
    base = f"unknown value; allowed: {', '.join(allowed)}"

    def message(value) -> str:
        text = str(value)
        notes = invisible_differences(text)
        if not notes:
            return base
        if canonical(text) in meant:
            return f"unknown value: looks like '{meant[canonical(text)]}' but {', '.join(notes)}"
        return f"{base}; the value {', '.join(notes)}"

    return message


def _with_notes(message: str):
    def with_notes(value) -> str:
        notes = invisible_differences(str(value))
        return message + (f" (the value {', '.join(notes)})" if notes else "")

    return with_notes


# --- customer ids ---------------------------------------------------------------------------------------------

_STRING = np.dtypes.StringDType()


def parse_ids(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Customer ids from their text, exactly: (ids as int64, mask of malformed ids).

    Well formed (:data:`analysis.data.dictionary.ID_RULE`): 1 to 18 ASCII digits, no leading zero. No float is
    involved: the digits are converted to int64 directly, and every id is checked to print back as its text.
    Missing values are not flagged here (they are reported as missing); malformed ones are 0 in the ids.
    """
    present = text.notna().to_numpy()
    strings = text.to_numpy(dtype=object, na_value="")
    words = np.asarray(strings, dtype=_STRING)
    length = np.strings.str_len(words)
    ok = np.strings.isdigit(words) & (length >= 1) & (length <= ID_MAX_DIGITS) & ~np.strings.startswith(words, "0")
    # isdigit() also takes non-ASCII digits ("٣", "³"); one join tells whether the column is plain ASCII.
    if not "".join(strings).isascii():
        ok &= np.array([w.isascii() for w in strings], dtype=bool)
    ints = (words if ok.all() else np.where(ok, words, "0")).astype(np.int64)
    return pd.Series(ints, index=text.index), pd.Series(~ok & present, index=text.index)


def id_problem(value) -> str:
    """Why one id text is malformed (for the error message)."""
    text = str(value)
    if re.fullmatch(r"-[0-9]+|0+", text):
        return "customer id must be a positive whole number"
    if re.fullmatch(r"0[0-9]+", text):
        return ("customer id has a leading zero; ids are written without leading zeros (remove them in all four "
                "files: ids are compared as numbers)")
    if re.fullmatch(r"[0-9]+", text):
        return f"customer id has {len(text)} digits; at most {ID_MAX_DIGITS} are allowed"
    return _with_notes("customer id is not a whole number written with the digits 0-9 only")(text)


# --- the checks -------------------------------------------------------------------------------------------------

def normalise_typos(frame: pd.DataFrame, file: str) -> tuple[pd.DataFrame, list[dict]]:
    """Replace the known typos of one export (from :data:`analysis.data.dictionary.KNOWN_TYPOS`) and report each."""
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
    header = [str(c) for c in export.frame.columns]
    for rule in rules:
        needed = rule.required or (rule.column == TARGET_RU and require_target)
        if needed and rule.column not in header:
            near = [c for c in header if canonical(c) == canonical(rule.column)]
            if near:
                message = (f"required column is missing; the header has '{show_value(near[0])}', which "
                           + ", ".join(invisible_differences(near[0])))
            else:
                listed = ", ".join(show_value(c) for c in header)
                message = f"required column is missing (header has: {show_value(listed)})"
            errors.add(Violation(export.name, 1, rule.column, None, message))
    return [f"{export.name}: extra column '{show_value(c)}' ignored" for c in header if c and c not in expected]


def check_values(frame: pd.DataFrame, file: str, decimal: str, errors: _Collector,
                 open_categories: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Apply the column rules of one export; returns the frame with typed columns (ids as exact int64). A
    category column named in ``open_categories`` accepts values outside its allowed list (scoring reports such
    customers as not scored)."""
    frame = frame.copy()
    empty = pd.Series(empty_rows(frame), index=frame.index)
    if empty.any():
        errors.add_rows(file, None, pd.Series(0, index=frame.index[empty]), "empty line", with_value=False)
    for rule in (r for r in RULES if r.file == file and r.column in frame.columns):
        column = frame[rule.column]
        missing = column.isna()
        if (missing & ~empty).any():
            errors.add_rows(file, rule.column, column[missing & ~empty], "missing value")
        if rule.kind == "category":
            bad = ~missing & ~column.isin(rule.allowed)
            if bad.any() and rule.column not in open_categories:
                errors.add_rows(file, rule.column, column[bad], _unknown_value(rule.allowed))
            # Categorical codes make the duplicate and period checks on millions of rows several times faster.
            frame[rule.column] = column.astype("category")
            continue
        if rule.kind == "id":
            ids, bad = parse_ids(column)
            if bad.any():
                errors.add_rows(file, rule.column, column[bad], id_problem)
            frame[rule.column] = ids
            continue
        numbers = _to_number(column, decimal)
        bad = ~missing & numbers.isna()
        if bad.any():
            errors.add_rows(file, rule.column, column[bad], _with_notes("not a number"))
        infinite = np.isinf(numbers)
        if infinite.any():
            errors.add_rows(file, rule.column, column[infinite], "not a finite number")
        # Bounds are checked on the float values, before any cast, so no value can wrap around.
        low = ~infinite & (numbers < rule.minimum)
        if low.any():
            errors.add_rows(file, rule.column, column[low],
                            f"below the allowed minimum {_fmt(rule.minimum)} (plausibility bound, data/README.md)")
        high = ~infinite & (numbers > rule.maximum)
        if high.any():
            errors.add_rows(file, rule.column, column[high],
                            f"above the allowed maximum {_fmt(rule.maximum)} (plausibility bound, data/README.md)")
        frame[rule.column] = numbers
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
    conflicting = deduped.duplicated(subset=key, keep="first")
    n_conflicting = int(conflicting.sum())
    if n_conflicting:
        # The first row of each key, found once for all rows (not row by row).
        first = pd.Series(deduped.index, index=deduped.index).groupby(
            [deduped[k] for k in key], sort=False, observed=True).transform("first")
        room = max(0, MAX_REPORTED - len(errors.kept))
        for index in deduped.index[conflicting.to_numpy()][:room]:
            key_text = ", ".join(f"{k}={show_value(deduped.at[index, k])}" for k in key)
            errors.add(Violation(file, errors.line(file, index), ID_RU, _show(deduped.at[index, ID_RU]),
                                 f"conflicting duplicate of line {errors.line(file, first[index])} ({key_text})"))
        errors.total += max(0, n_conflicting - room)
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
        room = max(0, MAX_REPORTED - len(errors.kept))
        for customer in short.index[:room]:
            have = set(valid.loc[valid[ID_RU] == customer, PERIOD_RU])
            missing = [p for p in expected if p not in have]
            errors.add(Violation(file, errors.line(file, first_rows[customer]), PERIOD_RU, _show(customer),
                                 f"customer has no row for period(s) {', '.join(missing)}"))
        errors.total += max(0, len(short) - room)


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
        room = max(0, MAX_REPORTED - len(errors.kept))
        for customer in absent[:room]:
            index = ref_frame.index[ref_frame[ID_RU] == customer][0]
            errors.add(Violation(MARKET_FILE, errors.line(MARKET_FILE, index), ID_RU, int(customer),
                                 f"customer is missing from {file}"))
        errors.total += max(0, len(absent) - room)


def validate_exports(exports: dict[str, RawExport], require_target: bool = True,
                     open_categories: frozenset[str] = frozenset()) -> ValidatedExports:
    """Check the four raw exports against :data:`RULES` and the structural rules.

    Parameters
    ----------
    exports
        The four files as returned by :func:`analysis.data.load.read_exports`.
    require_target
        If False (an export to be scored), market_file.csv may lack the target column.
    open_categories
        Category columns (export names) whose unknown values are let through instead of refused.

    Raises
    ------
    ExportError
        With every violation found (up to :data:`MAX_REPORTED`, plus the total count).
    """
    errors = _Collector(exports)
    warnings: list[str] = []
    typo_rows: list[dict] = []
    frames: dict[str, pd.DataFrame] = {}
    duplicates: dict[str, int] = {}
    for name, export in exports.items():
        warnings += export.warnings
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
