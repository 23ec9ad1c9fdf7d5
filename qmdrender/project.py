"""The project (``_quarto.yml``): the documents it renders (``project: render:``) and its pre-render commands."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from qmdrender.config import YamlError, find_quarto_yml, load_project, parse_yaml
from qmdrender.errors import RenderError


def project_render_targets(directory: Path) -> list[Path]:
    """The documents ``quarto render`` renders when given none: ``project: render:`` of the ``_quarto.yml`` of
    ``directory`` or a parent, in the order listed (globs expanded, ``!pattern`` excluding what an earlier entry
    matched; paths relative to the project folder, as Quarto reads them).

    Without that list Quarto renders every document of the project folder; the fallback asks for the list
    instead (a project of documents, test fixtures and notes should name what it publishes).
    """
    project_file = find_quarto_yml(directory.resolve())
    if project_file is None:
        raise RenderError("no documents given and no _quarto.yml here or in a parent folder", 2)
    try:
        loaded = parse_yaml(project_file.read_text(encoding="utf-8")) or {}
    except YamlError as exc:
        raise RenderError(f"{project_file}:{exc.line}: cannot read: {exc}", 2) from None
    section = loaded.get("project") if isinstance(loaded, dict) else None
    entries = section.get("render") if isinstance(section, dict) else None
    if isinstance(entries, str):
        entries = [entries]
    if not entries or not all(isinstance(e, str) and e.strip() for e in entries):
        raise RenderError(f"no documents given and {project_file} lists none in project: render: "
                          "(name the documents, e.g. render: [report.qmd])", 2)
    root = project_file.parent
    found: list[Path] = []
    for entry in entries:
        pattern = entry.strip()
        if pattern.startswith("!"):
            excluded = {p.resolve() for p in root.glob(pattern[1:])}
            found = [p for p in found if p.resolve() not in excluded]
            continue
        matches = sorted(root.glob(pattern)) if any(c in pattern for c in "*?[") else [root / pattern]
        for path in matches:
            if not path.is_file():
                raise RenderError(f"{project_file}: project: render: {pattern}: no such file", 2)
            if path not in found:
                found.append(path)
    return [Path(os.path.relpath(p, Path.cwd())) if _inside(p, Path.cwd()) else p for p in found]


def _inside(path: Path, directory: Path) -> bool:
    try:
        path.resolve().relative_to(directory.resolve())
        return True
    except ValueError:
        return False


def pre_render_commands(project_file: Path | None, project: dict[str, Any]) -> list[str]:
    """``project: pre-render:`` of ``_quarto.yml``: a command or a list of commands, in order."""
    section = project.get("project")
    value = section.get("pre-render") if isinstance(section, dict) else None
    if value in (None, "", []):
        return []
    commands = value if isinstance(value, list) else [value]
    if not all(isinstance(c, str) and c.strip() for c in commands):
        raise RenderError(f"{project_file}: project: pre-render must be a command or a list of commands", 2)
    return [c.strip() for c in commands]


def _pre_render_argv(command: str, where: Path) -> list[str]:
    """How Quarto runs a pre-render entry: a script by its extension, else a command line without a shell."""
    try:
        args = shlex.split(command)
    except ValueError as exc:
        raise RenderError(f"{where}: pre-render command `{command}`: {exc}", 2) from None
    first = args[0]
    suffix = Path(first).suffix.lower()
    if suffix == ".py":
        return [sys.executable, *args]
    if suffix in (".ts", ".r", ".lua"):
        raise RenderError(f"{where}: pre-render script {first} needs Quarto (the fallback runs .py scripts "
                          "and command lines)", 1)
    if first in ("python", "python3"):
        # the renderer's own interpreter: under `make` the environment's python is not on PATH
        return [sys.executable, *args[1:]]
    return args


def run_pre_render(qmd: Path | list[Path], log) -> float:
    """Run the project's pre-render commands from the project folder; returns the seconds they took.

    ``qmd`` may be several documents of one project (rendered together): the commands run once, with every
    document in ``$QUARTO_PROJECT_INPUT_FILES`` (one per line), as Quarto does for a project render.
    """
    qmds = [qmd] if isinstance(qmd, Path) else list(qmd)
    project_file, project = load_project(qmds[0])
    commands = pre_render_commands(project_file, project)
    if not commands:
        return 0.0
    started = time.perf_counter()
    cwd = project_file.parent
    input_files = []
    for one in qmds:
        try:
            input_files.append(one.resolve().relative_to(cwd.resolve()).as_posix())
        except ValueError:
            input_files.append(str(one.resolve()))
    env = dict(os.environ, QUARTO_PROJECT_INPUT_FILES="\n".join(input_files))
    for command in commands:
        argv = _pre_render_argv(command, project_file)
        log(f"pre-render: {command}")
        try:
            proc = subprocess.run(argv, cwd=cwd, env=env)
        except OSError as exc:
            raise RenderError(f"{project_file}: pre-render command `{command}` cannot start: "
                              f"{exc.strerror or exc}", 1) from None
        if proc.returncode != 0:
            raise RenderError(f"{project_file}: pre-render command `{command}` failed "
                              f"(exit status {proc.returncode})", 2)
    return time.perf_counter() - started
