"""patsy designs of complete data, without patsy's value-by-value missing-value scan.

patsy checks every value of every factor for missing values (``NAAction``), in Python for categorical factors and
through pandas' ufunc machinery for numeric ones; in the cross-validation, where thousands of designs of a
thousand rows are built, that scan cost more than the fits. These helpers check the data frame once for missing
values (and raise, naming the columns, where patsy would silently drop rows) and build the design with the scan
switched off, so the design is the one patsy builds for complete data (a test checks it, bit for bit).

Functions
---------
design_dataframe
    ``patsy.dmatrix(formula, data, return_type="dataframe")`` of complete data.
build_design
    ``patsy.build_design_matrices([design_info], data)[0]`` of complete data, as a float array.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy

__all__ = ["design_dataframe", "build_design", "check_complete"]

#: no value is treated as missing: the frame was checked by :func:`check_complete`
_NO_NA = patsy.NAAction(NA_types=[])


def check_complete(data: pd.DataFrame, name: str = "X") -> None:
    """``ValueError`` naming the columns of ``data`` that hold missing values (patsy would drop those rows)."""
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(data).__name__}")
    missing = data.columns[data.isna().to_numpy().any(axis=0)]
    if len(missing):
        raise ValueError(f"{name} has missing values in column(s) {[str(c) for c in missing]!r}; "
                         "drop or impute them first")


def _python_strings(data: pd.DataFrame) -> pd.DataFrame:
    """Text columns as Python objects: patsy reads categorical values one by one, and pandas' arrow-backed
    strings are several times slower to iterate than an object array (the levels are the same)."""
    text = [c for c in data.columns if pd.api.types.is_string_dtype(data[c].dtype) and data[c].dtype != object]
    return data.astype({c: object for c in text}) if text else data


def design_dataframe(formula: str, data: pd.DataFrame, name: str = "X") -> pd.DataFrame:
    """The design of a right-hand side ``formula`` on complete ``data`` (a DataFrame with ``design_info``)."""
    check_complete(data, name)
    return patsy.dmatrix(formula, _python_strings(data), return_type="dataframe", NA_action=_NO_NA)


def build_design(design_info, data: pd.DataFrame, name: str = "X") -> np.ndarray:
    """The design of new complete rows ``data`` with a learned ``design_info`` (levels, knots), as floats."""
    check_complete(data, name)
    return np.asarray(patsy.build_design_matrices([design_info], _python_strings(data), NA_action=_NO_NA)[0],
                      dtype=float)
