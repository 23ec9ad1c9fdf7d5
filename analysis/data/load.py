"""Read the store's four exports in their original formats, exactly as they are (no cleaning here).

market_file, market_money and market_time are comma-separated with a decimal point; money.csv is
semicolon-separated with a decimal comma (the comma/point variant is accepted too). CRLF, LF or CR line ends
and an optional UTF-8 byte-order mark are accepted. Customer ids are read as text (never as a float), so that
validation can check them digit by digit. The physical line of every row is kept (a quoted value may span
several lines), so that any later error names the line a text editor shows.

What is refused here, each with a one-line :class:`Violation`: a missing file, a directory or unreadable path,
a file that is not a UTF-8 text file (UTF-16/32 with a byte-order mark, ZIP/xlsx, xls, PNG, PDF, gzip, NUL
bytes are recognised by their first bytes before the encoding is guessed), an empty file, a header without data
rows, a column name given twice, rows with more fields than the header, and a last line whose number ends with
its decimal separator ("3," — a file cut inside its last number).
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.dictionary import EXPORT_FILES, ID_RU, MONEY

BOM = b"\xef\xbb\xbf"
#: At most this many characters of an offending value are shown in a message.
MAX_VALUE_CHARS = 80

# First bytes of file types that are sometimes saved under a .csv name, checked before the encoding.
MAGIC = (
    (b"\xff\xfe\x00\x00", "a UTF-32 text file"),
    (b"\x00\x00\xfe\xff", "a UTF-32 text file"),
    (b"\xff\xfe", "a UTF-16 text file"),
    (b"\xfe\xff", "a UTF-16 text file"),
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook?)"),
    (b"\xd0\xcf\x11\xe0", "an Excel .xls workbook"),
    (b"\x89PNG", "a PNG image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip-compressed file"),
)

# Control characters, and the invisible format characters (zero-width spaces, direction marks, BOM).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


def show_value(value: object) -> str:
    """A value as a message shows it: control characters escaped, at most :data:`MAX_VALUE_CHARS` characters."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    text = str(value)
    cut = len(text) > MAX_VALUE_CHARS
    text = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text[:MAX_VALUE_CHARS])
    return text + (f"… ({len(str(value))} characters)" if cut else "")


@dataclass(frozen=True)
class Violation:
    """One broken rule: where it is (file, line in the file, column), what was found, and what is wrong."""

    file: str
    line: int | None
    column: str | None
    value: object
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [where]
        if self.column is not None:
            parts.append(f"column '{show_value(self.column)}'")
        if self.value is not None:
            parts.append(f"value '{show_value(self.value)}'")
        return ": ".join(parts) + f": {_CONTROL.sub(' ', self.message)}"


class ExportError(Exception):
    """An export that breaks the schema. Carries every violation found (up to a limit), not only the first."""

    def __init__(self, violations: list[Violation], n_total: int | None = None):
        self.violations = list(violations)
        self.n_total = len(self.violations) if n_total is None else n_total
        super().__init__(self.lines()[0] if self.violations else "invalid export")

    def lines(self) -> list[str]:
        """One line per violation, plus a final count when some were left out."""
        out = [str(v) for v in self.violations]
        if self.n_total > len(self.violations):
            out.append(f"... and {self.n_total - len(self.violations)} more violations")
        return out


@dataclass
class RawExport:
    """One export as read: the frame with the file's own column names, and how it was read.

    ``frame.index`` is the row position (0 for the first row after the header); :meth:`line` gives the row's
    line number in the file (line 1 is the header; blank lines are kept as empty rows so this stays exact).
    ``row_lines`` is ``None`` when every row is one physical line, else the first physical line of each row.
    """

    name: str
    path: Path
    frame: pd.DataFrame
    separator: str
    decimal: str
    had_bom: bool
    warnings: list[str] = field(default_factory=list)
    row_lines: np.ndarray | None = None

    def line(self, index) -> int:
        """Line number in the file where the row with this frame index starts."""
        if self.row_lines is None or int(index) >= len(self.row_lines):
            return line_of(index)
        return int(self.row_lines[int(index)])


def line_of(index) -> int:
    """Line number in the file of the row with this frame index, when every row is one physical line."""
    return int(index) + 2


def _error(name: str, message: str, line: int | None = None, column: str | None = None, value=None) -> ExportError:
    return ExportError([Violation(name, line, column, value, message)])


def _sniff(raw: bytes, name: str) -> None:
    """Refuse files that are not text before guessing at their encoding."""
    for magic, kind in MAGIC:
        if raw.startswith(magic):
            raise _error(name, f"file is {kind}, not a CSV text file; export it as CSV in UTF-8")
    nul = raw.find(b"\x00")
    if nul >= 0:
        head = raw[:512]
        # UTF-16 without a byte-order mark: every other byte is the high byte of a code point, which takes only
        # a few values in text (0x00 for ASCII, 0x04 for Cyrillic).
        if len(head) >= 8 and min(len(set(head[0::2])), len(set(head[1::2]))) <= 4:
            raise _error(name, "file looks like UTF-16 text without a byte-order mark; export it as CSV in UTF-8")
        raise _error(name, "file contains a NUL byte (a damaged or binary file)", line=raw.count(b"\n", 0, nul) + 1)


def _first_line(raw: bytes) -> bytes:
    ends = [p for p in (raw.find(b"\n"), raw.find(b"\r")) if p >= 0]
    return raw[: min(ends)] if ends else raw


def _row_lines(raw: bytes, separator: str) -> np.ndarray | None:
    """First physical line of every record (header first), when a quoted value may span lines; else None."""
    if b'"' not in raw:
        return None
    text = raw.decode("utf-8")
    starts, previous = [], 0
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, quotechar='"')
    try:
        for _ in reader:
            starts.append(previous + 1)
            previous = reader.line_num
    except csv.Error:
        pass
    return np.asarray(starts[1:], dtype=np.int64)


def parser_error(name: str, err: Exception, header_width: int, starts: np.ndarray | None) -> ExportError:
    """pandas counts records (header = 1); name the physical line instead."""
    text = " ".join(str(err).split())
    match = re.search(r"(?:line|row) (\d+)", text)
    line = None
    if match:
        record = int(match.group(1))
        line = int(starts[record - 2]) if starts is not None and 2 <= record <= len(starts) + 1 else record
    fields = re.search(r"Expected (\d+) fields in line \d+, saw (\d+)", text)
    if fields:
        message = (f"row has {fields.group(2)} fields but the header has {header_width} "
                   "(an unquoted separator inside a value?)")
    elif "EOF inside string" in text:
        message = "a quoted value is never closed (a stray '\"'?)"
    else:
        message = f"cannot parse CSV: {text}"
    return _error(name, message, line=line)


def _cut_last_number(raw: bytes, separator: str, name: str, header: list[str], line: int) -> list[Violation]:
    """Numbers on the last line (physical ``line``) that end with their decimal separator ("3," or "3."): what a
    file cut inside its last number leaves, and what pandas would read as a whole number (3.0)."""
    end = len(raw)
    while end and raw[end - 1] in b"\r\n":  # no rstrip: it would copy the whole file
        end -= 1
    begin = max(raw.rfind(b"\n", 0, end), raw.rfind(b"\r", 0, end)) + 1
    cells = next(csv.reader([raw[begin:end].decode("utf-8", errors="replace")], delimiter=separator), [])
    return [
        Violation(name, line, header[position] if position < len(header) else None, cell,
                  "number ends with its decimal separator: the file looks cut inside its last number")
        for position, cell in enumerate(cells)
        if re.fullmatch(r"[+-]?[0-9]+[.,]", cell.strip())
    ]


def empty_rows(frame: pd.DataFrame) -> np.ndarray:
    """Which rows have no value at all (blank lines), as a boolean array; only rows with an empty first cell are
    looked at in full, which keeps this cheap on millions of rows."""
    empty = frame.iloc[:, 0].isna().to_numpy().copy() if frame.shape[1] else np.zeros(len(frame), dtype=bool)
    if empty.any():
        candidates = np.flatnonzero(empty)
        empty[candidates] = frame.iloc[candidates].isna().all(axis=1).to_numpy()
    return empty


def read_export(path: Path, name: str | None = None) -> RawExport:
    """Read one export file.

    Raises
    ------
    ExportError
        When the file is missing, not a readable file, not UTF-8 text, empty, without data rows, has a
        repeated column name, is not parseable as CSV, or holds a number cut after its decimal separator.
    """
    path = Path(path)
    name = name or path.name
    if not path.exists():
        raise _error(name, f"file not found (looked in {path.parent})")
    if path.is_dir():
        raise _error(name, f"is a directory, not a file ({path})")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise _error(name, f"cannot read the file: {err.strerror or err}") from None
    _sniff(raw, name)
    had_bom = raw.startswith(BOM)
    if had_bom:
        raw = raw[len(BOM):]
    if re.search(rb"\S", raw) is None:  # not raw.strip(): that would copy the whole file
        raise _error(name, "file is empty")
    try:
        header_text = _first_line(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise _error(name, "file is not UTF-8 (a cp1251 export?); save it as UTF-8", line=1) from None
    separator = ";" if header_text.count(";") > header_text.count(",") else ","
    if header_text.count(";") == header_text.count(","):  # a one-column header: the file's documented format
        separator = ";" if name == MONEY else ","
    decimal = "," if separator == ";" else "."
    header = [c.strip() for c in next(csv.reader([header_text], delimiter=separator))]
    repeated = [c for c, n in Counter(c for c in header if c).items() if n > 1]
    if repeated:
        raise ExportError([
            Violation(name, 1, c, None, "column name appears more than once in the header (columns "
                      + " and ".join(str(i + 1) for i, h in enumerate(header) if h == c)
                      + "): which one is meant is ambiguous")
            for c in repeated
        ])
    try:
        starts = _row_lines(raw, separator)
    except UnicodeDecodeError:
        starts = None  # reported below with its line
    frame = None
    for width in (len(header), len(header) + 1):
        try:
            with warnings.catch_warnings():
                # Mixed types in a column are checked value by value in validation, not warned about here.
                warnings.simplefilter("ignore", pd.errors.DtypeWarning)
                frame = pd.read_csv(
                    io.BytesIO(raw), sep=separator, decimal=decimal, encoding="utf-8", header=0,
                    names=list(range(width)), dtype={i: object for i, c in enumerate(header) if c == ID_RU},
                    skip_blank_lines=False, keep_default_na=False, na_values=[""],
                )
        except UnicodeDecodeError:
            try:
                raw.decode("utf-8")
                line = None
            except UnicodeDecodeError as err:
                line = raw.count(b"\n", 0, err.start) + 1
            raise _error(name, "file is not UTF-8 (a cp1251 export?); save it as UTF-8", line=line) from None
        except pd.errors.ParserError as err:
            raise parser_error(name, err, len(header), starts) from None
        except pd.errors.EmptyDataError:
            raise _error(name, "file has no header") from None
        if isinstance(frame.index, pd.RangeIndex):
            break
        # Every row has one field more than the header: pandas would take the first as the row label.
    warnings_out: list[str] = []
    if len(frame.columns) > len(header):
        extra = frame[frame.columns[-1]]
        if extra.notna().any():
            first = int(np.flatnonzero(extra.notna().to_numpy())[0])
            line = int(starts[first]) if starts is not None and first < len(starts) else line_of(first)
            raise _error(name, f"row has {len(header) + 1} fields but the header has {len(header)}", line=line)
        frame = frame.iloc[:, :-1]
        warnings_out.append(f"{name}: every row ends with a separator the header does not have; ignored")
    frame.columns = header
    # Empty lines after the last row are not rows; empty lines inside the file are kept (and refused later).
    filled = np.flatnonzero(~empty_rows(frame))
    frame = frame.iloc[: filled[-1] + 1] if len(filled) else frame.iloc[:0]
    if frame.empty:
        raise _error(name, "file has a header but no data rows")
    last = len(frame) - 1
    cut = _cut_last_number(raw, separator, name, header,
                           int(starts[last]) if starts is not None and last < len(starts) else line_of(last))
    if cut:
        raise ExportError(cut)
    for position, column in enumerate(header):
        if not column:
            warnings_out.append(f"{name}: column {position + 1} has no name; ignored")
    return RawExport(name=name, path=path, frame=frame, separator=separator, decimal=decimal, had_bom=had_bom,
                     warnings=warnings_out, row_lines=starts)


def read_exports(data_dir: Path) -> dict[str, RawExport]:
    """Read all four exports from a directory; every missing or unreadable file is reported together."""
    data_dir = Path(data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise _error(str(data_dir), "the data directory is a file, not a directory")
    exports: dict[str, RawExport] = {}
    violations: list[Violation] = []
    for name in EXPORT_FILES:
        try:
            exports[name] = read_export(data_dir / name, name)
        except ExportError as err:
            violations.extend(err.violations)
    if violations:
        raise ExportError(violations)
    return exports
