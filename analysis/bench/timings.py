"""``make bench``: time ``make report`` and every stage on the real data and on synthetic customers.

Sections (``--only``; ``make bench BENCH_ARGS="--only report scaling"``): ``report``, the three ``make report``
timings of issue 12 in a fresh copy of the project (empty ``results/`` and render cache, nothing changed, a
prose-only edit of report.qmd; targets 22 s, 8 s, 10 s); ``scaling``, ``run`` on 5,000 and 20,000 synthetic
customers (target for 20,000: 10 minutes); ``stages``, the rows below; ``stream``, only the "score stream" rows
(and the ``run`` on the real data that fits their model).

Each configuration runs in its own subprocess so that its peak memory (maximum resident set size, read
after each stage from ``VmHWM``, hence "peak so far"; see :func:`_peak_mib`) is its own. Targets (from the issues): data stage
for 1 M customers ≤ 20 s and ≤ 4 GiB, 10× more customers ≤ 12× the time; logit fit on 1 M ≤ 30 s; scoring
1 M end to end ≤ 30 s and ≤ 4 GiB; ``run`` on the real data ≤ 60 s; ``score --engine stream --fail-on-drift``
on 10 M customers (about 70 M CSV rows) with ``marketing_6m`` halved, with peak RSS ≤ 3 GiB, ``drift.csv`` and
``score_summary.csv`` over every customer and exit status 3 (alert on ``marketing_6m``), and 10× the customers
≤ 11× the time (rows "score stream", sizes ``--stream-sizes``; ``--only stream`` for these rows alone).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

SIZES = (10_000, 100_000, 1_000_000)
STREAM_SIZES = (1_000_000, 10_000_000)


def _peak_mib() -> float:
    """Peak resident memory of this process so far, MiB: ``VmHWM`` of ``/proc/self/status`` where there is one
    (Linux), else ``getrusage``'s ``ru_maxrss``.

    Not ``ru_maxrss`` first: Linux carries the parent's high-water mark into a child started by vfork and exec,
    as :mod:`subprocess` starts the workers, so a worker spawned after this process wrote the 10 M-customer
    export (about 4.8 GiB here) reported 4.85 GiB for a run whose own peak was 0.7 GiB. ``VmHWM`` belongs to
    the address space the worker's exec created."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker_data(data_dir: str) -> list[dict]:
    """Read, validate and build the customer table, timing each stage."""
    from analysis.data.load import read_exports
    from analysis.data.customers import customer_data
    from analysis.data.validate import validate_exports

    rows = []
    start = time.perf_counter()
    raw = read_exports(Path(data_dir))
    rows.append({"stage": "read", "seconds": time.perf_counter() - start, "peak_mib": _peak_mib()})
    start = time.perf_counter()
    validated = validate_exports(raw)
    rows.append({"stage": "validate", "seconds": time.perf_counter() - start, "peak_mib": _peak_mib()})
    start = time.perf_counter()
    data = customer_data(validated)
    rows.append({"stage": "build table", "seconds": time.perf_counter() - start, "peak_mib": _peak_mib()})
    rows.append({"stage": "data stage total", "seconds": sum(r["seconds"] for r in rows), "peak_mib": _peak_mib()})
    rows[-1]["rows"] = len(data.model_table)
    return rows


def worker_logit(data_dir: str, formula: str) -> list[dict]:
    """Fit the chosen logit on a synthetic table (the data stage is not timed here)."""
    from analysis.data.dataset import load_dataset
    from analysis.modeling.features import model_frame
    from stats.logit import fit_logit

    frame = model_frame(load_dataset(data_dir).model_table)
    start = time.perf_counter()
    result = fit_logit(f"activity_decline ~ {formula}", frame)
    seconds = time.perf_counter() - start
    return [{"stage": "logit fit", "seconds": seconds, "peak_mib": _peak_mib(), "rows": int(result.nobs)}]


def worker_score(data_dir: str, results_dir: str, out: str) -> list[dict]:
    """Score an export without the target end to end: read, validate, features, predict, offers, write."""
    from analysis.scoring.memory import score_export

    start = time.perf_counter()
    score_export(data_dir, Path(results_dir), Path(out))
    rows = len(pd.read_csv(out, usecols=["id"]))
    return [{"stage": "score end to end", "seconds": time.perf_counter() - start, "peak_mib": _peak_mib(),
             "rows": rows}]


#: The stream rows score an export whose ``marketing_6m`` is halved (:func:`analysis.data.synthetic.write_exports`,
#: ``scale``) with ``--fail-on-drift``: the drift checks run over every range and must stop the command.
STREAM_SCALE = {"marketing_6m": 0.5}
STREAM_STAGE = "score stream end to end (drift, --fail-on-drift)"


def worker_stream(data_dir: str, results_dir: str, out: str) -> list[dict]:
    """``python -m analysis score --engine stream --fail-on-drift`` in this process (so that its peak memory
    is this process's), on an export with ``marketing_6m`` halved: time, peak memory, exit status, the
    features with a drift alert, and the customers of ``score_summary.csv``."""
    from analysis.cli import main

    start = time.perf_counter()
    code = main(["score", "--data-dir", data_dir, "--results-dir", results_dir, "--out", out,
                 "--engine", "stream", "--fail-on-drift"])
    seconds = time.perf_counter() - start
    peak = _peak_mib()
    rows = sum(len(chunk) for chunk in pd.read_csv(out, usecols=["id"], chunksize=1_000_000))
    drift = pd.read_csv(Path(out).parent / "drift.csv")
    summary = pd.read_csv(Path(out).parent / "score_summary.csv", keep_default_na=False)
    alerts = list(dict.fromkeys(drift.loc[drift["status"] == "alert", "feature"]))
    read = int(summary.set_index("quantity").loc["customers_read", "customers"])
    return [{"stage": STREAM_STAGE, "seconds": seconds, "peak_mib": peak, "rows": rows, "exit": code,
             "drift_alerts": " ".join(alerts), "customers_read": read}]


#: Targets of issue 12 (seconds): ``make report`` with an empty results/ and no render cache, with nothing
#: changed, after a prose-only edit of report.qmd; ``run`` on 20,000 synthetic customers.
REPORT_TARGETS = {"make report (empty results/)": 22.0, "make report (nothing changed)": 8.0,
                  "make report (prose edit of report.qmd)": 10.0}
SCALING_SIZES = (5_000, 20_000)
SCALING_TARGETS = {20_000: 600.0}
#: The sentence appended to report.qmd for the prose-edit timing (text only: no chunk, no inline expression).
PROSE_EDIT = "\nThis sentence was added by `make bench` to time a prose-only edit.\n"


def _project_copy(destination: Path) -> Path:
    """The tracked files of this checkout (as they are on disk) in ``destination``, with ``.venv`` linked, so
    that ``make report`` runs there exactly as in the checkout but from an empty ``results/`` and render cache."""
    import shutil

    from analysis.paths import ROOT

    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)  # modification times kept: make sees the venv as up to date
    os.symlink(ROOT / ".venv", destination / ".venv")
    return destination


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed_make(project: Path, data_dir: str) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system, of every process the command started and waited for) of one
    ``make report``."""
    cpu, start = _children_cpu(), time.perf_counter()
    completed = subprocess.run(["make", "--no-print-directory", "report", f"DATA_DIR={data_dir}"], cwd=project,
                               capture_output=True, text=True)
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if completed.returncode != 0:
        raise RuntimeError(f"make report failed: {completed.stderr[-800:]}")
    return seconds, cpu


def report_timings(data_dir: str, workdir: Path) -> list[dict]:
    """``make report`` three times in a fresh copy of the project: from an empty results/ (the analysis runs),
    with nothing changed (the analysis is reused through the manifest), after a prose-only edit of report.qmd."""
    project = _project_copy(workdir / "project")

    def row(stage: str) -> dict:
        seconds, cpu = _timed_make(project, data_dir)
        return {"data": "real (1,300)", "stage": stage, "seconds": seconds, "cpu_seconds": cpu}

    rows = [row("make report (empty results/)"), row("make report (nothing changed)")]
    qmd = project / "report.qmd"
    qmd.write_text(qmd.read_text(encoding="utf-8") + PROSE_EDIT, encoding="utf-8")
    rows.append(row("make report (prose edit of report.qmd)"))
    for row in rows:
        row["target_seconds"] = REPORT_TARGETS[row["stage"]]
    return rows


def scaling_timings(sizes, workdir: Path) -> list[dict]:
    """``python -m analysis run`` (full protocol) on synthetic exports of ``sizes`` customers, wall clock."""
    from analysis.data.synthetic import write_exports

    rows = []
    for size in sizes:
        export = workdir / f"scaling{size}"
        write_exports(export, n_customers=size, seed=size)
        start = time.perf_counter()
        completed = subprocess.run([sys.executable, "-m", "analysis", "run", "--data-dir", str(export),
                                    "--results-dir", str(workdir / f"scaling_results{size}")],
                                   capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if completed.returncode != 0:
            raise RuntimeError(f"run on {size} customers failed: {completed.stderr[-800:]}")
        rows.append({"data": f"synthetic {size:,}", "stage": "run (process, wall clock)", "seconds": seconds,
                     "target_seconds": SCALING_TARGETS.get(size)})
    return rows


def _spawn(*args: str) -> list[dict]:
    completed = subprocess.run([sys.executable, "-m", "analysis.bench.timings", "--worker", *args],
                               capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"timings worker {args[0]} failed: {completed.stderr.strip().splitlines()[-1:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.bench.timings", description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--data-dir", default=None, help="the real exports (default: as for `run`)")
    parser.add_argument("--skip-run", action="store_true", help="do not time `run` on the real data")
    parser.add_argument("--stream-sizes", type=int, nargs="*", default=list(STREAM_SIZES),
                        help="customers of the exports scored with --engine stream (none: skip)")
    parser.add_argument("--only", choices=("all", "report", "scaling", "stages", "stream", "coverage"), nargs="+",
                        default=["all"],
                        help="report: the three `make report` timings; scaling: `run` on --scaling-sizes synthetic "
                             "customers; stages: the stage, fit and scoring rows, streaming included; stream: "
                             "only `run` on the real data (for the model) and the --stream-sizes rows; coverage: "
                             "the coverage of the headline bootstrap intervals on simulated exports (about half an "
                             "hour on two cores; never part of all) (default: all)")
    parser.add_argument("--coverage-exports", type=int, default=200)
    parser.add_argument("--coverage-replicates", type=int, default=200)
    parser.add_argument("--coverage-floor", type=float, nargs="+", default=[0.0, 0.1],
                        help="background decline γ of the simulated process (one coverage table per value)")
    parser.add_argument("--scaling-sizes", type=int, nargs="*", default=list(SCALING_SIZES))
    args = parser.parse_args(argv)

    if args.worker:
        kind, *rest = args.worker
        rows = {"data": worker_data, "logit": worker_logit, "score": worker_score,
                "stream": worker_stream}[kind](*rest)
        print(json.dumps(rows))
        return 0

    from analysis.paths import resolve_data_dir

    real_dir = str(resolve_data_dir(args.data_dir))
    only = {"report", "scaling", "stages"} if "all" in args.only else set(args.only)
    table = []
    with tempfile.TemporaryDirectory(prefix="oneclick-bench-") as tmp:
        tmp = Path(tmp)
        if "report" in only:
            table += report_timings(real_dir, tmp)
        if "scaling" in only:
            table += scaling_timings(args.scaling_sizes, tmp)
        if "stages" in only:
            table += stage_timings(args, real_dir, tmp)
        elif "stream" in only:
            table += stream_timings(args.stream_sizes, _real_run(real_dir, tmp / "results")[0], tmp)
    if "coverage" in only:
        from analysis.bench.coverage import coverage

        for floor in args.coverage_floor:
            start = time.perf_counter()
            cov = coverage(args.coverage_exports, args.coverage_replicates, 1300, seed=1, n_jobs=2, floor=floor)
            seconds = time.perf_counter() - start
            print(f"true process with a background decline γ = {floor:g}")
            print(cov.to_markdown(index=False, floatfmt=".4f"))
            for row in cov.itertuples():
                verdict = "met" if 0.93 <= row.coverage <= 0.97 else "NOT met"
                print(f"γ = {floor:g}: coverage of the 95 % {row.interval} interval of {row.statistic}: "
                      f"{row.coverage:.3f} (SE {row.coverage_se:.3f}) over {row.exports} exports "
                      f"(target 0.93–0.97: {verdict})")
            table.append({"data": f"simulated ({args.coverage_exports} exports, γ = {floor:g})",
                          "stage": f"coverage of the headline intervals ({args.coverage_replicates} bootstrap "
                          "replicates each)", "seconds": seconds})
    frame = pd.DataFrame(table)
    shown = frame.copy()
    for column in ("exit", "customers_read"):  # integers, blank on the rows that have none
        if column in shown:
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.0f}")
    print(shown.to_markdown(index=False, floatfmt=".2f"))
    if "target_seconds" in frame:
        for row in frame.dropna(subset=["target_seconds"]).itertuples():
            verdict = "met" if row.seconds <= row.target_seconds else "NOT met"
            print(f"{row.data}, {row.stage}: {row.seconds:.1f} s (target ≤ {row.target_seconds:g} s: {verdict})")
    if "cpu_seconds" in frame:
        cores = len(os.sched_getaffinity(0))
        for row in frame.dropna(subset=["cpu_seconds"]).itertuples():
            print(f"{row.data}, {row.stage}: {row.cpu_seconds:.1f} CPU-s, so at least "
                  f"{row.cpu_seconds / cores:.1f} s of wall clock on {cores} cores without removing work")
    _print_ratios(frame, args)
    return 0


def _real_run(real_dir: str, results: Path) -> tuple[Path, list[dict]]:
    """``python -m analysis run`` on the real data into ``results`` (the model the scoring rows use), timed."""
    start = time.perf_counter()
    completed = subprocess.run([sys.executable, "-m", "analysis", "run", "--data-dir", real_dir,
                                "--results-dir", str(results)], capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"run failed: {completed.stderr[-500:]}")
    rows = [{"data": "real (1,300)", "stage": f"run: {stage.stage}", "seconds": stage.seconds}
            for stage in pd.read_csv(results / "run_times.csv").itertuples()]
    rows.append({"data": "real (1,300)", "stage": "run (process, wall clock)",
                 "seconds": time.perf_counter() - start})
    return results, rows


def stream_timings(sizes, results: Path, tmp: Path) -> list[dict]:
    """The "score stream" rows: ``score --engine stream --fail-on-drift`` on synthetic exports of ``sizes``
    customers with ``marketing_6m`` halved (:data:`STREAM_SCALE`); each must write ``drift.csv`` and
    ``score_summary.csv`` over all its customers and exit 3 with an alert on ``marketing_6m``."""
    from analysis.data.synthetic import write_exports

    table = []
    for size in sizes:
        export = tmp / f"stream{size}"
        write_exports(export, n_customers=size, seed=size + 2, with_target=False, scale=STREAM_SCALE)
        out = tmp / f"stream_out{size}" / "offers.csv"
        for row in _spawn("stream", str(export), str(results), str(out)):
            if row["customers_read"] != size or row["rows"] != size:
                raise RuntimeError(f"score stream on {size:,} customers: {row['customers_read']:,} read and "
                                   f"{row['rows']:,} offers")
            table.append({"data": f"synthetic {size:,}", **row})
        for path in list(export.glob("*.csv")) + list(out.parent.glob("*.csv")):
            path.unlink()
    return table


def stage_timings(args, real_dir: str, tmp: Path) -> list[dict]:
    """The stage, fit and scoring rows (real data, synthetic sizes, streaming)."""
    from analysis.data.synthetic import write_exports

    table = []
    results = tmp / "results"
    for row in _spawn("data", real_dir):
        table.append({"data": "real (1,300)", **row})
    if not args.skip_run:
        table += _real_run(real_dir, results)[1]
    formula = (pd.read_csv(results / "run_info.csv")["formula"].iloc[0] if not args.skip_run
               else None)
    for size in args.sizes:
        export = tmp / f"syn{size}"
        start = time.perf_counter()
        write_exports(export, n_customers=size, seed=size)
        label = f"synthetic {size:,}"
        table.append({"data": label, "stage": "write synthetic export", "seconds": time.perf_counter() - start})
        for row in _spawn("data", str(export)):
            table.append({"data": label, **row})
        if formula is not None:
            for row in _spawn("logit", str(export), formula):
                table.append({"data": label, **row})
            scoring = tmp / f"score{size}"
            write_exports(scoring, n_customers=size, seed=size + 1, with_target=False)
            for row in _spawn("score", str(scoring), str(results), str(tmp / f"offers{size}.csv")):
                table.append({"data": label, **row})
        for path in list(export.glob("*.csv")) + list(tmp.glob(f"score{size}/*.csv")):
            path.unlink()
    if not args.skip_run:
        table += stream_timings(args.stream_sizes, results, tmp)
    return table


def _print_ratios(frame: pd.DataFrame, args) -> None:
    if "stage" not in frame:
        return
    data_totals = frame[frame["stage"] == "data stage total"].set_index("data")["seconds"]
    labels = [f"synthetic {s:,}" for s in args.sizes]
    for small, large in zip(labels, labels[1:]):
        if small in data_totals and large in data_totals:
            print(f"scaling {small} -> {large}: {data_totals[large] / data_totals[small]:.1f}× the time "
                  "(target ≤ 12× for 10× the customers)")
    for row in frame[frame["stage"] == STREAM_STAGE].itertuples():
        verdict = "as expected" if row.exit == 3 and "marketing_6m" in row.drift_alerts.split() else "NOT as expected"
        print(f"{row.data}, score stream with marketing_6m halved: exit {row.exit:g}, drift alert on "
              f"{row.drift_alerts or 'nothing'}, {row.customers_read:,.0f} customers read (expected exit 3 with an "
              f"alert on marketing_6m: {verdict}); peak {row.peak_mib / 1024:.2f} GiB (target ≤ 3 GiB)")
    stream = frame[frame["stage"] == STREAM_STAGE].set_index("data")["seconds"]
    stream_labels = [f"synthetic {s:,}" for s in args.stream_sizes]
    for small, large in zip(stream_labels, stream_labels[1:]):
        if small in stream and large in stream:
            ratio = int(large.split()[1].replace(",", "")) / int(small.split()[1].replace(",", ""))
            print(f"score stream {small} -> {large}: {stream[large] / stream[small]:.1f}× the time for "
                  f"{ratio:g}× the customers (target ≤ 11× for 10×)")


if __name__ == "__main__":
    sys.exit(main())
