"""Upsert the staged rows of one file into their table, set-based, inside the batch transaction.

A key sent again replaces the stored row (logged in `replaced_rows`); an identical row is left
alone; a key sent twice in one file keeps its last line and rejects the earlier ones. Lines and
categories must hang off a known order (from this batch or loaded before).
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


@dataclass
class MergeCounts:
    inserted: int = 0
    replaced: int = 0
    unchanged: int = 0
    removed: int = 0
    """Categories of a re-sent line that the new version no longer lists."""
    kept_newer: int = 0
    """Rows not applied: a later business day already sent a newer version of the key."""


def _join(keys: tuple[str, ...], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{k} = {right}.{k}" for k in keys)


EXCLUDED = "excluded"
"""Rows of the file being merged that are well formed yet do not load: `_line`, `orphan` (its
order or line is unknown), `superseded_by` (a later line of the file has the same key)."""


def loads(alias: str) -> str:
    """The condition for the staged row `alias` to load."""
    return (f"(NOT {alias}._invalid AND NOT EXISTS "
            f"(SELECT 1 FROM {EXCLUDED} x WHERE x._line = {alias}._line))")


def exclude_orphans_and_duplicates(con: duckdb.DuckDBPyConnection, parse: Parse) -> None:
    """Fill `excluded` for the file: lines and categories of unknown orders, then the earlier
    lines of a key sent twice (the last line wins)."""
    staged = parse.names.staged
    con.execute(f"CREATE OR REPLACE TEMP TABLE {EXCLUDED} (_line BIGINT, orphan BOOLEAN, "
                "superseded_by BIGINT)")
    kind = parse.schema.kind
    if kind in (RecordKind.ORDER_LINES, RecordKind.ORDER_LINE_CATEGORIES):
        parent, parent_keys = (
            ("orders", ("store_code", "order_number")) if kind is RecordKind.ORDER_LINES
            else ("order_lines", ("store_code", "order_number", "line_number")))
        con.execute(f"""
            INSERT INTO {EXCLUDED} SELECT s._line, true, NULL FROM {staged} s
            ANTI JOIN {parent} p ON {_join(parent_keys, 'p', 's')} WHERE NOT s._invalid
        """)
    keys = STORAGE_KEYS[kind]
    key_list = ", ".join(keys)
    con.execute(f"""
        INSERT INTO {EXCLUDED}
        SELECT s._line, false, d.kept_line FROM {staged} s JOIN (
            SELECT {key_list}, max(_line) AS kept_line FROM {staged} s WHERE {loads('s')}
            GROUP BY {key_list} HAVING count(*) > 1) d ON {_join(keys, 's', 'd')}
        WHERE {loads('s')} AND s._line < d.kept_line
    """)


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
    orphan = unknown_order if schema.kind is RecordKind.ORDER_LINES else "NULL"
    if schema.kind is RecordKind.ORDER_LINE_CATEGORIES:
        unknown_line = error_struct(
            "LineNumber", "unknown_order_line",
            "'unknown order line ' || s.line_number || ' of order (' || s.store_code || ', ' "
            "|| s.order_number || '): not in this batch''s OrderDetails nor loaded before'")
        orphan = (f"CASE WHEN EXISTS (SELECT 1 FROM orders o WHERE o.store_code = s.store_code "
                  f"AND o.order_number = s.order_number) THEN {unknown_line} "
                  f"ELSE {unknown_order} END")
    flags = (f"list_concat(r._errors, list_filter([CASE WHEN x.orphan THEN {orphan} END, "
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
    staged = parse.names.staged
    table = schema.table
    keys = STORAGE_KEYS[schema.kind]
    columns = [r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND NOT internal "
        "AND database_name = current_database() ORDER BY column_index", [table]).fetchall()]
    provenance = {"batch_day": literal(day.isoformat()) + "::DATE",
                  "source_file": literal(file_name), "source_line": "s._line",
                  "loaded_at": literal(loaded_at.isoformat()) + "::TIMESTAMPTZ"}
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE matched AS
        SELECT s._line, t.rowid AS target_row,
               CASE WHEN t.row_hash = s.row_hash THEN 'same'
                    WHEN t.batch_day > {provenance['batch_day']} THEN 'older'
                    ELSE 'replace' END AS action
        FROM {staged} s JOIN {table} t ON {_join(keys, 's', 't')}
        WHERE {loads('s')}
    """)
    counts = MergeCounts()
    # A correction for an old day must not undo what later days sent: newest business day wins.
    counts.unchanged = scalar(con, "SELECT count(*) FILTER (action = 'same') FROM matched")
    counts.replaced = scalar(con, "SELECT count(*) FILTER (action = 'replace') FROM matched")
    counts.kept_newer = scalar(con, "SELECT count(*) FILTER (action = 'older') FROM matched")
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
        if schema.kind is RecordKind.ORDERS:
            # Kept so that a run as of an earlier day sees the order as it was then.
            con.execute(f"""
                INSERT INTO order_versions
                SELECT t.*, {provenance['batch_day']} FROM orders t
                WHERE t.rowid IN (SELECT target_row FROM matched WHERE action = 'replace')
            """)
        con.execute(f"DELETE FROM {table} WHERE rowid IN "
                    "(SELECT target_row FROM matched WHERE action = 'replace')")
    if schema.kind is RecordKind.ORDER_LINE_CATEGORIES:
        counts.removed = _remove_stale_categories(con, staged, provenance["batch_day"])
    select = ", ".join(provenance.get(c, f"s.{c}") for c in columns)
    con.execute(f"""
        INSERT INTO {table}
        SELECT {select} FROM {staged} s
        WHERE {loads('s')} AND NOT EXISTS (SELECT 1 FROM matched m
                                   WHERE m._line = s._line AND m.action <> 'replace')
    """)
    counts.inserted = scalar(con, f"SELECT count(*) FROM {staged} s WHERE {loads('s')}") - (
        counts.unchanged + counts.replaced + counts.kept_newer)
    con.execute("DROP TABLE matched")
    return counts


def _remove_stale_categories(con: duckdb.DuckDBPyConnection, staged: str, day: str) -> int:
    """A line's categories are a set: re-sending a line's categories replaces the whole set."""
    line_keys = ("store_code", "order_number", "line_number")
    key_list = ", ".join(line_keys)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE stale AS
        SELECT t.rowid AS target_row FROM order_line_categories t
        JOIN (SELECT DISTINCT {key_list} FROM {staged} s WHERE {loads('s')}) s
          ON {_join(line_keys, 't', 's')}
        WHERE t.batch_day <= {day} AND NOT EXISTS (
            SELECT 1 FROM {staged} n WHERE {loads('n')}
              AND {_join((*line_keys, 'category'), 'n', 't')})
    """)
    removed = scalar(con, "SELECT count(*) FROM stale")
    if removed:
        con.execute("DELETE FROM order_line_categories WHERE rowid IN "
                    "(SELECT target_row FROM stale)")
    con.execute("DROP TABLE stale")
    return removed
