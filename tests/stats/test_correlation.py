"""Tests of stats.correlation against phik's own functions.
"""

from __future__ import annotations

import time
import warnings
import numpy as np
import pandas as pd
import phik  # noqa: F401  (registers the DataFrame accessor)
import pytest
from phik.statistics import get_chi2_using_dependent_frequency_estimates
import re
from scipy import stats as sps
from scipy.special import expit  # noqa: E402
from scipy.stats.contingency import chi2_contingency  # noqa: E402
from stats.correlation import _g_statistics, phik_matrix, phik_with_target  # noqa: E402


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


# ---------------------------------------------------------------------------------------------------------
# test_mutation_stats4.py: Tests written from the mutation runs of stats/_common.py, diagnostics.py, correlation.py and logit.py
# ---------------------------------------------------------------------------------------------------------
def _raises_exactly(message, func, *args, **kwargs):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        func(*args, **kwargs)


def _g_reference(table):
    """G statistic of the table without its empty rows/columns (Yates on 2 x 2), 0 below two rows/columns."""
    t = np.asarray(table, dtype=float)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    if min(t.shape) < 2:
        return 0.0
    return float(chi2_contingency(t, correction=True, lambda_="log-likelihood")[0])


def test_g_statistics_empty_rows_columns_and_exact_independence():
    tables = [
        [[5, 3], [0, 0], [2, 7]],  # 2 x 2 once the empty row is dropped: Yates applies
        [[5, 0, 3], [2, 0, 7]],  # the same with an empty column
        [[5, 3], [0, 0]],  # a single non-empty row
        [[4, 0], [6, 0]],  # a single non-empty column
        [[3, 3], [3, 3]],  # observed = expected: the Yates shift is 0
        [[6, 0], [1, 5]],  # a zero cell
    ]
    expected = [_g_reference(t) for t in tables]
    assert expected[2] == expected[3] == 0.0 and expected[4] == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for t, e in zip(tables, expected):
            assert _g_statistics(np.array(t)[None])[0] == pytest.approx(e, abs=1e-12)


@pytest.fixture(scope="module")
def small_frame():
    rng = np.random.default_rng(21)
    n = 600
    df = pd.DataFrame({"x": rng.normal(size=n), "visits": rng.poisson(2, n), "grp": rng.choice(list("abc"), n)})
    eta = 0.8 * df.x + 0.4 * (df.visits - 2) + 0.5 * (df.grp == "a")
    df["y"] = np.where(rng.uniform(size=n) < expit(eta), "yes", "no")
    df.loc[::17, "x"] = np.nan  # missing values are dropped pairwise
    df["const"] = "k"
    return df


def test_phik_with_target_counts_as_categorical_missing_and_no_noise_correction(small_frame):
    df = small_frame
    # "visits" is numeric but not listed as interval: binned by value, as phik_matrix does
    for correction in (True, False):
        out = phik_with_target(df, "y", ["x"], bins=5, noise_correction=correction, n_simulations=50)
        mat = phik_matrix(df, ["x"], bins=5, noise_correction=correction)
        assert out["variable"].tolist() == ["x", "visits", "grp", "const"]
        np.testing.assert_allclose(out["phik"].iloc[:3], mat.loc[["x", "visits", "grp"], "y"], atol=1e-12)
        # a constant feature has no phi_K and no p value
        assert out.iloc[3, 1:].isna().all()
    with_c = phik_with_target(df, "y", ["x"], bins=5, n_simulations=50)["phik"]
    without = phik_with_target(df, "y", ["x"], bins=5, n_simulations=50, noise_correction=False)["phik"]
    assert (without.iloc[:3] > with_c.iloc[:3]).all()


def test_phik_with_target_defaults_and_mc_p_values(small_frame):
    df = small_frame[["x", "visits", "grp", "y"]]
    default = phik_with_target(df, "y", ["x"], bins=5)
    pd.testing.assert_frame_equal(default, phik_with_target(df, "y", ["x"], bins=5, seed=0, n_simulations=1000))
    assert not default.equals(phik_with_target(df, "y", ["x"], bins=5, seed=1))
    # MC: the p value is the simulated tail fraction, a multiple of 1 / n_simulations
    mc = phik_with_target(df, "y", ["x"], bins=5, n_simulations=200, significance_method="MC", seed=3)
    hyb = phik_with_target(df, "y", ["x"], bins=5, n_simulations=200, seed=3)
    k = mc["p_value"].to_numpy() * 200
    np.testing.assert_allclose(k, np.round(k), atol=1e-9)
    np.testing.assert_allclose(mc["significance_z"], -sps.norm.ppf(mc["p_value"]), rtol=1e-12)
    assert not np.allclose(mc["p_value"], hyb["p_value"])
    # a feature unrelated to y: MC, hybrid and asymptotic p values agree roughly
    rng = np.random.default_rng(8)
    noise = pd.DataFrame({"u": rng.choice(list("abcd"), 2000), "y": rng.choice(["yes", "no"], 2000)})
    p = {m: phik_with_target(noise, "y", [], significance_method=m, n_simulations=2000)["p_value"].iloc[0]
         for m in ("MC", "hybrid", "asymptotic")}
    assert abs(p["MC"] - p["asymptotic"]) < 0.05 and abs(p["hybrid"] - p["asymptotic"]) < 0.05


def test_phik_with_target_messages(small_frame):
    df = small_frame
    _raises_exactly("n_simulations must be an integer >= 10, got 9", phik_with_target, df, "y", ["x"],
                    n_simulations=9)
    assert len(phik_with_target(df, "y", ["x"], n_simulations=10, bins=2)) == 4
    _raises_exactly("bins must be an integer >= 2, got 1", phik_with_target, df, "y", ["x"], bins=1)
    _raises_exactly("bins must be an integer >= 2, got 1", phik_matrix, df, ["x"], bins=1)
    _raises_exactly(
        "significance_method must be one of ('hybrid', 'MC', 'asymptotic'), got 'mc'",
        phik_with_target, df, "y", ["x"], significance_method="mc",
    )
    for seed in (1.5, True, "3"):
        _raises_exactly(f"seed must be an integer, got {seed!r}", phik_with_target, df, "y", ["x"], seed=seed)
    assert len(phik_with_target(df, "y", ["x"], seed=np.int64(4), n_simulations=10)) == 4
    _raises_exactly("target 'z' is not a column of df", phik_with_target, df, "z", ["x"])
    _raises_exactly("interval_cols ['w'] are not columns of df", phik_with_target, df, "y", ["w"])
    _raises_exactly("interval_cols must be a list of column names, got the string 'x'", phik_matrix, df, "x")
    _raises_exactly("df must be a pandas DataFrame, got dict", phik_matrix, {"x": [1.0]}, [])


def test_phik_with_target_drops_missing_categories_pairwise_and_needs_two_levels_each_way():
    """A categorical feature's missing values are dropped pair by pair (the table is the crosstab of the complete
    pairs, fed to phik's own phi_K); a pair left with one level of the feature, or one of the target, has no phi_K
    and no p value."""
    from phik.phik import phik_from_hist2d

    rng = np.random.default_rng(8)
    n = 400
    y = pd.Series(np.where(rng.uniform(size=n) < 0.4, "yes", "no"), dtype=object)
    grp = pd.Series(rng.choice(list("abc"), n), dtype=object).where(rng.uniform(size=n) > 0.2, np.nan)
    grp[(y == "yes") & (rng.uniform(size=n) < 0.3)] = "a"
    y[:20] = np.nan                                           # a target missing on 20 rows
    only_yes = pd.Series(rng.choice(list("pq"), n), dtype=object).where(y == "yes", np.nan)  # target: one level
    one_level = pd.Series(np.where(y.isna(), "v", "u"), dtype=object)  # feature: one level on complete pairs
    df = pd.DataFrame({"grp": grp, "only_yes": only_yes, "one_level": one_level, "y": y})
    out = phik_with_target(df, "y", [], n_simulations=50).set_index("variable")
    pair = df[["grp", "y"]].dropna()
    table = pd.crosstab(pair["grp"], pair["y"]).to_numpy().astype(float)
    assert table.shape == (3, 2)
    assert out.loc["grp", "phik"] == pytest.approx(float(phik_from_hist2d(table)), abs=1e-12)
    for name in ("only_yes", "one_level"):
        assert out.loc[name, ["phik", "p_value", "significance_z"]].isna().all(), name


def test_g_statistics_zero_cell_without_yates_is_quiet():
    # a zero cell with a positive expectation in a 2 x 3 table: log(0) must not warn (scipy uses xlogy)
    table = np.array([[5, 0, 3], [2, 4, 7]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = _g_statistics(table[None])[0]
    assert value == pytest.approx(_g_reference(table), rel=1e-12)


def test_phik_with_target_feature_with_one_level_among_rows_with_target():
    # f takes a second value only where the target is missing: the pair's table has one row, phi_K is undefined
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({"x": rng.normal(size=n), "f": np.where(np.arange(n) < 150, "a", "b"),
                       "y": rng.choice(["yes", "no"], n)})
    df["y"] = df["y"].where(df["f"] == "a", None)
    out = phik_with_target(df, "y", ["x"], n_simulations=50).set_index("variable")
    assert np.isnan(phik_matrix(df, ["x"]).loc["f", "y"])
    assert out.loc["f"].isna().all()
    assert out.loc["x"].notna().all()
