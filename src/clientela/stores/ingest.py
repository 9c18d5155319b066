"""The ingest log store: SQLite in WAL mode, in a file of its own beside the operational store.

The API's group commit is its one writer (the worker only clears old rows, once a minute), so
acknowledging a call never waits for the worker's transactions on the serving tables: at a
thousand calls a second those held the operational store's write lock for a third of a second
every two, and SQLite's busy wait backs off by up to 100 ms at a time. `synchronous = FULL` makes
a commit survive a power cut, not only a crash of the process: an acknowledged call is never
lost.
"""

from __future__ import annotations

import sqlite3

from clientela.config import Instance
from clientela.stores import operational

STORE = "ingest"


def connect(instance: Instance) -> sqlite3.Connection:
    """Open the store, upgrading an older schema in place, and take over the log an older
    Clientela kept in the operational store."""
    con = operational.open_sqlite(instance.ingest_log_path, STORE)
    try:
        con.execute("PRAGMA synchronous = FULL")
        _adopt_moved_log(con, instance)
    except BaseException:
        con.close()
        raise
    return con


def _adopt_moved_log(con: sqlite3.Connection, instance: Instance) -> None:
    """Copy the rows operational migration 6 set aside, then drop them there.

    Two transactions, this file's first: a crash between them leaves both copies, and the next
    start copies again (`OR IGNORE`: same ids) before dropping. The ids already handed out are
    carried over too, since the analytics store counts applied calls by id."""
    ops = operational.connect(instance)
    try:
        if ops.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                       "name = 'moved_ingest_log'").fetchone() is None:
            return  # moved already (the two tables are renamed and dropped together)
        con.execute("ATTACH DATABASE ? AS ops", (str(instance.operational_path),))
        try:
            with operational.transaction(con):
                con.execute("INSERT OR IGNORE INTO ingest_log SELECT id, received_at, key_id, "
                            "kind, records, payload, idempotency_key, request_hash "
                            "FROM ops.moved_ingest_log")
                # As ingest migration 2 counts the statuses it finds: set by the last call.
                con.execute("INSERT OR IGNORE INTO api_order_status SELECT store_code, "
                            "order_number, status, (SELECT coalesce(max(id), 0) FROM "
                            "ops.moved_ingest_log) FROM ops.moved_api_order_status")
                (handed_out,) = con.execute(
                    "SELECT coalesce(max(seq), 0) FROM ops.sqlite_sequence "
                    "WHERE name = 'moved_ingest_log'").fetchone()
                con.execute("DELETE FROM sqlite_sequence WHERE name = 'ingest_log'")
                con.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('ingest_log', "
                            "(SELECT max(?, coalesce(max(id), 0)) FROM ingest_log))",
                            (handed_out,))
        finally:
            con.execute("DETACH DATABASE ops")
        with operational.transaction(ops):
            ops.execute("DROP TABLE moved_ingest_log")
            ops.execute("DROP TABLE moved_api_order_status")
    finally:
        ops.close()
