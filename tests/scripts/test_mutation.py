"""scripts/mutation.py: the scores it reads from mutmut's result files, and the decision path it runs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mutation(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location("mutation_script", ROOT / "scripts" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "WORK", tmp_path)
    return module


def _meta(work: Path, module: str, codes: dict) -> None:
    path = work / "mutants" / (module + ".meta")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exit_code_by_key": codes}))


def test_scores_count_killed_timeouts_survivors_and_unrun_mutants(mutation, tmp_path):
    _meta(tmp_path, "pkg/a.py", {"pkg.a.x_f__mutmut_1": 1, "pkg.a.x_f__mutmut_2": 3, "pkg.a.x_f__mutmut_3": 0,
                                 "pkg.a.x_g__mutmut_1": 24, "pkg.a.x_g__mutmut_2": None, "pkg.a.x_g__mutmut_3": 7})
    (row,) = mutation.scores(["pkg/a.py"])
    assert row == {"module": "pkg/a.py", "killed": 3, "survived": 1, "timeout": 1, "not_run": 1, "total": 6,
                   "score": 50.0}
    survivors = (tmp_path / "survivors.txt").read_text().splitlines()
    assert survivors == ["pkg.a.x_f__mutmut_3\tsurvived", "pkg.a.x_g__mutmut_1\ttimeout", "pkg.a.x_g__mutmut_2\tnot_run",
                         "pkg.a.x_g__mutmut_3\tother_7"]
    # --only: the score of the matching functions' mutants alone
    (only,) = mutation.scores(["pkg/a.py"], ["pkg.a.x_f__mutmut_*"])
    assert (only["killed"], only["survived"], only["total"], only["score"]) == (2, 1, 3, 66.7)


def test_the_decision_path_names_existing_modules_and_tests(mutation):
    modules = [module for module, _, _, _ in mutation.DECISION_PATH]
    assert len(set(modules)) == len(modules)
    for module, tests, only, strip in mutation.DECISION_PATH:
        for name in strip:  # a decorator removed in the scratch copy is used in the module
            assert f"\n@{name}\n" in (ROOT / module).read_text(encoding="utf-8"), (module, name)
        assert (ROOT / module).is_file(), module
        assert tests and all((ROOT / t).is_file() for t in tests), tests
        if only:  # each pattern names a function that exists in the module
            source = (ROOT / module).read_text(encoding="utf-8")
            for pattern in only:
                name = pattern.split(".x_", 1)[1].split("__mutmut_")[0]
                assert f"def {name}(" in source, pattern


def test_strip_decorators_removes_only_the_named_lines(mutation, tmp_path):
    (tmp_path / "pkg").mkdir()
    source = "@keep\ndef f():\n    return 1\n\n\n@drop\ndef g():\n    return '@drop'\n\n    @drop\n    def h(): pass\n"
    (tmp_path / "pkg" / "m.py").write_text(source, encoding="utf-8")
    assert mutation.strip_decorators("pkg/m.py", ("drop",)) == 2
    assert (tmp_path / "pkg" / "m.py").read_text(encoding="utf-8") == (
        "@keep\ndef f():\n    return 1\n\n\ndef g():\n    return '@drop'\n\n    def h(): pass\n")
