"""score --engine stream|dask: the same offers file, byte for byte, and the same errors as the in-memory path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.dictionary import EXPORT_FILES
from analysis.paths import MODEL_PATH_NAME, RESULTS_DIR
from analysis.pipeline import run_analysis
from analysis.streaming import partition_export, score_streaming
from analysis.synthetic import write_exports
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A model fitted by ``run`` on a synthetic export (quick protocol)."""
    base = tmp_path_factory.mktemp("streaming")
    data_dir = base / "train"
    write_exports(data_dir, n_customers=500, seed=11, zero_revenue_customers=2, extreme_revenue_customers=1)
    run_analysis(data_dir=data_dir, results_dir=base / "results", seed=3, quick=True, n_jobs=1)
    return base / "results"


@pytest.fixture(scope="module")
def new_export(tmp_path_factory):
    """An export to score: 2,500 customers, some not regular and some with implausible revenue."""
    directory = tmp_path_factory.mktemp("new") / "export"
    write_exports(directory, n_customers=2500, seed=5, with_target=False, zero_revenue_customers=40,
                  extreme_revenue_customers=3)
    return directory


def _score(data_dir, results, out, *options) -> tuple[int, str]:
    code, _, stderr = run_cli("score", "--data-dir", str(data_dir), "--results-dir", str(results),
                              "--out", str(out), *options)
    return code, stderr


def test_typical_stream_equals_memory_with_several_buckets(model_dir, new_export, tmp_path):
    code, stderr = _score(new_export, model_dir, tmp_path / "memory.csv")
    assert code == 0, stderr
    # 7 buckets of ~400 customers, files read 1,000 rows at a time: every chunk straddles buckets.
    out = score_streaming(new_export, model_dir, tmp_path / "stream.csv", chunk_customers=400, rows=1000)
    assert out.read_bytes() == (tmp_path / "memory.csv").read_bytes()
    offers = pd.read_csv(out)
    assert len(offers) == 2500 and offers["id"].is_monotonic_increasing
    assert (offers["reason"].str.startswith("extreme_revenue")).sum() == 3  # export-wide medians, not a bucket's


def test_stream_equals_memory_on_real_data(real_data_dir, model_dir, tmp_path):
    # The model of `python -m analysis run` when it is there (the real model), else the synthetic one.
    results = RESULTS_DIR if (RESULTS_DIR / MODEL_PATH_NAME).exists() else model_dir
    code, stderr = _score(real_data_dir, results, tmp_path / "memory.csv")
    assert code == 0, stderr
    code, stderr = _score(real_data_dir, results, tmp_path / "stream.csv", "--engine", "stream",
                          "--chunk-customers", "250")
    assert code == 0, stderr
    assert (tmp_path / "stream.csv").read_bytes() == (tmp_path / "memory.csv").read_bytes()
    assert "extreme_revenue" in (tmp_path / "stream.csv").read_text(encoding="utf-8")


def test_partition_keeps_each_customer_whole_and_its_lines(new_export, tmp_path):
    partition = partition_export(new_export, tmp_path / "work", chunk_customers=500, rows=777)
    assert len(partition.buckets) == 5
    seen = {name: 0 for name in EXPORT_FILES}
    previous_max = -np.inf
    for bucket in partition.buckets:
        ids = {}
        for name in EXPORT_FILES:
            original = (new_export / name).read_text(encoding="utf-8").splitlines()
            text = (bucket / name).read_text(encoding="utf-8").splitlines()
            lines = np.fromfile(bucket / f"{name}.lines", dtype=np.int64)
            assert text[0] == original[0] and len(text) - 1 == len(lines)
            # Each row is written back exactly as it stands on its original line.
            assert all(original[line - 1] == row for line, row in zip(lines, text[1:]))
            sep = ";" if name == "money.csv" else ","
            ids[name] = {int(row.split(sep)[0]) for row in text[1:]}
            seen[name] += len(lines)
        assert ids["market_money.csv"] == ids["market_file.csv"] == ids["market_time.csv"] == ids["money.csv"]
        assert min(ids["market_file.csv"]) > previous_max  # buckets are increasing id ranges
        previous_max = max(ids["market_file.csv"])
    for name in EXPORT_FILES:  # no row lost or doubled
        assert seen[name] == len((new_export / name).read_text(encoding="utf-8").splitlines()) - 1


def _corrupt(directory: Path, name: str, line: int, edit) -> None:
    path = directory / name
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    edited = edit(lines[line - 1])
    lines[line - 1: line] = [] if edited is None else [edited]
    path.write_bytes("\r\n".join(lines).encode("utf-8"))


CORRUPTIONS = {
    "not a number": ("market_money.csv", 6001, lambda row: row.rsplit(",", 1)[0] + ",abc"),
    # unknown service types and categories are scored as "not scored"; an unknown consent value is still refused
    "unknown category": ("market_file.csv", 2222, lambda row: row.replace(",да,", ",может,", 1).replace(",нет,", ",может,", 1)),
    "extra field": ("market_time.csv", 4321, lambda row: row + ",7"),
    "blank line": ("money.csv", 1800, lambda row: ""),
    "conflicting duplicate": ("market_time.csv", 4400, None),
    "not UTF-8": ("market_file.csv", 1999, None),
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_raises_same_error_as_memory(kind, model_dir, new_export, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in EXPORT_FILES:
        (bad / name).write_bytes((new_export / name).read_bytes())
    name, line, edit = CORRUPTIONS[kind]
    if kind == "conflicting duplicate":
        rows = (bad / name).read_bytes().decode("utf-8").split("\r\n")
        first = rows[99]  # line 100: repeated deep in the file with another value
        edit = lambda row: first.rsplit(",", 1)[0] + ",999"  # noqa: E731
    if kind == "not UTF-8":  # one row saved in cp1251, deep in the file
        rows = (bad / name).read_bytes().split(b"\r\n")
        rows[line - 1] = rows[line - 1].decode("utf-8").encode("cp1251")
        (bad / name).write_bytes(b"\r\n".join(rows))
    else:
        _corrupt(bad, name, line, edit)
    memory = _score(bad, model_dir, tmp_path / "m.csv")
    stream = _score(bad, model_dir, tmp_path / "s.csv", "--engine", "stream", "--chunk-customers", "300")
    assert memory[0] == stream[0] == 2
    assert stream[1] == memory[1]
    assert f"{name}:" in stream[1]
    assert not (tmp_path / "s.csv").exists() and not list(tmp_path.glob(".s.csv*"))  # nothing half-written


def test_raises_on_bad_options(model_dir, new_export, tmp_path):
    code, stderr = _score(new_export, model_dir, tmp_path / "o.csv", "--engine", "dask")
    assert code == 2 and stderr.startswith("error: --engine dask needs --scheduler ADDRESS")
    code, stderr = _score(new_export, model_dir, tmp_path / "o.csv", "--engine", "stream", "--chunk-customers", "0")
    assert code == 2 and stderr.startswith("error: chunk_customers must be a positive integer, got 0")
    code, stderr = _score(new_export, model_dir, tmp_path / "o.csv", "--scheduler", "tcp://x:1")
    assert code == 2 and "do not apply to the in-memory engine" in stderr


def test_dask_local_cluster_equals_single_machine(model_dir, new_export, tmp_path):
    distributed = pytest.importorskip("distributed")
    code, stderr = _score(new_export, model_dir, tmp_path / "memory.csv")
    assert code == 0, stderr
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        code, stderr = _score(new_export, model_dir, tmp_path / "dask.csv", "--engine", "dask",
                              "--scheduler", cluster.scheduler_address, "--chunk-customers", "400")
    assert code == 0, stderr
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "memory.csv").read_bytes()


def test_raises_same_errors_when_several_ranges_fail(model_dir, new_export, tmp_path):
    """Value errors in two ranges and a structural one in a third: validation of the whole export stops at the
    value errors, in rule order (market_file first although its line is later in the id order), so must streaming."""
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in EXPORT_FILES:
        (bad / name).write_bytes((new_export / name).read_bytes())
    _corrupt(bad, "market_money.csv", 301, lambda row: row.rsplit(",", 1)[0] + ",-5.0")
    _corrupt(bad, "market_file.csv", 2400, lambda row: "2400.5," + row.split(",", 1)[1])
    _corrupt(bad, "market_money.csv", 7000, lambda row: row.rsplit(",", 1)[0] + ",")
    _corrupt(bad, "market_time.csv", 3000, lambda row: None)  # a customer without a period row
    _corrupt(bad, "money.csv", 900, lambda row: "")  # a blank line inside the file
    memory = _score(bad, model_dir, tmp_path / "m.csv")
    stream = _score(bad, model_dir, tmp_path / "s.csv", "--engine", "stream", "--chunk-customers", "300")
    assert memory[0] == stream[0] == 2
    assert stream[1] == memory[1]
    assert len(stream[1].splitlines()) >= 3
