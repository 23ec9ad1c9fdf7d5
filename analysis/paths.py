"""Every path the project uses, built from this file's location (no ``sys.path`` games, no cwd guessing)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
RAW_DIR = DATA_DIR / "raw"
SHARED_DATA_DIR = ROOT.parent / "shared" / "data"
RESULTS_DIR = ROOT / "results"
MODEL_PATH_NAME = "model.json"
DATA_ENV_VAR = "ONECLICK_DATA_DIR"
RESULTS_ENV_VAR = "ONECLICK_RESULTS_DIR"

_REQUIRED = ("market_file.csv", "market_money.csv", "market_time.csv", "money.csv")


def _has_exports(directory: Path) -> bool:
    return directory.is_dir() and any((directory / name).exists() for name in _REQUIRED)


def resolve_data_dir(cli_value: str | os.PathLike | None = None) -> Path:
    """Where the four exports are read from.

    Order: the ``--data-dir`` argument, else ``$ONECLICK_DATA_DIR``, else ``data/raw/`` (when it holds an
    export), else ``../shared/data/`` (the local mirror). An explicit choice is returned even when it does not
    exist, so that the loader can say plainly which files are missing where.
    """
    if cli_value:
        return Path(cli_value).expanduser().resolve()
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    if _has_exports(RAW_DIR):
        return RAW_DIR
    return SHARED_DATA_DIR


def resolve_results_dir(results_dir: str | os.PathLike | None = None) -> Path:
    """The results directory: the argument, else ``$ONECLICK_RESULTS_DIR`` (read by the run and the report alike),
    else ``results/`` of the repository."""
    if results_dir:
        return Path(results_dir).expanduser().resolve()
    env = os.environ.get(RESULTS_ENV_VAR)
    return Path(env).expanduser().resolve() if env else RESULTS_DIR
