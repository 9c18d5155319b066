"""APScheduler 3 with one job store per instance (its operational store's `apscheduler_jobs`).

Jobs are reconciled with `clientela.toml` when an instance is added and whenever its settings
change: a job missing is added, a job whose time changed is rescheduled, a job turned off is
removed. A job already stored keeps its next run time, so a run missed while the service was down
is not lost by the reconciliation: APScheduler finds it due at start and, with `coalesce`, runs
it once however many days were missed.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_PAUSED
from apscheduler.triggers.cron import CronTrigger

from clientela.config import Instance
from clientela.stores import operational

log = logging.getLogger("clientela.schedule")

DAILY_RUN = "daily-run"
FILES_DUE = "files-due"
_JOB_FUNCTIONS = {DAILY_RUN: "clientela.daily.runs:daily_run_job",
                  FILES_DUE: "clientela.daily.runs:files_due_job"}


def _trigger(instance: Instance, at: str) -> CronTrigger:
    hour, minute = at.split(":")
    return CronTrigger(hour=int(hour), minute=int(minute),
                       timezone=instance.settings.instance.timezone)


def _wanted(instance: Instance) -> dict[str, str]:
    """Job id -> local time HH:MM, for the jobs the settings ask for."""
    wanted = {}
    if instance.settings.schedule.daily_run:
        wanted[DAILY_RUN] = instance.settings.schedule.run_at
    if instance.settings.alerts.files_due_at:
        wanted[FILES_DUE] = instance.settings.alerts.files_due_at
    return wanted


class Schedule:
    """The scheduler of a service; `start()` and `shutdown()` in the caller's event loop."""

    def __init__(self, workers: int = 4) -> None:
        self.scheduler = AsyncIOScheduler(
            timezone=UTC, executors={"default": ThreadPoolExecutor(workers)},
            # A missed run runs once when the service is back, however late.
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1})
        self._instances: set[str] = set()

    def start(self) -> None:
        self.scheduler.start(paused=True)

    def resume(self) -> None:
        self.scheduler.resume()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def reconcile(self, instance: Instance) -> None:
        """Make the instance's stored jobs match its settings; keep missed runs."""
        paused = self.scheduler.state == STATE_PAUSED
        self.scheduler.pause()
        try:
            self._reconcile(instance)
        finally:
            if not paused:
                self.scheduler.resume()

    def _reconcile(self, instance: Instance) -> None:
        alias = instance.name
        if alias not in self._instances:
            operational.connect(instance).close()  # the table comes with the migrations
            self.scheduler.add_jobstore(SQLAlchemyJobStore(
                url=f"sqlite:///{instance.operational_path}", tablename="apscheduler_jobs",
                engine_options={"connect_args": {"timeout": 30}}), alias=alias)
            self._instances.add(alias)
        wanted = _wanted(instance)
        root = str(instance.root)
        for job_id in (DAILY_RUN, FILES_DUE):
            job = self.scheduler.get_job(job_id, jobstore=alias)
            if job_id not in wanted:
                if job is not None:
                    job.remove()
                    log.info("%s: %s turned off", alias, job_id)
                continue
            trigger = _trigger(instance, wanted[job_id])
            if job is None:
                job = self.scheduler.add_job(
                    _JOB_FUNCTIONS[job_id], trigger, args=[root], id=job_id, jobstore=alias,
                    name=f"{job_id} {alias}")
                log.info("%s: %s scheduled at %s %s", alias, job_id, wanted[job_id],
                         instance.settings.instance.timezone)
                continue
            if job.args != (root,):  # the instance folder moved
                job.modify(args=[root])
            if str(job.trigger) != str(trigger) or str(job.trigger.timezone) != str(
                    trigger.timezone):
                missed = job.next_run_time
                job = job.reschedule(trigger)
                if missed is not None and missed <= datetime.now(UTC):
                    job.modify(next_run_time=missed)  # still catch up the run missed
                log.info("%s: %s moved to %s %s", alias, job_id, wanted[job_id],
                         instance.settings.instance.timezone)

    def remove_instance(self, name: str) -> None:
        if name in self._instances:
            self.scheduler.remove_jobstore(name, shutdown=True)
            self._instances.discard(name)

    def run_soon(self, name: str, job_id: str = DAILY_RUN) -> None:
        """Let a stored job run now (as if it were due), through the scheduler."""
        self.scheduler.modify_job(job_id, jobstore=name, next_run_time=datetime.now(UTC))
        self.scheduler.wakeup()


def next_runs(instance: Instance) -> dict[str, datetime | None]:
    """Job id -> next run time (UTC) as stored, read straight from the operational store (for
    `clientela status`, in any process)."""
    con = operational.connect(instance)
    try:
        rows = con.execute("SELECT id, next_run_time FROM apscheduler_jobs").fetchall()
    except sqlite3.Error:
        rows = []
    finally:
        con.close()
    return {str(job_id): datetime.fromtimestamp(ts, UTC) if ts is not None else None
            for job_id, ts in rows}
