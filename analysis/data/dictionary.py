"""The data dictionary: the single source of truth for names, meanings, units and groups.

Every English column name of the customer table, every Russian label of the store's exports and every
known typo of those exports is declared here and nowhere else. ``data/README.md`` is rendered from
:data:`DICTIONARY` by :func:`dictionary_markdown`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

MARKET_FILE = "market_file.csv"
MARKET_MONEY = "market_money.csv"
MARKET_TIME = "market_time.csv"
MONEY = "money.csv"
EXPORT_FILES = (MARKET_FILE, MARKET_MONEY, MARKET_TIME, MONEY)

ID_RU = "id"
TARGET_RU = "Покупательская активность"
PERIOD_RU = "Период"
REVENUE_RU = "Выручка"
MINUTES_RU = "минут"
PROFIT_RU = "Прибыль"

TARGET = "activity_decline"
TARGET_LABELS = {"Снизилась": 1, "Прежний уровень": 0}

FEATURE_GROUPS = {
    "communication": "How the store communicates with the customer",
    "product": "Product behaviour: what the customer buys and how",
    "purchase": "Purchase behaviour: how much the customer spends",
    "site": "Site behaviour: how the customer uses the web site",
}


#: Who determines a variable: the classification every recommendation, offer and headline obeys. Only a
#: ``store_action`` can be a lever; a behaviour is what the customer does, whatever the store hopes to
#: change about it (an action that may *influence* a behaviour gets a scenario only as a labelled assumption).
CONTROL_KINDS = {
    "store_action": "set by the store: it decides how many marketing contacts a customer receives",
    "customer_behaviour": "what the customer does (buying, browsing, carts, failures met on the site)",
    "customer_attribute": "a fact about the customer (tenure, service level, consent, chosen by the customer)",
    "not_a_predictor": "identifier, target, or the value axis of the segments",
}


@dataclass(frozen=True)
class Field:
    """One column of the customer table, where it comes from and who determines it (:data:`CONTROL_KINDS`)."""

    name: str
    source_name: str
    source_file: str
    meaning: str
    unit: str
    group: str
    kind: str  # "id", "target", "binary", "categorical", "count", "continuous", "share"
    period: str | None = None  # for the long files: the Russian period label
    control: str = "not_a_predictor"  # a key of CONTROL_KINDS


DICTIONARY: tuple[Field, ...] = (
    Field("id", "id", MARKET_FILE, "Customer number in the corporate database", "—", "id", "id"),
    Field(TARGET, TARGET_RU, MARKET_FILE,
          "Purchasing activity has declined (1 = «Снизилась», 0 = «Прежний уровень»)", "0/1", "target", "target"),
    Field("service_type", "Тип сервиса", MARKET_FILE, "Service level: standard or premium", "category",
          "communication", "categorical", control="customer_attribute"),
    Field("contact_allowed", "Разрешить сообщать", MARKET_FILE,
          "Customer consents to receiving additional offers (1 = «да»)", "0/1", "communication", "binary", control="customer_attribute"),
    Field("marketing_6m", "Маркет_актив_6_мес", MARKET_FILE,
          "Average monthly marketing contacts (mailings, calls, ads) over the last 6 months", "contacts / month",
          "communication", "continuous", control="store_action"),
    Field("marketing_current", "Маркет_актив_тек_мес", MARKET_FILE,
          "Marketing contacts in the current month", "contacts", "communication", "count", control="store_action"),
    Field("tenure_days", "Длительность", MARKET_FILE, "Days since registration on the site", "days",
          "communication", "count", control="customer_attribute"),
    Field("promo_share", "Акционные_покупки", MARKET_FILE,
          "Average monthly share of purchases made on promotion over the last 6 months", "share 0–1",
          "product", "share", control="customer_behaviour"),
    Field("popular_category", "Популярная_категория", MARKET_FILE,
          "Most frequently bought product category over the last 6 months", "category", "product", "categorical", control="customer_behaviour"),
    Field("categories_per_visit", "Средний_просмотр_категорий_за_визит", MARKET_FILE,
          "Average number of categories viewed per visit in the last month", "categories / visit",
          "product", "count", control="customer_behaviour"),
    Field("unpaid_items", "Неоплаченные_продукты_штук_квартал", MARKET_FILE,
          "Unpaid items left in the cart over the last 3 months", "items", "product", "count", control="customer_behaviour"),
    Field("service_errors", "Ошибка_сервиса", MARKET_FILE, "Site failures the customer met while visiting",
          "failures", "site", "count", control="customer_behaviour"),
    Field("pages_per_visit", "Страниц_за_визит", MARKET_FILE,
          "Average pages viewed per visit over the last 3 months", "pages / visit", "site", "count", control="customer_behaviour"),
    Field("revenue_prev2", REVENUE_RU, MARKET_MONEY, "Revenue from the customer two months before the current one",
          "₽", "purchase", "continuous", period="препредыдущий_месяц", control="customer_behaviour"),
    Field("revenue_prev", REVENUE_RU, MARKET_MONEY, "Revenue from the customer in the previous month", "₽",
          "purchase", "continuous", period="предыдущий_месяц", control="customer_behaviour"),
    Field("revenue_current", REVENUE_RU, MARKET_MONEY, "Revenue from the customer in the current month", "₽",
          "purchase", "continuous", period="текущий_месяц", control="customer_behaviour"),
    Field("minutes_prev", MINUTES_RU, MARKET_TIME, "Minutes on the site in the previous month", "minutes",
          "site", "count", period="предыдущий_месяц", control="customer_behaviour"),
    Field("minutes_current", MINUTES_RU, MARKET_TIME, "Minutes on the site in the current month", "minutes",
          "site", "count", period="текущий_месяц", control="customer_behaviour"),
    Field("profit", PROFIT_RU, MONEY,
          "Average monthly profit the store makes on the customer over the last 3 months (as exported: the "
          "store's brief names no unit, so the report counts it in profit units)", "profit units",
          "purchase", "continuous"),
)

FIELDS = {f.name: f for f in DICTIONARY}

# Category labels: Russian (after typo normalisation) -> English value used in the customer table.
CATEGORY_LABELS: dict[str, dict[str, str]] = {
    "service_type": {"стандарт": "standard", "премиум": "premium"},
    "contact_allowed": {"да": "1", "нет": "0"},
    "popular_category": {
        "Товары для детей": "kids_goods",
        "Домашний текстиль": "home_textiles",
        "Косметика и аксессуары": "cosmetics_accessories",
        "Техника для красоты и здоровья": "beauty_health_devices",
        "Мелкая бытовая техника и электроника": "small_appliances_electronics",
        "Кухонная посуда": "kitchenware",
    },
}

# Display names of the English category values, for tables and figures.
CATEGORY_DISPLAY = {
    "kids_goods": "Kids' goods",
    "home_textiles": "Home textiles",
    "cosmetics_accessories": "Cosmetics & accessories",
    "beauty_health_devices": "Beauty & health devices",
    "small_appliances_electronics": "Small appliances & electronics",
    "kitchenware": "Kitchenware",
    "standard": "Standard",
    "premium": "Premium",
}

# The known typos of the exports, in one explicit place: (file, Russian column) -> {typo: correction}.
KNOWN_TYPOS: dict[tuple[str, str], dict[str, str]] = {
    (MARKET_FILE, "Тип сервиса"): {"стандартт": "стандарт"},
    (MARKET_FILE, "Популярная_категория"): {"Косметика и аксесуары": "Косметика и аксессуары"},
    (MARKET_TIME, PERIOD_RU): {"предыдцщий_месяц": "предыдущий_месяц"},
}

REVENUE_PERIODS = {f.period: f.name for f in DICTIONARY if f.source_file == MARKET_MONEY}
TIME_PERIODS = {f.period: f.name for f in DICTIONARY if f.source_file == MARKET_TIME}

FEATURES = tuple(f.name for f in DICTIONARY if f.kind not in ("id", "target"))
CATEGORICAL = tuple(f.name for f in DICTIONARY if f.kind == "categorical")


# --- customer ids ------------------------------------------------------------------------------------------
#: Ids are whole numbers written with digits only, 1 to this many digits, no leading zero: so every id is
#: exact as a 64-bit integer (int64 holds every 18-digit number), and the id text read is the id text written.
ID_MAX_DIGITS = 18
ID_RULE = (f"a customer id is written with the digits 0–9 only, 1 to {ID_MAX_DIGITS} digits, without a leading "
           "zero and without sign, spaces or decimal point (215348, not 0215348, 215348.0 or +215348); it is "
           "carried as an exact 64-bit integer. A leading zero is refused rather than dropped, since the id "
           "written out would no longer be the id read in")

# --- plausibility bounds --------------------------------------------------------------------------------------
#: Where no physical limit exists, a column's maximum is this multiple of the real export's maximum.
BOUND_MULTIPLE = 10
MINUTES_PER_MONTH = 31 * 24 * 60


@dataclass(frozen=True)
class Bound:
    """The plausible range of one numeric export column; values outside are refused, never cast.

    ``basis`` is ``physical`` (a limit no true value can pass) or ``multiple`` (the maximum is
    :data:`BOUND_MULTIPLE` × ``real_maximum``, the largest value of the real export, rounded up to two
    significant digits; a negative minimum is minus that maximum).
    """

    file: str
    column: str
    minimum: float
    maximum: float
    basis: str
    real_maximum: float | None = None
    note: str = ""

    @property
    def source(self) -> str:
        if self.basis == "physical":
            return self.note
        return (f"{BOUND_MULTIPLE} × the real export's maximum {self.real_maximum:,}, rounded up to 2 significant "
                "digits" + (f"; {self.note}" if self.note else ""))


def multiple_bound(real_maximum: float) -> float:
    """:data:`BOUND_MULTIPLE` × ``real_maximum`` rounded up to two significant digits (66, 11000, 1100000)."""
    value = BOUND_MULTIPLE * real_maximum
    scale = 10.0 ** (math.floor(math.log10(value)) - 1)
    return math.ceil(round(value / scale, 9)) * scale


def _multiple(file: str, column: str, real_maximum: float, minimum: float = 0.0, note: str = "") -> Bound:
    return Bound(file, column, minimum, multiple_bound(real_maximum), "multiple", real_maximum, note)


BOUNDS: tuple[Bound, ...] = (
    _multiple(MARKET_FILE, "Маркет_актив_6_мес", 6.6),
    _multiple(MARKET_FILE, "Маркет_актив_тек_мес", 5),
    _multiple(MARKET_FILE, "Длительность", 1079),
    Bound(MARKET_FILE, "Акционные_покупки", 0, 1, "physical", note="a share lies in [0, 1]"),
    _multiple(MARKET_FILE, "Средний_просмотр_категорий_за_визит", 6),
    _multiple(MARKET_FILE, "Неоплаченные_продукты_штук_квартал", 10),
    _multiple(MARKET_FILE, "Ошибка_сервиса", 9),
    _multiple(MARKET_FILE, "Страниц_за_визит", 20),
    _multiple(MARKET_MONEY, REVENUE_RU, 106862.2),
    Bound(MARKET_TIME, MINUTES_RU, 0, MINUTES_PER_MONTH, "physical",
          note=f"a month has at most 31 × 24 × 60 = {MINUTES_PER_MONTH:,} minutes"),
    _multiple(MONEY, PROFIT_RU, 7.43, minimum=-multiple_bound(7.43),
              note="the store may lose money on a customer, so the minimum is minus the maximum"),
)
BOUND_OF = {(b.file, b.column): b for b in BOUNDS}


def dictionary_frame() -> pd.DataFrame:
    """The data dictionary as a table.

    Returns
    -------
    pandas.DataFrame
        Columns ``name, source_name, source_file, period, meaning, unit, group, kind, control``, one row per
        column of the customer table, in table order (``control``: a key of :data:`CONTROL_KINDS`).
    """
    return pd.DataFrame(
        [
            {
                "name": f.name,
                "source_name": f.source_name,
                "source_file": f.source_file,
                "period": f.period or "",
                "meaning": f.meaning,
                "unit": f.unit,
                "group": f.group,
                "kind": f.kind,
                "control": f.control,
            }
            for f in DICTIONARY
        ]
    )


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,}"


def dictionary_markdown() -> str:
    """Render ``data/README.md`` from the dictionary (the file is checked against this by a test)."""
    frame = dictionary_frame()
    frame["source"] = [
        f"{row.source_file}: {row.source_name}" + (f" ({row.period})" if row.period else "")
        for row in frame.itertuples()
    ]
    table = frame[["name", "source", "meaning", "unit", "group", "control"]].to_markdown(index=False)
    controls = "\n".join(f"- **{kind}**: {text}" for kind, text in CONTROL_KINDS.items())
    cats = "\n".join(
        f"| {col} | {ru} | {en} |" for col, mapping in CATEGORY_LABELS.items() for ru, en in mapping.items()
    )
    typos = "\n".join(
        f"| {file} | {col} | {typo} | {fix} |"
        for (file, col), mapping in KNOWN_TYPOS.items()
        for typo, fix in mapping.items()
    )
    groups = "\n".join(f"- **{g}**: {text}" for g, text in FEATURE_GROUPS.items())
    bounds = "\n".join(f"| {b.file} | {b.column} | {_num(b.minimum)} | {_num(b.maximum)} | {b.source} |" for b in BOUNDS)
    return (
        "# Data\n\n"
        "The four exports of «В один клик» are **not** stored in this repository. The project looks for them in\n"
        "`--data-dir DIR`, else `$ONECLICK_DATA_DIR`, else `data/raw/`, else `../shared/data/`.\n"
        "`python -m analysis fetch-data` downloads them into `data/raw/` where the internet is reachable.\n\n"
        "This file is generated from `analysis/data/dictionary.py` (`python -m analysis dictionary > data/README.md`);\n"
        "a test keeps the two in step.\n\n"
        "## The customer table\n\nOne row per customer. Feature groups:\n\n"
        f"{groups}\n\n"
        "Who determines each variable (`control`): only a store action can be recommended or offered; a\n"
        "customer behaviour is reported as an association, and a store action that might influence it gets a\n"
        "scenario only as a labelled assumption.\n\n"
        f"{controls}\n\n{table}\n\n"
        "## Category values\n\n| column | export value | table value |\n|---|---|---|\n"
        f"{cats}\n\n"
        "## Known typos of the exports (corrected on reading, each correction reported)\n\n"
        "| file | column | typo | correction |\n|---|---|---|---|\n"
        f"{typos}\n\n"
        "## Customer ids\n\n"
        f"In every file, {ID_RULE}.\n\n"
        "## Plausibility bounds (values outside are refused)\n\n"
        "A value outside its bounds is refused with an error naming file, line, column and value; it is never\n"
        "cast or clipped. Where no physical limit exists the bound is a stated multiple of the real export's range.\n\n"
        "| file | column | minimum | maximum | source |\n|---|---|---|---|---|\n"
        f"{bounds}\n"
    )
