"""Pandoc and Typst: Pandoc's options for each output (:func:`pandoc_args`, citeproc: :func:`citation_args`),
Pandoc itself (:func:`run_pandoc`: the HTML, and the Typst source) and Typst (:func:`compile_typst`: the PDF)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from qmdrender.config import (document_lang, find_quarto_yml, format_date, format_option, localised_words,
                              paper_setup, parse_yaml, resolve_date, truthy)
from qmdrender.errors import RenderError, one_line
from qmdrender.parse import Document


HERE = Path(__file__).resolve().parent
LUA_FILTER = HERE / "filter.lua"
CSS_FILE = HERE / "style.css"
TYPST_TEMPLATE = HERE / "template.typ"
HTML_TEMPLATE = HERE / "template.html"


def pandoc_path() -> str:
    try:
        import pypandoc

        return pypandoc.get_pandoc_path()
    except Exception:  # pragma: no cover - pypandoc-binary is a dependency
        found = shutil.which("pandoc")
        if not found:
            raise RenderError("pandoc not found (install pypandoc-binary)", 1) from None
        return found


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
    project = find_quarto_yml(doc.path.resolve().parent)
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
        args += ["-M", f"reference-section-title={REFERENCES_TITLE.get(document_lang(doc.meta, fmt)[:2], 'References')}"]
    return args + ["--citeproc"]


def pandoc_args(doc: Document, fmt: str) -> list[str]:
    """Pandoc options for one target ('html' or 'pdf')."""
    meta = doc.meta
    words = localised_words(meta, fmt)
    lang = document_lang(meta, fmt)
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
    if truthy(format_option(meta, "toc", fmt, False)):
        args += ["--toc", f"--toc-depth={int(format_option(meta, 'toc-depth', fmt, 3) or 3)}"]
    if truthy(format_option(meta, "number-sections", fmt, False)):
        args += ["--number-sections"]
    args += citation_args(doc, fmt)
    if fmt == "html":
        args += ["-t", "html5", "--standalone", "--template", str(HTML_TEMPLATE), "--embed-resources", "--mathml",
                 "--section-divs", "--css", str(CSS_FILE)]
        extra_css = format_option(meta, "css", "html")
        for css in extra_css if isinstance(extra_css, list) else ([extra_css] if extra_css else []):
            args += ["--css", str((doc.path.parent / str(css)).resolve())]
    else:
        paper, _page = paper_setup(meta)
        margin = format_option(meta, "margin", "pdf", None)
        margin = margin if isinstance(margin, dict) else {}
        args += ["-t", "typst", "--standalone", "--template", str(TYPST_TEMPLATE),
                 "-V", f"papersize={paper}",
                 "-V", f"margin-x={_typst_length(margin.get('x'), '2cm')}",
                 "-V", f"margin-y={_typst_length(margin.get('y'), '2cm')}",
                 "-V", f"fontsize={_typst_length(format_option(meta, 'fontsize', 'pdf'), '10.5pt')}"]
        if truthy(format_option(meta, "number-sections", "pdf", False)):
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
        raise RenderError(f"typst failed on {source}: {one_line(str(exc), 600)}", 1, detail=str(exc)) from None
    warnings = result[1] if isinstance(result, tuple) and len(result) == 2 else []
    seen = set()
    for w in warnings or []:
        text = one_line(str(getattr(w, "message", w)))
        if text not in seen:
            seen.add(text)
            log(f"warning: typst: {text}")
