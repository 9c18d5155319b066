"""Load one business day's files in one transaction: all of it, or (on any failure) none."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from clientela.config import Instance
from clientela.identity.evidence import EvidenceResult, take_evidence
from clientela.identity.rules import IdentityRules
from clientela.ingest import merge
from clientela.ingest.fields import Rules
from clientela.ingest.inbox_file import InboxFile
from clientela.ingest.merge import loads
from clientela.ingest.prepare import PreparedFile
from clientela.ingest.report import FileReport, HeaderTotals
from clientela.ingest.sql import literal, scalar
from clientela.schema import RECORDS, RecordKind
from clientela.stores.analytics import transaction

Step = Callable[[str], None]
"""Told which step a file is at (`reading`, `checking`, `merging`...)."""


def rules_for(instance: Instance) -> Rules:
    s = instance.settings
    return Rules(timezone=s.instance.timezone, currency=s.instance.currency,
                 statuses=s.orders.statuses, default_status=s.orders.default_status.lower(),
                 store_scoped_customer_ids=s.files.store_scoped_customer_ids)


def already_loaded(con: duckdb.DuckDBPyConnection, kind: RecordKind, day: date,
                   checksum: str) -> str | None:
    row = con.execute(
        "SELECT imported_at FROM import_files WHERE kind = ? AND day = ? AND checksum = ? "
        "AND outcome = 'loaded' ORDER BY imported_at LIMIT 1",
        [kind.value, day, checksum]).fetchone()
    return None if row is None else str(row[0])


def load_batch(con: duckdb.DuckDBPyConnection, instance: Instance, day: date,
               files: list[InboxFile], prepared: dict[Path, PreparedFile],
               step: Step) -> tuple[list[FileReport], EvidenceResult]:
    """Load the day's files in load order inside one transaction, take their identity
    evidence and mark the day loaded."""
    reports: list[FileReport] = []
    loaded_at = datetime.now(UTC)
    ordered = [f for schema in RECORDS for f in files if f.schema is schema]
    with transaction(con):
        for inbox_file in ordered:
            started = time.monotonic()
            report = _load_file(con, instance, inbox_file, prepared[inbox_file.path],
                                loaded_at, step)
            report.seconds = round(time.monotonic() - started, 3)
            reports.append(report)
        orders = next((r for r in reports if r.kind == RecordKind.ORDERS.value
                       and r.outcome == "loaded"), None)
        if orders is not None:
            orders.header_totals = _header_totals(con)
        for report in reports:
            _record_file(con, report, loaded_at)
        con.execute("INSERT OR REPLACE INTO import_days VALUES (?, 'loaded', ?, NULL)",
                    [day, loaded_at])
        step("taking identity evidence")
        evidence = take_evidence(con, IdentityRules.of(instance.settings), loaded_at)
        con.execute(f"DROP TABLE IF EXISTS {merge.EXCLUDED}; DROP TABLE IF EXISTS "
                    f"{merge.ORDER_KEYS}; DROP TABLE IF EXISTS batch_orders; "
                    "DROP TABLE IF EXISTS batch_lines")
    return reports, evidence


def _load_file(con: duckdb.DuckDBPyConnection, instance: Instance, inbox_file: InboxFile,
               prepared: PreparedFile, loaded_at: datetime, step: Step) -> FileReport:
    schema = inbox_file.schema
    report = FileReport(file=inbox_file.path.name, outcome="loaded", kind=schema.kind.value,
                        day=inbox_file.day.isoformat())
    probed = prepared.probed
    if probed is None:
        report.outcome, report.message = "refused", str(prepared.refused)
        report.bytes = inbox_file.path.stat().st_size
        return report
    report.checksum, report.bytes = probed.checksum, probed.size
    report.encoding, report.delimiter = probed.encoding, probed.delimiter
    previous = already_loaded(con, schema.kind, inbox_file.day, probed.checksum)
    if previous:
        report.outcome = "duplicate"
        report.message = f"the same file was already imported on {previous}; nothing to do"
        return report
    if prepared.refused or prepared.parse is None or prepared.header is None:
        report.outcome, report.message = "refused", str(prepared.refused)
        return report
    parse, staged = prepared.parse, prepared.parse.names.staged
    report.unmapped_columns = [name for name, _ in prepared.header.extras] \
        if not schema.extra_columns_are_attributes else []
    report.reserved_columns = prepared.header.reserved
    report.rows_read = prepared.rows
    step("merging")
    merge.exclude_orphans_and_duplicates(con, parse, inbox_file.day)
    counts = merge.merge(con, parse, report.file, inbox_file.day, loaded_at)
    report.inserted, report.replaced = counts.inserted, counts.replaced
    report.unchanged, report.removed = counts.unchanged, counts.removed
    report.kept_newer = counts.kept_newer
    report.rejected = scalar(con, f"SELECT count(*) FROM {staged} s WHERE NOT {loads('s')}")
    if report.rejected:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE file_rejects AS {merge.reasons_sql(schema, parse)};
            INSERT INTO import_rejects SELECT {literal(probed.checksum)}, {literal(report.file)},
                _line, e.column, e.reason, _raw FROM file_rejects
        """)
        reasons = con.execute("SELECT e.code, count(DISTINCT _line) FROM file_rejects "
                              "GROUP BY ALL ORDER BY 2 DESC, 1").fetchall()
        report.rejected_by_reason = {str(code): int(n) for code, n in reasons}
        con.execute("DROP TABLE file_rejects")
    if schema.kind is RecordKind.CUSTOMERS:
        report.customers_without_email = scalar(
            con, f"SELECT count(*) FROM {staged} s WHERE {loads('s')} AND email IS NULL")
    if schema.kind is RecordKind.ORDERS:
        scope = "o.store_code" if parse.rules.store_scoped_customer_ids else "''"
        report.orders_without_customer = scalar(con, f"""
            SELECT count(*) FROM {staged} o WHERE {loads("o")} AND NOT EXISTS (
                SELECT 1 FROM customers c WHERE c.scope_store = {scope} AND c.user_id = o.user_id)
        """)
        con.execute(f"CREATE OR REPLACE TEMP TABLE batch_orders AS SELECT store_code, "
                    f"order_number, total_items, total_products FROM {staged} s "
                    f"WHERE {loads('s')}")
    if schema.kind is RecordKind.ORDER_LINES:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE batch_lines AS
            SELECT store_code, order_number, sum(quantity) AS units,
                   count(DISTINCT item_code) AS products
            FROM {staged} s WHERE {loads('s')} GROUP BY ALL
        """)
    return report


def _header_totals(con: duckdb.DuckDBPyConnection) -> HeaderTotals:
    """Compare each order's TotalItems / TotalProducts with the lines the same day sent for it.

    Only the day's own rows are compared: no scan of the stored history."""
    has_lines = con.execute("SELECT count(*) FROM duckdb_tables() "
                            "WHERE table_name = 'batch_lines' AND temporary").fetchone()
    if not has_lines or not has_lines[0]:
        return HeaderTotals()
    row = con.execute("""
        WITH compared AS (
            SELECT o.store_code, o.order_number,
                   NOT (o.total_items = l.units AND o.total_products = l.products) AS disagrees,
                   o.total_items = l.products AND o.total_products = l.units AS swapped
            FROM batch_orders o JOIN batch_lines l USING (store_code, order_number)
        )
        SELECT count(*), count(*) FILTER (disagrees), count(*) FILTER (disagrees AND swapped),
               list(store_code || '/' || order_number ORDER BY store_code, order_number)
                   FILTER (disagrees)[1:5]
        FROM compared
    """).fetchone()
    if row is None:
        return HeaderTotals()
    return HeaderTotals(int(row[0]), int(row[1]), int(row[2]), list(row[3] or []))


def _record_file(con: duckdb.DuckDBPyConnection, report: FileReport, at: datetime) -> None:
    con.execute("INSERT INTO import_files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [report.checksum or "", report.file, report.kind, report.day, report.bytes,
                 report.outcome, at, json.dumps(report.to_json(), default=str)])
