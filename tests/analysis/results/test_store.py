"""Atomic runs with a manifest (analysis.results.store): verification, reuse, interruption, tampering.

One quick run on a small synthetic export (400 customers) is shared by the module; a forced second run checks
that a fresh run gives the same bytes as the one reused.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis import report
from analysis import runner
from analysis.settings import FULL, QUICK
from analysis.results import store as results_store
from analysis.results.store import MANIFEST_NAME, ResultsError, reusable, verify
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[3]
SEED = FULL.seed  # the default of `python -m analysis run`


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("store") / "export"
    proc = subprocess.run([sys.executable, "-m", "analysis.data.synthetic", "--customers", "400", "--seed", "1",
                           "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def first_run(export) -> tuple[Path, dict[str, bytes], str]:
    """(results directory, its bytes after the first run, stdout of the run)."""
    results = export.parent / "results"
    code, out, err = run_cli("run", "--data-dir", str(export), "--quick", "--results-dir", str(results))
    assert code == 0, err
    return results, _snapshot(results), out


def test_typical_manifest_records_the_run(first_run, export):
    results, files, out = first_run
    assert "reused" not in out
    manifest = json.loads(files[MANIFEST_NAME])
    assert manifest["seed"] == SEED and manifest["protocol"] == "quick"
    assert manifest["protocol_settings"] == QUICK.to_dict()
    # the hashes, recomputed here with hashlib (and sha256sum when the system has it)
    for name, digest in manifest["inputs"].items():
        assert digest == hashlib.sha256((export / name).read_bytes()).hexdigest()
    assert sorted(manifest["inputs"]) == sorted(p.name for p in export.glob("*.csv"))
    assert set(manifest["results"]) == set(files) - {MANIFEST_NAME}
    for name, digest in manifest["results"].items():
        assert digest == hashlib.sha256(files[name]).hexdigest(), name
    if shutil.which("sha256sum"):
        line = subprocess.run(["sha256sum", str(results / "model_fit.csv")], capture_output=True, text=True).stdout
        assert line.split()[0] == manifest["results"]["model_fit.csv"]
    assert len(manifest["code"]["sha256"]) == 64 and manifest["code"]["files"] > 20
    assert manifest["packages"]["statsmodels"] and manifest["packages"]["python"]
    text = files[MANIFEST_NAME].decode()
    assert str(export.parent) not in text and str(ROOT) not in text  # no absolute path of the machine
    # nothing left beside the target
    assert sorted(p.name for p in results.parent.iterdir()) == ["export", "results"]
    assert verify(results)["run_id"] == manifest["run_id"]


def test_reused_run_returns_at_once_and_fresh_run_gives_the_same_bytes(first_run, export):
    results, files, _ = first_run
    run_id = json.loads(files[MANIFEST_NAME])["run_id"]
    started = time.perf_counter()
    code, out, err = run_cli("run", "--data-dir", str(export), "--quick", "--results-dir", str(results))
    seconds = time.perf_counter() - started
    assert code == 0, err
    assert out.strip() == f"analysis reused (results match manifest {run_id})"
    assert seconds < 5, seconds
    assert _snapshot(results) == files  # nothing rewritten

    code, out, err = run_cli("run", "--data-dir", str(export), "--quick", "--results-dir", str(results), "--force")
    assert code == 0, err
    assert "reused" not in out
    fresh = _snapshot(results)
    new_manifest = json.loads(fresh.pop(MANIFEST_NAME))
    old = dict(files)
    old.pop(MANIFEST_NAME)
    assert new_manifest["run_id"] != run_id
    assert set(fresh) == set(old)
    # run_times.csv holds wall-clock stage times, which differ on every run; every other file is identical
    differing = sorted(name for name in old if fresh[name] != old[name])
    assert differing == ["run_times.csv"], differing
    # restore the first run for the other tests (its manifest matches these bytes)
    shutil.rmtree(results)
    results.mkdir()
    for name, payload in files.items():
        (results / name).write_bytes(payload)
    verify(results)


def test_changed_data_seed_protocol_code_or_versions_invalidate_reuse(first_run, export, tmp_path, monkeypatch):
    results, _, _ = first_run
    assert reusable(results, export, QUICK.to_dict())
    assert not reusable(results, export, QUICK.replace(seed=SEED + 1).to_dict())
    assert not reusable(results, export, QUICK.replace(risk_threshold=0.6).to_dict())
    assert not reusable(results, export, FULL.to_dict())

    same = shutil.copytree(export, tmp_path / "same")  # same bytes elsewhere: still reusable
    assert reusable(results, same, QUICK.to_dict())
    changed = shutil.copytree(export, tmp_path / "changed")
    money = changed / "money.csv"
    money.write_bytes(money.read_bytes() + b"\n")
    assert not reusable(results, changed, QUICK.to_dict())
    (same / "market_time.csv").unlink()
    assert not reusable(results, same, QUICK.to_dict())

    # the code version: an identical copy of the source tree hashes the same, a one-byte edit does not
    tree = tmp_path / "tree"
    for name in results_store.CODE_DIRS:
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    original = results_store.code_version
    assert original(tree)["sha256"] == original()["sha256"]
    source = tree / "stats" / "logit.py"
    source.write_text(source.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert original(tree)["sha256"] != original()["sha256"]
    monkeypatch.setattr(results_store, "code_version", lambda root=tree: original(root))
    assert not reusable(results, export, QUICK.to_dict())
    monkeypatch.setattr(results_store, "code_version", original)
    assert reusable(results, export, QUICK.to_dict())

    versions = results_store.package_versions()
    monkeypatch.setattr(results_store, "package_versions", lambda: {**versions, "statsmodels": "0.0.1"})
    assert not reusable(results, export, QUICK.to_dict())


def test_report_edit_does_not_change_the_code_version(tmp_path):
    """The renderer and report.qmd are outside the hashed trees."""
    tree = tmp_path / "tree"
    for name in (*results_store.CODE_DIRS, "qmdrender"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    before = results_store.code_version(tree)["sha256"]
    (tree / "qmdrender" / "core.py").write_text("# edited\n", encoding="utf-8")
    (tree / "report.qmd").write_text("edited prose\n", encoding="utf-8")
    assert results_store.code_version(tree)["sha256"] == before


def test_run_interrupted_half_way_leaves_previous_results_verified(first_run, export, monkeypatch):
    results, files, _ = first_run
    from analysis import pipeline

    written_before_failure: list[str] = []

    def fail(*args, **kwargs):
        (fresh,) = results.parent.glob("results.tmp-*")
        written_before_failure.extend(p.name for p in fresh.iterdir())
        raise RuntimeError("stopped half-way")

    monkeypatch.setattr(pipeline.checks, "calibration_checks", fail)
    with pytest.raises(RuntimeError, match="stopped half-way"):
        runner.run(data_dir=export, results_dir=results, protocol=QUICK, force=True)
    assert len(written_before_failure) >= 10  # the failed run had written tables when it stopped
    assert _snapshot(results) == files
    assert verify(results)["run_id"] == json.loads(files[MANIFEST_NAME])["run_id"]
    assert sorted(p.name for p in results.parent.iterdir()) == ["export", "results"]


def test_killed_run_leaves_previous_results_verified(first_run, export):
    results, files, _ = first_run
    proc = subprocess.Popen([sys.executable, "-m", "analysis", "run", "--data-dir", str(export), "--quick",
                             "--results-dir", str(results), "--force"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            fresh = list(results.parent.glob("results.tmp-*"))
            if fresh and len(list(fresh[0].iterdir())) >= 10:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _snapshot(results) == files
    verify(results)
    for leftover in results.parent.glob("results.tmp-*"):  # a killed run cannot clean up after itself
        shutil.rmtree(leftover)


def test_tampered_missing_or_extra_files_are_refused_in_one_line(first_run, export, tmp_path):
    results, _, _ = first_run
    copy = shutil.copytree(results, tmp_path / "copy")
    verify(copy)
    target = copy / "model_fit.csv"
    target.write_bytes(target.read_bytes().replace(b"0", b"1", 1))
    with pytest.raises(ResultsError) as info:
        verify(copy)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{copy}: results do not match manifest ") and "changed model_fit.csv" in message
    assert not reusable(copy, export, QUICK.to_dict())
    with pytest.raises(ResultsError, match="changed model_fit.csv"):
        report.load_results(copy)  # the report refuses it too

    (copy / "vif.csv").unlink()
    (copy / "notes.csv").write_text("x\n1\n", encoding="utf-8")
    with pytest.raises(ResultsError) as info:
        verify(copy)
    assert "missing vif.csv" in str(info.value) and "not in the manifest: notes.csv" in str(info.value)

    (copy / MANIFEST_NAME).unlink()
    with pytest.raises(ResultsError, match="no manifest.json"):
        verify(copy)
    (copy / MANIFEST_NAME).write_text("{not json", encoding="utf-8")
    with pytest.raises(ResultsError, match="unreadable manifest"):
        verify(copy)


def test_cli_refuses_a_bad_export_in_one_line_and_keeps_results(first_run, tmp_path):
    results, files, _ = first_run
    bad = tmp_path / "bad"
    bad.mkdir()
    code, _, err = run_cli("run", "--data-dir", str(bad), "--quick", "--results-dir", str(results))
    assert code == 2 and err.startswith("error: ")
    assert _snapshot(results) == files
    assert sorted(p.name for p in results.parent.iterdir()) == ["export", "results"]


def test_score_refuses_a_results_bundle_that_does_not_match_its_manifest(first_run, export, tmp_path):
    import shutil

    results, _, _ = first_run
    copy = tmp_path / "bundle"
    shutil.copytree(results, copy)
    out = tmp_path / "offers.csv"
    code, _, err = run_cli("score", "--data-dir", str(export), "--results-dir", str(copy), "--out", str(out))
    assert code == 0, err  # the bundle as `run` wrote it is accepted
    with open(copy / "segment_thresholds.csv", "a", encoding="utf-8") as handle:
        handle.write("tampered,0,x\n")
    code, _, err = run_cli("score", "--data-dir", str(export), "--results-dir", str(copy), "--out", str(out))
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "segment_thresholds.csv" in err


def test_reuse_fast_path_answers_without_importing_pandas(first_run, export):
    """`python -m analysis run` on unchanged results decides with light imports (the pre-render of every render)."""
    results, files, _ = first_run
    run_id = json.loads(files[MANIFEST_NAME])["run_id"]
    code = ("import sys; from analysis.cli import main; status = main(sys.argv[1:]); "
            "print('heavy:', sorted(m for m in ('pandas', 'numpy', 'scipy', 'statsmodels') if m in sys.modules)); "
            "sys.exit(status)")
    proc = subprocess.run([sys.executable, "-c", code, "run", "--data-dir", str(export), "--quick",
                           "--results-dir", str(results)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"analysis reused (results match manifest {run_id})", "heavy: []"]
    assert _snapshot(results) == files


def test_reuse_fast_path_declines_whatever_the_full_path_would_not_reuse(first_run, export, tmp_path, monkeypatch):
    """Every change that invalidates reuse also sends the fast path to the full one (which then runs)."""
    from analysis.cli import _reused_at_once

    results, _, _ = first_run
    base = ["--data-dir", str(export), "--quick", "--results-dir", str(results)]
    assert _reused_at_once(base)
    assert not _reused_at_once(base + ["--force"])
    assert not _reused_at_once(base + ["--help"])
    assert not _reused_at_once(base + ["--no-such-option"])
    assert not _reused_at_once(base + ["--seed", "oops"])  # the full parser reports it
    assert not _reused_at_once(base + ["--seed", str(SEED + 1)])
    assert not _reused_at_once(["--data-dir", str(export), "--results-dir", str(results)])  # full protocol
    assert not _reused_at_once(["--data-dir", str(tmp_path / "nowhere"), "--quick", "--results-dir", str(results)])
    changed = shutil.copytree(export, tmp_path / "changed")
    money = changed / "money.csv"
    money.write_bytes(money.read_bytes() + b"\n")
    assert not _reused_at_once(["--data-dir", str(changed), "--quick", "--results-dir", str(results)])
    versions = results_store.package_versions()
    monkeypatch.setattr(results_store, "package_versions", lambda: {**versions, "pandas": "0.0.1"})
    assert not _reused_at_once(base)
    monkeypatch.undo()
    original = results_store.code_version
    monkeypatch.setattr(results_store, "code_version", lambda root=None: {**original(), "sha256": "0" * 64})
    assert not _reused_at_once(base)
    monkeypatch.undo()
    # a results bundle whose manifest names no export is never reused (nothing would be compared)
    copy = shutil.copytree(results, tmp_path / "copy")
    manifest = json.loads((copy / MANIFEST_NAME).read_text(encoding="utf-8"))
    (copy / MANIFEST_NAME).write_text(json.dumps({**manifest, "inputs": {}}), encoding="utf-8")
    assert not reusable(copy, export, QUICK.to_dict())
    assert _reused_at_once(base)  # the original is untouched
