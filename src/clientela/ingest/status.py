"""Where the import queue stands: days loaded and skipped, what waits, what holds it back."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from clientela.config import Instance
from clientela.ingest.inbox import Waiting, done_days, inbox_files, plan
from clientela.stores import analytics, operational


class SkipError(ValueError):
    """A day that cannot be skipped."""


@dataclass(frozen=True)
class QueueStatus:
    instance: str
    days_loaded: int
    first_day: date | None
    last_day: date | None
    skipped: list[date]
    files_in_inbox: int
    waiting: Waiting | None
    last_run: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def copy_done_days(con: duckdb.DuckDBPyConnection, ops: sqlite3.Connection) -> None:
    """Rewrite the operational store's copy of `import_days` (after an import or a skip)."""
    done = done_days(con)
    with operational.transaction(ops):
        ops.execute("DELETE FROM import_days_copy")
        ops.executemany("INSERT INTO import_days_copy VALUES (?, ?)",
                        [(day.isoformat(), state) for day, state in sorted(done.items())])


def known_done_days(instance: Instance) -> dict[date, str]:
    """The days loaded or skipped: from the analytics store, or from the operational store's
    copy while another process (`clientela serve`) owns the analytics store."""
    try:
        con = analytics.connect(instance, read_only=True)
    except analytics.StoreBusyError:
        ops = operational.connect(instance)
        try:
            rows = ops.execute("SELECT day, state FROM import_days_copy").fetchall()
        finally:
            ops.close()
        return {date.fromisoformat(day): state for day, state in rows}
    try:
        return done_days(con)
    finally:
        con.close()


def queue_status(instance: Instance) -> QueueStatus:
    done = known_done_days(instance)
    files = inbox_files(instance)
    schedule = plan(done, files)
    loaded = sorted(d for d, state in done.items() if state == "loaded")
    ops = operational.connect(instance)
    try:
        cursor = ops.execute("SELECT * FROM import_runs ORDER BY id DESC LIMIT 1")
        row = cursor.fetchone()
        last_run = dict(zip([c[0] for c in cursor.description], row, strict=True)) if row else None
    finally:
        ops.close()
    return QueueStatus(
        instance=instance.name, days_loaded=len(loaded),
        first_day=loaded[0] if loaded else None, last_day=loaded[-1] if loaded else None,
        skipped=sorted(d for d, state in done.items() if state == "skipped"),
        files_in_inbox=len(files), waiting=schedule.waiting, last_run=last_run,
    )


def skip_day(instance: Instance, day: date, note: str | None = None) -> None:
    """Let the queue go on without `day`; its files, if they come later, still load."""
    con = analytics.connect(instance)
    try:
        state = done_days(con).get(day)
        if state == "loaded":
            raise SkipError(f"{day} is already loaded; there is nothing to skip")
        if state == "skipped":
            raise SkipError(f"{day} is already skipped")
        con.execute("INSERT INTO import_days VALUES (?, 'skipped', ?, ?)",
                    [day, datetime.now(UTC), note])
        ops = operational.connect(instance)
        try:
            copy_done_days(con, ops)
        finally:
            ops.close()
    finally:
        con.close()
