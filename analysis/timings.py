"""``make bench``: time every stage on the real data and on synthetic 10 k / 100 k / 1 M customers.

Each configuration runs in its own subprocess so that its peak memory (maximum resident set size, read
with ``getrusage`` after each stage, hence "peak so far") is its own. Targets (from the issues): data stage
for 1 M customers ≤ 20 s and ≤ 4 GiB, 10× more customers ≤ 12× the time; logit fit on 1 M ≤ 30 s; scoring
1 M end to end ≤ 30 s and ≤ 4 GiB; ``run`` on the real data ≤ 60 s; ``score --engine stream`` on 10 M
customers (about 70 M CSV rows) with peak RSS ≤ 3 GiB, and 10× the customers ≤ 11× the time (rows "score
stream", sizes ``--stream-sizes``).
"""

from __future__ import annotations

import argparse
import json
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
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker_data(data_dir: str) -> list[dict]:
    """Read, validate and build the customer table, timing each stage."""
    from analysis.load import read_exports
    from analysis.table import customer_data
    from analysis.validate import validate_exports

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
    from analysis.dataset import load_dataset
    from analysis.features import model_frame
    from stats.logit import fit_logit

    frame = model_frame(load_dataset(data_dir).model_table)
    start = time.perf_counter()
    result = fit_logit(f"activity_decline ~ {formula}", frame)
    seconds = time.perf_counter() - start
    return [{"stage": "logit fit", "seconds": seconds, "peak_mib": _peak_mib(), "rows": int(result.nobs)}]


def worker_score(data_dir: str, results_dir: str, out: str) -> list[dict]:
    """Score an export without the target end to end: read, validate, features, predict, offers, write."""
    from analysis.scoring import score_export

    start = time.perf_counter()
    score_export(data_dir, Path(results_dir), Path(out))
    rows = len(pd.read_csv(out, usecols=["id"]))
    return [{"stage": "score end to end", "seconds": time.perf_counter() - start, "peak_mib": _peak_mib(),
             "rows": rows}]


def worker_stream(data_dir: str, results_dir: str, out: str) -> list[dict]:
    """Score an export without the target in bounded memory (``score --engine stream``)."""
    from analysis.streaming import score_streaming

    start = time.perf_counter()
    score_streaming(data_dir, Path(results_dir), Path(out), engine="stream")
    seconds = time.perf_counter() - start
    rows = sum(len(chunk) for chunk in pd.read_csv(out, usecols=["id"], chunksize=1_000_000))
    return [{"stage": "score stream end to end", "seconds": seconds, "peak_mib": _peak_mib(), "rows": rows}]


def _spawn(*args: str) -> list[dict]:
    completed = subprocess.run([sys.executable, "-m", "analysis.timings", "--worker", *args],
                               capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"timings worker {args[0]} failed: {completed.stderr.strip().splitlines()[-1:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.timings", description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--data-dir", default=None, help="the real exports (default: as for `run`)")
    parser.add_argument("--skip-run", action="store_true", help="do not time `run` on the real data")
    parser.add_argument("--stream-sizes", type=int, nargs="*", default=list(STREAM_SIZES),
                        help="customers of the exports scored with --engine stream (none: skip)")
    args = parser.parse_args(argv)

    if args.worker:
        kind, *rest = args.worker
        rows = {"data": worker_data, "logit": worker_logit, "score": worker_score,
                "stream": worker_stream}[kind](*rest)
        print(json.dumps(rows))
        return 0

    from analysis.paths import resolve_data_dir
    from analysis.synthetic import write_exports

    real_dir = str(resolve_data_dir(args.data_dir))
    table = []
    with tempfile.TemporaryDirectory(prefix="oneclick-bench-") as tmp:
        tmp = Path(tmp)
        results = tmp / "results"
        for row in _spawn("data", real_dir):
            table.append({"data": "real (1,300)", **row})
        if not args.skip_run:
            start = time.perf_counter()
            completed = subprocess.run([sys.executable, "-m", "analysis", "run", "--data-dir", real_dir,
                                        "--results-dir", str(results)], capture_output=True, text=True)
            if completed.returncode != 0:
                raise RuntimeError(f"run failed: {completed.stderr[-500:]}")
            stages = pd.read_csv(results / "run_times.csv")
            for stage in stages.itertuples():
                table.append({"data": "real (1,300)", "stage": f"run: {stage.stage}", "seconds": stage.seconds})
            table.append({"data": "real (1,300)", "stage": "run (process, wall clock)",
                          "seconds": time.perf_counter() - start})
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
        for size in args.stream_sizes if not args.skip_run else ():
            export = tmp / f"stream{size}"
            write_exports(export, n_customers=size, seed=size + 2, with_target=False)
            for row in _spawn("stream", str(export), str(results), str(tmp / f"stream_offers{size}.csv")):
                table.append({"data": f"synthetic {size:,}", **row})
            for path in list(export.glob("*.csv")) + [tmp / f"stream_offers{size}.csv"]:
                path.unlink()
    frame = pd.DataFrame(table)
    print(frame.to_markdown(index=False, floatfmt=".2f"))
    data_totals = frame[frame["stage"] == "data stage total"].set_index("data")["seconds"]
    labels = [f"synthetic {s:,}" for s in args.sizes]
    for small, large in zip(labels, labels[1:]):
        if small in data_totals and large in data_totals:
            print(f"scaling {small} -> {large}: {data_totals[large] / data_totals[small]:.1f}× the time "
                  "(target ≤ 12× for 10× the customers)")
    stream = frame[frame["stage"] == "score stream end to end"].set_index("data")["seconds"]
    stream_labels = [f"synthetic {s:,}" for s in args.stream_sizes]
    for small, large in zip(stream_labels, stream_labels[1:]):
        if small in stream and large in stream:
            ratio = int(large.split()[1].replace(",", "")) / int(small.split()[1].replace(",", ""))
            print(f"score stream {small} -> {large}: {stream[large] / stream[small]:.1f}× the time for "
                  f"{ratio:g}× the customers (target ≤ 11× for 10×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
