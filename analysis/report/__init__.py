"""The presentation wing: everything ``report.qmd`` shows, read from the results bundle only.

Modules by job: :mod:`~analysis.results.registry` (the registry of result tables, writing and loading),
:mod:`~analysis.report.labels` (every display label), :mod:`~analysis.report.formats` (numbers and Markdown),
:mod:`~analysis.report.tables`, :mod:`~analysis.report.figures` and :mod:`~analysis.report.text` (headline and
short sentences). It imports no stage module (model, benchmark, segments, features, specification, scoring):
every statistic it shows is computed by ``python -m analysis run`` and written to ``results/``.

``from analysis import report as R`` gives the whole public surface (``R.load_results``, ``R.md``,
``R.coefficient_table``, ``R.fig_ame``, ...).
"""

from analysis.report.figures import *  # noqa: F401,F403
from analysis.report.formats import *  # noqa: F401,F403
from analysis.report.labels import *  # noqa: F401,F403
from analysis.results.registry import *  # noqa: F401,F403
from analysis.report.tables import *  # noqa: F401,F403
from analysis.report.text import *  # noqa: F401,F403
