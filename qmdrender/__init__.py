"""qmdrender: render a Quarto document to HTML and PDF, with Quarto when installed, else a fallback.

Generic: it knows nothing about the project that uses it. See ``qmdrender/README.md`` for the supported
Quarto subset; ``python -m qmdrender report.qmd`` is the command line.
"""

from qmdrender.core import RenderError, load_document, main, parse_qmd, parse_yaml, render

__all__ = ["RenderError", "load_document", "main", "parse_qmd", "parse_yaml", "render"]
