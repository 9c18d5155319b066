"""The daily run as the scheduler starts it: `clientela run`'s pipeline, recorded in
`daily_runs`, with alerts on failure and on files rejecting too many rows.

These functions are what the scheduler's persistent jobs name (by module and function name):
keep their names and arguments stable.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from clientela.alerts.checks import check_files_due, check_reject_rates
from clientela.alerts.store import raise_alert
from clientela.config import Instance, open_instance
from clientela.daily.locks import exclusive, instance_lock
from clientela.run.pipeline import run
from clientela.stores import operational

log = logging.getLogger("clientela.daily")

LATE_AFTER = timedelta(minutes=5)
"""A run started this long after its time was missed (the service was down) and is caught up."""


def _open(root: str) -> Instance:
    path = Path(root)
    return open_instance(path.name, home=path.parent)


def due_time(instance: Instance, now: datetime, at: str) -> datetime:
    """The last time `at` (HH:MM local) came at or before `now`, in UTC."""
    zone = ZoneInfo(instance.settings.instance.timezone)
    local = now.astimezone(zone)
    hour, minute = (int(part) for part in at.split(":"))
    due = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if due > local:
        due = (local - timedelta(days=1)).replace(hour=hour, minute=minute, second=0,
                                                   microsecond=0)
    return due.astimezone(UTC)


def daily_run_job(root: str) -> None:
    """The scheduled daily run of the instance at `root`."""
    instance = _open(root)
    now = datetime.now(UTC)
    due = due_time(instance, now, instance.settings.schedule.run_at)
    execute_daily_run(instance, "late" if now - due > LATE_AFTER else "schedule", due)


def files_due_job(root: str) -> None:
    """The scheduled check that yesterday's files arrived."""
    instance = _open(root)
    exclusive(instance.root, lambda: check_files_due(instance, datetime.now(UTC)))


def execute_daily_run(instance: Instance, trigger: str, scheduled_for: datetime | None = None
                      ) -> dict[str, Any]:
    """Run the pipeline once, under the instance's lock; record it; alert if it fails."""
    with instance_lock(instance.root):
        started = datetime.now(UTC)
        ops = operational.connect(instance)
        try:
            run_id = ops.execute(
                "INSERT INTO daily_runs (trigger, scheduled_for, started_at, outcome) "
                "VALUES (?, ?, ?, 'running')",
                (trigger, scheduled_for.isoformat() if scheduled_for else None,
                 started.isoformat())).lastrowid
        finally:
            ops.close()
        log.info("%s: daily run %d started (%s)", instance.name, run_id, trigger)
        row: dict[str, Any] = {"outcome": "failed", "message": None, "as_of": None,
                               "days_loaded": 0, "profiles": None, "indicator_run": None}
        try:
            result = exclusive(instance.root, lambda: run(instance))
        except KeyboardInterrupt:
            row.update(outcome="interrupted", message="interrupted; the previous run stays whole")
            raise
        except Exception as error:
            row["message"] = redact(f"{type(error).__name__}: {error}".splitlines()[0])[:500]
            log.error("%s: daily run %d failed: %s", instance.name, run_id, row["message"])
            raise_alert(instance, "run_failed",
                        f"the daily run {run_id} ({trigger}) failed: {row['message']}",
                        key=str(run_id), details={"run": run_id, "trigger": trigger,
                                                  "error": row["message"]})
        else:
            row.update(outcome="succeeded", as_of=result.as_of.isoformat(),
                       days_loaded=len(result.imported.days_loaded), profiles=result.profiles,
                       indicator_run=result.run_id)
            log.info("%s: daily run %d as of %s: %d day(s) loaded, %d profiles published",
                     instance.name, run_id, result.as_of, len(result.imported.days_loaded),
                     result.published)
            check_reject_rates(instance, result.imported.reports)
        finally:
            ops = operational.connect(instance)
            try:
                ops.execute(
                    "UPDATE daily_runs SET finished_at = ?, outcome = ?, as_of = ?, "
                    "days_loaded = ?, profiles = ?, indicator_run = ?, message = ? WHERE id = ?",
                    (datetime.now(UTC).isoformat(), row["outcome"], row["as_of"],
                     row["days_loaded"], row["profiles"], row["indicator_run"], row["message"],
                     run_id))
            finally:
                ops.close()
        return {"id": run_id, "trigger": trigger, **row}


def mark_abandoned_runs(instance: Instance) -> None:
    """Runs still `running` when the service starts were cut by a crash or a kill."""
    ops = operational.connect(instance)
    try:
        ops.execute("UPDATE daily_runs SET outcome = 'interrupted', finished_at = ?, message = "
                    "'the process ended during the run; the previous run stays whole' "
                    "WHERE outcome = 'running'", (datetime.now(UTC).isoformat(),))
    finally:
        ops.close()


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"\+\d[\d ()-]{6,}\d|\b\d{9,}\b")


def redact(text: str) -> str:
    """An error message as it may be logged and sent: emails and phone-like numbers masked
    (a database error can quote the value it choked on)."""
    return _PHONE.sub("<number>", _EMAIL.sub("<email>", text))
