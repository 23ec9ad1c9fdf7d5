"""Tests of the synthetic exports and their known logit data-generating process."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from analysis.data import synthetic
from analysis.data.dictionary import (
    CATEGORY_LABELS,
    DICTIONARY,
    EXPORT_FILES,
    FIELDS,
    ID_RU,
    KNOWN_TYPOS,
    MARKET_FILE,
    MARKET_MONEY,
    MARKET_TIME,
    MONEY,
    PERIOD_RU,
    PROFIT_RU,
    REVENUE_PERIODS,
    REVENUE_RU,
    MINUTES_RU,
    TARGET,
    TARGET_LABELS,
    TIME_PERIODS,
)

N = 3000
SEED = 7
SERVICE_RU = FIELDS["service_type"].source_name
CATEGORY_RU = FIELDS["popular_category"].source_name
TARGET_RU = FIELDS[TARGET].source_name
TYPO = {key: dict(mapping) for key, mapping in KNOWN_TYPOS.items()}  # (file, column) -> {typo: fix}
STANDARD_TYPO = next(iter(TYPO[(MARKET_FILE, SERVICE_RU)]))
CATEGORY_TYPO = next(iter(TYPO[(MARKET_FILE, CATEGORY_RU)]))
PERIOD_TYPO = next(iter(TYPO[(MARKET_TIME, PERIOD_RU)]))


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("synthetic")
    return synthetic.write_exports(out, N, SEED, zero_revenue_customers=3, extreme_revenue_customers=1)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return synthetic.generate_exports(N, SEED, zero_revenue_customers=3, extreme_revenue_customers=1)


def _fit_true_logit(table: pd.DataFrame):
    # one BLAS thread: on a busy 2-core machine OpenBLAS threads contend and the fit slows 100-fold
    with threadpool_limits(1):
        return smf.logit(f"{TARGET} ~ {synthetic.TRUE_FORMULA}", table).fit(disp=0)


def _read(path: Path) -> pd.DataFrame:
    if path.name == MONEY:
        return pd.read_csv(path, sep=";", decimal=",")
    return pd.read_csv(path)


# --- the true model ---------------------------------------------------------------------------------


def test_true_coefficients_are_the_statsmodels_parameter_names():
    table = synthetic.customer_table(2000, 1)
    result = _fit_true_logit(table)
    assert set(result.params.index) == set(synthetic.TRUE_COEFFICIENTS)
    assert synthetic.TRUE_COEFFICIENTS["marketing_current"] == 0.0
    assert "marketing_current" in synthetic.TRUE_FORMULA


def test_logit_recovers_true_coefficients_on_a_large_sample():
    table = synthetic.customer_table(50_000, 11)
    result = _fit_true_logit(table)
    truth = pd.Series(synthetic.TRUE_COEFFICIENTS)
    z = (result.params - truth[result.params.index]) / result.bse
    assert (z.abs() < 4).all(), z[z.abs() >= 4]


def test_class_balance_and_signal_strength_resemble_the_real_data():
    table = synthetic.customer_table(50_000, 3)
    assert 0.34 < table[TARGET].mean() < 0.42
    auc = roc_auc_score(table[TARGET], synthetic.true_probability(table))
    assert 0.83 < auc < 0.92
    # the true linear predictor is the one statsmodels evaluates for the true parameters
    result = smf.logit(f"{TARGET} ~ {synthetic.TRUE_FORMULA}", table.head(500))
    beta = pd.Series(synthetic.TRUE_COEFFICIENTS)[result.exog_names].to_numpy()
    np.testing.assert_allclose(result.exog @ beta, synthetic.true_linear_predictor(table.head(500)))


def test_true_average_marginal_effects():
    ame = synthetic.true_average_marginal_effects(20_000, seed=2).set_index("term")["ame"]
    assert list(synthetic.true_average_marginal_effects(100, 0).columns) == ["term", "ame"]
    assert set(ame.index) == set(synthetic.TRUE_COEFFICIENTS) - {"Intercept"}
    assert ame["marketing_current"] == 0.0
    for term, value in ame.items():
        assert np.sign(value) == np.sign(synthetic.TRUE_COEFFICIENTS[term])
        assert abs(value) < 0.25 * abs(synthetic.TRUE_COEFFICIENTS[term]) + 1e-12  # |p(1-p)| <= 1/4


# --- customer table ----------------------------------------------------------------------------------


def test_customer_table_columns_and_values():
    table = synthetic.customer_table(N, SEED)
    assert list(table.columns) == [f.name for f in DICTIONARY]
    assert table["id"].tolist() == list(range(synthetic.FIRST_ID, synthetic.FIRST_ID + N))
    assert set(table["service_type"]) == set(CATEGORY_LABELS["service_type"].values())
    assert set(table["popular_category"]) <= set(CATEGORY_LABELS["popular_category"].values())
    assert set(table["contact_allowed"]) == {0, 1} and set(table[TARGET]) == {0, 1}
    assert table["marketing_current"].isin([3, 4, 5]).all()
    assert table["tenure_days"].between(110, 1079).all()
    assert table["categories_per_visit"].between(1, 6).all()
    assert table["unpaid_items"].between(0, 10).all()
    assert table["service_errors"].between(0, 9).all()
    assert table["pages_per_visit"].between(1, 20).all()
    assert table["minutes_prev"].between(4, 23).all() and table["minutes_current"].between(4, 23).all()
    assert table["promo_share"].between(0, 1).all() and (table["promo_share"] >= 0.89).mean() > 0.05
    assert 4.0 < table["marketing_6m"].mean() < 4.5
    assert 4600 < table["revenue_prev2"].mean() < table["revenue_current"].mean() < 5600
    assert 3.8 < table["profit"].mean() < 4.2


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 60), seed=st.integers(0, 2**32 - 1), zero=st.integers(0, 3), extreme=st.integers(0, 3))
def test_exports_and_table_agree_for_any_small_draw(n, seed, zero, extreme):
    if zero + extreme > n:
        with pytest.raises(ValueError):
            synthetic.generate_exports(n, seed, zero_revenue_customers=zero, extreme_revenue_customers=extreme)
        return
    exports = synthetic.generate_exports(n, seed, zero_revenue_customers=zero, extreme_revenue_customers=extreme)
    table = synthetic.customer_table(n, seed, zero_revenue_customers=zero, extreme_revenue_customers=extreme)
    assert len(exports[MARKET_FILE]) == n and len(exports[MARKET_MONEY]) == 3 * n
    assert len(exports[MARKET_TIME]) == 2 * n and len(exports[MONEY]) == n
    pd.testing.assert_frame_equal(_table_from_exports(exports), table)


# --- exports -----------------------------------------------------------------------------------------


def test_headers_crlf_and_ids(written):
    expected = {
        MARKET_FILE: ",".join(f.source_name for f in DICTIONARY if f.source_file == MARKET_FILE),
        MARKET_MONEY: f"{ID_RU},{PERIOD_RU},{REVENUE_RU}",
        MARKET_TIME: f"{ID_RU},{PERIOD_RU},{MINUTES_RU}",
        MONEY: f"{ID_RU};{PROFIT_RU}",
    }
    rows = {MARKET_FILE: N, MARKET_MONEY: 3 * N, MARKET_TIME: 2 * N, MONEY: N}
    assert set(written) == set(EXPORT_FILES)
    for file, path in written.items():
        data = path.read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf")
        assert data.endswith(b"\r\n")
        assert data.count(b"\n") == data.count(b"\r\n") == data.count(b"\r") == rows[file] + 1
        lines = data.decode("utf-8").split("\r\n")[:-1]
        assert lines[0] == expected[file]
        ids = [int(line.split(";" if file == MONEY else ",")[0]) for line in lines[1:]]
        assert ids == sorted(ids) and ids[0] == synthetic.FIRST_ID and ids[-1] == synthetic.FIRST_ID + N - 1


def test_headers_match_the_real_exports(written, real_data_dir):
    real = real_data_dir
    for file, path in written.items():
        assert path.read_bytes().split(b"\r\n")[0] == (real / file).read_bytes().split(b"\r\n")[0]


def test_number_formats(written):
    text = {file: path.read_bytes().decode("utf-8").split("\r\n")[1:-1] for file, path in written.items()}
    money = re.compile(r"^\d+;\d+(,\d?[1-9])?$")  # «4,16», «1,4», «5»: no trailing zeros
    assert all(money.match(line) for line in text[MONEY])
    revenue = re.compile(r"^\d+,[^,]+,\d+\.\d$")  # «4472.0», «5058.4», «0.0»
    assert all(revenue.match(line) for line in text[MARKET_MONEY])
    minutes = re.compile(r"^\d+,[^,]+,\d+$")
    assert all(minutes.match(line) for line in text[MARKET_TIME])
    n_fields = len([f for f in DICTIONARY if f.source_file == MARKET_FILE])
    float_col = re.compile(r"^\d+\.\d{1,2}$")
    int_col = re.compile(r"^\d+$")
    for line in text[MARKET_FILE]:
        fields = line.split(",")
        assert len(fields) == n_fields
        assert float_col.match(fields[4]) and float_col.match(fields[7])  # marketing_6m, promo_share
        assert all(int_col.match(fields[i]) for i in (0, 5, 6, 9, 10, 11, 12))
        assert not (fields[7].endswith("0") and fields[7] != "0.0")  # «0.9», not «0.90»


def test_written_bytes_equal_a_plain_python_rendering(written, frames):
    """The fast byte writer agrees with a line-by-line rendering using Python's float repr."""

    def fmt(value, money: bool) -> str:
        if isinstance(value, (float, np.floating)):
            text = repr(float(value))
            return (text.removesuffix(".0").replace(".", ",")) if money else text
        return str(value)

    for file, frame in frames.items():
        sep = ";" if file == MONEY else ","
        header = sep.join(frame.columns)
        lines = [sep.join(fmt(v, file == MONEY) for v in row) for row in frame.itertuples(index=False)]
        assert written[file].read_bytes() == ("\r\n".join([header, *lines]) + "\r\n").encode("utf-8")


def test_read_back_equals_generate_exports(written, frames):
    for file, path in written.items():
        pd.testing.assert_frame_equal(_read(path), frames[file])


def test_periods_and_typos(frames):
    money = frames[MARKET_MONEY]
    per_customer = money.groupby(ID_RU)[PERIOD_RU].agg(lambda s: tuple(sorted(s)))
    assert (per_customer == tuple(sorted(REVENUE_PERIODS))).all()
    assert money.groupby(ID_RU)[PERIOD_RU].agg(tuple).nunique() == 6  # the order varies as in the real data

    to_typo = {fix: typo for typo, fix in TYPO[(MARKET_TIME, PERIOD_RU)].items()}
    expected_time = tuple(sorted(to_typo.get(p, p) for p in TIME_PERIODS))
    assert PERIOD_TYPO in expected_time
    per_customer = frames[MARKET_TIME].groupby(ID_RU)[PERIOD_RU].agg(lambda s: tuple(sorted(s)))
    assert (per_customer == expected_time).all()

    mf = frames[MARKET_FILE]
    correct_standard = TYPO[(MARKET_FILE, SERVICE_RU)][STANDARD_TYPO]
    n_typo = (mf[SERVICE_RU] == STANDARD_TYPO).sum()
    n_standard = n_typo + (mf[SERVICE_RU] == correct_standard).sum()
    assert 1 <= n_typo <= 0.03 * n_standard
    correct_cosmetics = TYPO[(MARKET_FILE, CATEGORY_RU)][CATEGORY_TYPO]
    assert (mf[CATEGORY_RU] == CATEGORY_TYPO).sum() > 0
    assert (mf[CATEGORY_RU] != correct_cosmetics).all()
    assert set(mf[TARGET_RU]) == set(TARGET_LABELS)


def test_determinism_and_seed_dependence(tmp_path):
    a = synthetic.generate_exports(500, 3)
    b = synthetic.generate_exports(500, 3)
    c = synthetic.generate_exports(500, 4)
    for file in EXPORT_FILES:
        pd.testing.assert_frame_equal(a[file], b[file])
    assert not a[MARKET_FILE].equals(c[MARKET_FILE])
    pd.testing.assert_frame_equal(synthetic.customer_table(500, 3), synthetic.customer_table(500, 3))
    first = synthetic.write_exports(tmp_path / "a", 500, 3)
    second = synthetic.write_exports(tmp_path / "b", 500, 3)
    for file in EXPORT_FILES:
        assert first[file].read_bytes() == second[file].read_bytes()


def test_without_target(tmp_path):
    with_target = synthetic.generate_exports(400, 5)
    without = synthetic.generate_exports(400, 5, with_target=False)
    assert TARGET_RU not in without[MARKET_FILE].columns
    pd.testing.assert_frame_equal(without[MARKET_FILE], with_target[MARKET_FILE].drop(columns=TARGET_RU))
    for file in (MARKET_MONEY, MARKET_TIME, MONEY):
        pd.testing.assert_frame_equal(without[file], with_target[file])
    paths = synthetic.write_exports(tmp_path, 400, 5, with_target=False)
    header = paths[MARKET_FILE].read_bytes().decode("utf-8").split("\r\n")[0]
    assert TARGET_RU not in header and header.count(",") == len(without[MARKET_FILE].columns) - 1


def test_zero_and_extreme_revenue_customers(frames):
    money = frames[MARKET_MONEY]
    zero = money[money[REVENUE_RU] == 0.0]
    current = next(p for p, name in REVENUE_PERIODS.items() if name == "revenue_current")
    assert zero[ID_RU].nunique() == 3 and (zero[PERIOD_RU] != current).all()
    assert zero.groupby(ID_RU).size().between(1, 2).all()
    cur = money[money[PERIOD_RU] == current][REVENUE_RU]
    assert (cur > 10 * cur.median()).sum() == 1
    assert cur.max() > 15 * cur.median()
    # the anomalies leave every other customer as drawn
    plain = synthetic.customer_table(N, SEED)
    odd = synthetic.customer_table(N, SEED, zero_revenue_customers=3, extreme_revenue_customers=1)
    changed = (plain != odd).any(axis=1)
    assert changed.sum() == 4
    assert plain.loc[~changed].equals(odd.loc[~changed])
    with pytest.raises(ValueError):
        synthetic.generate_exports(5, 0, zero_revenue_customers=4, extreme_revenue_customers=2)


def _table_from_exports(exports: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """A minimal, independent re-parse of the exports into the English customer table."""
    mf = exports[MARKET_FILE].copy()
    for (file, column), mapping in KNOWN_TYPOS.items():
        if file == MARKET_FILE:
            mf[column] = mf[column].replace(mapping)
    fields = [f for f in DICTIONARY if f.source_file == MARKET_FILE]
    table = mf.rename(columns={f.source_name: f.name for f in fields})
    table[TARGET] = table[TARGET].map(TARGET_LABELS).astype("int64")
    for column, mapping in CATEGORY_LABELS.items():
        table[column] = table[column].map(mapping)
    table["contact_allowed"] = table["contact_allowed"].astype("int64")
    for file, periods in ((MARKET_MONEY, REVENUE_PERIODS), (MARKET_TIME, TIME_PERIODS)):
        long = exports[file].copy()
        fix = KNOWN_TYPOS.get((file, PERIOD_RU), {})
        long[PERIOD_RU] = long[PERIOD_RU].replace(fix).map(periods)
        wide = long.pivot(index=ID_RU, columns=PERIOD_RU, values=long.columns[2])
        table = table.join(wide[list(periods.values())], on="id")
    profit = exports[MONEY].rename(columns={PROFIT_RU: "profit"})
    table = table.merge(profit, on="id")
    table = table[[f.name for f in DICTIONARY]]
    table.columns.name = None
    return table


def test_customer_table_matches_the_written_exports(written):
    parsed = _table_from_exports({file: _read(path) for file, path in written.items()})
    expected = synthetic.customer_table(N, SEED, zero_revenue_customers=3, extreme_revenue_customers=1)
    pd.testing.assert_frame_equal(parsed, expected)  # exact: decimals round-trip through the text


def test_cli(tmp_path, capsys):
    assert synthetic.main(["--customers", "200", "--seed", "1", "--out", str(tmp_path), "--no-target",
                           "--zero-revenue", "2", "--extreme-revenue", "1"]) == 0
    exports = {file: _read(tmp_path / file) for file in EXPORT_FILES}
    expected = synthetic.generate_exports(200, 1, with_target=False, zero_revenue_customers=2,
                                          extreme_revenue_customers=1)
    for file in EXPORT_FILES:
        pd.testing.assert_frame_equal(exports[file], expected[file])
    assert str(tmp_path / MARKET_FILE) in capsys.readouterr().out


def test_scale_shifts_one_column_of_the_same_customers(tmp_path):
    plain = synthetic.customer_table(500, 3)
    shifted = synthetic.customer_table(500, 3, scale={"marketing_6m": 0.5, "pages_per_visit": 1.5})
    # written decimals kept: tenths of the halved value, rounded half to even (4.5 -> 2.25 -> 2.2)
    expected = np.rint(np.rint(plain["marketing_6m"].to_numpy() * 10) * 0.5) / 10
    np.testing.assert_array_equal(shifted["marketing_6m"].to_numpy(), expected)
    assert (shifted["marketing_6m"] < plain["marketing_6m"]).all()
    assert shifted["pages_per_visit"].dtype == np.int64
    np.testing.assert_array_equal(shifted["pages_per_visit"], np.rint(plain["pages_per_visit"] * 1.5))
    others = [c for c in plain.columns if c not in ("marketing_6m", "pages_per_visit")]
    pd.testing.assert_frame_equal(shifted[others], plain[others])  # same customers, same target
    # through the files: only market_file.csv changes
    synthetic.main(["--customers", "500", "--seed", "3", "--out", str(tmp_path / "s"), "--scale",
                    "marketing_6m=0.5", "--scale", "pages_per_visit=1.5"])
    synthetic.write_exports(tmp_path / "p", 500, 3)
    for file in EXPORT_FILES:
        same = (tmp_path / "s" / file).read_bytes() == (tmp_path / "p" / file).read_bytes()
        assert same == (file != MARKET_FILE)
    parsed = _table_from_exports({file: _read(tmp_path / "s" / file) for file in EXPORT_FILES})
    pd.testing.assert_frame_equal(parsed, shifted)


def test_scale_raises_on_a_bad_column_or_factor(capsys):
    with pytest.raises(ValueError, match="cannot scale 'popular_category'"):
        synthetic.customer_table(10, 1, scale={"popular_category": 2.0})
    for factor in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="must be a positive number"):
            synthetic.customer_table(10, 1, scale={"marketing_6m": factor})
    with pytest.raises(SystemExit):
        synthetic.main(["--customers", "10", "--out", "x", "--scale", "marketing_6m"])
    assert "expected COLUMN=FACTOR" in capsys.readouterr().err
