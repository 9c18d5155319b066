"""The indicator catalog: every family declared once, expanded over the windows.

A family names where its values come from (the pool's orders or one of the key streams), what it
measures, how it aggregates and which orders it keeps. Nothing here knows an engine: `compile`
turns the catalog into SQLGlot expressions, and the dialect is chosen when they are rendered.
Adding an indicator is one entry in `FAMILIES` or `SINGLE_FIELDS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

WINDOWS: tuple[int | None, ...] = (30, 60, 90, 180, 360, None)
"""Days of each window; None is all time (`Total_*`)."""


def window_label(window: int | None) -> str:
    """The name `[rfm] window` and the cut points use: '30' ... '360', 'total'."""
    return "total" if window is None else str(window)


class Aggregate(StrEnum):
    SUM = "sum"                    # Σ measure over the kept orders; 0 without
    COUNT = "count"                # kept orders; 0 without
    RATIO = "ratio"                # one family over another; null when the divisor is 0
    DISTINCT = "distinct"          # distinct keys of a stream; 0 without
    LIST = "list"                  # distinct keys of a stream, most units first; [] without
    RFM = "rfm"                    # the three-digit RFM code; null outside the population


class Keep(StrEnum):
    """Which orders of the pool a family counts."""

    COUNTED = "counted"            # purchases and returns (a purchase status)
    PURCHASES = "purchases"        # purchases only (a purchase status, TotalAmount >= 0)


class Stream(StrEnum):
    """Keys bought: one row per (profile, key) of the profile's purchases."""

    PRODUCT = "product"            # ItemCode, or ParentItemCode at parent level
    BRAND = "brand"
    CATEGORY = "category"
    STORE = "store"
    PROMO_CODE = "promo_code"
    SELLER = "seller"              # only in the last purchase's fields


@dataclass(frozen=True)
class Family:
    name: str
    aggregate: Aggregate
    measure: str | None = None
    """Column of the per-order facts that SUM adds up."""
    keep: Keep = Keep.COUNTED
    stream: Stream | None = None
    """Key stream of DISTINCT and LIST."""
    ratio: tuple[str, str] | None = None
    """(dividend family, divisor family) of RATIO."""

    def field(self, window: int | None) -> str:
        return f"Total_{self.name}" if window is None else f"{self.name}_{window}_Days"


FAMILIES: tuple[Family, ...] = (
    Family("Items", Aggregate.SUM, measure="units"),
    Family("Products", Aggregate.DISTINCT, stream=Stream.PRODUCT),
    Family("Brands", Aggregate.LIST, stream=Stream.BRAND),
    Family("Brands_Count", Aggregate.DISTINCT, stream=Stream.BRAND),
    Family("Categories", Aggregate.LIST, stream=Stream.CATEGORY),
    Family("Categories_Count", Aggregate.DISTINCT, stream=Stream.CATEGORY),
    Family("Purchases", Aggregate.COUNT, keep=Keep.PURCHASES),
    Family("Value", Aggregate.SUM, measure="amount"),
    Family("Average_Value", Aggregate.RATIO, ratio=("Value", "Purchases")),
    Family("RFM", Aggregate.RFM),
    Family("Promo_Codes", Aggregate.LIST, stream=Stream.PROMO_CODE),
    Family("Promo_Codes_Count", Aggregate.DISTINCT, stream=Stream.PROMO_CODE),
    Family("Stores", Aggregate.LIST, stream=Stream.STORE),
    Family("Stores_Count", Aggregate.DISTINCT, stream=Stream.STORE),
)


class Single(StrEnum):
    """How a single field is found."""

    FIRST_DATE = "first_date"      # date of the first purchase
    LAST_DATE = "last_date"        # date of the last purchase
    DAYS_SINCE_FIRST = "days_since_first"
    DAYS_SINCE_LAST = "days_since_last"
    LAST_AMOUNT = "last_amount"
    LAST_ORDER_LIST = "last_order_list"    # a list cell of the last purchase's order
    LAST_LINES_LIST = "last_lines_list"    # keys of the last purchase's lines, by units
    AVERAGE_DAYS = "average_days"
    FAVORITE = "favorite"          # most units, then most value, then first by name
    LTV = "ltv"
    RFM_GROUP = "rfm_group"
    RFM_SEGMENT = "rfm_segment"


@dataclass(frozen=True)
class SingleField:
    name: str
    how: Single
    column: str | None = None
    """The order column of LAST_ORDER_LIST."""
    stream: Stream | None = None
    """The key stream of LAST_LINES_LIST and FAVORITE."""


SINGLE_FIELDS: tuple[SingleField, ...] = (
    SingleField("First_Purchase_Date", Single.FIRST_DATE),
    SingleField("Last_Purchase_Date", Single.LAST_DATE),
    SingleField("Days_Since_First_Purchase", Single.DAYS_SINCE_FIRST),
    SingleField("Days_Since_Last_Purchase", Single.DAYS_SINCE_LAST),
    SingleField("Last_Purchase_Amount", Single.LAST_AMOUNT),
    SingleField("Last_Purchase_Payment_Methods", Single.LAST_ORDER_LIST, column="payment_method"),
    SingleField("Last_Purchase_Shipping_Methods", Single.LAST_ORDER_LIST, column="delivery_type"),
    SingleField("Last_Purchase_Items", Single.LAST_LINES_LIST, stream=Stream.PRODUCT),
    SingleField("Last_Purchase_Brands", Single.LAST_LINES_LIST, stream=Stream.BRAND),
    SingleField("Last_Purchase_Categories", Single.LAST_LINES_LIST, stream=Stream.CATEGORY),
    SingleField("Last_Purchase_Sellers", Single.LAST_LINES_LIST, stream=Stream.SELLER),
    SingleField("Last_Purchase_Stores", Single.LAST_ORDER_LIST, column="store_code"),
    SingleField("Last_Purchase_Promo_Codes", Single.LAST_ORDER_LIST, column="promo_codes"),
    SingleField("Average_Days_Between_Purchases", Single.AVERAGE_DAYS),
    SingleField("Favorite_Store", Single.FAVORITE, stream=Stream.STORE),
    SingleField("Favorite_Brand", Single.FAVORITE, stream=Stream.BRAND),
    SingleField("Favorite_Category", Single.FAVORITE, stream=Stream.CATEGORY),
    SingleField("LTV", Single.LTV),
    SingleField("RFM_Group", Single.RFM_GROUP),
    SingleField("RFM_Segment", Single.RFM_SEGMENT),
)

UNPREFIXED = ("RFM_Group", "RFM_Segment")
"""Fields that keep their name in the `icommkt` naming."""


def windowed_fields() -> list[tuple[Family, int | None]]:
    return [(family, window) for family in FAMILIES for window in WINDOWS]


def indicator_names() -> list[str]:
    """Every indicator, in export order: the families window by window, then single fields."""
    return ([family.field(window) for family, window in windowed_fields()]
            + [field.name for field in SINGLE_FIELDS])


def exported_name(name: str, naming: str) -> str:
    """`Items_30_Days` as an export with `naming` writes it (`ICOMMKT_Items_30_Days`)."""
    if naming == "icommkt" and name not in UNPREFIXED:
        return f"ICOMMKT_{name}"
    return name
