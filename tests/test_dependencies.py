"""Every third-party module the package imports is declared in pyproject.toml (issue 9: no undeclared imports)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("analysis", "stats", "qmdrender")
#: import name -> distribution name, where they differ
DISTRIBUTION = {"sklearn": "scikit-learn", "yaml": "pyyaml", "jupyter_client": "jupyter-client",
                "pypandoc": "pypandoc-binary", "dask": "dask", "distributed": "distributed"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    return {re.split(r"[\s<>=\[;]", spec, maxsplit=1)[0].lower() for spec in specs}


def test_every_third_party_import_is_declared():
    third_party = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            third_party |= {n for n in _imports(path)
                            if n not in sys.stdlib_module_names and n not in PACKAGES and n != "__future__"}
    declared = _declared()
    missing = sorted(n for n in third_party if DISTRIBUTION.get(n, n).lower().replace("_", "-") not in declared)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_the_check_catches_an_undeclared_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import numpy\nfrom somelib.sub import x\nimport os\n", encoding="utf-8")
    found = {n for n in _imports(module) if n not in sys.stdlib_module_names}
    assert found == {"numpy", "somelib"} and "somelib" not in _declared()
