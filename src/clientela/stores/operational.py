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


def connect(instance: Instance) -> sqlite3.Connection:
    """Open the store, upgrading an older schema in place; a newer one is refused untouched."""
    return open_sqlite(instance.operational_path, STORE)


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
