"""Number formats of the report and the Markdown display of a formatted table.

Every function takes a raw value and returns a display string; ``—`` stands for a missing value. Minus signs
are typographic (``−``); p-values below 0.001 are shown as ``< 0.001``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and np.isnan(x)) or pd.isna(x)


def fmt_int(x) -> str:
    return "—" if _missing(x) else f"{int(round(float(x))):,}"


def fmt_num(x, digits: int = 2) -> str:
    return "—" if _missing(x) else f"{float(x):,.{digits}f}".replace("-", "−")


def fmt_pct(x, digits: int = 1) -> str:
    return "—" if _missing(x) else f"{100 * float(x):.{digits}f}%".replace("-", "−")


def fmt_p(p) -> str:
    if _missing(p):
        return "—"
    p = float(p)
    return "<\u00a00.001" if p < 0.001 else f"{p:.3f}"


def fmt_ci(low, high, digits: int = 2, scale: float = 1.0) -> str:
    if _missing(low) or _missing(high):
        return "—"
    return f"{fmt_num(low * scale, digits)} to {fmt_num(high * scale, digits)}"


def fmt_est_ci(est, low, high, digits: int = 1) -> str:
    return f"{fmt_num(est, digits)} ({fmt_ci(low, high, digits)})"


def fmt_big(x) -> str:
    """A general statistic: fixed for moderate values, scientific for tiny/huge ones."""
    if _missing(x):
        return "—"
    x = float(x)
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.2e}".replace("-", "−")
    return fmt_num(x, 3)


_NUMERIC_CELL = re.compile(r"^[<>≤≥−+\-]?\s?[\d,.]+(%| \(.*\)|e[−\-+]?\d+)?$|^—$|^[−\-]?[\d.,]+ to [−\-]?[\d.,]+$|^[\d,]+ of [\d,]+$")


#: Text width of the PDF (A4, 2 cm margins) in points, and the approximate width of one character of table text.
TEXT_WIDTH_PT = (21 - 4) / 2.54 * 72
TABLE_CHAR_PT = 4.2
TABLE_CELL_PAD_PT = 10.0
SHORT_COLUMN_CHARS = 16


def _cell_len(text: str) -> int:
    return len(text.replace("\\", ""))


def md(frame: pd.DataFrame):
    """A display frame as Markdown (``IPython.display.Markdown(df.to_markdown(index=False))``).

    Strings are kept exactly as formatted; columns whose cells all look numeric are right-aligned. A table
    too wide for the page gets relative column widths (a separator line longer than Pandoc's ``--columns``),
    so that its text wraps at full size instead of the whole table being scaled down.
    """
    from IPython.display import Markdown

    align = []
    for column in frame.columns:
        cells = frame[column].astype(str)
        numeric = len(cells) > 0 and cells.map(lambda s: bool(_NUMERIC_CELL.match(s.strip()))).all()
        align.append("right" if numeric else "left")
    cells = frame.astype(str).apply(lambda col: col.str.replace("|", "\\|", regex=False)
                                    .str.replace("*", "\\*", regex=False))
    text = cells.to_markdown(index=False, disable_numparse=True, colalign=align)
    longest = [max([_cell_len(str(c)) for c in cells[col]] + [len(str(col))]) for col in cells.columns]
    natural = sum(n * TABLE_CHAR_PT + TABLE_CELL_PAD_PT for n in longest)
    if natural > TEXT_WIDTH_PT and len(cells.columns) > 1:
        # Short columns (numbers, codes) keep their natural width; the long text columns share the rest,
        # the shorter ones first (water-filling); any width left over widens headers that would wrap.
        budget = TEXT_WIDTH_PT / TABLE_CHAR_PT - len(longest) * TABLE_CELL_PAD_PT / TABLE_CHAR_PT
        headers = [str(col) for col in cells.columns]
        words = [max((len(w) for w in h.split()), default=1) for h in headers]
        body = [max([_cell_len(str(c)) for c in cells[col]] + [1]) for col in cells.columns]
        fixed = [a == "right" or n <= SHORT_COLUMN_CHARS for n, a in zip(body, align)]
        weights = [float(max(n, w) + 1) if f else 0.0 for n, w, f in zip(body, words, fixed)]
        remaining = budget - sum(weights)
        wrap = sorted((i for i, f in enumerate(fixed) if not f), key=lambda i: body[i])
        for k, i in enumerate(wrap):
            share = max(remaining / (len(wrap) - k), words[i] + 1, 8)
            weights[i] = min(float(body[i] + 1), share)
            remaining -= weights[i]
        deficits = [max(len(headers[i]) + 1 - weights[i], 0.0) if f else 0.0 for i, f in enumerate(fixed)]
        if remaining > 0 and sum(deficits) > 0:
            scale = min(1.0, remaining / sum(deficits))
            weights = [w + d * scale for w, d in zip(weights, deficits)]
        total = sum(weights)
        dashes = [max(3, round(1100 * w / total)) for w in weights]
        separator = "|" + "|".join(("-" * (d - 1) + ":") if a == "right" else (":" + "-" * (d - 1))
                                   for d, a in zip(dashes, align)) + "|"
        lines = text.split("\n")
        lines[1] = separator
        text = "\n".join(lines)
    return Markdown(text)


def bullets(lines: list[str]):
    from IPython.display import Markdown

    return Markdown("\n".join(f"- {line}" for line in lines))
