"""`clientela serve`: the HTTP API and, per instance, the worker that owns its analytics store.

One process by default: uvicorn serves the app in the main thread, each instance's worker drains
its ingest log on a thread of its own. With `api_workers > 1`, uvicorn runs the app in that many
processes, which open only the operational stores (`app_from_environment` builds the app in each
of them); the workers stay in the main process, the only one that opens the analytics stores.

Other long-running parts (an SFTP server, a drop-folder watcher, a scheduler) plug in as
`Service`s: started once the workers are ready, stopped before them. SIGTERM (or Ctrl-C) stops
the HTTP server first (uvicorn finishes the requests in flight), then the services, then the
workers, which apply every acknowledged call before they close their stores.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Protocol

import uvicorn
from fastapi import FastAPI

from clientela.api import log
from clientela.api.app import Tenant, create_app
from clientela.api.worker import Worker
from clientela.config import Instance, open_instance
from clientela.config.instance import CONFIG_FILE, data_home
from clientela.identity.rules import IdentityRules

INSTANCES_ENV = "CLIENTELA_SERVE_INSTANCES"
"""Tells each API process which instances to serve (a JSON list of names)."""

GRACE_SECONDS = 30
"""How long requests in flight may take to finish after SIGTERM."""

logger = logging.getLogger("clientela.api")


class Service(Protocol):
    """A part of `clientela serve` besides the API and the workers."""

    def start(self, workers: dict[str, Worker]) -> None: ...
    def stop(self) -> None: ...


def served_instances(names: Sequence[str], home: Path | None = None) -> list[Instance]:
    """The instances named, or every instance in the data home."""
    home = home or data_home()
    chosen = list(names) or sorted(p.parent.name for p in home.glob(f"*/{CONFIG_FILE}"))
    return [open_instance(name, home=home) for name in chosen]


def tenants_of(instances: Sequence[Instance], workers: Mapping[str, Worker] | None = None
               ) -> dict[str, Tenant]:
    """The instances as the app serves them; with their `workers`, when these run in the same
    process, each log commit wakes its worker and each applied micro-batch its waiting calls."""
    tenants = {}
    for instance in instances:
        worker = (workers or {}).get(instance.name)
        appender = log.Appender(instance, on_commit=worker.wake.set if worker else None)
        tenants[instance.name] = Tenant(instance, appender, IdentityRules.of(instance.settings),
                                        applied=worker.applied if worker else None)
    return tenants


def app_from_environment() -> FastAPI:
    """The app of one API process (`--api-workers N`): instances from the environment."""
    instances = served_instances(json.loads(os.environ[INSTANCES_ENV]))
    app = create_app(tenants_of(instances))
    tune_garbage_collector()
    return app


YOUNG_COLLECTION_EVERY = 50_000
"""Allocations between two collections of the garbage collector's youngest generation."""


def tune_garbage_collector() -> None:
    """Keep what the process has built so far out of the garbage collector's full passes:
    each pass walked every module, model and route, and stalled every call in flight for
    80 ms (the p99 of single POSTs went from 8 ms to 90 ms).

    Then collect the youngest generation every YOUNG_COLLECTION_EVERY allocations rather than
    Python's 700. A call's objects are freed by reference counting once it is answered; a
    collection in the middle of a 1,000-order batch (thousands of models, dicts and lists)
    only walked them and moved them to older generations, to be walked again. Validating such
    a batch took 28-31 ms of CPU, and 21 ms with this (bench/api_cpu.py)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])


@dataclass
class Server:
    instances: list[Instance]
    host: str
    port: int
    api_workers: int = 1
    services: list[Service] = field(default_factory=list)
    workers: dict[str, Worker] = field(default_factory=dict)

    def run(self) -> None:
        # uvicorn handles SIGTERM / SIGINT while it serves, then raises the signal again once
        # it has stopped; caught here, it no longer ends the process before the workers drain.
        previous = {sig: signal.signal(sig, self._stopping)
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stopping(self, sig: int, frame: FrameType | None) -> None:
        logger.info("signal %d: applying every acknowledged call before stopping", sig)

    def _run(self) -> None:
        self.workers = {i.name: Worker(i) for i in self.instances}
        try:
            for worker in self.workers.values():
                worker.start()
            for worker in self.workers.values():
                worker.ready.wait()
                if worker.failure is not None:
                    raise worker.failure
            for service in self.services:
                service.start(self.workers)
            try:
                self._serve()
            finally:
                for service in reversed(self.services):
                    service.stop()
        finally:
            for worker in self.workers.values():
                if worker.thread.is_alive():
                    worker.stop()

    def _serve(self) -> None:
        if self.api_workers == 1:
            tenants = tenants_of(self.instances, self.workers)
            app = create_app(tenants)
            tune_garbage_collector()
            try:
                uvicorn.Server(uvicorn.Config(
                    app, host=self.host, port=self.port, log_level="warning",
                    access_log=False, timeout_graceful_shutdown=GRACE_SECONDS)).run()
            finally:
                for tenant in tenants.values():
                    tenant.appender.close()
            return
        os.environ[INSTANCES_ENV] = json.dumps([i.name for i in self.instances])
        os.environ["CLIENTELA_HOME"] = str(self.instances[0].root.parent)
        uvicorn.run("clientela.api.server:app_from_environment", factory=True,
                    workers=self.api_workers, host=self.host, port=self.port,
                    log_level="warning", access_log=False,
                    timeout_graceful_shutdown=GRACE_SECONDS)
