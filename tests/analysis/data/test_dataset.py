"""Data layer: reading, validation rules, customer table, row accounting, CLI ``validate``."""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.data.dataset import load_dataset
from analysis.data.dictionary import DICTIONARY, EXPORT_FILES, MARKET_FILE, dictionary_markdown
from analysis.data.load import ExportError
from analysis.paths import ROOT
from analysis.data.validate import RULES
from tests.conftest import run_cli, tiny_export_lines, write_lines


def _mutated(tmp_path: Path, lines: dict, file: str, edit) -> Path:
    files = copy.deepcopy(lines)
    files[file] = edit(files[file])
    return write_lines(tmp_path / "bad", files)


def _set_cell(line: str, column: int, value: str, sep: str = ",") -> str:
    cells = line.split(sep)
    cells[column] = value
    return sep.join(cells)


def _errors(directory: Path, *extra: str) -> list[str]:
    code, out, err = run_cli("validate", "--data-dir", str(directory), *extra)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), err
    return lines


# --- the typical case -------------------------------------------------------------------------------------

def test_typical_tiny_export(tiny_dir):
    dataset = load_dataset(tiny_dir)
    table = dataset.data.customers
    assert list(table.columns) == [f.name for f in DICTIONARY]
    assert len(table) == 8 and table["id"].is_unique
    assert set(table["service_type"]) == {"standard", "premium"}
    assert "cosmetics_accessories" in set(table["popular_category"])
    assert table.loc[table["id"] == 100, "activity_decline"].item() == 1
    assert table.loc[table["id"] == 101, "revenue_prev"].item() == pytest.approx(4501.0)
    assert table.loc[table["id"] == 101, "minutes_prev"].item() == 13
    assert table.loc[table["id"] == 101, "profit"].item() == pytest.approx(3.1)


def test_typos_are_corrected_and_reported(tiny_dir):
    typos = load_dataset(tiny_dir).validated.typos
    found = {(r.column, r.typo): r.rows for r in typos.itertuples()}
    assert found == {("Тип сервиса", "стандартт"): 2, ("Популярная_категория", "Косметика и аксесуары"): 1,
                     ("Период", "предыдцщий_месяц"): 8}


def test_row_accounting_adds_up(tiny_dir):
    data = load_dataset(tiny_dir).data
    acc = data.accounting
    assert (acc["rows_out"] == acc["rows_in"] - acc["removed"]).all()
    chain = acc[~acc["step"].str.startswith("read ")]
    assert (chain["rows_in"].iloc[1:].to_numpy() == chain["rows_out"].iloc[:-1].to_numpy()).all()
    assert chain["rows_in"].iloc[0] == 8 and chain["rows_out"].iloc[-1] == len(data.model_table) == 6
    assert chain["removed"].iloc[1:].sum() == len(data.excluded)
    assert dict(zip(data.excluded["id"], data.excluded["step"])) == {100: "regular_customer",
                                                                      107: "extreme_revenue"}


def test_extreme_revenue_rule_is_by_value_not_id(tmp_path):
    lines = tiny_export_lines(n=12)
    # Move the extreme value to another customer: the rule must follow the value.
    lines["market_money.csv"] = [l.replace("100000.0", "5055.0") for l in lines["market_money.csv"]]
    lines["market_money.csv"] = [l.replace("104,текущий_месяц,5020.0", "104,текущий_месяц,90000.0")
                                 for l in lines["market_money.csv"]]
    data = load_dataset(write_lines(tmp_path / "e", lines)).data
    assert data.excluded.set_index("id")["step"].to_dict() == {100: "regular_customer", 104: "extreme_revenue"}


def test_real_data_validates_and_accounts(real_data_dir):
    code, out, err = run_cli("validate", "--data-dir", str(real_data_dir))
    assert code == 0, err
    data = load_dataset(real_data_dir).data
    acc = data.accounting.set_index("step")
    assert acc.loc["join the four files", "rows_in"] == 1300
    assert acc.loc["regular_customer", "removed"] == 3
    assert acc.loc["extreme_revenue", "removed"] == 1
    assert len(data.model_table) == 1300 - len(data.excluded)
    assert "row accounting" in out


# --- valid variants give the identical table --------------------------------------------------------------

def _table(directory: Path) -> pd.DataFrame:
    return load_dataset(directory).data.customers


@pytest.mark.parametrize("variant", ["bom", "lf", "shuffled", "money_comma_dot"])
def test_valid_variants_identical(tmp_path, tiny_lines, tiny_dir, variant):
    files = copy.deepcopy(tiny_lines)
    newline, bom = "\r\n", False
    if variant == "bom":
        bom = True
    elif variant == "lf":
        newline = "\n"
    elif variant == "shuffled":
        rng = np.random.default_rng(3)
        files = {k: [v[0]] + [v[1:][i] for i in rng.permutation(len(v) - 1)] for k, v in files.items()}
    else:
        files["money.csv"] = [l.replace(",", ".").replace(";", ",") for l in files["money.csv"]]
    variant_dir = write_lines(tmp_path / variant, files, newline=newline, bom=bom)
    pd.testing.assert_frame_equal(_table(variant_dir), _table(tiny_dir))


def test_exact_duplicate_row_dropped_and_counted(tmp_path, tiny_lines, tiny_dir):
    directory = _mutated(tmp_path, tiny_lines, "market_money.csv", lambda l: l + [l[5]])
    dataset = load_dataset(directory)
    assert dataset.validated.duplicates_dropped["market_money.csv"] == 1
    acc = dataset.data.accounting.set_index("step")
    assert acc.loc["read market_money.csv", ["rows_in", "removed"]].tolist() == [25, 1]
    pd.testing.assert_frame_equal(dataset.data.customers, _table(tiny_dir))


def test_extra_column_is_ignored_with_warning(tmp_path, tiny_lines, tiny_dir):
    directory = _mutated(tmp_path, tiny_lines, "money.csv", lambda l: [l[0] + ";Комментарий"]
                         + [x + ";ok" for x in l[1:]])
    code, out, err = run_cli("validate", "--data-dir", str(directory))
    assert code == 0
    assert "warning: money.csv: extra column 'Комментарий' ignored" in err
    pd.testing.assert_frame_equal(_table(directory), _table(tiny_dir))


def test_target_may_be_absent_only_when_scoring(tmp_path):
    directory = write_lines(tmp_path / "nt", tiny_export_lines(target=False))
    assert run_cli("validate", "--data-dir", str(directory), "--no-target")[0] == 0
    assert "activity_decline" not in load_dataset(directory, require_target=False).data.customers
    lines = _errors(directory)
    assert "market_file.csv:1: column 'Покупательская активность'" in lines[0]


# --- the corpus of malformed exports ----------------------------------------------------------------------

@pytest.mark.parametrize("file", EXPORT_FILES)
def test_raises_missing_file(tmp_path, tiny_lines, file):
    directory = write_lines(tmp_path / "m", {k: v for k, v in tiny_lines.items() if k != file})
    lines = _errors(directory)
    assert lines == [f"error: {file}: file not found (looked in {directory})"]


@pytest.mark.parametrize("rule", [r for r in RULES if r.required], ids=lambda r: f"{r.file}:{r.column}")
def test_raises_missing_column(tmp_path, tiny_lines, rule):
    sep = ";" if rule.file == "money.csv" else ","

    def drop(lines):
        position = lines[0].split(sep).index(rule.column)
        return [sep.join(c for i, c in enumerate(l.split(sep)) if i != position) for l in lines]

    lines = _errors(_mutated(tmp_path, tiny_lines, rule.file, drop))
    assert any(f"{rule.file}:1: column '{rule.column}'" in l and "missing" in l for l in lines), lines


@pytest.mark.parametrize(
    ("file", "line", "column", "value", "message"),
    [
        ("market_file.csv", 3, 4, "четыре", "not a number"),
        ("market_file.csv", 4, 7, "1.5", "above the allowed maximum 1"),
        ("market_file.csv", 2, 10, "-1", "below the allowed minimum 0"),
        ("market_file.csv", 5, 8, "Игрушки", "unknown value"),
        ("market_file.csv", 6, 1, "Выросла", "unknown value"),
        ("market_file.csv", 2, 0, "10x", "customer id is not a whole number"),
        ("market_file.csv", 3, 2, "", "missing value"),
        ("market_money.csv", 7, 2, "-5.0", "below the allowed minimum 0"),
        ("market_money.csv", 9, 1, "прошлый_год", "unknown value"),
        ("market_time.csv", 4, 2, "inf", "not a finite number"),
    ],
)
def test_raises_bad_cell(tmp_path, tiny_lines, file, line, column, value, message):
    header = tiny_lines[file][0].split(",")

    def edit(lines):
        lines[line - 1] = _set_cell(lines[line - 1], column, value)
        return lines

    errors = _errors(_mutated(tmp_path, tiny_lines, file, edit))
    expected = f"error: {file}:{line}: column '{header[column]}': value '{value}': {message}"
    assert any(e.startswith(expected) for e in errors), errors


def test_raises_non_numeric_profit_with_decimal_comma(tmp_path, tiny_lines):
    errors = _errors(_mutated(tmp_path, tiny_lines, "money.csv",
                              lambda l: l[:3] + ["102;много"] + l[4:]))
    assert errors == ["error: money.csv:4: column 'Прибыль': value 'много': not a number"]


def test_raises_conflicting_duplicate_id(tmp_path, tiny_lines):
    errors = _errors(_mutated(tmp_path, tiny_lines, "money.csv", lambda l: l + ["101;9,99"]))
    assert errors == ["error: money.csv:10: column 'id': value '101': conflicting duplicate of line 3 (id=101)"]


def test_raises_missing_period(tmp_path, tiny_lines):
    errors = _errors(_mutated(tmp_path, tiny_lines, "market_money.csv",
                              lambda l: [x for x in l if not x.startswith("103,предыдущий")]))
    assert any(e.startswith("error: market_money.csv:11: column 'Период': value '103'") and
               "предыдущий_месяц" in e for e in errors), errors


def test_raises_customer_missing_from_a_file(tmp_path, tiny_lines):
    errors = _errors(_mutated(tmp_path, tiny_lines, "money.csv", lambda l: [x for x in l if not x.startswith("104;")]))
    assert errors == ["error: market_file.csv:6: column 'id': value '104': customer is missing from money.csv"]


def test_raises_unknown_customer(tmp_path, tiny_lines):
    errors = _errors(_mutated(tmp_path, tiny_lines, "market_time.csv",
                              lambda l: l + ["999,текущий_месяц,10", "999,предыдцщий_месяц,10"]))
    assert "error: market_time.csv:18: column 'id': value '999': customer is not in market_file.csv" in errors


def test_raises_cp1251_file(tmp_path, tiny_lines):
    directory = write_lines(tmp_path / "cp", tiny_lines)
    text = (directory / "market_file.csv").read_text(encoding="utf-8")
    (directory / "market_file.csv").write_bytes(text.encode("cp1251"))
    assert _errors(directory) == ["error: market_file.csv:1: file is not UTF-8 (a cp1251 export?); save it as UTF-8"]


def test_raises_empty_file(tmp_path, tiny_lines):
    directory = write_lines(tmp_path / "empty", tiny_lines)
    (directory / "market_time.csv").write_bytes(b"")
    assert _errors(directory) == ["error: market_time.csv: file is empty"]


def test_raises_ragged_row(tmp_path, tiny_lines):
    errors = _errors(_mutated(tmp_path, tiny_lines, "market_time.csv", lambda l: l[:4] + [l[4] + ",7,8"] + l[5:]))
    assert len(errors) == 1 and errors[0].startswith("error: market_time.csv:5: row has 5 fields but the header has 3")


def test_reports_all_violations_not_only_first(tmp_path, tiny_lines):
    def edit(lines):
        lines[2] = _set_cell(lines[2], 7, "2.0")
        lines[5] = _set_cell(lines[5], 4, "abc")
        return lines

    errors = _errors(_mutated(tmp_path, tiny_lines, MARKET_FILE, edit))
    assert len(errors) == 2
    assert {e.split(":")[2] for e in errors} == {"3", "6"}


def test_violation_count_is_capped_with_total(tmp_path):
    lines = tiny_export_lines(n=80)
    lines["market_time.csv"] = [lines["market_time.csv"][0]] + [l.rsplit(",", 1)[0] + ",x"
                                                               for l in lines["market_time.csv"][1:]]
    errors = _errors(write_lines(tmp_path / "many", lines))
    assert len(errors) == 51 and errors[-1] == "error: ... and 110 more violations"


# --- properties ---------------------------------------------------------------------------------------------

@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_row_order_invariance(tmp_path_factory, seed):
    lines = tiny_export_lines(n=10)
    rng = np.random.default_rng(seed)
    shuffled = {k: [v[0]] + [v[1:][i] for i in rng.permutation(len(v) - 1)] for k, v in lines.items()}
    base = tmp_path_factory.mktemp("base")
    other = tmp_path_factory.mktemp("shuffled")
    a = load_dataset(write_lines(base, lines)).data
    b = load_dataset(write_lines(other, shuffled)).data
    pd.testing.assert_frame_equal(a.model_table, b.model_table)
    pd.testing.assert_frame_equal(a.accounting, b.accounting)
    pd.testing.assert_frame_equal(a.excluded, b.excluded)


def test_deterministic(tiny_dir):
    a, b = load_dataset(tiny_dir).data, load_dataset(tiny_dir).data
    pd.testing.assert_frame_equal(a.model_table, b.model_table)


def test_bad_extreme_factor_raises(tiny_dir):
    with pytest.raises(ValueError, match="extreme_factor must be > 1, got 0.5"):
        load_dataset(tiny_dir, extreme_factor=0.5)


def test_export_error_carries_location(tmp_path, tiny_lines):
    directory = _mutated(tmp_path, tiny_lines, "money.csv", lambda l: l[:2] + ["100;x"] + l[3:])
    with pytest.raises(ExportError) as info:
        load_dataset(directory)
    violation = info.value.violations[0]
    assert (violation.file, violation.line, violation.column, violation.value) == ("money.csv", 3, "Прибыль", "x")


# --- the project's own files stay in step -----------------------------------------------------------------

def test_data_readme_is_generated_from_dictionary():
    assert (ROOT / "data" / "README.md").read_text(encoding="utf-8") == dictionary_markdown()


def test_every_market_file_field_has_a_rule():
    ruled = {(r.file, r.column) for r in RULES}
    for field in DICTIONARY:
        assert (field.source_file, field.source_name) in ruled, field.name


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["test"])
    # environment.yml lists the pip requirements quoted, one per line, under "- pip:".
    text = (ROOT / "environment.yml").read_text()
    listed = set(re.findall(r'^\s+- "([^"]+)"$', text, flags=re.M))
    assert {_norm(d) for d in listed} == {_norm(d) for d in wanted}


def _norm(requirement: str) -> str:
    return requirement.replace(" ", "").lower()


# --- fetch-data -----------------------------------------------------------------------------------------------

def test_fetch_data_downloads_and_checks_hashes(tmp_path, real_data_dir):
    from analysis.data.fetch import fetch_data

    written = fetch_data(tmp_path / "raw", base_url=real_data_dir.as_uri() + "/")
    assert sorted(p.name for p in written) == sorted(EXPORT_FILES)
    for path in written:
        assert path.read_bytes() == (real_data_dir / path.name).read_bytes()


def test_fetch_data_refuses_wrong_hash(tmp_path, tiny_dir):
    from analysis.data.fetch import FetchError, fetch_data

    with pytest.raises(FetchError, match="market_file.csv: downloaded file has SHA-256"):
        fetch_data(tmp_path / "raw", base_url=tiny_dir.as_uri() + "/")


def test_fetch_data_unreachable_is_one_line(tmp_path):
    code, _, err = run_cli("fetch-data", "--target", str(tmp_path / "raw"))
    if code == 0:
        pytest.skip("the internet is reachable from here")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("error: cannot download") and "not reachable" in err


# --- where the data comes from ------------------------------------------------------------------------------

def test_data_dir_resolution_order(tmp_path, monkeypatch):
    from analysis import paths

    monkeypatch.setattr(paths, "RAW_DIR", tmp_path / "raw")
    monkeypatch.delenv(paths.DATA_ENV_VAR, raising=False)
    assert paths.resolve_data_dir() == paths.SHARED_DATA_DIR  # nothing else: the local mirror
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "market_file.csv").write_text("id\n")
    assert paths.resolve_data_dir() == tmp_path / "raw"  # data/raw/ when it holds an export
    monkeypatch.setenv(paths.DATA_ENV_VAR, str(tmp_path / "env"))
    assert paths.resolve_data_dir() == (tmp_path / "env").resolve()  # the environment variable
    assert paths.resolve_data_dir(str(tmp_path / "cli")) == (tmp_path / "cli").resolve()  # --data-dir wins
