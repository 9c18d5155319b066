"""A plain Python reading of the 104 indicators, to check the engine against.

Written from ../shared/spec/indicators.md and docs/indicators.md alone, with loops and dicts so
that every rule can be checked by eye. It is slow on purpose: it recomputes everything per profile
and per window, and scores RFM straight from the formula `1 + floor(5 * below / n)` (the engine
goes through cut points, so the formula is what makes the comparison mean something).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypedDict

WINDOWS = (30, 60, 90, 180, 360)
"""Days of the windows; `None` stands for Total in the functions below."""

FAMILIES = ("Items", "Products", "Brands", "Brands_Count", "Categories", "Categories_Count",
            "Purchases", "Value", "Average_Value", "RFM", "Promo_Codes", "Promo_Codes_Count",
            "Stores", "Stores_Count")

SINGLE_FIELDS = ("First_Purchase_Date", "Last_Purchase_Date", "Days_Since_First_Purchase",
                 "Days_Since_Last_Purchase", "Last_Purchase_Amount",
                 "Last_Purchase_Payment_Methods", "Last_Purchase_Shipping_Methods",
                 "Last_Purchase_Items", "Last_Purchase_Brands", "Last_Purchase_Categories",
                 "Last_Purchase_Sellers", "Last_Purchase_Stores", "Last_Purchase_Promo_Codes",
                 "Average_Days_Between_Purchases", "Favorite_Store", "Favorite_Brand",
                 "Favorite_Category", "LTV")


class Line(TypedDict):
    quantity: Decimal
    price: Decimal
    item_code: str
    parent_item_code: str | None
    brand: str | None
    seller: str | None
    categories: list[str]


class Order(TypedDict):
    client_id: int
    store_code: str
    order_number: str
    order_ts: datetime
    order_date: date
    """The local business date of `order_ts` in the instance's time zone."""
    total_amount: Decimal
    status: str
    """Lower-case, as stored."""
    promo_codes: list[str]
    payment_methods: list[str]
    delivery_type: str | None
    batch_day: date
    lines: list[Line]


@dataclass(frozen=True)
class Rules:
    """The settings the indicators depend on."""

    purchase_statuses: tuple[str, ...] = ("placed", "fulfilled", "paid", "sent", "delivered")
    fulfilled_statuses: tuple[str, ...] = ("fulfilled", "delivered")
    parent_level: bool = False
    """`[indicators] product_level = "parent"`: a line's product is its ParentItemCode if any."""
    rfm_window: int | None = None
    """Window whose RFM code gives RFM_Group and RFM_Segment (None: Total)."""


def window_name(family: str, window: int | None) -> str:
    return f"Total_{family}" if window is None else f"{family}_{window}_Days"


def indicator_names() -> list[str]:
    """The 104 names in export order: families by window, single fields, group, segment."""
    names = [window_name(family, window)
             for family in FAMILIES for window in (*WINDOWS, None)]
    return [*names, *SINGLE_FIELDS, "RFM_Group", "RFM_Segment"]


# --- which orders count --------------------------------------------------------------------


def current_orders(orders: list[Order], as_of: date) -> list[Order]:
    """Each order as known on D: its newest version sent by D; orders dated after D dropped."""
    newest: dict[tuple[str, str], Order] = {}
    for order in orders:
        if order["batch_day"] > as_of:
            continue
        key = (order["store_code"], order["order_number"])
        if key not in newest or order["batch_day"] >= newest[key]["batch_day"]:
            newest[key] = order
    return [order for order in newest.values() if order["order_date"] <= as_of]


def is_purchase(order: Order, rules: Rules) -> bool:
    return order["status"] in rules.purchase_statuses and order["total_amount"] >= 0


def is_return(order: Order, rules: Rules) -> bool:
    return order["status"] in rules.purchase_statuses and order["total_amount"] < 0


def in_window(order: Order, as_of: date, window: int | None) -> bool:
    """D - W < d <= D; Total is every d <= D (later orders were already dropped)."""
    age = (as_of - order["order_date"]).days
    if window is None:
        return age >= 0
    return 0 <= age < window


def product_of(line: Line, rules: Rules) -> str:
    if rules.parent_level and line["parent_item_code"] is not None:
        return line["parent_item_code"]
    return line["item_code"]


def order_units(order: Order) -> Decimal:
    total = Decimal(0)
    for line in order["lines"]:
        total += line["quantity"]
    return total


# --- keys with their units -----------------------------------------------------------------


@dataclass
class Tally:
    """Units (and value: Quantity x Price) of each key, to rank lists and favourites."""

    units: dict[str, Decimal] = field(default_factory=dict)
    value: dict[str, Decimal] = field(default_factory=dict)

    def add(self, key: str, units: Decimal, value: Decimal) -> None:
        self.units[key] = self.units.get(key, Decimal(0)) + units
        self.value[key] = self.value.get(key, Decimal(0)) + value

    def by_units_then_name(self) -> list[str]:
        return sorted(self.units, key=lambda key: (-self.units[key], key))

    def favorite(self) -> str | None:
        """Most units, then most value, then first by name."""
        if not self.units:
            return None
        return sorted(self.units, key=lambda key: (-self.units[key], -self.value[key], key))[0]


@dataclass
class Tallies:
    products: Tally = field(default_factory=Tally)
    brands: Tally = field(default_factory=Tally)
    categories: Tally = field(default_factory=Tally)
    sellers: Tally = field(default_factory=Tally)
    stores: Tally = field(default_factory=Tally)
    promo_codes: Tally = field(default_factory=Tally)


def tally(purchases: list[Order], rules: Rules) -> Tallies:
    """Every key of these purchases with the units and value of the lines carrying it."""
    tallies = Tallies()
    for order in purchases:
        order_value = Decimal(0)
        for line in order["lines"]:
            units = line["quantity"]
            value = line["quantity"] * line["price"]
            order_value += value
            tallies.products.add(product_of(line, rules), units, value)
            if line["brand"] is not None:
                tallies.brands.add(line["brand"], units, value)
            if line["seller"] is not None:
                tallies.sellers.add(line["seller"], units, value)
            for category in set(line["categories"]):
                tallies.categories.add(category, units, value)
        tallies.stores.add(order["store_code"], order_units(order), order_value)
        # An order naming a code twice still redeemed it once: its lines count once.
        for code in set(order["promo_codes"]):
            tallies.promo_codes.add(code, order_units(order), order_value)
    return tallies


# --- one profile ---------------------------------------------------------------------------


def window_fields(mine: list[Order], rules: Rules, as_of: date,
                  window: int | None) -> dict[str, Any]:
    """The families of one window, RFM left out (it needs every profile)."""
    purchases = [o for o in mine if is_purchase(o, rules) and in_window(o, as_of, window)]
    returns = [o for o in mine if is_return(o, rules) and in_window(o, as_of, window)]
    items = Decimal(0)
    value = Decimal(0)
    for order in purchases:
        items += order_units(order)
        value += order["total_amount"]
    for order in returns:
        for line in order["lines"]:
            items -= abs(line["quantity"])
        value += order["total_amount"]
    tallies = tally(purchases, rules)
    average = float(value) / len(purchases) if purchases else None
    return {
        window_name("Items", window): items,
        window_name("Products", window): len(tallies.products.units),
        window_name("Brands", window): tallies.brands.by_units_then_name(),
        window_name("Brands_Count", window): len(tallies.brands.units),
        window_name("Categories", window): tallies.categories.by_units_then_name(),
        window_name("Categories_Count", window): len(tallies.categories.units),
        window_name("Purchases", window): len(purchases),
        window_name("Value", window): value,
        window_name("Average_Value", window): average,
        window_name("Promo_Codes", window): tallies.promo_codes.by_units_then_name(),
        window_name("Promo_Codes_Count", window): len(tallies.promo_codes.units),
        window_name("Stores", window): tallies.stores.by_units_then_name(),
        window_name("Stores_Count", window): len(tallies.stores.units),
    }


def last_purchase_of(purchases: list[Order]) -> Order | None:
    """The greatest (order instant, StoreCode, OrderNumber)."""
    last = None
    for order in purchases:
        key = (order["order_ts"], order["store_code"], order["order_number"])
        if last is None or key > (last["order_ts"], last["store_code"], last["order_number"]):
            last = order
    return last


def single_fields(mine: list[Order], rules: Rules, as_of: date) -> dict[str, Any]:
    purchases = [o for o in mine if is_purchase(o, rules)]
    last = last_purchase_of(purchases)
    first_date = min((o["order_date"] for o in purchases), default=None)
    fields: dict[str, Any] = {}
    fields["First_Purchase_Date"] = first_date
    fields["Last_Purchase_Date"] = last["order_date"] if last else None
    fields["Days_Since_First_Purchase"] = (as_of - first_date).days if first_date else None
    fields["Days_Since_Last_Purchase"] = (as_of - last["order_date"]).days if last else None
    fields["Last_Purchase_Amount"] = last["total_amount"] if last else None
    if last is None:
        for name in ("Payment_Methods", "Shipping_Methods", "Items", "Brands", "Categories",
                     "Sellers", "Stores", "Promo_Codes"):
            fields[f"Last_Purchase_{name}"] = []
    else:
        its = tally([last], rules)
        fields["Last_Purchase_Payment_Methods"] = sorted(set(last["payment_methods"]))
        fields["Last_Purchase_Shipping_Methods"] = (
            [last["delivery_type"]] if last["delivery_type"] is not None else [])
        fields["Last_Purchase_Items"] = its.products.by_units_then_name()
        fields["Last_Purchase_Brands"] = its.brands.by_units_then_name()
        fields["Last_Purchase_Categories"] = its.categories.by_units_then_name()
        fields["Last_Purchase_Sellers"] = its.sellers.by_units_then_name()
        fields["Last_Purchase_Stores"] = [last["store_code"]]
        fields["Last_Purchase_Promo_Codes"] = sorted(set(last["promo_codes"]))
    if last is not None and first_date is not None and len(purchases) >= 2:
        days = (last["order_date"] - first_date).days
        fields["Average_Days_Between_Purchases"] = days / (len(purchases) - 1)
    else:
        fields["Average_Days_Between_Purchases"] = None
    every = tally(purchases, rules)
    fields["Favorite_Store"] = every.stores.favorite()
    fields["Favorite_Brand"] = every.brands.favorite()
    fields["Favorite_Category"] = every.categories.favorite()
    ltv = Decimal(0)
    for order in mine:
        if order["status"] in rules.fulfilled_statuses:
            ltv += order["total_amount"]
    fields["LTV"] = ltv
    return fields


# --- RFM -----------------------------------------------------------------------------------


def quintile_score(value: Any, population: list[Any], greater_is_better: bool) -> int:
    """1 + floor(5 * below / n), `below` counting the strictly worse values."""
    below = 0
    for other in population:
        if (other < value) if greater_is_better else (other > value):
            below += 1
    return 1 + (5 * below) // len(population)


def rfm_codes(mine_by_client: dict[int, list[Order]], rules: Rules, as_of: date,
              window: int | None) -> dict[int, str]:
    """The code of every profile with a purchase in the window."""
    recency: dict[int, int] = {}
    frequency: dict[int, int] = {}
    monetary: dict[int, Decimal] = {}
    for client_id, mine in mine_by_client.items():
        purchases = [o for o in mine if is_purchase(o, rules) and in_window(o, as_of, window)]
        if not purchases:
            continue
        last_date = max(o["order_date"] for o in purchases)
        recency[client_id] = (as_of - last_date).days
        frequency[client_id] = len(purchases)
        value = Decimal(0)
        for order in mine:
            if (is_purchase(order, rules) or is_return(order, rules)) and in_window(
                    order, as_of, window):
                value += order["total_amount"]
        monetary[client_id] = value
    codes = {}
    for client_id in recency:
        r = quintile_score(recency[client_id], list(recency.values()), greater_is_better=False)
        f = quintile_score(frequency[client_id], list(frequency.values()),
                           greater_is_better=True)
        m = quintile_score(monetary[client_id], list(monetary.values()), greater_is_better=True)
        codes[client_id] = f"{r}{f}{m}"
    return codes


def rfm_group(code: str | None) -> str:
    if code is None:
        return "PROSPECTS"
    frequency = int(code[1])
    if frequency == 1:
        return "BEGINNERS"
    if frequency in (2, 3):
        return "FREQUENT"
    return "LOYAL"


SEGMENTS = {
    # group: (R=5, R=4, R=3, R in 1-2 and M >= 3, R in 1-2 and M <= 2)
    "BEGINNERS": ("BEGINNERS_NEW", "BEGINNERS_PROMISING", "BEGINNERS_NEEDS_ATTENTION",
                  "BEGINNERS_AT_RISK", "BEGINNERS_LOSE_IT"),
    "FREQUENT": ("FREQUENT_ACTIVE", "FREQUENT_POTENTIAL_LOYALIST", "FREQUENT_NEEDS_ATTENTION",
                 "FREQUENT_AT_RISK", "FREQUENT_HIBERNATING"),
    "LOYAL": ("LOYAL_CHAMPIONS", "LOYAL_ACTIVE", "LOYAL_NEEDS_ATTENTION",
              "LOYAL_CANT_LOSE_THEM", "LOYAL_HIBERNATING"),
}


def rfm_segment(code: str | None) -> str:
    if code is None:
        return "PROSPECTS"
    recency, monetary = int(code[0]), int(code[2])
    new, promising, attention, at_risk, lost = SEGMENTS[rfm_group(code)]
    if recency == 5:
        return new
    if recency == 4:
        return promising
    if recency == 3:
        return attention
    if monetary >= 3:
        return at_risk
    return lost


# --- everything ----------------------------------------------------------------------------


def reference_indicators(orders: list[Order], rules: Rules, client_ids: list[int],
                         as_of: date) -> dict[int, dict[str, Any]]:
    """{client_id: {indicator name: value}} for every profile, as of the local date D."""
    mine_by_client: dict[int, list[Order]] = {client_id: [] for client_id in client_ids}
    for order in current_orders(orders, as_of):
        if order["client_id"] in mine_by_client:
            mine_by_client[order["client_id"]].append(order)
    result: dict[int, dict[str, Any]] = {}
    for client_id, mine in mine_by_client.items():
        values: dict[str, Any] = {}
        for window in (*WINDOWS, None):
            values.update(window_fields(mine, rules, as_of, window))
        values.update(single_fields(mine, rules, as_of))
        result[client_id] = values
    for window in (*WINDOWS, None):
        codes = rfm_codes(mine_by_client, rules, as_of, window)
        for client_id in client_ids:
            result[client_id][window_name("RFM", window)] = codes.get(client_id)
    for client_id in client_ids:
        code = result[client_id][window_name("RFM", rules.rfm_window)]
        result[client_id]["RFM_Group"] = rfm_group(code)
        result[client_id]["RFM_Segment"] = rfm_segment(code)
    return {client_id: {name: values[name] for name in indicator_names()}
            for client_id, values in result.items()}
