"""``python -m analysis.render report.qmd``: the old name of ``python -m qmdrender`` (the renderer moved out)."""

import sys

from qmdrender.core import main

if __name__ == "__main__":
    sys.exit(main())
