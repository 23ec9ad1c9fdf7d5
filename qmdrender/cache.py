"""The execution cache: the kernel's outputs, reused while nothing they depended on has changed.

One JSON file per document, ``<output-dir>/_render/cache/<stem>.json``, holds the outputs of every chunk and
the value of every inline expression of the last successful execution, with

``key``
    SHA-256 of what the renderer sends to the kernel: the cache format, the renderer's own code, the ordered
    cells (the setup cell with the figure settings, each chunk's source with its ``#|`` options, each group of
    inline expressions where it stands), the kernel's working directory and the variables the renderer sets in
    its environment, the interpreter (path and version) and the installed distributions (their names and
    versions, read from the ``*.dist-info`` folders of site-packages, and the ``.pth`` files).
``depends``
    What the execution read, as the kernel saw it (:mod:`qmdrender._trace`): SHA-256 of every file opened for
    reading and of every module imported from outside the Python installation, the listing of every directory
    listed, the value of every environment variable read; and the SHA-256 of every file it wrote that was still
    there afterwards.

A render reuses the outputs when the key is the same and every one of these is unchanged (a file that was
missing must still be missing); otherwise it executes again and replaces the entry. A prose edit changes
neither, so the kernel does not start. What the cache cannot see is listed in ``qmdrender/README.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
import site
import sys
from pathlib import Path
from typing import Any

CACHE_VERSION = 1
CACHE_DIR = "cache"
TRACE_SOURCE = Path(__file__).with_name("_trace.py")
#: The renderer's files whose code decides what the kernel runs and how outputs are kept: every module of the
#: package (the parsing, the options, the kernel code, the inline values, ... are in several of them).
RENDERER_FILES = tuple(sorted(Path(__file__).parent.glob("*.py")))
TRACE_MIME = "application/x-render-trace+json"


def sha256_file(path: str | os.PathLike) -> str | None:
    """SHA-256 of a regular file, None when it is missing (or not a file)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
        return None
    return digest.hexdigest()


def listing_digest(path: str | os.PathLike) -> str | None:
    """SHA-256 of the sorted names in a directory, None when it is missing."""
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return None
    return hashlib.sha256("\0".join(names).encode("utf-8", "surrogateescape")).hexdigest()


def trace_setup_code() -> str:
    """The kernel code that starts recording (run before the first chunk)."""
    source = TRACE_SOURCE.read_text(encoding="utf-8")
    return (
        "def __render_trace_start(source):\n"
        "    import sys, types\n"
        "    module = types.ModuleType('__qmdrender_trace__')\n"
        "    exec(compile(source, '<qmdrender trace>', 'exec'), module.__dict__)\n"
        "    sys.modules['__qmdrender_trace__'] = module\n"
        "    module.start()\n"
        f"__render_trace_start({source!r})\n"
        "del __render_trace_start\n")


def trace_report_code() -> str:
    """The kernel code of the last cell: what the chunks read, as one display of :data:`TRACE_MIME`."""
    return ("from IPython.display import display as __render_display\n"
            f"__render_display({{{TRACE_MIME!r}: __import__('sys').modules['__qmdrender_trace__'].report()}}, raw=True)\n"
            "del __render_display\n")


def _installed_distributions() -> list[str]:
    dirs = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    found = []
    for directory in dict.fromkeys(dirs):
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                found.append(name)
            elif name.endswith(".pth"):
                found.append(f"{name}:{sha256_file(Path(directory) / name)}")
    return found


def execution_key(cells: list[str], cwd: Path, env_updates: dict[str, str]) -> str:
    """SHA-256 of the cells the kernel will run and of the renderer, interpreter and environment running them."""
    identity = {
        "cache_version": CACHE_VERSION,
        "renderer": {p.name: sha256_file(p) for p in RENDERER_FILES},
        "python": [sys.executable, sys.version],
        "distributions": _installed_distributions(),
        "cwd": str(cwd),
        "env": dict(sorted(env_updates.items())),
        "cells": cells,
    }
    return hashlib.sha256(json.dumps(identity, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


def depends_from_trace(trace: dict[str, Any]) -> dict[str, Any]:
    """The fingerprint of what the execution read (and wrote), taken right after it."""
    reads = [p for p, kinds in trace.get("files", {}).items() if "r" in kinds]
    writes = [p for p, kinds in trace.get("files", {}).items() if "w" in kinds and "r" not in kinds]
    written = {}
    for path in writes:
        digest = sha256_file(path)
        if digest is not None:  # files that are gone were temporary
            written[path] = digest
    modules = sorted(set(trace.get("modules", [])))
    reads = [p for p in reads if p not in set(modules)]  # a module's source read by the import is the module
    return {
        "files": {p: sha256_file(p) for p in reads},
        "modules": {p: sha256_file(p) for p in modules},
        "dirs": {p: listing_digest(p) for p in trace.get("dirs", [])},
        "env": trace.get("env", {}),
        "env_all": bool(trace.get("env_all")),
        "written": written,
    }


def stale_reason(depends: dict[str, Any], env: dict[str, str]) -> str | None:
    """Why the recorded execution no longer holds (one short phrase), or None when it still does."""
    for kind, label in (("files", "input file"), ("modules", "module"), ("written", "file written by the chunks")):
        for path, digest in depends.get(kind, {}).items():
            now = sha256_file(path)
            if now != digest:
                state = "missing" if now is None else ("new" if digest is None else "changed")
                return f"{label} {path} {state}"
    for path, digest in depends.get("dirs", {}).items():
        if listing_digest(path) != digest:
            return f"the listing of {path} changed"
    for name, value in depends.get("env", {}).items():
        if env.get(name) != value:
            return f"environment variable {name} changed"
    if depends.get("env_all"):
        return "the chunks read the whole environment"
    return None


def cache_path(render_dir: Path, qmd: Path) -> Path:
    return render_dir / CACHE_DIR / f"{qmd.stem}.json"


def load(path: Path, key: str) -> tuple[dict[str, Any] | None, str]:
    """The stored entry when its key matches, and why not otherwise."""
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "no cached execution"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None, "unreadable cache entry"
    if not isinstance(entry, dict) or entry.get("cache_version") != CACHE_VERSION:
        return None, "cache entry of another format"
    if entry.get("key") != key:
        return None, "the code, the renderer or the environment changed"
    return entry, ""


def store(path: Path, key: str, depends: dict[str, Any], chunk_outputs: dict[int, list[dict[str, Any]]],
          inline_values: dict[int, str]) -> None:
    """Write the entry atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"cache_version": CACHE_VERSION, "key": key, "depends": depends,
             "chunk_outputs": {str(n): outputs for n, outputs in chunk_outputs.items()},
             "inline_values": {str(n): value for n, value in inline_values.items()}}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def outputs_of(entry: dict[str, Any]) -> tuple[dict[int, list[dict[str, Any]]], dict[int, str]]:
    chunk_outputs = {int(n): outputs for n, outputs in entry.get("chunk_outputs", {}).items()}
    inline_values = {int(n): value for n, value in entry.get("inline_values", {}).items()}
    return chunk_outputs, inline_values
