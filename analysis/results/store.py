"""The results directory as an atomic, verifiable bundle: ``run`` writes it whole or not at all.

``run`` lets the pipeline write into a fresh directory beside the target (``results.tmp-<run id>``), adds
``manifest.json`` and swaps the new directory in by renaming only when every stage succeeded; the previous
results stay in place, untouched, until then. :func:`verify` refuses, with one line, a directory whose files do
not match its manifest; :func:`reusable` says whether a directory already holds the results of this data, code,
seed and protocol, so that ``python -m analysis run`` can return at once.

The manifest (``manifest.json``) records:

``run_id``, ``created`` (UTC, ISO 8601), ``seed``, ``protocol`` (``"full"`` or ``"quick"``) and
``protocol_settings`` (the folds, repeats and bootstrap replicates it means), ``python`` and ``packages`` (versions of the numerical
libraries), ``code`` (``sha256``: SHA-256 over the source files of ``analysis/`` and ``stats/``; ``files``: how
many; ``git_commit`` when the checkout is a git repository, else null), ``inputs`` (SHA-256 of each export file)
and ``results`` (SHA-256 of each file the run wrote). No absolute path of the machine is recorded.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import secrets
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

from analysis import paths

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
#: Source trees whose files make the code version; the renderer (``qmdrender/``) and ``report.qmd`` are outside
#: them, so that editing the report does not invalidate the analysis.
CODE_DIRS = ("analysis", "stats")
#: Libraries whose versions can change the numbers; a different version invalidates reuse.
PACKAGES = ("numpy", "pandas", "scipy", "statsmodels", "scikit-learn", "patsy", "phik", "joblib", "threadpoolctl")


class ResultsError(ValueError):
    """A results directory that cannot be trusted; the message is one line naming the directory."""


# ---------------------------------------------------------------------------------------------------------
# Fingerprints
# ---------------------------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: Presentation modules that only read the results (labels, formats, tables, figures, prose helpers): editing them
#: must not invalidate the analysis. The registry (analysis/results/registry.py), through which `run` writes, counts.
#: Folders whose modules only read results (the report) or measure the project (bench): editing them does not
#: change what a run writes, so it does not invalidate a run (the layer contract, tests/test_layers.py, keeps the
#: pipeline from importing them).
PRESENTATION_DIRS = ("analysis/report", "analysis/bench")


def _source_files(root: Path = paths.ROOT) -> list[Path]:
    files = []
    for name in CODE_DIRS:
        files += [p for p in (root / name).rglob("*.py") if "__pycache__" not in p.parts
                  and not p.relative_to(root).as_posix().startswith(tuple(d + "/" for d in PRESENTATION_DIRS))]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def code_version(root: Path = paths.ROOT) -> dict:
    """SHA-256 over the source files of ``analysis/`` and ``stats/`` (relative path and bytes of each), except
    :data:`PRESENTATION_DIRS` (modules that read results and never write them).

    Returns a dict with ``sha256``, ``files`` (their number) and ``git_commit`` (HEAD, or None when git or the
    repository is unavailable; informative only: uncommitted edits are caught by the hash, not by the commit).
    """
    digest = hashlib.sha256()
    files = _source_files(root)
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return {"sha256": digest.hexdigest(), "files": len(files), "git_commit": _git_commit(root)}


def _git_commit(root: Path) -> str | None:
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = proc.stdout.strip()
    return commit if proc.returncode == 0 and len(commit) == 40 else None


def package_versions() -> dict[str, str | None]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def input_hashes(data_dir: Path) -> dict[str, str] | None:
    """SHA-256 of each export file in ``data_dir``; None when one is missing (the loader will say which)."""
    from analysis.data.dictionary import EXPORT_FILES

    hashes = {}
    for name in EXPORT_FILES:
        path = Path(data_dir) / name
        if not path.is_file():
            return None
        hashes[name] = sha256_file(path)
    return hashes


def _result_files(directory: Path) -> list[Path]:
    """Every file of a results directory except the manifest and hidden files, sorted by relative path."""
    files = [p for p in directory.rglob("*") if p.is_file() and p.name != MANIFEST_NAME
             and not any(part.startswith(".") for part in p.relative_to(directory).parts)]
    return sorted(files, key=lambda p: p.relative_to(directory).as_posix())


def result_hashes(directory: Path) -> dict[str, str]:
    return {p.relative_to(directory).as_posix(): sha256_file(p) for p in _result_files(directory)}


# ---------------------------------------------------------------------------------------------------------
# Manifest
# ---------------------------------------------------------------------------------------------------------


def new_run_id(now: _dt.datetime | None = None) -> str:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def read_manifest(results_dir: Path) -> dict:
    path = Path(results_dir) / MANIFEST_NAME
    if not Path(results_dir).is_dir():
        raise ResultsError(f"{results_dir}: no results directory (run `python -m analysis run` first)")
    if not path.is_file():
        raise ResultsError(f"{results_dir}: no {MANIFEST_NAME}, so these results cannot be verified "
                           "(run `python -m analysis run` again)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: unreadable manifest: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("results"), dict):
        raise ResultsError(f"{path}: not a results manifest (no 'results' map)")
    return manifest


def write_manifest(results_dir: Path, *, run_id: str, created: str, seed: int, protocol: str,
                   protocol_settings: dict, inputs: dict[str, str], code: dict) -> dict:
    manifest = {
        "manifest_version": MANIFEST_VERSION, "run_id": run_id, "created": created, "seed": int(seed),
        "protocol": protocol, "protocol_settings": protocol_settings, "packages": package_versions(),
        "code": code, "inputs": inputs, "results": result_hashes(results_dir),
    }
    (results_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def _names(items: list[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def verify(results_dir: str | os.PathLike) -> dict:
    """Check every file of ``results_dir`` against its manifest; returns the manifest.

    Raises
    ------
    ResultsError
        One line naming the directory, the run and the files missing, changed or not in the manifest.
    """
    directory = Path(results_dir)
    manifest = read_manifest(directory)
    expected = manifest["results"]
    actual = result_hashes(directory)
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    changed = sorted(name for name in set(expected) & set(actual) if expected[name] != actual[name])
    problems = [f"{label} {_names(names)}" for label, names in
                (("missing", missing), ("changed", changed), ("not in the manifest:", extra)) if names]
    if problems:
        raise ResultsError(f"{directory}: results do not match manifest {manifest.get('run_id')}: "
                           f"{'; '.join(problems)} (run `python -m analysis run --force`)")
    return manifest


def _recorded_input_hashes(data_dir: Path, names) -> dict[str, str] | None:
    """SHA-256 of the files ``names`` in ``data_dir``; None when one is missing."""
    hashes = {}
    for name in names:
        path = Path(data_dir) / name
        if not path.is_file():
            return None
        hashes[name] = sha256_file(path)
    return hashes


def reusable(results_dir: str | os.PathLike, data_dir: str | os.PathLike | None, protocol: dict) -> bool:
    """True when ``results_dir`` holds a verified run of these exports, this code and this protocol
    (``analysis.settings.Protocol.to_dict()``: seed, folds, thresholds, every setting).

    Also requires the same versions of the numerical libraries (:data:`PACKAGES`), since they can change numbers.

    Notes
    -----
    Only light modules are imported (no pandas), so that ``python -m analysis run`` decides to reuse in a
    fraction of a second. The exports hashed are the ones the manifest names, not
    ``analysis.data.dictionary.EXPORT_FILES`` (whose module imports pandas): the two lists are the same whenever the
    code hash matches, because ``analysis/data/dictionary.py`` is part of the code version.
    """
    try:
        manifest = verify(results_dir)
    except ResultsError:
        return False
    recorded = manifest.get("inputs")
    if (manifest.get("manifest_version") != MANIFEST_VERSION or manifest.get("protocol_settings") != protocol
            or not isinstance(recorded, dict) or not recorded):
        return False
    inputs = _recorded_input_hashes(paths.resolve_data_dir(data_dir), sorted(recorded))
    return (inputs is not None and recorded == inputs
            and (manifest.get("code") or {}).get("sha256") == code_version()["sha256"]
            and manifest.get("packages") == package_versions())


# ---------------------------------------------------------------------------------------------------------
# Atomic run
# ---------------------------------------------------------------------------------------------------------


def swap_in(new: Path, target: Path, run_id: str) -> None:
    """Rename ``new`` to ``target``; the previous ``target`` is kept aside until the rename succeeded."""
    old = target.with_name(f"{target.name}.old-{run_id}")
    if target.exists():
        target.rename(old)
    try:
        new.rename(target)
    except OSError:
        if old.exists():
            old.rename(target)  # put the previous results back
        raise
    shutil.rmtree(old, ignore_errors=True)
