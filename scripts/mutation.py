"""Mutation score of chosen modules with mutmut: ``make mutation`` (not part of ``make test``).

The run happens in a scratch copy (``.mutation/``, git-ignored) whose ``pyproject.toml`` carries a ``[tool.mutmut]``
section generated from the command line, so the list of modules and tests is a Makefile variable rather than a
fixed configuration. mutmut runs, for each mutant, only the selected tests that execute the mutated function.

Usage::

    python scripts/mutation.py --modules stats/groups.py stats/margins.py --tests tests/test_stats_groups.py ...

Prints one line per module, ``module killed/total (score %)``, where ``total`` counts every mutant mutmut made
(survivors judged equivalent are listed in ``docs/mutation.md``, not subtracted here), and writes the same table
to ``.mutation/scores.csv`` and the survivors to ``.mutation/survivors.txt``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"  # --workdir changes it
# mutmut 3 exit codes (mutmut.stats.status_by_exit_code): 1 and 3 are a failing test run
KILLED = {1, 3}
SURVIVED = {0}
TIMEOUT = {36, -24, 24, 152, 255}
# Read by tests from the repository root (ROOT of analysis.paths is the scratch copy's mutants/ directory).
EXTRA_FILES = ("data/README.md", "environment.yml", "README.md")


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def _also_copy() -> list[str]:
    """EXTRA_FILES for mutmut's ``also_copy``: top-level files as they are, others as their directory (mutmut
    does not create a missing parent directory)."""
    present = [Path(i) for i in EXTRA_FILES if (ROOT / i).is_file()]
    return sorted({str(p) if p.parent == Path(".") else str(p.parent) + "/" for p in present})


def prepare(modules: list[str], tests: list[str], fresh: bool) -> None:
    """Copy the sources and tests into the scratch directory and write its mutmut configuration."""
    for item in modules + tests:
        if not (ROOT / item).is_file():
            sys.exit(f"error: {item} does not exist (paths are relative to {ROOT})")
    if fresh and WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(exist_ok=True)
    for package in ("stats", "analysis", "tests"):
        shutil.copytree(ROOT / package, WORK / package, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # files that tests of the business modules read beside the code (generated docs kept in step, the conda file)
    for item in EXTRA_FILES:
        if (ROOT / item).is_file():
            (WORK / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / item, WORK / item)
    source_dirs = sorted({str(Path(m).parent) + "/" for m in modules})
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8") + (
        "\n[tool.mutmut]\n"
        f"source_paths = {_toml_list(source_dirs)}\n"
        f"only_mutate = {_toml_list(modules)}\n"
        f"also_copy = {_toml_list(['stats/', 'analysis/'] + _also_copy())}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(tests)}\n"
        'pytest_add_cli_args = ["-m", "not slow", "-p", "no:cacheprovider", "-x", "-q"]\n'
    )
    (WORK / "pyproject.toml").write_text(config, encoding="utf-8")


def scores(modules: list[str]) -> list[dict]:
    """Per-module counts read from mutmut's result files (``mutants/<module>.meta``)."""
    rows = []
    survivors = []
    for module in modules:
        meta = WORK / "mutants" / (module + ".meta")
        codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
        count = Counter()
        for name, code in codes.items():
            status = ("killed" if code in KILLED else "survived" if code in SURVIVED
                      else "timeout" if code in TIMEOUT else "not_run" if code is None else f"other_{code}")
            count[status] += 1
            if status != "killed":
                survivors.append(f"{name}\t{status}")
        total = len(codes)
        # a timeout is a detected mutant (the test run did not pass), as mutmut itself counts it
        detected = count["killed"] + count["timeout"]
        rows.append({"module": module, "killed": detected, "survived": count["survived"],
                     "timeout": count["timeout"], "not_run": count["not_run"], "total": total,
                     "score": round(100 * detected / total, 1) if total else float("nan")})
    (WORK / "survivors.txt").write_text("\n".join(survivors) + "\n", encoding="utf-8")
    with open(WORK / "scores.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    global WORK
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", nargs="+", required=True, help="files to mutate, relative to the repository")
    parser.add_argument("--tests", nargs="+", required=True, help="test files mutmut may choose from")
    parser.add_argument("--jobs", type=int, default=2, help="mutmut worker processes")
    parser.add_argument("--keep", action="store_true", help="reuse .mutation/ and mutmut's earlier verdicts")
    parser.add_argument("--workdir", default=str(WORK), help="scratch directory (default .mutation/)")
    parser.add_argument("--report-only", action="store_true", help="only print the scores of the last run")
    args = parser.parse_args(argv)
    WORK = Path(args.workdir).resolve()
    if not args.report_only:
        prepare(args.modules, args.tests, fresh=not args.keep)
        mutmut = Path(sys.executable).with_name("mutmut")
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        # the scratch copy has no ../shared/data beside it: point the tests at the real exports, when present,
        # so that the tests that need them run instead of skipping
        shared = ROOT.parent / "shared" / "data"
        if shared.is_dir() and "ONECLICK_DATA_DIR" not in env:
            env["ONECLICK_DATA_DIR"] = str(shared)
        run = subprocess.run([str(mutmut), "run", "--max-children", str(args.jobs)], cwd=WORK, env=env)
        if run.returncode != 0:
            print(f"error: mutmut run exited with status {run.returncode}", file=sys.stderr)
            return 2
    print(f"{'module':<28} killed/total  score  (survived, timeout, not run)")
    for row in scores(args.modules):
        print(f"{row['module']:<28} {row['killed']:>5}/{row['total']:<5}  {row['score']:5.1f}%"
              f"  ({row['survived']}, {row['timeout']}, {row['not_run']})")
    print(f"survivors: {WORK / 'survivors.txt'}; inspect one with: cd .mutation && mutmut show NAME")
    return 0


if __name__ == "__main__":
    sys.exit(main())
