"""stats.design: complete-data designs equal patsy's, and the missing-value errors exactly (issue 10, item 6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
import pytest

from stats.design import build_design, check_complete, design_dataframe


def _frame(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=n), "k": rng.integers(0, 4, n),
                         "g": pd.array(rng.choice(["p", "q", "r"], n), dtype="str")})


def test_missing_values_and_non_frames_raise_the_exact_messages():
    frame = _frame()
    gap = frame.copy()
    gap.loc[2, "g"] = None
    gap.loc[5, "k"] = None
    message = r"^X has missing values in column\(s\) \['k', 'g'\]; drop or impute them first$"
    with pytest.raises(ValueError, match=message):
        check_complete(gap)
    with pytest.raises(ValueError, match=message):
        design_dataframe("a + C(g)", gap)
    info = design_dataframe("a + C(g)", frame).design_info
    with pytest.raises(ValueError, match=message):
        build_design(info, gap)
    with pytest.raises(ValueError, match=message.replace("^X", "^rows")):
        build_design(info, gap, name="rows")
    with pytest.raises(ValueError, match=message.replace("^X", "^train")):
        design_dataframe("a + C(g)", gap, name="train")
    with pytest.raises(ValueError, match=r"^X must be a pandas DataFrame, got ndarray$"):
        check_complete(frame.to_numpy())
    with pytest.raises(ValueError, match=r"^new must be a pandas DataFrame, got dict$"):
        check_complete({"a": [1.0]}, name="new")
    # only the columns with a gap are named; a complete frame passes silently
    wide = frame.assign(b=1.0)
    wide.loc[0, "b"] = np.nan
    with pytest.raises(ValueError, match=r"column\(s\) \['b'\];"):
        check_complete(wide)
    assert check_complete(frame) is None


def test_designs_of_text_integer_and_object_columns_equal_patsy_as_floats():
    frame = _frame(80, seed=1)
    formula = "a + C(k) + C(g, Treatment('q')) + a:C(g)"
    ours = design_dataframe(formula, frame)
    reference = patsy.dmatrix(formula, frame.astype({"g": object}), return_type="dataframe")
    assert isinstance(ours, pd.DataFrame) and list(ours.columns) == list(reference.columns)
    np.testing.assert_array_equal(ours.to_numpy(), reference.to_numpy())
    new = _frame(15, seed=2)
    built = build_design(ours.design_info, new)
    assert isinstance(built, np.ndarray) and built.dtype == np.float64
    np.testing.assert_array_equal(built, np.asarray(patsy.build_design_matrices([reference.design_info],
                                                                               new.astype({"g": object}))[0]))
    # the caller's frame keeps its dtypes
    assert str(new["g"].dtype) == "str" and str(frame["g"].dtype) == "str"
