"""References: report.qmd cites the works of references.bib, and the rendered documents list them.

Quarto reads ``bibliography:`` for HTML with Pandoc's citeproc and for Typst with Typst's own bibliography, so
the .bib must parse for both; the fallback uses citeproc for both outputs (``qmdrender.pandoc.citation_args``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path


from analysis.report import labels
from qmdrender.core import main
from qmdrender.pandoc import pandoc_args
from qmdrender.parse import parse_qmd

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parents[1] / "render" / "fixtures"
CROSSREF = re.compile(r"^(fig|tbl|sec|eq|lst|thm|lem|cor|prp|cnj|def|exm|exr)-", re.I)


def bib_keys(path: Path) -> list[str]:
    return re.findall(r"^@\w+\{([^,\s]+),", path.read_text(encoding="utf-8"), flags=re.M)


def cited_keys(text: str) -> set[str]:
    """Citation keys of Markdown (``@key``, ``[@key]``, ``-@key``), cross-references left out."""
    keys = re.findall(r"(?<![\w.])-?@([A-Za-z][\w]*(?:[-:.][\w]+)*)", text)
    return {k for k in keys if not CROSSREF.match(k)}


def test_every_citation_is_in_the_bibliography_and_every_entry_is_cited():
    text = (ROOT / "report.qmd").read_text(encoding="utf-8")
    assert re.search(r"^bibliography: references\.bib$", text, flags=re.M)
    cited = cited_keys(text) | cited_keys(" ".join(labels.METHOD_CITATIONS.values()))
    keys = bib_keys(ROOT / "references.bib")
    assert len(keys) == len(set(keys)), "duplicate keys"
    assert cited - set(keys) == set(), "cited but not in references.bib"
    assert set(keys) - cited == set(), "in references.bib but never cited"
    assert {"konis2007", "nadeau2003", "holm1979", "hosmer1980", "baak2020", "fox1992", "wood2017"} <= cited


def test_the_bibliography_parses_for_typst_as_quarto_uses_it(tmp_path):
    """Quarto's Typst output hands references.bib to Typst's bibliography(): it must read every entry."""
    import typst

    shutil.copy(ROOT / "references.bib", tmp_path / "references.bib")
    keys = bib_keys(ROOT / "references.bib")
    (tmp_path / "doc.typ").write_text(" ".join(f"@{k}" for k in keys) + '\n#bibliography("references.bib")\n',
                                      encoding="utf-8")
    typst.compile(str(tmp_path / "doc.typ"), output=str(tmp_path / "doc.pdf"))
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(tmp_path / "doc.pdf"), "-"], capture_output=True, text=True).stdout
        assert "Konis" in text and "Nadeau" in text


def test_citations_and_reference_list_in_html_and_pdf(tmp_path):
    assert main([str(FIXTURES / "cite.qmd"), "--quarto", "never", "--output-dir", str(tmp_path)]) == 0
    html = (tmp_path / "cite.html").read_text(encoding="utf-8")
    assert '<span class="citation" data-cites="holm1979">(Holm 1979)</span>' in html
    assert '<span class="citation" data-cites="holm1979">Holm (1979)</span>' in html
    assert '<a href="#fig-dot" class="quarto-xref">Figure' in html          # a cross-reference beside a citation
    assert '<h1 class="unnumbered">References</h1>' in html and 'id="refs"' in html
    assert "A Simple Sequentially Rejective Multiple Test Procedure" in html and "@holm1979" not in html
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(tmp_path / "cite.pdf"), "-"], capture_output=True, text=True).stdout
        assert "(Holm 1979)" in text and "References" in text and "Scandinavian Journal of Statistics" in text


def test_without_a_bibliography_citations_stay_text(tmp_path):
    qmd = tmp_path / "plain.qmd"
    qmd.write_text("As @someone says [@other, p. 3].\n", encoding="utf-8")
    assert main([str(qmd), "--to", "html", "--quarto", "never"]) == 0
    html = (tmp_path / "plain.html").read_text(encoding="utf-8")
    assert "<p>As @someone says [@other, p. 3].</p>" in html
    assert "References" not in html


def test_a_missing_bibliography_is_one_line(tmp_path, capsys):
    qmd = tmp_path / "doc.qmd"
    qmd.write_text("---\nbibliography: nowhere.bib\n---\nText [@x].\n", encoding="utf-8")
    assert main([str(qmd), "--to", "html", "--quarto", "never"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nowhere.bib not found" in err[0]


def test_pandoc_options_are_quartos():
    """No --columns (Quarto keeps Pandoc's 72, so long pipe tables get relative widths) and --wrap=none."""
    doc = parse_qmd("---\ntitle: x\n---\n", ROOT / "x.qmd")
    for fmt in ("html", "pdf"):
        args = pandoc_args(doc, fmt)
        assert not any(a.startswith("--columns") for a in args) and "--wrap=none" in args
