"""Tests of qmdrender, the Quarto fallback renderer (moved from tests/test_render.py with the code).

The parsing tests need neither a kernel nor Pandoc; the filter tests run Pandoc only; the render
tests start a Jupyter kernel (a few seconds each) and render tests/render/fixtures/*.qmd into tmp dirs.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import qmdrender
import qmdrender.execute
import qmdrender.project
from qmdrender.config import YamlError, execute_defaults, format_date, format_option, parse_yaml, resolve_date
from qmdrender.core import main
from qmdrender.errors import RenderError
from qmdrender.inline import inline_markdown, inline_value_for, quarto_plain_markdown
from qmdrender.pandoc import CSS_FILE, LUA_FILTER, TYPST_TEMPLATE, pandoc_args, pandoc_path
from qmdrender.parse import PAGEBREAK, Chunk, chunk_options, find_inline_expressions, load_document, parse_qmd
from qmdrender.project import pre_render_commands, project_render_targets

FIXTURES = Path(__file__).resolve().parents[1] / "render" / "fixtures"
NBSP = "\u00a0"


def norm(text: str) -> str:
    return text.replace(NBSP, " ")


# ---------------------------------------------------------------------------------------------
# YAML subset
# ---------------------------------------------------------------------------------------------


def test_yaml_scalars_and_nesting():
    data = parse_yaml(textwrap.dedent("""\
        title: "Retention: a report"
        date: today
        toc: true
        toc-depth: 2
        fig-dpi: 150.5
        nothing:
        author:
          - name: Иван Петров
            affiliation: Analytics
          - Jane Doe
        format:
          html:
            css: [a.css, "b.css"]
          typst:
            margin: {x: 2cm, y: 1.5cm}
        execute:
          echo: false   # a comment
        """))
    assert data["title"] == "Retention: a report"
    assert data["date"] == "today"
    assert data["toc"] is True and data["toc-depth"] == 2 and data["fig-dpi"] == 150.5
    assert data["nothing"] is None
    assert data["author"] == [{"name": "Иван Петров", "affiliation": "Analytics"}, "Jane Doe"]
    assert data["format"]["html"]["css"] == ["a.css", "b.css"]
    assert data["format"]["typst"]["margin"] == {"x": "2cm", "y": "1.5cm"}
    assert data["execute"] == {"echo": False}


def test_yaml_block_scalars_quotes_and_lists():
    data = parse_yaml(textwrap.dedent("""\
        abstract: |
          Line one
          line two # not a comment

          Second paragraph
        folded: >-
          one
          two
        caps:
        - 'It''s'
        - "ruble \\u20bd"
        long: "a quoted
          string"
        """))
    assert data["abstract"] == "Line one\nline two # not a comment\n\nSecond paragraph\n"
    assert data["folded"] == "one two"
    assert data["caps"] == ["It's", "ruble ₽"]
    assert data["long"] == "a quoted string"


@pytest.mark.parametrize("text, line", [("a: 1\nb: [1, 2\n", 2), ('a: "open\n', 1), ("- a\nb: 1\n", 2)])
def test_yaml_errors_carry_line_numbers(text, line):
    with pytest.raises(YamlError) as info:
        parse_yaml(text)
    assert info.value.line == line


# ---------------------------------------------------------------------------------------------
# .qmd parsing: chunks, options, inline expressions
# ---------------------------------------------------------------------------------------------

QMD = """\
---
title: T
execute:
  echo: true
---

Intro `{python} n` and `{python} f"{x:.1%}"` here.

```{python}
#| label: fig-roc
#| fig-cap: "ROC curve: train vs test"
#| fig-alt: A curve
#| echo: false
#| output: asis
x = 0.5
```

```python
not `{python} evaluated` here
```

{{< pagebreak >}}

After: `{python} x`.

```{python}
y = 1
```
"""


def test_parse_chunks_options_and_lines():
    doc = parse_qmd(QMD, "report.qmd")
    chunks = doc.chunks
    assert [c.line for c in chunks] == [9, 26]
    first = chunks[0]
    assert first.label == "fig-roc" and first.name == "chunk 'fig-roc'"
    assert first.options == {"label": "fig-roc", "fig-cap": "ROC curve: train vs test", "fig-alt": "A curve",
                             "echo": False, "output": "asis"}
    assert first.code == "x = 0.5"
    assert first.source.startswith("#| label: fig-roc")  # kept, so kernel lines map to .qmd lines
    assert chunks[1].name == "chunk #2" and chunks[1].options == {}
    assert PAGEBREAK in doc.items
    assert doc.meta["execute"] == {"echo": True}


def test_inline_expressions_in_order_and_not_in_code():
    doc = parse_qmd(QMD, "report.qmd")
    assert [(e.line, e.expr) for e in doc.inlines] == [(7, "n"), (7, 'f"{x:.1%}"'), (24, "x")]
    # the expression after the first chunk comes after it in document order
    kinds = [type(it).__name__ for it in doc.items if not isinstance(it, str)]
    assert kinds == ["InlineExpr", "InlineExpr", "Chunk", "object", "InlineExpr", "Chunk"]
    text = "".join(it for it in doc.items if isinstance(it, str))
    assert "not `{python} evaluated` here" in text


def test_find_inline_expressions():
    assert find_inline_expressions("a `{python} 1 + 1` b `{python}  len(df)` c `code`") == ["1 + 1", "len(df)"]
    assert find_inline_expressions("``{python} no`` and `{python}` and `python x`") == []


def test_chunk_option_defaults_precedence(tmp_path):
    (tmp_path / "_quarto.yml").write_text("execute:\n  echo: true\n  warning: false\n", encoding="utf-8")
    qmd = tmp_path / "r.qmd"
    qmd.write_text("---\nexecute:\n  warning: true\n---\n\n```{python}\n#| include: false\n1\n```\n", encoding="utf-8")
    doc = load_document(qmd)
    defaults = execute_defaults(doc.meta)
    assert defaults["echo"] is True          # from _quarto.yml
    assert defaults["warning"] is True       # front matter wins over _quarto.yml
    opts = chunk_options(doc.chunks[0], defaults)
    assert opts["include"] is False and opts["eval"] is True


def test_echo_defaults_to_false():
    assert execute_defaults({})["echo"] is False


@pytest.mark.parametrize("text, message", [
    ("```{r}\n1\n```\n", "report.qmd:1: unsupported chunk engine {r}"),
    ("Text\n\n```{python}\nx = 1\n", "report.qmd:3: code chunk is never closed"),
    ("\n```{python}\n#| label: a\n#| fig-cap: [unclosed\nx\n```\n", "report.qmd:4: bad chunk option"),
    ("---\ntitle: [x\n---\n", "report.qmd:2: cannot read the front matter"),
])
def test_document_errors_name_the_line(text, message):
    with pytest.raises(RenderError) as info:
        parse_qmd(text, "report.qmd")
    assert str(info.value).startswith(message)
    assert info.value.status == 2


def test_format_option_prefers_the_format_section():
    meta = {"toc": False, "format": {"html": {"toc": True}, "pdf": {"papersize": "letter"}}}
    assert format_option(meta, "toc", "html") is True
    assert format_option(meta, "toc", "pdf") is False
    assert format_option(meta, "papersize", "pdf") == "letter"


def test_dates():
    d = dt.date(2005, 3, 7)
    assert format_date(d, "long") == "March 7, 2005"
    assert format_date(d, "iso") == "2005-03-07"
    assert format_date(d, "long", "ru") == "7 марта 2005 г."
    assert format_date(d, "DD.MM.YYYY") == "07.03.2005"
    assert resolve_date("today") == dt.date.today()
    assert resolve_date("2024-05-01") == dt.date(2024, 5, 1)
    assert resolve_date("Spring 2024") is None


def test_failure_line_from_traceback():
    chunk = Chunk(1, 40, "#| label: a\ny = 1\nd['auc']", {"label": "a"})
    tb = ["\x1b[36mCell\x1b[39m \x1b[32mIn[3]\x1b[39m\x1b[32m, line 3\x1b[39m", "Cell In[1], line 9"]
    assert qmdrender.execute._failure_line(chunk, tb, 3) == 43
    assert qmdrender.execute._failure_line(chunk, tb, 7) == 40  # no frame of this cell: the fence line


# ---------------------------------------------------------------------------------------------
# The Lua filter through Pandoc (no kernel)
# ---------------------------------------------------------------------------------------------

FILTER_MD = """\
See @fig-a, [@tbl-b], -@fig-a, @Fig-c, @fig-missing and @someone.

![First *figure*](a.png){#fig-a fig-alt="alt a"}

| x |
|---|
| 1 |

: The table {#tbl-b}

::: {#fig-c}
![](c.png)

Caption of c.
:::

::: {.callout-warning title="Mind **this**"}
Body text.
:::

::: {.callout-tip}
## Tip title
Tip body.
:::

::: {.content-visible when-format="html"}
HTML only.
:::
"""


def _pandoc(markdown: str, fmt: str, tmp_path: Path) -> tuple[str, str]:
    src = tmp_path / "in.md"
    src.write_text(markdown, encoding="utf-8")
    doc = parse_qmd("", tmp_path / "in.qmd")
    args = [a for a in pandoc_args(doc, fmt) if a not in ("--embed-resources", "--standalone")]
    proc = subprocess.run([pandoc_path(), str(src), *args], capture_output=True, text=True, cwd=tmp_path,
                          encoding="utf-8")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr


def test_filter_html_crossrefs_callouts(tmp_path):
    html, err = _pandoc(FILTER_MD, "html", tmp_path)
    text = norm(html)
    assert '<a href="#fig-a" class="quarto-xref">Figure 1</a>' in text
    assert '<a href="#tbl-b" class="quarto-xref">Table 1</a>' in text
    assert '<a href="#fig-a" class="quarto-xref">1</a>' in text
    assert '<a href="#fig-c" class="quarto-xref">Figure 2</a>' in text
    assert "?@fig-missing" in text and "unresolved cross-reference @fig-missing" in err
    assert "@someone" in text
    assert 'Figure 1:</span> First <em>figure</em>' in text
    assert 'Figure 2:</span> Caption of c.' in text
    assert 'Table 1:</span> The table' in text
    assert 'alt="alt a"' in text
    assert '<div class="callout callout-warning">' in text and "Mind <strong>this</strong>" in text
    assert "Tip title" in text and "<h2" not in text
    assert "HTML only." in text


def test_filter_typst(tmp_path):
    typ, _ = _pandoc(FILTER_MD, "pdf", tmp_path)
    text = norm(typ.replace("~", " "))
    assert "#link(<fig-a>)[Figure 1]" in text
    assert "<fig-a>" in text and "<tbl-b>" in text and "<fig-c>" in text
    assert "#callout(kind: \"warning\", title: [Mind #strong[this]])[" in text
    assert "#cite" not in text
    assert "HTML only." not in text
    assert f'image("{tmp_path.as_posix()}/a.png"' in typ  # absolute: the PDF is compiled with root "/"


# ---------------------------------------------------------------------------------------------
# Command line and the Quarto path (no kernel)
# ---------------------------------------------------------------------------------------------


def test_quarto_always_without_quarto(monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main([str(FIXTURES / "mini.qmd"), "--quarto", "always"]) == 1
    assert "quarto is not on PATH" in capsys.readouterr().err


def test_quarto_is_used_when_present(tmp_path, monkeypatch):
    log = tmp_path / "calls.txt"
    fake = tmp_path / "quarto"
    fake.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\n', encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(shutil, "which", lambda name: str(fake) if name == "quarto" else None)
    assert main([str(FIXTURES / "mini.qmd")]) == 0
    assert log.read_text().splitlines() == ["render mini.qmd --to html", "render mini.qmd --to typst"]


def test_unknown_target_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main([str(FIXTURES / "mini.qmd"), "--to", "docx"])
    assert info.value.code == 2


# ---------------------------------------------------------------------------------------------
# Full renders (start a Jupyter kernel)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    out = tmp_path_factory.mktemp("mini")
    proc = subprocess.run([sys.executable, "-m", "qmdrender", str(FIXTURES / "mini.qmd"),
                           "--quarto", "never", "--output-dir", str(out)],
                          capture_output=True, text=True, encoding="utf-8",
                          cwd=Path(__file__).resolve().parents[2])
    return out, proc


def test_mini_renders(mini):
    out, proc = mini
    assert proc.returncode == 0, proc.stderr
    assert "rendered" in proc.stdout and " s " in proc.stdout
    # the kernel's start-up chatter (TCP, debugger) is not passed on
    assert "TCP" not in proc.stderr and "Debugger" not in proc.stderr
    assert (out / "mini.html").stat().st_size > 10_000
    assert (out / "_render" / "mini_files" / "fig-revenue.png").is_file()


def test_mini_html(mini):
    out, _ = mini
    html = norm((out / "mini.html").read_text(encoding="utf-8"))
    assert "Figure 1" in html and "Table 1" in html
    assert "Revenue by segment, thousands of ₽" in html                  # figure caption
    assert "Customers and revenue by segment (₽)" in html                # table caption
    assert "30.4%" in html                                               # inline expression
    assert "1,582,667 ₽" in html
    assert "holds 412 customers" in html                                 # inline inside a callout
    assert "Прежний уровень" in html and "3,400,000.25" in html           # table rows
    assert "callout-important" in html and "Key finding" in html         # callout
    assert "Reading the chart" in html
    assert 'alt="A bar chart of revenue for three segments"' in html
    assert "data:image/png;base64," in html                              # self-contained
    assert "{python}" not in html and "@fig-" not in html and "{{<" not in html
    assert "import pandas" not in html                                   # echo: false
    assert 'class="page-break"' in html
    assert 'id="TOC"' in html                                            # format: html: toc: true


def test_mini_pdf(mini):
    out, _ = mini
    pdf = out / "mini.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000
    typ = norm((out / "_render" / "mini.typ").read_text(encoding="utf-8").replace("~", " "))
    assert 'paper: "a4"' in typ
    assert "#link(<fig-revenue>)[Figure 1]" in typ and "<tbl-segments>" in typ
    assert "Revenue by segment, thousands of ₽" in typ
    assert '#callout(kind: "important"' in typ and "#pagebreak" in typ
    assert "Снизилась" in typ
    if shutil.which("pdftotext"):  # poppler-utils, when installed
        text = norm(subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                                   text=True, encoding="utf-8").stdout)
        for needle in ("Figure 1", "Table 1", "Снизилась", "₽", "30.4%", "Key finding", "Прежний уровень"):
            assert needle in text, needle


def test_failing_chunk_is_one_line_and_status_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "qmdrender", str(FIXTURES / "failing.qmd"),
                           "--quarto", "never", "--output-dir", str(tmp_path)],
                          capture_output=True, text=True, encoding="utf-8",
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [f"error: {FIXTURES / 'failing.qmd'}:18: chunk 'fig-broken' failed: KeyError: 'auc'"]
    assert not (tmp_path / "failing.html").exists()


def test_execution_semantics(tmp_path, capsys):
    """Inline expressions see the state at their position; echo/include/output/asis/error options."""
    qmd = tmp_path / "sem.qmd"
    qmd.write_text(textwrap.dedent("""\
        ---
        title: Semantics
        ---

        ```{python}
        x = 1
        print("stdout-text")
        ```

        First x=`{python} x`.

        ```{python}
        #| echo: true
        x = 2
        ```

        Second x=`{python} x`.

        ```{python}
        #| include: false
        print("never-shown")
        ```

        ```{python}
        #| output: asis
        print("**asis-bold**")
        ```

        ```{python}
        #| error: true
        1 / 0
        ```

        ```{python}
        #| eval: false
        raise SystemExit("not run")
        ```

        Cwd ok: `{python} __import__("os").path.basename(__import__("os").getcwd())`.
        """), encoding="utf-8")
    assert main([str(qmd), "--to", "html", "--quarto", "never"]) == 0
    html = (tmp_path / "sem.html").read_text(encoding="utf-8")
    assert "First x=1." in html and "Second x=2." in html
    assert "stdout-text" in html and "never-shown" not in html
    assert "<strong>asis-bold</strong>" in html
    assert "ZeroDivisionError" in html
    assert html.count('class="sourceCode python cell-code"') == 1     # only the echo: true chunk
    assert f"Cwd ok: {tmp_path.name}." in html
    assert not (tmp_path / "sem.pdf").exists()


def test_inline_expression_error(tmp_path, capsys):
    qmd = tmp_path / "bad.qmd"
    qmd.write_text("Value: `{python} missing_name`.\n", encoding="utf-8")
    assert main([str(qmd), "--to", "html", "--quarto", "never"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {qmd}:1: inline expression `missing_name` failed: NameError: name 'missing_name' is not defined"]


def test_filter_localised_words(tmp_path):
    src = tmp_path / "in.md"
    src.write_text("See @fig-a.\n\n![Cap](a.png){#fig-a}\n\n::: {.callout-note}\nBody\n:::\n", encoding="utf-8")
    doc = parse_qmd("---\nlang: ru\n---\n", tmp_path / "in.qmd")
    proc = subprocess.run([pandoc_path(), str(src), *[a for a in pandoc_args(doc, "html") if a != "--embed-resources"]],
                          capture_output=True, text=True, encoding="utf-8", cwd=tmp_path)
    html = norm(proc.stdout)
    assert ">Рисунок 1</a>" in html and "Рисунок 1:</span> Cap" in html and "Примечание" in html


# ---------------------------------------------------------------------------------------------
# Project pre-render commands (_quarto.yml: project: pre-render)
# ---------------------------------------------------------------------------------------------


def _project(tmp_path: Path, pre_render: str) -> Path:
    (tmp_path / "_quarto.yml").write_text(f"project:\n  type: default\n  pre-render: {pre_render}\n", encoding="utf-8")
    (tmp_path / "make_value.py").write_text(
        "import os, pathlib\n"
        "pathlib.Path('value.txt').write_text('value-from-pre-render ' + os.environ['QUARTO_PROJECT_INPUT_FILES'])\n",
        encoding="utf-8")
    doc = tmp_path / "docs" / "doc.qmd"
    doc.parent.mkdir()
    doc.write_text("Read: `{python} open('../value.txt').read()`.\n", encoding="utf-8")
    return doc


def test_pre_render_commands_parsed():
    path = Path("_quarto.yml")
    assert pre_render_commands(path, {"project": {"pre-render": "python -m x run"}}) == ["python -m x run"]
    assert pre_render_commands(path, {"project": {"pre-render": ["a.py", "make data"]}}) == ["a.py", "make data"]
    assert pre_render_commands(path, {"project": {"type": "default"}}) == []
    assert pre_render_commands(path, {}) == []
    with pytest.raises(RenderError, match="must be a command or a list of commands"):
        pre_render_commands(path, {"project": {"pre-render": [1]}})
    here = Path("_quarto.yml")
    assert qmdrender.project._pre_render_argv("make_value.py --x", here) == [sys.executable, "make_value.py", "--x"]
    assert qmdrender.project._pre_render_argv("python -m analysis run", here) == [sys.executable, "-m", "analysis", "run"]
    assert qmdrender.project._pre_render_argv("make 'a b'", here) == ["make", "a b"]
    with pytest.raises(RenderError, match="needs Quarto"):
        qmdrender.project._pre_render_argv("prepare.ts", here)


def test_pre_render_runs_before_the_chunks_from_the_project_folder(tmp_path, capsys):
    doc = _project(tmp_path, "[make_value.py, \"python -c 'print(1)'\"]")
    assert main([str(doc), "--to", "html", "--quarto", "never"]) == 0
    html = (doc.parent / "doc.html").read_text(encoding="utf-8")
    assert "Read: value-from-pre-render docs/doc.qmd." in html
    err = capsys.readouterr().err
    assert "pre-render: make_value.py" in err and "pre-render: python -c 'print(1)'" in err


def test_failing_pre_render_is_one_line_and_status_2(tmp_path, capsys):
    doc = _project(tmp_path, "[\"python -c 'raise SystemExit(3)'\", make_value.py]")
    assert main([str(doc), "--to", "html", "--quarto", "never"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert err == [f"error: {tmp_path / '_quarto.yml'}: pre-render command `python -c 'raise SystemExit(3)'` "
                   "failed (exit status 3)"]
    assert not (tmp_path / "value.txt").exists()       # the later command did not run
    assert not (doc.parent / "doc.html").exists()


def test_no_pre_render_flag_skips_them(tmp_path, capsys):
    doc = _project(tmp_path, "\"python -c 'raise SystemExit(3)'\"")
    doc.write_text("No chunks here.\n", encoding="utf-8")
    assert main([str(doc), "--to", "html", "--quarto", "never", "--no-pre-render"]) == 0
    assert "No chunks here." in (doc.parent / "doc.html").read_text(encoding="utf-8")


def test_yaml_12_booleans():
    """Quarto reads YAML 1.2: yes/no/on/off are strings, true/false booleans."""
    assert parse_yaml("a: no\nb: on\nc: true\nd: False\n") == {"a": "no", "b": "on", "c": True, "d": False}


def test_renderer_knows_nothing_of_the_store():
    """qmdrender is generic: no import of the store's packages, no store words in its code."""
    import ast

    package = Path(qmdrender.__file__).parent
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] not in ("analysis", "stats"), f"{path.name} imports {name}"
    for path in package.iterdir():
        if path.is_file() and path.suffix in (".py", ".lua", ".typ", ".css"):
            text = path.read_text(encoding="utf-8").lower()
            assert "один клик" not in text and "oneclick" not in text, path.name
    for resource in (LUA_FILTER, CSS_FILE, TYPST_TEMPLATE):
        assert resource.is_file()
    import tomllib

    setuptools = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "qmdrender" in setuptools["packages"]
    declared = setuptools["package-data"]["qmdrender"]
    for resource in (LUA_FILTER, CSS_FILE, TYPST_TEMPLATE):
        assert f"*{resource.suffix}" in declared


# ---------------------------------------------------------------------------------------------
# Inline values: Quarto's rule (quarto-cli src/core/jupyter/jupyter-inline.ts)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("plain, markdown", [
    ("'1\\xa0296'", "1\\\\\\\\xa0296"),               # a str's repr: quotes off, backslashes doubled, escaped
    ("'*high risk, high profit*'", "\\*high risk\\, high profit\\*"),
    ('"it\'s"', "it's"),
    ("412", "412"),                                  # not quoted: as it is
    ("np.float64(0.5)", "np.float64(0.5)"),
    ("'a.b-c+d!e#f>g(h)i[j]k{l}m_n`o'", "a\\.b\\-c\\+d\\!e\\#f\\>g\\(h\\)i\\[j\\]k\\{l\\}m\\_n\\`o"),
])
def test_quarto_plain_markdown(plain, markdown):
    assert quarto_plain_markdown(plain) == markdown


def test_inline_value_prefers_html_then_markdown_then_plain():
    bundle = {"text/plain": "'x'", "text/markdown": "*x*", "text/html": "<i>x</i>"}
    assert inline_value_for(bundle, "html") == "`<i>x</i>`{=html}"
    assert inline_value_for(bundle, "pdf") == "*x*"
    assert inline_markdown({"text/plain": "'x'", "text/markdown": "*x*"}) == "*x*"
    assert inline_markdown({"text/plain": "'x'", "text/html": "<i>x</i>"}) == (
        '[`<i>x</i>`{=html}]{.content-visible when-format="html"}[x]{.content-hidden when-format="html"}')


def test_inline_values_render_as_quarto_inserts_them(tmp_path):
    """A str is its escaped repr (no-break space as ``\\xa0``, Markdown as literal asterisks); a value with a
    text/markdown representation is Markdown; a number is its repr; HTML only in the HTML."""
    assert main([str(FIXTURES / "inline.qmd"), "--quarto", "never", "--output-dir", str(tmp_path)]) == 0
    html = (tmp_path / "inline.html").read_text(encoding="utf-8")

    def span(ident: str) -> str:
        return html.split(f'<span id="{ident}">', 1)[1].split("</span>", 1)[0]

    assert span("plain-nbsp") == "1\\\\xa0296"
    assert span("plain-emphasis") == "*high risk*"
    assert span("plain-quote") == "it’s"
    assert span("markdown-object") == f"<strong>bold</strong> 1{NBSP}296"
    assert span("md-string") == "<em>high risk</em>"
    assert span("int") == "412" and span("numpy-float") == "np.float64(0.5)"
    assert "<b>html</b>" in span("html-object")
    typ = (tmp_path / "_render" / "inline.typ").read_text(encoding="utf-8")
    assert "#emph[high risk]" in typ and "\\*high risk\\*" in typ and "<b>" not in typ


# ---------------------------------------------------------------------------------------------
# project: render: the documents rendered when none is named
# ---------------------------------------------------------------------------------------------


def _render_project(tmp_path: Path, render: str) -> Path:
    (tmp_path / "_quarto.yml").write_text(f"project:\n  type: default\n{render}", encoding="utf-8")
    for name in ("a.qmd", "b.qmd", "notes/c.qmd", "_draft.qmd"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(f"# {name}\n", encoding="utf-8")
    return tmp_path


def test_render_targets_from_the_project(tmp_path, monkeypatch):
    project = _render_project(tmp_path, "  render:\n    - b.qmd\n    - notes/*.qmd\n    - a.qmd\n    - '!notes/c.qmd'\n")
    monkeypatch.chdir(project / "notes")  # Quarto finds the project in a parent folder too
    assert project_render_targets(Path.cwd()) == [project / "b.qmd", project / "a.qmd"]
    monkeypatch.chdir(project)  # inside the working folder: relative paths, as the messages show them
    assert project_render_targets(Path.cwd()) == [Path("b.qmd"), Path("a.qmd")]


def test_render_without_files_renders_the_projects_list(tmp_path, monkeypatch, capsys):
    project = _render_project(tmp_path, "  render: [b.qmd]\n")
    monkeypatch.chdir(project)
    assert main(["--to", "html", "--quarto", "never"]) == 0
    assert (project / "b.html").is_file() and not (project / "a.html").exists()


@pytest.mark.parametrize("render, message", [
    ("", "lists none in project: render:"),
    ("  render: [missing.qmd]\n", "project: render: missing.qmd: no such file"),
])
def test_render_without_files_and_without_a_list_is_one_line(tmp_path, monkeypatch, capsys, render, message):
    monkeypatch.chdir(_render_project(tmp_path, render))
    assert main(["--quarto", "never"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_the_repository_names_its_two_documents():
    root = Path(__file__).resolve().parents[2]
    targets = [p.resolve() for p in project_render_targets(root)]
    assert targets == [root / "report.qmd", root / "brief.qmd"]


# ---------------------------------------------------------------------------------------------
# Layout (tests/render/fixtures/layout.qmd): contents page, tables kept together, floats, headers, HTML panel
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    out = tmp_path_factory.mktemp("layout")
    assert main([str(FIXTURES / "layout.qmd"), "--quarto", "never", "--output-dir", str(out)]) == 0
    pages = subprocess.run(["pdftotext", "-enc", "UTF-8", "-layout", str(out / "layout.pdf"), "-"], capture_output=True,
                           text=True, encoding="utf-8", check=True).stdout.split("\f")
    return out, [norm(p) for p in pages if p.strip()]


def _page_of(pages: list[str], pattern: str) -> int:
    hits = [i + 1 for i, page in enumerate(pages) if re.search(pattern, page)]
    assert hits, f"{pattern!r} is on no page"
    return hits[0]


def test_contents_page_after_the_title(layout):
    _out, pages = layout
    assert "Table of contents" in pages[0] and "Long tables at every height" in pages[0]
    assert re.search(r"Headers \. \.[^\d\n]*\d+", pages[0])       # entry, dot leaders, page number
    assert _page_of(pages, r"Small table 1 caption") == 2          # the text starts on the next page


def test_small_tables_are_never_split_from_their_caption(layout):
    _out, pages = layout
    split = [k for k in range(1, 31) if len({_page_of(pages, rf"Small table {k} caption"),
                                              _page_of(pages, rf"\bT{k}R1\b"), _page_of(pages, rf"\bT{k}R6\b")}) > 1]
    assert not split, f"small tables split from their caption or across pages: {split}"


def test_long_tables_break_with_the_caption_on_their_first_rows(layout):
    _out, pages = layout
    orphaned, broken = [], 0
    for k in range(1, 31):
        first, last = _page_of(pages, rf"\bL{k}R1\b"), _page_of(pages, rf"\bL{k}R30\b")
        if _page_of(pages, rf"Long table {k} caption") != first:
            orphaned.append(k)
        broken += last > first
        for page in range(first + 1, last + 1):                    # the header row repeats
            assert re.search(r"Row\s+Value", pages[page - 1]), (k, page)
    assert not orphaned, f"captions left on the page before their table: {orphaned}"
    assert broken >= 3                                             # tables of a third of a page do break


def test_header_words_are_not_hyphenated(layout):
    _out, pages = layout
    text = " ".join(pages)
    assert "Understandably" in text and "Incomprehensibilities" in text


def test_a_figure_that_does_not_fit_floats_and_the_text_goes_on(layout):
    out, pages = layout
    marker = _page_of(pages, r"Marker after the figure")
    assert marker < _page_of(pages, r"Figure 1: A tall figure caption")
    # the page the figure did not fit on is full: its last line of text near the bottom margin
    bbox = subprocess.run(["pdftotext", "-bbox-layout", "-f", str(marker), "-l", str(marker), str(out / "layout.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    height = float(re.search(r'<page width="[\d.]+" height="([\d.]+)"', bbox).group(1))
    lines = [float(y) for y in re.findall(r'<line xMin="[\d.]+" yMin="[\d.]+" xMax="[\d.]+" yMax="([\d.]+)"', bbox)]
    body = [y for y in lines if y < height - 2 * 28.35 * 0.9]     # leave out the page number in the footer
    assert max(body) > 0.85 * height


def test_html_contents_side_panel_figures_svg_and_table_cards(layout):
    out, _pages = layout
    html = (out / "layout.html").read_text(encoding="utf-8")
    assert '<div class="page-layout has-toc">' in html
    assert re.search(r'<nav id="TOC" role="doc-toc"[^>]*>\s*<details id="toc-details" open>', html)
    assert html.index('id="title-block-header"') < html.index('id="TOC"') < html.index("<main")
    assert "data:image/svg+xml;base64," in html                    # fig-format: svg, vector in the HTML
    assert 'class="table-scroll table-stack"' in html and 'data-label="Value"' in html


@pytest.mark.parametrize("width, folded", [(390, True), (1400, False)])
def test_html_contents_fold_on_a_phone(layout, width, folded):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        pytest.skip("no Chromium to load the page")
    out, _pages = layout
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--no-first-run", f"--window-size={width},900", "--dump-dom",
                          (out / "layout.html").as_uri()], capture_output=True, text=True, timeout=120).stdout
    details = re.search(r'<details id="toc-details"[^>]*>', dom)
    assert details, dom[:500]
    assert ("open" not in details.group(0)) is folded
