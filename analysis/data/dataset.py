"""The data stage as one call: read → validate → customer table → business rules, and its outputs on disk."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.data.dictionary import EXPORT_FILES, MARKET_FILE, TARGET_RU
from analysis.data.load import read_exports
from analysis.paths import resolve_data_dir
from analysis.data.customers import EXTREME_REVENUE_FACTOR, CustomerData, customer_data
from analysis.data.validate import ValidatedExports, validate_exports


@dataclass
class Dataset:
    """Everything the data stage produces, with where it came from."""

    data_dir: Path
    validated: ValidatedExports
    data: CustomerData

    @property
    def model_table(self) -> pd.DataFrame:
        return self.data.model_table


def load_dataset(
    data_dir: str | Path | None = None,
    require_target: bool = True,
    extreme_factor: float = EXTREME_REVENUE_FACTOR,
    *,
    ignore_target: bool = False,
    revenue_medians: dict[str, float] | None = None,
    open_categories: frozenset[str] = frozenset(),
) -> Dataset:
    """Read, validate and build the customer tables from the exports in ``data_dir`` (resolved as documented
    in :func:`analysis.paths.resolve_data_dir`). Raises :class:`analysis.data.load.ExportError` on invalid data.

    For scoring: ``ignore_target`` drops the target column before validation (present, empty or with
    unknown labels, it is never read); ``revenue_medians`` are the training reference values of the
    extreme-revenue rule; ``open_categories`` (export column names) lets unknown category values through.
    """
    directory = resolve_data_dir(data_dir)
    exports = read_exports(directory)
    if ignore_target and TARGET_RU in exports[MARKET_FILE].frame.columns:
        market = exports[MARKET_FILE]
        exports = {**exports, MARKET_FILE: dataclasses.replace(market, frame=market.frame.drop(columns=[TARGET_RU]))}
    validated = validate_exports(exports, require_target=require_target and not ignore_target,
                                 open_categories=open_categories)
    return Dataset(data_dir=directory, validated=validated,
                   data=customer_data(validated, extreme_factor, revenue_medians))


def file_hashes(data_dir: Path) -> pd.DataFrame:
    """SHA-256 and size of each export (for the report's reproducibility appendix).

    Returns
    -------
    pandas.DataFrame
        Columns ``file, sha256, bytes``.
    """
    rows = []
    for name in EXPORT_FILES:
        payload = (Path(data_dir) / name).read_bytes()
        rows.append({"file": name, "sha256": hashlib.sha256(payload).hexdigest(), "bytes": len(payload)})
    return pd.DataFrame(rows, columns=["file", "sha256", "bytes"])


def data_outputs(dataset: Dataset) -> dict[str, pd.DataFrame]:
    """The data stage's tables: the row accounting, the excluded customers, the typo report, the modelling table
    and the exports' hashes (the pipeline writes them through the results registry)."""
    return {
        "row_accounting": dataset.data.accounting,
        "excluded_customers": dataset.data.excluded,
        "typo_corrections": dataset.validated.typos,
        "customer_table": dataset.model_table,
        "data_files": file_hashes(dataset.data_dir),
    }
