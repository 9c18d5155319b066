"""The daily service inside `clientela serve`: the SFTP server, the drop-folder watchers, the
schedule and the alerts beside the API, in an event loop of their own.

The API workers own the analytics stores of the instances they serve, so the service's imports
and runs of those instances are handed to them (`locks.hand_over`): each runs on its worker's
thread between two micro-batches, and the worker brings the serving copy up to date after it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clientela.api.worker import Worker
from clientela.daily.locks import hand_over, take_back
from clientela.daily.service import DailyService


class HostedDailyService:
    """A `Service` of `clientela.api.server.Server`."""

    def __init__(self, home: Path, *, sftp: bool = True, sftp_host: str = "0.0.0.0",
                 sftp_port: int = 2222, poll_seconds: float = 2.0) -> None:
        self.service = DailyService(home, sftp=sftp, sftp_host=sftp_host, sftp_port=sftp_port,
                                    poll_seconds=poll_seconds)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="clientela-daily",
                                        daemon=True)
        self._roots: list[Path] = []

    def start(self, workers: dict[str, Worker]) -> None:
        for worker in workers.values():
            hand_over(worker.instance.root, _through(worker))
            self._roots.append(worker.instance.root)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.service.start(), self._loop).result()

    def stop(self) -> None:
        """Stops taking files; an import in progress finishes first (on its worker)."""
        try:
            asyncio.run_coroutine_threadsafe(self.service.close(), self._loop).result()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            for root in self._roots:
                take_back(root)


def _through(worker: Worker) -> Callable[[Callable[[], Any]], Any]:
    def owner(work: Callable[[], Any]) -> Any:
        return worker.submit(lambda con: work()).result()
    return owner
