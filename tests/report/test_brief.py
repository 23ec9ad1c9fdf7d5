"""Tests of the Russian brief: the Russian number formats, the bilingual label tables, and brief.qmd rendered
end to end on the synthetic run (shared with test_report.py through conftest.py).

The end-to-end test reads the PDF as a manager's viewer would, through Poppler (``pdfinfo``, ``pdffonts``,
``pdftotext``): at most two A4 pages, every font embedded, Russian text without an English label, and every
number either a value recomputed here from the results CSVs (formatted the Russian way) or one that the
brief's functions produced from the results — a number typed into brief.qmd fails it.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import report as R
from analysis.report import brief as B
from analysis.report import labels as L
from analysis.report.formats import NBSP, fmt_ci, fmt_date, fmt_int, fmt_num, fmt_p, fmt_pct, fmt_pp, quote, with_unit
from tests.report.test_report import recompute_headline

ROOT = Path(__file__).resolve().parents[2]
BRIEF = ROOT / "brief.qmd"
POPPLER = ("pdftotext", "pdfinfo", "pdffonts")


# ---------------------------------------------------------------------------------------------------------
# Russian typography
# ---------------------------------------------------------------------------------------------------------


def test_russian_numbers_typical():
    assert fmt_num(0.9, 2, lang="ru") == "0,90"
    assert fmt_int(1984, lang="ru") == f"1{NBSP}984"
    assert fmt_int(1234567, lang="ru") == f"1{NBSP}234{NBSP}567"
    assert fmt_num(-1984.456, 1, lang="ru") == f"−1{NBSP}984,5"
    assert fmt_pct(0.3248, lang="ru") == f"32,5{NBSP}%"
    assert fmt_pct(0.3248, 0, lang="ru") == f"32{NBSP}%"
    assert fmt_pp(-0.0333, lang="ru") == f"−3,3{NBSP}п.{NBSP}п."
    assert fmt_pp(0.0333, lang="ru", sign=False) == f"3,3{NBSP}п.{NBSP}п."
    assert fmt_ci(-0.054, -0.013, 1, 100, lang="ru") == "от −5,4 до −1,3"
    assert fmt_p(0.0371, lang="ru") == "0,037" and fmt_p(0.0004, lang="ru") == f"<{NBSP}0,001"
    assert with_unit(fmt_int(1974, lang="ru"), "ед.") == f"1{NBSP}974{NBSP}ед."
    assert quote("В один клик", "ru") == "«В один клик»"
    assert quote("one click") == "\u201cone click\u201d"


def test_russian_dates():
    assert fmt_date(dt.date(2026, 11, 23), "ru") == f"23{NBSP}ноября 2026{NBSP}г."
    assert fmt_date("2026-03-01T10:00:00+00:00", "ru") == f"1{NBSP}марта 2026{NBSP}г."
    assert fmt_date(dt.date(2026, 5, 9), "en") == "May 9, 2026"


def test_english_formats_unchanged_by_the_language_argument():
    assert fmt_int(1296) == "1,296" == fmt_int(1296, lang="en")
    assert fmt_pct(0.3248) == "32.5%" and fmt_num(-0.0456, 3) == "−0.046"
    assert fmt_ci(0.1, 0.25, 1, 100) == "10.0 to 25.0"


def test_missing_and_bad_language():
    assert fmt_num(np.nan, lang="ru") == "—" and fmt_pct(None, lang="ru") == "—" and fmt_pp(np.nan, lang="ru") == "—"
    with pytest.raises(ValueError, match="lang must be one of en, ru, got 'de'"):
        fmt_num(1.0, lang="de")
    with pytest.raises(ValueError, match="got 'fr'"):
        L.segment_label("high_risk_high_profit", lang="fr")


@pytest.mark.parametrize("n, expected", [(1, "клиент"), (2, "клиента"), (4, "клиента"), (5, "клиентов"),
                                         (11, "клиентов"), (12, "клиентов"), (14, "клиентов"), (21, "клиент"),
                                         (22, "клиента"), (111, "клиентов"), (1242, "клиента"), (0, "клиентов")])
def test_russian_plural(n, expected):
    assert B.plural_ru(n, "клиент", "клиента", "клиентов") == expected


def test_russian_cases_after_prepositions():
    assert B.customers_dative_ru(297) == f"297{NBSP}клиентам" and B.customers_dative_ru(101) == f"101{NBSP}клиенту"
    assert B.customers_ru(1242) == f"1{NBSP}242{NBSP}клиента"


def test_markdown_aligns_russian_numbers_right():
    text = R.md(pd.DataFrame({"Сегмент": ["Высокий риск"], "Клиентов": [fmt_int(1296, lang="ru")],
                              "Доля": [fmt_pct(0.31, 0, lang="ru")],
                              "Изменение": [f"{fmt_pp(-0.033, lang='ru')} ({fmt_ci(-0.05, -0.01, 1, 100, lang='ru')})"]})).data
    separator = text.splitlines()[1].strip("|").split("|")
    assert separator[0].startswith(":") and all(cell.endswith(":") for cell in separator[1:])


# ---------------------------------------------------------------------------------------------------------
# One label table, two languages
# ---------------------------------------------------------------------------------------------------------

CYRILLIC = re.compile(r"[А-Яа-яЁё]")


def test_every_code_is_labelled_in_both_languages():
    for kind, tables in L.LABEL_TABLES.items():
        en, ru = set(tables["en"]), set(tables["ru"])
        assert ru <= en, f"{kind}: Russian codes without an English label: {sorted(ru - en)}"
        if kind not in L.PARTIAL_KINDS:
            assert en == ru, f"{kind}: English codes without a Russian label: {sorted(en - ru)}"
        for code, text in tables["ru"].items():
            assert CYRILLIC.search(text), f"{kind}:{code}: {text!r} is not Russian"


def test_russian_labels_by_code():
    assert L.segment_label("high_risk_high_profit", lang="ru") == "Высокий риск, высокая прибыль"
    assert L.segment_label("high_risk_home_textiles", lang="ru") == "Высокий риск, популярная категория «Домашний текстиль»"
    assert L.segment_label("high_risk_home_textiles") == "High risk, popular category home textiles"
    assert L.lever_label("cart_reminder", lang="ru").startswith("напоминание о корзине (допущение")
    assert L.lever_label("more_pages", lang="ru") == "На две страницы больше за визит"
    assert L.model_label("random_forest", lang="ru") == "случайный лес (настроенный)"
    assert L.variable_label("promo_share", lang="ru") == "Доля покупок по акции"
    assert L.level_label("contact_allowed", 1, lang="ru") == "да"
    assert L.level_label("popular_category", "kids_goods", lang="ru") == "Товары для детей"
    assert L.label("n_customers", lang="ru") == "Клиентов"


# ---------------------------------------------------------------------------------------------------------
# End to end: synthetic run -> brief.qmd -> HTML + PDF, read back with Poppler
# ---------------------------------------------------------------------------------------------------------


def _poppler_or_skip():
    missing = [tool for tool in POPPLER if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (Debian: apt-get install poppler-utils)"
        if os.environ.get("ONECLICK_REQUIRE_PDFTOOLS"):
            pytest.fail(message)  # CI installs them (.ci/run): their absence there is a failure
        pytest.skip(message)


@pytest.fixture(scope="module")
def rendered_brief(synthetic_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("brief")
    env = dict(os.environ, ONECLICK_RESULTS_DIR=str(synthetic_run), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    # --no-pre-render: the results are the synthetic run, not the analysis that _quarto.yml would run
    proc = subprocess.run([sys.executable, "-m", "qmdrender", str(BRIEF), "--output-dir", str(out),
                           "--quarto", "never", "--no-pre-render"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def _flat(text: str) -> str:
    """Spaces of any kind (Poppler turns a non-breaking space into a plain one) and line ends as one space."""
    return re.sub(r"\s+", " ", text.replace(NBSP, " ").replace("\u202f", " ")).strip()


#: A number as the brief prints it: thousands grouped by a space, a decimal comma.
_NUMBER = re.compile(r"\d{1,3}(?: \d{3})+(?:,\d+)?|\d+(?:,\d+)?")


def _numbers(text: str) -> set[str]:
    """Numbers of a text, line by line (a table cell is a line in pdftotext's output: no numbers joined)."""
    found = set()
    for line in text.replace(NBSP, " ").replace("\u202f", " ").splitlines():
        found.update(_NUMBER.findall(line))
    return found


@pytest.mark.slow  # renders a document
def test_brief_pdf_is_two_a4_pages_with_embedded_fonts(rendered_brief):
    _poppler_or_skip()
    pdf = rendered_brief / "brief.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, flags=re.M).group(1))
    assert 1 <= pages <= 2, f"the brief has {pages} pages"
    width, height = map(float, re.search(r"^Page size:\s+([\d.]+) x ([\d.]+) pts", info, flags=re.M).groups())
    assert width == pytest.approx(595.28, abs=1) and height == pytest.approx(841.89, abs=1)  # A4
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert fonts, "no fonts in the PDF"
    for line in fonts:
        emb = line.split()[-5]  # name type encoding emb sub uni object ID
        assert emb == "yes", f"font not embedded: {line}"


@pytest.mark.slow  # renders a document
def test_brief_text_is_russian_without_english_labels(rendered_brief):
    _poppler_or_skip()
    text = _text(rendered_brief / "brief.pdf")
    letters = re.findall(r"[^\W\d_]", text)
    cyrillic = sum(bool(CYRILLIC.match(c)) for c in letters)
    assert cyrillic / len(letters) > 0.9, f"only {cyrillic} of {len(letters)} letters are Cyrillic"
    flat = _flat(text).lower()
    english = {text for kind in ("segment", "action", "engagement", "model", "model_short", "variable", "level")
               for text in L.LABEL_TABLES[kind]["en"].values()}
    english |= {L.LABELS[code] for code in L.LABELS_RU}
    english |= {L.segment_label(code) for code in L.SEGMENT_LABELS}
    leaked = sorted(label for label in english if len(label) >= 4
                    and re.search(rf"(?<!\w){re.escape(_flat(label).lower())}(?!\w)", flat))
    assert not leaked, f"English labels in the brief: {leaked}"
    for heading in ("Кто под риском", "Где деньги", "Что делать", "Насколько мы уверены",
                    "С кем связаться в первую очередь"):
        assert heading in text
    # the order of the issue: who, money, what to do (with the experiment), how sure, whom to contact
    # (each searched after the previous one: the title also says "что делать"; index raises when one is missing)
    position = 0
    for part in ("Кто под риском", "Где деньги", "Что делать", "A/B-тест", "Насколько мы уверены",
                 "С кем связаться"):
        position = flat.index(part.lower(), position)
    assert "верхняя граница" in flat and "a/b-тест" in flat and "results/offers.csv" in flat


@pytest.mark.slow  # renders a document
def test_brief_numbers_equal_the_results(rendered_brief, synthetic_run):
    _poppler_or_skip()
    text = _text(rendered_brief / "brief.pdf")
    flat = _flat(text)
    read = lambda name: pd.read_csv(synthetic_run / f"{name}.csv")  # noqa: E731
    h = recompute_headline(synthetic_run)
    ru = dict(lang="ru")

    # Values recomputed from the CSVs here, formatted the Russian way, must be in the text.
    expected = {
        "customers": fmt_int(h["n_customers"], **ru), "high risk": fmt_int(h["n_high_risk"], **ru),
        "share high risk": fmt_pct(h["share_high_risk"], 0, **ru),
        "profit at risk": fmt_int(h["profit_at_risk_upper_total"], **ru),
        "profit at risk, high risk": fmt_int(h["profit_at_risk_upper_high_risk"], **ru),
        "AUC": fmt_pct(h["business_auc"], 0, **ru),
        "date": fmt_date(json.loads((synthetic_run / "manifest.json").read_text())["created"], "ru"),
    }
    segments = read("segments").set_index("segment")
    grid_total = segments.loc[list(L.GRID_SEGMENTS), "profit_at_risk_upper"].sum()
    # shares rounded by the largest remainder, recomputed here: they add up to 100 and each is within one point
    # of the exact share
    n = segments.loc[list(L.GRID_SEGMENTS), "n_customers"].to_numpy(float).copy()
    money = segments.loc[list(L.GRID_SEGMENTS), "profit_at_risk_upper"].to_numpy(float).copy()
    for values in (n, money):
        exact = 100 * values / values.sum()
        shares = np.floor(exact)
        shares[np.argsort(-(exact - shares), kind="stable")[:int(round(100 - shares.sum()))]] += 1
        assert shares.sum() == 100 and np.all(np.abs(shares - exact) < 1)
        values[:] = shares
    for code, share, money_share in zip(L.GRID_SEGMENTS, n, money):
        expected[f"{code} n"] = fmt_int(segments.loc[code, "n_customers"], **ru)
        expected[f"{code} share"] = fmt_pct(share / 100, 0, **ru)
        expected[f"{code} profit"] = fmt_int(segments.loc[code, "profit_at_risk_upper"], **ru)
        expected[f"{code} profit share"] = fmt_pct(money_share / 100, 0, **ru)
    # the store actions among all high-risk customers, from scenarios.csv and action_value.csv (not headline_actions)
    scen = read("scenarios")
    scen = scen[scen["group"] == L.ALL_HIGH_RISK].set_index("action")
    value = read("action_value").set_index("action")
    assert len(scen) == 2, "the store actions are missing: the test would check nothing"
    for action, r in scen.iterrows():
        expected[f"{action} effect"] = (f"{fmt_num(100 * r['effect'], 1, **ru)} "
                                        f"({fmt_ci(r['conf_low'], r['conf_high'], 1, 100, **ru)})")
        expected[f"{action} kept"] = fmt_int(r["customers_kept"], **ru)
        expected[f"{action} reached"] = fmt_int(r["n_with_room"], **ru)
        expected[f"{action} per contact"] = fmt_num(value.loc[action, "break_even_per_contact"], 3, **ru)
    offers_all = read("offers")
    high = offers_all[offers_all["p_decline"] >= float(read("segment_thresholds").set_index("threshold")
                                                      .loc["risk", "value"])]
    offered = high[~high["offer"].isin(["none", "personal_contact"])]
    expected["plan kept"] = fmt_int(offered["risk_drop"].sum(), **ru)
    expected["plan declines"] = fmt_int(high["p_decline"].sum(), **ru)
    expected["plan share"] = fmt_pct((offered["risk_drop"] * offered["profit"]).sum()
                                     / (high["p_decline"] * high["profit"]).sum(), 0, **ru)
    plan = read("experiment_plan")
    first = plan[(plan["group"] == L.ALL_HIGH_RISK) & (plan["action"] == "more_marketing")].iloc[0]
    expected["first experiment per arm"] = fmt_int(first["n_per_arm_80"], **ru)
    expected["first experiment in all"] = fmt_int(2 * first["n_per_arm_80"], **ru)
    for key, value in expected.items():
        assert _flat(value) in flat, f"{key}: {value!r} not in the brief"

    # The contact list: the segment's customers by profit kept by their offer, in that order.
    offers = read("offers")
    top = offers[offers["segment"] == B.CONTACT_SEGMENT].assign(kept=lambda f: f["risk_drop"] * f["profit"])
    top = top.sort_values(["kept", "id"], ascending=[False, True]).head(B.N_CONTACTS)
    lines = [line.strip() for line in text.splitlines()]
    # pdftotext writes a table column by column (the header line may hold the next column's name too)
    head = next(i for i, line in enumerate(lines) if line.split()[:1] == [L.label("id", "ru")])
    column = lines[head + 1:]
    ids = [int(line) for line in column[:len(top)]]
    assert ids == top["id"].tolist()

    # No other number: every number printed is one the brief's functions made from the results (tables,
    # sentences, labels such as "+1 ..."), apart from table and page numbers.
    res = R.load_results(synthetic_run)
    made = [*B.facts(res).values(), *B.decision_facts(res).values(), B.shares_note(), B.model_sentence(res),
            B.experiment_sentence(res), B.contacts_sentence(res), B.quick_note(res)]
    for table in (B.segments_table(res), B.actions_table(res), B.contacts_table(res)):
        made += [*table.columns, *table.astype(str).to_numpy().ravel()]
    allowed = set().union(*(_numbers(s) for s in made)) | set(expected.values())
    cleaned = re.sub(r"Таблиц[аеыу]\s+\d+", " ", text)
    cleaned = re.sub(r"^\s*\d+\s*/\s*\d+\s*$", " ", cleaned, flags=re.M)  # page numbers
    stray = sorted(n for n in _numbers(cleaned) if n not in allowed)
    assert not stray, f"numbers in the brief that come from no result: {stray}"


@pytest.mark.slow  # renders a document
def test_brief_html_is_russian(rendered_brief, synthetic_run):
    raw = (rendered_brief / "brief.html").read_text(encoding="utf-8")
    assert re.search(r'<html[^>]*lang="ru"', raw)
    assert re.search(r'<meta charset="utf-8"', raw, flags=re.I)
    text = _flat(html_lib.unescape(re.sub(r"<[^>]+>", " ", raw)))
    res = R.load_results(synthetic_run)
    for key, value in B.facts(res).items():
        assert _flat(value) in text, f"{key}={value!r} not in brief.html"
    assert "Кто под риском" in text and "Таблица 1" in text


@pytest.mark.slow  # renders a document
def test_brief_russian_typography_in_the_rendered_pdf(rendered_brief):
    """Cross-references declined ("в таблице 3", never "в Таблица 3"), captions "Таблица N — ...", no line that
    starts with a dash (the space before a dash is a no-break space), the rounded shares noted."""
    _poppler_or_skip()
    text = _text(rendered_brief / "brief.pdf")
    flat = _flat(text)
    assert not re.search(r"\b[вВ] Таблиц[аеы]", flat), "a cross-reference in the nominative after a preposition"
    assert re.search(r"в таблице \d", flat)
    assert not re.search(r"Таблица \d+:", flat), "a caption reads 'Таблица N:' instead of 'Таблица N — ...'"
    assert len(re.findall(r"Таблица \d+ — [А-ЯЁ]", flat)) == 3
    starts = [line for line in text.splitlines() if line.strip().startswith(("—", "–"))]
    assert not starts, f"lines starting with a dash: {starts}"
    assert "в сумме дают 100" in flat
