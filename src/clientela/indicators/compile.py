"""The catalog compiled to SQL: a few staged SELECTs, each a SQLGlot expression.

The stages, each materialised as a table by the engine that runs them:
1. `ind_orders`: the pool, the orders known on the as-of date D with a purchase or fulfilled
   status, each with its profile and its age in days (D minus its local date);
   `ind_last_order`: each profile's last purchase;
2. `ind_lines`, `ind_order_totals`, `ind_categories`: their lines (units signed, returns
   negative), each order's units, the purchase lines' categories; `ind_last_lines` and
   `ind_last_categories`: those of the last purchases;
3. one `ind_stream_<key>` per key stream: one row per (profile, key) with its last age and its
   units per window, so distinct counts and lists per window come from one small table rather
   than from `COUNT(DISTINCT ...)` repeated per window;
4. per profile: `ind_profile_orders` (sums and counts), `ind_profile_<key>` (counts, lists and
   favorite of a stream), `ind_last` and `ind_last_keys` (the last purchase),
   `ind_rfm_population` (R, F and M), then `ind_rfm` (the codes, once the cut points are known);
5. the result, one row per profile, every indicator in catalog order, RFM scored against cut
   points given by the caller (computed from stage 4 by a full run, read back by the
   single-profile path).
The lines, the categories and the streams that gather lists are ordered by profile: gathering
a profile's rows is several times faster when they are together, and the groupings over them
are faster too. The pool is not (sorting it cost more than its readers gained).
`Scope.selected` restricts every stage to the profiles listed in the table `ind_selected`
(one profile, or those a realtime micro-batch touched): that path runs the very SQL of the full
run, except that the pool reads the profiles' orders and superseded versions from two stages
that find them by customer id alone (`ind_selected_orders`, `ind_selected_order_versions`:
an index lookup where the worker made the lookup indexes, docs/stores.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlglot import exp

from clientela.config import Settings
from clientela.indicators.catalog import (
    FAMILIES,
    SINGLE_FIELDS,
    WINDOWS,
    Aggregate,
    Family,
    Keep,
    Single,
    SingleField,
    Stream,
    window_label,
)
from clientela.indicators.expressions import (
    and_,
    blank_to_null,
    case,
    cast,
    coalesce,
    col,
    date_lit,
    days_between,
    empty_list,
    eq,
    filtered,
    full_match,
    is_in,
    lit,
    on,
    ranked_ids,
    union_all,
)

ORDER_COLUMNS = ("store_code", "order_number", "user_id", "order_ts", "order_date",
                 "total_amount", "status", "promo_codes", "payment_method", "delivery_type")
AMOUNT = "DECIMAL(18, 2)"
UNITS = "DECIMAL(18, 2)"
VALUE = "DECIMAL(18, 4)"
"""Sums of units and line values: 18 digits are 64-bit integers, where the engine's default
(38 digits) takes 128 bits a value, doubling the memory of the largest stages."""


@dataclass(frozen=True)
class Scope:
    """What one computation covers: the as-of date, the pipeline's statuses, one profile or
    all."""

    as_of: date
    purchase_statuses: tuple[str, ...]
    fulfilled_statuses: tuple[str, ...]
    parent_products: bool
    store_scoped: bool
    rfm_window: str
    rfm_groups: tuple[tuple[str, str], ...]
    rfm_segments: tuple[tuple[str, str], ...]
    selected: bool = False
    """Restrict every stage to the profiles whose client ids the table `ind_selected` holds."""

    @classmethod
    def of(cls, settings: Settings, as_of: date, selected: bool = False) -> Scope:
        return cls(
            as_of=as_of,
            purchase_statuses=tuple(settings.orders.purchase_statuses),
            fulfilled_statuses=tuple(settings.orders.fulfilled_statuses),
            parent_products=settings.indicators.product_level == "parent",
            store_scoped=settings.files.store_scoped_customer_ids,
            rfm_window=settings.rfm.window,
            rfm_groups=tuple(settings.rfm.groups.items()),
            rfm_segments=tuple(settings.rfm.segments.items()),
            selected=selected,
        )


@dataclass(frozen=True)
class Parts:
    """How a stage may be made in parts, the profiles of one part at a time: what it holds in
    memory (lists of keys, wide rows) is then a part's. Engines short of memory use it."""

    rows_of: str
    """The table whose rows the stage holds while it works."""
    row_bytes: int
    """Memory one of those rows takes in the stage, as measured on the benchmark's stores."""


@dataclass(frozen=True)
class Stage:
    table: str
    select: exp.Select
    parts: Parts | None = None


PARTS, PART = "parts", "part"


def in_part(select: exp.Select) -> exp.Select:
    """`select` reading only the profiles of part `$part` of `$parts` from every table it
    reads by profile."""
    def restricted(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.Table) or not isinstance(node.parent, exp.From | exp.Join):
            return node
        if node.name != "profiles" and not node.name.startswith(PER_PROFILE_PREFIXES):
            return node
        part = eq(exp.Mod(this=col("client_id"), expression=exp.Parameter(
            this=exp.var(PARTS))), exp.Parameter(this=exp.var(PART)))
        rows = exp.select(exp.Star()).from_(exp.table_(node.name)).where(part)
        return rows.subquery(node.alias_or_name)
    parted = select.copy().transform(restricted)
    assert isinstance(parted, exp.Select)
    return parted


PER_PROFILE_PREFIXES = ("ind_stream_", "ind_profile_", "ind_last", "ind_rfm")
"""Stages with one row per profile, or per profile and key."""


CutPoints = dict[tuple[str, str], dict[int, Decimal]]
"""(window label, dimension R/F/M) -> score -> the least good value reaching it."""


def in_window(window: int | None) -> exp.Expr:
    return exp.true() if window is None else exp.LT(this=col("age"), expression=lit(window))


def window_suffix(window: int | None) -> str:
    return window_label(window)


# Stage 1 and 2: the pool and its lines.

def _known_orders(scope: Scope) -> exp.Expr:
    """Orders as known on D: rows sent by then, and for an order re-sent after D the version
    that was current on D (it keeps the order's key)."""
    day = date_lit(scope.as_of)
    columns = list(map(col, ("order_key", *ORDER_COLUMNS)))
    source = SELECTED_ORDERS if scope.selected else ORDER_TABLES
    current = (exp.select(*columns).from_(source["orders"])
               .where(exp.LTE(this=col("batch_day"), expression=day)))
    earlier = (exp.select(*(c.copy() for c in columns)).from_(source["order_versions"])
               .where(and_(exp.LTE(this=col("batch_day"), expression=day.copy()),
                           exp.GT(this=col("superseded_on"), expression=day.copy()))))
    return exp.union(current, earlier, distinct=False).subquery("o")


def orders_stage(scope: Scope) -> Stage:
    status = col("status", "o")
    counted = is_in(status, scope.purchase_statuses)
    fulfilled = is_in(status.copy(), scope.fulfilled_statuses)
    amount = col("total_amount", "o")
    user_scope = col("store_code", "o") if scope.store_scoped else lit("")
    select = (
        exp.select(
            col("client_id", "m"), col("order_key", "o"), col("store_code", "o"),
            col("order_number", "o"), col("order_ts", "o"), col("order_date", "o"),
            exp.alias_(cast(days_between(col("order_date", "o"), date_lit(scope.as_of)),
                            "INTEGER"), "age"),
            exp.alias_(amount, "amount"),
            exp.alias_(counted, "counted"),
            exp.alias_(and_(counted.copy(), exp.GTE(this=amount.copy(), expression=lit(0))),
                       "is_purchase"),
            exp.alias_(fulfilled, "fulfilled"),
            col("promo_codes", "o"), col("payment_method", "o"), col("delivery_type", "o"))
        .from_(_known_orders(scope))
    )
    if scope.selected:
        # The importer stores cells trimmed: joined on the plain column to a small table, the
        # scan of the orders skips what cannot match.
        select = select.join(exp.table_(SELECTED_USERS, alias="m"), on=and_(
            eq(col("scope", "m"), user_scope), eq(col("value", "m"), col("user_id", "o"))))
    else:
        select = (select
                  .join(exp.table_("identifiers", alias="i"), on=and_(
                      eq(col("type", "i"), lit("user_id")), eq(col("scope", "i"), user_scope),
                      eq(col("value", "i"), exp.Trim(this=col("user_id", "o")))))
                  .join(exp.table_("identity_members", alias="m"),
                        on=eq(col("identifier", "m"), col("id", "i"))))
    select = select.where(and_(
        exp.LTE(this=col("order_date", "o"), expression=date_lit(scope.as_of)),
        exp.Or(this=counted.copy(), expression=fulfilled.copy())))
    return Stage("ind_orders", select)


SELECTED_USERS = "ind_selected_users"


def selected_users_stage(scope: Scope) -> Stage:
    """(client_id, scope, value): the customer ids of the selected profiles."""
    select = (exp.select(col("client_id", "m"), col("scope", "i"), col("value", "i"))
              .from_(exp.table_("identifiers", alias="i"))
              .join(exp.table_("identity_members", alias="m"),
                    on=eq(col("identifier", "m"), col("id", "i")))
              .where(and_(eq(col("type", "i"), lit("user_id")), _of_selection(scope, "m"))))
    return Stage(SELECTED_USERS, select)


ORDER_TABLES = {"orders": "orders", "order_versions": "order_versions"}
SELECTED_ORDERS = {table: f"ind_selected_{table}" for table in ORDER_TABLES}
"""The stored orders and superseded versions of the selected profiles' customer ids."""


def selected_orders_stages() -> list[Stage]:
    """Rows by customer id alone, each in a statement of its own: with no other filter beside
    it, the join on that one indexed column reads the index instead of the whole table. (Each
    row found is read from its own row group: only the columns the pool needs.)"""
    columns = ("order_key", *ORDER_COLUMNS, "batch_day")
    return [Stage(name, exp.select(*map(col, columns), *(
        [col("superseded_on")] if table == "order_versions" else [])).from_(table).where(exp.In(
            this=col("user_id"),
            query=exp.select(col("value")).from_(SELECTED_USERS).subquery())))
        for table, name in SELECTED_ORDERS.items()]


SELECTION = "ind_selected"
"""`(client_id)`: the profiles a selected scope computes."""


def _of_selection(scope: Scope, table: str) -> exp.Expr:
    return (exp.In(this=col("client_id", table),
                   query=exp.select(col("client_id")).from_(SELECTION).subquery())
            if scope.selected else exp.true())


def _product(scope: Scope, lines: str) -> exp.Expr:
    product: exp.Expr = col("item_code", lines)
    if scope.parent_products:
        product = coalesce(blank_to_null(col("parent_item_code", lines)), product)
    return product


LINE_KEYS = {Stream.PRODUCT: "product", Stream.BRAND: "brand", Stream.SELLER: "seller"}
"""Streams whose keys are columns of the order lines."""


RAW_TABLES = {"order_lines": "ind_raw_lines",
              "order_line_categories": "ind_raw_categories"}
RAW_COLUMNS = {
    "order_lines": ("order_key", "line_number", "quantity", "price", "item_code",
                    "parent_item_code", "brand", "seller", "batch_day"),
    "order_line_categories": ("order_key", "line_number", "category", "batch_day"),
}
"""The columns the stages read of each: a scan of the whole table reads these alone."""


def _raw(table: str, scope: Scope) -> str:
    """The stored lines or categories; for selected profiles, those of their orders, read once."""
    return RAW_TABLES[table] if scope.selected else table


def raw_stages(scope: Scope) -> list[Stage]:
    """For selected profiles: their lines and categories, so that later stages scan them, not the
    whole tables."""
    if not scope.selected:
        return []
    pool = exp.In(this=col("order_key"),
                  query=exp.select(col("order_key")).from_("ind_orders").subquery())
    return [Stage(name, exp.select(*map(col, RAW_COLUMNS[table])).from_(table)
                  .where(pool.copy())) for table, name in RAW_TABLES.items()]


def _raw_keys(stream: Stream, scope: Scope) -> exp.Select:
    """Every key the stream can name, from the stored rows."""
    day = exp.LTE(this=col("batch_day"), expression=date_lit(scope.as_of))
    if stream in LINE_KEYS:
        lines = _raw("order_lines", scope)
        key = (_product(scope, lines) if stream is Stream.PRODUCT
               else blank_to_null(col(stream.value, lines)))
        return exp.select(exp.alias_(key, "key")).from_(lines).where(day)
    if stream is Stream.CATEGORY:
        return (exp.select(exp.alias_(col("category"), "key"))
                .from_(_raw("order_line_categories", scope)).where(day))
    if stream is Stream.STORE:
        return exp.select(exp.alias_(col("store_code"), "key")).from_("ind_orders")
    codes = exp.select(exp.alias_(exp.Explode(this=col("promo_codes")), "code")).from_(
        "ind_orders")
    return exp.select(exp.alias_(blank_to_null(col("code")), "key")).from_(codes.subquery("p"))


def keys_stage(stream: Stream, scope: Scope) -> Stage:
    """The stream's distinct keys numbered in name order, so that the stages carry, group and
    sort integers, and "then by name" is "then by id"."""
    distinct = (exp.select(col("key")).distinct()
                .from_(_raw_keys(stream, scope).subquery("r"))
                .where(exp.Not(this=exp.Is(this=col("key"), expression=exp.null()))))
    number = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=[
        exp.Ordered(this=col("key"))]))
    select = exp.select(col("key"), exp.alias_(cast(exp.Sub(this=number, expression=lit(1)),
                                                    "INTEGER"), "key_id")
                        ).from_(distinct.subquery("d"))
    return Stage(f"ind_keys_{stream.value}", select)


def _line_key(order_key: exp.Expr, line_number: exp.Expr) -> exp.Expr:
    """One integer per order line: joins on it are joins on one column."""
    return exp.Add(this=exp.Mul(this=order_key, expression=lit(2**20)), expression=line_number)


def lines_stage(scope: Scope) -> Stage:
    quantity = col("quantity", "l")
    units = case((exp.LT(this=col("amount", "o"), expression=lit(0)),
                  exp.Neg(this=exp.Abs(this=quantity))), default=quantity.copy())
    select = (
        exp.select(
            col("client_id", "o"), col("order_key", "o"), col("age", "o"),
            col("is_purchase", "o"),
            exp.alias_(_line_key(col("order_key", "o"), col("line_number", "l")), "line_key"),
            exp.alias_(units, "units"),
            exp.alias_(cast(exp.Mul(this=col("quantity", "l"), expression=col("price", "l")),
                            VALUE), "value"),
            *(exp.alias_(col("key_id", f"k_{name}"), f"{name}_id")
              for name in LINE_KEYS.values()))
        .from_(exp.table_(_raw("order_lines", scope), alias="l"))
        .join(exp.table_("ind_orders", alias="o"), on=on("o", "l", "order_key"))
    )
    for stream, name in LINE_KEYS.items():
        key = (_product(scope, "l") if stream is Stream.PRODUCT
               else blank_to_null(col(name, "l")))
        select = select.join(exp.table_(f"ind_keys_{stream.value}", alias=f"k_{name}"),
                             on=eq(col("key", f"k_{name}"), key), join_type="left")
    select = select.where(and_(
        col("counted", "o"),
        exp.LTE(this=col("batch_day", "l"), expression=date_lit(scope.as_of)))
    ).order_by(col("client_id", "o"))
    return Stage("ind_lines", select)


def order_totals_stage() -> Stage:
    per_order = (exp.select(col("order_key"),
                            exp.alias_(cast(exp.Sum(this=col("units")), UNITS), "units"),
                            exp.alias_(cast(exp.Sum(this=col("value")), VALUE), "value"))
                 .from_("ind_lines").group_by(col("order_key")))
    select = (
        exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("o")),
                   exp.alias_(coalesce(col("units", "t"), lit(0)), "units"),
                   exp.alias_(coalesce(col("value", "t"), lit(0)), "value"),
                   exp.alias_(col("key_id", "k"), "store_id"))
        .from_(exp.table_("ind_orders", alias="o"))
        .join(per_order.subquery("t"), on=on("o", "t", "order_key"), join_type="left")
        .join(exp.table_(f"ind_keys_{Stream.STORE.value}", alias="k"),
              on=eq(col("key", "k"), col("store_code", "o")), join_type="left")
    )
    return Stage("ind_order_totals", select)


def categories_stage(scope: Scope) -> Stage:
    line_key = _line_key(col("order_key", "c"), col("line_number", "c"))
    select = (
        exp.select(col("client_id", "l"), col("order_key", "l"), col("age", "l"),
                   col("units", "l"), col("value", "l"),
                   exp.alias_(col("key_id", "k"), "key_id"))
        .from_(exp.table_(_raw("order_line_categories", scope), alias="c"))
        .join(exp.table_("ind_lines", alias="l"), on=eq(col("line_key", "l"), line_key))
        .join(exp.table_(f"ind_keys_{Stream.CATEGORY.value}", alias="k"),
              on=eq(col("key", "k"), col("category", "c")))
        .where(and_(col("is_purchase", "l"),
                    exp.LTE(this=col("batch_day", "c"), expression=date_lit(scope.as_of))))
        .order_by(col("client_id", "l"))
    )
    return Stage("ind_categories", select)


# Stage 3: key streams.

def stream_source(stream: Stream, last: bool = False) -> exp.Select:
    """(client_id, order_key, age, units, value, key_id) for every purchase naming a key; with
    `last`, for the last purchases only (lines and categories)."""
    facts = [col("client_id"), col("order_key"), col("age"), col("units"), col("value")]
    if stream is Stream.CATEGORY:
        return exp.select(*facts, col("key_id")).from_(
            "ind_last_categories" if last else "ind_categories")
    if stream in LINE_KEYS:
        key = col(f"{LINE_KEYS[stream]}_id")
        return (exp.select(*facts, exp.alias_(key, "key_id"))
                .from_("ind_last_lines" if last else "ind_lines")
                .where(and_(col("is_purchase"), exp.Not(this=exp.Is(this=key.copy(),
                                                                      expression=exp.null())))))
    if stream is Stream.STORE:
        return (exp.select(*facts, exp.alias_(col("store_id"), "key_id"))
                .from_("ind_order_totals").where(col("is_purchase")))
    codes = (exp.select(*facts, exp.alias_(exp.Explode(this=exp.ArrayDistinct(
                 this=col("promo_codes"))), "code"))
             .from_("ind_order_totals").where(col("is_purchase")))
    return (exp.select(*(col(f.name, "p") for f in facts), col("key_id", "k"))
            .from_(codes.subquery("p"))
            .join(exp.table_(f"ind_keys_{Stream.PROMO_CODE.value}", alias="k"),
                  on=eq(col("key", "k"), blank_to_null(col("code", "p")))))


def stream_stage(stream: Stream, lists: bool, favorite: bool) -> Stage:
    """(profile, key) with the key's last age; the units per window that rank lists, the
    units and value of all time that elect the favorite, when the stream has them."""
    def units(window: int | None) -> exp.Expr:
        return exp.alias_(cast(filtered(exp.Sum(this=col("units")), in_window(window)), UNITS),
                          f"units_{window_suffix(window)}")
    measures = [units(w) for w in WINDOWS] if lists else [units(None)] if favorite else []
    if favorite:
        measures.append(exp.alias_(cast(exp.Sum(this=col("value")), VALUE), "value_total"))
    select = (exp.select(col("client_id"), col("key_id"),
                         exp.alias_(exp.Min(this=col("age")), "age"), *measures)
              .from_(stream_source(stream).subquery("s"))
              .group_by(col("client_id"), col("key_id")))
    if lists:
        # Gathering lists is several times faster when each profile's rows are together; a
        # grouping scatters them.
        select = select.order_by(col("client_id"))
    return Stage(f"ind_stream_{stream.value}", select)


# Stage 4: per profile.

def _order_measure(family: Family, window: int | None) -> exp.Expr:
    keep = col("counted") if family.keep is Keep.COUNTED else col("is_purchase")
    if family.aggregate is Aggregate.COUNT:
        aggregate: exp.Expr = exp.Count(this=exp.Star())
    else:
        aggregate = exp.Sum(this=col(family.measure or ""))
    return exp.alias_(filtered(aggregate, and_(keep, in_window(window))),
                      family.field(window))


def profile_orders_stage() -> Stage:
    measures = [_order_measure(f, w) for f in FAMILIES
                if f.aggregate in (Aggregate.SUM, Aggregate.COUNT) for w in WINDOWS]
    select = (
        exp.select(
            col("client_id"), *measures,
            exp.alias_(filtered(exp.Min(this=col("order_date")), col("is_purchase")),
                       "first_date"),
            exp.alias_(filtered(exp.Sum(this=col("amount")), col("fulfilled")), "ltv"))
        .from_("ind_order_totals").group_by(col("client_id"))
    )
    return Stage("ind_profile_orders", select)


def profile_stream_stage(stream: Stream, lists: bool, counts: bool, favorite: bool) -> Stage:
    columns: list[exp.Expr] = [col("client_id")]
    for window in WINDOWS:
        suffix = window_suffix(window)
        if counts:
            columns.append(exp.alias_(filtered(exp.Count(this=exp.Star()), in_window(window)),
                                      f"count_{suffix}"))
        if lists:
            columns.append(exp.alias_(ranked_ids(col(f"units_{suffix}"), col("key_id"),
                                                 in_window(window)), f"list_{suffix}"))
    if favorite:
        ranking = exp.Tuple(expressions=[exp.Neg(this=col("units_total")),
                                         exp.Neg(this=col("value_total")), col("key_id")])
        columns.append(exp.alias_(exp.ArgMin(this=col("key_id"), expression=ranking),
                                  "favorite"))
    source = f"ind_stream_{stream.value}"
    select = exp.select(*columns).from_(source).group_by(col("client_id"))
    # Gathered lists cannot spill to disk: a large stream is listed in parts.
    return Stage(f"ind_profile_{stream.value}", select,
                 Parts(source, 200) if lists else None)


def _clean_list(value: exp.Expr) -> exp.Expr:
    """Distinct non-blank values, by name; [] when there are none."""
    item = exp.to_identifier("v")
    kept = exp.ArrayFilter(this=exp.ArrayDistinct(this=value), expression=exp.Lambda(
        this=exp.Not(this=exp.Is(this=blank_to_null(exp.column(item.copy())),
                                 expression=exp.null())), expressions=[item]))
    return coalesce(exp.ArraySort(this=kept), empty_list())


def _one_item_list(value: exp.Expr) -> exp.Expr:
    return case((exp.Is(this=blank_to_null(value), expression=exp.null()), empty_list()),
                default=exp.Array(expressions=[value.copy()]))


def last_purchase_stage() -> Stage:
    """Each profile's last purchase: the greatest (order time, StoreCode, OrderNumber). The
    orders at the latest time are few, so the tie-break compares strings on them alone."""
    purchases = exp.select(col("client_id"), exp.alias_(exp.Max(this=col("order_ts")),
                                                        "order_ts")).from_("ind_orders").where(
        col("is_purchase")).group_by(col("client_id"))
    tie_break = exp.Tuple(expressions=[col("store_code", "o"), col("order_number", "o")])
    select = (exp.select(col("client_id", "o"), exp.alias_(
                  exp.ArgMax(this=col("order_key", "o"), expression=tie_break), "order_key"))
              .from_(exp.table_("ind_orders", alias="o"))
              .join(purchases.subquery("t"), on=on("o", "t", "client_id", "order_ts"))
              .where(col("is_purchase", "o")).group_by(col("client_id", "o")))
    return Stage("ind_last_order", select)


def last_purchase_rows_stages() -> tuple[Stage, Stage]:
    """The lines and categories of the last purchases, read once by every last-purchase list."""
    def of(name: str) -> Stage:
        last = exp.select(col("order_key")).from_("ind_last_order").subquery()
        return Stage(f"ind_last_{name}", exp.select(exp.Star()).from_(f"ind_{name}").where(
            exp.In(this=col("order_key"), query=last)))
    return of("lines"), of("categories")


LAST_ORDER_FACTS = ("amount", "order_date", "last_payment_method", "last_promo_codes",
                    "last_delivery_type", "last_store_code")
"""The columns of `ind_last`, which `ind_rfm` carries on to the result."""


def last_order_stage() -> Stage:
    order_lists = {"payment_method": _clean_list(col("payment_method", "o")),
                   "promo_codes": _clean_list(col("promo_codes", "o")),
                   "delivery_type": _one_item_list(col("delivery_type", "o")),
                   "store_code": _one_item_list(col("store_code", "o"))}
    select = (
        exp.select(col("client_id", "p"), exp.alias_(col("amount", "o"), "amount"),
                   exp.alias_(col("order_date", "o"), "order_date"),
                   *(exp.alias_(value, f"last_{name}") for name, value in order_lists.items()))
        .from_(exp.table_("ind_last_order", alias="p"))
        .join(exp.table_("ind_order_totals", alias="o"), on=on("o", "p", "order_key"))
    )
    return Stage("ind_last", select)


def last_keys_stage() -> Stage:
    """The keys of each profile's last purchase, a list per stream, most units first: one small
    grouping over the last purchases' rows for every stream."""
    streams = last_lines_streams()
    rows = [exp.select(exp.alias_(lit(tag), "stream"), col("client_id"), col("key_id"),
                       col("units"))
            .from_(stream_source(stream, last=True).subquery("s"))
            for tag, stream in enumerate(streams)]
    per_key = (exp.select(col("stream"), col("client_id"), col("key_id"),
                          exp.alias_(exp.Sum(this=col("units")), "units"))
               .from_(union_all(rows).subquery("r")).group_by(col("stream"), col("client_id"),
                                                     col("key_id")))
    lists = [exp.alias_(ranked_ids(col("units"), col("key_id"), eq(col("stream"), lit(tag))),
                        stream.value) for tag, stream in enumerate(streams)]
    return Stage("ind_last_keys", exp.select(col("client_id"), *lists)
                 .from_(per_key.subquery("k")).group_by(col("client_id")))


def streams_needed() -> dict[Stream, tuple[bool, bool, bool]]:
    """Stream -> (lists, counts, favorite) that the catalog asks of it."""
    needed: dict[Stream, tuple[bool, bool, bool]] = {}
    for family in FAMILIES:
        if family.stream is not None:
            lists, counts, favorite = needed.get(family.stream, (False, False, False))
            needed[family.stream] = (lists or family.aggregate is Aggregate.LIST,
                                     counts or family.aggregate is Aggregate.DISTINCT, favorite)
    for field in SINGLE_FIELDS:
        if field.how is Single.FAVORITE and field.stream is not None:
            lists, counts, _ = needed.get(field.stream, (False, False, False))
            needed[field.stream] = (lists, counts, True)
    return needed


def key_streams() -> list[Stream]:
    """Every stream, in a fixed order: each gets a dictionary of its keys."""
    return list(Stream)


def last_lines_streams() -> list[Stream]:
    return [f.stream for f in SINGLE_FIELDS if f.how is Single.LAST_LINES_LIST and f.stream]


def stages(scope: Scope) -> list[Stage]:
    """Every stage before the result, in order: each large table is read by all its readers
    soon after it is made, so that it can be dropped early (memory is what a large run lacks)."""
    needed = streams_needed()
    last_lines, last_categories = last_purchase_rows_stages()
    built = [selected_users_stage(scope), *selected_orders_stages()] if scope.selected else []
    built += [orders_stage(scope), *raw_stages(scope),
             *(keys_stage(s, scope) for s in key_streams()), last_purchase_stage(),
             lines_stage(scope), last_lines, order_totals_stage(), profile_orders_stage(),
             last_order_stage(), categories_stage(scope), last_categories]
    built.append(last_keys_stage())
    for stream, (lists, counts, favorite) in needed.items():
        built += [stream_stage(stream, lists, favorite),
                  profile_stream_stage(stream, lists, counts, favorite)]
    built.append(rfm_population_stage(scope.as_of))
    return built


# Stage 5: the result.

def family_named(name: str) -> Family:
    return next(f for f in FAMILIES if f.name == name)


RFM_POPULATION = "ind_rfm_population"


def rfm_value(dimension: str, window: int | None, as_of: date) -> exp.Expr:
    """R, F or M of a profile for a window, from `ind_profile_orders` (po) and `ind_last`
    (last). R is the days since the last purchase, which is in every window holding one."""
    if dimension == "R":
        return days_between(col("order_date", "last"), date_lit(as_of))
    return col(family_named("Purchases" if dimension == "F" else "Value").field(window), "po")


def score(value: exp.Expr, points: dict[int, Decimal], lower_is_better: bool
          ) -> exp.Expr:
    """1 plus the number of cut points the value reaches."""
    total: exp.Expr = lit(1)
    for _, threshold in sorted(points.items()):
        reached: exp.Expr = (exp.LTE if lower_is_better else exp.GTE)(
            this=value.copy(), expression=lit(threshold))
        total = exp.Add(this=total, expression=case((reached, lit(1)), default=lit(0)))
    return total


def _rfm_column(dimension: str, window: int | None) -> exp.Expr:
    """R, F or M of a window in RFM_POPULATION."""
    return col("r") if dimension == "R" else col(f"{dimension.lower()}_{window_label(window)}")


def rfm_code(window: int | None, cut_points: CutPoints) -> exp.Expr:
    label = window_label(window)
    digits = [cast(score(_rfm_column(d, window), cut_points.get((label, d), {}), d == "R"),
                   "VARCHAR") for d in "RFM"]
    return case((exp.GT(this=col(f"f_{label}"), expression=lit(0)),
                 exp.Concat(expressions=digits)))


def rfm_stage(scope: Scope, cut_points: CutPoints) -> Stage:
    """Every window's RFM code, scored against `cut_points`, beside the last purchase's
    facts."""
    codes = [exp.alias_(rfm_code(w, cut_points), f"rfm_{window_label(w)}") for w in WINDOWS]
    return Stage("ind_rfm", exp.select(col("client_id"), *map(col, LAST_ORDER_FACTS), *codes)
                 .from_(RFM_POPULATION))


def _mapped(code: exp.Expr, patterns: Sequence[tuple[str, str]]) -> exp.Expr:
    whens: list[tuple[exp.Expr, exp.Expr]] = [
        (exp.Is(this=code.copy(), expression=exp.null()), lit("PROSPECTS"))]
    whens += [(full_match(code.copy(), pattern), lit(name)) for name, pattern in patterns]
    return case(*whens)


def _windowed(family: Family, window: int | None) -> exp.Expr:
    name = family.field(window)
    suffix = window_suffix(window)
    table = f"p_{family.stream.value}" if family.stream else "po"
    match family.aggregate:
        case Aggregate.SUM:
            return cast(coalesce(col(name, "po"), lit(0)), AMOUNT)
        case Aggregate.COUNT:
            return cast(coalesce(col(name, "po"), lit(0)), "BIGINT")
        case Aggregate.RATIO:
            dividend, divisor = (family_named(n).field(window)
                                 for n in family.ratio or ("", ""))
            return exp.Div(this=cast(col(dividend, "po"), "DOUBLE"),
                           expression=exp.Nullif(this=col(divisor, "po"), expression=lit(0)))
        case Aggregate.DISTINCT:
            return cast(coalesce(col(f"count_{suffix}", table), lit(0)), "BIGINT")
        case Aggregate.LIST:
            return coalesce(col(f"list_{suffix}", table), cast(exp.Array(expressions=[]),
                                                               "BIGINT[]"))
        case Aggregate.RFM:
            return col(f"rfm_{window_label(window)}", "rfm")


def _single(field: SingleField, scope: Scope) -> exp.Expr:
    as_of = date_lit(scope.as_of)
    total_purchases = col(family_named("Purchases").field(None), "po")
    match field.how:
        case Single.FIRST_DATE:
            return col("first_date", "po")
        case Single.LAST_DATE:
            return col("order_date", "rfm")
        case Single.DAYS_SINCE_FIRST:
            return cast(days_between(col("first_date", "po"), as_of), "BIGINT")
        case Single.DAYS_SINCE_LAST:
            return cast(days_between(col("order_date", "rfm"), as_of), "BIGINT")
        case Single.LAST_AMOUNT:
            return cast(col("amount", "rfm"), AMOUNT)
        case Single.LAST_ORDER_LIST:
            return coalesce(col(f"last_{field.column}", "rfm"), empty_list())
        case Single.LAST_LINES_LIST:
            stream = field.stream.value if field.stream else ""
            return coalesce(col(stream, "last_keys"), cast(exp.Array(expressions=[]),
                                                           "BIGINT[]"))
        case Single.AVERAGE_DAYS:
            span = cast(days_between(col("first_date", "po"), col("order_date", "rfm")),
                        "DOUBLE")
            return case((exp.GTE(this=total_purchases, expression=lit(2)),
                         exp.Div(this=span, expression=exp.Paren(this=exp.Sub(
                             this=total_purchases.copy(), expression=lit(1))))))
        case Single.FAVORITE:
            return col("favorite", f"p_{field.stream.value if field.stream else ''}")
        case Single.LTV:
            return cast(coalesce(col("ltv", "po"), lit(0)), AMOUNT)
        case Single.RFM_GROUP | Single.RFM_SEGMENT:
            patterns = scope.rfm_groups if field.how is Single.RFM_GROUP else scope.rfm_segments
            return _mapped(col(f"rfm_{scope.rfm_window}", "rfm"), patterns)


RESULT_PARTS = Parts("profiles", 3000)
"""The result joins seven per-profile stages, six of them holding lists: each part builds the
hash tables of its own profiles."""


def result(scope: Scope) -> exp.Select:
    """One row per profile (of `profiles`), `client_id` then every indicator in catalog
    order."""
    columns: list[exp.Expr] = [col("client_id", "pr")]
    columns += [exp.alias_(_windowed(f, w), f.field(w), quoted=True)
                for f in FAMILIES for w in WINDOWS]
    columns += [exp.alias_(_single(s, scope), s.name, quoted=True)
                for s in SINGLE_FIELDS]
    select = (exp.select(*columns).from_(exp.table_("profiles", alias="pr"))
              .join(exp.table_("ind_profile_orders", alias="po"),
                    on=on("pr", "po", "client_id"), join_type="left")
              .join(exp.table_("ind_rfm", alias="rfm"),
                    on=on("pr", "rfm", "client_id"), join_type="left")
              .join(exp.table_("ind_last_keys", alias="last_keys"),
                    on=on("pr", "last_keys", "client_id"), join_type="left"))
    for stream in streams_needed():
        alias = f"p_{stream.value}"
        select = select.join(exp.table_(f"ind_profile_{stream.value}", alias=alias),
                             on=on("pr", alias, "client_id"), join_type="left")
    return select.where(_of_selection(scope, "pr"))


def rfm_population_stage(as_of: date) -> Stage:
    """Every buying profile's R, and F and M of each window (`f_30`, `m_30`... `f_total`): what
    the cut points rank and the codes score; and its last purchase's facts, for the result."""
    columns: list[exp.Expr] = [col("client_id", "po"),
                               exp.alias_(rfm_value("R", None, as_of), "r")]
    for window in WINDOWS:
        label = window_label(window)
        columns += [exp.alias_(coalesce(rfm_value("F", window, as_of), lit(0)), f"f_{label}"),
                    exp.alias_(rfm_value("M", window, as_of), f"m_{label}")]
    columns += [col(name, "last") for name in LAST_ORDER_FACTS]
    return Stage(RFM_POPULATION, exp.select(*columns)
                 .from_(exp.table_("ind_profile_orders", alias="po"))
                 .join(exp.table_("ind_last", alias="last"), on=on("po", "last", "client_id")))


def cut_points_query(window: int | None, dimension: str) -> exp.Select:
    """(window, dimension, t2 ... t5) for scores 2-5 of a window's population (read from
    RFM_POPULATION): each value's score is 1 + floor(5 × below / n), `below` the profiles with
    a strictly worse value; the threshold of a score is the least good value reaching it."""
    label = window_label(window)
    value = _rfm_column(dimension, window)
    lower_is_better = dimension == "R"
    population = (exp.select(exp.alias_(value, "v")).from_(RFM_POPULATION)
                  .where(exp.GT(this=col(f"f_{label}"), expression=lit(0))))
    counts = (exp.select(col("v"), exp.alias_(exp.Count(this=exp.Star()), "c"))
              .from_(population.subquery("pop")).group_by(col("v")))
    worse_first = exp.Ordered(this=col("v"), desc=lower_is_better)
    below = exp.Window(this=exp.Sum(this=col("c")), order=exp.Order(expressions=[worse_first]),
                       spec=exp.WindowSpec(kind="ROWS", start="UNBOUNDED",
                                           start_side="PRECEDING", end=lit(1),
                                           end_side="PRECEDING"))
    total = exp.Window(this=exp.Sum(this=col("c")))
    scored = exp.select(
        col("v"),
        exp.alias_(exp.Add(this=lit(1), expression=exp.Floor(this=exp.Div(
            this=exp.Mul(this=lit(5), expression=coalesce(below, lit(0))), expression=total))),
            "score")).from_(counts.subquery("counts"))
    best = exp.Max if lower_is_better else exp.Min
    thresholds = [exp.alias_(cast(filtered(best(this=col("v")),
                                           exp.GTE(this=col("score"), expression=lit(k))),
                                  "DECIMAL(18, 2)"), f"t{k}")
                  for k in range(2, 6)]
    return exp.select(exp.alias_(lit(label), "window_name"), exp.alias_(lit(dimension),
                                                                         "dimension"),
                      *thresholds).from_(scored.subquery("scored"))


def cut_points_select() -> exp.Query:
    """Every window's and dimension's cut points in one statement."""
    return union_all([cut_points_query(window, dimension)
                      for window in WINDOWS for dimension in "RFM"])


# Key ids back to names.

def _id_streams() -> list[Stream]:
    """Streams whose keys the result holds as ids: lists, favorites, last purchase lines."""
    needed = streams_needed()
    return [s for s in key_streams() if s in last_lines_streams()
            or (s in needed and (needed[s][0] or needed[s][2]))]


def keys_select() -> exp.Expr:
    """(stream, key_id, key) of every stream the result refers to by id."""
    parts = [exp.select(exp.alias_(lit(s.value), "stream"), col("key_id"), col("key"))
             .from_(f"ind_keys_{s.value}") for s in _id_streams()]
    union: exp.Expr = parts[0]
    for part in parts[1:]:
        union = exp.union(union, part, distinct=False)
    return union


def decoded(values: str, keys: str) -> exp.Select:
    """The result with key ids replaced by names, column for column: what readers see."""
    item = exp.to_identifier("i")

    def name_of(stream: Stream, key_id: exp.Expr) -> exp.Expr:
        names = col("names", f"d_{stream.value}")
        return exp.Bracket(this=names, expressions=[exp.Add(this=key_id, expression=lit(1))])

    columns: list[exp.Expr] = [col("client_id", "v")]
    for family, window in ((f, w) for f in FAMILIES for w in WINDOWS):
        value: exp.Expr = col(family.field(window), "v")
        if family.aggregate is Aggregate.LIST and family.stream:
            value = exp.Transform(this=value, expression=exp.Lambda(
                this=name_of(family.stream, exp.column(item.copy())), expressions=[item]))
        columns.append(exp.alias_(value, family.field(window), quoted=True))
    for field in SINGLE_FIELDS:
        value = col(field.name, "v")
        if field.how is Single.FAVORITE and field.stream:
            value = name_of(field.stream, value)
        elif field.how is Single.LAST_LINES_LIST and field.stream:
            value = exp.Transform(this=value, expression=exp.Lambda(
                this=name_of(field.stream, exp.column(item.copy())), expressions=[item]))
        columns.append(exp.alias_(value, field.name, quoted=True))
    select = exp.select(*columns).from_(exp.table_(values, alias="v"))
    for stream in _id_streams():
        names = (exp.select(exp.alias_(exp.ArrayAgg(this=exp.Order(
                     this=col("key"), expressions=[exp.Ordered(this=col("key_id"))])), "names"))
                 .from_(keys).where(eq(col("stream"), lit(stream.value))))
        select = select.join(names.subquery(f"d_{stream.value}"), join_type="cross")
    return select
