"""Command line: ``python -m analysis <command>``.

Commands: ``validate`` (check the exports, print the row accounting), ``run`` (the whole analysis, tables to
``results/``, swapped in whole with a manifest; reused when data, code, seed and protocol are unchanged),
``score`` (offers for a new export), ``fetch-data`` (download the exports), ``dictionary`` (print the data
dictionary as Markdown), ``experiment`` (plan, assign and analyze A/B tests). Invalid input ends with ``error:``
lines on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.settings import FULL, PROTOCOLS, Protocol

from analysis import paths

EXIT_INVALID = 2
#: ``score --fail-on-drift`` when a drift check alerts (the offers are written all the same).
EXIT_DRIFT = 3


def _mib(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:g}"


def _print_errors(lines: list[str]) -> None:
    for line in lines:
        print(f"error: {line}", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    from analysis.data.dataset import load_dataset

    dataset = load_dataset(args.data_dir, require_target=not args.no_target)
    for warning in dataset.validated.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"data directory: {dataset.data_dir}")
    for row in dataset.validated.typos.itertuples():
        print(f"typo corrected: {row.file} column '{row.column}': '{row.typo}' -> '{row.correction}' "
              f"({row.rows} rows)")
    print("row accounting:")
    print(dataset.data.accounting.to_string(index=False))
    for row in dataset.data.excluded.itertuples():
        print(f"excluded: id {row.id} ({row.step}): {row.detail}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from analysis import runner

    outcome = runner.run(data_dir=args.data_dir, results_dir=args.results_dir, protocol=run_protocol(args),
                         force=args.force)
    if outcome["reused"]:
        print(f"analysis reused (results match manifest {outcome['run_id']})")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from analysis.scoring import stream as streaming

    out = Path(args.out)
    if out.is_dir():
        _print_errors([f"--out {out}: is a directory; give the path of the CSV file to write"])
        return EXIT_INVALID
    if out.parent.exists() and not out.parent.is_dir():
        _print_errors([f"--out {out}: {out.parent} is not a directory"])
        return EXIT_INVALID
    engine = args.engine
    if engine == "memory" and (args.scheduler is not None or args.chunk_customers is not None):
        raise ValueError("--scheduler and --chunk-customers do not apply to the in-memory engine (--engine memory)")
    if engine == "auto":
        if args.scheduler is not None:
            raise ValueError("--scheduler is only used with --engine dask")
        from analysis.scoring.memory import load_scoring_model

        load_scoring_model(Path(args.results_dir))  # a missing or broken model: its one error line, nothing else
        engine, reason = streaming.choose_engine(paths.resolve_data_dir(args.data_dir))
        if reason:
            print(f"engine: {engine} ({reason})", file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    if engine == "memory":
        from analysis.scoring.memory import score_export

        run = score_export(data_dir=args.data_dir, results_dir=Path(args.results_dir), out=out)
    else:
        chunk = streaming.DEFAULT_CHUNK_CUSTOMERS if args.chunk_customers is None else args.chunk_customers
        run = streaming.score_streaming(args.data_dir, Path(args.results_dir), out, engine=engine,
                                        scheduler=args.scheduler, chunk_customers=chunk)
    for warning in run.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for path in (run.offers_path, run.drift_path, run.summary_path):
        print(f"wrote {path}")
    if args.fail_on_drift and run.drift_alerts:
        print(f"error: drift alert on {', '.join(run.drift_alerts)} (--fail-on-drift)", file=sys.stderr)
        return EXIT_DRIFT
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from analysis.data.fetch import FetchError, fetch_data

    try:
        written = fetch_data(Path(args.target))
    except FetchError as err:
        _print_errors([str(err)])
        return EXIT_INVALID
    for path in written:
        print(f"wrote {path}")
    return 0


def cmd_dictionary(args: argparse.Namespace) -> int:
    from analysis.data.dictionary import dictionary_markdown

    sys.stdout.write(dictionary_markdown())
    return 0


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``run`` after ``--data-dir`` (shared by the full parser and the reuse fast path)."""
    p.add_argument("--results-dir", default=None,
                   help="where the tables go (default: $ONECLICK_RESULTS_DIR, else results/)")
    p.add_argument("--seed", type=int, default=FULL.seed, help=f"seed of every random step (default {FULL.seed})")
    p.add_argument("--risk-threshold", type=float, default=FULL.risk_threshold,
                   help=f"P(decline) at or above which a customer is high risk (default {FULL.risk_threshold:g})")
    p.add_argument("--quick", action="store_true", help="a reduced CV protocol (for tests on small data)")
    p.add_argument("--force", action="store_true",
                   help="run even when results/ already holds this data, code, seed and protocol")


def run_protocol(args: argparse.Namespace) -> Protocol:
    """The protocol of a ``run``: full or quick, with the seed and risk threshold of the command line."""
    base = PROTOCOLS["quick" if args.quick else "full"]
    if not 0 < args.risk_threshold < 1:
        raise ValueError(f"--risk-threshold must lie strictly between 0 and 1, got {args.risk_threshold!r}")
    return base.replace(seed=args.seed, risk_threshold=args.risk_threshold)


def _reused_at_once(argv: list[str]) -> bool:
    """``run`` when results/ already holds this run: decide and answer with light imports only.

    The full command line imports pandas, scipy and statsmodels (through the loader and the experiment
    commands) before it does anything: more than a second, on every render's pre-render. Here only the
    manifest, the exports, the source files and the package metadata are read. False (nothing printed) sends
    the caller to the full path, which checks again and runs, or reports a bad option or input as usual.
    """
    if any(arg in ("-h", "--help") for arg in argv):
        return False
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    parser.add_argument("--data-dir", default=None)
    _add_run_arguments(parser)
    try:
        args, extra = parser.parse_known_args(argv)
    except (argparse.ArgumentError, SystemExit):
        return False
    if extra or args.force:
        return False
    from analysis import paths
    from analysis.results import store as results_store

    try:
        target = paths.resolve_results_dir(args.results_dir)
        if not results_store.reusable(target, args.data_dir, run_protocol(args).to_dict()):
            return False
        run_id = results_store.read_manifest(target)["run_id"]
    except (ValueError, OSError):
        return False  # the full path reports it in its own words
    print(f"analysis reused (results match manifest {run_id})")
    return True


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="The retention analysis of «В один клик»: validate the four exports, run the analysis into results/, "
                    "score a new export into per-customer offers, plan and analyse A/B tests of the store's actions.")
    sub = parser.add_subparsers(dest="command", required=True)

    def data_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", default=None,
                       help=f"directory of the four exports (default: ${paths.DATA_ENV_VAR}, data/raw/, "
                            "../shared/data/)")

    p = sub.add_parser("validate", help="validate the four exports and print the row accounting")
    data_dir(p)
    p.add_argument("--no-target", action="store_true", help="the export has no target column (to be scored)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="run the whole analysis and write the tables to results/")
    data_dir(p)
    _add_run_arguments(p)
    p.set_defaults(func=cmd_run)

    from analysis.scoring.stream import AUTO_STREAM_BYTES, DEFAULT_CHUNK_CUSTOMERS

    p = sub.add_parser("score", help="write per-customer offers for a new export (no target needed)")
    data_dir(p)
    p.add_argument("--results-dir", default=str(paths.RESULTS_DIR), help="where `run` saved the fitted model")
    p.add_argument("--out", required=True, help="output CSV of offers (drift.csv and score_summary.csv are "
                                                "written beside it)")
    p.add_argument("--fail-on-drift", action="store_true",
                   help=f"exit with status {EXIT_DRIFT} when a drift check alerts (every engine)")
    p.add_argument("--engine", choices=("auto", "memory", "stream", "dask"), default="auto",
                   help="auto (default): memory when the four export files hold at most "
                        f"{_mib(AUTO_STREAM_BYTES)} MiB together (about 150,000 customers), stream above "
                        "(the choice is printed on stderr; docs/engines.md has the measurement); "
                        "memory: the whole export at once (peak memory grows with the export); stream: customer "
                        "id range by range in bounded memory; dask: the same ranges on a Dask cluster "
                        "(needs --scheduler)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of the Dask scheduler, e.g. tcp://10.0.0.5:8786 (with --engine dask)")
    p.add_argument("--chunk-customers", type=int, default=None, metavar="N",
                   help="customers scored at a time with --engine stream or dask, or auto when it streams "
                        f"(default {DEFAULT_CHUNK_CUSTOMERS})")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("fetch-data", help="download the four public exports into data/raw/")
    p.add_argument("--target", default=str(paths.RAW_DIR))
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("dictionary", help="print the data dictionary (data/README.md)")
    p.set_defaults(func=cmd_dictionary)

    from analysis.decisions.experiment import add_parser as add_experiment_parser
    add_experiment_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"] and _reused_at_once(argv[1:]):
        return 0
    from analysis.data.load import ExportError  # imports pandas

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ExportError as err:
        _print_errors(err.lines())
        return EXIT_INVALID
    except (ValueError, OSError) as err:
        # OSError: a path that is a directory, unreadable or unwritable; one line, like every input error.
        _print_errors([" ".join(str(err).split())])
        return EXIT_INVALID
