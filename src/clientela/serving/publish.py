"""Publishing a run's indicators to the operational store, where the API and the dashboard read.

The whole serving copy is replaced in one SQLite transaction: in WAL mode a reader keeps the
snapshot it started with, so it sees the previous run or the new one, never a mix.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime

import duckdb

from clientela.indicators.compute import VIEW
from clientela.stores.operational import transaction

BATCH_ROWS = 50_000


def publish(con: duckdb.DuckDBPyConnection, ops: sqlite3.Connection, run_id: int, as_of: date,
            advance: Callable[[int], None] | None = None) -> int:
    """Copy `profile_indicators` into `serving_profiles` as one JSON object per profile."""
    reader = con.sql(documents_select(VIEW)).to_arrow_reader(BATCH_ROWS)
    published = 0
    with transaction(ops):
        ops.execute("DELETE FROM serving_profiles")
        for batch in reader:
            columns = batch.to_pydict()
            ops.executemany(
                "INSERT INTO serving_profiles VALUES (?, ?, ?, ?, ?)",
                zip(columns["client_id"], [run_id] * batch.num_rows, columns["RFM_Group"],
                    columns["RFM_Segment"], columns["indicators"], strict=True))
            published += batch.num_rows
            if advance:
                advance(batch.num_rows)
        ops.execute("INSERT INTO serving_runs VALUES (?, ?, ?, ?)",
                    (run_id, as_of.isoformat(), datetime.now(UTC).isoformat(), published))
    return published


def documents_select(table: str) -> str:
    """Client id, RFM group and segment, and the indicators as one JSON object, of each row of
    `table` (with the columns of `profile_indicators`)."""
    # DuckDB writes the JSON (in parallel); SQLite only stores text.
    return ('SELECT client_id, "RFM_Group", "RFM_Segment", to_json(p)::VARCHAR AS indicators '
            f"FROM {table} p")


def unpublish(ops: sqlite3.Connection, client_id: int) -> None:
    """An erased person leaves the serving copy at once, not at the next run."""
    ops.execute("DELETE FROM serving_profiles WHERE client_id = ?", (client_id,))
