"""The ingest log: every accepted write, committed to the ingest log store before it is
acknowledged, and applied later, in id order, by the worker that owns the analytics store.

Appends go through one writer thread per process that commits whatever calls are waiting in one
transaction (group commit): each call still gets its answer only after the commit that holds it,
but one `fsync` serves many calls (`stores.ingest` says why the log has a file of its own).
"""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from clientela.config import Instance
from clientela.config.settings import OrdersSection
from clientela.stores import ingest, operational

GROUP_COMMIT_MAX = 500
"""Calls committed together at most."""


class IdempotencyConflictError(Exception):
    """An Idempotency-Key reused with another request."""


class UnknownOrderError(Exception):
    """A status change for an order Clientela does not know."""


class TransitionError(Exception):
    """A status change the order pipeline does not allow."""


@dataclass(frozen=True)
class StatusCheck:
    """An order's status as this call leaves it; `change` asks for the pipeline's check."""

    store_code: str
    order_number: str
    status: str
    change: bool


@dataclass
class Append:
    key_id: int
    kind: str
    payload: str
    """The call as JSON, as the worker will read it: encoded by the endpoint, which can do it
    straight from its models (`encode_records`)."""
    records: int
    idempotency_key: str | None = None
    request_hash: str | None = None
    statuses: list[StatusCheck] = field(default_factory=list)


@dataclass(frozen=True)
class Logged:
    ingest_id: int
    state: str
    records: int
    replayed: bool
    outcome: dict[str, Any] | None


@dataclass(frozen=True)
class Entry:
    id: int
    kind: str
    payload: dict[str, Any]
    records: int
    received_at: datetime


def lookup(con: sqlite3.Connection, serving: sqlite3.Connection, ingest_id: int
           ) -> Logged | None:
    row = con.execute("SELECT id, records FROM ingest_log WHERE id = ?", (ingest_id,)).fetchone()
    return None if row is None else _status(serving, int(row[0]), int(row[1]))


def _status(serving: sqlite3.Connection, ingest_id: int, records: int) -> Logged:
    """Pending until the worker has published what the call did."""
    row = serving.execute("SELECT state, outcome FROM api_outcomes WHERE ingest_id = ?",
                          (ingest_id,)).fetchone()
    if row is None:
        return Logged(ingest_id, "pending", records, True, None)
    return Logged(ingest_id, str(row[0]), records, True, json.loads(row[1]))


def _append_one(con: sqlite3.Connection, serving: sqlite3.Connection, item: Append,
                orders: OrdersSection, now: str) -> Logged:
    if item.idempotency_key is not None:
        row = con.execute("SELECT id, records, request_hash FROM ingest_log "
                          "WHERE key_id = ? AND idempotency_key = ?",
                          (item.key_id, item.idempotency_key)).fetchone()
        if row is not None:
            if row[2] != item.request_hash:
                raise IdempotencyConflictError(
                    f"Idempotency-Key {item.idempotency_key!r} was used for another request "
                    f"(ingest id {row[0]}); use a new key for a new request")
            return _status(serving, int(row[0]), int(row[1]))
    for check in item.statuses:
        if check.change:
            _check_transition(con, serving, check, orders)
    ingest_id = con.execute(
        "INSERT INTO ingest_log (received_at, key_id, kind, records, payload, idempotency_key, "
        "request_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (now, item.key_id, item.kind, item.records, item.payload, item.idempotency_key,
         item.request_hash)).lastrowid
    assert ingest_id is not None
    con.executemany("INSERT OR REPLACE INTO api_order_status VALUES (?, ?, ?, ?)",
                    [(c.store_code, c.order_number, c.status, ingest_id)
                     for c in item.statuses])
    return Logged(ingest_id, "pending", item.records, False, None)


def _check_transition(con: sqlite3.Connection, serving: sqlite3.Connection, check: StatusCheck,
                      orders: OrdersSection) -> None:
    """Against the status the API last acknowledged, else the one served from the files."""
    key = (check.store_code, check.order_number)
    row = con.execute("SELECT status FROM api_order_status WHERE store_code = ? AND "
                      "order_number = ?", key).fetchone() or serving.execute(
        "SELECT status FROM serving_orders WHERE store_code = ? AND order_number = ?",
        key).fetchone()
    if row is None:
        raise UnknownOrderError(f"no order {check.order_number!r} of store {check.store_code!r}")
    if not orders.may_move(str(row[0]), check.status):
        allowed = orders.transitions.get(str(row[0]), [])
        raise TransitionError(
            f"order {check.order_number!r} of store {check.store_code!r} is {row[0]!r}; it "
            f"cannot become {check.status!r} (from {row[0]!r} the pipeline allows "
            f"{', '.join(allowed) or 'nothing: it is final'})")


def encode_records(records: TypeAdapter[list[Any]], validated: list[Any], *,
                   exclude_none: bool = False, exclude_unset: bool = False) -> str:
    """The payload `{"records": [...]}` of validated models, encoded by pydantic in one pass
    (a model_dump and a json.dumps of each record took 12-18 us an order, this 3)."""
    encoded = records.dump_json(validated, exclude_none=exclude_none, exclude_unset=exclude_unset)
    return '{"records":' + encoded.decode() + "}"


def encode(payload: dict[str, Any]) -> str:
    """The payload of a call that is not a list of records."""
    return json.dumps(payload, separators=(",", ":"))


Waiting = tuple[Append, asyncio.AbstractEventLoop, "asyncio.Future[Logged]"]


class AppliedSignal:
    """Wakes the requests of this process that wait for their call to be applied
    (`?wait=true`) each time the worker marks calls applied. API processes apart from the
    worker (`--api-workers N`) have none and poll the outcome instead."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def waiter(self) -> asyncio.Future[None]:
        """Done at the next `notify`: asked for before looking at the outcome, so that no
        notice falls between the two."""
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        with self.lock:
            self.waiting.append((loop, woken))
        return woken

    def notify(self) -> None:
        with self.lock:
            waiting, self.waiting = self.waiting, []
        for loop, woken in waiting:
            with suppress(RuntimeError):  # a closed loop has no caller left to wake
                loop.call_soon_threadsafe(_wake, woken)


def _wake(woken: asyncio.Future[None]) -> None:
    if not woken.done():
        woken.set_result(None)


class Appender:
    """The process's one writer of the ingest log (group commit). `on_commit`, when given,
    runs after each commit: the worker in the same process starts on the calls at once
    rather than at its next poll."""

    def __init__(self, instance: Instance, on_commit: Callable[[], None] | None = None) -> None:
        self.instance = instance
        self.on_commit = on_commit
        self.orders = instance.settings.orders
        self.queue: queue.Queue[Waiting | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name=f"clientela-log-{instance.name}",
                                       daemon=True)
        self.thread.start()

    async def append(self, item: Append) -> Logged:
        """`item`, once committed to the log (or the refusal of it)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Logged] = loop.create_future()
        self.queue.put((item, loop, done))
        return await done

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()

    def _run(self) -> None:
        con = ingest.connect(self.instance)
        # The write lock is waited for by `_begin`, not by SQLite's busy handler.
        con.execute("PRAGMA busy_timeout = 0")
        serving = operational.connect(self.instance)
        try:
            while True:
                first = self.queue.get()
                if first is None:
                    return
                waiting = [first]
                while len(waiting) < GROUP_COMMIT_MAX:
                    try:
                        more = self.queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self.queue.put(None)
                        break
                    waiting.append(more)
                self._commit(con, serving, waiting)
        finally:
            serving.close()
            con.close()

    def _commit(self, con: sqlite3.Connection, serving: sqlite3.Connection,
                waiting: list[Waiting]) -> None:
        results: list[Logged | Exception] = []
        now = datetime.now(UTC).isoformat()
        try:
            _begin(con)
            for item, _, _ in waiting:
                con.execute("SAVEPOINT call")
                try:
                    results.append(_append_one(con, serving, item, self.orders, now))
                    con.execute("RELEASE call")
                except (IdempotencyConflictError, UnknownOrderError, TransitionError) as refused:
                    con.execute("ROLLBACK TO call")
                    con.execute("RELEASE call")
                    results.append(refused)
            con.execute("COMMIT")
        except BaseException as error:
            if con.in_transaction:
                con.execute("ROLLBACK")
            stopped = error if isinstance(error, Exception) else RuntimeError(
                "the ingest log writer stopped")
            _settle(waiting, [stopped] * len(waiting))
            if not isinstance(error, Exception):
                raise
            return
        if self.on_commit is not None:
            self.on_commit()
        _settle(waiting, results)


LOCK_RETRY_SECONDS = 0.0002
LOCK_WAIT_SECONDS = 30.0


def _begin(con: sqlite3.Connection) -> None:
    """Take the log's write lock, trying again every 0.2 ms while another writer holds it (the
    group commit of another API process, the worker's housekeeping). SQLite's own busy
    handler sleeps 1, 2, 5, 10, 15, 20, 25... ms between tries, so that two API processes
    committing in turn each waited milliseconds for a lock held for a fraction of one."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            con.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            busy = error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() > deadline:
                raise
        time.sleep(LOCK_RETRY_SECONDS)


def _settle(waiting: list[Waiting], results: list[Logged | Exception]) -> None:
    """Hand each caller its result: one wake-up of each event loop for the whole group, not
    one per call (at thousands of calls a second, the wake-ups were a third of the loop's
    time)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Logged],
                                                        Logged | Exception]]] = {}
    for (_, loop, done), result in zip(waiting, results, strict=True):
        by_loop.setdefault(loop, []).append((done, result))
    for loop, settled in by_loop.items():
        with suppress(RuntimeError):  # a loop already closed has no caller left to answer
            loop.call_soon_threadsafe(_set_results, settled)


def _set_results(settled: list[tuple[asyncio.Future[Logged], Logged | Exception]]) -> None:
    for done, result in settled:
        if done.cancelled():
            continue
        if isinstance(result, Exception):
            done.set_exception(result)
        else:
            done.set_result(result)


def pending(con: sqlite3.Connection, after: int, limit_records: int) -> list[Entry]:
    """Calls after id `after` (the worker's `applied_through`), in id order, up to about
    `limit_records` records."""
    entries: list[Entry] = []
    total = 0
    for row in con.execute("SELECT id, kind, payload, records, received_at FROM ingest_log "
                           "WHERE id > ? ORDER BY id LIMIT 5000", (after,)):
        if entries and total + int(row[3]) > limit_records:
            break
        entries.append(Entry(int(row[0]), str(row[1]), json.loads(row[2]), int(row[3]),
                             datetime.fromisoformat(row[4])))
        total += int(row[3])
    return entries


def mark_applied(ops: sqlite3.Connection, outcomes: dict[int, dict[str, Any]]) -> None:
    """In the operational store, inside the transaction that publishes what the calls did."""
    now = datetime.now(UTC).isoformat()
    ops.executemany(
        "INSERT OR REPLACE INTO api_outcomes VALUES (?, ?, ?, ?)",
        [(ingest_id, "failed" if outcome.get("failed") else "applied", now,
          json.dumps(outcome, default=str)) for ingest_id, outcome in outcomes.items()])


def unmarked(con: sqlite3.Connection, ops: sqlite3.Connection, through: int) -> list[int]:
    """Calls applied (up to `through`) whose outcome a crash kept from being recorded: the
    ones after the last recorded, since calls are applied and recorded in id order."""
    (last,) = ops.execute("SELECT coalesce(max(ingest_id), 0) FROM api_outcomes").fetchone()
    return [int(row[0]) for row in con.execute(
        "SELECT id FROM ingest_log WHERE id > ? AND id <= ? ORDER BY id", (last, through))]


FORGET_CHUNK = 5_000
"""Rows cleared or deleted per statement: each is a transaction of its own, so that the API's
group commits, which need the log's write lock to acknowledge calls, never wait long for it."""


def forget_old(con: sqlite3.Connection, ops: sqlite3.Connection, through: int,
               idempotency: timedelta, retention: timedelta,
               clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
    """Idempotency keys past their time are cleared; applied calls past retention deleted,
    with their outcomes; the order statuses of applied calls deleted.

    Ids follow arrival, so the calls older than a moment are those before one id: the work
    reads only the rows it changes (the keyed ones through their index), not the whole log."""
    now = clock()
    keys_before = _first_received_since(con, (now - idempotency).isoformat())
    _in_chunks(con, "UPDATE ingest_log SET idempotency_key = NULL WHERE id IN (SELECT id FROM "
                    "ingest_log INDEXED BY ingest_log_idempotency WHERE idempotency_key IS NOT "
                    "NULL AND id < ? LIMIT ?)", keys_before)
    calls_before = min(through + 1, _first_received_since(con, (now - retention).isoformat()))
    _in_chunks(con, "DELETE FROM ingest_log WHERE id IN (SELECT id FROM ingest_log WHERE id < ? "
                    "ORDER BY id LIMIT ?)", calls_before)
    # An outcome goes with its call: read through the call only, it is of no use after it.
    ops.execute("DELETE FROM api_outcomes WHERE ingest_id < ?", (calls_before,))
    # Once its call is applied, the serving copy holds an order's status (and any later change
    # the daily files made to it). Only the calls not yet applied keep rows: the table is small,
    # and a scan of it is cheaper than an index every acknowledgement would write to.
    _in_chunks(con, "DELETE FROM api_order_status WHERE (store_code, order_number) IN (SELECT "
                    "store_code, order_number FROM api_order_status WHERE ingest_id < ? "
                    "LIMIT ?)", through + 1)


def _in_chunks(con: sqlite3.Connection, statement: str, before: int) -> None:
    """`statement` (`before` and a limit as parameters) until it changes fewer rows than that."""
    while con.execute(statement, (before, FORGET_CHUNK)).rowcount == FORGET_CHUNK:
        pass


def _first_received_since(con: sqlite3.Connection, moment: str) -> int:
    """The first id received at `moment` or later (one past the last when none): a binary
    search over ids, a few lookups whatever the log's size."""
    # Two subqueries: SQLite reads min() or max() off the key only when it is alone.
    low, high = con.execute("SELECT coalesce((SELECT min(id) FROM ingest_log), 1), "
                            "coalesce((SELECT max(id) FROM ingest_log), 0) + 1").fetchone()
    while low < high:
        middle = (low + high) // 2
        row = con.execute("SELECT id, received_at FROM ingest_log WHERE id >= ? ORDER BY id "
                          "LIMIT 1", (middle,)).fetchone()
        if row is None or row[1] >= moment:
            high = middle
        else:
            low = int(row[0]) + 1
    return int(low)
