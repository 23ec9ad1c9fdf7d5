"""Hostile exports (issue 11): never a traceback, never a lost or mangled customer, implausible values refused.

Every class of damage is built from the tiny valid export of ``conftest.py`` and run through the CLI (or the
loader); each refusal is one ``error:`` line naming file, line, column and value, with exit status 2.
"""

from __future__ import annotations

import copy
import time
import unicodedata
import warnings
from pathlib import Path

import pandas as pd
import pytest

from analysis.data.dataset import load_dataset
from analysis.data.dictionary import BOUNDS, EXPORT_FILES, ID_MAX_DIGITS, MONEY, multiple_bound
from analysis.data.load import MAX_VALUE_CHARS, show_value
from analysis.data.validate import RULES
from tests.conftest import MARKET_HEADER, run_cli, write_lines


def _errors(directory: Path, *extra: str) -> list[str]:
    code, out, err = run_cli("validate", "--data-dir", str(directory), *extra)
    assert code == 2, (out, err)
    assert "Traceback" not in err and "Warning" not in err
    lines = err.strip().split("\n")
    assert lines and all(line.startswith("error: ") for line in lines), err
    return lines


def _write(tmp_path: Path, files: dict, name: str = "bad", **kwargs) -> Path:
    return write_lines(tmp_path / name, files, **kwargs)


def _with_id(files: dict, old: int, new: str) -> dict:
    """The export with customer ``old`` renamed to the id text ``new`` in all four files."""
    files = copy.deepcopy(files)
    for name, lines in files.items():
        sep = ";" if name == MONEY else ","
        files[name] = [new + line[len(str(old)):] if line.startswith(f"{old}{sep}") else line for line in lines]
    return files


def _set(files: dict, file: str, line: int, column: str, value: str) -> dict:
    files = copy.deepcopy(files)
    sep = ";" if file == MONEY else ","
    cells = files[file][line - 1].split(sep)
    cells[files[file][0].split(sep).index(column)] = value
    files[file][line - 1] = sep.join(cells)
    return files


# --- 1. ids: read as text, exact, positive, at most 18 digits, no leading zero ------------------------------

@pytest.mark.parametrize("new_id", ["9007199254740993", "999999999999999999", "1", "215348"])
def test_ids_are_carried_exactly(tmp_path, tiny_lines, new_id):
    data = load_dataset(_write(tmp_path, _with_id(tiny_lines, 103, new_id))).data
    assert data.customers["id"].dtype == "int64"
    assert int(new_id) in data.customers["id"].tolist()  # exact: 9007199254740993 is not a float64
    assert str(int(new_id)) == new_id


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "customer id must be a positive whole number"),
        ("-5", "customer id must be a positive whole number"),
        ("0103", "customer id has a leading zero"),
        ("1" + "0" * ID_MAX_DIGITS, f"customer id has {ID_MAX_DIGITS + 1} digits; at most {ID_MAX_DIGITS}"),
        (str(2**63), "customer id has 19 digits"),
        ("1" + "0" * 20, "customer id has 21 digits"),
        ("103.0", "customer id is not a whole number written with the digits 0-9 only"),
        ("1e5", "customer id is not a whole number"),
        ("+103", "customer id is not a whole number"),
        (" 103", "customer id is not a whole number written with the digits 0-9 only (the value has leading"),
        ("\u0661\u0660\u0663", "customer id is not a whole number"),  # Arabic-Indic digits: int() would take them
        ("10\u00b3", "customer id is not a whole number"),  # superscript three
        ("103\u200b", "customer id is not a whole number written with the digits 0-9 only (the value contains a "
                       "zero-width space (U+200B))"),
    ],
)
def test_raises_malformed_id(tmp_path, tiny_lines, text, message):
    errors = _errors(_write(tmp_path, _set(tiny_lines, "market_file.csv", 5, "id", text)))
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"error: market_file.csv:5: column 'id': value '{show_value(text)}': "), errors
    assert message in errors[0], errors


def test_raises_malformed_id_in_every_file(tmp_path, tiny_lines):
    files = tiny_lines
    expected = []
    for name in EXPORT_FILES:
        files = _set(files, name, 3, "id", "0042")
        expected.append(f"error: {name}:3: column 'id': value '0042': customer id has a leading zero")
    errors = _errors(_write(tmp_path, files))
    assert [e.split("; ids")[0] for e in errors] == expected


# --- 3. plausibility bounds: every numeric column, just beyond each bound --------------------------------------

def _beyond(bound: float, side: str, decimal: str) -> tuple[str, float]:
    value = bound + 0.01 if side == "max" else bound - 0.01
    return f"{value:.2f}".replace(".", decimal), value


NUMERIC = [r for r in RULES if r.kind == "number"]


@pytest.mark.parametrize("side", ["min", "max"])
@pytest.mark.parametrize("rule", NUMERIC, ids=lambda r: f"{r.file}:{r.column}")
def test_value_just_beyond_bound_is_refused(tmp_path, tiny_lines, rule, side):
    decimal = "," if rule.file == MONEY else "."
    text, value = _beyond(rule.maximum if side == "max" else rule.minimum, side, decimal)
    line = 4
    errors = _errors(_write(tmp_path, _set(tiny_lines, rule.file, line, rule.column, text)))
    bound = rule.maximum if side == "max" else rule.minimum
    word = "above the allowed maximum" if side == "max" else "below the allowed minimum"
    shown = int(bound) if float(bound).is_integer() else bound
    assert errors == [f"error: {rule.file}:{line}: column '{rule.column}': value '{value!r}': {word} {shown} "
                      "(plausibility bound, data/README.md)"]


@pytest.mark.parametrize("side", ["min", "max"])
@pytest.mark.parametrize("rule", NUMERIC, ids=lambda r: f"{r.file}:{r.column}")
def test_value_at_bound_is_accepted(tmp_path, tiny_lines, rule, side):
    bound = rule.maximum if side == "max" else rule.minimum
    text = f"{bound:.2f}".replace(".", "," if rule.file == MONEY else ".")
    dataset = load_dataset(_write(tmp_path, _set(tiny_lines, rule.file, 4, rule.column, text)))
    assert len(dataset.data.customers) == 8


@pytest.mark.parametrize("text", ["1" + "0" * 20, "1" + "0" * 30, "1e308", "9223372036854775808", "1e400"])
@pytest.mark.parametrize("column", ["Страниц_за_визит", "Маркет_актив_6_мес"])
def test_huge_values_are_refused_not_cast(tmp_path, tiny_lines, column, text):
    errors = _errors(_write(tmp_path, _set(tiny_lines, "market_file.csv", 3, column, text)))
    assert len(errors) == 1 and errors[0].startswith(f"error: market_file.csv:3: column '{column}'"), errors
    assert "above the allowed maximum" in errors[0] or "not a finite number" in errors[0]


def test_bounds_cover_every_numeric_column_and_follow_their_stated_rule(real_data_dir):
    assert {(r.file, r.column) for r in NUMERIC} == {(b.file, b.column) for b in BOUNDS}
    frames = {name: pd.read_csv(real_data_dir / name, sep=";" if name == MONEY else ",",
                                decimal="," if name == MONEY else ".") for name in EXPORT_FILES}
    for bound in BOUNDS:
        real = frames[bound.file][bound.column]
        assert bound.minimum <= real.min() and real.max() <= bound.maximum, bound
        if bound.basis == "multiple":
            # The documented source: 10 x the real maximum, rounded up to two significant digits.
            assert bound.real_maximum == real.max()
            assert bound.maximum == multiple_bound(real.max())
            assert bound.maximum >= 10 * real.max() and bound.maximum < 11 * real.max() + 1


def test_multiple_bound_rounding():
    assert [multiple_bound(x) for x in (6.6, 5, 1079, 106862.2, 7.43, 0.123)] == [66, 50, 11000, 1100000, 75, 1.3]


# --- the regular-customer rule in each revenue month -------------------------------------------------------------

@pytest.mark.parametrize(("period", "column"), [("препредыдущий_месяц", "revenue_prev2"),
                                                ("предыдущий_месяц", "revenue_prev"),
                                                ("текущий_месяц", "revenue_current")])
def test_zero_revenue_in_any_month_is_not_regular(tmp_path, tiny_lines, period, column):
    files = copy.deepcopy(tiny_lines)
    files["market_money.csv"] = [f"103,{period},0.0" if line.startswith(f"103,{period},") else line
                                 for line in files["market_money.csv"]]
    data = load_dataset(_write(tmp_path, files)).data
    excluded = data.excluded.set_index("id")
    assert excluded.loc[103, "step"] == "regular_customer"
    assert excluded.loc[103, "detail"] == f"zero revenue in {column}"
    assert 103 not in set(data.model_table["id"])


# --- 6. ambiguity: a repeated column name, a number cut at the end of the file ------------------------------------

def test_raises_repeated_column_name(tmp_path, tiny_lines):
    files = copy.deepcopy(tiny_lines)
    files["market_file.csv"] = [files["market_file.csv"][0] + ",Длительность"] + [
        line + ",5" for line in files["market_file.csv"][1:]]
    errors = _errors(_write(tmp_path, files))
    assert errors == ["error: market_file.csv:1: column 'Длительность': column name appears more than once in "
                      "the header (columns 7 and 14): which one is meant is ambiguous"]


@pytest.mark.parametrize("newline", ["", "\r\n"])
def test_raises_number_cut_at_end_of_file(tmp_path, tiny_lines, newline):
    directory = _write(tmp_path, tiny_lines)
    payload = (directory / MONEY).read_bytes()
    (directory / MONEY).write_bytes(payload.rstrip(b"\r\n")[:-2] + newline.encode())  # "107;3,70" -> "107;3,"
    errors = _errors(directory)
    assert errors == ["error: money.csv:9: column 'Прибыль': value '3,': number ends with its decimal separator: "
                      "the file looks cut inside its last number"]


# --- 7. messages: one line, exact physical lines, short escaped values, hints, file-type sniff --------------------

def test_embedded_newline_keeps_one_line_and_exact_line_numbers(tmp_path, tiny_lines):
    files = _set(tiny_lines, "market_file.csv", 3, "Популярная_категория", '"Товары\nдля детей"')
    files = _set(files, "market_file.csv", 6, "Длительность", "много")
    errors = _errors(_write(tmp_path, files, newline="\n"))
    assert errors == [
        "error: market_file.csv:7: column 'Длительность': value 'много': not a number",
        "error: market_file.csv:3: column 'Популярная_категория': value 'Товары\\nдля детей': unknown value; "
        "allowed: Товары для детей, Домашний текстиль, Косметика и аксессуары, Техника для красоты и здоровья, "
        "Мелкая бытовая техника и электроника, Кухонная посуда; the value contains a line break (U+000A)",
    ]


@pytest.mark.parametrize("header_too", [False, True])
def test_trailing_separator_on_every_row_keeps_line_numbers(tmp_path, tiny_lines, header_too):
    files = copy.deepcopy(tiny_lines)
    files["market_time.csv"] = [line + "," if (i or header_too) else line
                                for i, line in enumerate(files["market_time.csv"])]
    clean = load_dataset(_write(tmp_path, tiny_lines, "clean")).data.customers
    pd.testing.assert_frame_equal(load_dataset(_write(tmp_path, files, "trailing")).data.customers, clean)
    files = _set(files, "market_time.csv", 6, "минут", "x")
    assert _errors(_write(tmp_path, files, "trailing_bad")) == [
        "error: market_time.csv:6: column 'минут': value 'x': not a number"]


def test_long_value_is_cut_to_80_characters(tmp_path, tiny_lines):
    errors = _errors(_write(tmp_path, _set(tiny_lines, "market_file.csv", 4, "Тип сервиса", "ж" * 5000)))
    assert errors == [f"error: market_file.csv:4: column 'Тип сервиса': value '{'ж' * MAX_VALUE_CHARS}… "
                      "(5000 characters)': unknown value; allowed: стандарт, премиум"]


@pytest.mark.parametrize(
    ("column", "value", "hint"),
    [
        ("Тип сервиса", "стандарт".replace("с", "c", 1), "looks like 'стандарт' but contains a Latin 'c' (U+0063)"),
        ("Тип сервиса", "премиум".replace("р", "p"), "looks like 'премиум' but contains a Latin 'p' (U+0070)"),
        ("Популярная_категория", "Товары\u00a0для детей",
         "looks like 'Товары для детей' but contains a no-break space (U+00A0)"),
        ("Популярная_категория", "Кухонная\u200b посуда",
         "looks like 'Кухонная посуда' but contains a zero-width space (U+200B)"),
        ("Покупательская активность", unicodedata.normalize("NFD", "Прежний уровень"),
         "looks like 'Прежний уровень' but is in decomposed Unicode form (NFD; save it as NFC)"),
        ("Разрешить сообщать", "да ", "looks like 'да' but has leading or trailing spaces"),
    ],
)
def test_invisible_differences_get_a_hint(tmp_path, tiny_lines, column, value, hint):
    errors = _errors(_write(tmp_path, _set(tiny_lines, "market_file.csv", 5, column, value)))
    assert len(errors) == 1 and errors[0].startswith(f"error: market_file.csv:5: column '{column}'"), errors
    assert errors[0].endswith(f"unknown value: {hint}"), errors


def test_header_with_invisible_difference_gets_a_hint(tmp_path, tiny_lines):
    files = copy.deepcopy(tiny_lines)
    files["market_file.csv"][0] = MARKET_HEADER.replace("Тип сервиса", "Тип\u00a0сервиса")
    assert _errors(_write(tmp_path, files)) == [
        "error: market_file.csv:1: column 'Тип сервиса': required column is missing; the header has "
        "'Тип\u00a0сервиса', which contains a no-break space (U+00A0)"]


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (lambda text: b"\xff\xfe" + text.encode("utf-16-le"), "a UTF-16 text file"),
        (lambda text: text.encode("utf-16"), "a UTF-16 text file"),
        (lambda text: b"PK\x03\x04" + bytes(40), "a ZIP archive (an .xlsx workbook?)"),
        (lambda text: b"\x89PNG\r\n\x1a\n" + bytes(40), "a PNG image"),
        (lambda text: b"%PDF-1.7\n" + bytes(40), "a PDF document"),
        (lambda text: b"\xd0\xcf\x11\xe0" + bytes(40), "an Excel .xls workbook"),
    ],
)
def test_file_type_is_sniffed_before_the_encoding(tmp_path, tiny_lines, payload, kind):
    directory = _write(tmp_path, tiny_lines)
    (directory / "market_time.csv").write_bytes(payload((directory / "market_time.csv").read_text("utf-8")))
    assert _errors(directory) == [f"error: market_time.csv: file is {kind}, not a CSV text file; "
                                  "export it as CSV in UTF-8"]


def test_utf16_without_bom_and_nul_bytes(tmp_path, tiny_lines):
    directory = _write(tmp_path, tiny_lines)
    text = (directory / "market_time.csv").read_text("utf-8")
    (directory / "market_time.csv").write_bytes(text.encode("utf-16-le"))
    assert _errors(directory) == ["error: market_time.csv: file looks like UTF-16 text without a byte-order mark; "
                                  "export it as CSV in UTF-8"]
    damaged = text.replace("текущий_месяц,10", "текущий_месяц,10" + "\x00" * 4096, 1)
    (directory / "market_time.csv").write_bytes(damaged.encode())
    assert _errors(directory) == ["error: market_time.csv:2: file contains a NUL byte (a damaged or binary file)"]


# --- 2. no traceback: header-only files, directories, --out a directory -------------------------------------------

def test_header_only_files_are_refused(tmp_path, tiny_lines):
    directory = _write(tmp_path, {name: lines[:1] for name, lines in tiny_lines.items()})
    assert _errors(directory) == [f"error: {name}: file has a header but no data rows" for name in EXPORT_FILES]


def test_directory_instead_of_a_file(tmp_path, tiny_lines):
    directory = _write(tmp_path, tiny_lines)
    (directory / MONEY).unlink()
    (directory / MONEY).mkdir()
    assert _errors(directory) == [f"error: money.csv: is a directory, not a file ({directory / MONEY})"]
    assert _errors(directory / "market_file.csv") == [
        f"error: {directory / 'market_file.csv'}: the data directory is a file, not a directory"]


def test_score_out_naming_a_directory(tmp_path, tiny_dir):
    code, out, err = run_cli("score", "--data-dir", str(tiny_dir), "--results-dir", str(tmp_path / "none"),
                             "--out", str(tmp_path))
    assert code == 2 and err == f"error: --out {tmp_path}: is a directory; give the path of the CSV file to write\n"
    # a file where the output's directory should be is refused in one line; a missing directory is created
    (tmp_path / "afile").write_text("x")
    code, out, err = run_cli("score", "--data-dir", str(tiny_dir), "--results-dir", str(tmp_path / "none"),
                             "--out", str(tmp_path / "afile" / "offers.csv"))
    assert code == 2 and err == f"error: --out {tmp_path / 'afile' / 'offers.csv'}: {tmp_path / 'afile'} is not a directory\n"


# --- 8. refusals stay fast ----------------------------------------------------------------------------------------

def _timed_errors(directory: Path) -> tuple[list[str], float]:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no pandas DtypeWarning (or any other) on the way
        errors = _errors(directory)
    return errors, time.perf_counter() - start


@pytest.mark.parametrize("where", ["end", "middle"])
def test_million_empty_rows_refused_fast(tmp_path, tiny_lines, where):
    files = copy.deepcopy(tiny_lines)
    blank = [""] * 1_000_000
    files["market_time.csv"] = (files["market_time.csv"] + blank if where == "end"
                                else files["market_time.csv"][:3] + blank + files["market_time.csv"][3:])
    directory = _write(tmp_path, files)
    if where == "end":  # empty lines after the last row are not rows: the export is valid
        start = time.perf_counter()
        assert len(load_dataset(directory).data.customers) == 8
        assert time.perf_counter() - start < 5
        return
    errors, seconds = _timed_errors(directory)
    assert errors[0] == "error: market_time.csv:4: empty line"
    assert errors[-1] == "error: ... and 999950 more violations"
    assert seconds < 5


def test_many_conflicting_duplicates_refused_fast(tmp_path, tiny_lines):
    files = copy.deepcopy(tiny_lines)
    files[MONEY] = files[MONEY] + [f"101;{i % 7},{i % 100:02d}" for i in range(100_000)]
    errors, seconds = _timed_errors(_write(tmp_path, files))
    assert errors[0] == "error: money.csv:10: column 'id': value '101': conflicting duplicate of line 3 (id=101)"
    assert len(errors) == 51 and errors[-1].startswith("error: ... and ")
    assert seconds < 5
