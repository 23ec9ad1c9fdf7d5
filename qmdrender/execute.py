"""Execution: the chunks and inline expressions in one Jupyter kernel (nbclient + ipykernel), or their outputs
from the execution cache (:mod:`qmdrender.cache`); :func:`execute` returns an :class:`Execution`."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from qmdrender.config import execute_defaults, format_option, truthy
from qmdrender.errors import RenderError, one_line, strip_ansi
from qmdrender.inline import INLINE_TEXT_MIMES, inline_markdown
from qmdrender.parse import Chunk, Document, InlineExpr, chunk_options

#: The mime type of the display that brings the inline expressions' values back from the kernel.
INLINE_MIME = "application/x-render-inline+json"
CELL_LINE_RE = re.compile(r"Cell In\[(\d+)\], line (\d+)")


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
    # mime bundle; the renderer then picks the representation Quarto would (qmdrender.inline.inline_markdown)
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
            if not truthy(opts.get("eval", True)):
                continue
            cells.append((item.source, ["raises-exception"] if truthy(opts.get("error", False)) else []))
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
                            msg = f"{where}:{line}: {obj.name} failed: {exc.ename}: {one_line(_clean_evalue(exc.ename, exc.evalue))}"
                            raise RenderError(msg, 2, detail=strip_ansi("\n".join(tb or [str(exc)]))) from None
                        raise RenderError(f"{where}: the renderer's {kind} cell failed: {exc.ename}: {one_line(exc.evalue)}",
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
                                       f"{value.get('ename')}: {one_line(value.get('evalue', ''))}")
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
            raise RenderError(f"cannot run the Jupyter kernel: {type(exc).__name__}: {one_line(str(exc))}",
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
