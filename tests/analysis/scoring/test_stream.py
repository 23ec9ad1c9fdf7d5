"""score --engine stream|dask: the same offers, drift and summary files, byte for byte, and the same errors as the
in-memory path; --engine auto picks the engine by the size of the export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.settings import QUICK
from analysis.scoring import memory as scoring
from analysis.scoring import stream as streaming
from analysis.data.dataset import load_dataset
from analysis.data.dictionary import EXPORT_FILES
from analysis.pipeline import run_analysis
from analysis.scoring.stream import partition_export, score_streaming
from analysis.data.synthetic import write_exports
from tests.conftest import run_cli

OUTPUTS = ("offers.csv", "drift.csv", "score_summary.csv")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A model fitted by ``run`` on a synthetic export (quick protocol)."""
    base = tmp_path_factory.mktemp("streaming")
    data_dir = base / "train"
    write_exports(data_dir, n_customers=500, seed=11, zero_revenue_customers=2, extreme_revenue_customers=1)
    run_analysis(data_dir=data_dir, results_dir=base / "results", protocol=QUICK.replace(seed=3, n_jobs=1))
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


def _files(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in OUTPUTS}


def test_typical_stream_equals_memory_with_several_buckets(model_dir, new_export, tmp_path):
    code, stderr = _score(new_export, model_dir, tmp_path / "memory" / "offers.csv", "--engine", "memory")
    assert code == 0, stderr
    # 7 buckets of ~400 customers, files read 1,000 rows at a time: every chunk straddles buckets.
    run = score_streaming(new_export, model_dir, tmp_path / "stream" / "offers.csv", chunk_customers=400, rows=1000)
    assert _files(tmp_path / "stream") == _files(tmp_path / "memory")  # offers, drift and summary
    assert run.offers is None and (run.drift_path, run.summary_path) == (tmp_path / "stream" / "drift.csv",
                                                                         tmp_path / "stream" / "score_summary.csv")
    offers = pd.read_csv(run.offers_path)
    assert len(offers) == 2500 and offers["id"].is_monotonic_increasing
    assert (offers["reason"].str.startswith("extreme_revenue")).sum() == 3  # export-wide medians, not a bucket's
    summary = pd.read_csv(run.summary_path, keep_default_na=False).set_index(["quantity", "reason"])["customers"]
    assert summary[("customers_read", "")] == 2500  # from the ranges, not from one of them
    assert sorted(p.name for p in (tmp_path / "stream").iterdir()) == sorted(OUTPUTS)  # no bucket left behind


@pytest.fixture(scope="module")
def shifted_export(tmp_path_factory):
    """2,500 customers of the same process with marketing_6m halved after the target was drawn."""
    directory = tmp_path_factory.mktemp("shifted") / "export"
    write_exports(directory, n_customers=2500, seed=6, with_target=False, zero_revenue_customers=25,
                  extreme_revenue_customers=2, scale={"marketing_6m": 0.5})
    return directory


def test_drift_of_ranges_adds_up_to_the_whole_export(model_dir, shifted_export, tmp_path):
    """The drift statistics of the stream engine are sums of the ranges' counts: equal to the in-memory ones,
    and --fail-on-drift fires with both (exit 3, the same alert lines)."""
    assert len(partition_export(shifted_export, tmp_path / "cut", chunk_customers=400).buckets) >= 5
    memory = _score(shifted_export, model_dir, tmp_path / "memory" / "offers.csv", "--engine", "memory",
                    "--fail-on-drift")
    stream = _score(shifted_export, model_dir, tmp_path / "stream" / "offers.csv", "--engine", "stream",
                    "--chunk-customers", "400", "--fail-on-drift")
    assert memory[0] == stream[0] == 3
    assert stream[1] == memory[1]  # the warnings and the error line
    assert _files(tmp_path / "stream") == _files(tmp_path / "memory")
    drift = pd.read_csv(tmp_path / "stream" / "drift.csv")
    alerted = set(drift.loc[drift["status"] == "alert", "feature"])
    assert "marketing_6m" in alerted and alerted <= {"marketing_6m", "predicted_risk"}
    assert stream[1].splitlines()[-1].startswith("error: drift alert on marketing_6m")
    summary = pd.read_csv(tmp_path / "stream" / "score_summary.csv", keep_default_na=False)
    assert summary.set_index("quantity").loc["drift_alerts", "customers"] == len(alerted)


def test_drift_counts_of_a_range_are_its_own(model_dir, shifted_export, tmp_path):
    """Each range leaves the counts of its own customers: they differ between ranges and add up to the
    counts of the whole export (no range counts the whole export, none is counted twice)."""
    partition = partition_export(shifted_export, tmp_path / "cut", chunk_customers=400)
    rules = streaming.scoring_rules(str(model_dir))
    parts = []
    for bucket in partition.buckets:
        streaming.validate_bucket(bucket, rules)
        streaming.score_bucket(bucket, str(model_dir))
        parts.append(pd.read_pickle(bucket / streaming.COUNTS_NAME))
    reads = [int(p.summary.set_index("quantity").loc["customers_read", "customers"]) for p in parts]
    assert sum(reads) == 2500 and max(reads) < 2500 and len(set(reads)) > 1
    total = scoring.ScoreCounts.total(parts)
    spec = scoring.load_scoring_model(model_dir)
    whole = load_dataset(shifted_export, require_target=False, ignore_target=True,
                         revenue_medians=spec["rules"]["revenue_medians"],
                         open_categories=scoring.OPEN_CATEGORIES)
    offers = scoring.score_table(whole.model_table, whole.data.excluded, spec)
    counts = scoring.drift_counts(whole.model_table, offers, spec)
    summed = total.drift.groupby(["feature", "kind", "bin"], sort=False)["count"].sum().reset_index()
    pd.testing.assert_frame_equal(summed, counts)


def test_stream_equals_memory_on_real_data(real_data_dir, real_quick_run, tmp_path):
    # the model of a quick run on the real exports (the session's), never the checkout's results/
    results = real_quick_run
    code, stderr = _score(real_data_dir, results, tmp_path / "memory" / "offers.csv", "--engine", "memory")
    assert code == 0, stderr
    code, stderr = _score(real_data_dir, results, tmp_path / "stream" / "offers.csv", "--engine", "stream",
                          "--chunk-customers", "250")
    assert code == 0, stderr
    assert _files(tmp_path / "stream") == _files(tmp_path / "memory")
    assert "extreme_revenue" in (tmp_path / "stream" / "offers.csv").read_text(encoding="utf-8")


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
    memory = _score(bad, model_dir, tmp_path / "m.csv", "--engine", "memory")
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
    code, stderr = _score(new_export, model_dir, tmp_path / "o.csv", "--engine", "memory", "--scheduler", "tcp://x:1")
    assert code == 2 and "do not apply to the in-memory engine" in stderr
    code, stderr = _score(new_export, model_dir, tmp_path / "o.csv", "--scheduler", "tcp://x:1")  # --engine auto
    assert code == 2 and stderr == "error: --scheduler is only used with --engine dask\n"
    assert not (tmp_path / "o.csv").exists()


def test_dask_local_cluster_equals_single_machine(model_dir, shifted_export, tmp_path):
    distributed = pytest.importorskip("distributed")
    memory = _score(shifted_export, model_dir, tmp_path / "memory" / "offers.csv", "--engine", "memory",
                    "--fail-on-drift")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        dask = _score(shifted_export, model_dir, tmp_path / "dask" / "offers.csv", "--engine", "dask",
                      "--scheduler", cluster.scheduler_address, "--chunk-customers", "400", "--fail-on-drift")
    assert memory[0] == dask[0] == 3, dask[1]
    assert dask[1] == memory[1]
    assert _files(tmp_path / "dask") == _files(tmp_path / "memory")  # offers, drift (marketing_6m alert), summary


# --- --engine auto ----------------------------------------------------------------------------------------------

def test_auto_picks_memory_up_to_the_threshold_and_stream_above(model_dir, new_export, tmp_path, monkeypatch):
    size = sum((new_export / name).stat().st_size for name in EXPORT_FILES)
    assert streaming.export_bytes(new_export) == size
    assert streaming.choose_engine(new_export, threshold=size)[0] == "memory"
    assert streaming.choose_engine(new_export, threshold=size - 1)[0] == "stream"
    calls = []
    real_memory, real_stream = scoring.score_export, streaming.score_streaming
    monkeypatch.setattr(scoring, "score_export", lambda *a, **k: calls.append("memory") or real_memory(*a, **k))
    monkeypatch.setattr(streaming, "score_streaming",
                        lambda *a, **k: calls.append(k["engine"]) or real_stream(*a, **k))
    outputs = {}
    for threshold, engine in ((size, "memory"), (size - 1, "stream")):
        monkeypatch.setattr(streaming, "AUTO_STREAM_BYTES", threshold)
        code, stderr = _score(new_export, model_dir, tmp_path / engine / "offers.csv")
        assert code == 0, stderr
        assert calls[-1] == engine
        first = stderr.splitlines()[0]
        assert first.startswith(f"engine: {engine} (the export holds {size / 2**20:.1f} MiB, ")
        assert ("at most" if engine == "memory" else "above") in first
        outputs[engine] = _files(tmp_path / engine)
    assert outputs["stream"] == outputs["memory"]


def test_auto_threshold_is_documented():
    mib = f"{streaming.AUTO_STREAM_BYTES / 2**20:g} MiB"
    code, help_text, _ = run_cli("score", "--help")
    assert code == 0 and mib in " ".join(help_text.split())
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    assert "--engine auto" in readme and mib in readme


def test_auto_without_the_files_leaves_the_error_to_the_reader(model_dir, new_export, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in EXPORT_FILES[:-1]:
        (partial / name).write_bytes((new_export / name).read_bytes())
    assert streaming.export_bytes(partial) is None
    code, stderr = _score(partial, model_dir, tmp_path / "o.csv")
    assert code == 2 and stderr.startswith(f"error: {EXPORT_FILES[-1]}: file not found")


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
    memory = _score(bad, model_dir, tmp_path / "m.csv", "--engine", "memory")
    stream = _score(bad, model_dir, tmp_path / "s.csv", "--engine", "stream", "--chunk-customers", "300")
    assert memory[0] == stream[0] == 2
    assert stream[1] == memory[1]
    assert len(stream[1].splitlines()) >= 3
