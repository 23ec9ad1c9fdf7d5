"""``score --engine stream|dask``: score an export of any size in bounded memory, on one machine or a Dask cluster.

The export is cut by customer into buckets small enough for the ordinary in-memory path, and every bucket goes
through that path (read → validate → customer table → business rules → score) unchanged, so the offers are the
same, bit for bit, as ``score --engine memory`` gives, and so are ``drift.csv`` and ``score_summary.csv``. Passes:

0. The ids of ``market_file.csv`` are sampled (one column, in chunks) to cut the id range into ``K`` ranges of
   about ``chunk_customers`` customers each.
1. Each of the four files is read in chunks of rows, every column as text (so that no value is re-formatted or
   rounded), and each row is appended to its bucket's mini export in the file's own separator and decimal mark,
   with its physical line in the original file kept beside it. Rows of one customer land in the same bucket
   from all four files, because the bucket is a function of the id's numeric value.
2. Each bucket is read, validated and turned into the customer table, and the business rules are applied with
   the training reference values saved in the model file (as the in-memory engine applies them: a customer's
   result does not depend on who else is in the export or in the same range).
3. Each bucket is scored; its offers are appended to a temporary file that is renamed to the output at the end,
   and its drift and summary counts (:class:`analysis.scoring.memory.ScoreCounts`: histogram counts on the training
   bins, level counts, predicted-risk counts, customers read, scored and not scored by rule) are left in the
   bucket. Buckets are id ranges in increasing order, so the output is sorted by id as the in-memory path's is.
4. The counts of all buckets are added up into ``drift.csv`` and ``score_summary.csv`` (the same bytes as the
   in-memory engine writes; no second pass over the export).

Errors name the original file and line: a bucket's violations are mapped back through its line side file, and
the violations of all buckets are merged into what validation of the whole export reports (the first failing
stage, in its order, the first 50 and the total). Peak memory is set by
``chunk_customers`` and the chunk of rows read in pass 1, not by the size of the export.

With ``engine="dask"`` passes 2 and 3 are Dask DataFrames whose partitions are the buckets, computed on the
cluster at ``scheduler``; the buckets are written (pass 1, on the machine that runs ``score``) to ``work_dir``,
which the workers must be able to read and write at the same path, as they must read the model in
``results_dir``; pass 4 reads the counts the workers left there.

``score --engine auto`` (:func:`choose_engine`) reads an export of at most :data:`AUTO_STREAM_BYTES` whole and
streams a larger one.
"""

from __future__ import annotations

import functools
import math
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.dictionary import EXPORT_FILES, ID_RU, MARKET_FILE
from analysis.data.load import BOM, ExportError, RawExport, Violation
from analysis.paths import resolve_data_dir
from analysis.data.customers import EXTREME_REVENUE_FACTOR, REVENUE_COLUMNS
from analysis.data.validate import MAX_REPORTED, RULES, validate_exports
from stats.counts import median_from_counts

ENGINES = ("memory", "stream", "dask")
#: ``score --engine auto`` streams an export whose four files hold more than this many bytes together, and
#: reads it whole otherwise. Measured (docs/engines.md): the in-memory engine's peak RSS grows by about
#: 6 MiB per MiB of export (2.2 GiB at 1,000,000 customers, 315 MiB of files), the stream engine's stays at
#: 0.5–0.65 GiB whatever the size; at 48 MiB (about 150,000 customers) the in-memory peak is still below
#: the stream engine's, and it is the faster engine there, so --engine auto never peaks above what
#: --engine stream would.
AUTO_STREAM_BYTES = 48 * 2**20
#: Customers per bucket: the in-memory path needs about 1.8 GB for 1 M customers, so 200 k stay well under 1 GB.
DEFAULT_CHUNK_CUSTOMERS = 200_000
#: Rows of one file read at a time in pass 1 (as text: about 1 kB per row of market_file at most).
CHUNK_ROWS = 500_000
#: Ids kept to place the bucket edges; thinned by halves when full, so the sample is spread over the file.
ID_SAMPLE_SIZE = 1_000_000

OFFER_DTYPES = {"id": "int64", "p_decline": "float64", "profit": "float64", "segment": "object",
                "offer": "object", "risk_drop": "float64",
                "risk_drop_conf_low": "float64", "risk_drop_conf_high": "float64", "reason": "object"}
COUNT_COLUMNS = ["column", "value", "count"]
#: The file in each bucket with its drift and summary counts (written by :func:`score_bucket`).
COUNTS_NAME = "counts.pkl"


# --- the one place that calls analysis.scoring.memory ------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def batch_scorer(results_dir: str) -> Callable[..., tuple[pd.DataFrame, object]]:
    """The scoring of ONE in-memory batch: ``scorer(model_table, excluded, customers_read, warnings) ->
    (offers, counts)``, with the model of ``results_dir`` loaded once per process (each Dask worker loads it
    from the same path); ``counts`` (:class:`analysis.scoring.memory.ScoreCounts`) are the batch's drift and summary
    counts, which add up over the batches.

    Every call into :mod:`analysis.scoring.memory` is in this section, so that a new model file format changes it only.
    """
    from analysis.scoring.memory import ScoreCounts, load_scoring_model, score_table

    spec = load_scoring_model(Path(results_dir))

    def score(table: pd.DataFrame, excluded: pd.DataFrame, customers_read: int, warnings=()):
        offers = score_table(table, excluded, spec)
        return offers, ScoreCounts.of_batch(table, offers, spec, customers_read, warnings)

    return score


def scoring_rules(results_dir: str) -> dict:
    """The business-rule reference values saved with the model (training medians of the extreme-revenue rule):
    a customer's result does not depend on which other customers are in the export or in the same range."""
    from analysis.scoring.memory import load_scoring_model

    return dict(load_scoring_model(Path(results_dir))["rules"])


def finish_scoring(out: Path, results_dir: str, partition: Partition):
    """``drift.csv`` and ``score_summary.csv`` beside ``out`` from the counts every range left in its bucket
    (:func:`score_bucket`), added up: the same tables as the in-memory engine computes from the whole export.

    Returns
    -------
    analysis.scoring.memory.ScoreRun
        With ``offers`` None (they are in ``out``, never all in memory).
    """
    from analysis.scoring.memory import ScoreCounts, finish_run, load_scoring_model

    parts = []
    for bucket in partition.buckets:
        path = bucket / COUNTS_NAME
        if not path.exists():  # every range is scored before this point: a missing file is a bug, not data
            raise RuntimeError(f"range {bucket.name} left no counts ({path}): was it scored?")
        with open(path, "rb") as handle:
            parts.append(pickle.load(handle))
    return finish_run(out, ScoreCounts.total(parts), load_scoring_model(Path(results_dir)))


# --- --engine auto ---------------------------------------------------------------------------------------------

def export_bytes(data_dir: Path) -> int | None:
    """Bytes of the four export files together (their sizes on disk, nothing read); None when one of them is
    missing or not a regular file (the engine then reports it in its own words)."""
    paths = [Path(data_dir) / name for name in EXPORT_FILES]
    if not all(p.is_file() for p in paths):
        return None
    return sum(p.stat().st_size for p in paths)


def choose_engine(data_dir: Path, threshold: int | None = None) -> tuple[str, str]:
    """The engine of ``score --engine auto`` for the export in ``data_dir``, and why (one line, '' when the
    files are not all there: the in-memory engine then names what is missing).

    ``"memory"`` when the four files hold at most ``threshold`` bytes together, else ``"stream"``. The size
    on disk rather than a customer count: it is known without reading the files, and the in-memory engine's
    peak memory grows with the bytes it parses (about 330 bytes of export per customer, synthetic or real).
    ``threshold`` defaults to :data:`AUTO_STREAM_BYTES`, read when called.
    """
    threshold = AUTO_STREAM_BYTES if threshold is None else threshold
    size = export_bytes(data_dir)
    if size is None:
        return "memory", ""
    mib = size / 2**20
    if size <= threshold:
        return "memory", (f"the export holds {mib:.1f} MiB, at most the {threshold / 2**20:g} MiB up to which "
                          "--engine auto reads it whole")
    return "stream", (f"the export holds {mib:.1f} MiB, above the {threshold / 2**20:g} MiB up to which "
                      "--engine auto reads it whole")


# --- pass 1: the four files cut into buckets -----------------------------------------------------------------------

@dataclass(frozen=True)
class _Source:
    """How one export is read: the format sniffed from its header, as :func:`analysis.data.load.read_export` does."""

    name: str
    path: Path
    offset: int  # bytes of a leading byte-order mark
    separator: str
    decimal: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Partition:
    """The export cut into buckets: ``buckets[k]`` is a directory holding the four files of the customers
    whose id falls in the ``k``-th range, and for each file ``<file>.lines`` (int64: the original line of
    each of its rows)."""

    buckets: tuple[Path, ...]
    n_rows: int  # rows of market_file.csv
    violations: tuple[Violation, ...]  # found while cutting (blank lines inside a file)
    n_violations: int


def _open_source(path: Path, name: str) -> _Source:
    """The format of one export; the same one-line errors as :func:`analysis.data.load.read_export` for a missing,
    empty or header-less file."""
    if not path.exists():
        raise ExportError([Violation(name, None, None, None, f"file not found (looked in {path.parent})")])
    with open(path, "rb") as handle:
        head = handle.read(len(BOM))
        offset = len(BOM) if head == BOM else 0
        handle.seek(offset)
        first = handle.readline()
        rest_blank = not first.strip()
        while rest_blank:
            block = handle.read(1 << 20)
            if not block:
                break
            rest_blank = not block.strip()
    if rest_blank:
        raise ExportError([Violation(name, None, None, None, "file is empty")])
    header = first.rstrip(b"\r\n").decode("utf-8", errors="replace")
    separator = ";" if header.count(";") > header.count(",") else ","
    decimal = "," if separator == ";" else "."
    source = _Source(name, path, offset, separator, decimal, ())
    columns = next(_chunks(source, rows=1, nrows=0)).columns
    return _Source(name, path, offset, separator, decimal, tuple(str(c).strip() for c in columns))


def _chunks(source: _Source, rows: int = CHUNK_ROWS, nrows: int | None = None) -> Iterator[pd.DataFrame]:
    """The rows of one export as text, ``rows`` at a time; index = row position (line = index + 2). Read errors
    are the one-line errors of :func:`analysis.data.load.read_export` with the line in the whole file."""
    with open(source.path, "rb") as handle:
        handle.seek(source.offset)
        try:
            reader = pd.read_csv(handle, sep=source.separator, dtype=str, encoding="utf-8",
                                 skip_blank_lines=False, keep_default_na=False, na_values=[""],
                                 chunksize=None if nrows == 0 else rows, nrows=nrows)
            if nrows == 0:
                yield reader
                return
            yield from reader
        except UnicodeDecodeError:
            raise ExportError([Violation(source.name, _first_undecodable_line(source), None, None,
                                         "file is not UTF-8 (a cp1251 export?); save it as UTF-8")]) from None
        except pd.errors.ParserError as err:
            from analysis.data.load import parser_error

            # the same one-line message as the in-memory reader (records counted as lines: no quoted newlines)
            raise parser_error(source.name, err, len(source.columns), None) from None
        except pd.errors.EmptyDataError:
            raise ExportError([Violation(source.name, None, None, None, "file has no header")]) from None


def _first_undecodable_line(source: _Source) -> int | None:
    """The line of the first byte that is not UTF-8 (only on the error path; a line at a time)."""
    with open(source.path, "rb") as handle:
        handle.seek(source.offset)
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def _id_numbers(text: pd.Series, decimal: str) -> np.ndarray:
    """Ids as validation reads them (:func:`analysis.data.validate.check_values`): stripped, decimal mark, float."""
    text = text.astype("str").str.strip()
    if decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")


def _id_column(source: _Source) -> str | None:
    return ID_RU if ID_RU in source.columns else None


def bucket_edges(source: _Source, chunk_customers: int) -> tuple[np.ndarray, int]:
    """Upper id edges of the buckets (bucket ``k`` holds ids in ``[edges[k-1], edges[k])``) and the rows read.

    The edges are quantiles of a systematic sample of the ids of ``market_file.csv`` (every ``step``-th row,
    ``step`` doubling whenever the sample is full), so each bucket holds about ``chunk_customers`` customers.
    """
    if _id_column(source) is None:
        return np.array([]), 0
    sample, step, n_rows = [], 1, 0
    kept = 0
    column = source.columns.index(ID_RU)
    for chunk in _chunks(source):
        ids = _id_numbers(chunk.iloc[:, column], source.decimal)
        positions = np.arange(n_rows, n_rows + len(ids))
        n_rows += len(ids)
        take = ids[(positions % step == 0) & np.isfinite(ids)]
        sample.append(take)
        kept += len(take)
        while kept > ID_SAMPLE_SIZE:
            # Every other kept id: still a systematic sample of the whole file, half as dense.
            sample = [np.concatenate(sample)[::2]]
            kept = len(sample[0])
            step *= 2
    ids = np.concatenate(sample) if sample else np.array([])
    n_buckets = max(1, math.ceil(n_rows / chunk_customers))
    if len(ids) == 0 or n_buckets == 1:
        return np.array([]), n_rows
    edges = np.quantile(ids, np.arange(1, n_buckets) / n_buckets, method="lower")
    return np.unique(edges), n_rows


def _blank_line_violations(source: _Source, lines: list[int]) -> list[Violation]:
    """What validation says of an all-empty row inside a file (:func:`analysis.data.validate.check_values`)."""
    return [Violation(source.name, line, None, None, "empty line") for line in lines]


def partition_export(data_dir: Path, work_dir: Path, chunk_customers: int = DEFAULT_CHUNK_CUSTOMERS,
                     rows: int = CHUNK_ROWS) -> Partition:
    """Pass 0 and 1: cut the four exports of ``data_dir`` into buckets of customers under ``work_dir``.

    Raises
    ------
    ExportError
        When a file is missing, empty, not UTF-8 or not CSV (every such file reported, as by
        :func:`analysis.data.load.read_exports`), or when the headers break the schema (as validation reports it).
    """
    if not (isinstance(chunk_customers, int) and chunk_customers >= 1):
        raise ValueError(f"chunk_customers must be a positive integer, got {chunk_customers!r}")
    sources: dict[str, _Source] = {}
    violations: list[Violation] = []
    for name in EXPORT_FILES:
        try:
            sources[name] = _open_source(Path(data_dir) / name, name)
        except ExportError as err:
            violations.extend(err.violations)
    if violations:
        raise ExportError(violations)
    _check_headers(sources)

    edges, n_rows = bucket_edges(sources[MARKET_FILE], chunk_customers)
    buckets = tuple(Path(work_dir) / f"bucket{k:05d}" for k in range(len(edges) + 1))
    blank: list[Violation] = []
    n_blank = 0
    for name, source in sources.items():
        try:
            found, count = _cut_file(source, buckets, edges, rows)
        except ExportError as err:
            violations.extend(err.violations)
            continue
        n_blank += count
        blank.extend(found[: max(0, MAX_REPORTED - len(blank))])
    if violations:
        raise ExportError(violations)
    return Partition(buckets=buckets, n_rows=n_rows, violations=tuple(blank), n_violations=n_blank)


def _check_headers(sources: dict[str, _Source]) -> None:
    """The header rules of validation (required columns present), run on the headers alone."""
    exports = {
        name: RawExport(name=name, path=s.path, frame=pd.DataFrame(columns=list(s.columns)), separator=s.separator,
                        decimal=s.decimal, had_bom=s.offset > 0)
        for name, s in sources.items()
    }
    try:
        validate_exports(exports, require_target=False)
    except ExportError as err:
        header = [v for v in err.violations if v.line == 1]
        if header:
            raise ExportError(header) from None


def _cut_file(source: _Source, buckets: tuple[Path, ...], edges: np.ndarray, rows: int) -> tuple[list, int]:
    """Append each row of one export to its bucket; returns the violations of blank rows inside the file."""
    header = pd.DataFrame(columns=list(source.columns))
    handles, line_handles = [], []
    blank_found: list[Violation] = []
    n_blank = 0
    pending: list[int] = []  # all-empty rows not yet known to be inside the file (trailing ones are not rows)
    try:
        for bucket in buckets:
            bucket.mkdir(parents=True, exist_ok=True)
            handle = open(bucket / source.name, "w", encoding="utf-8", newline="")
            header.to_csv(handle, sep=source.separator, index=False)
            handles.append(handle)
            line_handles.append(open(bucket / f"{source.name}.lines", "wb"))
        id_position = source.columns.index(ID_RU) if ID_RU in source.columns else None
        for chunk in _chunks(source, rows):
            chunk.columns = list(source.columns)
            lines = chunk.index.to_numpy(dtype=np.int64) + 2
            empty = chunk.isna().all(axis=1).to_numpy()
            filled = np.flatnonzero(~empty)
            if len(filled):
                inside = pending + lines[empty & (np.arange(len(chunk)) < filled[-1])].tolist()
                pending = lines[empty & (np.arange(len(chunk)) > filled[-1])].tolist()
                n_blank += len(inside)
                if len(blank_found) < MAX_REPORTED:
                    blank_found += _blank_line_violations(source, inside[:MAX_REPORTED])
            else:
                pending += lines.tolist()
            chunk, lines = chunk[~empty], lines[~empty]
            if id_position is None:
                bucket_of = np.zeros(len(chunk), dtype=np.int64)
            else:
                ids = _id_numbers(chunk.iloc[:, id_position], source.decimal)
                # Ids that are not numbers are errors validation will report; any bucket will do.
                bucket_of = np.where(np.isnan(ids), 0, np.searchsorted(edges, ids, side="right"))
            order = np.argsort(bucket_of, kind="stable")
            starts = np.searchsorted(bucket_of[order], np.arange(len(buckets) + 1))
            for k in range(len(buckets)):
                rows_k = order[starts[k]:starts[k + 1]]
                if len(rows_k):
                    chunk.iloc[rows_k].to_csv(handles[k], sep=source.separator, header=False, index=False,
                                              na_rep="")
                    line_handles[k].write(lines[rows_k].tobytes())
    finally:
        for handle in handles + line_handles:
            handle.close()
    return blank_found, n_blank


# --- passes 2 and 3: one bucket through the in-memory path -------------------------------------------------------

def _original_lines(bucket: Path) -> dict[str, np.ndarray]:
    return {name: np.fromfile(bucket / f"{name}.lines", dtype=np.int64) for name in EXPORT_FILES}


def _to_original(violation: Violation, lines: dict[str, np.ndarray]) -> Violation:
    """A bucket's violation with the line (and a line quoted in the message) of the original file."""
    def original(line: int | None) -> int | None:
        return line if line is None or line < 2 else int(lines[violation.file][line - 2])

    message = violation.message
    prefix = "conflicting duplicate of line "
    if message.startswith(prefix):
        quoted, rest = message[len(prefix):].split(" ", 1)
        message = f"{prefix}{original(int(quoted))} {rest}"
    return Violation(violation.file, original(violation.line), violation.column, violation.value, message)


def validate_bucket(bucket: str | Path, rules: dict | None = None) -> pd.DataFrame:
    """Pass 2 on one bucket: the in-memory scoring's data stage (read, validate with the target column ignored and
    unknown text categories let through, customer table, business rules with the training reference values).

    Writes ``customers.pkl`` (the model table, the excluded customers, the number of customers read and the
    validation warnings) into the bucket, or ``violations.pkl``
    (with original lines) when the bucket breaks the schema: violations are data here, not an exception, so that
    they survive the trip from a Dask worker.

    Returns
    -------
    pandas.DataFrame
        Columns ``column, value, count`` (kept for the engine's bookkeeping; empty).
    """
    from analysis.data.dataset import load_dataset
    from analysis.scoring.memory import OPEN_CATEGORIES

    bucket = Path(bucket)
    empty = pd.DataFrame({"column": pd.Series(dtype="object"), "value": pd.Series(dtype="float64"),
                          "count": pd.Series(dtype="int64")})
    rules = rules or {}
    try:
        dataset = load_dataset(bucket, require_target=False,
                               extreme_factor=rules.get("extreme_revenue_factor", EXTREME_REVENUE_FACTOR),
                               ignore_target=True, revenue_medians=rules.get("revenue_medians"),
                               open_categories=OPEN_CATEGORIES)
    except ExportError as err:
        lines = _original_lines(bucket)
        found = [_to_original(v, lines) for v in err.violations]
        with open(bucket / "violations.pkl", "wb") as handle:
            pickle.dump((found, err.n_total), handle)
        return empty
    with open(bucket / "customers.pkl", "wb") as handle:
        pickle.dump((dataset.model_table, dataset.data.excluded, len(dataset.data.customers),
                     tuple(dataset.validated.warnings)), handle)
    return empty


def export_medians(counts: pd.DataFrame) -> pd.Series:
    """Monthly median revenue of the regular customers of the whole export, from the counts of all buckets."""
    medians = {}
    for column in REVENUE_COLUMNS:
        part = counts[counts["column"] == column]
        medians[column] = median_from_counts(part.groupby("value")["count"].sum())
    return pd.Series(medians, dtype="float64")



def score_bucket(bucket: str | Path, results_dir: str, medians: dict | None = None) -> pd.DataFrame:
    """Pass 3 on one bucket (after :func:`validate_bucket`): the scoring of the batch.

    Also writes the batch's drift and summary counts (:class:`analysis.scoring.memory.ScoreCounts`) to
    ``counts.pkl`` in the bucket, where :func:`finish_scoring` adds them up (through a temporary file renamed
    into place, so that a task a Dask worker runs twice leaves one whole file).

    Returns
    -------
    pandas.DataFrame
        The offers of the bucket's customers, as :func:`analysis.scoring.memory.score_table` returns them.
    """
    bucket = Path(bucket)
    with open(bucket / "customers.pkl", "rb") as handle:
        model_table, excluded, customers_read, warnings = pickle.load(handle)
    offers, counts = batch_scorer(str(results_dir))(model_table, excluded, customers_read, warnings)
    temporary = bucket / f".{COUNTS_NAME}.{os.getpid()}"
    with open(temporary, "wb") as handle:
        pickle.dump(counts, handle)
    os.replace(temporary, bucket / COUNTS_NAME)
    if len(offers) == 0:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in OFFER_DTYPES.items()})
    return offers


# Validation checks values (every rule, every file) before structure, and stops after the first stage that fails;
# the order of its messages within a stage is recreated from the message text.
_VALUE_CHECKS = ("missing value", "unknown value", "not a number", "customer id is not an integer",
                 "not a finite number", "below the allowed minimum", "above the allowed maximum")
_STRUCTURE_CHECKS = ("conflicting duplicate", "customer has no row", "customer is not in", "customer is missing from")


def _stage_and_key(violation: Violation) -> tuple[int, tuple]:
    """Validation stage (1 values, 2 structure) of a violation, and its place in the in-memory order."""
    files = {name: i for i, name in enumerate(EXPORT_FILES)}
    file = files.get(violation.file, len(files))
    line = violation.line or 0
    for check, prefix in enumerate(_STRUCTURE_CHECKS):
        if violation.message.startswith(prefix):
            if check < 2:  # duplicates then periods, file by file
                return 2, (2 * file + check, line)
            if check == 2:  # ids missing from market_file, file by file
                return 2, (2 * len(files) + 2 * file, line)
            other = files.get(violation.message.rsplit(" ", 1)[-1], len(files))
            return 2, (2 * len(files) + 2 * other + 1, violation.value)  # in id order
    rules = [r.column for r in RULES if r.file == violation.file]
    column = rules.index(violation.column) if violation.column in rules else len(rules)
    kind = next((i for i, c in enumerate(_VALUE_CHECKS) if violation.message.startswith(c)), len(_VALUE_CHECKS))
    return 1, (file, column, kind, line)


def _raise_violations(partition: Partition) -> None:
    """The violations of pass 1 and of every bucket, with original lines, as validation of the whole export
    reports them: the first failing stage only, in its order, the first :data:`MAX_REPORTED` and the total."""
    found = [(1, list(partition.violations), partition.n_violations)] if partition.n_violations else []
    for bucket in partition.buckets:
        path = bucket / "violations.pkl"
        if path.exists():
            with open(path, "rb") as handle:
                violations, n_total = pickle.load(handle)
            # A bucket stops at its first failing stage, so all its violations share it.
            found.append((_stage_and_key(violations[0])[0], violations, n_total))
    if not found:
        return
    stage = min(s for s, _, _ in found)
    kept = [v for s, vs, _ in found if s == stage for v in vs]
    total = sum(n for s, _, n in found if s == stage)
    kept.sort(key=lambda v: _stage_and_key(v)[1])
    raise ExportError(kept[:MAX_REPORTED], max(total, min(len(kept), MAX_REPORTED)))


# --- the command -------------------------------------------------------------------------------------------------

def score_streaming(data_dir, results_dir: Path, out: Path, engine: str = "stream", scheduler: str | None = None,
                    chunk_customers: int = DEFAULT_CHUNK_CUSTOMERS, work_dir: Path | None = None,
                    rows: int = CHUNK_ROWS):
    """Score a new export bucket by bucket and write the offers CSV to ``out``, and ``drift.csv`` and
    ``score_summary.csv`` beside it (the same three files as :func:`analysis.scoring.memory.score_export` writes).

    Parameters
    ----------
    engine
        ``"stream"`` (one bucket at a time in this process) or ``"dask"`` (buckets as the partitions of Dask
        DataFrames computed on the cluster whose scheduler is at ``scheduler``, e.g. ``tcp://10.0.0.5:8786``).
    chunk_customers
        Customers per bucket (about): sets the peak memory.
    work_dir
        Where the buckets are written (deleted at the end); by default a temporary directory beside ``out``.
        With Dask it must be readable by every worker at the same path.

    Returns
    -------
    analysis.scoring.memory.ScoreRun
        The paths written, the drift and summary tables and the warnings; ``offers`` is None (they are in
        ``out`` only).

    Raises
    ------
    ExportError
        On invalid data, with the original file, line and column of each violation.
    """
    if engine not in ("stream", "dask"):
        raise ValueError(f"engine must be 'stream' or 'dask' (--scheduler and --chunk-customers do not apply to "
                         f"the in-memory engine), got {engine!r}")
    if engine == "dask" and not scheduler:
        raise ValueError("--engine dask needs --scheduler ADDRESS (e.g. tcp://scheduler-host:8786)")
    if engine != "dask" and scheduler:
        raise ValueError("--scheduler is only used with --engine dask")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    data_dir = resolve_data_dir(data_dir)
    batch_scorer(str(results_dir))  # a missing or broken model is reported before any data is cut
    work = Path(tempfile.mkdtemp(prefix=".score-", dir=work_dir or out.parent))
    partial = out.with_name(f".{out.name}.partial")
    try:
        partition = partition_export(data_dir, work, chunk_customers, rows)
        if engine == "stream":
            rules = scoring_rules(str(results_dir))
            for b in partition.buckets:
                validate_bucket(b, rules)
            _raise_violations(partition)
            frames = (score_bucket(b, str(results_dir)) for b in partition.buckets)
            _append(frames, partial)
        else:
            _score_dask(partition, str(results_dir), scheduler, partial)
        os.replace(partial, out)
        # The counts each range left beside its offers, added up: no second pass over the export.
        return finish_scoring(out, str(results_dir), partition)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        partial.unlink(missing_ok=True)


def _append(frames, path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        first = True
        for frame in frames:
            if first or len(frame):
                frame.to_csv(handle, header=first, index=False)
                first = False


def _score_dask(partition: Partition, results_dir: str, scheduler: str, partial: Path) -> None:
    """Passes 2 and 3 on a Dask cluster: one partition per bucket, offers gathered in bucket order."""
    import dask
    import dask.dataframe as dd
    from distributed import Client

    buckets = [str(b) for b in partition.buckets]
    count_meta = pd.DataFrame({"column": pd.Series(dtype="object"), "value": pd.Series(dtype="float64"),
                               "count": pd.Series(dtype="int64")})
    offer_meta = pd.DataFrame({c: pd.Series(dtype=t) for c, t in OFFER_DTYPES.items()})
    # Text columns stay as the scoring returns them (no conversion to Arrow strings on the way).
    with dask.config.set({"dataframe.convert-string": False}), Client(scheduler) as client:
        rules = scoring_rules(results_dir)
        dd.from_map(validate_bucket, buckets, rules=rules, meta=count_meta, enforce_metadata=False).compute()
        _raise_violations(partition)
        offers = dd.from_map(score_bucket, buckets, results_dir=results_dir, meta=offer_meta,
                             enforce_metadata=False)
        parts = offers.to_delayed()
        window = max(2, 2 * len(client.scheduler_info().get("workers", {})))
        futures = client.compute(parts[:window])

        def gathered():
            nonlocal futures
            for i in range(len(parts)):
                if i + window < len(parts):
                    futures.append(client.compute(parts[i + window]))
                frame = futures[i].result()
                futures[i].release()
                yield frame

        _append(gathered(), partial)
