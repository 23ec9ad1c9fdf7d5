"""Validation rules and messages pinned exactly (issue 10, item 6: the survivors of mutmut on analysis/data/validate.py).

The schema's numeric rules are compared with the bounds documented in ``data/README.md`` (the table the error
messages cite), the category rules with the dictionary's labels; every message is compared whole, so that a
changed word, separator or case fails.
"""

from __future__ import annotations

import re

import pytest

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
