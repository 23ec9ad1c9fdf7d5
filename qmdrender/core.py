"""Render a Quarto document to HTML and PDF, with or without Quarto: the whole fallback renderer.

``python -m qmdrender report.qmd``; the supported Quarto subset, the pre-render commands and the exit
statuses are documented in ``qmdrender/README.md``.  Pipeline: :func:`load_document` (front matter,
``_quarto.yml``, chunks, inline expressions) -> :func:`run_pre_render` -> :func:`execute` (one Jupyter
kernel, or the outputs from the execution cache, :mod:`qmdrender.cache`) -> :class:`MarkdownBuilder` (Pandoc
Markdown) -> :func:`write_outputs`: :func:`run_pandoc` (HTML) beside :func:`run_pandoc` (Typst) then
:func:`compile_typst` (PDF). :func:`render_documents` renders several documents as one project.  Errors are :class:`RenderError`: one line, status 2 when the document is
at fault, 1 when the toolchain is.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime as _dt
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
LUA_FILTER = HERE / "filter.lua"
CSS_FILE = HERE / "style.css"
TYPST_TEMPLATE = HERE / "template.typ"
HTML_TEMPLATE = HERE / "template.html"

RENDER_DIR = "_render"
FORMATS = ("html", "pdf")


class RenderError(Exception):
    """A failure to report as one line; ``status`` 2 = the document's fault, 1 = the toolchain's."""

    def __init__(self, message: str, status: int = 1, detail: str = ""):
        super().__init__(message)
        self.status = status
        self.detail = detail


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
        raise YamlError(_one_line(str(exc)), 1) from None


# --------------------------------------------------------------------------------------------
# Parsing the .qmd
# --------------------------------------------------------------------------------------------

CHUNK_OPEN_RE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,})\s*\{(?P<engine>[A-Za-z_][\w-]*)(?P<args>[^}]*)\}\s*$")
FENCE_RE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
INLINE_RE = re.compile(r"(?<!`)`\{python\}[ \t]+(?P<expr>[^`]+?)`(?!`)")
SHORTCODE_RE = re.compile(r"\{\{<\s*(?P<name>[\w-]+)(?P<args>[^>]*)>\}\}")
PAGEBREAK_LINE_RE = re.compile(r"^\s*\{\{<\s*pagebreak\s*>\}\}\s*$")
OPTION_LINE_RE = re.compile(r"^#\|\s?(?P<text>.*)$")


@dataclasses.dataclass
class Chunk:
    number: int        # 1-based among the document's python chunks
    line: int          # line of the opening fence in the .qmd (1-based)
    source: str        # the body as written, `#|` lines included (so kernel line N = .qmd line + N)
    options: dict[str, Any]

    @property
    def label(self) -> str | None:
        label = self.options.get("label")
        return str(label) if label not in (None, "") else None

    @property
    def name(self) -> str:
        return f"chunk '{self.label}'" if self.label else f"chunk #{self.number}"

    @property
    def code(self) -> str:
        """The code without the leading `#|` option lines."""
        lines = self.source.split("\n")
        i = 0
        while i < len(lines) and OPTION_LINE_RE.match(lines[i]):
            i += 1
        return "\n".join(lines[i:]).strip("\n")


@dataclasses.dataclass
class InlineExpr:
    number: int
    line: int
    expr: str


@dataclasses.dataclass
class Document:
    path: Path
    meta: dict[str, Any]          # front matter merged over _quarto.yml
    front_matter: str             # the front matter as written, without the --- lines
    items: list[Any]              # str (Markdown), Chunk, InlineExpr, PAGEBREAK, in document order
    warnings: list[str]

    @property
    def chunks(self) -> list[Chunk]:
        return [it for it in self.items if isinstance(it, Chunk)]

    @property
    def inlines(self) -> list[InlineExpr]:
        return [it for it in self.items if isinstance(it, InlineExpr)]


PAGEBREAK = object()


def parse_chunk_options(source: str, *, where: str = "", first_line: int = 1) -> dict[str, Any]:
    """The ``#| key: value`` lines at the top of a chunk body, as a dict (YAML)."""
    lines = []
    for line in source.split("\n"):
        m = OPTION_LINE_RE.match(line)
        if not m:
            break
        lines.append(m.group("text"))
    if not lines:
        return {}
    try:
        value = parse_yaml("\n".join(lines))
    except YamlError as exc:
        raise RenderError(f"{where}:{first_line + exc.line - 1}: bad chunk option: {exc}", 2) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RenderError(f"{where}:{first_line}: chunk options must be 'key: value' lines", 2)
    return value


def find_inline_expressions(text: str) -> list[str]:
    """The expressions of the `` `{python} expr` `` spans of a line of prose."""
    return [m.group("expr").strip() for m in INLINE_RE.finditer(text)]


def split_front_matter(text: str) -> tuple[str | None, int, list[str]]:
    """(front matter text or None, number of lines it takes, all lines)."""
    lines = text.split("\n")
    if lines and lines[0].rstrip() == "---":
        for j in range(1, len(lines)):
            if lines[j].rstrip() in ("---", "..."):
                return "\n".join(lines[1:j]), j + 1, lines
        raise RenderError("front matter: no closing '---' line", 2)
    return None, 0, lines


def _find_quarto_yml(directory: Path) -> Path | None:
    for d in (directory, *directory.parents):
        for name in ("_quarto.yml", "_quarto.yaml"):
            if (d / name).is_file():
                return d / name
    return None


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_qmd(text: str, path: Path | str = "report.qmd", *, project_meta: dict[str, Any] | None = None) -> Document:
    """Split a .qmd into front matter, Markdown, python chunks, inline expressions and page breaks."""
    path = Path(path)
    where = str(path)
    try:
        fm_text, body_start, lines = split_front_matter(text)
    except RenderError as exc:
        raise RenderError(f"{where}:1: {exc}", 2) from None
    meta: dict[str, Any] = {}
    if fm_text is not None:
        try:
            parsed = parse_yaml(fm_text)
        except YamlError as exc:
            raise RenderError(f"{where}:{exc.line + 1}: cannot read the front matter: {exc}", 2) from None
        if parsed is not None and not isinstance(parsed, dict):
            raise RenderError(f"{where}:2: the front matter must be a YAML map", 2)
        meta = parsed or {}
    if project_meta:
        meta = deep_merge(project_meta, meta)

    items: list[Any] = []
    warnings: list[str] = []
    acc: list[str] = []  # Markdown gathered since the last chunk / inline expression / page break
    n_chunks = n_inline = 0

    def flush() -> None:
        if acc:
            items.append("".join(acc))
            acc.clear()

    i = body_start
    while i < len(lines):
        line = lines[i]
        lineno = i + 1
        m = CHUNK_OPEN_RE.match(line)
        if m:
            engine = m.group("engine")
            fence = m.group("fence")
            close_re = re.compile(r"^ {0,3}`{%d,}\s*$" % len(fence))
            j = i + 1
            while j < len(lines) and not close_re.match(lines[j]):
                j += 1
            if j >= len(lines):
                raise RenderError(f"{where}:{lineno}: code chunk is never closed (no {fence} line)", 2)
            if engine != "python":
                raise RenderError(f"{where}:{lineno}: unsupported chunk engine {{{engine}}} "
                                  "(only {python} chunks are supported)", 2)
            if m.group("args").strip():
                warnings.append(f"{where}:{lineno}: options in the chunk header are ignored; use '#| key: value' lines")
            source = "\n".join(lines[i + 1:j])
            n_chunks += 1
            options = parse_chunk_options(source, where=where, first_line=lineno + 1)
            flush()
            items.append(Chunk(n_chunks, lineno, source, options))
            i = j + 1
            continue
        m = FENCE_RE.match(line)
        if m:  # a plain fenced code block: copied verbatim, no inline expressions inside
            char, length = m.group("fence")[0], len(m.group("fence"))
            close_re = re.compile(r"^ {0,3}%s{%d,}\s*$" % (re.escape(char), length))
            j = i + 1
            while j < len(lines) and not close_re.match(lines[j]):
                j += 1
            acc.append("\n".join(lines[i:j + 1]) + "\n")
            i = j + 1
            continue
        if PAGEBREAK_LINE_RE.match(line):
            flush()
            items.append(PAGEBREAK)
            i += 1
            continue
        for sm in SHORTCODE_RE.finditer(line):
            warnings.append(f"{where}:{lineno}: shortcode {{{{< {sm.group('name')} >}}}} is not supported; left as text")
        pos = 0
        for im in INLINE_RE.finditer(line):
            acc.append(line[pos:im.start()])
            flush()
            n_inline += 1
            items.append(InlineExpr(n_inline, lineno, im.group("expr").strip()))
            pos = im.end()
        acc.append(line[pos:] + "\n")
        i += 1
    flush()
    return Document(path, meta, fm_text or "", items, warnings)


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


def chunk_options(chunk: Chunk, defaults: dict[str, Any]) -> dict[str, Any]:
    opts = dict(defaults)
    opts.update(chunk.options)
    return opts


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "no", "off", "0", "")
    return bool(value)


def _lang(meta: dict[str, Any], fmt: str | None = None) -> str:
    lang = str(format_option(meta, "lang", fmt, "en") or "en")
    return "ru" if lang.lower().startswith("ru") else lang


def _words(meta: dict[str, Any], fmt: str | None = None) -> dict[str, str]:
    words = dict(L10N.get(_lang(meta, fmt)[:2], L10N["en"]))
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
# Execution
# --------------------------------------------------------------------------------------------

INLINE_MIME = "application/x-render-inline+json"
#: The representations of an inline value the renderer reads (Quarto's choice among them: inline_markdown).
INLINE_TEXT_MIMES = ("text/markdown", "text/html", "text/latex", "text/plain")
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CELL_LINE_RE = re.compile(r"Cell In\[(\d+)\], line (\d+)")


def strip_ansi(text: str) -> str:
    return ANSI_RE.sub("", text)


#: What Quarto escapes in a plain-text inline value (quarto-cli src/core/jupyter/jupyter-inline.ts,
#: asEscapedMarkdown: the JavaScript class ``[\\`*_{}\[\]()>#+-.!]``, whose ``+-.`` is the range ``+ , - .``).
_QUARTO_ESCAPED = re.compile(r"([\\`*_{}\[\]()>#+,\-.!])")


def quarto_plain_markdown(text: str) -> str:
    """A ``text/plain`` inline value as Quarto inserts it into the Markdown (asEscapedMarkdown).

    A value in quotes (the repr of a ``str``) loses its quotes, every backslash is doubled, and then every
    Markdown character, the new backslashes included, is escaped. So ``"1\\xa0296"`` (repr ``'1\\xa0296'``)
    becomes ``1\\\\\\\\xa0296`` and reads ``1\\\\xa0296`` in the output, and ``"*high risk*"`` reads
    ``*high risk*``, asterisks and all. Anything else (a number's repr) is inserted as it is.
    """
    if (text.startswith("'") and text.endswith("'")) or (text.startswith('"') and text.endswith('"')):
        return _QUARTO_ESCAPED.sub(r"\\\1", text[1:-1].replace("\\", "\\\\"))
    return text


def _has_html_table(html: str) -> bool:
    lower = html.lower()
    return "<table" in lower and "</table" in lower


def inline_value_for(data: dict[str, str], fmt: str) -> str:
    """The Markdown Quarto puts in place of an inline expression for one output format ('html' or 'pdf').

    ``data`` is the value's mime bundle as IPython formats it (``text/plain`` always; ``text/markdown`` for
    :class:`IPython.display.Markdown` or an object with ``_repr_markdown_``; ...). Quarto's rule
    (quarto-cli src/core/jupyter/jupyter-inline.ts with display-data.ts): HTML prefers ``text/html`` (kept as
    raw HTML), then ``text/markdown`` (inserted verbatim); other formats ``text/markdown``, then ``text/html``
    only when it holds a table; last ``text/plain``, escaped by :func:`quarto_plain_markdown`. So a ``str``
    shows its repr without the quotes, never Markdown, and a number its repr (``np.float64(0.5)``).
    """
    order = ["text/html", "text/markdown"] if fmt == "html" else ["text/markdown"]
    if fmt != "html" and _has_html_table(data.get("text/html", "")):
        order.append("text/html")
    for mime in order + ["text/plain"]:
        if mime in data:
            text = data[mime]
            if mime == "text/html":
                fence = "`" * (1 + max((len(m) for m in re.findall("`+", text)), default=0))
                pad = " " if text.startswith("`") or text.endswith("`") else ""
                return f"{fence}{pad}{text}{pad}{fence}{{=html}}"
            if mime == "text/markdown":
                return text
            return quarto_plain_markdown(text)
    return ""


def inline_markdown(data: dict[str, str]) -> str:
    """The Markdown of an inline value for both outputs: one text, or an HTML and a non-HTML alternative."""
    html, other = inline_value_for(data, "html"), inline_value_for(data, "pdf")
    if html == other:
        return html
    return (f'[{html}]{{.content-visible when-format="html"}}'
            f'[{other}]{{.content-hidden when-format="html"}}')


def _setup_code(fig_format: str, dpi: float, width: float, height: float) -> str:
    rc = {"figure.figsize": (float(width), float(height)), "figure.dpi": float(dpi), "savefig.dpi": "figure"}
    return f'''\
def __render_setup():
    ip = get_ipython()
    ip.run_line_magic("config", "InlineBackend.figure_formats = [{fig_format!r}]")
    ip.run_line_magic("config", "InlineBackend.rc = {rc!r}")
__render_setup()
del __render_setup


def __render_inline(exprs):
    # each value as IPython formats a user expression for Quarto (InteractiveShell._format_user_obj): its
    # mime bundle; the renderer then picks the representation Quarto would (qmdrender.core.inline_markdown)
    from IPython.display import display
    shell = get_ipython()
    namespace = shell.user_ns
    results = []
    for expr in exprs:
        try:
            value = eval(compile(expr, "<inline>", "eval"), namespace)
            data, _metadata = shell.display_formatter.format(value)
        except BaseException as exc:
            results.append({{"ok": False, "ename": type(exc).__name__, "evalue": str(exc)}})
            continue
        data = {{mime: ("".join(text) if isinstance(text, list) else text) for mime, text in data.items()
                 if mime in {INLINE_TEXT_MIMES!r}}}
        results.append({{"ok": True, "data": {{m: t for m, t in data.items() if isinstance(t, str)}}}})
    display({{{INLINE_MIME!r}: results}}, raw=True)
'''


@dataclasses.dataclass
class Execution:
    chunk_outputs: dict[int, list[dict[str, Any]]]   # chunk number -> nbformat outputs
    inline_values: dict[int, str]                    # inline number -> Markdown text
    seconds: float
    cached: bool = False                             # outputs taken from the execution cache
    cache_note: str = ""                             # why the cache was not used (or why not stored)


def _kernel_manager():
    """An async kernel manager that runs ipykernel with *this* interpreter (the venv's)."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    class _ThisPythonSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:  # noqa: ARG002
            return KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                      "--HistoryManager.enabled=False"],
                display_name="Python 3 (qmdrender)", language="python", resource_dir="",
                metadata={"debugger": False})

    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=_ThisPythonSpecs())


def _failure_line(chunk: Chunk, traceback: list[str], execution_count: int | None) -> int:
    text = strip_ansi("\n".join(traceback or []))
    hits = [(int(n), int(line)) for n, line in CELL_LINE_RE.findall(text)]
    if execution_count is not None:
        mine = [line for n, line in hits if n == execution_count]
        if mine:
            return chunk.line + mine[-1]
    return chunk.line


def _one_line(text: str, limit: int = 400) -> str:
    text = re.sub(r"\s*\n\s*", " ", strip_ansi(str(text))).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clean_evalue(ename: str, evalue: str) -> str:
    if ename in ("SyntaxError", "IndentationError", "TabError"):
        evalue = re.sub(r"\s*\([^()]*\.py, line \d+\)\s*$", "", evalue)
    return evalue


def execute(doc: Document, *, cwd: Path, verbose: bool = False, log=print, cache_file: Path | None = None,
            use_cache: bool = True) -> Execution:
    """Run the chunks (and inline expressions at their positions) in one kernel.

    With ``cache_file``, the outputs stored there are returned without starting a kernel when the cells and
    everything they read are unchanged (:mod:`qmdrender.cache`; ``use_cache=False`` skips the lookup), and a
    fresh execution is stored there.
    """
    from qmdrender import cache

    meta = doc.meta
    defaults = execute_defaults(meta)
    fig_format = str(format_option(meta, "fig-format", None, "png")).lower()
    if fig_format not in ("png", "svg"):
        fig_format = "png"
    dpi = float(format_option(meta, "fig-dpi", None, 192) or 192)
    width = float(format_option(meta, "fig-width", None, 6.5) or 6.5)
    height = float(format_option(meta, "fig-height", None, 4) or 4)

    # (source, tags) of each cell; the notebook itself is built only when the kernel runs (nbformat is slow
    # to import, and a cache hit needs none of it)
    cells: list[tuple[str, list[str]]] = []
    plan: list[tuple[str, Any]] = []  # ("setup", None) | ("chunk", Chunk) | ("inline", [InlineExpr])
    setup = _setup_code(fig_format, dpi, width, height)
    cells.append(((cache.trace_setup_code() + setup) if cache_file else setup, []))
    plan.append(("setup", None))
    pending: list[InlineExpr] = []

    def flush_inline() -> None:
        if pending:
            exprs = json.dumps([e.expr for e in pending], ensure_ascii=False)
            cells.append((f"__render_inline({exprs})", []))
            plan.append(("inline", list(pending)))
            pending.clear()

    for item in doc.items:
        if isinstance(item, InlineExpr):
            pending.append(item)
        elif isinstance(item, Chunk):
            flush_inline()
            opts = chunk_options(item, defaults)
            if not _truthy(opts.get("eval", True)):
                continue
            cells.append((item.source, ["raises-exception"] if _truthy(opts.get("error", False)) else []))
            plan.append(("chunk", item))
    flush_inline()

    result = Execution({}, {}, 0.0)
    has_work = any(kind != "setup" for kind, _ in plan)
    if not has_work:
        return result

    env_updates = {
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "QUARTO_DOCUMENT_PATH": str(doc.path.resolve().parent),
        "QUARTO_FIG_WIDTH": str(width), "QUARTO_FIG_HEIGHT": str(height),
        "QUARTO_FIG_DPI": str(dpi), "QUARTO_FIG_FORMAT": fig_format,
        "PYTHONUNBUFFERED": "1",
    }
    env = {**os.environ, **env_updates}
    key = ""
    if cache_file is not None:
        cells.append((cache.trace_report_code(), []))
        plan.append(("trace", None))
        key = cache.execution_key([json.dumps([source, tags]) for source, tags in cells],
                                  cwd, env_updates)
        if use_cache:
            entry, reason = cache.load(cache_file, key)
            if entry is not None:
                reason = cache.stale_reason(entry.get("depends", {}), env) or ""
                if not reason:
                    chunk_outputs, inline_values = cache.outputs_of(entry)
                    return Execution(chunk_outputs, inline_values, 0.0, cached=True)
            result.cache_note = reason
        else:
            result.cache_note = "--no-cache"
    return _run_kernel(doc, cells, plan, env, cwd, result, verbose=verbose, log=log, cache_file=cache_file, key=key)


def _run_kernel(doc: Document, cells: list[tuple[str, list[str]]], plan: list[tuple[str, Any]], env: dict[str, str],
                cwd: Path, result: Execution, *, verbose: bool, log, cache_file: Path | None, key: str) -> Execution:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    from qmdrender import cache

    nb = nbformat.v4.new_notebook()
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        if tags:
            cell.metadata["tags"] = list(tags)
        nb.cells.append(cell)

    trace = None
    client = NotebookClient(nb, km=_kernel_manager(), timeout=None, allow_errors=False,
                            record_timing=False, resources={"metadata": {"path": str(cwd)}})
    where = str(doc.path)
    started = time.perf_counter()
    n_chunk_cells = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as kernel_log:
        try:
            with client.setup_kernel(env=env, cwd=str(cwd), stderr=kernel_log, stdout=kernel_log):
                for index, (kind, obj) in enumerate(plan):
                    cell = nb.cells[index]
                    store = kind == "chunk"
                    if store:
                        n_chunk_cells += 1
                    try:
                        client.execute_cell(cell, index, store_history=store)
                    except CellExecutionError as exc:
                        if kind == "chunk":
                            count = cell.get("execution_count") or n_chunk_cells
                            tb = next((o.get("traceback") for o in cell.outputs if o.get("output_type") == "error"), None)
                            line = _failure_line(obj, tb or [], count)
                            msg = f"{where}:{line}: {obj.name} failed: {exc.ename}: {_one_line(_clean_evalue(exc.ename, exc.evalue))}"
                            raise RenderError(msg, 2, detail=strip_ansi("\n".join(tb or [str(exc)]))) from None
                        raise RenderError(f"{where}: the renderer's {kind} cell failed: {exc.ename}: {_one_line(exc.evalue)}",
                                          1, detail=strip_ansi(str(exc))) from None
                    except DeadKernelError as exc:
                        what = obj.name if kind == "chunk" else f"{kind} code"
                        line = obj.line if kind == "chunk" else 0
                        kernel_log.seek(0)
                        raise RenderError(f"{where}:{line}: the kernel died while running {what}", 2,
                                          detail=str(exc) + "\n" + kernel_log.read()) from None
                    if kind == "chunk":
                        result.chunk_outputs[obj.number] = list(cell.outputs)
                    elif kind == "inline":
                        values = None
                        for out in cell.outputs:
                            if out.get("output_type") == "display_data" and INLINE_MIME in out.get("data", {}):
                                values = out["data"][INLINE_MIME]
                        if values is None:
                            raise RenderError(f"{where}: inline expressions returned nothing", 1)
                        for expr, value in zip(obj, values):
                            if not value.get("ok"):
                                msg = (f"{where}:{expr.line}: inline expression `{expr.expr}` failed: "
                                       f"{value.get('ename')}: {_one_line(value.get('evalue', ''))}")
                                raise RenderError(msg, 2)
                            result.inline_values[expr.number] = inline_markdown(value.get("data", {}))
                    elif kind == "trace":
                        trace = next((out["data"][cache.TRACE_MIME] for out in cell.outputs
                                      if out.get("output_type") == "display_data"
                                      and cache.TRACE_MIME in out.get("data", {})), None)
        except RenderError:
            raise
        except Exception as exc:  # kernel start-up and messaging failures
            kernel_log.seek(0)
            raise RenderError(f"cannot run the Jupyter kernel: {type(exc).__name__}: {_one_line(str(exc))}",
                              1, detail=kernel_log.read()) from None
        finally:
            if verbose:
                kernel_log.seek(0)
                extra = kernel_log.read().strip()
                if extra:
                    log("kernel stderr:\n" + extra)
    result.seconds = time.perf_counter() - started
    if cache_file is not None:
        if trace is None:
            result.cache_note = "not cached: the kernel reported no trace"
        elif trace.get("volatile"):
            result.cache_note = f"not cached: the chunks {' and '.join(trace['volatile'])}"
        else:
            cache.store(cache_file, key, cache.depends_from_trace(trace), result.chunk_outputs, result.inline_values)
    return result


# --------------------------------------------------------------------------------------------
# Outputs -> Pandoc Markdown
# --------------------------------------------------------------------------------------------


def _fence_for(text: str, char: str = "`") -> str:
    longest = max((len(m.group(0)) for m in re.finditer(re.escape(char) + "+", text)), default=0)
    return char * max(3, longest + 1)


def code_block(text: str, classes: str) -> str:
    text = text.rstrip("\n")
    fence = _fence_for(text)
    return f"{fence} {{{classes}}}\n{text}\n{fence}\n"


def raw_block(text: str, fmt: str) -> str:
    text = text.rstrip("\n")
    fence = _fence_for(text)
    return f"{fence}{{={fmt}}}\n{text}\n{fence}\n"


def _clean_stream(text: str) -> str:
    text = strip_ansi(text)
    lines = []
    for line in text.split("\n"):
        if "\r" in line:  # progress bars: keep what the terminal would show
            parts = [p for p in line.split("\r") if p]
            line = parts[-1] if parts else ""
        lines.append(line)
    return "\n".join(lines)


def _attr_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _png_info(data: bytes) -> tuple[int, float | None]:
    """(pixel width, dpi from the pHYs chunk or None)."""
    width = struct.unpack(">I", data[16:20])[0] if data[:8] == b"\x89PNG\r\n\x1a\n" else 0
    dpi = None
    pos = data.find(b"pHYs")
    if pos > 0 and len(data) >= pos + 13:
        ppux, _ppuy, unit = struct.unpack(">IIB", data[pos + 4:pos + 13])
        if unit == 1 and ppux:
            dpi = ppux * 0.0254
    return width, dpi


def _svg_width_in(svg: str) -> float | None:
    m = re.search(r"<svg[^>]*?\swidth=\"([0-9.]+)(pt|px|in|cm|mm)?\"", svg, re.S)
    if not m:
        return None
    value, unit = float(m.group(1)), m.group(2) or "px"
    return value / {"pt": 72, "px": 96, "in": 1, "cm": 2.54, "mm": 25.4}[unit]


@dataclasses.dataclass
class Page:
    width_in: float = 21 / 2.54
    margin_x_in: float = 2 / 2.54

    @property
    def text_width_in(self) -> float:
        return self.width_in - 2 * self.margin_x_in


class MarkdownBuilder:
    """Turns a parsed document plus its execution results into Pandoc Markdown."""

    def __init__(self, doc: Document, execution: Execution, render_dir: Path, page: Page, dpi: float):
        self.doc = doc
        self.exec = execution
        self.render_dir = render_dir
        self.image_dir = render_dir / f"{doc.path.stem}_files"
        self.page = page
        self.dpi = dpi
        self.defaults = execute_defaults(doc.meta)
        self.written: list[Path] = []

    def build(self) -> str:
        parts: list[str] = []
        if self.doc.front_matter.strip():
            parts.append("---\n" + self.doc.front_matter.rstrip("\n") + "\n---\n\n")
        for item in self.doc.items:
            if isinstance(item, Chunk):
                md = self.chunk(item)
                if md:
                    parts.append("\n" + md.rstrip("\n") + "\n\n")
            elif isinstance(item, InlineExpr):
                parts.append(self.exec.inline_values.get(item.number, ""))
            elif item is PAGEBREAK:
                parts.append("\n" + raw_block("#pagebreak(weak: true)", "typst") + "\n"
                             + raw_block('<div class="page-break"></div>', "html") + "\n")
            else:
                parts.append(item)
        return "".join(parts)

    # -- one chunk -------------------------------------------------------------------------
    def chunk(self, chunk: Chunk) -> str:
        opts = chunk_options(chunk, self.defaults)
        if not _truthy(opts.get("include", True)):
            return ""
        blocks: list[str] = []
        if _truthy(opts.get("echo", False)) and chunk.code.strip():
            blocks.append(code_block(chunk.code, ".python .cell-code"))
        output = opts.get("output", True)
        outputs = self.exec.chunk_outputs.get(chunk.number, [])
        if output is False or (isinstance(output, str) and output.lower() == "false"):
            outputs = []
        asis = isinstance(output, str) and output.lower() == "asis"
        show_warnings = _truthy(opts.get("warning", True))

        label = chunk.label or ""
        fig_cap = _first_text(opts.get("fig-cap"))
        tbl_cap = _first_text(opts.get("tbl-cap"))
        fig_alt = _first_text(opts.get("fig-alt"))
        is_figure = label.startswith("fig-") or bool(fig_cap)
        is_table = label.startswith("tbl-") or bool(tbl_cap)

        body: list[str] = []
        images: list[str] = []
        figure_slot: int | None = None
        for out in self._merge_streams(outputs):
            otype = out.get("output_type")
            if otype == "stream":
                text = _clean_stream(out.get("text", ""))
                if out.get("name") == "stderr":
                    if show_warnings and text.strip():
                        body.append(code_block(text, ".cell-output .cell-output-stderr"))
                elif text.strip():
                    body.append(text if asis else code_block(text, ".cell-output .cell-output-stdout"))
            elif otype == "error":
                tb = strip_ansi("\n".join(out.get("traceback") or [])) or f"{out.get('ename')}: {out.get('evalue')}"
                body.append(code_block(tb, ".cell-output .cell-output-error"))
            elif otype in ("display_data", "execute_result"):
                data = out.get("data", {})
                if INLINE_MIME in data:
                    continue
                image = self._image(data, chunk, len(images) + 1, fig_alt)
                if image:
                    images.append(image)
                    if is_figure:
                        if figure_slot is None:
                            figure_slot = len(body)
                            body.append("")
                    else:
                        body.append(image + "\n")
                elif "text/markdown" in data:
                    body.append(_text(data["text/markdown"]).rstrip("\n") + "\n")
                elif "text/html" in data:
                    html = _text(data["text/html"])
                    plain = _text(data.get("text/plain", ""))
                    alt = (plain if asis else code_block(plain, ".cell-output .cell-output-display")) if plain.strip() else ""
                    body.append('::: {.cell-output-display .content-visible when-format="html"}\n'
                                + raw_block(html, "html") + ":::\n")
                    if alt:
                        body.append('::: {.content-hidden when-format="html"}\n' + alt.rstrip("\n") + "\n:::\n")
                elif "text/plain" in data:
                    plain = _text(data["text/plain"])
                    if plain.strip():
                        body.append(plain if asis else code_block(plain, ".cell-output .cell-output-display"))
        if is_figure and images:
            caption = fig_cap
            ident = f"#{label} " if label.startswith("fig-") else ""
            fig = (f"::: {{{ident}.render-figure}}\n" + "\n\n".join(images) + "\n\n"
                   + "::: {.render-caption}\n" + caption + "\n:::\n:::\n")
            body[figure_slot] = fig
        elif is_figure and label.startswith("fig-"):
            self.doc.warnings.append(f"{self.doc.path}:{chunk.line}: {chunk.name} has a fig- label but made no image")
        content = "\n".join(b.rstrip("\n") + "\n" for b in body if b)
        if is_table and content.strip():
            ident = f"#{label} " if label.startswith("tbl-") else ""
            content = (f"::: {{{ident}.render-table}}\n" + content + "\n::: {.render-caption}\n" + tbl_cap + "\n:::\n:::\n")
        if content.strip():
            blocks.append(content)
        return "\n".join(b.rstrip("\n") + "\n" for b in blocks)

    @staticmethod
    def _merge_streams(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        merged: list[dict[str, Any]] = []
        for out in outputs:
            if (out.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream"
                    and merged[-1].get("name") == out.get("name")):
                merged[-1] = {**merged[-1], "text": merged[-1]["text"] + out.get("text", "")}
            else:
                merged.append(dict(out))
        return merged

    def _image(self, data: dict[str, Any], chunk: Chunk, index: int, alt: str) -> str | None:
        stem = re.sub(r"[^\w.-]+", "-", chunk.label) if chunk.label else f"chunk-{chunk.number}"
        if index > 1:
            stem += f"-{index}"
        width_in = None
        self.image_dir.mkdir(parents=True, exist_ok=True)
        if "image/svg+xml" in data:
            svg = _text(data["image/svg+xml"])
            path = self.image_dir / f"{stem}.svg"
            path.write_text(svg, encoding="utf-8")
            width_in = _svg_width_in(svg)
        elif "image/png" in data:
            raw = base64.b64decode(_text(data["image/png"]))
            path = self.image_dir / f"{stem}.png"
            path.write_bytes(raw)
            px, dpi = _png_info(raw)
            width_in = px / (dpi or self.dpi) if px else None
        elif "image/jpeg" in data:
            raw = base64.b64decode(_text(data["image/jpeg"]))
            path = self.image_dir / f"{stem}.jpg"
            path.write_bytes(raw)
        else:
            return None
        self.written.append(path)
        attrs = []
        if width_in:
            pct = max(10, min(100, round(100 * width_in / self.page.text_width_in)))
            attrs.append(f"width={pct}%")
        if alt:
            attrs.append(f"fig-alt={_attr_quote(alt)}")
        attr = "{" + " ".join(attrs) + "}" if attrs else ""
        return f"![](<{path.resolve().as_posix()}>){attr}"


def _first_text(value: Any) -> str:
    """A caption option as text: a list (Quarto's per-figure captions) gives its first item."""
    if isinstance(value, list):
        value = value[0] if value else None
    return "" if value is None else str(value)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


# --------------------------------------------------------------------------------------------
# Pandoc and Typst
# --------------------------------------------------------------------------------------------


def pandoc_path() -> str:
    try:
        import pypandoc

        return pypandoc.get_pandoc_path()
    except Exception:  # pragma: no cover - pypandoc-binary is a dependency
        found = shutil.which("pandoc")
        if not found:
            raise RenderError("pandoc not found (install pypandoc-binary)", 1) from None
        return found


def _paper(meta: dict[str, Any]) -> tuple[str, Page]:
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


def _typst_length(value: Any, default: str) -> str:
    text = str(value).strip() if value not in (None, "") else default
    return text if re.match(r"^[0-9.]+\s*(cm|mm|in|pt|em)$", text) else default


REFERENCES_TITLE = {"en": "References", "ru": "Список литературы"}


def _document_paths(doc: Document, key: str, fmt: str) -> list[Path]:
    """The files named by ``key`` (a path or a list), as Quarto resolves them: relative to the document when
    its front matter names them, else relative to the ``_quarto.yml`` that does."""
    value = format_option(doc.meta, key, fmt)
    if value in (None, "", []):
        return []
    own = parse_yaml(doc.front_matter) if doc.front_matter.strip() else {}
    own = own if isinstance(own, dict) else {}
    formats = own.get("format") if isinstance(own.get("format"), dict) else {}
    in_document = key in own or any(isinstance(formats.get(name), dict) and key in formats[name]
                                    for name in (("typst", "pdf") if fmt == "pdf" else (fmt,)))
    project = _find_quarto_yml(doc.path.resolve().parent)
    base = doc.path.resolve().parent if in_document or project is None else project.parent
    return [(base / str(item)).resolve() for item in (value if isinstance(value, list) else [value])]


def citation_args(doc: Document, fmt: str) -> list[str]:
    """Citations as Quarto resolves them for HTML: with ``bibliography:`` (and ``csl:``), Pandoc's citeproc
    after the filter, the reference list at the end under a "References" heading (``reference-section-title``
    to change it). Quarto's Typst output uses Typst's own bibliography instead; the fallback's PDF uses
    citeproc too, so both outputs list the same references."""
    bibliographies = _document_paths(doc, "bibliography", fmt)
    if not bibliographies:
        return []
    missing = [str(path) for path in bibliographies if not path.is_file()]
    if missing:
        raise RenderError(f"{doc.path}: bibliography {', '.join(missing)} not found", 2)
    args = [arg for path in bibliographies for arg in ("--bibliography", str(path))]
    for csl in _document_paths(doc, "csl", fmt)[:1]:
        args += ["--csl", str(csl)]
    if not format_option(doc.meta, "reference-section-title", fmt):
        args += ["-M", f"reference-section-title={REFERENCES_TITLE.get(_lang(doc.meta, fmt)[:2], 'References')}"]
    return args + ["--citeproc"]


def pandoc_args(doc: Document, fmt: str) -> list[str]:
    """Pandoc options for one target ('html' or 'pdf')."""
    meta = doc.meta
    words = _words(meta, fmt)
    lang = _lang(meta, fmt)
    args = ["-f", "markdown", "--wrap=none", "--lua-filter", str(LUA_FILTER),
            "-M", f"render-fig-title={words['fig']}", "-M", f"render-tbl-title={words['tbl']}",
            "-M", f"render-fig-prefix={words['fig-prefix']}", "-M", f"render-tbl-prefix={words['tbl-prefix']}",
            "-M", f"render-title-delim={words['title-delim']}"]
    for kind in ("note", "tip", "important", "warning", "caution"):
        args += ["-M", f"render-callout-{kind}={words[kind]}"]
    if "lang" not in meta or format_option(meta, "lang", fmt) != meta.get("lang"):
        args += ["-M", f"lang={lang}"]
    date = resolve_date(format_option(meta, "date", fmt), doc.path)
    if date is not None:
        style = str(format_option(meta, "date-format", fmt, "long") or "long")
        args += ["-M", f"date={format_date(date, style, lang)}"]
    if not format_option(meta, "abstract-title", fmt):
        args += ["-M", f"abstract-title={words['abstract']}"]
    args += ["-M", f"toc-title={format_option(meta, 'toc-title', fmt) or words['toc']}"]
    if not meta.get("title"):
        args += ["-M", f"pagetitle={doc.path.stem}"]
    if _truthy(format_option(meta, "toc", fmt, False)):
        args += ["--toc", f"--toc-depth={int(format_option(meta, 'toc-depth', fmt, 3) or 3)}"]
    if _truthy(format_option(meta, "number-sections", fmt, False)):
        args += ["--number-sections"]
    args += citation_args(doc, fmt)
    if fmt == "html":
        args += ["-t", "html5", "--standalone", "--template", str(HTML_TEMPLATE), "--embed-resources", "--mathml",
                 "--section-divs", "--css", str(CSS_FILE)]
        extra_css = format_option(meta, "css", "html")
        for css in extra_css if isinstance(extra_css, list) else ([extra_css] if extra_css else []):
            args += ["--css", str((doc.path.parent / str(css)).resolve())]
    else:
        paper, _page = _paper(meta)
        margin = format_option(meta, "margin", "pdf", None)
        margin = margin if isinstance(margin, dict) else {}
        args += ["-t", "typst", "--standalone", "--template", str(TYPST_TEMPLATE),
                 "-V", f"papersize={paper}",
                 "-V", f"margin-x={_typst_length(margin.get('x'), '2cm')}",
                 "-V", f"margin-y={_typst_length(margin.get('y'), '2cm')}",
                 "-V", f"fontsize={_typst_length(format_option(meta, 'fontsize', 'pdf'), '10.5pt')}"]
        if _truthy(format_option(meta, "number-sections", "pdf", False)):
            args += ["-V", "section-numbering=1.1"]
        mainfont = format_option(meta, "mainfont", "pdf")
        if mainfont:
            args += ["-V", f"mainfont={mainfont}"]
    return args


def run_pandoc(markdown: Path, output: Path, args: list[str], cwd: Path, resource_dirs: list[Path], log) -> None:
    cmd = [pandoc_path(), str(markdown), "-o", str(output), *args,
           "--resource-path", os.pathsep.join(str(d) for d in resource_dirs)]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, encoding="utf-8", errors="replace")
    messages = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    if proc.returncode != 0:
        first = messages[0] if messages else "no message"
        raise RenderError(f"pandoc failed (status {proc.returncode}) writing {output.name}: {first}", 1,
                          detail=proc.stderr)
    for line in messages:
        log(f"warning: {line[len('[render] '):]}" if line.startswith("[render] ") else f"warning: pandoc: {line}")


def _font_paths() -> list[str]:
    """matplotlib's bundled DejaVu fonts: a fallback for glyphs Libertinus lacks, on every machine."""
    try:
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        return [str(path)] if path.is_dir() else []
    except Exception:
        return []


def compile_typst(source: Path, output: Path, *, system_fonts: bool, log) -> None:
    import typst

    kwargs: dict[str, Any] = {"root": "/", "font_paths": _font_paths(), "ignore_system_fonts": not system_fonts}
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        kwargs["timestamp"] = int(epoch)
    try:
        result = typst.compile_with_warnings(str(source), output=str(output), **kwargs)
    except Exception as exc:  # typst.TypstError
        raise RenderError(f"typst failed on {source}: {_one_line(str(exc), 600)}", 1, detail=str(exc)) from None
    warnings = result[1] if isinstance(result, tuple) and len(result) == 2 else []
    seen = set()
    for w in warnings or []:
        text = _one_line(str(getattr(w, "message", w)))
        if text not in seen:
            seen.add(text)
            log(f"warning: typst: {text}")


# --------------------------------------------------------------------------------------------
# Quarto
# --------------------------------------------------------------------------------------------


def render_with_quarto(quarto: str, qmd: Path, targets: list[str], meta: dict[str, Any],
                       output_dir: Path | None, log) -> int:
    formats = meta.get("format")
    names = set(formats) if isinstance(formats, dict) else ({formats} if isinstance(formats, str) else set())
    for target in targets:
        to = "html" if target == "html" else ("pdf" if "pdf" in names and "typst" not in names else "typst")
        cmd = [quarto, "render", qmd.name, "--to", to]
        if output_dir is not None:
            cmd += ["--output-dir", str(output_dir.resolve())]
        log("$ " + " ".join(cmd))
        proc = subprocess.run(cmd, cwd=qmd.parent)
        if proc.returncode != 0:
            log(f"error: quarto render --to {to} failed with status {proc.returncode}")
            return 1
    return 0


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def load_project(qmd: Path) -> tuple[Path | None, dict[str, Any]]:
    """The ``_quarto.yml`` that governs ``qmd`` (its folder or a parent, as Quarto looks) and its content."""
    project = _find_quarto_yml(qmd.resolve().parent)
    if project is None:
        return None, {}
    try:
        loaded = parse_yaml(project.read_text(encoding="utf-8"))
    except YamlError as exc:
        raise RenderError(f"{project}:{exc.line}: cannot read: {exc}", 2) from None
    except OSError as exc:
        raise RenderError(f"cannot read {project}: {exc.strerror}", 2) from None
    return project, loaded if isinstance(loaded, dict) else {}


def load_document(qmd: Path) -> Document:
    try:
        text = qmd.read_text(encoding="utf-8")
    except OSError as exc:
        raise RenderError(f"cannot read {qmd}: {exc.strerror}", 2) from None
    _project, loaded = load_project(qmd)
    project_meta = {k: v for k, v in loaded.items() if k not in ("project", "website", "book")}
    return parse_qmd(text.replace("\r\n", "\n"), qmd, project_meta=project_meta)


def project_render_targets(directory: Path) -> list[Path]:
    """The documents ``quarto render`` renders when given none: ``project: render:`` of the ``_quarto.yml`` of
    ``directory`` or a parent, in the order listed (globs expanded, ``!pattern`` excluding what an earlier entry
    matched; paths relative to the project folder, as Quarto reads them).

    Without that list Quarto renders every document of the project folder; the fallback asks for the list
    instead (a project of documents, test fixtures and notes should name what it publishes).
    """
    project_file = _find_quarto_yml(directory.resolve())
    if project_file is None:
        raise RenderError("no documents given and no _quarto.yml here or in a parent folder", 2)
    try:
        loaded = parse_yaml(project_file.read_text(encoding="utf-8")) or {}
    except YamlError as exc:
        raise RenderError(f"{project_file}:{exc.line}: cannot read: {exc}", 2) from None
    section = loaded.get("project") if isinstance(loaded, dict) else None
    entries = section.get("render") if isinstance(section, dict) else None
    if isinstance(entries, str):
        entries = [entries]
    if not entries or not all(isinstance(e, str) and e.strip() for e in entries):
        raise RenderError(f"no documents given and {project_file} lists none in project: render: "
                          "(name the documents, e.g. render: [report.qmd])", 2)
    root = project_file.parent
    found: list[Path] = []
    for entry in entries:
        pattern = entry.strip()
        if pattern.startswith("!"):
            excluded = {p.resolve() for p in root.glob(pattern[1:])}
            found = [p for p in found if p.resolve() not in excluded]
            continue
        matches = sorted(root.glob(pattern)) if any(c in pattern for c in "*?[") else [root / pattern]
        for path in matches:
            if not path.is_file():
                raise RenderError(f"{project_file}: project: render: {pattern}: no such file", 2)
            if path not in found:
                found.append(path)
    return [Path(os.path.relpath(p, Path.cwd())) if _inside(p, Path.cwd()) else p for p in found]


def _inside(path: Path, directory: Path) -> bool:
    try:
        path.resolve().relative_to(directory.resolve())
        return True
    except ValueError:
        return False


def pre_render_commands(project_file: Path | None, project: dict[str, Any]) -> list[str]:
    """``project: pre-render:`` of ``_quarto.yml``: a command or a list of commands, in order."""
    section = project.get("project")
    value = section.get("pre-render") if isinstance(section, dict) else None
    if value in (None, "", []):
        return []
    commands = value if isinstance(value, list) else [value]
    if not all(isinstance(c, str) and c.strip() for c in commands):
        raise RenderError(f"{project_file}: project: pre-render must be a command or a list of commands", 2)
    return [c.strip() for c in commands]


def _pre_render_argv(command: str, where: Path) -> list[str]:
    """How Quarto runs a pre-render entry: a script by its extension, else a command line without a shell."""
    try:
        args = shlex.split(command)
    except ValueError as exc:
        raise RenderError(f"{where}: pre-render command `{command}`: {exc}", 2) from None
    first = args[0]
    suffix = Path(first).suffix.lower()
    if suffix == ".py":
        return [sys.executable, *args]
    if suffix in (".ts", ".r", ".lua"):
        raise RenderError(f"{where}: pre-render script {first} needs Quarto (the fallback runs .py scripts "
                          "and command lines)", 1)
    if first in ("python", "python3"):
        # the renderer's own interpreter: under `make` the environment's python is not on PATH
        return [sys.executable, *args[1:]]
    return args


def run_pre_render(qmd: Path | list[Path], log) -> float:
    """Run the project's pre-render commands from the project folder; returns the seconds they took.

    ``qmd`` may be several documents of one project (rendered together): the commands run once, with every
    document in ``$QUARTO_PROJECT_INPUT_FILES`` (one per line), as Quarto does for a project render.
    """
    qmds = [qmd] if isinstance(qmd, Path) else list(qmd)
    project_file, project = load_project(qmds[0])
    commands = pre_render_commands(project_file, project)
    if not commands:
        return 0.0
    started = time.perf_counter()
    cwd = project_file.parent
    input_files = []
    for one in qmds:
        try:
            input_files.append(one.resolve().relative_to(cwd.resolve()).as_posix())
        except ValueError:
            input_files.append(str(one.resolve()))
    env = dict(os.environ, QUARTO_PROJECT_INPUT_FILES="\n".join(input_files))
    for command in commands:
        argv = _pre_render_argv(command, project_file)
        log(f"pre-render: {command}")
        try:
            proc = subprocess.run(argv, cwd=cwd, env=env)
        except OSError as exc:
            raise RenderError(f"{project_file}: pre-render command `{command}` cannot start: "
                              f"{exc.strerror or exc}", 1) from None
        if proc.returncode != 0:
            raise RenderError(f"{project_file}: pre-render command `{command}` failed "
                              f"(exit status {proc.returncode})", 2)
    return time.perf_counter() - started


def _dedupe(log):
    """The same warning from the HTML and the PDF pass is shown once."""
    seen: set[str] = set()

    def emit(msg: str) -> None:
        if msg not in seen:
            seen.add(msg)
            log(msg)

    return emit


def render(qmd: Path, targets: list[str], output_dir: Path | None = None, *, verbose: bool = False,
           pre_render: bool = True, use_cache: bool = True, log=None) -> dict[str, Any]:
    """The fallback renderer. Returns timings and output paths; raises :class:`RenderError`.

    ``use_cache=False`` executes every chunk even when the execution cache holds their outputs (and stores
    the fresh outputs); see :mod:`qmdrender.cache`.
    """
    log = _dedupe(log or (lambda msg: print(msg, file=sys.stderr, flush=True)))
    started = time.perf_counter()
    pre_render_seconds = run_pre_render(qmd, log) if pre_render else 0.0
    doc = load_document(qmd)
    for warning in doc.warnings:
        log(f"warning: {warning}")
    out_dir = (output_dir or qmd.parent).resolve()
    render_dir = out_dir / RENDER_DIR
    render_dir.mkdir(parents=True, exist_ok=True)

    from qmdrender import cache

    execution = execute(doc, cwd=qmd.resolve().parent, verbose=verbose, log=log,
                        cache_file=cache.cache_path(render_dir, qmd), use_cache=use_cache)
    _paper_name, page = _paper(doc.meta)
    dpi = float(format_option(doc.meta, "fig-dpi", None, 192) or 192)
    n_warnings = len(doc.warnings)
    markdown = MarkdownBuilder(doc, execution, render_dir, page, dpi).build()
    for warning in doc.warnings[n_warnings:]:
        log(f"warning: {warning}")
    md_path = render_dir / f"{qmd.stem}.md"
    md_path.write_text(markdown, encoding="utf-8")

    outputs = write_outputs(doc, md_path, targets, out_dir, render_dir, log)
    return {"outputs": outputs, "seconds": time.perf_counter() - started,
            "kernel_seconds": execution.seconds, "cached": execution.cached, "cache_note": execution.cache_note,
            "pre_render_seconds": pre_render_seconds, "chunks": len(doc.chunks), "markdown": md_path}


def write_outputs(doc: Document, md_path: Path, targets: list[str], out_dir: Path, render_dir: Path,
                  log) -> dict[str, Path]:
    """The HTML (Pandoc) and the PDF (Pandoc to Typst, then Typst), at the same time.

    The two are independent and each is one external tool most of the time (Pandoc is a process, Typst
    releases the GIL), so two threads take the time of the slower. Their warnings are shown after both
    finished, HTML first, so the order does not depend on timing.
    """
    from concurrent.futures import ThreadPoolExecutor

    cwd = doc.path.resolve().parent
    resource_dirs = [cwd, out_dir]
    stem = doc.path.stem
    paths = {"html": out_dir / f"{stem}.html", "pdf": out_dir / f"{stem}.pdf"}

    def html(messages: list[str]) -> None:
        run_pandoc(md_path, paths["html"], pandoc_args(doc, "html"), cwd, resource_dirs, messages.append)

    def pdf(messages: list[str]) -> None:
        typ = render_dir / f"{stem}.typ"
        run_pandoc(md_path, typ, pandoc_args(doc, "pdf"), cwd, resource_dirs, messages.append)
        compile_typst(typ, paths["pdf"], system_fonts=bool(format_option(doc.meta, "mainfont", "pdf")),
                      log=messages.append)

    jobs = [(name, job, []) for name, job in (("html", html), ("pdf", pdf)) if name in targets]
    if len(jobs) == 1:
        name, job, messages = jobs[0]
        try:
            job(messages)
        finally:
            for msg in messages:
                log(msg)
        return {name: paths[name]}
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(job, messages) for _name, job, messages in jobs]
    for (_name, _job, messages) in jobs:
        for msg in messages:
            log(msg)
    for future in futures:
        future.result()  # the first failure (HTML before PDF) is raised
    return {name: paths[name] for name, _job, _messages in jobs}


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m qmdrender",
                                     description="Render .qmd documents to HTML and PDF (Quarto if present, else a fallback).")
    parser.add_argument("qmd", type=Path, nargs="*",
                        help="the Quarto document(s), e.g. report.qmd; several are rendered together "
                             "(the project's pre-render once, then the documents at the same time); "
                             "none: the documents listed in project: render: of the _quarto.yml here")
    parser.add_argument("--to", default="html,pdf", help="comma-separated targets: html, pdf (default: html,pdf)")
    parser.add_argument("--quarto", choices=("auto", "never", "always"), default="auto",
                        help="use quarto when on PATH (auto), never, or require it (always)")
    parser.add_argument("--output-dir", type=Path, default=None, help="where to write the outputs (default: next to the .qmd)")
    parser.add_argument("--no-pre-render", action="store_true",
                        help="skip _quarto.yml's project: pre-render commands (fallback only)")
    parser.add_argument("--no-cache", action="store_true",
                        help="execute every chunk even when the execution cache holds their outputs "
                             "(the fresh outputs replace the cached ones; fallback only)")
    parser.add_argument("--verbose", "-v", action="store_true", help="show tracebacks and tool output")
    args = parser.parse_args(argv)
    targets = []
    for name in args.to.split(","):
        name = name.strip().lower()
        name = "pdf" if name == "typst" else name
        if name not in FORMATS:
            parser.error(f"unknown target {name!r} (choose from html, pdf)")
        if name not in targets:
            targets.append(name)
    args.targets = targets
    return args


def render_documents(qmds: list[Path], targets: list[str], output_dir: Path | None = None, *,
                     verbose: bool = False, pre_render: bool = True, use_cache: bool = True,
                     log=None) -> list[dict[str, Any] | RenderError]:
    """Render several documents as one project render: each project's pre-render commands once, before any
    chunk (as Quarto does), then the documents at the same time, one thread each (the work is in the kernels,
    Pandoc and Typst, outside the GIL).

    Returns, in the order given, each document's :func:`render` result or the :class:`RenderError` that stopped
    it; a failing pre-render raises. Each document's messages are shown together, in the order given.
    """
    from concurrent.futures import ThreadPoolExecutor

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    pre_render_seconds = 0.0
    if pre_render:
        projects: dict[Path | None, list[Path]] = {}
        for qmd in qmds:
            projects.setdefault(_find_quarto_yml(qmd.resolve().parent), []).append(qmd)
        for group in projects.values():
            pre_render_seconds += run_pre_render(group, log)

    def one(qmd: Path, messages: list[str]) -> dict[str, Any] | RenderError:
        try:
            info = render(qmd, targets, output_dir, verbose=verbose, pre_render=False, use_cache=use_cache,
                          log=messages.append)
        except RenderError as exc:
            return exc
        info["pre_render_seconds"] = pre_render_seconds
        return info

    if len(qmds) == 1:
        return [one(qmds[0], _LiveLog(log))]
    buffers: list[list[str]] = [[] for _ in qmds]
    with ThreadPoolExecutor(max_workers=len(qmds)) as pool:
        futures = [pool.submit(one, qmd, buffer) for qmd, buffer in zip(qmds, buffers)]
    for buffer in buffers:
        for msg in buffer:
            log(msg)
    return [future.result() for future in futures]


class _LiveLog(list):
    """A message list that shows each message at once (one document: nothing to keep apart)."""

    def __init__(self, log):
        super().__init__()
        self._log = log

    def append(self, msg: str) -> None:
        self._log(msg)


def _summary(qmd: Path, info: dict[str, Any], output_dir: Path | None) -> str:
    names = ", ".join(str(p) if output_dir else p.name for p in info["outputs"].values())
    if info["cached"]:
        execution = "outputs from the execution cache"
    else:
        execution = f"kernel {info['kernel_seconds']:.1f} s" + (f": {info['cache_note']}" if info["cache_note"] else "")
    return (f"rendered {qmd} -> {names} in {info['seconds']:.1f} s ({info['chunks']} chunks, {execution}"
            + (f", pre-render {info['pre_render_seconds']:.1f} s" if info["pre_render_seconds"] else "") + ")")


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    try:
        qmds: list[Path] = list(dict.fromkeys(args.qmd or project_render_targets(Path.cwd())))
        for qmd in qmds:
            if not qmd.is_file():
                raise RenderError(f"{qmd}: no such file", 2)
        quarto = shutil.which("quarto") if args.quarto != "never" else None
        if args.quarto == "always" and not quarto:
            raise RenderError("--quarto always: quarto is not on PATH", 1)
        if quarto:
            for qmd in qmds:
                try:  # only to read `format:`; Quarto itself reports problems with the document
                    doc_meta = load_document(qmd).meta
                except RenderError:
                    doc_meta = {}
                status = render_with_quarto(quarto, qmd.resolve(), args.targets, doc_meta, args.output_dir, log)
                if status != 0:
                    return status
                print(f"rendered {qmd} with quarto ({', '.join(args.targets)}) in {time.perf_counter() - started:.1f} s")
            return 0
        if args.output_dir is not None:
            args.output_dir.mkdir(parents=True, exist_ok=True)
        results = render_documents(qmds, args.targets, args.output_dir, verbose=args.verbose,
                                   pre_render=not args.no_pre_render, use_cache=not args.no_cache, log=log)
    except RenderError as exc:
        log(f"error: {exc}")
        if args.verbose and exc.detail:
            log(exc.detail.rstrip())
        return exc.status
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    status = 0
    for qmd, result in zip(qmds, results):
        if isinstance(result, RenderError):
            log(f"error: {result}")
            if args.verbose and result.detail:
                log(result.detail.rstrip())
            status = max(status, result.status)
        else:
            print(_summary(qmd, result, args.output_dir), flush=True)
    if len(qmds) > 1 and status == 0:
        print(f"rendered {len(qmds)} documents in {time.perf_counter() - started:.1f} s", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
