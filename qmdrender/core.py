"""Render Quarto documents to HTML and PDF, with or without Quarto: the pipeline and the command line.

``python -m qmdrender report.qmd``; the supported Quarto subset, the pre-render commands and the exit
statuses are documented in ``qmdrender/README.md``.  Pipeline (:func:`render`): :func:`~qmdrender.parse.load_document`
(front matter, ``_quarto.yml``, chunks, inline expressions) -> :func:`~qmdrender.project.run_pre_render` ->
:func:`~qmdrender.execute.execute` (one Jupyter kernel, or the outputs from the execution cache,
:mod:`qmdrender.cache`) -> :class:`~qmdrender.markdown.MarkdownBuilder` (Pandoc Markdown) -> :func:`write_outputs`:
:func:`~qmdrender.pandoc.run_pandoc` (HTML) beside :func:`~qmdrender.pandoc.run_pandoc` (Typst) then
:func:`~qmdrender.pandoc.compile_typst` (PDF). :func:`render_documents` renders several documents as one project;
:func:`main` is the command line, which hands the documents to Quarto (:mod:`qmdrender.quarto`) when it is
installed.  Errors are :class:`~qmdrender.errors.RenderError`: one line, status 2 when the document is at fault,
1 when the toolchain is.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from qmdrender.config import find_quarto_yml, format_option, paper_setup
from qmdrender.errors import RenderError
from qmdrender.execute import execute
from qmdrender.markdown import MarkdownBuilder
from qmdrender.pandoc import compile_typst, pandoc_args, run_pandoc
from qmdrender.parse import Document, load_document
from qmdrender.project import project_render_targets, run_pre_render
from qmdrender.quarto import render_with_quarto


RENDER_DIR = "_render"
FORMATS = ("html", "pdf")


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
    _paper_name, page = paper_setup(doc.meta)
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
            projects.setdefault(find_quarto_yml(qmd.resolve().parent), []).append(qmd)
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
