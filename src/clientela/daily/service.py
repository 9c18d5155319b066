"""The daily service of a data home, in the caller's event loop.

    service = DailyService(home, sftp_host="0.0.0.0", sftp_port=2222)
    await service.start()       # SFTP server, watchers, scheduler, alert delivery
    ...
    await service.close()

Every `poll_seconds` it looks for instances (new ones are picked up, removed ones dropped),
re-reads a `clientela.toml` that changed, takes complete files from each drop folder and imports
them, and delivers the alerts whose webhook try is due. Imports and daily runs work in threads,
one at a time per instance (`locks.exclusive`); the event loop only orchestrates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from clientela.alerts.checks import check_reject_rates
from clientela.alerts.webhook import deliver_due
from clientela.config import ConfigError, Instance, InstanceError, open_instance
from clientela.config.instance import CONFIG_FILE
from clientela.daily.locks import exclusive
from clientela.daily.runs import execute_daily_run, mark_abandoned_runs
from clientela.drop.watcher import DropWatcher, Taken, import_taken
from clientela.schedule.scheduler import Schedule
from clientela.sftp.server import SftpServer

log = logging.getLogger("clientela.daily")


@dataclass
class _Watched:
    instance: Instance
    config_mtime_ns: int
    watcher: DropWatcher
    taken: list[Taken] = field(default_factory=list)
    importing: asyncio.Task[None] | None = None


class DailyService:
    def __init__(self, home: Path, *, sftp: bool = True, sftp_host: str = "0.0.0.0",
                 sftp_port: int = 2222, poll_seconds: float = 2.0, settle_seconds: float = 1.0,
                 webhook_timeout: float = 10.0) -> None:
        self.home = home
        self.poll_seconds = poll_seconds
        self.settle_seconds = settle_seconds
        self.schedule = Schedule()
        self.sftp = (SftpServer(home, host=sftp_host, port=sftp_port,
                                on_upload=self._upload_closed) if sftp else None)
        self._watched: dict[str, _Watched] = {}
        self._webhook_timeout = webhook_timeout
        self._client: httpx.AsyncClient | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._delivering = False

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self._webhook_timeout)
        self.schedule.start()
        await asyncio.to_thread(self._discover)
        self.schedule.resume()
        if self.sftp is not None:
            await self.sftp.start()
        self._loop_task = asyncio.create_task(self._loop(), name="clientela-daily")

    async def close(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        if self.sftp is not None:
            await self.sftp.close()
        # An import in progress finishes (a day is one transaction; stopping it would only
        # roll it back and start it again later).
        running = [w.importing for w in self._watched.values() if w.importing]
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        self.schedule.shutdown()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> DailyService:
        await self.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()

    @property
    def instances(self) -> list[str]:
        return sorted(self._watched)

    async def run_now(self, name: str) -> dict[str, Any]:
        """A daily run of one instance now (`manual` in its history), waiting for its end."""
        watched = self._watched.get(name)
        if watched is None:
            raise InstanceError(f"no instance {name!r} in {self.home}")
        return await asyncio.to_thread(execute_daily_run, watched.instance, "manual")

    def _upload_closed(self, name: str, path: Path) -> None:
        watched = self._watched.get(name)
        if watched is not None:
            watched.watcher.upload_closed(path)
            self._wake.set()

    # --- the loop ---------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            try:
                await self._tick()
            except Exception:
                log.exception("daily service: a pass failed; trying again")
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            except TimeoutError:
                continue
            # An upload just closed: let the rest of a batch arrive, to import it in one go.
            await asyncio.sleep(self.settle_seconds)
            self._wake.clear()

    async def _tick(self) -> None:
        await asyncio.to_thread(self._discover)
        for watched in list(self._watched.values()):
            if watched.importing is None:
                watched.taken += watched.watcher.take()
                if watched.taken or watched.watcher.pending():
                    watched.importing = asyncio.create_task(self._import(watched))
        if not self._delivering:
            self._delivering = True
            try:
                for watched in list(self._watched.values()):
                    assert self._client is not None
                    await deliver_due(watched.instance, self._client)
            finally:
                self._delivering = False

    async def _import(self, watched: _Watched) -> None:
        taken, watched.taken = watched.taken, []
        try:
            await asyncio.to_thread(self._import_locked, watched.instance, taken)
        except Exception as error:
            log.error("%s: import of the drop folder's files failed: %s (they stay in the "
                      "inbox or processing/ and are tried again)", watched.instance.name,
                      f"{type(error).__name__}: {error}".splitlines()[0][:300])
        finally:
            watched.importing = None

    @staticmethod
    def _import_locked(instance: Instance, taken: list[Taken]) -> None:
        result = exclusive(instance.root, lambda: import_taken(instance, taken))
        loaded = result.days_loaded
        log.info("%s: imported %d file(s) from the drop folder; %s", instance.name, len(taken),
                 f"loaded {', '.join(str(d) for d in loaded)}" if loaded else "no day loaded")
        if result.waiting:
            log.info("%s: waiting for %s (missing %s)", instance.name, result.waiting.day,
                     ", ".join(result.waiting.missing))
        check_reject_rates(instance, result.reports)

    def _discover(self) -> None:
        """Instances added, changed or removed since the last pass (runs in a thread)."""
        found = {p.parent.name: p for p in self.home.glob(f"*/{CONFIG_FILE}")}
        for name in set(self._watched) - set(found):
            log.info("%s: instance gone; no longer watched", name)
            self.schedule.remove_instance(name)
            del self._watched[name]
        for name, config in sorted(found.items()):
            mtime = config.stat().st_mtime_ns
            watched = self._watched.get(name)
            if watched is not None and watched.config_mtime_ns == mtime:
                continue
            try:
                instance = open_instance(name, home=self.home)
            except (ConfigError, InstanceError) as error:
                if watched is None or watched.config_mtime_ns != mtime:
                    log.error("%s: not watched: %s", name, error)
                if watched is not None:
                    watched.config_mtime_ns = mtime  # logged once; the last good one stays
                continue
            if watched is None:
                mark_abandoned_runs(instance)
                self._watched[name] = _Watched(instance, mtime, DropWatcher(instance))
                log.info("%s: watching %s", name, instance.drop)
            else:
                watched.instance = instance
                watched.watcher.instance = instance
                watched.config_mtime_ns = mtime
                log.info("%s: settings reloaded", name)
            self.schedule.reconcile(instance)
