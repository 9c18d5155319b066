"""The serving copy the API reads: profiles, the identity map, orders and the event timeline.

API processes never open the analytics store; the worker that owns it writes what they read
into the operational store after every micro-batch: the documents of the touched profiles, the
identifiers and aliases that resolve to them, their orders and events, and their indicators as
the single-profile path computed them. The same functions copy everything at once when the
serving copy is behind (a first start, or files imported while the server was down).
DuckDB builds the JSON documents set-based; SQLite only stores text.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any

import duckdb

from clientela.identity.profile import attributes_sql, consents_sql, profile_rows, tags_sql
from clientela.identity.rules import IdentityRules
from clientela.indicators.compute import SELECTED
from clientela.serving.publish import documents_select
from clientela.stores.analytics import registered
from clientela.stores.operational import indexes_set_aside

BATCH_ROWS = 50_000
PROFILES = "temp.serving_selected"
ORDERS = "temp.serving_orders_selected"
ORDERS_PER_PART = 250_000
"""Orders gathered with their lines at once when the whole serving copy is rebuilt: the lists
cannot spill, and 3M orders at once ran out of the default memory limit."""
STATE_KEY = "analytics"


def _batches(con: duckdb.DuckDBPyConnection, select: str,
             params: Sequence[Any] = ()) -> Iterator[list[list[Any]]]:
    """The result of `select` as lists of column values, `BATCH_ROWS` rows at a time."""
    reader = con.sql(select, params=list(params) or None).to_arrow_reader(BATCH_ROWS)
    assert reader is not None
    for batch in reader:
        yield [column.to_pylist() for column in batch.columns]  # names may repeat


def _copy(con: duckdb.DuckDBPyConnection, ops: sqlite3.Connection, select: str,
          insert: str, params: Sequence[Any] = ()) -> int:
    copied = 0
    for columns in _batches(con, select, params):
        ops.executemany(insert, zip(*columns, strict=True))
        copied += len(columns[0])
    return copied


def _select(con: duckdb.DuckDBPyConnection, table: str, column: str,
            values: Iterable[Any] | None, source: str) -> None:
    """`table` (column) holding `values`, or every value of `source` when None."""
    if values is None:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table.split('.')[-1]} AS {source}")
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table.split('.')[-1]} AS "
                    f"SELECT DISTINCT unnest(?::BIGINT[]) AS {column}", [sorted(values)])


def publish_profiles(con: duckdb.DuckDBPyConnection, ops: sqlite3.Connection,
                     rules: IdentityRules, client_ids: Iterable[int] | None,
                     removed: Iterable[int] = ()) -> int:
    """Replace the serving documents, identifiers and aliases of the given profiles (all when
    None); drop those of `removed`. Inside the caller's SQLite transaction."""
    _select(con, PROFILES, "client_id", client_ids, "SELECT client_id FROM profiles")
    gone = sorted(set(removed))
    if client_ids is None:
        for table in ("serving_documents", "serving_identifiers", "serving_aliases"):
            ops.execute(f"DELETE FROM {table}")
    else:
        ids = json.dumps(sorted({*client_ids, *gone}))
        for table in ("serving_documents", "serving_identifiers", "serving_profiles"):
            ops.execute(f"DELETE FROM {table} WHERE client_id IN "
                        "(SELECT value FROM json_each(?))", (ids,))
        ops.execute("DELETE FROM serving_aliases WHERE client_id IN "
                    "(SELECT value FROM json_each(?)) OR alias IN (SELECT value FROM "
                    "json_each(?))", (ids, ids))
    profile_rows(con, None, PROFILES)
    con.execute(f"CREATE OR REPLACE TEMP TABLE serving_attributes AS {attributes_sql(rules)}")
    # The rows' emails by value alone, in a statement of their own: with no other filter
    # beside it, the join on that one indexed column reads the index, not every identifier.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE serving_emails AS
        SELECT type, scope, value, status FROM identifiers WHERE value IN
            (SELECT lower(trim(email)) FROM profile_rows WHERE email IS NOT NULL)
    """)
    selected = f"client_id IN (SELECT client_id FROM {PROFILES})"
    now = datetime.now(UTC).isoformat()
    published = _copy(con, ops, f"""
        WITH ids AS (
            SELECT m.client_id, to_json(list({{'type': i.type, 'scope': i.scope,
                       'value': i.value, 'status': i.status}} ORDER BY i.id)) AS identifiers
            FROM identity_members m JOIN identifiers i ON i.id = m.identifier
            WHERE m.{selected} GROUP BY 1),
        attributes AS (
            SELECT client_id, json_group_object(name, json_object('value', value, 'day', day,
                                                                  'source', source)) AS a
            FROM serving_attributes GROUP BY 1),
        tags AS (SELECT client_id, to_json(list(tag ORDER BY tag)) AS t
                 FROM ({tags_sql(None)}) WHERE {selected} GROUP BY 1),
        consents AS (
            SELECT client_id, json_group_object(channel, json_object(
                       'granted', granted, 'stated_at', stated_at, 'source', source,
                       'proof', proof)) AS c
            FROM ({consents_sql(None)}) WHERE {selected} GROUP BY 1),
        emails AS (
            SELECT c.client_id, arg_max(i.value, (c.batch_day, c.loaded_at, c.source_line))
                       AS email
            FROM profile_rows c JOIN serving_emails i ON i.type = 'email' AND i.scope = ''
                 AND i.value = lower(trim(c.email)) AND i.status IN ('active', 'released')
            GROUP BY 1)
        SELECT p.client_id, json_object(
                   'client_id', p.client_id, 'recognized', p.recognized, 'email', e.email,
                   'identifiers', coalesce(ids.identifiers, '[]'::JSON),
                   'attributes', coalesce(a.a, '{{}}'::JSON), 'tags', coalesce(t.t, '[]'::JSON),
                   'consents', coalesce(c.c, '{{}}'::JSON))::VARCHAR, ?
        FROM profiles p
        LEFT JOIN ids USING (client_id) LEFT JOIN attributes a USING (client_id)
        LEFT JOIN tags t USING (client_id) LEFT JOIN consents c USING (client_id)
        LEFT JOIN emails e USING (client_id)
        WHERE p.{selected}
    """, "INSERT INTO serving_documents VALUES (?, ?, ?)", [now])
    with indexes_set_aside(ops, "serving_identifiers") if client_ids is None else nullcontext():
        # In key order: SQLite appends to the table's B-tree.
        _copy(con, ops, f"""
            SELECT i.type, i.scope, i.value, m.client_id
            FROM identity_members m JOIN identifiers i ON i.id = m.identifier
            WHERE m.{selected} ORDER BY i.type, i.scope, i.value
        """, "INSERT OR REPLACE INTO serving_identifiers VALUES (?, ?, ?, ?)")
    _copy(con, ops, f"SELECT alias, client_id FROM profile_aliases WHERE {selected}",
          "INSERT OR REPLACE INTO serving_aliases VALUES (?, ?)")
    con.execute(f"DROP TABLE IF EXISTS {PROFILES}")
    con.execute("DROP TABLE serving_emails")
    return published


def publish_indicators(con: duckdb.DuckDBPyConnection, ops: sqlite3.Connection,
                       run_id: int) -> None:
    """The realtime indicators `compute_selected` left (those of a full run are `publish`ed)."""
    _copy(con, ops, f"SELECT client_id, ?::BIGINT, * EXCLUDE (client_id) "
                    f"FROM ({documents_select(SELECTED)})",
          "INSERT OR REPLACE INTO serving_profiles VALUES (?, ?, ?, ?, ?)", [run_id])
    con.execute(f"DROP TABLE {SELECTED}")


def publish_orders(con: duckdb.DuckDBPyConnection, ops: sqlite3.Connection,
                   keys: Sequence[tuple[str, str]] | None, store_scoped: bool) -> int:
    """Replace the serving copy of the given orders (all when None), lines and categories
    included."""
    if keys is not None:
        if not keys:
            return 0
        with registered(con, "serving_keys", {"store_code": [k[0] for k in keys],
                                              "order_number": [k[1] for k in keys]}):
            con.execute(f"CREATE OR REPLACE TEMP TABLE {ORDERS.split('.')[-1]} AS "
                        "SELECT order_key FROM orders o SEMI JOIN serving_keys k "
                        "USING (store_code, order_number)")
        copied = _publish_selected_orders(con, ops, store_scoped)
        con.execute(f"DROP TABLE IF EXISTS {ORDERS}")
        return copied
    for table in ("serving_orders", "serving_order_documents"):
        ops.execute(f"DELETE FROM {table}")
    first, last = con.execute("SELECT min(order_key), max(order_key) FROM orders"
                              ).fetchone() or (None, None)
    copied = 0
    with indexes_set_aside(ops, "serving_orders"):
        # Parts of consecutive keys: their lines and categories lie in a few row groups, and
        # SQLite appends each to its tables.
        for start in range(first or 0, (last or -1) + 1, ORDERS_PER_PART):
            con.execute(f"CREATE OR REPLACE TEMP TABLE {ORDERS.split('.')[-1]} AS SELECT "
                        "order_key FROM orders WHERE order_key BETWEEN ? AND ?",
                        [start, start + ORDERS_PER_PART - 1])
            copied += _publish_selected_orders(con, ops, store_scoped)
    con.execute(f"DROP TABLE IF EXISTS {ORDERS}")
    return copied


def _publish_selected_orders(con: duckdb.DuckDBPyConnection, ops: sqlite3.Connection,
                             store_scoped: bool) -> int:
    scope = "o.store_code" if store_scoped else "''"
    copied = 0
    for columns in _batches(con, f"""
        WITH sel AS (SELECT * FROM {ORDERS}),
        categories AS (
            SELECT c.order_key, c.line_number, list_sort(list(c.category)) AS categories
            FROM order_line_categories c SEMI JOIN sel USING (order_key)
            GROUP BY ALL),
        lines AS (
            -- Sorted lists of structs are in line order: line_number is the first field.
            SELECT l.order_key,
                   list_sort(list(struct_pack(line_number := l.line_number,
                        quantity := l.quantity,
                        item_code := l.item_code, item_name := l.item_name, brand := l.brand,
                        description := l.description, price := l.price,
                        list_price := l.list_price, selling_price := l.selling_price,
                        image_url := l.image_url, detail_url := l.detail_url,
                        seller := l.seller, parent_item_code := l.parent_item_code,
                        categories := coalesce(c.categories, []), attributes := l.extra)))
                       AS lines
            FROM order_lines l SEMI JOIN sel USING (order_key)
            LEFT JOIN categories c USING (order_key, line_number)
            GROUP BY ALL)
        SELECT o.order_key, o.store_code, o.order_number, {scope}, trim(o.user_id),
               strftime(timezone('UTC', o.order_ts), '%Y-%m-%dT%H:%M:%S.%fZ'),
               o.order_date::VARCHAR, o.status,
               to_json(struct_pack(
                   order_number := o.order_number, store_code := o.store_code,
                   user_id := o.user_id, date := o.order_ts, total_items := o.total_items,
                   total_products := o.total_products, total_amount := o.total_amount,
                   items_amount := o.items_amount, discounts_amount := o.discounts_amount,
                   shipping_amount := o.shipping_amount, tax_amount := o.tax_amount,
                   promo_codes := o.promo_codes, pre_shipping_amount := o.pre_shipping_amount,
                   delivery_type := o.delivery_type, delivery_sub_type := o.delivery_sub_type,
                   delivery_company := o.delivery_company, payment_method := o.payment_method,
                   payment_method_detail := o.payment_method_detail,
                   payment_method_entity := o.payment_method_entity,
                   payment_terms := o.payment_terms, status := o.status,
                   currency := o.currency, attributes := o.extra,
                   lines := coalesce(l.lines, []), source_file := o.source_file,
                   source_line := o.source_line, loaded_at := o.loaded_at))::VARCHAR
        FROM orders o SEMI JOIN sel USING (order_key)
        LEFT JOIN lines l USING (order_key)
        ORDER BY o.order_key
    """):
        ops.executemany("INSERT OR REPLACE INTO serving_orders VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        zip(*columns[:-1], strict=True))
        ops.executemany("INSERT OR REPLACE INTO serving_order_documents VALUES (?, ?)",
                        zip(columns[0], columns[-1], strict=True))
        copied += len(columns[0])
    return copied


def publish_events(con: duckdb.DuckDBPyConnection, ops: sqlite3.Connection,
                   ingest_ids: tuple[int, int] | None) -> int:
    """Copy events (of calls `first`..`last`, or all) to the timeline, once per identifier."""
    where = "" if ingest_ids is None else "WHERE ingest_id BETWEEN ? AND ?"
    if ingest_ids is None:
        ops.execute("DELETE FROM serving_events")
    return _copy(con, ops, f"""
        SELECT ingest_id, seq, x.type, x.scope, x.value,
               strftime(timezone('UTC', occurred_at), '%Y-%m-%dT%H:%M:%S.%fZ'),
               json_object('event', event, 'occurred_at', occurred_at,
                           'identifiers', identifiers, 'properties', properties,
                           'ingest_id', ingest_id)::VARCHAR
        FROM (SELECT *, unnest(identifiers) AS x FROM events {where})
    """, "INSERT OR REPLACE INTO serving_events VALUES (?, ?, ?, ?, ?, ?, ?)",
        list(ingest_ids or ()))


def unpublish_profile(ops: sqlite3.Connection, client_id: int) -> None:
    """An erased person leaves every serving table at once (the worker erases the rest)."""
    values = [(r[0], r[1], r[2]) for r in ops.execute(
        "SELECT type, scope, value FROM serving_identifiers WHERE client_id = ?", (client_id,))]
    ops.executemany("DELETE FROM serving_events WHERE type = ? AND scope = ? AND value = ?",
                    values)
    users = [(scope, value) for kind, scope, value in values if kind == "user_id"]
    ops.executemany("DELETE FROM serving_order_documents WHERE order_key IN (SELECT order_key "
                    "FROM serving_orders WHERE scope = ? AND user_id = ?)", users)
    ops.executemany("DELETE FROM serving_orders WHERE scope = ? AND user_id = ?", users)
    for table in ("serving_documents", "serving_identifiers", "serving_profiles"):
        ops.execute(f"DELETE FROM {table} WHERE client_id = ?", (client_id,))
    ops.execute("DELETE FROM serving_aliases WHERE client_id = ? OR alias = ?",
                (client_id, client_id))


FINGERPRINT = (
    "SELECT resolved_identifier || ':' || resolved_link FROM identity_state",
    "SELECT max(loaded_at) FROM customers", "SELECT count(*) FROM customers",
    "SELECT max(loaded_at) FROM orders", "SELECT count(*) FROM orders",
    "SELECT count(*) FROM order_lines", "SELECT count(*) FROM tag_events",
    "SELECT count(*) FROM consent_events", "SELECT count(*) FROM tombstones",
    "SELECT count(*) FROM events", "SELECT count(*) FROM profiles",
)
"""One query each: as scalar subqueries of one SELECT, their cross product cost the planner
60 ms, against 1 ms each alone."""


def fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """What the serving copy must match: it changes with every write to the analytics store
    that a reader can see."""
    return json.dumps([(con.execute(query).fetchone() or (None,))[0] for query in FINGERPRINT],
                      default=str)


def synced(ops: sqlite3.Connection) -> str | None:
    row = ops.execute("SELECT value FROM serving_state WHERE name = ?", (STATE_KEY,)).fetchone()
    return None if row is None else str(row[0])


def mark_synced(ops: sqlite3.Connection, print_: str) -> None:
    ops.execute("INSERT OR REPLACE INTO serving_state VALUES (?, ?)", (STATE_KEY, print_))
