"""What `clientela status` shows of the daily service: runs, schedule, days received, alerts."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from clientela.alerts.checks import Arrival, arrivals, expected_day
from clientela.alerts.store import Alert, recent_alerts
from clientela.config import Instance
from clientela.drop.watcher import UPLOADING_SUFFIXES
from clientela.ingest.inbox import inbox_files
from clientela.ingest.status import known_done_days
from clientela.schedule.scheduler import DAILY_RUN, FILES_DUE, next_runs
from clientela.stores import operational

DAYS_SHOWN = 7


@dataclass(frozen=True)
class DailyStatus:
    schedule: str
    """`06:00 America/Santiago`, or `off`."""
    last_run: dict[str, Any] | None
    next_run: datetime | None
    """As stored by the scheduler (UTC); None before the service first started."""
    next_files_check: datetime | None
    days: list[Arrival]
    """The last days up to yesterday (local), newest last."""
    latest_day: date | None
    """The latest business day loaded or with a file in the inbox."""
    files_in_drop: int
    last_received: dict[str, Any] | None
    alerts: list[Alert]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["alerts"] = [a.payload() | {"delivery": a.delivery, "attempts": a.attempts}
                          for a in self.alerts]
        return data


def _row(con: sqlite3.Connection, sql: str) -> dict[str, Any] | None:
    cursor = con.execute(sql)
    row = cursor.fetchone()
    return dict(zip([c[0] for c in cursor.description], row, strict=True)) if row else None


def daily_status(instance: Instance, now: datetime | None = None) -> DailyStatus:
    now = now or datetime.now(UTC)
    settings = instance.settings
    last_day = expected_day(instance, now)
    days = [last_day - timedelta(days=n) for n in range(DAYS_SHOWN - 1, -1, -1)]
    done = known_done_days(instance)
    ops = operational.connect(instance)
    try:
        last_run = _row(ops, "SELECT * FROM daily_runs ORDER BY id DESC LIMIT 1")
        last_received = _row(ops, "SELECT name, bytes, taken_at, complete_by, outcome "
                                  "FROM drop_files ORDER BY id DESC LIMIT 1")
    finally:
        ops.close()
    stored = next_runs(instance)
    drop = instance.drop
    waiting = [p for p in drop.iterdir() if not p.name.startswith(".")
               and not p.name.endswith(UPLOADING_SUFFIXES)] if drop.is_dir() else []
    return DailyStatus(
        schedule=(f"{settings.schedule.run_at} {settings.instance.timezone}"
                  if settings.schedule.daily_run else "off"),
        last_run=last_run, next_run=stored.get(DAILY_RUN), next_files_check=stored.get(FILES_DUE),
        days=arrivals(instance, days, done),
        latest_day=max([d for d, state in done.items() if state == "loaded"]
                       + [f.day for f in inbox_files(instance)], default=None),
        files_in_drop=len(waiting),
        last_received=last_received, alerts=recent_alerts(instance))
