"""Tests of stats.correlation against phik's own functions."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import phik  # noqa: F401  (registers the DataFrame accessor)
import pytest
from phik.statistics import get_chi2_using_dependent_frequency_estimates

from stats.correlation import _g_statistics, phik_matrix, phik_with_target


def make_frame(n=1300, seed=1):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({f"num{i}": rng.normal(size=n) * (1 + i) for i in range(10)})
    df["count1"] = rng.poisson(3, n)
    df["count2"] = rng.poisson(8, n)
    df["cat1"] = rng.choice(["low", "mid", "high"], n)
    df["cat2"] = rng.choice(["a", "b"], n)
    df["cat3"] = rng.choice(list("pqrst"), n)
    df["bin1"] = rng.integers(0, 2, n)
    df["bin2"] = rng.integers(0, 2, n)
    eta = 0.5 * df.num0 - 0.15 * df.num1 + 0.7 * (df.cat1 == "low") + 0.2 * df.count1 - 0.6
    df["target"] = np.where(rng.uniform(size=n) < 1 / (1 + np.exp(-eta)), "decline", "stable")
    return df


INTERVAL = [f"num{i}" for i in range(10)] + ["count1", "count2"]


@pytest.fixture(scope="module")
def frame():
    return make_frame()


def test_phik_matrix_matches_phik(frame):
    small = frame[["num0", "num1", "cat1", "bin1", "target"]]
    mine = phik_matrix(small, interval_cols=["num0", "num1"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = small.astype({"cat1": object, "target": object}).phik_matrix(
            interval_cols=["num0", "num1"], verbose=False
        )
    assert list(mine.index) == list(mine.columns) == list(small.columns)
    np.testing.assert_allclose(mine.to_numpy(), ref.loc[small.columns, small.columns].to_numpy(), atol=1e-12)
    np.testing.assert_allclose(np.diag(mine), 1.0)
    with pytest.raises(ValueError, match="nope"):
        phik_matrix(small, interval_cols=["nope"])


def test_phik_with_target_values_and_speed(frame):
    start = time.perf_counter()
    out = phik_with_target(frame, "target", INTERVAL, seed=7, n_simulations=1000)
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0  # the full phik significance matrix takes ~100 s here
    assert list(out.columns) == ["variable", "phik", "p_value", "significance_z"]
    assert out["variable"].tolist() == [c for c in frame.columns if c != "target"]
    mat = phik_matrix(frame, INTERVAL)
    np.testing.assert_allclose(out["phik"], mat.loc[out["variable"], "target"], atol=1e-12)
    assert out["p_value"].between(0, 1).all()
    res = out.set_index("variable")
    assert res.loc["num0", "p_value"] < 1e-6 and res.loc["cat1", "p_value"] < 0.05
    assert res.loc["num9", "p_value"] > 0.01
    again = phik_with_target(frame, "target", INTERVAL, seed=7, n_simulations=1000)
    pd.testing.assert_frame_equal(out, again)


def test_asymptotic_significance_equals_phik(frame):
    out = phik_with_target(frame, "target", INTERVAL, significance_method="asymptotic").set_index("variable")
    for var in ("num0", "num3", "cat1", "cat3", "bin1"):
        x = frame[var].to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p, z = phik.significance.significance_from_array(
                x if var in INTERVAL else x.astype(object),
                frame["target"].to_numpy(dtype=object),
                num_vars=["x"] if var in INTERVAL else None,
                significance_method="asymptotic",
                njobs=1,
            )
        assert out.loc[var, "p_value"] == pytest.approx(p, rel=1e-10)
        assert out.loc[var, "significance_z"] == pytest.approx(z, rel=1e-10)


def test_hybrid_significance_close_to_phik_simulation(frame):
    out = phik_with_target(frame, "target", INTERVAL, seed=3).set_index("variable")
    for var in ("num3", "cat3", "bin1"):
        x = frame[var].to_numpy()
        np.random.seed(11)  # phik simulates with the global numpy state
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p, z = phik.significance.significance_from_array(
                x if var in INTERVAL else x.astype(object),
                frame["target"].to_numpy(dtype=object),
                num_vars=["x"] if var in INTERVAL else None,
                njobs=1,
            )
        assert out.loc[var, "significance_z"] == pytest.approx(z, abs=0.15)


def test_vectorised_g_statistic_equals_scipy():
    rng = np.random.default_rng(0)
    for shape in [(2, 2), (5, 2), (3, 4), (10, 2)]:
        tables = rng.poisson(2, size=(100,) + shape)
        mine = _g_statistics(tables)
        ref = []
        for t in tables:
            if (t.sum(1) > 0).sum() > 1 and (t.sum(0) > 0).sum() > 1:
                ref.append(get_chi2_using_dependent_frequency_estimates(t, "log-likelihood"))
            else:
                ref.append(0.0)
        np.testing.assert_allclose(mine, ref, atol=1e-10)


def test_bad_options(frame):
    with pytest.raises(ValueError, match="bogus"):
        phik_with_target(frame, "target", INTERVAL, significance_method="bogus")
    with pytest.raises(ValueError, match="tgt"):
        phik_with_target(frame, "tgt", INTERVAL)
