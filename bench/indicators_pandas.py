"""The 104 customer indicators with pandas, as a competent analyst would write them.

The yardstick of bench/indicators_bench.py: the tables are read from the analytics store into
DataFrames (the reading is part of the time), then everything is vectorised pandas: merges to
put lines on their orders and orders on their profiles, groupbys per profile, and for the
windowed families one pass over (profile, key, window bucket) sums made cumulative over the
windows, so no window re-reads the lines. No Python loop runs per profile or per order.

It follows ../shared/spec/indicators.md as docs/indicators.md reads it: the pool of orders,
returns netting Items and Value only, windows `0 <= D - d < W`, lists by units then name, RFM
by the rank formula (`1 + floor(5 * below / n)`), the default RFM_Group / RFM_Segment map on the
Total code. Items are counted at ItemCode level (the default `product_level`). Orders re-sent
after D are not replayed from `order_versions` (the bench store has none).
"""

from __future__ import annotations

import re
import time
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from clientela.config.settings import DEFAULT_RFM_GROUPS, DEFAULT_RFM_SEGMENTS

WINDOWS: tuple[int | None, ...] = (30, 60, 90, 180, 360, None)
"""The windows in days; None is Total (every order up to D)."""
FAMILIES = ["Items", "Products", "Brands", "Brands_Count", "Categories", "Categories_Count",
            "Purchases", "Value", "Average_Value", "RFM", "Promo_Codes", "Promo_Codes_Count",
            "Stores", "Stores_Count"]
SINGLE_FIELDS = ["First_Purchase_Date", "Last_Purchase_Date", "Days_Since_First_Purchase",
                 "Days_Since_Last_Purchase", "Last_Purchase_Amount",
                 "Last_Purchase_Payment_Methods", "Last_Purchase_Shipping_Methods",
                 "Last_Purchase_Items", "Last_Purchase_Brands", "Last_Purchase_Categories",
                 "Last_Purchase_Sellers", "Last_Purchase_Stores", "Last_Purchase_Promo_Codes",
                 "Average_Days_Between_Purchases", "Favorite_Store", "Favorite_Brand",
                 "Favorite_Category", "LTV"]


def field(family: str, window: int | None) -> str:
    return f"{family}_{window}_Days" if window else f"Total_{family}"


INDICATORS = ([field(f, w) for f in FAMILIES for w in WINDOWS] + SINGLE_FIELDS
              + ["RFM_Group", "RFM_Segment"])

# The instance's map is data (clientela.toml); the bench uses the defaults, as its instance does.
GROUPS = DEFAULT_RFM_GROUPS
SEGMENTS = DEFAULT_RFM_SEGMENTS
PROSPECTS = "PROSPECTS"

LAST_READ_SECONDS = 0.0
"""Seconds the last `compute` spent reading the tables (reported by the bench)."""

Column = pd.Series | npt.NDArray[np.generic]


def compute(path: Path, as_of: date, *, purchase_statuses: list[str],
            fulfilled_statuses: list[str], product_level: str = "variant") -> pd.DataFrame:
    """One row per profile: `client_id` and the 104 indicators as of `as_of`."""
    global LAST_READ_SECONDS
    started = time.monotonic()
    con = duckdb.connect(str(path), read_only=True)
    orders = read(con, """
        SELECT store_code, order_number, user_id, order_ts, order_date, total_amount,
               promo_codes, delivery_type, payment_method, status, batch_day FROM orders
    """)
    lines = read(con, """
        SELECT store_code, order_number, line_number, quantity, item_code, parent_item_code,
               brand, price, seller, batch_day FROM order_lines
    """)
    categories = read(con, """
        SELECT store_code, order_number, line_number, category, batch_day
        FROM order_line_categories
    """)
    identifiers = read(con, "SELECT id, type, scope, value FROM identifiers")
    members = read(con, "SELECT identifier, client_id FROM identity_members")
    profiles = read(con, "SELECT client_id FROM profiles")
    con.close()
    LAST_READ_SECONDS = time.monotonic() - started

    day = np.datetime64(as_of, "D")
    pool = set(purchase_statuses) | set(fulfilled_statuses)
    orders = orders[(orders.batch_day.to_numpy() <= day) & (orders.order_date.to_numpy() <= day)
                    & orders.status.isin(pool).to_numpy()]
    # Profiles own their customer ids' orders.
    user_ids = identifiers[(identifiers.type == "user_id") & (identifiers.scope == "")]
    owner = user_ids.merge(members, left_on="id", right_on="identifier")[["value", "client_id"]]
    orders = orders.merge(owner, left_on="user_id", right_on="value").drop(
        columns=["value", "user_id", "batch_day"])
    orders["oid"] = np.arange(len(orders))
    orders["cents"] = (orders.total_amount * 100).round().astype("int64")
    orders["age"] = (day - orders.order_date.to_numpy().astype("datetime64[D]")).astype("int64")
    orders["bucket"] = np.searchsorted([30, 60, 90, 180, 360], orders.age, side="right")
    in_purchase = orders.status.isin(set(purchase_statuses))
    orders["purchase"] = in_purchase & (orders.cents >= 0)
    orders["counted"] = in_purchase  # purchases and returns: they net Items and Value

    lines = lines[lines.batch_day.to_numpy() <= day].merge(
        orders.loc[orders.counted, ["store_code", "order_number", "oid"]],
        on=["store_code", "order_number"])
    lines["lid"] = np.arange(len(lines))
    categories = categories[categories.batch_day.to_numpy() <= day].merge(
        lines[["store_code", "order_number", "line_number", "lid"]],
        on=["store_code", "order_number", "line_number"])[["lid", "category"]]
    lines["qty"] = (lines.quantity * 100).round().astype("int64")
    lines["value"] = lines.qty * (lines.price * 100).round().astype("int64")
    for column in ("client_id", "bucket", "purchase"):  # oid is the order's position
        lines[column] = orders[column].to_numpy()[lines.oid.to_numpy()]
    product = lines.item_code
    if product_level == "parent":
        product = lines.parent_item_code.where(lines.parent_item_code.notna(), product)
    lines["product"] = keys(product)
    for column in ("brand", "seller"):
        lines[column] = keys(lines[column])
    lines = lines[["lid", "oid", "client_id", "bucket", "purchase", "qty", "value", "product",
                   "brand", "seller"]]
    orders["store"] = keys(orders.store_code)

    # Returns net Items with their units negative, whatever sign the document used.
    lines["signed"] = np.where(lines.purchase, lines.qty, -lines.qty.abs())
    bought = lines[lines.purchase]
    bought_categories = categories.drop_duplicates().merge(
        bought[["lid", "client_id", "bucket", "qty", "value", "oid"]], on="lid")
    bought_categories["category"] = keys(bought_categories.category)
    order_units = bought.groupby("oid").qty.sum()
    order_value = bought.groupby("oid").value.sum()
    purchases = orders[orders.purchase].copy()
    purchases["qty"] = order_units.reindex(purchases.oid, fill_value=0).to_numpy()
    purchases["value"] = order_value.reindex(purchases.oid, fill_value=0).to_numpy()
    promo = purchases[["oid", "client_id", "bucket", "promo_codes", "qty"]].explode(
        "promo_codes").drop_duplicates(["oid", "promo_codes"])
    promo["promo_code"] = keys(promo.promo_codes)

    clients = pd.Index(np.sort(profiles.client_id.to_numpy()), name="client_id")
    items = windowed_sums(lines, "signed", clients)
    value = windowed_sums(orders[orders.counted], "cents", clients)
    purchase_count = windowed_sums(purchases.assign(one=1), "one", clients)
    last_age = purchases.groupby(["client_id", "bucket"]).age.min().unstack(
        "bucket").reindex(index=clients, columns=range(6)).ffill(axis=1).cummin(axis=1)
    products = distinct_counts(bought, "product", clients)
    brands = windowed_lists(bought, "brand", clients)
    category_lists = windowed_lists(bought_categories, "category", clients)
    promo_lists = windowed_lists(promo, "promo_code", clients)
    store_lists = windowed_lists(purchases, "store", clients)

    out: dict[str, Column] = {}
    for i, window in enumerate(WINDOWS):
        out[field("Items", window)] = items[i] / 100
        out[field("Products", window)] = products[i]
        out[field("Brands", window)], out[field("Brands_Count", window)] = brands[i]
        out[field("Categories", window)], out[field("Categories_Count", window)] = (
            category_lists[i])
        out[field("Purchases", window)] = purchase_count[i]
        out[field("Value", window)] = value[i] / 100
        out[field("Average_Value", window)] = (value[i] / 100 / purchase_count[i]).where(
            purchase_count[i] > 0)
        out[field("RFM", window)] = rfm_codes(last_age[i], purchase_count[i], value[i])
        out[field("Promo_Codes", window)], out[field("Promo_Codes_Count", window)] = (
            promo_lists[i])
        out[field("Stores", window)], out[field("Stores_Count", window)] = store_lists[i]

    out |= single_fields(purchases, bought, bought_categories, orders, clients, day,
                         purchase_count[5], set(fulfilled_statuses))
    total_rfm = pd.Series(out[field("RFM", None)], index=clients)
    out["RFM_Group"] = by_pattern(total_rfm, GROUPS)
    out["RFM_Segment"] = by_pattern(total_rfm, SEGMENTS)
    frame = pd.DataFrame({name: pd.Series(out[name], index=clients) for name in INDICATORS},
                         index=clients)
    return frame.reset_index()


def read(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """A query's rows through Arrow (several times faster than `.df()`): decimals as floats
    (exact once turned to cents), dates as datetime64, lists as Arrow lists."""
    table = con.sql(sql).arrow().read_all()
    for position, column in enumerate(table.schema):
        if pa.types.is_decimal(column.type):
            table = table.set_column(position, column.name,
                                     table.column(position).cast(pa.float64()))
    return table.to_pandas(date_as_object=False, types_mapper=lambda kind: (
        pd.ArrowDtype(kind) if pa.types.is_list(kind) else None))


def keys(values: pd.Series) -> pd.Series:
    """Names as a categorical, blank ones missing: its categories are sorted (code point
    order), so sorting by it sorts by name, and grouping by it is fast."""
    column = values.astype("str").astype("category")
    blank = [name for name in column.cat.categories if not name.strip()]
    return column.cat.remove_categories(blank) if blank else column


def windowed_sums(rows: pd.DataFrame, column: str, clients: pd.Index) -> pd.DataFrame:
    """Per profile (rows) and window (columns 0-5): the sum of `column` in the window."""
    return (rows.groupby(["client_id", "bucket"])[column].sum().unstack("bucket")
            .reindex(index=clients, columns=range(6), fill_value=0).fillna(0)
            .cumsum(axis=1).astype("int64"))


def distinct_counts(rows: pd.DataFrame, key: str, clients: pd.Index) -> pd.DataFrame:
    """Per profile and window: how many distinct `key` values its rows have in the window."""
    newest = rows.groupby(["client_id", key], observed=True).bucket.min()
    return (newest.groupby(level="client_id").value_counts().unstack("bucket")
            .reindex(index=clients, columns=range(6), fill_value=0).fillna(0)
            .cumsum(axis=1).astype("int64"))


def windowed_lists(rows: pd.DataFrame, key: str, clients: pd.Index
                   ) -> list[tuple[pd.Series, pd.Series]]:
    """Per window: each profile's distinct `key` values by units (`qty`, most first) then name,
    and their count. Sums per (profile, key, bucket), made cumulative over the buckets."""
    grouped = rows.groupby(["client_id", key, "bucket"], observed=True).qty.agg(["sum", "size"])
    units = grouped["sum"].unstack("bucket", fill_value=0).reindex(
        columns=range(6), fill_value=0).cumsum(axis=1)
    seen = grouped["size"].unstack("bucket", fill_value=0).reindex(
        columns=range(6), fill_value=0).cumsum(axis=1)
    pair_clients = units.index.get_level_values("client_id").to_numpy()
    pair_keys = units.index.get_level_values(key)
    result = []
    for i in range(len(WINDOWS)):
        present = seen[i].to_numpy() > 0
        pairs = pd.DataFrame({"client_id": pair_clients[present], "key": pair_keys[present],
                              "units": units[i].to_numpy()[present]})
        pairs = pairs.sort_values(["client_id", "units", "key"], ascending=[True, False, True])
        result.append(list_column(pairs.client_id, pairs.key, clients))
    return result


def list_column(owners: pd.Series, values: pd.Series, clients: pd.Index
                ) -> tuple[pd.Series, pd.Series]:
    """`values` (categorical), in order and grouped by owner, as one list per profile (an
    Arrow list column: a Python list per profile would cost more than all the rest), and the
    length of each list."""
    lengths = owners.value_counts().reindex(clients, fill_value=0)
    offsets = np.concatenate([[0], np.cumsum(lengths.to_numpy())])
    names = pa.array(np.asarray(values.cat.categories, dtype=object), type=pa.large_string())
    array = pa.LargeListArray.from_arrays(pa.array(offsets, type=pa.int64()),
                                          names.take(pa.array(values.cat.codes.to_numpy())))
    return pd.Series(pd.arrays.ArrowExtensionArray(array), index=clients), lengths


def rfm_codes(last_age: pd.Series, purchases: pd.Series, cents: pd.Series) -> pd.Series:
    """The three-digit code of every profile with a purchase in the window, scored by
    `1 + floor(5 * below / n)`; `below` counts strictly worse values (rank 'min' - 1)."""
    buyers = purchases > 0
    n = int(buyers.sum())
    recency = 1 + (5 * (last_age[buyers].rank(method="min", ascending=False) - 1) // n)
    frequency = 1 + (5 * (purchases[buyers].rank(method="min") - 1) // n)
    monetary = 1 + (5 * (cents[buyers].rank(method="min") - 1) // n)
    codes = (recency * 100 + frequency * 10 + monetary).astype("int64").astype("str")
    return codes.reindex(purchases.index)


def by_pattern(codes: pd.Series, patterns: dict[str, str]) -> pd.Series:
    """The name of the first pattern the code matches in full; PROSPECTS without a code."""
    table = {}
    for code in (f"{r}{f}{m}" for r in "12345" for f in "12345" for m in "12345"):
        table[code] = next(name for name, pattern in patterns.items()
                           if re.fullmatch(pattern, code))
    return codes.map(table).fillna(PROSPECTS)


def ranked_lists(rows: pd.DataFrame, key: str, clients: pd.Index,
                 by_name_only: bool = False) -> pd.Series:
    """Each profile's distinct `key` values (a categorical), by units then name, or by name."""
    rows = rows[rows[key].notna()]
    if by_name_only:
        pairs = rows[["client_id", key]].drop_duplicates().sort_values(["client_id", key])
    else:
        pairs = rows.groupby(["client_id", key], observed=True).qty.sum().reset_index()
        pairs = pairs.sort_values(["client_id", "qty", key], ascending=[True, False, True])
    return list_column(pairs.client_id, pairs[key], clients)[0]


def favorite(rows: pd.DataFrame, key: str, clients: pd.Index) -> pd.Series:
    """The key with most units, then most value, then the first by name."""
    sums = rows.groupby(["client_id", key], observed=True)[["qty", "value"]].sum().reset_index()
    best = sums.sort_values(["client_id", "qty", "value", key],
                            ascending=[True, False, False, True]).drop_duplicates("client_id")
    return best.set_index("client_id")[key].astype("object").reindex(clients)


def single_fields(purchases: pd.DataFrame, bought: pd.DataFrame,
                  bought_categories: pd.DataFrame, orders: pd.DataFrame, clients: pd.Index,
                  day: np.datetime64, total_purchases: pd.Series,
                  fulfilled: set[str]) -> dict[str, Column]:
    out: dict[str, Column] = {}
    dates = purchases.order_date.to_numpy().astype("datetime64[D]")
    first = pd.Series(dates, index=purchases.client_id).groupby(level=0).min().reindex(clients)
    last = purchases.sort_values(["client_id", "order_ts", "store_code", "order_number"]
                                 ).drop_duplicates("client_id", keep="last").set_index(
        "client_id")
    last_date = last.order_date.reindex(clients)
    out["First_Purchase_Date"] = first
    out["Last_Purchase_Date"] = last_date
    out["Days_Since_First_Purchase"] = (pd.Timestamp(day) - first).dt.days.astype("Int64")
    out["Days_Since_Last_Purchase"] = (pd.Timestamp(day) - last_date).dt.days.astype("Int64")
    out["Last_Purchase_Amount"] = (last.cents / 100).reindex(clients)
    for name, column in (("Payment_Methods", "payment_method"), ("Promo_Codes", "promo_codes"),
                         ("Shipping_Methods", "delivery_type"), ("Stores", "store_code")):
        values = last[[column]].explode(column) if column in ("payment_method", "promo_codes") \
            else last[[column]]
        values = values.reset_index().assign(key=lambda frame: keys(frame[column]))
        out[f"Last_Purchase_{name}"] = ranked_lists(values, "key", clients, by_name_only=True)
    last_lines = bought[bought.oid.isin(last.oid)]
    out["Last_Purchase_Items"] = ranked_lists(last_lines, "product", clients)
    out["Last_Purchase_Brands"] = ranked_lists(last_lines, "brand", clients)
    out["Last_Purchase_Categories"] = ranked_lists(
        bought_categories[bought_categories.oid.isin(last.oid)], "category", clients)
    out["Last_Purchase_Sellers"] = ranked_lists(last_lines, "seller", clients)
    spread = (last_date - first).dt.days
    out["Average_Days_Between_Purchases"] = (spread / (total_purchases - 1)).where(
        total_purchases >= 2)
    out["Favorite_Store"] = favorite(purchases, "store", clients)
    out["Favorite_Brand"] = favorite(bought, "brand", clients)
    out["Favorite_Category"] = favorite(bought_categories, "category", clients)
    ltv = orders[orders.status.isin(fulfilled)].groupby("client_id").cents.sum()
    out["LTV"] = ltv.reindex(clients, fill_value=0) / 100
    return out
