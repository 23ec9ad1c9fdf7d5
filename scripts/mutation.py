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
import fnmatch
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
    WORK.mkdir(parents=True, exist_ok=True)
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


def scores(modules: list[str], only: list[str] | None = None) -> list[dict]:
    """Per-module counts read from mutmut's result files (``mutants/<module>.meta``); with ``only``, of the
    mutants whose names match one of those patterns."""
    rows = []
    survivors = []
    for module in modules:
        meta = WORK / "mutants" / (module + ".meta")
        codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
        if only:
            codes = {k: v for k, v in codes.items() if any(fnmatch.fnmatchcase(k, p) for p in only)}
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


#: The decision path of issue 22 (item 7): each module with the fast tests that pin it, run one module at a time
#: (``--decision-path``); the model-choice rule lives in benchmark.py beside the nested cross-validation, whose
#: own tests are slow, so only its functions are mutated there. The last field names decorators removed from the
#: scratch copy of the module: mutmut 3 does not mutate a decorated function, and ``@markdown_result`` (which
#: only marks a returned string as Markdown for Quarto; the tests compare with ``==``) sits on 26 functions of
#: the report's text.
CHOICE_RULE = [f"analysis.modeling.benchmark.x_{name}__mutmut_*" for name in
               ("candidate_metrics", "choose_model", "log_loss_ties", "accuracy_gap", "_selection_stability")]
DECISION_PATH = [
    ("analysis/modeling/checks.py", ["tests/analysis/modeling/test_checks.py"], None, ()),
    ("analysis/modeling/pair.py", ["tests/analysis/modeling/test_pair.py"], None, ()),
    ("analysis/modeling/effects.py", ["tests/analysis/modeling/test_effects.py"], None, ()),
    ("analysis/modeling/benchmark.py", ["tests/analysis/modeling/test_benchmark.py",
                                        "tests/stats/test_link_models.py"], CHOICE_RULE, ()),
    ("analysis/modeling/model_file.py", ["tests/analysis/modeling/test_model_file.py"], None, ()),
    ("analysis/segments.py", ["tests/analysis/test_segments.py"], None, ()),
    ("analysis/decisions/actions.py", ["tests/analysis/decisions/test_actions.py"], None, ()),
    ("analysis/decisions/decide.py", ["tests/analysis/decisions/test_decide_fast.py"], None, ()),
    ("analysis/scoring/memory.py", ["tests/analysis/scoring/test_memory.py"], None, ()),
    ("analysis/summary.py", ["tests/analysis/test_summary.py"], None, ()),
    ("analysis/report/text.py", ["tests/report/test_text.py"], None, ("markdown_result",)),
]


def strip_decorators(module: str, names) -> int:
    """Remove the lines ``@name`` from the scratch copy of ``module`` (the number removed)."""
    path = WORK / module
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if line.strip() not in {f"@{n}" for n in names}]
    path.write_text("".join(kept), encoding="utf-8")
    return len(lines) - len(kept)


def run_mutmut(modules: list[str], tests: list[str], jobs: int, keep: bool, only: list[str] | None,
               strip=()) -> int:
    """Prepare ``WORK`` and run mutmut there (0 when mutmut finished)."""
    prepare(modules, tests, fresh=not keep)
    for module in modules if strip else ():
        print(f"{module}: {strip_decorators(module, strip)} decorators {', '.join(strip)} removed in the scratch copy")
    mutmut = Path(sys.executable).with_name("mutmut")
    # JOBLIB_MULTIPROCESSING=0: joblib runs n_jobs > 1 without worker processes. mutmut collects coverage in its
    # own process and then reaps its mutant children with os.wait(), so an idle loky worker left by a test that
    # exits later is reaped in their place and mutmut stops with a KeyError.
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               JOBLIB_MULTIPROCESSING="0")
    # the scratch copy has no ../shared/data beside it: point the tests at the real exports, when present,
    # so that the tests that need them run instead of skipping
    shared = ROOT.parent / "shared" / "data"
    if shared.is_dir() and "ONECLICK_DATA_DIR" not in env:
        env["ONECLICK_DATA_DIR"] = str(shared)
    run = subprocess.run([str(mutmut), "run", "--max-children", str(jobs), *(only or [])], cwd=WORK, env=env)
    if run.returncode != 0:
        print(f"error: mutmut run exited with status {run.returncode}", file=sys.stderr)
        return 2
    return 0


def print_scores(rows: list[dict]) -> None:
    print(f"{'module':<34} killed/total  score  (survived, timeout, not run)")
    for row in rows:
        print(f"{row['module']:<34} {row['killed']:>5}/{row['total']:<5}  {row['score']:5.1f}%"
              f"  ({row['survived']}, {row['timeout']}, {row['not_run']})")


def main(argv: list[str] | None = None) -> int:
    global WORK
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", nargs="+", help="files to mutate, relative to the repository")
    parser.add_argument("--tests", nargs="+", help="test files mutmut may choose from")
    parser.add_argument("--decision-path", nargs="*", default=None, metavar="MODULE",
                        help="every module of the decision path (or the ones named) with its own tests, one after "
                             "the other, each in <workdir>/<module>; a table of all at the end (instead of "
                             "--modules/--tests)")
    parser.add_argument("--jobs", type=int, default=2, help="mutmut worker processes")
    parser.add_argument("--keep", action="store_true", help="reuse .mutation/ and mutmut's earlier verdicts")
    parser.add_argument("--workdir", default=str(WORK), help="scratch directory (default .mutation/)")
    parser.add_argument("--report-only", action="store_true", help="only print the scores of the last run")
    parser.add_argument("--only", nargs="+", default=None, metavar="PATTERN",
                        help="mutate only the functions whose mutant names match (mutmut's glob, e.g. "
                             "'analysis.modeling.benchmark.x_choose_model*'); the score counts those mutants")
    args = parser.parse_args(argv)
    base = Path(args.workdir).resolve()
    if args.decision_path is not None:
        plan = [entry for entry in DECISION_PATH if not args.decision_path or entry[0] in args.decision_path]
        unknown = set(args.decision_path) - {entry[0] for entry in DECISION_PATH}
        if unknown:
            parser.error(f"not on the decision path: {', '.join(sorted(unknown))}")
    elif args.modules and args.tests:
        plan = [(None, None, None, ())]
    else:
        parser.error("give --modules and --tests, or --decision-path")
    rows = []
    for module, tests, only, strip in plan:
        modules, tests, only = ([module], tests, only) if module else (args.modules, args.tests, args.only)
        WORK = base / Path(module).stem if module else base
        if not args.report_only and run_mutmut(modules, tests, args.jobs, args.keep, only, strip):
            return 2
        rows += scores(modules, only)
        if not module:
            print_scores(rows)
            print(f"survivors: {WORK / 'survivors.txt'}; inspect one with: cd {WORK.name} && mutmut show NAME")
    if args.decision_path is not None:
        print_scores(rows)
        with open(base / "scores.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(f"survivors of each module: {base}/<module>/survivors.txt; equivalent ones: docs/mutation.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
