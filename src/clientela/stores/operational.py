"""The operational store: SQLite in WAL mode, many readers and short writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from clientela.config import Instance
from clientela.stores.migrations import check_not_newer, migrations_for

STORE = "operational"


WRITER_CACHE_MB = 256
"""Page cache of the connection that publishes the serving copy: its indexes stay in memory
while a micro-batch or a rebuild writes them (SQLite's default is 2 MB)."""


def connect(instance: Instance, *, cache_mb: int = 0) -> sqlite3.Connection:
    """Open the store, upgrading an older schema in place; a newer one is refused untouched.
    `cache_mb`: a page cache of that size instead of SQLite's default."""
    con = open_sqlite(instance.operational_path, STORE)
    if cache_mb:
        con.execute(f"PRAGMA cache_size = -{cache_mb * 1024}")
    return con


def open_sqlite(path: Path, store: str) -> sqlite3.Connection:
    """A SQLite store in WAL mode, its `store` migrations applied."""
    con = sqlite3.connect(path, timeout=30, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute("PRAGMA foreign_keys = ON")
    try:
        migrate(con, str(path), store)
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[None]:
    """A write transaction (`BEGIN IMMEDIATE`: the write lock up front): committed on success,
    rolled back on any exception, Ctrl-C included."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@contextmanager
def indexes_set_aside(con: sqlite3.Connection, table: str) -> Iterator[None]:
    """Inside a transaction: `table`'s indexes are dropped while a bulk load fills it, then made
    again (one sort each instead of an insertion per row and index). Should the load fail, the
    transaction's rollback brings them back."""
    indexes = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                          "AND tbl_name = ? AND sql IS NOT NULL", (table,)).fetchall()
    for name, _ in indexes:
        con.execute(f'DROP INDEX "{name}"')
    yield
    for _, sql in indexes:
        con.execute(sql)


def schema_version(con: sqlite3.Connection) -> int:
    return int(con.execute("PRAGMA user_version").fetchone()[0])


def migrate(con: sqlite3.Connection, path: str, store: str = STORE) -> None:
    migrations = migrations_for(store)
    current = schema_version(con)
    check_not_newer(store, path, current, len(migrations))
    for migration in migrations[current:]:
        con.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(migration.sql):
                con.execute(statement)
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                        (migration.version, migration.name, datetime.now(UTC).isoformat()))
            con.execute(f"PRAGMA user_version = {migration.version}")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")


def _statements(script: str) -> list[str]:
    statements, current = [], []
    for line in script.splitlines():
        current.append(line)
        if sqlite3.complete_statement("\n".join(current)):
            statements.append("\n".join(current))
            current = []
    return statements
