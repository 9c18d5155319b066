"""The analytics store: one DuckDB file per instance, owned by one read-write process."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from clientela.config import Instance
from clientela.stores.migrations import check_not_newer, migrations_for

STORE = "analytics"
INDEX_SCAN_MOST_ROWS = 512


def connect(instance: Instance, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store, upgrading an older schema in place; a newer one is refused untouched."""
    if read_only and not instance.analytics_path.exists():
        connect(instance).close()
    storage = instance.settings.storage
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": storage.memory_limit,
        "temp_directory": str(instance.temp / "duckdb"),
        "preserve_insertion_order": True,
        # Checkpoint when the write-ahead log is large, not after every commit of a few MB:
        # a day's import or resolution commits in a tenth of the time.
        "checkpoint_threshold": "1GB",
        # An index lookup reads each row it finds from its own row group, ~0.1 ms a row where
        # a scan of 3M orders takes ~75 ms: past a few hundred rows the scan wins. (DuckDB's
        # default switches at 2,048 rows or 0.1% of the table: a worker's batch of 1,000 calls
        # would fetch its ~3,000 orders one by one.)
        "index_scan_max_count": INDEX_SCAN_MOST_ROWS,
        "index_scan_percentage": 0.0,
    }
    if storage.threads:
        config["threads"] = storage.threads
    try:
        con = duckdb.connect(str(instance.analytics_path), read_only=read_only, config=config)
    except duckdb.IOException as error:
        if "lock" in str(error).lower():
            raise StoreBusyError(
                f"{instance.analytics_path} is in use by another Clientela process "
                "(one process owns the analytics store); stop it or wait for it to finish"
            ) from None
        raise
    _set_session(con, instance)
    try:
        if read_only:
            check_not_newer(STORE, instance.analytics_path, schema_version(con),
                            len(migrations_for(STORE)))
        else:
            migrate(con, str(instance.analytics_path))
    except BaseException:
        con.close()  # a refused store must not stay open (and locked) in this process
        raise
    return con


def cursor(con: duckdb.DuckDBPyConnection, instance: Instance) -> duckdb.DuckDBPyConnection:
    """A second connection to the store `con` has open, set up as `connect` sets up its own, for
    work on another thread (DuckDB runs one statement at a time per connection)."""
    other = con.cursor()
    _set_session(other, instance)
    return other


def _set_session(con: duckdb.DuckDBPyConnection, instance: Instance) -> None:
    """The settings each connection holds for itself (the rest are the database's)."""
    con.execute(f"SET TimeZone = '{instance.settings.instance.timezone}'")
    con.execute("SET enable_progress_bar = false")


LOOKUP_INDEXES = {"identifiers_by_value": "identifiers (value)",
                  "orders_by_user": "orders (user_id)",
                  "order_versions_by_user": "order_versions (user_id)"}
"""ART indexes on the columns the realtime worker looks a few rows up by (docs/stores.md)."""


def ensure_lookup_indexes(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Make the lookup indexes a store lacks: the realtime worker does, when it starts. They are
    not in the schema's migrations because only the worker's micro-batches gain from them, and
    every import pays their upkeep (a 30-day import of 1M customers took 10% longer): a store
    fed by files alone goes without. Returns the indexes it made."""
    existing = {str(r[0]) for r in con.execute(
        "SELECT index_name FROM duckdb_indexes() WHERE database_name = current_database()"
    ).fetchall()}
    missing = [name for name in LOOKUP_INDEXES if name not in existing]
    for name in missing:
        con.execute(f"CREATE INDEX {name} ON {LOOKUP_INDEXES[name]}")
    return missing


class StoreBusyError(Exception):
    """The analytics store is opened read-write by another process."""


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations'"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection, path: str) -> None:
    migrations = migrations_for(STORE)
    current = schema_version(con)
    check_not_newer(STORE, path, current, len(migrations))
    if current == 0:
        con.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                    "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                    "applied_at TIMESTAMPTZ NOT NULL)")
    for migration in migrations[current:]:
        with transaction(con):
            con.execute(migration.sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                        [migration.version, migration.name, datetime.now(UTC)])


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Commit on success; roll back on any exception, Ctrl-C included."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str,
               columns: Mapping[str, Any]) -> Iterator[None]:
    """`columns` (NumPy or Arrow arrays of one length) readable as the relation `name` by the
    statements run inside: a set goes in with one statement, not row by row."""
    # DuckDB refuses to register while a result read with fetchone() is still open.
    con.complete()
    con.register(name, pa.table(dict(columns)))
    try:
        yield
    finally:
        con.unregister(name)
