"""Upsert the staged rows of one file into their table, set-based, inside the batch transaction.

A key sent again replaces the stored row (logged in `replaced_rows`); an identical row is left
alone; a key sent twice in one file keeps its last line and rejects the earlier ones. Lines and
categories must hang off a known order (from this batch or loaded before).

Every order gets an integer `order_key` when first stored and keeps it when re-sent; its lines and
categories carry it. Lines and categories are matched on it, so a day's merge reads only the row
groups holding the orders it touches, not the whole history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from clientela.ingest.fields import error_struct
from clientela.ingest.sql import literal, scalar
from clientela.ingest.stage import Parse
from clientela.schema import RecordKind, RecordSchema

STORAGE_KEYS: dict[RecordKind, tuple[str, ...]] = {
    RecordKind.CUSTOMERS: ("scope_store", "user_id"),
    RecordKind.ORDERS: ("store_code", "order_number"),
    RecordKind.ORDER_LINES: ("store_code", "order_number", "line_number"),
    RecordKind.ORDER_LINE_CATEGORIES: ("store_code", "order_number", "line_number", "category"),
}


MATCH_KEYS: dict[RecordKind, tuple[str, ...]] = {
    RecordKind.CUSTOMERS: ("scope_store", "user_id"),
    RecordKind.ORDERS: ("store_code", "order_number"),
    RecordKind.ORDER_LINES: ("order_key", "line_number"),
    RecordKind.ORDER_LINE_CATEGORIES: ("order_key", "line_number", "category"),
}
"""The columns a staged row is matched on against the stored rows: the storage key, with
the order's key in place of its two strings."""

KEYED_KINDS = (RecordKind.ORDER_LINES, RecordKind.ORDER_LINE_CATEGORIES)
ORDER_KEYS = "order_keys"
"""`(_line, order_key)` of the valid staged lines or categories: their order's key, NULL when
no order has their (StoreCode, OrderNumber)."""


@dataclass
class MergeCounts:
    inserted: int = 0
    replaced: int = 0
    unchanged: int = 0
    removed: int = 0
    """Categories of a re-sent line that the new version no longer lists."""
    kept_newer: int = 0
    """Rows not applied: a later business day already sent a newer version of the key."""

    @property
    def loaded(self) -> int:
        """Rows that passed every check (the ones kept for a newer version included): the
        others have reasons (`reasons_sql`)."""
        return self.inserted + self.replaced + self.unchanged + self.kept_newer


def _join(keys: tuple[str, ...], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{k} = {right}.{k}" for k in keys)


EXCLUDED = "excluded"
"""Rows of the file being merged that are well formed yet do not load: `_line`, `orphan`
('order' or 'line': what is unknown), `superseded_by` (a later line of the file has the same
key)."""


def loads(alias: str) -> str:
    """The condition for the staged row `alias` to load."""
    return (f"(NOT {alias}._invalid AND NOT EXISTS "
            f"(SELECT 1 FROM {EXCLUDED} x WHERE x._line = {alias}._line))")


def exclude_orphans_and_duplicates(con: duckdb.DuckDBPyConnection, parse: Parse,
                                   day: date) -> None:
    """Fill `excluded` for the file: lines and categories of unknown orders (their order keys,
    found, go to `order_keys`), categories of unknown lines, then the earlier lines of a key sent
    twice (the last line wins)."""
    staged = parse.names.staged
    con.execute(f"CREATE OR REPLACE TEMP TABLE {EXCLUDED} (_line BIGINT, orphan VARCHAR, "
                "superseded_by BIGINT)")
    kind = parse.schema.kind
    if kind in KEYED_KINDS:
        _find_order_keys(con, staged, day)
        con.execute(f"INSERT INTO {EXCLUDED} SELECT _line, 'order', NULL FROM {ORDER_KEYS} "
                    "WHERE order_key IS NULL")
    if kind is RecordKind.ORDER_LINE_CATEGORIES:
        # The stored lines are read only for the file's orders: the semi join's key range
        # skips the row groups of other orders (keys follow the order of arrival).
        source = _source(parse)
        con.execute(f"""
            INSERT INTO {EXCLUDED} SELECT s._line, 'line', NULL FROM {source} s
            ANTI JOIN (SELECT l.order_key, l.line_number FROM order_lines l
                       SEMI JOIN {source} k ON k.order_key = l.order_key) l
              ON l.order_key = s.order_key AND l.line_number = s.line_number
            WHERE s.order_key IS NOT NULL
        """)
    keys = STORAGE_KEYS[kind]
    key_list = ", ".join(keys)
    con.execute(f"""
        INSERT INTO {EXCLUDED}
        SELECT s._line, NULL, d.kept_line FROM {staged} s JOIN (
            SELECT {key_list}, max(_line) AS kept_line FROM {staged} s WHERE {loads('s')}
            GROUP BY {key_list} HAVING count(*) > 1) d ON {_join(keys, 's', 'd')}
        WHERE {loads('s')} AND s._line < d.kept_line
    """)


def _find_order_keys(con: duckdb.DuckDBPyConnection, staged: str, day: date) -> None:
    """Fill `order_keys`: first from the orders the batch stored (their row groups alone are
    read), then, only for rows still without one, from every stored order."""
    batch_day = literal(day.isoformat()) + "::DATE"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {ORDER_KEYS} AS
        SELECT s._line, s.store_code, s.order_number, o.order_key FROM {staged} s
        LEFT JOIN (SELECT store_code, order_number, order_key FROM orders
                   WHERE batch_day = {batch_day}) o USING (store_code, order_number)
        WHERE NOT s._invalid
    """)
    if scalar(con, f"SELECT count(*) FROM {ORDER_KEYS} WHERE order_key IS NULL"):
        con.execute(f"""
            UPDATE {ORDER_KEYS} SET order_key = o.order_key FROM orders o
            WHERE {ORDER_KEYS}.order_key IS NULL AND o.store_code = {ORDER_KEYS}.store_code
              AND o.order_number = {ORDER_KEYS}.order_number
        """)


def _source(parse: Parse) -> str:
    """The staged rows, with their order's key for lines and categories."""
    staged = parse.names.staged
    if parse.schema.kind not in KEYED_KINDS:
        return staged
    return (f"(SELECT s.*, k.order_key FROM {staged} s "
            f"LEFT JOIN {ORDER_KEYS} k ON k._line = s._line)")


def reasons_sql(schema: RecordSchema, parse: Parse) -> str:
    """`_line, _raw, e` (one row per error) for every staged row that does not load."""
    keys = STORAGE_KEYS[schema.kind]
    by_column = {f.column: f.name for f in schema.fields}
    if parse.rules.store_scoped_customer_ids:
        by_column["scope_store"] = "StoreCode"
    shown = " || ', ' || ".join(f"coalesce(s.{k}::VARCHAR, '')" for k in keys if k in by_column)
    names = ", ".join(by_column[k] for k in keys if k in by_column)  # in the values' order
    duplicate = error_struct(None, "duplicate_key", f"'duplicate key ({names}) = (' || {shown} "
                             "|| '): superseded by line ' || x.superseded_by")
    unknown_order = error_struct(
        "OrderNumber", "unknown_order",
        "'unknown order (StoreCode, OrderNumber) = (' || s.store_code || ', ' || "
        "s.order_number || '): not in this batch''s Orders nor loaded before'")
    # Only lines and categories can be orphans (and only they have both columns).
    orphan = "NULL"
    if schema.kind in KEYED_KINDS:
        orphan = f"CASE x.orphan WHEN 'order' THEN {unknown_order} END"
    if schema.kind is RecordKind.ORDER_LINE_CATEGORIES:
        unknown_line = error_struct(
            "LineNumber", "unknown_order_line",
            "'unknown order line ' || s.line_number || ' of order (' || s.store_code || ', ' "
            "|| s.order_number || '): not in this batch''s OrderDetails nor loaded before'")
        orphan = (f"CASE x.orphan WHEN 'order' THEN {unknown_order} "
                  f"WHEN 'line' THEN {unknown_line} END")
    flags = (f"list_concat(r._errors, list_filter([{orphan}, "
             f"CASE WHEN x.superseded_by IS NOT NULL THEN {duplicate} END], "
             "lambda e: e IS NOT NULL))")
    staged = parse.names.staged
    return f"""
        SELECT r._line, r._raw, unnest({flags}) AS e
        FROM ({parse.reasons(f"SELECT _line FROM {staged} s WHERE NOT {loads('s')}")}) r
        JOIN {staged} s ON s._line = r._line
        LEFT JOIN {EXCLUDED} x ON x._line = r._line
    """


def merge(con: duckdb.DuckDBPyConnection, parse: Parse, file_name: str, day: date,
          loaded_at: datetime) -> MergeCounts:
    schema = parse.schema
    table = schema.table
    kind = schema.kind
    keys = STORAGE_KEYS[kind]
    source = _source(parse)
    columns = [r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND NOT internal "
        "AND database_name = current_database() ORDER BY column_index", [table]).fetchall()]
    provenance = {"batch_day": literal(day.isoformat()) + "::DATE",
                  "source_file": literal(file_name), "source_line": "s._line",
                  "loaded_at": literal(loaded_at.isoformat()) + "::TIMESTAMPTZ"}
    orders = kind is RecordKind.ORDERS
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE matched AS
        SELECT s._line, t.rowid AS target_row, {"t.order_key" if orders else "NULL"} AS order_key,
               CASE WHEN t.row_hash = s.row_hash THEN 'same'
                    WHEN t.batch_day > {provenance['batch_day']} THEN 'older'
                    ELSE 'replace' END AS action
        FROM {source} s JOIN {table} t ON {_join(MATCH_KEYS[kind], 's', 't')}
        WHERE {loads('s')}
    """)
    counts = MergeCounts()
    # A correction for an old day must not undo what later days sent: newest business day wins.
    counts.unchanged, counts.replaced, counts.kept_newer = con.execute(
        "SELECT count(*) FILTER (action = 'same'), count(*) FILTER (action = 'replace'), "
        "count(*) FILTER (action = 'older') FROM matched").fetchone() or (0, 0, 0)
    if orders:
        # A re-sent order keeps its key; a new one takes the next, in line order.
        last_key = scalar(con, "SELECT max(order_key) FROM orders")
        provenance["order_key"] = (f"coalesce(m.order_key, {last_key} + "
                                   "row_number() OVER (ORDER BY s._line))")
    if counts.replaced:
        # The scan that matches keys reads only keys and hashes (it runs over the whole table
        # every day); the old rows' provenance is fetched for the replaced ones alone.
        con.execute(f"""
            INSERT INTO replaced_rows
            SELECT {literal(table)}, concat_ws('|', {", ".join(f"t.{k}" for k in keys)}),
                   {provenance['batch_day']}, {literal(file_name)}, m._line, t.batch_day,
                   t.source_file, t.source_line, {provenance['loaded_at']}
            FROM matched m JOIN {table} t ON t.rowid = m.target_row
            WHERE m.action = 'replace'
        """)
        if orders:
            # Kept so that a run as of an earlier day sees the order as it was then.
            con.execute(f"""
                INSERT INTO order_versions BY NAME
                SELECT t.*, {provenance['batch_day']} AS superseded_on FROM orders t
                WHERE t.rowid IN (SELECT target_row FROM matched WHERE action = 'replace')
            """)
        con.execute(f"DELETE FROM {table} WHERE rowid IN "
                    "(SELECT target_row FROM matched WHERE action = 'replace')")
    if kind is RecordKind.ORDER_LINE_CATEGORIES:
        counts.removed = _remove_stale_categories(con, source, provenance["batch_day"])
    select = ", ".join(provenance.get(c, f"s.{c}") for c in columns)
    con.execute(f"""
        INSERT INTO {table}
        SELECT {select} FROM {source} s LEFT JOIN matched m ON m._line = s._line
        WHERE {loads('s')} AND (m._line IS NULL OR m.action = 'replace')
    """)
    counts.inserted = scalar(con, f"SELECT count(*) FROM {parse.names.staged} s "
                                  f"WHERE {loads('s')}") - (
        counts.unchanged + counts.replaced + counts.kept_newer)
    con.execute("DROP TABLE matched")
    return counts


def _remove_stale_categories(con: duckdb.DuckDBPyConnection, source: str, day: str) -> int:
    """A line's categories are a set: re-sending a line's categories replaces the whole set."""
    line_keys = ("order_key", "line_number")
    key_list = ", ".join(line_keys)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE stale AS
        SELECT t.rowid AS target_row FROM order_line_categories t
        JOIN (SELECT DISTINCT {key_list} FROM {source} s WHERE {loads('s')}) s
          ON {_join(line_keys, 't', 's')}
        WHERE t.batch_day <= {day} AND NOT EXISTS (
            SELECT 1 FROM {source} n WHERE {loads('n')}
              AND {_join((*line_keys, 'category'), 'n', 't')})
    """)
    removed = scalar(con, "SELECT count(*) FROM stale")
    if removed:
        con.execute("DELETE FROM order_line_categories WHERE rowid IN "
                    "(SELECT target_row FROM stale)")
    con.execute("DROP TABLE stale")
    return removed
