"""Read the store's four exports in their original formats, exactly as they are (no cleaning here).

market_file, market_money and market_time are comma-separated with a decimal point; money.csv is
semicolon-separated with a decimal comma (the comma/point variant is accepted too). CRLF or LF line ends and
an optional UTF-8 byte-order mark are accepted. Line numbers of every row are kept so that any later error can
name the line of the file it comes from.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.dictionary import EXPORT_FILES

BOM = b"\xef\xbb\xbf"


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
            parts.append(f"column '{self.column}'")
        if self.value is not None:
            parts.append(f"value '{self.value}'")
        return ": ".join(parts) + f": {self.message}"


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

    ``frame.index`` is the row position; the row's line number in the file is ``index + 2`` (line 1 is the
    header, blank lines are kept as empty rows so this stays exact).
    """

    name: str
    path: Path
    frame: pd.DataFrame
    separator: str
    decimal: str
    had_bom: bool
    warnings: list[str] = field(default_factory=list)


def line_of(index) -> int:
    """Line number in the file of the row with this frame index."""
    return int(index) + 2


def read_export(path: Path, name: str | None = None) -> RawExport:
    """Read one export file.

    Raises
    ------
    ExportError
        When the file is missing, empty, not UTF-8, or not parseable as CSV (with the offending line).
    """
    path = Path(path)
    name = name or path.name
    if not path.exists():
        raise ExportError([Violation(name, None, None, None, f"file not found (looked in {path.parent})")])
    raw = path.read_bytes()
    had_bom = raw.startswith(BOM)
    if had_bom:
        raw = raw[len(BOM):]
    if not raw.strip():
        raise ExportError([Violation(name, None, None, None, "file is empty")])
    newline = raw.find(b"\n")
    header = raw[: newline if newline >= 0 else len(raw)].decode("utf-8", errors="replace")
    separator = ";" if header.count(";") > header.count(",") else ","
    decimal = "," if separator == ";" else "."
    try:
        frame = pd.read_csv(
            io.BytesIO(raw),
            sep=separator,
            decimal=decimal,
            encoding="utf-8",
            skip_blank_lines=False,
            keep_default_na=False,
            na_values=[""],
        )
    except UnicodeDecodeError:
        # Only on the error path: find the first undecodable byte to name its line.
        try:
            raw.decode("utf-8")
            line = None
        except UnicodeDecodeError as err:
            line = raw.count(b"\n", 0, err.start) + 1
        raise ExportError([Violation(name, line, None, None,
                                     "file is not UTF-8 (a cp1251 export?); save it as UTF-8")]) from None
    except pd.errors.ParserError as err:
        match = re.search(r"line (\d+)", str(err))
        line = int(match.group(1)) if match else None
        raise ExportError([Violation(name, line, None, None, f"cannot parse CSV: {str(err).strip()}")]) from None
    except pd.errors.EmptyDataError:
        raise ExportError([Violation(name, None, None, None, "file has no header")]) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    # A trailing empty line after the last CRLF is not a row; blank lines inside the file are kept.
    while len(frame) and frame.iloc[-1].isna().all():
        frame = frame.iloc[:-1]
    return RawExport(name=name, path=path, frame=frame, separator=separator, decimal=decimal, had_bom=had_bom)


def read_exports(data_dir: Path) -> dict[str, RawExport]:
    """Read all four exports from a directory; every missing or unreadable file is reported together."""
    exports: dict[str, RawExport] = {}
    violations: list[Violation] = []
    for name in EXPORT_FILES:
        try:
            exports[name] = read_export(Path(data_dir) / name, name)
        except ExportError as err:
            violations.extend(err.violations)
    if violations:
        raise ExportError(violations)
    return exports
