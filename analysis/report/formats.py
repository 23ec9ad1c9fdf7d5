"""Number formats of the report and the Markdown display of a formatted table.

Every function takes a raw value and returns a display string; ``—`` stands for a missing value. Minus signs
are typographic (``−``); p-values below 0.001 are shown as ``< 0.001``. ``lang="en"`` (the default: the
report) or ``lang="ru"`` (the brief: decimal comma, non-breaking space between thousands and before ``%`` and
units, «ёлочки», dates in Russian).

Every display string is an :class:`Md`: Markdown, as Quarto must insert it. Quarto inserts an inline value that is
a plain ``str`` as its escaped repr (a no-break space would print as ``\\xa0``, ``*emphasis*`` with its
asterisks) and a value with a ``text/markdown`` representation as Markdown. Joining Md pieces (an f-string,
``+``, ``.join``) gives a plain ``str`` again, so a function whose result is shown inline is decorated with
:func:`markdown_result`, which makes its string, or every string of its dict, an Md.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re

import numpy as np
import pandas as pd

class Md(str):
    """A string that is Markdown: IPython (and so Quarto, inline or in a chunk) shows it as ``text/markdown``.

    It is a ``str`` in every other respect (comparisons, formatting, pandas cells, CSV, JSON).
    """

    __slots__ = ()

    def _repr_markdown_(self) -> str:
        return str(self)


def as_markdown(value):
    """``value`` with its strings made :class:`Md`: a ``str``, or the ``str`` values of a dict (others as given)."""
    if isinstance(value, str):
        return Md(value)
    if isinstance(value, dict):
        return {key: Md(v) if isinstance(v, str) else v for key, v in value.items()}
    return value


def markdown_result(function):
    """Decorator: the function's string result, or every string of its dict result, as :class:`Md`."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        return as_markdown(function(*args, **kwargs))

    return wrapper


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and np.isnan(x)) or pd.isna(x)


#: Languages of the formats: ``en`` (the report) and ``ru`` (the brief).
LANGS = ("en", "ru")
#: Non-breaking space: between the thousands of a Russian number, before a unit or ``%``, inside ``п. п.``.
NBSP = "\u00a0"
MINUS = "\u2212"
MONTHS_RU = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
             "ноября", "декабря")
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")
#: Percentage points and the confidence interval, by language.
PP = {"en": "pp", "ru": f"п.{NBSP}п."}


def _check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    return lang


def _localise(text: str, lang: str) -> str:
    """An English-formatted number (``-1,984.50``) in the conventions of ``lang``: in Russian a decimal comma,
    a non-breaking space between thousands and a typographic minus (``−1 984,50``)."""
    if _check_lang(lang) == "ru":
        text = text.replace(",", NBSP).replace(".", ",")
    return text.replace("-", MINUS)


@markdown_result
def fmt_int(x, lang: str = "en") -> str:
    return "—" if _missing(x) else _localise(f"{int(round(float(x))):,}", lang)


@markdown_result
def fmt_num(x, digits: int = 2, lang: str = "en") -> str:
    return "—" if _missing(x) else _localise(f"{float(x):,.{digits}f}", lang)


@markdown_result
def fmt_pct(x, digits: int = 1, lang: str = "en") -> str:
    """``0.3248`` -> ``32.5%`` (en) or ``32,5 %`` with a non-breaking space (ru, as Russian typesetting does)."""
    if _missing(x):
        return "—"
    number = _localise(f"{100 * float(x):.{digits}f}", lang)
    return f"{number}{NBSP}%" if lang == "ru" else f"{number}%"


@markdown_result
def fmt_pp(x, digits: int = 1, lang: str = "en", sign: bool = True) -> str:
    """A difference of probabilities in percentage points: ``-0.0333`` -> ``−3.3 pp`` / ``−3,3 п. п.``
    (non-breaking spaces)."""
    if _missing(x):
        return "—"
    number = _localise(f"{100 * float(x):{'+' if sign else ''}.{digits}f}", lang)
    return f"{number}{NBSP}{PP[lang]}"


@markdown_result
def with_unit(value: str, unit: str) -> str:
    """A formatted number and its unit joined by a non-breaking space (``1 984 ед.`` never breaks)."""
    return f"{value}{NBSP}{unit}"


@markdown_result
def fmt_p(p, lang: str = "en") -> str:
    if _missing(p):
        return "—"
    p = float(p)
    return f"<{NBSP}{_localise('0.001', lang)}" if p < 0.001 else _localise(f"{p:.3f}", lang)


#: Below this a model-based p-value is not printed as a number: it depends on the model's form more than on its
#: digits.
P_MODEL_FLOOR = 1e-6


@markdown_result
def fmt_p_model(p, lang: str = "en") -> str:
    """A model-based p-value: as :func:`fmt_p`, but below :data:`P_MODEL_FLOOR` never bare: ``< 1e-6
    (conditional on the model's form)``."""
    if not _missing(p) and float(p) < P_MODEL_FLOOR:
        if lang == "ru":
            return f"<{NBSP}10⁻⁶ (при данной форме модели)"
        return f"<{NBSP}1e−6 (conditional on the model's form)"
    return fmt_p(p, lang)


def rounded_shares(values, digits: int = 0) -> np.ndarray:
    """Percentages of ``values``' total rounded so that they add up to exactly 100 (largest remainder: round
    down, then give the remaining units to the largest remainders, ties to the first)."""
    v = np.asarray(values, dtype=float)
    scale = 10 ** digits
    exact = 100 * scale * v / v.sum()
    down = np.floor(exact)
    missing = int(round(100 * scale - down.sum()))
    order = np.argsort(-(exact - down), kind="stable")
    down[order[:missing]] += 1
    return down / scale


@markdown_result
def fmt_ci(low, high, digits: int = 2, scale: float = 1.0, lang: str = "en") -> str:
    """``0.10 to 0.25`` (en) or ``от 0,10 до 0,25`` (ru)."""
    if _missing(low) or _missing(high):
        return "—"
    a, b = fmt_num(low * scale, digits, lang), fmt_num(high * scale, digits, lang)
    return f"от {a} до {b}" if lang == "ru" else f"{a} to {b}"


@markdown_result
def fmt_est_ci(est, low, high, digits: int = 1, lang: str = "en") -> str:
    return f"{fmt_num(est, digits, lang)} ({fmt_ci(low, high, digits, lang=lang)})"


@markdown_result
def quote(text: str, lang: str = "en") -> str:
    """Quotation marks of the language: «ёлочки» in Russian, “curly” in English."""
    return f"«{text}»" if _check_lang(lang) == "ru" else f"\u201c{text}\u201d"


@markdown_result
def fmt_date(d, lang: str = "en") -> str:
    """A date in words: ``23 ноября 2026 г.`` (ru, non-breaking spaces) or ``November 23, 2026`` (en).

    Accepts a ``datetime.date``/``datetime`` or an ISO string (``2026-11-23``, ``2026-11-23T19:34:32+00:00``).
    """
    if isinstance(d, str):
        d = _dt.date.fromisoformat(d[:10])
    if _check_lang(lang) == "ru":
        return f"{d.day}{NBSP}{MONTHS_RU[d.month - 1]} {d.year}{NBSP}г."
    return f"{MONTHS_EN[d.month - 1]} {d.day}, {d.year}"


@markdown_result
def fmt_big(x) -> str:
    """A general statistic: fixed for moderate values, scientific for tiny/huge ones."""
    if _missing(x):
        return "—"
    x = float(x)
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.2e}".replace("-", "−")
    return fmt_num(x, 3)


#: A number of either language: digits with ``,`` ``.`` or a non-breaking space inside (``1,296``, ``1 296,5``).
_NUM = r"[−+\-]?\d[\d,.\u00a0]*"
_UNIT = r"(?:\u00a0?%|\u00a0п\.\u00a0п\.|e[−\-+]?\d+)?"
_NUMERIC_CELL = re.compile(
    rf"^[<>≤≥]?\s?{_NUM}{_UNIT}(?: \(.*\))?$|^—$|^{_NUM} to {_NUM}$|^[\d,]+ of [\d,]+$"
    rf"|^{_NUM} из {_NUM}$|^от {_NUM} до {_NUM}$")


#: Text width of the PDF (A4, 2 cm margins) in points, and the approximate width of one character of table text.
TEXT_WIDTH_PT = (21 - 4) / 2.54 * 72
TABLE_CHAR_PT = 4.2
TABLE_CELL_PAD_PT = 10.0
SHORT_COLUMN_CHARS = 16
#: Pandoc's default ``--columns``, which Quarto keeps: a pipe table with a line longer than this gets relative
#: column widths from the dashes of its separator line, spans the text width and wraps its cells.
PANDOC_COLUMNS = 72
#: Dashes of the separator line that carries the relative widths (more dashes, finer widths).
SEPARATOR_DASHES = 200


def _cell_len(text: str) -> int:
    return len(text.replace("\\", ""))


def column_weights(headers: list[str], body: list[int], align: list[str]) -> list[float]:
    """Relative column widths (in characters) for a table that spans the text width.

    ``body``: the longest cell of each column. A table whose natural width (longest cell or header) fits the
    page keeps it, each column in proportion, so no cell wraps. A wider one: short columns (numbers, codes) keep
    their natural width; the long text columns share the rest, the shorter ones first (water-filling); any width
    left over widens headers that would wrap. No column is narrower than its header's longest word, so a header
    never breaks inside a word.
    """
    words = [max((len(w) for w in h.split()), default=1) for h in headers]
    longest = [max(n, len(h)) for n, h in zip(body, headers)]
    natural = sum(n * TABLE_CHAR_PT + TABLE_CELL_PAD_PT for n in longest)
    if natural <= TEXT_WIDTH_PT:
        return [float(n + 1) for n in longest]
    budget = TEXT_WIDTH_PT / TABLE_CHAR_PT - len(longest) * TABLE_CELL_PAD_PT / TABLE_CHAR_PT
    fixed = [a == "right" or n <= SHORT_COLUMN_CHARS for n, a in zip(body, align)]
    weights = [float(max(n, w) + 1) if f else 0.0 for n, w, f in zip(body, words, fixed)]
    remaining = budget - sum(weights)
    wrap = sorted((i for i, f in enumerate(fixed) if not f), key=lambda i: body[i])
    for k, i in enumerate(wrap):
        # a text column wraps into at most two lines where it can: narrower, a label breaks into a column of
        # syllables ("+1 con- tact/ month") while header space sits unused in the number columns
        share = max(remaining / (len(wrap) - k), words[i] + 1, 8, (body[i] + 1) / 2)
        weights[i] = min(float(body[i] + 1), share)
        remaining -= weights[i]
    deficits = [max(len(headers[i]) + 1 - weights[i], 0.0) if f else 0.0 for i, f in enumerate(fixed)]
    if remaining > 0 and sum(deficits) > 0:
        scale = min(1.0, remaining / sum(deficits))
        weights = [w + d * scale for w, d in zip(weights, deficits)]
    return weights


def md(frame: pd.DataFrame):
    """A display frame as Markdown (``IPython.display.Markdown(df.to_markdown(index=False))``).

    Strings are kept exactly as formatted; columns whose cells all look numeric are right-aligned. Pandoc (with
    its default 72 ``--columns``, as Quarto runs it) gives a table with a line longer than 72 characters relative
    column widths from the dashes of the separator line: such a table gets the widths of
    :func:`column_weights`, so that its text wraps where it should at full size instead of the widths following
    the longest cell, or the whole table being scaled down.
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
    lines = text.split("\n")
    if max(len(line) for line in lines) > PANDOC_COLUMNS and len(cells.columns) > 1:
        headers = [str(col) for col in cells.columns]
        body = [max([_cell_len(str(c)) for c in cells[col]] + [1]) for col in cells.columns]
        weights = column_weights(headers, body, align)
        total = sum(weights)
        dashes = [max(3, round(SEPARATOR_DASHES * w / total)) for w in weights]
        lines[1] = "|" + "|".join(("-" * (d - 1) + ":") if a == "right" else (":" + "-" * (d - 1))
                                  for d, a in zip(dashes, align)) + "|"
        text = "\n".join(lines)
    return Markdown(text)


def bullets(lines: list[str]):
    from IPython.display import Markdown

    return Markdown("\n".join(f"- {line}" for line in lines))
