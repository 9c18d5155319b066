"""The worker in this process, without HTTP: what it does when it runs out of calls."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from tests.api.conftest import order

from clientela.api import log, worker
from clientela.api.keys import Scope, create_key
from clientela.config import create_instance
from clientela.stores import ingest, operational


def test_the_worker_checkpoints_the_store_once_it_runs_out_of_calls(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "CHECKPOINT_RECORDS", 1)
    instance = create_instance("shop", timezone="America/Santiago", currency="CLP",
                               home=tmp_path)
    ops = operational.connect(instance)
    key = create_key(ops, instance.name, Scope.WRITE, "test")[0]
    ops.close()
    wal = instance.analytics_path.with_name(instance.analytics_path.name + ".wal")
    running = worker.Worker(instance)
    running.start()
    running.ready.wait()
    appender = log.Appender(instance, on_commit=running.wake.set)
    try:
        call = log.Append(key.id, "orders", log.encode({"records": [order()]}), 1)
        logged = asyncio.run(appender.append(call))
        deadline = time.monotonic() + 30
        applied = False
        while time.monotonic() < deadline:
            log_db, reader = ingest.connect(instance), operational.connect(instance)
            try:
                current = log.lookup(log_db, reader, logged.ingest_id)
            finally:
                log_db.close()
                reader.close()
            applied = current is not None and current.state == "applied"
            if applied and not (wal.exists() and wal.stat().st_size):
                break
            time.sleep(0.05)
        assert applied
        assert not (wal.exists() and wal.stat().st_size), wal.stat().st_size
    finally:
        appender.close()
        running.stop()
