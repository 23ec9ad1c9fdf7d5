"""Outputs -> Pandoc Markdown: a parsed document and its execution become one Markdown text
(:class:`MarkdownBuilder`), with the images written beside it."""

from __future__ import annotations

import base64
import re
import struct
from pathlib import Path
from typing import Any

from qmdrender.config import Page, execute_defaults, truthy
from qmdrender.errors import strip_ansi
from qmdrender.execute import INLINE_MIME, Execution
from qmdrender.parse import PAGEBREAK, Chunk, Document, InlineExpr, chunk_options


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
        if not truthy(opts.get("include", True)):
            return ""
        blocks: list[str] = []
        if truthy(opts.get("echo", False)) and chunk.code.strip():
            blocks.append(code_block(chunk.code, ".python .cell-code"))
        output = opts.get("output", True)
        outputs = self.exec.chunk_outputs.get(chunk.number, [])
        if output is False or (isinstance(output, str) and output.lower() == "false"):
            outputs = []
        asis = isinstance(output, str) and output.lower() == "asis"
        show_warnings = truthy(opts.get("warning", True))

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
