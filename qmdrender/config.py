"""The document's settings: YAML (front matter, ``_quarto.yml``, ``#|`` lines) and what its keys mean.

PyYAML's safe loader with YAML 1.2 booleans (:func:`parse_yaml`), the ``_quarto.yml`` that governs a document
(:func:`find_quarto_yml`, :func:`load_project`), per-format options (:func:`format_option`), the execution
defaults, the localised words, dates (:func:`resolve_date`, :func:`format_date`) and the page (:func:`paper_setup`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
from pathlib import Path
from typing import Any

import yaml

from qmdrender.errors import RenderError, one_line

# --------------------------------------------------------------------------------------------
# YAML: front matter, _quarto.yml and `#|` chunk options, read with PyYAML's safe loader.
# --------------------------------------------------------------------------------------------


class YamlError(ValueError):
    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line  # 1-based, relative to the parsed text


class _QuartoLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 booleans, as Quarto's js-yaml reads them.

    YAML 1.1 (PyYAML's default) also reads yes/no/on/off as booleans, so ``lang: no`` (Norwegian)
    or ``fig-align: on`` would silently change type; Quarto keeps them as strings.
    """


_QuartoLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_QuartoLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def parse_yaml(text: str) -> Any:
    """Parse YAML the way Quarto documents use it; raises :class:`YamlError` with a 1-based line number.

    The line is where the faulty construct starts (an unclosed ``[`` or quote), not where the parser
    noticed the problem (often the end of the text).
    """
    try:
        return yaml.load(text, Loader=_QuartoLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        if exc.context_mark is not None and (mark is None or mark.index >= len(text.rstrip())):
            mark = exc.context_mark  # the parser ran into the end: the unclosed construct is the culprit
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part) or "invalid YAML"
        raise YamlError(message, (mark.line + 1) if mark else 1) from None
    except yaml.YAMLError as exc:
        raise YamlError(one_line(str(exc)), 1) from None


# --------------------------------------------------------------------------------------------
# _quarto.yml
# --------------------------------------------------------------------------------------------


def find_quarto_yml(directory: Path) -> Path | None:
    """The ``_quarto.yml`` (or ``.yaml``) of ``directory`` or its nearest parent, as Quarto looks for it."""
    for d in (directory, *directory.parents):
        for name in ("_quarto.yml", "_quarto.yaml"):
            if (d / name).is_file():
                return d / name
    return None


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into ``base``, maps key by key (the front matter over ``_quarto.yml``)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_project(qmd: Path) -> tuple[Path | None, dict[str, Any]]:
    """The ``_quarto.yml`` that governs ``qmd`` (its folder or a parent, as Quarto looks) and its content."""
    project = find_quarto_yml(qmd.resolve().parent)
    if project is None:
        return None, {}
    try:
        loaded = parse_yaml(project.read_text(encoding="utf-8"))
    except YamlError as exc:
        raise RenderError(f"{project}:{exc.line}: cannot read: {exc}", 2) from None
    except OSError as exc:
        raise RenderError(f"cannot read {project}: {exc.strerror}", 2) from None
    return project, loaded if isinstance(loaded, dict) else {}


# --------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------

EXEC_DEFAULTS: dict[str, Any] = {"echo": False, "eval": True, "include": True, "output": True,
                                 "warning": True, "error": False}

L10N = {
    "en": {"fig": "Figure", "tbl": "Table", "toc": "Table of contents", "abstract": "Abstract",
           "note": "Note", "tip": "Tip", "important": "Important", "warning": "Warning", "caution": "Caution"},
    "ru": {"fig": "Рисунок", "tbl": "Таблица", "toc": "Содержание", "abstract": "Аннотация",
           "note": "Примечание", "tip": "Совет", "important": "Важно", "warning": "Предупреждение",
           "caution": "Осторожно"},
}


def format_option(meta: dict[str, Any], key: str, fmt: str | None = None, default: Any = None) -> Any:
    """``format: <fmt>: key`` (fmt 'pdf' reads typst then pdf), else top-level ``key``, else default."""
    formats = meta.get("format")
    if fmt and isinstance(formats, dict):
        for name in (("typst", "pdf") if fmt == "pdf" else (fmt,)):
            section = formats.get(name)
            if isinstance(section, dict) and key in section:
                return section[key]
    return meta.get(key, default)


def execute_defaults(meta: dict[str, Any]) -> dict[str, Any]:
    """Document-level execution options: built-in defaults < top-level keys < ``execute:``."""
    opts = dict(EXEC_DEFAULTS)
    for key in EXEC_DEFAULTS:
        if key in meta:
            opts[key] = meta[key]
    execute = meta.get("execute")
    if isinstance(execute, dict):
        for key in EXEC_DEFAULTS:
            if key in execute:
                opts[key] = execute[key]
    return opts


def truthy(value: Any) -> bool:
    """An option's value as a boolean (``"false"``, ``"no"``, ``"off"``, ``"0"`` and ``""`` are false)."""
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "no", "off", "0", "")
    return bool(value)


def document_lang(meta: dict[str, Any], fmt: str | None = None) -> str:
    """The document's ``lang`` for ``fmt`` ("ru" for any Russian variant; "en" when unset)."""
    lang = str(format_option(meta, "lang", fmt, "en") or "en")
    return "ru" if lang.lower().startswith("ru") else lang


def localised_words(meta: dict[str, Any], fmt: str | None = None) -> dict[str, str]:
    """The words the outputs show ("Figure", "Note", ...) in the document's language, ``crossref:`` applied."""
    words = dict(L10N.get(document_lang(meta, fmt)[:2], L10N["en"]))
    crossref = meta.get("crossref")
    if isinstance(crossref, dict):
        for kind in ("fig", "tbl"):
            if crossref.get(f"{kind}-title"):
                words[kind] = str(crossref[f"{kind}-title"])
            words[f"{kind}-prefix"] = str(crossref.get(f"{kind}-prefix") or words[kind])
    for kind in ("fig", "tbl"):
        words.setdefault(f"{kind}-prefix", words[kind])
    # Quarto's crossref `title-delim` (default ":"): what follows "Table N" in a caption
    words["title-delim"] = str(crossref.get("title-delim", ":")) if isinstance(crossref, dict) else ":"
    return words


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------

MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"],
    "ru": ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
           "октября", "ноября", "декабря"],
}
WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "ru": ["понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье"],
}


def resolve_date(value: Any, qmd: Path | None = None) -> _dt.date | None:
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value if isinstance(value, _dt.date) else value.date()
    if not isinstance(value, str):
        return None
    v = value.strip()
    if v in ("today", "now"):
        return _dt.date.today()
    if v == "last-modified":
        try:
            return _dt.date.fromtimestamp(qmd.stat().st_mtime) if qmd else _dt.date.today()
        except OSError:
            return _dt.date.today()
    for pattern in ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%d %m %Y", "%Y-%m-%dT%H:%M:%S"):
        try:
            return _dt.datetime.strptime(v[:19], pattern).date()
        except ValueError:
            continue
    return None


def format_date(d: _dt.date, style: str = "long", lang: str = "en") -> str:
    ru = lang.startswith("ru")
    months = MONTHS["ru" if ru else "en"]
    style = (style or "long").strip()
    if style == "iso":
        return d.isoformat()
    if style == "short":
        return d.strftime("%d.%m.%Y") if ru else f"{d.month}/{d.day}/{d.strftime('%y')}"
    if style == "medium":
        return f"{d.day} {months[d.month - 1][:3]}. {d.year} г." if ru else f"{months[d.month - 1][:3]} {d.day}, {d.year}"
    if style == "long":
        return f"{d.day} {months[d.month - 1]} {d.year} г." if ru else f"{months[d.month - 1]} {d.day}, {d.year}"
    if style == "full":
        wd = WEEKDAYS["ru" if ru else "en"][d.weekday()]
        return f"{wd}, {d.day} {months[d.month - 1]} {d.year} г." if ru else f"{wd}, {months[d.month - 1]} {d.day}, {d.year}"
    tokens = {"YYYY": str(d.year), "YY": d.strftime("%y"), "MMMM": months[d.month - 1],
              "MMM": months[d.month - 1][:3], "MM": f"{d.month:02d}", "M": str(d.month),
              "DD": f"{d.day:02d}", "D": str(d.day), "dddd": WEEKDAYS["ru" if ru else "en"][d.weekday()]}
    return re.sub(r"YYYY|YY|MMMM|MMM|MM|M|DD|D|dddd", lambda m: tokens[m.group(0)], style)


# --------------------------------------------------------------------------------------------
# Page
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Page:
    width_in: float = 21 / 2.54
    margin_x_in: float = 2 / 2.54

    @property
    def text_width_in(self) -> float:
        return self.width_in - 2 * self.margin_x_in


def paper_setup(meta: dict[str, Any]) -> tuple[str, Page]:
    """The PDF's paper (Typst's name for ``papersize``) and its page: width and side margin."""
    paper = str(format_option(meta, "papersize", "pdf", "a4") or "a4").lower()
    paper = {"letter": "us-letter", "letterpaper": "us-letter", "a4paper": "a4", "legal": "us-legal"}.get(paper, paper)
    widths = {"a4": 21 / 2.54, "us-letter": 8.5, "us-legal": 8.5, "a5": 14.8 / 2.54, "a3": 29.7 / 2.54}
    margin = format_option(meta, "margin", "pdf", None)
    margin_x = 2 / 2.54
    if isinstance(margin, dict) and margin.get("x"):
        margin_x = _length_in(str(margin["x"])) or margin_x
    return paper, Page(widths.get(paper, 21 / 2.54), margin_x)


def _length_in(text: str) -> float | None:
    m = re.match(r"^\s*([0-9.]+)\s*(cm|mm|in|pt)\s*$", text)
    if not m:
        return None
    return float(m.group(1)) / {"cm": 2.54, "mm": 25.4, "in": 1, "pt": 72}[m.group(2)]
