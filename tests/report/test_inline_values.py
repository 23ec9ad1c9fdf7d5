"""Every inline expression of report.qmd and brief.qmd gives a value that Quarto shows as the fallback does.

Quarto inserts an inline value that is a plain ``str`` as its escaped repr (a no-break space prints as
``\\xa0``, ``*emphasis*`` keeps its asterisks) and a value with a ``text/markdown`` representation as Markdown
(``qmdrender.inline.inline_value_for``). So a value that carries formatting must be Markdown
(``analysis.report.formats.Md``); a plain ``str`` must read the same either way.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from qmdrender.config import execute_defaults, truthy
from qmdrender.parse import Chunk, InlineExpr, chunk_options, load_document

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ("report.qmd", "brief.qmd")
#: Markdown that a plain str would lose in Quarto: emphasis, code, links, HTML, escapes, a heading.
MARKDOWN_SYNTAX = re.compile(r"\*|(?<!\w)_\S|\S_(?!\w)|`|\\|\[[^\]]*\]\(|<[A-Za-z/]|^#")


def problem(value) -> str | None:
    """Why Quarto would show ``value`` differently from the Markdown the fallback used to insert, or None."""
    if callable(getattr(value, "_repr_markdown_", None)):
        return None
    if type(value) is int:
        return None
    if isinstance(value, str):
        if repr(value)[1:-1] != value:
            return f"plain str whose repr has escapes: {repr(value)}"
        if MARKDOWN_SYNTAX.search(value):
            return f"plain str with Markdown syntax: {value!r}"
        return None
    return f"{type(value).__name__} shown as its repr {value!r}"


def inline_values(qmd: Path) -> list[tuple[InlineExpr, object]]:
    """Run the document's chunks in order in this process and evaluate each inline expression where it stands."""
    doc = load_document(qmd)
    defaults = execute_defaults(doc.meta)
    namespace: dict = {"__name__": "__main__"}
    values = []
    with contextlib.redirect_stdout(io.StringIO()):
        for item in doc.items:
            if isinstance(item, Chunk):
                if truthy(chunk_options(item, defaults).get("eval", True)):
                    exec(compile(item.code, f"{qmd.name}:{item.line}", "exec"), namespace)
            elif isinstance(item, InlineExpr):
                values.append((item, eval(compile(item.expr, f"{qmd.name}:{item.line}", "eval"), namespace)))
    return values


@pytest.mark.parametrize("name", DOCUMENTS)
def test_inline_values_are_markdown_or_plain(name, synthetic_run, monkeypatch):
    monkeypatch.setenv("ONECLICK_RESULTS_DIR", str(synthetic_run))
    monkeypatch.chdir(ROOT)
    values = inline_values(ROOT / name)
    assert len(values) > (100 if name == "report.qmd" else 10)
    bad = [f"{name}:{expr.line}: `{expr.expr}`: {why}" for expr, value in values if (why := problem(value))]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("value, bad", [
    ("1\u00a0296", True), ("*high risk*", True), ("a `code`", True), ("[x](y)", True), ("a\\b", True),
    (0.5, True), ("plain words, 32.5% and «ёлочки»", False), ("tenure_100d", False), ("it's", False), (412, False),
])
def test_problem_detects_what_quarto_would_show_differently(value, bad):
    assert (problem(value) is not None) is bad
