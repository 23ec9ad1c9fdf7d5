"""qmdrender: render a Quarto document to HTML and PDF, with Quarto when installed, else a fallback.

Generic: it knows nothing about the project that uses it. See ``qmdrender/README.md`` for the supported
Quarto subset and the modules; ``python -m qmdrender report.qmd`` is the command line.
"""

from qmdrender.config import parse_yaml
from qmdrender.core import main, render
from qmdrender.errors import RenderError
from qmdrender.parse import load_document, parse_qmd

__all__ = ["RenderError", "load_document", "main", "parse_qmd", "parse_yaml", "render"]
