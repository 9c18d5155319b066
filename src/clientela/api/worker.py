"""The worker: the one owner of an instance's analytics store while `clientela serve` runs.

It drains the ingest log in micro-batches (`apply.Applier`), and publishes what they changed to
the serving tables together with each call's outcome, in one transaction of the operational
store. At start it makes the lookup indexes its micro-batches read (`analytics.LOOKUP_INDEXES`),
then finishes what a crash left half done: calls the analytics store already holds (its
`applied_through`) but without an outcome are marked applied, never applied again, and the
serving copy is rebuilt whole when it does not match the analytics store.

Other work that needs the analytics store while the server runs (a daily import, an indicator
run) is handed to `Worker.submit`: it runs on the worker's thread between two micro-batches,
and the serving copy is brought up to date after it.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

import duckdb

from clientela.api import log
from clientela.api.apply import Applied, Applier
from clientela.config import Instance
from clientela.identity.forget import forget
from clientela.identity.lookup import IdentityError, resolve_client
from clientela.identity.rules import IdentityRules
from clientela.serving import realtime
from clientela.stores import analytics, ingest, operational

logger = logging.getLogger("clientela.api")

Job = Callable[[duckdb.DuckDBPyConnection], Any]
HOUSEKEEPING_SECONDS = 60.0
CHECKPOINT_RECORDS = 1_000
CHECKPOINT_SECONDS = 60.0
"""The worker checkpoints the analytics store when it runs out of calls, once it has applied
this many records since the last checkpoint, or any after this long (a checkpoint of a few
calls' changes takes ~60 ms at 1M profiles)."""


class Worker:
    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.settings = instance.settings.api
        self.rules = IdentityRules.of(instance.settings)
        self.jobs: queue.Queue[tuple[Job, Future[Any]]] = queue.Queue()
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.ready = threading.Event()
        self.applied = log.AppliedSignal()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"clientela-worker-{instance.name}",
                                       daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Finish every acknowledged call, then close the store."""
        self.stopping.set()
        self.wake.set()
        self.thread.join()

    def submit(self, job: Job) -> Future[Any]:
        """Run `job(analytics connection)` on the worker thread between two micro-batches."""
        done: Future[Any] = Future()
        self.jobs.put((job, done))
        self.wake.set()
        return done

    def _run(self) -> None:
        try:
            con = analytics.connect(self.instance)
        except BaseException as error:
            self.failure = error
            self.ready.set()
            raise
        ops = operational.connect(self.instance, cache_mb=operational.WRITER_CACHE_MB)
        log_db = ingest.connect(self.instance)
        try:
            if made := analytics.ensure_lookup_indexes(con):
                logger.info("instance %s: made the lookup indexes %s", self.instance.name,
                            ", ".join(made))
            applier = Applier(con, self.instance)
            self._recover(con, ops, log_db, applier)
            applier.warm_up()
            self.ready.set()
            self._drain(con, ops, log_db, applier)
        except BaseException as error:
            self.failure = error
            logger.exception("the worker of instance %s stopped", self.instance.name)
            raise
        finally:
            self.ready.set()
            log_db.close()
            ops.close()
            con.close()

    def _recover(self, con: duckdb.DuckDBPyConnection, ops: sqlite3.Connection,
                 log_db: sqlite3.Connection, applier: Applier) -> None:
        done = log.unmarked(log_db, ops, applier.applied_through())
        if done or realtime.synced(ops) != realtime.fingerprint(con):
            logger.info("instance %s: rebuilding the serving copy", self.instance.name)
            self._sync_all(con, ops, {i: {"recovered": True} for i in done})

    def _sync_all(self, con: duckdb.DuckDBPyConnection, ops: sqlite3.Connection,
                  outcomes: dict[int, dict[str, Any]]) -> None:
        store_scoped = self.instance.settings.files.store_scoped_customer_ids
        with operational.transaction(ops):
            realtime.publish_profiles(con, ops, self.rules, None)
            realtime.publish_orders(con, ops, None, store_scoped)
            realtime.publish_events(con, ops, None)
            log.mark_applied(ops, outcomes)
            realtime.mark_synced(ops, realtime.fingerprint(con))
        # The whole copy went through the write-ahead log (GBs at 1M customers): moved into the
        # store now, it does not fall on the commits of the micro-batches that follow, each of
        # which would otherwise try again to checkpoint it while readers hold it back.
        ops.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _drain(self, con: duckdb.DuckDBPyConnection, ops: sqlite3.Connection,
               log_db: sqlite3.Connection, applier: Applier) -> None:
        through = applier.applied_through()
        housekeeping = 0.0
        written, checkpointed = 0, time.monotonic()
        while True:
            self._run_jobs(con, ops)
            entries = log.pending(log_db, through, self.settings.micro_batch)
            if not entries:
                if self.stopping.is_set() and self.jobs.empty():
                    return
                if written >= CHECKPOINT_RECORDS or (
                        written and time.monotonic() - checkpointed > CHECKPOINT_SECONDS):
                    self._checkpoint(applier)
                    written, checkpointed = 0, time.monotonic()
                if time.monotonic() - housekeeping > HOUSEKEEPING_SECONDS:
                    housekeeping = time.monotonic()
                    log.forget_old(log_db, ops, through,
                                   timedelta(hours=self.settings.idempotency_hours),
                                   timedelta(days=self.settings.log_retention_days))
                self.wake.wait(self.settings.poll_ms / 1000)
                self.wake.clear()
                continue
            erasure = next((i for i, e in enumerate(entries) if e.kind == "erasure"), None)
            if erasure == 0:
                self._erase(con, ops, entries[0])
                through = entries[0].id
                written += 1
            else:
                batch = entries[:erasure] if erasure else entries
                self._apply(con, ops, applier, batch)
                through = batch[-1].id
                written += sum(entry.records for entry in batch)
            self.applied.notify()

    def _checkpoint(self, applier: Applier) -> None:
        started = time.monotonic()
        try:
            applier.checkpoint()
        except duckdb.Error as error:  # tried again after as many records or seconds more
            logger.warning("instance %s: checkpoint failed: %s", self.instance.name, error)
            return
        logger.debug("instance %s: checkpoint in %.2f s", self.instance.name,
                     time.monotonic() - started)

    def _run_jobs(self, con: duckdb.DuckDBPyConnection, ops: sqlite3.Connection) -> None:
        ran = False
        while not self.jobs.empty():
            job, done = self.jobs.get()
            ran = True
            try:
                done.set_result(job(con))
            except BaseException as error:
                done.set_exception(error)
        if ran and realtime.synced(ops) != realtime.fingerprint(con):
            self._sync_all(con, ops, {})

    def _apply(self, con: duckdb.DuckDBPyConnection, ops: sqlite3.Connection, applier: Applier,
               batch: list[log.Entry]) -> None:
        try:
            with ExitStack() as publishing:
                stored: list[str] = []

                def publish_records(applied: Applied, other: duckdb.DuckDBPyConnection) -> None:
                    # While the indicators compute on `con`: the profiles, orders and events
                    # go to the serving copy, and the stored tables' fingerprint is taken (the
                    # computation writes only temporary tables).
                    publishing.enter_context(operational.transaction(ops))
                    self._publish_records(other, ops, applied)
                    stored.append(realtime.fingerprint(other))

                applied = applier.apply(batch, alongside=publish_records)
                self._publish_outcomes(con, ops, applied, applied.outcomes, stored[0])
        except Exception:
            if len(batch) == 1:
                # A call that cannot apply must not hold up the ones behind it.
                logger.exception("instance %s: ingest %d could not be applied",
                                 self.instance.name, batch[0].id)
                with analytics.transaction(con):
                    con.execute("UPDATE api_ingest_state SET applied_through = ?",
                                [batch[0].id])
                with operational.transaction(ops):
                    self._publish_outcomes(con, ops, None, {batch[0].id: {
                        "failed": True, "reason": "the call could not be applied; see the "
                                                  "server log"}})
                return
            for entry in batch:
                self._apply(con, ops, applier, [entry])

    def _publish_records(self, con: duckdb.DuckDBPyConnection, ops: sqlite3.Connection,
                         applied: Applied) -> None:
        store_scoped = self.instance.settings.files.store_scoped_customer_ids
        realtime.publish_profiles(con, ops, self.rules, applied.touched, applied.removed)
        realtime.publish_orders(con, ops, applied.orders, store_scoped)
        if applied.events:
            first = min(applied.outcomes)
            realtime.publish_events(con, ops, (first, applied.applied_through))

    def _publish_outcomes(self, con: duckdb.DuckDBPyConnection, ops: sqlite3.Connection,
                          applied: Applied | None, outcomes: dict[int, dict[str, Any]],
                          stored: str | None = None) -> None:
        """In the operational transaction the caller holds: the recomputed indicators, if any,
        and the calls' outcomes; the serving copy now matches the store (`stored`, its
        fingerprint, when the caller already took it)."""
        if applied is not None:
            realtime.publish_indicators(con, ops, applied.run_id)
        log.mark_applied(ops, outcomes)
        realtime.mark_synced(ops, stored or realtime.fingerprint(con))

    def _erase(self, con: duckdb.DuckDBPyConnection, ops: sqlite3.Connection,
               entry: log.Entry) -> None:
        outcome: dict[str, Any]
        try:
            client_id = resolve_client(con, int(entry.payload["client_id"]))
            erasure = forget(con, self.instance.settings, client_id)
            outcome = {"erased": erasure.client_id, "identifiers": erasure.identifiers,
                       "customer_rows": erasure.customer_rows, "orders": erasure.orders}
        except IdentityError as error:
            outcome = {"erased": None, "reason": str(error)}
        with analytics.transaction(con):
            con.execute("UPDATE api_ingest_state SET applied_through = ?", [entry.id])
        with operational.transaction(ops):
            if outcome.get("erased") is not None:
                realtime.unpublish_profile(ops, int(outcome["erased"]))
            log.mark_applied(ops, {entry.id: outcome})
            realtime.mark_synced(ops, realtime.fingerprint(con))
