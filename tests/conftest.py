"""Shared fixtures: a tiny hand-written export in the store's exact format, and a CLI runner."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest

from analysis.paths import DATA_ENV_VAR, SHARED_DATA_DIR

REQUIRED_EXPORTS = ("market_file.csv", "market_money.csv", "market_time.csv", "money.csv")

MARKET_HEADER = (
    "id,Покупательская активность,Тип сервиса,Разрешить сообщать,Маркет_актив_6_мес,Маркет_актив_тек_мес,"
    "Длительность,Акционные_покупки,Популярная_категория,Средний_просмотр_категорий_за_визит,"
    "Неоплаченные_продукты_штук_квартал,Ошибка_сервиса,Страниц_за_визит"
)
CATEGORIES = ["Товары для детей", "Домашний текстиль", "Косметика и аксесуары", "Техника для красоты и здоровья",
              "Мелкая бытовая техника и электроника", "Кухонная посуда"]


def tiny_export_lines(n: int = 8, target: bool = True) -> dict[str, list[str]]:
    """Text lines (without line ends) of a small valid export of ``n`` customers, typos included as in the
    real exports. Customer ``100 + n - 1`` has a current-month revenue 20× the others; customer 100 has zero
    revenue two months before."""
    market = [MARKET_HEADER if target else MARKET_HEADER.replace(",Покупательская активность", "")]
    money_long = ["id,Период,Выручка"]
    time_long = ["id,Период,минут"]
    profit = ["id;Прибыль"]
    for i in range(n):
        cid = 100 + i
        label = "Снизилась" if i % 3 == 0 else "Прежний уровень"
        service = ["стандарт", "премиум", "стандартт"][i % 3]
        row = [str(cid), label, service, "да" if i % 2 else "нет", f"{3 + i * 0.1:.1f}", str(3 + i % 3),
               str(200 + 37 * i), f"{(i % 5) * 0.2:.2f}", CATEGORIES[i % 6], str(1 + i % 6), str(i % 4),
               str(i % 7), str(2 + i)]
        if not target:
            del row[1]
        market.append(",".join(row))
        revenue_prev2 = 0.0 if i == 0 else 4000.0 + 10 * i
        revenue_current = 100000.0 if i == n - 1 else 5000.0 + 5 * i
        money_long += [f"{cid},препредыдущий_месяц,{revenue_prev2:.1f}", f"{cid},текущий_месяц,{revenue_current:.1f}",
                       f"{cid},предыдущий_месяц,{4500.0 + i:.1f}"]
        time_long += [f"{cid},текущий_месяц,{10 + i}", f"{cid},предыдцщий_месяц,{12 + i}"]
        profit.append(f"{cid};{3 + i / 10:.2f}".replace(".", ","))
    return {"market_file.csv": market, "market_money.csv": money_long, "market_time.csv": time_long,
            "money.csv": profit}


def write_lines(directory: Path, files: dict[str, list[str]], newline: str = "\r\n", bom: bool = False) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, lines in files.items():
        payload = (newline.join(lines) + newline).encode("utf-8")
        (directory / name).write_bytes((b"\xef\xbb\xbf" if bom else b"") + payload)
    return directory


@pytest.fixture
def empty_fit_cache():
    """Empty ``analysis.modeling.pair._FITS`` (the full-data fits shared by the effects and decisions stages) before
    and after the test: a fit cached elsewhere would hide the code under test, and under mutmut a fit cached before
    the fork would hide the mutant. Modules use it with ``pytestmark = pytest.mark.usefixtures(...)``."""
    from analysis.modeling import pair

    pair._FITS.clear()
    yield
    pair._FITS.clear()


@pytest.fixture
def tiny_lines():
    return tiny_export_lines()


@pytest.fixture
def tiny_dir(tmp_path, tiny_lines):
    return write_lines(tmp_path / "export", tiny_lines)


def require_real_exports(environ=os.environ) -> Path:
    """The directory of the real exports: ``$ONECLICK_DATA_DIR`` when it holds them, else ``../shared/data``.

    Missing exports fail the test with a clear message when ``CI=true`` (CI always has ``../shared/data``
    beside the checkout, so their absence there is a broken set-up, not a reason to pass); elsewhere the test
    is skipped, as the README's "Tests" section says.
    """
    candidates = [Path(environ[DATA_ENV_VAR])] if environ.get(DATA_ENV_VAR) else []
    candidates.append(SHARED_DATA_DIR)
    for directory in candidates:
        if all((directory / name).is_file() for name in REQUIRED_EXPORTS):
            return directory
    where = " or ".join(str(d) for d in candidates)
    message = f"the real exports ({', '.join(REQUIRED_EXPORTS)}) are not in {where}"
    if environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {message}; CI needs ../shared/data beside the checkout", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def real_data_dir():
    return require_real_exports()


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run ``python -m analysis`` in-process; returns (exit status, stdout, stderr)."""
    from analysis.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse
            code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def synthetic_model_frame(tmp_path_factory):
    """The model frame of a 600-customer synthetic export (known logit process), built through the data stage."""
    from analysis.data.dataset import load_dataset
    from analysis.modeling.features import model_frame
    from analysis.data.synthetic import write_exports

    directory = tmp_path_factory.mktemp("synthetic_frame")
    write_exports(directory, n_customers=600, seed=21)
    return model_frame(load_dataset(directory).model_table)


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory) -> Path:
    """Quick pipeline on a small synthetic export (one per session, shared by the report's and the brief's
    tests); returns the results directory."""
    from analysis import runner
    from analysis.settings import QUICK
    from analysis.data.synthetic import write_exports

    base = tmp_path_factory.mktemp("report_run")
    write_exports(base / "exports", n_customers=400, seed=1, zero_revenue_customers=2, extreme_revenue_customers=1)
    runner.run(data_dir=base / "exports", results_dir=base / "results", protocol=QUICK)
    return base / "results"


@pytest.fixture(scope="session")
def real_quick_run(tmp_path_factory) -> Path:
    """The quick protocol on the real exports (one per session): the real labels, category names and ranges for
    the tests that draw or word them, independent of the checkout's results/."""
    from analysis import runner
    from analysis.settings import QUICK

    base = tmp_path_factory.mktemp("real_quick_run")
    runner.run(data_dir=require_real_exports(), results_dir=base / "results", protocol=QUICK)
    return base / "results"
