"""Generic statistics toolkit: logits, margins, calibration, diagnostics, CV, groups.

Every function takes plain DataFrames/arrays and returns tidy pandas objects
with documented snake_case columns; nothing here knows about the application.
Submodules are imported lazily by the caller, e.g. ``from stats.logit import fit_logit``.
"""

__all__ = [
    "bootstrap",
    "calibration",
    "collinearity",
    "correlation",
    "counts",
    "crossval",
    "design",
    "diagnostics",
    "drift",
    "experiments",
    "floor_logit",
    "gam",
    "groups",
    "link_margins",
    "logit",
    "margins",
]
