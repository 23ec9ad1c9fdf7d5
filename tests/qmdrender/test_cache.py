"""qmdrender's execution cache (qmdrender/cache.py, qmdrender/_trace.py) on a small project of its own.

Each test writes a tiny Quarto project into a temporary folder (a document, a module it imports, a data file it
reads, a folder it lists, an environment variable it reads) and renders it in-process; whether the kernel ran
is ``info["cached"]`` (and the note says why it ran). Each render that executes starts a Jupyter kernel (about
a second).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from qmdrender import cache
from qmdrender.core import main, render
from qmdrender.errors import RenderError

DOC = """\
---
title: "Cache fixture"
execute:
  echo: false
---

## Data

```{python}
#| label: setup
import os
import helper

value = open("data.txt", encoding="utf-8").read().strip()
names = sorted(os.listdir("inputs"))
flavour = os.environ.get("CACHE_FIXTURE_FLAVOUR", "plain")
print(f"read {len(value)} characters")
```

The value is `{python} value`, the helper says `{python} helper.GREETING` and the inputs are
`{python} ", ".join(names)` (`{python} flavour`).

```{python}
#| label: fig-line
#| fig-cap: "A line"
#| fig-alt: "A rising line"
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(3, 2))
ax.plot([1, 2, 3], [1, 3, 2])
plt.show()
```

A closing sentence of prose.
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The fixture project; returns the path of its document."""
    (tmp_path / "_quarto.yml").write_text("project:\n  type: default\n", encoding="utf-8")
    (tmp_path / "helper.py").write_text('GREETING = "hello"\n', encoding="utf-8")
    (tmp_path / "data.txt").write_text("forty-two\n", encoding="utf-8")
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "a.csv").write_text("x\n1\n", encoding="utf-8")
    qmd = tmp_path / "doc.qmd"
    qmd.write_text(DOC, encoding="utf-8")
    return qmd


def _render(qmd: Path, *, targets=("html",), use_cache: bool = True) -> dict:
    return render(qmd, list(targets), use_cache=use_cache, log=lambda msg: None)


def _html(qmd: Path) -> str:
    return qmd.with_suffix(".html").read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def _no_fixture_variable(monkeypatch):
    monkeypatch.setenv("CACHE_FIXTURE_FLAVOUR", "")  # registers the variable, so that teardown restores it
    monkeypatch.delenv("CACHE_FIXTURE_FLAVOUR")


def test_typical_cached_render_gives_byte_identical_markdown(project):
    first = _render(project, targets=("html", "pdf"))
    assert not first["cached"] and first["cache_note"] == "no cached execution"
    markdown = first["markdown"].read_bytes()
    images = {p.name: p.read_bytes() for p in (project.parent / "_render" / "doc_files").iterdir()}
    assert "fig-line.png" in images
    # the inline values in the Markdown as Quarto inserts a str: escaped (a\.csv), so read the sentence in the HTML
    assert "The value is forty-two, the helper says hello and the inputs are a.csv (plain)." in _html(project)

    again = _render(project, targets=("html", "pdf"))
    assert again["cached"] and again["kernel_seconds"] == 0
    assert again["markdown"].read_bytes() == markdown
    assert {p.name: p.read_bytes() for p in (project.parent / "_render" / "doc_files").iterdir()} == images
    assert (project.parent / "doc.pdf").read_bytes()[:5] == b"%PDF-"

    fresh = _render(project, targets=("html", "pdf"), use_cache=False)
    assert not fresh["cached"] and fresh["cache_note"] == "--no-cache"
    assert fresh["markdown"].read_bytes() == markdown


def test_prose_edit_hits_the_cache(project):
    _render(project)
    project.write_text(DOC.replace("A closing sentence of prose.", "A reworded closing sentence."), encoding="utf-8")
    info = _render(project)
    assert info["cached"]
    html = _html(project)
    assert "A reworded closing sentence." in html and "The value is forty-two" in html


def _edit_chunk(qmd: Path, monkeypatch) -> None:
    qmd.write_text(DOC.replace('print(f"read {len(value)} characters")', 'print(f"read {len(value)} chars")'),
                   encoding="utf-8")


def _edit_chunk_option(qmd: Path, monkeypatch) -> None:
    qmd.write_text(DOC.replace('#| label: setup\n', '#| label: setup\n#| echo: true\n'), encoding="utf-8")


def _edit_inline(qmd: Path, monkeypatch) -> None:
    qmd.write_text(DOC.replace("`{python} value`", "`{python} value.upper()`"), encoding="utf-8")


def _move_inline(qmd: Path, monkeypatch) -> None:
    """The same expression, now after the figure chunk: it runs at another point of the execution."""
    qmd.write_text(DOC.replace(" (`{python} flavour`).", ".").replace(
        "A closing sentence of prose.", "A closing sentence of prose (`{python} flavour`)."), encoding="utf-8")


def _edit_data(qmd: Path, monkeypatch) -> None:
    (qmd.parent / "data.txt").write_text("forty-three\n", encoding="utf-8")


def _edit_module(qmd: Path, monkeypatch) -> None:
    (qmd.parent / "helper.py").write_text('GREETING = "bonjour"\n', encoding="utf-8")


def _add_listed_file(qmd: Path, monkeypatch) -> None:
    (qmd.parent / "inputs" / "b.csv").write_text("x\n2\n", encoding="utf-8")


def _set_variable(qmd: Path, monkeypatch) -> None:
    monkeypatch.setenv("CACHE_FIXTURE_FLAVOUR", "spicy")


@pytest.mark.parametrize("edit, note, shown", [
    (_edit_chunk, "the code, the renderer or the environment changed", "read 9 chars"),
    (_edit_chunk_option, "the code, the renderer or the environment changed", 'class="sourceCode python cell-code"'),
    (_edit_inline, "the code, the renderer or the environment changed", "The value is FORTY-TWO"),
    (_move_inline, "the code, the renderer or the environment changed", "A closing sentence of prose (plain)."),
    (_edit_data, "input file {dir}/data.txt changed", "The value is forty-three"),
    (_edit_module, "module {dir}/helper.py changed", "the helper says bonjour"),
    (_add_listed_file, "the listing of {dir}/inputs changed", "the inputs are a.csv, b.csv"),
    (_set_variable, "environment variable CACHE_FIXTURE_FLAVOUR changed", "(spicy)"),
], ids=["chunk", "chunk-option", "inline", "inline-moved", "input-file", "module", "listed-folder", "env-var"])
def test_a_change_the_execution_depends_on_misses_the_cache(project, monkeypatch, edit, note, shown):
    _render(project)
    assert _render(project)["cached"]
    edit(project, monkeypatch)
    info = _render(project)
    assert not info["cached"]
    assert info["cache_note"] == note.format(dir=project.parent)
    assert shown in _html(project)
    assert _render(project)["cached"]  # the fresh execution replaced the entry


def test_a_changed_interpreter_or_distribution_misses(project, monkeypatch):
    _render(project)
    installed = cache._installed_distributions()
    monkeypatch.setattr(cache, "_installed_distributions", lambda: [*installed, "newpackage-1.0.dist-info"])
    info = _render(project)
    assert not info["cached"] and info["cache_note"] == "the code, the renderer or the environment changed"


def test_no_cache_flag_re_executes(project, capsys):
    assert main([str(project), "--to", "html", "--quarto", "never"]) == 0
    assert main([str(project), "--to", "html", "--quarto", "never"]) == 0
    assert "outputs from the execution cache" in capsys.readouterr().out
    assert main([str(project), "--to", "html", "--quarto", "never", "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "kernel " in out and "--no-cache" in out and "execution cache" not in out


def test_a_failed_execution_is_not_stored(project):
    project.write_text(DOC.replace("import helper\n", "import helper\nraise RuntimeError('boom')\n"), encoding="utf-8")
    with pytest.raises(RenderError, match="boom"):
        _render(project)
    assert not (project.parent / "_render" / "cache" / "doc.json").exists()


def test_processes_and_files_written_by_chunks(tmp_path):
    """A chunk that starts a process is never cached; a file a chunk writes must still be there as written."""
    (tmp_path / "_quarto.yml").write_text("project:\n  type: default\n", encoding="utf-8")
    qmd = tmp_path / "side.qmd"
    qmd.write_text(textwrap.dedent("""\
        ```{python}
        import subprocess, sys
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        ```
        Done.
        """), encoding="utf-8")
    first = _render(qmd)
    assert first["cache_note"] == "not cached: the chunks started a process"
    assert not _render(qmd)["cached"]

    qmd.write_text('```{python}\nopen("out.txt", "w").write("made")\n```\nDone.\n', encoding="utf-8")
    _render(qmd)
    assert _render(qmd)["cached"]
    (tmp_path / "out.txt").unlink()
    info = _render(qmd)
    assert not info["cached"] and info["cache_note"] == f"file written by the chunks {tmp_path}/out.txt missing"
    assert (tmp_path / "out.txt").read_text() == "made"


def test_documents_rendered_together_keep_their_images_apart(tmp_path, capsys):
    """Two documents, one call: one pre-render for both, each with its own image folder and cache entry."""
    (tmp_path / "_quarto.yml").write_text("project:\n  type: default\n  pre-render: record.py\n", encoding="utf-8")
    (tmp_path / "record.py").write_text(
        "import os, pathlib\npathlib.Path('inputs.txt').write_text(os.environ['QUARTO_PROJECT_INPUT_FILES'])\n",
        encoding="utf-8")
    chunk = ('```{{python}}\n#| label: fig-same\n#| fig-cap: "{0}"\nimport matplotlib.pyplot as plt\n'
             'plt.figure(figsize=(2, 1)); plt.title("{0}"); plt.show()\n```\n')
    one, two = tmp_path / "one.qmd", tmp_path / "two.qmd"
    one.write_text(chunk.format("first"), encoding="utf-8")
    two.write_text(chunk.format("second"), encoding="utf-8")
    assert main([str(one), str(two), "--to", "html", "--quarto", "never"]) == 0
    out, err = capsys.readouterr()
    assert err.count("pre-render:") == 1
    assert (tmp_path / "inputs.txt").read_text().splitlines() == ["one.qmd", "two.qmd"]
    first = (tmp_path / "_render" / "one_files" / "fig-same.png").read_bytes()
    second = (tmp_path / "_render" / "two_files" / "fig-same.png").read_bytes()
    assert first != second
    assert "rendered 2 documents" in out
    assert sorted(p.name for p in (tmp_path / "_render" / "cache").iterdir()) == ["one.json", "two.json"]
