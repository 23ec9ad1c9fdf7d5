"""Every display label of the report and the brief in one place.

Results carry snake_case codes (models, segments, actions, engagement outcomes, offers) and patsy term names;
this module turns them into English (the report) or Russian (the brief, ``lang="ru"``) at the edge, from tables
keyed by the same codes (:data:`LABEL_TABLES`). Nothing else in :mod:`analysis.report` types a display string
for a code.
"""

from __future__ import annotations

import re

import pandas as pd

from analysis.settings import FULL
from analysis.codes import GRID_SEGMENTS  # noqa: F401  (the report's modules take the codes from here)
from analysis.data.dictionary import CATEGORY_DISPLAY, CATEGORY_LABELS, DICTIONARY, TARGET

#: Confidence level of every interval in the results (the pipeline's default everywhere; the run also writes
#: it to ``protocol.csv``).
CONF_LEVEL = FULL.conf_level
CI = f"{CONF_LEVEL:.0%} CI"
#: Threshold of the variance inflation factor in the column label (the value is in ``protocol.csv``).
VIF_THRESHOLD = FULL.vif_threshold

#: Display names of table columns (one map for the whole report).
LABELS = {
    "term": "Term", "variable": "Variable", "unit": "Unit (one step)", "estimate": "Log-odds",
    "std_error": "Std. error", "std_error_hc3": "Std. error (HC3)", "z": "z", "p_value": "p",
    "p_value_hc3": "p (HC3)", "p_adjusted": "p (Holm)", "p_holm": "p (Holm)", "conf_int": CI,
    "odds_ratio": "Odds ratio", "or_conf_int": f"Odds ratio {CI}", "ame": "AME (pp)", "ame_conf_int": f"{CI} (pp)",
    "vif": "VIF", "flagged": f"VIF > {VIF_THRESHOLD:g}", "n_columns": "Design columns", "gvif": "GVIF",
    "gvif_adjusted": "GVIF^(1/(2 df))", "phik": "phik", "significance_z": "Significance (z)",
    "step": "Step", "candidate": "Candidate term", "kind": "Kind", "lr_chi2": "LR χ²", "df": "df",
    "threshold": "Bonferroni threshold", "aic": "AIC", "selected": "Added",
    "file": "File", "content": "Content", "rows": "Rows", "bytes": "Bytes", "sha256": "SHA-256",
    "rows_in": "Rows in", "rows_out": "Rows out", "removed": "Removed", "reason": "Reason", "id": "Customer id",
    "detail": "Detail", "column": "Column", "typo": "Typo", "correction": "Corrected to",
    "group": "Group", "description": "Description", "variables": "Variables",
    "model": "Model", "model_a": "Model A", "model_b": "Model B", "auc_mean": "Mean CV AUC", "auc_sd": "SD",
    "auc_conf_int": f"{CI} (corrected)", "test_auc": "Hold-out AUC", "n_folds": "Folds", "auc_diff": "ΔAUC (A − B)",
    "t_stat": "Corrected t", "leverage": "Leverage", "cooks_distance": "Cook's distance",
    "pearson_residual": "Pearson residual", "deviance_residual": "Deviance residual", "y_true": "Declined",
    "p_oof": "P(decline), out-of-fold",
    "segment": "Segment", "n_customers": "Customers", "share": "Share", "mean_p_decline": "Mean P(decline)",
    "mean_profit": "Mean profit", "profit_at_risk": "Profit at risk", "value": "Value", "rule": "Rule",
    "group_value": "Segment", "rest_value": "Other customers", "effect_size": "Effect", "effect_measure": "Measure",
    "lever": "Lever", "n_with_room": "With room", "customers_kept": f"Customers kept ({CI})",
    "profit_retained": f"Profit retained ({CI})", "rank": "Rank", "share_with_room": "Share with room",
    "offer": "Offer", "total": "Total", "stage": "Stage", "seconds": "Seconds", "package": "Package",
    "version": "Version", "statistic": "Statistic", "name": "Column", "source_name": "Export column",
    "source_file": "Export file", "meaning": "Meaning", "risk_threshold": "Risk threshold",
    "n_high_risk": "High-risk customers", "action": "Action", "who": "Customers targeted",
    "export_value": "Export value", "table_value": "Table value", "english": "English",
    "effect": "Change in P(decline) over three months", "p_decline": "P(decline)", "profit": "Monthly profit",
    "risk_drop": "Risk reduction", "share_profit_at_risk": "Share of profit at risk",
}

#: Short English names of the customer-table and model columns.
VARIABLE_LABELS = {
    "id": "Customer id",
    TARGET: "Activity declined",
    "service_type": "Service type",
    "contact_allowed": "Consent to offers",
    "marketing_6m": "Marketing, 6-month average",
    "marketing_current": "Marketing, current month",
    "tenure_days": "Tenure",
    "tenure_100d": "Tenure",
    "promo_share": "Promotional share",
    "promo_share_10pp": "Promotional share",
    "popular_category": "Popular category",
    "categories_per_visit": "Categories per visit",
    "unpaid_items": "Unpaid cart items",
    "service_errors": "Service errors",
    "pages_per_visit": "Pages per visit",
    "revenue_prev2": "Revenue, two months before",
    "revenue_prev": "Revenue, previous month",
    "revenue_current": "Revenue, current month",
    "revenue_prev2_k": "Revenue, two months before",
    "revenue_prev_k": "Revenue, previous month",
    "revenue_current_k": "Revenue, current month",
    "minutes_prev": "Minutes on site, previous month",
    "minutes_current": "Minutes on site, current month",
    "profit": "Profit",
}

#: Very short names for the axes of the phik heat-map.
SHORT_LABELS = {
    "service_type": "Service type", "contact_allowed": "Consent", "marketing_6m": "Marketing, 6 months",
    "marketing_current": "Marketing, this month", "tenure_days": "Tenure", "promo_share": "Promo share",
    "popular_category": "Category", "categories_per_visit": "Categories/visit", "unpaid_items": "Unpaid items",
    "service_errors": "Service errors", "pages_per_visit": "Pages/visit",
    "revenue_prev2": "Revenue, 2 months ago", "revenue_prev": "Revenue, last month",
    "revenue_current": "Revenue, this month", "minutes_prev": "Minutes, last month",
    "minutes_current": "Minutes, this month", "profit": "Profit",
}

#: Units of the customer-table columns for axis labels (the dictionary's units, profit stated as exported).
AXIS_UNITS = {f.name: f.unit for f in DICTIONARY}
AXIS_UNITS["profit"] = "profit units, as exported"
AXIS_UNITS["promo_share"] = "share of purchases, 0–1"

STEP_LABELS = {
    "regular_customer": "Regular customers only",
    "extreme_revenue": "Implausible revenue",
    "join the four files": "Join the four exports",
}

FILE_CONTENT = {
    "market_file.csv": "Behaviour, communication and product attributes; the target",
    "market_money.csv": "Revenue per customer and month (three months, long format)",
    "market_time.csv": "Minutes on the site per customer and month (two months, long format)",
    "money.csv": "Average monthly profit per customer",
}

PERIOD_DISPLAY = {"препредыдущий_месяц": "two months before", "предыдущий_месяц": "previous month",
                  "текущий_месяц": "current month"}

#: Model codes of the benchmark -> long label (tables) and short label (figures, comparisons).
MODEL_LABELS = {
    "logit_selected": "Logit, specification selected inside each fold",
    "logit_selected_recalibrated": "Logit, selected, recalibrated inside each fold",
    "logit_linear": "Logit, all predictors linear",
    "logit_linear_recalibrated": "Logit, all linear, recalibrated inside each fold",
    "logit_floor": "Logit with a floor, all linear (maximum likelihood)",
    "logit_floor_recalibrated": "Logit with a floor, recalibrated inside each fold",
    "gam_engagement": "Penalised splines of the engagement variables (logistic GAM)",
    "gam_engagement_recalibrated": "Penalised splines, recalibrated inside each fold",
    "logit_promo_flexible": "Logit, all linear, promotion with its own intercept and slope in the upper cluster",
    "logit_promo_flexible_recalibrated": "Logit, promotion by cluster, recalibrated inside each fold",
    "logit_l2": "Penalised logistic regression (L1/L2, tuned)",
    "svc_rbf": "Support vector machine, RBF kernel (tuned)",
    "random_forest": "Random forest (tuned)",
    "decision_tree": "Decision tree (tuned depth)",
    "knn": "k nearest neighbours (tuned k)",
    "logit_chosen": "Chosen logit (all customers)",
    "logit_spec": "Logit, specification chosen on all customers",
}
MODEL_SHORT = {
    "logit_selected": "Logit, selected", "logit_selected_recalibrated": "Logit, selected, recal.",
    "logit_linear": "Logit, linear", "logit_linear_recalibrated": "Logit, linear, recal.",
    "logit_floor": "Floor logit", "logit_floor_recalibrated": "Floor logit, recal.",
    "gam_engagement": "GAM", "gam_engagement_recalibrated": "GAM, recal.",
    "logit_promo_flexible": "Logit, promotion by cluster", "logit_promo_flexible_recalibrated":
    "Logit, promotion by cluster, recal.",
    "logit_l2": "Penalised logit", "svc_rbf": "SVM (RBF)", "random_forest": "Random forest",
    "decision_tree": "Decision tree", "knn": "k-NN", "logit_spec": "Logit, full-data spec.",
}
#: Roles of the candidate models and of the marginal-effect columns.
ROLE_LABELS = {"inference": "inference", "business": "business figures", "inference_and_business":
               "inference and business figures", "lead": "Lead (business model)",
               "inference model": "Inference model", "sensitivity": "Sensitivity (plain logit)",
               "described": "described (defines the group)", "tested": "tested"}

#: Segment and focus-group codes.
SEGMENT_LABELS = {
    "high_risk_high_profit": "high risk, high profit", "high_risk_low_profit": "high risk, low profit",
    "low_risk_high_profit": "low risk, high profit", "low_risk_low_profit": "low risk, low profit",
    "high_risk_all": "all high risk", "high_risk_promo": "high risk, promotion-dependent",
    "not_scored": "not scored",
}
ALL_HIGH_RISK = "high_risk_all"
PROMO_GROUP = "high_risk_promo"

#: Store actions, actions that rest on an assumption, and offers (codes of ``levers.csv``): short labels.
ACTION_LABELS = {
    "more_marketing": "+1 marketing contact per month for six months (with consent)",
    "marketing_this_month": "+1 marketing contact this month (with consent)",
    "less_promotion": "Fewer promotional mailings (assumed: −10 pp promotional share)",
    "cart_reminder": "Cart reminder (assumed: −1 unpaid item)",
    "none": "None (standard communication)",
    "personal_contact": "Personal contact (no offered action applies)",
}
#: Compact action labels for wide tables (consent is stated in the table caption).
ACTION_SHORT = {
    "more_marketing": "+1 contact/month (6 months)",
    "marketing_this_month": "+1 contact now",
    "less_promotion": "fewer promo mailings",
    "cart_reminder": "cart reminder",
}
ENGAGEMENT_LABELS = {
    "more_categories": "one more category viewed per visit",
    "more_pages": "two more pages per visit",
}
#: Actions and engagement codes whose meaning is an outcome, not a lever: never shown as an offer.
ENGAGEMENT_CODES = frozenset(ENGAGEMENT_LABELS)

STEP_KIND_LABELS = {"spline": "spline", "interaction": "product", "linear": "linear"}


# ---------------------------------------------------------------------------------------------------------
# Russian: the same codes, for the brief (brief.qmd). A test checks that every code labelled in English is
# labelled in Russian and the other way round.
# ---------------------------------------------------------------------------------------------------------

#: Column names of the brief's tables.
LABELS_RU = {
    "segment": "Сегмент", "n_customers": "Клиентов", "share": "Доля",
    "mean_p_decline": "Средний риск", "profit_at_risk": "Прибыль под риском",
    "share_profit_at_risk": "Её доля", "action": "Действие", "who": "Охват",
    "effect": "Изменение риска", "customers_kept": "Удержано клиентов",
    "id": "Клиент", "p_decline": "Риск", "profit": "Прибыль в месяц", "offer": "Предложение",
    "risk_drop": "Снижение риска",
}
VARIABLE_LABELS_RU = {
    "id": "Номер клиента",
    TARGET: "Снижение активности",
    "service_type": "Тип сервиса",
    "contact_allowed": "Согласие на предложения",
    "marketing_6m": "Маркетинг, среднее за полгода",
    "marketing_current": "Маркетинг, текущий месяц",
    "tenure_days": "Срок с регистрации",
    "tenure_100d": "Срок с регистрации",
    "promo_share": "Доля покупок по акции",
    "promo_share_10pp": "Доля покупок по акции",
    "popular_category": "Популярная категория",
    "categories_per_visit": "Категорий за визит",
    "unpaid_items": "Неоплаченные товары в корзине",
    "service_errors": "Сбои сервиса",
    "pages_per_visit": "Страниц за визит",
    "revenue_prev2": "Выручка, позапрошлый месяц",
    "revenue_prev": "Выручка, прошлый месяц",
    "revenue_current": "Выручка, текущий месяц",
    "revenue_prev2_k": "Выручка, позапрошлый месяц",
    "revenue_prev_k": "Выручка, прошлый месяц",
    "revenue_current_k": "Выручка, текущий месяц",
    "minutes_prev": "Минут на сайте, прошлый месяц",
    "minutes_current": "Минут на сайте, текущий месяц",
    "profit": "Прибыль",
}
#: Category levels in Russian: the store's own names (the export's spelling, its typo corrected).
LEVEL_LABELS_RU = {code: ru for mapping in CATEGORY_LABELS.values() for ru, code in mapping.items()
                   if code not in ("0", "1")}
MODEL_LABELS_RU = {
    "logit_selected": "логистическая регрессия, спецификация выбрана внутри каждого блока",
    "logit_selected_recalibrated": "логистическая регрессия, выбранная внутри блока, с перекалибровкой",
    "logit_linear": "логистическая регрессия, все признаки линейно",
    "logit_linear_recalibrated": "логистическая регрессия, все признаки линейно, с перекалибровкой",
    "logit_floor": "логистическая регрессия с нижним порогом, все признаки линейно",
    "logit_floor_recalibrated": "логистическая регрессия с нижним порогом, с перекалибровкой",
    "logit_promo_flexible": "логистическая регрессия, своя доля акций для кластера «покупают по акциям»",
    "logit_promo_flexible_recalibrated": "логистическая регрессия, своя доля акций для кластера, с перекалибровкой",
    "gam_engagement": "логистическая модель со сглаживающими сплайнами вовлечённости",
    "gam_engagement_recalibrated": "логистическая модель со сглаживающими сплайнами, с перекалибровкой",
    "logit_l2": "логистическая регрессия со штрафом (настроенная)",
    "svc_rbf": "метод опорных векторов (настроенный)",
    "random_forest": "случайный лес (настроенный)",
    "decision_tree": "дерево решений (настроенная глубина)",
    "knn": "метод ближайших соседей (настроенный)",
    "logit_chosen": "выбранная логистическая регрессия (все клиенты)",
    "logit_spec": "логистическая регрессия, спецификация выбрана на всех клиентах",
}
MODEL_SHORT_RU = {
    "logit_selected": "логит, выбранный", "logit_selected_recalibrated": "логит, выбранный, перекалибр.",
    "logit_linear": "логит, линейный", "logit_linear_recalibrated": "логит, линейный, перекалибр.",
    "logit_floor": "логит с порогом", "logit_floor_recalibrated": "логит с порогом, перекалибр.",
    "gam_engagement": "сплайновая модель", "gam_engagement_recalibrated": "сплайновая модель, перекалибр.",
    "logit_promo_flexible": "логит, акции по кластерам",
    "logit_promo_flexible_recalibrated": "логит, акции по кластерам, перекалибр.",
    "logit_l2": "логит со штрафом", "svc_rbf": "опорные векторы", "random_forest": "случайный лес",
    "decision_tree": "дерево решений", "knn": "ближайшие соседи", "logit_spec": "логит, спецификация на всех",
}
SEGMENT_LABELS_RU = {
    "high_risk_high_profit": "высокий риск, высокая прибыль", "high_risk_low_profit": "высокий риск, низкая прибыль",
    "low_risk_high_profit": "низкий риск, высокая прибыль", "low_risk_low_profit": "низкий риск, низкая прибыль",
    "high_risk_all": "все клиенты с высоким риском", "high_risk_promo": "высокий риск, покупают в основном по акциям",
    "not_scored": "без оценки",
}
ACTION_LABELS_RU = {
    "more_marketing": "+1 маркетинговый контакт в месяц в течение полугода (с согласия клиента)",
    "marketing_this_month": "+1 маркетинговый контакт в этом месяце (с согласия клиента)",
    "less_promotion": "меньше акционных рассылок (допущение: доля покупок по акции −10\u00a0п.\u00a0п.)",
    "cart_reminder": "напоминание о корзине (допущение: −1 неоплаченный товар)",
    "none": "нет (обычная рассылка)",
    "personal_contact": "личный звонок менеджера (ни одно действие не применимо)",
}
#: Compact Russian action labels for the brief's tables.
ACTION_SHORT_RU = {
    "more_marketing": "+1 контакт в месяц (полгода)",
    "marketing_this_month": "+1 контакт в этом месяце",
    "less_promotion": "меньше акционных рассылок",
    "cart_reminder": "напоминание о корзине",
}
ENGAGEMENT_LABELS_RU = {
    "more_categories": "на одну категорию больше за визит",
    "more_pages": "на две страницы больше за визит",
}

#: Every bilingual label table: kind -> language -> code -> label (the same codes in every language).
LABEL_TABLES = {
    "column": {"en": LABELS, "ru": LABELS_RU},
    "variable": {"en": VARIABLE_LABELS, "ru": VARIABLE_LABELS_RU},
    "level": {"en": CATEGORY_DISPLAY, "ru": LEVEL_LABELS_RU},
    "model": {"en": MODEL_LABELS, "ru": MODEL_LABELS_RU},
    "model_short": {"en": MODEL_SHORT, "ru": MODEL_SHORT_RU},
    "segment": {"en": SEGMENT_LABELS, "ru": SEGMENT_LABELS_RU},
    "action": {"en": ACTION_LABELS, "ru": ACTION_LABELS_RU},
    "action_short": {"en": ACTION_SHORT, "ru": ACTION_SHORT_RU},
    "engagement": {"en": ENGAGEMENT_LABELS, "ru": ENGAGEMENT_LABELS_RU},
}
#: Kinds whose Russian table covers only what the brief shows (the English report has far more columns):
#: there every Russian code has an English label, not the other way round.
PARTIAL_KINDS = frozenset({"column"})


def _table(kind: str, lang: str) -> dict[str, str]:
    tables = LABEL_TABLES[kind]
    if lang not in tables:
        raise ValueError(f"lang must be one of {', '.join(tables)}, got {lang!r}")
    return tables[lang]


def label(column: str, lang: str = "en") -> str:
    """Display name of a table column."""
    return _table("column", lang).get(column, column.replace("_", " ").capitalize())


def relabel(frame: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Rename the columns that have a display name in :data:`LABELS` (or :data:`LABELS_RU`); others are kept."""
    names = _table("column", lang)
    return frame.rename(columns={c: names[c] for c in frame.columns if c in names})


def variable_label(name: str, lang: str = "en") -> str:
    return _table("variable", lang).get(name, name.replace("_", " ").capitalize())


def level_label(variable: str, level, lang: str = "en") -> str:
    """Display of a category level (``home_textiles`` -> ``Home textiles`` / ``Домашний текстиль``, consent 1 ->
    ``yes`` / ``да``)."""
    text = str(level).strip().strip("'\"")
    if variable == "contact_allowed":
        yes, no = ("да", "нет") if lang == "ru" else ("yes", "no")
        return {"1": yes, "0": no, "1.0": yes, "0.0": no}.get(text, text)
    return _table("level", lang).get(text, text.replace("_", " "))


_CATEGORICAL = re.compile(r"^C\((?P<var>\w+),\s*Treatment\((?P<ref>[^)]*)\)\)(?:\[T\.(?P<level>.+)\])?$")
#: ``cr(x, df=4)[2]`` and the centred ``cr(x, df=4, constraints='center')[2]``.
_SPLINE = re.compile(r"^(?P<fn>cr|bs|cc)\((?P<var>\w+)\b.*\)\[(?P<k>\d+)\]$")
_SPLINE_CANDIDATE = re.compile(r"^spline\((?P<var>\w+)\)$")
_SPLINE_TERM = re.compile(r"^(?P<fn>cr|bs|cc)\((?P<var>\w+),\s*df\s*=\s*(?P<df>\d+)\s*(?:,[^)]*)?\)$")
#: A numeric variable centred at its typical value: ``I(pages_per_visit - 3.0)``.
_CENTRED = re.compile(r"^I\((?P<var>\w+)\s*-\s*(?P<centre>[-\d.e+]+)\)$")


def _split_product(term: str) -> list[str]:
    """The factors of a patsy product, ``:`` inside parentheses (none in practice) kept."""
    parts, depth, current = [], 0, ""
    for ch in term:
        depth += ch == "("
        depth -= ch == ")"
        if ch == ":" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return parts + [current]


def term_label(term: str) -> str:
    """English name of a patsy term or design column.

    ``C(popular_category, Treatment('kids_goods'))[T.home_textiles]`` -> ``Popular category: Home textiles
    (vs Kids' goods)``; ``cr(pages_per_visit, df=4, constraints='center')[2]`` -> ``Pages per visit, spline
    basis 3``; ``I(a - 8.0):I(b - 13.0)`` -> ``A × B (centred)``; a bare column -> its
    :data:`VARIABLE_LABELS` name.
    """
    term = str(term).strip()
    if term == "Intercept":
        return "Intercept"
    if term == "floor_gamma":
        return "Floor γ (lowest probability)"
    m = _CATEGORICAL.match(term)
    if m:
        var = m["var"]
        if m["level"] is None:
            return variable_label(var)
        return f"{variable_label(var)}: {level_label(var, m['level'])} (vs {level_label(var, m['ref'])})"
    m = _SPLINE.match(term)
    if m:
        return f"{variable_label(m['var'])}, spline basis {int(m['k']) + 1}"
    m = _SPLINE_CANDIDATE.match(term)
    if m:
        return f"Spline in {variable_label(m['var']).lower()}"
    m = _SPLINE_TERM.match(term)
    if m:
        return f"{variable_label(m['var'])} (natural cubic spline, df = {m['df']})"
    parts = _split_product(term)
    if len(parts) > 1:
        centred = all(_CENTRED.match(p) for p in parts)
        names = " × ".join(term_label(p) for p in parts)
        return f"{names} (centred)" if centred else names
    m = _CENTRED.match(term)
    if m:
        return variable_label(m["var"])
    return variable_label(term)



def is_spline(term: str) -> bool:
    return bool(_SPLINE.match(str(term)))


def is_categorical(term: str) -> bool:
    return bool(_CATEGORICAL.match(str(term)))


def contrast_label(term: str, contrast: str) -> str:
    """Label of an AME row: a numeric derivative or a categorical contrast ``level - reference``."""
    if contrast and " - " in str(contrast):
        level, reference = str(contrast).split(" - ", 1)
        return f"{variable_label(term)}: {level_label(term, level)} (vs {level_label(term, reference)})"
    return term_label(term)


def capitalise(text: str) -> str:
    text = str(text)
    return text[:1].upper() + text[1:]


def segment_label(code: str, lang: str = "en") -> str:
    """``high_risk_high_profit`` -> ``High risk, high profit`` / ``Высокий риск, высокая прибыль``;
    ``high_risk_home_textiles`` -> ``High risk, popular category home textiles`` / ``Высокий риск, популярная
    категория «Домашний текстиль»``."""
    code = str(code)
    labels = _table("segment", lang)
    if code in labels:
        return capitalise(labels[code])
    if code.startswith("high_risk_"):
        level = level_label("popular_category", code[len("high_risk_"):], lang)
        if lang == "ru":
            return f"Высокий риск, популярная категория «{level}»"
        return f"High risk, popular category {level.lower()}"
    return capitalise(code.replace("_", " "))


def model_label(code: str, short: bool = False, lang: str = "en") -> str:
    return _table("model_short" if short else "model", lang).get(str(code), str(code))


def lever_label(code: str, lang: str = "en", short: bool = False) -> str:
    """Label of an action, an engagement outcome or an offer code (``short``: the compact table label, where
    there is one)."""
    code = str(code)
    if short and code in _table("action_short", lang):
        return _table("action_short", lang)[code]
    return (_table("action", lang).get(code)
            or capitalise(_table("engagement", lang).get(code, code.replace("_", " "))))


#: A method as the results name it -> the report's words with a citation (references.bib) that replace its
#: parentheses: "(linear-programming (Konis 2007))" reads "(linear-programming check, Konis 2007)".
METHOD_CITATIONS = {"linear-programming (Konis 2007)": "[linear-programming check, @konis2007]"}


def method_citation(method: str) -> str:
    """A method named in a result table, in parentheses, with its citation when references.bib has it."""
    return METHOD_CITATIONS.get(str(method), f"({method})")


def short_unit(unit: str) -> str:
    return (str(unit).replace("percentage points", "pp").replace("vs reference ", "vs ")
            .replace("'", ""))
