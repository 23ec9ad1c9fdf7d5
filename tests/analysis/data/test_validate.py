"""Completeness per file (issue 22, item 6): every validation rule is exercised on each of the four files it applies
to, so that no file's check can be skipped silently.

One small valid export in the store's exact format is written by :mod:`analysis.data.synthetic` (CRLF, ``;`` and
decimal comma in money.csv, the known typos). Every case injects exactly one violation of one rule into one file
and runs ``python -m analysis validate``: the exit status is 2, stderr holds only one-line ``error:`` messages (no
traceback), and they are exactly the expected lines, naming the file, line, column and value. The applicability of
each rule (which files it must run on) is written out by hand in :data:`APPLIES` and a test checks that the cases
cover exactly those files: a rule dropped from ``RULES``, or a check that skips one file, fails a named case.

Numbers beyond the plausibility bounds are also in ``tests/test_hostile.py`` (just beyond each bound); here they
are one more row of the per-file table.
"""

from __future__ import annotations

import copy
from pathlib import Path
import pytest
from analysis.data.dataset import load_dataset
from analysis.data.dictionary import EXPORT_FILES, ID_RU, KNOWN_TYPOS, MARKET_MONEY, MARKET_TIME, MONEY, PERIOD_RU
from analysis.data.synthetic import FIRST_ID, write_exports
from analysis.data.validate import PERIODS
import re
from analysis.data.dictionary import MARKET_FILE
from analysis.paths import ROOT
from analysis.data.validate import (
    RULES,
    ColumnRule,
    _cats,
    _number,
    _unknown_value,
    _with_notes,
    id_problem,
    invisible_differences,
)
from tests.conftest import run_cli, tiny_export_lines, write_lines


N_CUSTOMERS = 6


SEED = 5


CUSTOMER = FIRST_ID + 2  # the customer whose rows are damaged (neither the first nor the last)


NEW_CUSTOMER = FIRST_ID + N_CUSTOMERS  # an id that is in no file


ALL = frozenset(EXPORT_FILES)


# Which files each check must run on, written out from the data dictionary (not derived from the code under test).
APPLIES: dict[str, frozenset[str]] = {
    # one per column rule
    "missing_column": ALL,
    "missing_value": ALL,
    "malformed_id": ALL,
    "unknown_category": frozenset({MARKET_FILE, MARKET_MONEY, MARKET_TIME}),  # money.csv has no category column
    "not_a_number": ALL,
    "not_finite": ALL,
    "below_minimum": ALL,
    "above_maximum": ALL,
    # one per file
    "empty_line": ALL,
    "conflicting_duplicate": ALL,
    "exact_duplicate": ALL,
    "missing_period": frozenset({MARKET_MONEY, MARKET_TIME}),  # the two long files
    "unknown_customer": ALL - {MARKET_FILE},  # market_file.csv is the reference list of customers
    "customer_missing": ALL,
}


@pytest.fixture(scope="module")
def valid_lines(tmp_path_factory) -> dict[str, list[str]]:
    """The lines (without line ends) of each file of the valid export, header first."""
    directory = tmp_path_factory.mktemp("valid")
    write_exports(directory, n_customers=N_CUSTOMERS, seed=SEED)
    lines = {}
    for name in EXPORT_FILES:
        text = (directory / name).read_bytes().decode("utf-8")
        assert text.endswith("\r\n") and "\r\n\r\n" not in text
        lines[name] = text.split("\r\n")[:-1]
    return lines


def _sep(file: str) -> str:
    return ";" if file == MONEY else ","


def _header(lines: dict, file: str) -> list[str]:
    return lines[file][0].split(_sep(file))


def _cells(lines: dict, file: str, line: int) -> list[str]:
    return lines[file][line - 1].split(_sep(file))


def _customer_lines(lines: dict, file: str, customer: int) -> list[int]:
    """The line numbers (header = 1) of every row of ``customer`` in ``file``."""
    return [i + 1 for i, text in enumerate(lines[file]) if i and text.split(_sep(file))[0] == str(customer)]


def _set_cell(lines: dict, file: str, line: int, column: str, value: str) -> dict:
    lines = copy.deepcopy(lines)
    cells = _cells(lines, file, line)
    cells[_header(lines, file).index(column)] = value
    lines[file][line - 1] = _sep(file).join(cells)
    return lines


def _corrected(file: str, column: str, text: str) -> str:
    """A cell as validation sees it: the known typo corrected."""
    return KNOWN_TYPOS.get((file, column), {}).get(text, text)


def _errors(directory: Path) -> list[str]:
    code, out, err = run_cli("validate", "--data-dir", str(directory))
    assert code == 2, (out, err)
    assert "Traceback" not in err and "Warning" not in err
    lines = err.strip().split("\n")
    assert lines and all(line.startswith("error: ") for line in lines), err
    return lines


def _where(rule: ColumnRule, line: int, value: str) -> str:
    return f"error: {rule.file}:{line}: column '{rule.column}': value '{value}': "


def _bound(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def _number_text(rule: ColumnRule, number: float) -> str:
    """A number as the file writes it (decimal comma in money.csv)."""
    return repr(number).replace(".", "," if rule.file == MONEY else ".")


def _missing_column(lines, rule):
    lines = copy.deepcopy(lines)
    position = _header(lines, rule.file).index(rule.column)
    sep = _sep(rule.file)
    lines[rule.file] = [sep.join(c for i, c in enumerate(l.split(sep)) if i != position) for l in lines[rule.file]]
    # the message goes on to list the remaining header (cut to 80 characters), so only its start is fixed here
    return lines, [f"error: {rule.file}:1: column '{rule.column}': required column is missing (header has: "]


def _cell_case(value: str, message: str, shown: str | None = None):
    def inject(lines, rule):
        line = _customer_lines(lines, rule.file, CUSTOMER)[0]
        return (_set_cell(lines, rule.file, line, rule.column, value),
                [_where(rule, line, value if shown is None else shown) + message])
    return inject


def _missing_value(lines, rule):
    return _cell_case("", "missing value")(lines, rule)


def _malformed_id(lines, rule):
    return _cell_case(f"{CUSTOMER}a", "customer id is not a whole number written with the digits 0-9 only")(lines, rule)


def _unknown_category(lines, rule):
    return _cell_case("нечто", f"unknown value; allowed: {', '.join(rule.allowed)}")(lines, rule)


def _not_a_number(lines, rule):
    return _cell_case("abc", "not a number")(lines, rule)


def _not_finite(lines, rule):
    return _cell_case("inf", "not a finite number")(lines, rule)


def _below_minimum(lines, rule):
    number = rule.minimum - 0.5
    return _cell_case(_number_text(rule, number), f"below the allowed minimum {_bound(rule.minimum)} (plausibility "
                      "bound, data/README.md)", shown=repr(number))(lines, rule)


def _above_maximum(lines, rule):
    number = rule.maximum + 0.5
    return _cell_case(_number_text(rule, number), f"above the allowed maximum {_bound(rule.maximum)} (plausibility "
                      "bound, data/README.md)", shown=repr(number))(lines, rule)


COLUMN_CHECKS = {
    "missing_column": (lambda rule: True, _missing_column),  # the target too: `validate` requires it
    "missing_value": (lambda rule: True, _missing_value),
    "malformed_id": (lambda rule: rule.kind == "id", _malformed_id),
    "unknown_category": (lambda rule: rule.kind == "category", _unknown_category),
    "not_a_number": (lambda rule: rule.kind == "number", _not_a_number),
    "not_finite": (lambda rule: rule.kind == "number", _not_finite),
    "below_minimum": (lambda rule: rule.kind == "number", _below_minimum),
    "above_maximum": (lambda rule: rule.kind == "number", _above_maximum),
}


COLUMN_CASES = [(check, rule) for check, (applies, _) in COLUMN_CHECKS.items() for rule in RULES if applies(rule)]


@pytest.mark.parametrize(("check", "rule"), COLUMN_CASES,
                         ids=[f"{check}-{rule.file}-{rule.column}" for check, rule in COLUMN_CASES])
def test_column_rule_is_applied_in_its_file(tmp_path, valid_lines, check, rule):
    lines, expected = COLUMN_CHECKS[check][1](valid_lines, rule)
    errors = _errors(write_lines(tmp_path / "bad", lines))
    if check == "missing_column":
        assert len(errors) == 1 and errors[0].startswith(expected[0]), errors
    else:
        assert errors == expected


def _empty_line(lines, file):
    lines = copy.deepcopy(lines)
    line = _customer_lines(lines, file, CUSTOMER)[0]
    lines[file].insert(line - 1, "")  # a blank line just before the customer's first row
    return lines, [f"error: {file}:{line}: empty line"]


def _key_text(lines, file: str, line: int) -> str:
    cells = dict(zip(_header(lines, file), _cells(lines, file, line)))
    keys = [ID_RU, PERIOD_RU] if PERIOD_RU in cells else [ID_RU]
    return ", ".join(f"{k}={_corrected(file, k, cells[k])}" for k in keys)


def _conflicting_duplicate(lines, file):
    lines = copy.deepcopy(lines)
    line = _customer_lines(lines, file, CUSTOMER)[0]
    cells = _cells(lines, file, line)
    point = "," if file == MONEY else "."
    number = float(cells[-1].replace(point, "."))  # the last column of every file is a number
    cells[-1] = repr(number + 1).replace(".", point)
    lines[file].append(_sep(file).join(cells))
    return lines, [f"error: {file}:{len(lines[file])}: column '{ID_RU}': value '{CUSTOMER}': conflicting duplicate "
                   f"of line {line} ({_key_text(lines, file, line)})"]


def _missing_period_case(file: str, period: str):
    def inject(lines, _file):
        lines = copy.deepcopy(lines)
        position = _header(lines, file).index(PERIOD_RU)
        own = _customer_lines(lines, file, CUSTOMER)
        drop = [l for l in own if _corrected(file, PERIOD_RU, _cells(lines, file, l)[position]) == period]
        assert len(drop) == 1
        del lines[file][drop[0] - 1]
        first = _customer_lines(lines, file, CUSTOMER)[0]
        return lines, [f"error: {file}:{first}: column '{PERIOD_RU}': value '{CUSTOMER}': customer has no row for "
                       f"period(s) {period}"]
    return inject


def _unknown_customer(lines, file):
    lines = copy.deepcopy(lines)
    sep = _sep(file)
    first = len(lines[file]) + 1
    for line in _customer_lines(lines, file, CUSTOMER):  # a whole valid customer, under an id no file has
        lines[file].append(sep.join([str(NEW_CUSTOMER), *_cells(lines, file, line)[1:]]))
    return lines, [f"error: {file}:{first}: column '{ID_RU}': value '{NEW_CUSTOMER}': customer is not in "
                   f"{MARKET_FILE}"]


def _customer_missing(lines, file):
    damaged = copy.deepcopy(lines)
    gone = set(_customer_lines(lines, file, CUSTOMER))
    damaged[file] = [text for i, text in enumerate(lines[file]) if i + 1 not in gone]
    if file != MARKET_FILE:
        line = _customer_lines(lines, MARKET_FILE, CUSTOMER)[0]
        return damaged, [f"error: {MARKET_FILE}:{line}: column '{ID_RU}': value '{CUSTOMER}': customer is missing "
                         f"from {file}"]
    # missing from the reference list: every other file names the customer as unknown
    return damaged, [f"error: {other}:{_customer_lines(lines, other, CUSTOMER)[0]}: column '{ID_RU}': value "
                     f"'{CUSTOMER}': customer is not in {MARKET_FILE}" for other in EXPORT_FILES if other != file]


FILE_CHECKS = {
    "empty_line": _empty_line,
    "conflicting_duplicate": _conflicting_duplicate,
    "unknown_customer": _unknown_customer,
    "customer_missing": _customer_missing,
}


FILE_CASES = [(check, file, None) for check in FILE_CHECKS for file in EXPORT_FILES
              if not (check == "unknown_customer" and file == MARKET_FILE)]


FILE_CASES += [("missing_period", file, period) for file, periods in PERIODS.items() for period in periods]


@pytest.mark.parametrize(("check", "file", "period"), FILE_CASES,
                         ids=[f"{c}-{f}" + (f"-{p}" if p else "") for c, f, p in FILE_CASES])
def test_file_rule_is_applied_to_the_file(tmp_path, valid_lines, check, file, period):
    inject = _missing_period_case(file, period) if check == "missing_period" else FILE_CHECKS[check]
    lines, expected = inject(valid_lines, file)
    assert sorted(_errors(write_lines(tmp_path / "bad", lines))) == sorted(expected)


@pytest.mark.parametrize("file", EXPORT_FILES)
def test_exact_duplicate_row_is_dropped_and_counted_in_its_file(tmp_path, valid_lines, file):
    lines = copy.deepcopy(valid_lines)
    lines[file].append(lines[file][_customer_lines(lines, file, CUSTOMER)[0] - 1])
    directory = write_lines(tmp_path / "dup", lines)
    code, _, err = run_cli("validate", "--data-dir", str(directory))
    assert code == 0 and "error" not in err, err
    dropped = load_dataset(directory).validated.duplicates_dropped
    assert dropped == {name: int(name == file) for name in EXPORT_FILES}


def test_the_valid_export_passes(tmp_path, valid_lines):
    code, out, err = run_cli("validate", "--data-dir", str(write_lines(tmp_path / "valid", valid_lines)))
    assert code == 0 and "error" not in err, err
    assert "row accounting" in out


def test_every_rule_is_exercised_on_every_file_it_applies_to():
    covered: dict[str, set[str]] = {check: set() for check in APPLIES}
    for check, rule in COLUMN_CASES:
        covered[check].add(rule.file)
    for check, file, _ in FILE_CASES:
        covered[check].add(file)
    covered["exact_duplicate"] = set(EXPORT_FILES)  # test_exact_duplicate_row_is_dropped_and_counted_in_its_file
    assert covered == {check: set(files) for check, files in APPLIES.items()}


def test_every_column_of_the_export_has_a_rule_and_every_period_a_case(valid_lines):
    """Every column the store's export holds is checked by a rule of its file (so the per-rule cases above reach
    every column), and the period cases cover every period found in each long file."""
    written = {(file, column) for file in EXPORT_FILES for column in _header(valid_lines, file)}
    assert written == {(rule.file, rule.column) for rule in RULES}
    for file in APPLIES["missing_period"]:
        position = _header(valid_lines, file).index(PERIOD_RU)
        found = {_corrected(file, PERIOD_RU, line.split(_sep(file))[position]) for line in valid_lines[file][1:]}
        assert {p for c, f, p in FILE_CASES if c == "missing_period" and f == file} == found


# ---------------------------------------------------------------------------------------------------------
# test_mutation_validate.py: Validation rules and messages pinned exactly (issue 10, item 6: the survivors of mutmut on analysis/data/validate.py).
# ---------------------------------------------------------------------------------------------------------
def _documented_bounds() -> dict[tuple[str, str], tuple[float, float]]:
    """The "Plausibility bounds" table of data/README.md: (file, column) -> (minimum, maximum)."""
    rows = re.findall(r"^\| (\w+\.csv) \| (\S+) \| (-?[\d,.]+) \| (-?[\d,.]+) \| ", (ROOT / "data" / "README.md")
                      .read_text(encoding="utf-8"), flags=re.M)
    return {(f, c): (float(lo.replace(",", "")), float(hi.replace(",", ""))) for f, c, lo, hi in rows}


def test_number_rules_carry_the_documented_bounds():
    documented = _documented_bounds()
    assert len(documented) == 11
    for (file, column), (low, high) in documented.items():
        assert _number(file, column) == ColumnRule(file, column, "number", minimum=low, maximum=high)
    assert {(r.file, r.column): (r.minimum, r.maximum) for r in RULES if r.kind == "number"} == documented


def test_category_rules_list_the_dictionary_labels():
    assert _cats("service_type") == ("стандарт", "премиум")
    assert _cats("contact_allowed") == ("да", "нет")
    assert _cats("popular_category") == ("Товары для детей", "Домашний текстиль", "Косметика и аксессуары",
                                         "Техника для красоты и здоровья",
                                         "Мелкая бытовая техника и электроника", "Кухонная посуда")


@pytest.mark.parametrize(("value", "code"), [("да\x07", "U+0007"),  # a control character (Cc) without a name
                                             ("да\u200e", "U+200E"),  # a format character (Cf): left-to-right mark
                                             ("да\x1b", "U+001B")])
def test_unnamed_invisible_characters_are_reported_by_code(value, code):
    assert invisible_differences(value) == [f"contains an invisible character ({code})"]


def test_several_notes_are_joined_with_a_comma():
    allowed = ("стандарт", "премиум")
    assert _unknown_value(allowed)("cтандарт ") == (
        "unknown value: looks like 'стандарт' but contains a Latin 'c' (U+0063), has leading or trailing spaces")
    assert _unknown_value(allowed)("xyz\u00a0\u200b") == (
        "unknown value; allowed: стандарт, премиум; the value contains a no-break space (U+00A0), contains a "
        "zero-width space (U+200B)")
    assert _with_notes("not a number")("5\u200b\u00a0") == (
        "not a number (the value contains a zero-width space (U+200B), contains a no-break space (U+00A0), has "
        "leading or trailing spaces)")


@pytest.mark.parametrize(("text", "message"), [
    ("0", "customer id must be a positive whole number"),
    ("-17", "customer id must be a positive whole number"),
    ("0042", "customer id has a leading zero; ids are written without leading zeros (remove them in all four "
             "files: ids are compared as numbers)"),
    ("1234567890123456789", "customer id has 19 digits; at most 18 are allowed"),
    ("12a", "customer id is not a whole number written with the digits 0-9 only"),
])
def test_id_problem_messages_exactly(text, message):
    assert id_problem(text) == message


def test_invisible_character_in_a_category_gives_the_whole_error_line(tmp_path):
    lines = tiny_export_lines()
    cells = lines[MARKET_FILE][3].split(",")
    cells[2] = "премиум\x07"
    lines[MARKET_FILE][3] = ",".join(cells)
    code, _, err = run_cli("validate", "--data-dir", str(write_lines(tmp_path / "bad", lines)))
    assert code == 2
    assert err == ("error: market_file.csv:4: column 'Тип сервиса': value 'премиум\\x07': unknown value: looks "
                   "like 'премиум' but contains an invisible character (U+0007)\n")
