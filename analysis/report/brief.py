"""The Russian two-page brief (``brief.qmd``): its sentences and tables, read from the results bundle only.

Every number goes through :mod:`analysis.report.formats` with ``lang="ru"`` and every code through
:mod:`analysis.report.labels` with ``lang="ru"``; ``brief.qmd`` holds the prose and calls these functions.
The brief shows what the English report's executive summary shows, for managers: who is at risk, where the
money is (an upper bound), what to do (store-controlled actions, associations to confirm by an A/B test), how
sure we are, whom to contact first, and the size of the first experiment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.report.formats import (
    NBSP,
    fmt_ci,
    fmt_date,
    fmt_int,
    fmt_num,
    fmt_pct,
    fmt_pp,
    markdown_result,
    rounded_shares,
    quote,
    with_unit,
)
from analysis.report.labels import ALL_HIGH_RISK, GRID_SEGMENTS, label, lever_label, model_label, segment_label
from analysis.results.registry import Results
from analysis.report.text import conf_level, headline, run_info

LANG = "ru"
#: The segment whose customers are contacted first (the top of the risk × profit grid).
CONTACT_SEGMENT = "high_risk_high_profit"
#: Rows of the contact list printed in the brief (the full list is ``results/offers.csv``).
N_CONTACTS = 10
#: Power of ``n_per_arm_80`` in ``experiment_plan.csv`` (the column is named for it).
PLAN_POWER = 0.8
#: Offers that are no store action (no risk reduction is predicted for them).
NO_ACTION_OFFERS = ("none", "personal_contact")
PROFIT_UNIT = f"ед.{NBSP}прибыли"


def plural_ru(n: int, one: str, few: str, many: str) -> str:
    """The Russian noun form for the integer ``n``: 1 клиент, 2 клиента, 5 клиентов, 11 клиентов, 21 клиент."""
    n = abs(int(n))
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def customers_ru(n: int) -> str:
    """``1 242 клиента`` (the number formatted, a non-breaking space before the noun)."""
    return with_unit(fmt_int(n, LANG), plural_ru(n, "клиент", "клиента", "клиентов"))


def customers_dative_ru(n: int) -> str:
    """``к 297 клиентам`` / ``к 21 клиенту``: the dative after «к»."""
    n = int(n)
    noun = "клиенту" if n % 10 == 1 and n % 100 != 11 else "клиентам"
    return with_unit(fmt_int(n, LANG), noun)


def run_date(res: Results) -> str:
    """The date of the run that wrote these results, in Russian (``23 ноября 2026 г.``)."""
    from analysis.results.store import read_manifest

    return fmt_date(read_manifest(res.directory)["created"], LANG)


@markdown_result
def facts(res: Results) -> dict[str, str]:
    """The brief's inline numbers and names, formatted the Russian way."""
    h = headline(res)
    segments = res["segments"].set_index("segment")
    top = segments.loc[CONTACT_SEGMENT]
    return {
        "date": run_date(res),
        "n_customers": fmt_int(h["n_customers"], LANG),
        "n_high_risk": fmt_int(h["n_high_risk"], LANG),
        "share_high_risk": fmt_pct(h["share_high_risk"], 0, LANG),
        "risk_threshold": fmt_num(h["risk_threshold"], 2, LANG),
        "profit_at_risk_total": with_unit(fmt_int(h["profit_at_risk_upper_total"], LANG), PROFIT_UNIT),
        "profit_at_risk_high_risk": with_unit(fmt_int(h["profit_at_risk_upper_high_risk"], LANG), PROFIT_UNIT),
        "share_profit_at_risk_high_risk": fmt_pct(h["share_profit_at_risk_high_risk"], 0, LANG),
        "contact_segment": quote(segment_label(CONTACT_SEGMENT, LANG).lower(), LANG),
        "contact_segment_n": customers_ru(top["n_customers"]),
        "contact_segment_profit_at_risk": with_unit(fmt_int(top["profit_at_risk_upper"], LANG), PROFIT_UNIT),
        "contact_segment_share_of_profit_at_risk": fmt_pct(
            top["profit_at_risk_upper"] / h["profit_at_risk_upper_total"], 0, LANG),
        "conf_level": fmt_pct(conf_level(res), 0, LANG),
    }


def segments_table(res: Results) -> pd.DataFrame:
    """The four risk × profit segments: customers, share, mean probability of decline, profit at risk per month
    (an upper bound) and its share of the total. Both shares are rounded so that they add up to 100 %."""
    s = res["segments"].set_index("segment")
    codes = list(GRID_SEGMENTS)
    share = rounded_shares(s.loc[codes, "n_customers"].to_numpy(float))
    profit_share = rounded_shares(s.loc[codes, "profit_at_risk_upper"].to_numpy(float))
    rows = []
    for code, a, b in zip(codes, share, profit_share):
        r = s.loc[code]
        rows.append({
            "segment": segment_label(code, LANG), "n_customers": fmt_int(r["n_customers"], LANG),
            "share": fmt_pct(a / 100, 0, LANG), "mean_p_decline": fmt_num(r["mean_p_decline"], 2, LANG),
            "profit_at_risk": fmt_int(r["profit_at_risk_upper"], LANG),
            "share_profit_at_risk": fmt_pct(b / 100, 0, LANG),
        })
    frame = pd.DataFrame(rows)
    return frame.rename(columns={c: label(c, LANG) for c in frame.columns})


@markdown_result
def shares_note() -> str:
    """The note under the segments table: its rounded shares add up to the whole."""
    return f"Доли в таблице округлены так, что в каждом столбце в сумме дают 100{NBSP}%."


def action_rows(res: Results) -> pd.DataFrame:
    """The store actions of ``headline_actions.csv`` (the run's figures), in the order of the data dictionary."""
    return res["headline_actions"].reset_index(drop=True)


def _decision_ru(r) -> str:
    if _is_true(r["recommended"]):
        return "применять"
    if _is_true(r["offered"]):
        return "проверить тестом"
    return "нет"


def actions_table(res: Results) -> pd.DataFrame:
    """The store's actions among the high-risk customers they reach: the change in the probability of decline over
    three months (pp, bootstrap CI) and its range over the models, whole customers kept, monthly profit retained
    and the break-even price of a contact (upper bounds), and the decision."""
    rows = []
    for r in action_rows(res).to_dict("records"):
        rows.append({
            "Действие": lever_label(r["action"], LANG, short=True),
            "Клиентов": fmt_int(r["n_treated"], LANG),
            "Изменение риска, п.\u00a0п. (ДИ)":
                f"{fmt_num(100 * r['effect'], 1, LANG)} ({fmt_ci(r['conf_low'], r['conf_high'], 1, 100, LANG)})",
            "По разным моделям": fmt_ci(r["model_min"], r["model_max"], 1, 100, LANG),
            "Удержано клиентов (ДИ)":
                f"{fmt_int(r['customers_kept'], LANG)} ({fmt_ci(r['customers_kept_low'], r['customers_kept_high'], 0, lang=LANG)})",
            "Окупается, если контакт дешевле": fmt_num(r["break_even_per_contact"], 3, LANG),
            "Решение": _decision_ru(r),
        })
    return pd.DataFrame(rows)


@markdown_result
def decision_facts(res: Results) -> dict[str, str]:
    """The brief's decision sentences' numbers (Russian formats, whole customers)."""
    rows = {r["action"]: r for r in action_rows(res).to_dict("records")}
    h = res["headline"].iloc[0]
    out = {
        "n_offered": customers_ru(h["n_offered"]),
        "plan_kept": fmt_int(h["plan_customers_kept"], LANG),
        "plan_kept_ci": fmt_ci(h["plan_customers_kept_low"], h["plan_customers_kept_high"], 0, lang=LANG),
        "plan_declines": fmt_int(h["plan_expected_declines"], LANG),
        "plan_profit": with_unit(fmt_num(h["plan_profit_retained"], 1, LANG), PROFIT_UNIT),
        "plan_share": fmt_pct(h["plan_share_of_profit_at_risk"], 0, LANG),
        "profit_at_risk_high": with_unit(fmt_int(h["profit_at_risk_upper_high_risk"], LANG), PROFIT_UNIT),
        "max_risk": fmt_num(res["offers"]["p_decline"].max(), 2, LANG),
    }
    main = rows.get("more_marketing")
    if main is not None:
        out.update({
            "main_per_contact": with_unit(fmt_num(main["break_even_per_contact"], 3, LANG), PROFIT_UNIT),
            "main_per_contact_ci": fmt_ci(main["break_even_per_contact_low"], main["break_even_per_contact_high"], 3,
                                          lang=LANG),
            "main_decision": ("данные поддерживают его при любой из моделей, одинаково хорошо описывающих данные"
                              if _is_true(main["recommended"]) else
                              "модель его поддерживает, но при одной из моделей, описывающих данные не хуже, "
                              "интервал включает ноль, поэтому его стоит не вводить для всех, а проверить тестом"
                              if _is_true(main["offered"]) else "данные его не поддерживают"),
        })
    month = rows.get("marketing_this_month")
    if month is not None:
        out["month_effect"] = (f"{fmt_num(100 * month['effect'], 1, LANG)}{NBSP}п.{NBSP}п. "
                               f"({fmt_ci(month['conf_low'], month['conf_high'], 1, 100, LANG)})")
    return out


def contacts(res: Results, n: int = N_CONTACTS) -> pd.DataFrame:
    """The first ``n`` customers of :data:`CONTACT_SEGMENT` in ``offers.csv``, by the monthly profit their offer
    is expected to keep (risk_drop × profit, an upper bound as the profit at risk; largest first, ties by id):
    those whom a contact helps most. Columns as ``offers.csv`` plus ``profit_kept``."""
    o = res["offers"]
    o = o[o["segment"] == CONTACT_SEGMENT].assign(profit_kept=lambda f: f["risk_drop"] * f["profit"])
    return o.sort_values(["profit_kept", "id"], ascending=[False, True], kind="stable").head(n)


def contacts_table(res: Results, n: int = N_CONTACTS) -> pd.DataFrame:
    c = contacts(res, n)
    return pd.DataFrame({
        label("id", LANG): c["id"].astype(str),
        label("p_decline", LANG): c["p_decline"].map(lambda x: fmt_num(x, 2, LANG)),
        label("profit", LANG): c["profit"].map(lambda x: fmt_num(x, 2, LANG)),
        label("offer", LANG): c["offer"].map(lambda x: lever_label(x, LANG, short=True)),
        label("risk_drop", LANG): [("—" if o in NO_ACTION_OFFERS else
                                    f"{fmt_pp(d, 1, LANG, sign=False)} ({fmt_ci(lo, hi, 1, 100, LANG)})")
                                   for o, d, lo, hi in zip(c["offer"], c["risk_drop"], c["risk_drop_conf_low"],
                                                           c["risk_drop_conf_high"])],
    })


@markdown_result
def contacts_sentence(res: Results) -> str:
    """How many customers of the segment get each kind of offer (from ``offers.csv``)."""
    o = res["offers"]
    o = o[o["segment"] == CONTACT_SEGMENT]
    counts = o["offer"].value_counts()
    counts = counts.reindex(sorted(counts.index, key=lambda c: (-counts[c], c)))
    parts = [f"{quote(lever_label(code, LANG, short=True), LANG)}{NBSP}— {fmt_int(k, LANG)}"
             for code, k in counts.items()]
    return f"Предложения в сегменте: {'; '.join(parts)}."


@markdown_result
def model_sentence(res: Results) -> str:
    """Model quality in one sentence: AUC read as the share of correctly ordered pairs, and calibration."""
    h = headline(res)
    model = model_label(h["business_model"], lang=LANG)
    auc = fmt_pct(h["business_auc"], 0, LANG)
    calibration = ("её вероятности совпадают с наблюдаемой долей снижений (проверка калибровки пройдена)"
                   if h["business_meets_target"] else
                   "её вероятности близки к наблюдаемой доле снижений, но проверку калибровки проходят не полностью")
    return (f"Модель риска ({model}) проверена на клиентах, которых она не видела при обучении: из двух клиентов, "
            f"один из которых снизил активность, а другой нет, она в {auc} случаев даёт больший риск первому, "
            f"и {calibration}.")


def quick_note(res: Results) -> str:
    """A warning when the results come from the reduced test protocol, else nothing."""
    if not run_info(res)["quick"]:
        return ""
    return ("::: {.callout-warning title=\"Черновой расчёт\"}\n"
            "Цифры получены по сокращённому протоколу проверки модели, предназначенному для тестов; перед "
            "решениями запустите полный расчёт (`python -m analysis run`).\n:::\n")


def first_experiment(res: Results) -> pd.Series | None:
    """The row of ``experiment_plan.csv`` of the first store action among all high-risk customers (the first
    row of the plan when there is none); None for an empty plan."""
    plan = res["experiment_plan"]
    if plan.empty:
        return None
    first = action_rows(res)
    if len(first):
        match = plan[(plan["group"] == ALL_HIGH_RISK) & (plan["action"] == first["action"].iloc[0])]
        if len(match):
            return match.iloc[0]
    return plan.iloc[0]


def _is_true(x) -> bool:
    return str(x).strip().lower() in ("true", "1")


@markdown_result
def experiment_sentence(res: Results) -> str:
    """One sentence with the sample size of the first experiment (``experiment_plan.csv``)."""
    e = first_experiment(res)
    if e is None:
        return "Ни одно действие нельзя применить к клиентам, поэтому эксперимент не планируется."
    action = quote(lever_label(e["action"], LANG).split(" (")[0], LANG)
    group = segment_label(e["group"], LANG).lower()
    power = fmt_pct(PLAN_POWER, 0, LANG)
    n = e["n_per_arm_80"]
    if pd.isna(n) or not np.isfinite(float(n)):
        return (f"Первый эксперимент\u00a0— {action} ({group})\u00a0— по предсказанному эффекту рассчитать нельзя; "
                "подробности в results/experiment_plan.csv.")
    n = int(n)
    need = (f"чтобы с вероятностью {power} заметить предсказанное изменение на "
            f"{fmt_pp(e['predicted_effect'], 1, LANG)}, нужно {customers_ru(n)} в каждой из двух групп "
            f"(с действием и без), всего {fmt_int(2 * n, LANG)}")
    if _is_true(e["feasible"]):
        return (f"Первый A/B-тест\u00a0— {action} ({group}): {need}; действие можно применить к "
                f"{customers_dative_ru(e['n_with_room'])}, так что тест осуществим.")
    return (f"Первый A/B-тест\u00a0— {action} ({group}): {need}, а сейчас действие можно применить лишь к "
            f"{customers_dative_ru(e['n_with_room'])}, и на них заметно только изменение от "
            f"{fmt_pp(abs(e['mde_80']), 1, LANG, sign=False)}; значит, тест нужно вести дольше, добавляя новых "
            "клиентов по мере их появления, или проверять действие на большей группе (план: "
            "results/experiment_plan.csv).")
