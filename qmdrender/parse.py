"""Parsing the .qmd: front matter, Markdown, ``{python}`` chunks with their ``#|`` options, inline
expressions and page breaks, into a :class:`Document` (:func:`parse_qmd`, :func:`load_document`)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from qmdrender.config import YamlError, deep_merge, load_project, parse_yaml
from qmdrender.errors import RenderError


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


def chunk_options(chunk: Chunk, defaults: dict[str, Any]) -> dict[str, Any]:
    """A chunk's effective options: the document's execution defaults, then its ``#|`` lines."""
    opts = dict(defaults)
    opts.update(chunk.options)
    return opts


def load_document(qmd: Path) -> Document:
    """Read and parse a .qmd, the ``_quarto.yml`` that governs it merged under its front matter."""
    try:
        text = qmd.read_text(encoding="utf-8")
    except OSError as exc:
        raise RenderError(f"cannot read {qmd}: {exc.strerror}", 2) from None
    _project, loaded = load_project(qmd)
    project_meta = {k: v for k, v in loaded.items() if k not in ("project", "website", "book")}
    return parse_qmd(text.replace("\r\n", "\n"), qmd, project_meta=project_meta)
