"""The daily run and the files-due check at local times, with a controllable clock
(time-machine moves the clock the scheduler and the jobs read; nothing sleeps for hours)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine

from clientela.config import Instance, create_instance, open_instance
from clientela.daily import DailyService
from clientela.schedule import DAILY_RUN, FILES_DUE, next_runs

# Chile is on summer time (UTC-3) in March 2025.
MARCH_4_0500 = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)


@pytest.fixture
def santiago(home: Path) -> Instance:
    return create_instance("acme", timezone="America/Santiago", home=home)


def _runs(instance: Instance) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(instance.operational_path)
    try:
        return con.execute("SELECT trigger, scheduled_for, outcome, as_of FROM daily_runs "
                           "ORDER BY id").fetchall()
    finally:
        con.close()


def _alerts(instance: Instance) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(instance.operational_path)
    try:
        return con.execute("SELECT kind, day, message FROM alerts ORDER BY id").fetchall()
    finally:
        con.close()


async def _until(condition: Callable[[], Any], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def _finished(instance: Instance, count: int) -> Callable[[], bool]:
    def done() -> bool:
        runs = _runs(instance)
        return len(runs) == count and all(r[2] != "running" for r in runs)
    return done


def test_the_daily_run_runs_at_its_local_time(santiago: Instance, home: Path) -> None:
    async def scenario() -> None:
        with time_machine.travel(MARCH_4_0500, tick=False) as clock:
            service = DailyService(home, sftp=False, poll_seconds=0.1)
            async with service:
                assert next_runs(santiago)[DAILY_RUN] == datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
                clock.move_to(datetime(2025, 3, 4, 8, 59, 59, tzinfo=UTC))
                service.schedule.scheduler.wakeup()
                await asyncio.sleep(0.5)
                assert _runs(santiago) == []

                clock.move_to(datetime(2025, 3, 4, 9, 0, 1, tzinfo=UTC))
                service.schedule.scheduler.wakeup()
                await _until(_finished(santiago, 1))

                assert next_runs(santiago)[DAILY_RUN] == datetime(2025, 3, 5, 9, 0, tzinfo=UTC)

    asyncio.run(scenario())
    assert _runs(santiago) == [("schedule", "2025-03-04T09:00:00+00:00", "succeeded",
                                "2025-03-04")]


def test_runs_missed_while_down_run_once_when_the_service_is_back(
        santiago: Instance, home: Path) -> None:
    async def scenario() -> None:
        with time_machine.travel(datetime(2025, 3, 4, 7, 0, tzinfo=UTC), tick=False) as clock:
            async with DailyService(home, sftp=False, poll_seconds=0.1):
                pass  # the jobs are stored: next run on March 4 at 06:00 local
            # Down for two days and a bit: the runs of March 4, 5 and 6 are missed.
            clock.move_to(datetime(2025, 3, 6, 13, 0, tzinfo=UTC))
            async with DailyService(home, sftp=False, poll_seconds=0.1):
                await _until(_finished(santiago, 1))
                await _until(lambda: _alerts(santiago))
                await asyncio.sleep(0.5)  # time for a second run, which must not come
                assert next_runs(santiago) == {
                    DAILY_RUN: datetime(2025, 3, 7, 9, 0, tzinfo=UTC),
                    FILES_DUE: datetime(2025, 3, 7, 8, 0, tzinfo=UTC)}

    asyncio.run(scenario())
    assert _runs(santiago) == [("late", "2025-03-06T09:00:00+00:00", "succeeded", "2025-03-06")]
    # The files-due check ran once too, for yesterday's files.
    assert _alerts(santiago) == [
        ("files_missing", "2025-03-05",
         "the files of 2025-03-05 have not arrived by 05:00 (no file)")]


def test_a_new_run_time_applies_and_a_missed_run_is_still_caught_up(
        santiago: Instance, home: Path) -> None:
    config = santiago.config_path
    config.write_text(config.read_text("utf-8").replace('files_due_at = "05:00"',
                                                        'files_due_at = ""'), "utf-8")

    async def scenario() -> None:
        with time_machine.travel(datetime(2025, 3, 4, 7, 0, tzinfo=UTC), tick=False) as clock:
            async with DailyService(home, sftp=False, poll_seconds=0.1):
                assert set(next_runs(santiago)) == {DAILY_RUN}
            clock.move_to(datetime(2025, 3, 4, 12, 0, tzinfo=UTC))
            config.write_text(config.read_text("utf-8").replace(
                'run_at = "06:00"', 'run_at = "22:30"'), "utf-8")
            async with DailyService(home, sftp=False, poll_seconds=0.1):
                await _until(_finished(santiago, 1))
                assert next_runs(santiago)[DAILY_RUN] == datetime(2025, 3, 5, 1, 30,
                                                                   tzinfo=UTC)

    asyncio.run(scenario())
    assert [(r[0], r[2]) for r in _runs(santiago)] == [("late", "succeeded")]


def test_turning_the_daily_run_off_removes_its_job(santiago: Instance, home: Path) -> None:
    config = santiago.config_path
    config.write_text(config.read_text("utf-8").replace("daily_run = true", "daily_run = false"),
                      "utf-8")

    async def scenario() -> None:
        async with DailyService(home, sftp=False, poll_seconds=0.1):
            pass

    asyncio.run(scenario())
    assert open_instance("acme", home=home).settings.schedule.daily_run is False
    assert set(next_runs(santiago)) == {FILES_DUE}
