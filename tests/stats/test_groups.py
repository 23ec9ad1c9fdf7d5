"""Tests of stats.groups against brute force and scipy/hand computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from stats.groups import cliffs_delta, compare_groups
from tests.oracles import holm


def brute_delta(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    diff = x[:, None] - y[None, :]
    return (np.sum(diff > 0) - np.sum(diff < 0)) / diff.size


def test_cliffs_delta_examples():
    assert cliffs_delta([1, 2, 3], [1, 2, 3]) == 0
    assert cliffs_delta([4, 5], [1, 2, 3]) == 1
    assert cliffs_delta([1, 2], [3, 4]) == -1
    x, y = [1, 2, 2, 3, np.nan], [2, 2, 4]
    assert cliffs_delta(x, y) == pytest.approx(brute_delta([1, 2, 2, 3], y))
    with pytest.raises(ValueError, match="no non-missing"):
        cliffs_delta([np.nan], [1.0])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-5, 5), min_size=1, max_size=30),
    st.lists(st.integers(-5, 5), min_size=1, max_size=30),
)
def test_cliffs_delta_equals_brute_force(x, y):
    assert cliffs_delta(x, y) == pytest.approx(brute_delta(x, y), abs=1e-12)


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(8)
    n = 300
    df = pd.DataFrame(
        {
            "spend": rng.gamma(2, 50, n),
            "visits": rng.poisson(4, n),
            "tier": rng.choice(["gold", "silver", "bronze"], n, p=[0.2, 0.3, 0.5]),
            "promo": rng.integers(0, 2, n),
        }
    )
    group = (df["spend"] > 120) | (rng.uniform(size=n) < 0.1)
    return df, group.to_numpy()


def test_compare_groups_numeric_and_categorical(frame):
    df, g = frame
    out = compare_groups(df, g, numeric=["spend", "visits"], categorical=["tier", "promo"])
    assert list(out.columns) == [
        "variable", "level", "kind", "group_value", "rest_value", "effect_size",
        "effect_measure", "conf_low", "conf_high", "test", "statistic", "p_value", "p_adjusted",
    ]
    spend = out.iloc[0]
    assert spend["variable"] == "spend" and pd.isna(spend["level"]) and spend["kind"] == "numeric"
    assert spend["group_value"] == pytest.approx(np.median(df.spend[g]))
    assert spend["rest_value"] == pytest.approx(np.median(df.spend[~g]))
    assert spend["effect_size"] == pytest.approx(brute_delta(df.spend[g], df.spend[~g]))
    mw = sps.mannwhitneyu(df.spend[g], df.spend[~g], alternative="two-sided")
    assert spend["statistic"] == pytest.approx(mw.statistic)
    assert spend["p_value"] == pytest.approx(mw.pvalue)
    n_g, n_r = g.sum(), (~g).sum()
    assert spend["effect_size"] == pytest.approx(2 * mw.statistic / (n_g * n_r) - 1)

    tier = out[out.variable == "tier"]
    assert tier["level"].tolist() == ["bronze", "gold", "silver"]
    for _, row in tier.iterrows():
        share_g = np.mean(df.tier[g] == row["level"])
        share_r = np.mean(df.tier[~g] == row["level"])
        assert row["group_value"] == pytest.approx(share_g)
        assert row["rest_value"] == pytest.approx(share_r)
        assert row["effect_size"] == pytest.approx(share_g - share_r)
    chi2, p, _, _ = sps.chi2_contingency(pd.crosstab(df.tier, g).to_numpy(), correction=False)
    assert np.allclose(tier["statistic"], chi2) and np.allclose(tier["p_value"], p)
    assert out[out.variable == "promo"]["level"].tolist() == ["0", "1"]

    # Holm by hand over the four variable-level p values
    per_var = out.groupby("variable", sort=False)["p_value"].first()
    adj = out.groupby("variable", sort=False)["p_adjusted"].first().to_numpy()
    np.testing.assert_allclose(adj, holm(per_var.to_numpy()), rtol=1e-12)

    bh = compare_groups(df, g, ["spend", "visits"], ["tier", "promo"], correction="fdr_bh")
    assert (bh["p_adjusted"] <= out["p_adjusted"] + 1e-15).all()


def test_compare_groups_validation(frame):
    df, g = frame
    with pytest.raises(ValueError, match="bonferonni"):
        compare_groups(df, g, ["spend"], [], correction="bonferonni")
    with pytest.raises(ValueError, match="both True and False"):
        compare_groups(df, np.ones(len(df), dtype=bool), ["spend"], [])
    with pytest.raises(ValueError, match="boolean"):
        compare_groups(df, g.astype(int), ["spend"], [])
    with pytest.raises(ValueError, match="nope"):
        compare_groups(df, g, ["nope"], [])


# --- multiplicity and the 2x2 table against statsmodels / scipy ---------------------------------------------------

@pytest.fixture(scope="module")
def spread():
    """Five numeric variables whose group shifts give p values spread over 1e-6 .. 0.5, so that Holm's
    step-down factors (m, m-1, ...) and Bonferroni's constant m give different adjusted values, and a 2x2
    binary variable with a moderate association (where Yates' correction matters)."""
    rng = np.random.default_rng(2024)
    n = 400
    g = np.zeros(n, dtype=bool)
    g[:130] = True
    shifts = {"v1": 0.8, "v2": 0.35, "v3": 0.3, "v4": 0.25, "v5": 0.0}
    df = pd.DataFrame({k: rng.normal(size=n) + s * g for k, s in shifts.items()})
    df["flag"] = (rng.uniform(size=n) < np.where(g, 0.30, 0.20)).astype(int)
    return df, g


def test_holm_against_statsmodels_and_not_bonferroni(spread):
    from statsmodels.stats.multitest import multipletests

    df, g = spread
    numeric = ["v1", "v2", "v3", "v4", "v5"]
    out = compare_groups(df, g, numeric, ["flag"])
    per_var = out.groupby("variable", sort=False)[["p_value", "p_adjusted"]].first()
    # raw p values independently from scipy
    raw = [sps.mannwhitneyu(df[v][g], df[v][~g], alternative="two-sided").pvalue for v in numeric]
    raw.append(sps.chi2_contingency(pd.crosstab(df["flag"], g).to_numpy(), correction=False)[1])
    np.testing.assert_allclose(per_var["p_value"], raw, rtol=1e-12)
    holm = multipletests(raw, method="holm")[1]
    bonferroni = multipletests(raw, method="bonferroni")[1]
    np.testing.assert_allclose(per_var["p_adjusted"], holm, rtol=1e-12)
    # the fixture is only useful if it tells Holm from Bonferroni: at least three variables differ by > 10 %
    assert np.sum(~np.isclose(holm, bonferroni, rtol=0.1, atol=0)) >= 3
    assert not np.allclose(per_var["p_adjusted"], bonferroni, rtol=1e-3)
    bh = compare_groups(df, g, numeric, ["flag"], correction="fdr_bh")
    np.testing.assert_allclose(bh.groupby("variable", sort=False)["p_adjusted"].first(),
                               multipletests(raw, method="fdr_bh")[1], rtol=1e-12)
    none = compare_groups(df, g, numeric, ["flag"], correction="none")
    np.testing.assert_allclose(none["p_adjusted"], none["p_value"], rtol=0)


def test_two_by_two_chi2_without_continuity_correction(spread):
    df, g = spread
    row = compare_groups(df, g, [], ["flag"]).iloc[0]
    table = pd.crosstab(df["flag"], g).to_numpy()
    chi2, p, dof, _ = sps.chi2_contingency(table, correction=False)
    assert dof == 1
    # Pearson's statistic by hand: n (ad - bc)^2 / (row and column totals)
    (a, b), (c, d) = table
    n = table.sum()
    hand = n * (a * d - b * c) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
    assert chi2 == pytest.approx(hand, rel=1e-12)
    assert row["statistic"] == pytest.approx(chi2, rel=1e-10)
    assert row["p_value"] == pytest.approx(p, rel=1e-10)
    yates, p_yates, _, _ = sps.chi2_contingency(table, correction=True)
    assert abs(yates - chi2) / chi2 > 0.05 and abs(p_yates - p) / p > 0.05  # a Yates-corrected chi2 would fail


# --- the output contract and edge cases (written to kill surviving mutants, see docs/mutation.md) --------------

COLUMNS = ["variable", "level", "kind", "group_value", "rest_value", "effect_size",
           "effect_measure", "conf_low", "conf_high", "test", "statistic", "p_value", "p_adjusted"]


def test_compare_groups_labels_and_types():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "c": ["u", "v", "u", "v", "v", "u"]})
    g = np.array([True, True, True, False, False, False])
    out = compare_groups(df, g, ["x"], ["c"])
    assert list(out.columns) == COLUMNS
    assert out["kind"].tolist() == ["numeric", "categorical", "categorical"]
    assert out["effect_measure"].tolist() == ["cliffs_delta"] + ["difference_in_proportions"] * 2
    assert out["test"].tolist() == ["mann_whitney_u"] + ["chi2_independence"] * 2
    assert out["level"].isna().tolist() == [True, False, False]
    for column in ("variable", "level", "kind", "effect_measure", "test"):
        assert pd.api.types.is_string_dtype(out[column]), column
    assert out["variable"].tolist() == ["x", "c", "c"] and out["level"].tolist()[1:] == ["u", "v"]
    empty = compare_groups(df, g, [], [])
    assert list(empty.columns) == COLUMNS and len(empty) == 0


def test_compare_groups_categorical_edge_cases():
    n = 12
    g = np.arange(n) < 4
    df = pd.DataFrame({
        "flag": [True, False] * 6,                                   # booleans are labelled "False"/"True"
        "mixed": [1, "a", 2, "a", 1, 2, "a", 1, 2, "a", 1, 2],       # unorderable: sorted as text
        "constant": ["k"] * n,                                       # one level: no test
        "rest_only": [None] * 4 + ["p", "q"] * 4,                    # missing throughout the group: no test
        "one_in_group": [None] * 3 + ["p"] + ["p", "q"] * 4,         # one group row: tested as usual
    })
    out = compare_groups(df, g, [], list(df.columns))
    flag = out[out.variable == "flag"]
    assert flag["level"].tolist() == ["False", "True"]
    assert flag["group_value"].tolist() == [0.5, 0.5]
    assert out[out.variable == "mixed"]["level"].tolist() == ["1", "2", "a"]
    for var in ("constant", "rest_only"):
        rows = out[out.variable == var]
        assert rows["statistic"].isna().all() and rows["p_value"].isna().all() and rows["p_adjusted"].isna().all()
    rest_only = out[out.variable == "rest_only"].set_index("level")
    assert rest_only["rest_value"].tolist() == [0.5, 0.5]
    one = out[out.variable == "one_in_group"]
    table = np.array([[1, 4], [0, 4]])  # levels p, q x (group, rest)
    chi2, p, _, _ = sps.chi2_contingency(table, correction=False)
    assert one["statistic"].tolist() == pytest.approx([chi2, chi2]) and one["p_value"].iloc[0] == pytest.approx(p)
    assert one["group_value"].tolist() == [1.0, 0.0]
    # Holm over the three testable variables only
    from statsmodels.stats.multitest import multipletests

    per_var = out.groupby("variable", sort=False)[["p_value", "p_adjusted"]].first()
    ok = per_var["p_value"].notna()
    np.testing.assert_allclose(per_var.loc[ok, "p_adjusted"], multipletests(per_var.loc[ok, "p_value"], method="holm")[1])


def test_compare_groups_error_messages(frame):
    df, g = frame
    cases = [
        (lambda: compare_groups(df.to_dict(), g, ["spend"], []), r"^df must be a pandas DataFrame, got dict$"),
        (lambda: compare_groups(df, g, ["spend"], [], correction="x"), r"^correction must be one of "),
        (lambda: compare_groups(df, g[:-1], ["spend"], []), r"^in_group must be a boolean array of length 300$"),
        (lambda: compare_groups(df, np.c_[g, g], ["spend"], []), r"^in_group must be a boolean array"),
        (lambda: compare_groups(df, np.zeros(len(df), bool), ["spend"], []),
         r"^in_group must contain both True and False$"),
        (lambda: compare_groups(df.assign(b=df.spend > 1), g, ["b"], []),
         r"^numeric variable 'b' has non-numeric dtype bool$"),
        (lambda: compare_groups(df.assign(t=df.tier), g, ["t"], []), r"^numeric variable 't' has non-numeric dtype"),
        (lambda: compare_groups(df.assign(s=np.where(g, np.nan, 1.0)), g, ["s"], []),
         r"^s in group has no non-missing values$"),
        (lambda: compare_groups(df.assign(s=np.where(g, 1.0, np.nan)), g, ["s"], []),
         r"^s in rest has no non-missing values$"),
        (lambda: cliffs_delta([np.nan], [1.0]), r"^x has no non-missing values$"),
        (lambda: cliffs_delta([1.0], [np.nan]), r"^y has no non-missing values$"),
    ]
    for call, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            call()
    assert cliffs_delta([1, None, 3], [2]) == 0.0  # None is missing, not an error


def test_compare_groups_level_order_and_missing_rest():
    n = 12
    g = np.arange(n) < 6
    df = pd.DataFrame({
        "count": [2, 10] * 6,                                        # numeric order, not text order
        "num_obj": pd.Series([1, 2.5] * 6, dtype=object),            # labels of the values as given
        "group_only": ["p", "q"] * 3 + [None] * 6,                   # missing throughout the rest: no test
        "one_in_rest": ["p", "q"] * 3 + ["p"] + [None] * 5,          # one rest row: tested as usual
    })
    out = compare_groups(df, g, [], list(df.columns))
    assert out[out.variable == "count"]["level"].tolist() == ["2", "10"]
    assert out[out.variable == "num_obj"]["level"].tolist() == ["1", "2.5"]
    assert out[out.variable == "group_only"]["p_value"].isna().all()
    one = out[out.variable == "one_in_rest"]
    chi2 = sps.chi2_contingency(np.array([[3, 1], [3, 0]]), correction=False)[0]
    assert one["statistic"].tolist() == pytest.approx([chi2, chi2])


# --- intervals of the effect sizes ---------------------------------------------------------------------------


def test_difference_interval_is_statsmodels_newcombe():
    from statsmodels.stats.proportion import confint_proportions_2indep

    from stats.groups import difference_interval

    for k1, n1, k2, n2 in ((30, 100, 20, 120), (0, 40, 5, 60), (40, 40, 1, 3), (7, 9, 2, 11)):
        for level in (0.9, 0.95):
            ours = difference_interval(k1, n1, k2, n2, level)
            ref = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", alpha=1 - level)
            np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)
    assert all(np.isnan(difference_interval(0, 0, 3, 10)))


def test_cliffs_delta_interval_by_hand_and_its_coverage():
    from scipy.stats import norm

    from stats.groups import cliffs_delta, cliffs_delta_interval

    # by hand: A = 0.7, n = 30 and 50
    a, n1, n2 = 0.7, 30, 50
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = np.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n2 - 1) * (q2 - a * a)) / (n1 * n2))
    low, high = cliffs_delta_interval(2 * a - 1, n1, n2)
    assert low == pytest.approx(2 * (a - norm.ppf(0.975) * se) - 1)
    assert high == pytest.approx(2 * (a + norm.ppf(0.975) * se) - 1)
    # coverage on continuous data with a known δ (normal shift d: δ = 2Φ(d/√2) − 1)
    rng = np.random.default_rng(7)
    d, truth = 0.5, 2 * norm.cdf(0.5 / np.sqrt(2)) - 1
    hits = 0
    for _ in range(1000):
        x, y = rng.normal(d, 1, 60), rng.normal(0, 1, 90)
        lo, hi = cliffs_delta_interval(cliffs_delta(x, y), 60, 90)
        hits += lo <= truth <= hi
    assert 0.93 <= hits / 1000 <= 0.97
