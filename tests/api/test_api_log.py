"""The ingest log's housekeeping and crash recovery, on the stores themselves."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from clientela.api import log
from clientela.config import Instance
from clientela.stores import ingest, operational

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
def stores(instance: Instance) -> Iterator[tuple[sqlite3.Connection, sqlite3.Connection]]:
    con, ops = ingest.connect(instance), operational.connect(instance)
    yield con, ops
    con.close()
    ops.close()


def _log(con: sqlite3.Connection, received: datetime, idempotency_key: str) -> None:
    con.execute("INSERT INTO ingest_log (received_at, key_id, kind, records, payload, "
                "idempotency_key) VALUES (?, 1, 'orders', 1, '{}', ?)",
                (received.isoformat(), idempotency_key))


def _outcome(ops: sqlite3.Connection, ingest_id: int, applied: datetime) -> None:
    ops.execute("INSERT INTO api_outcomes VALUES (?, 'applied', ?, '{}')",
                (ingest_id, applied.isoformat()))


def test_old_calls_are_forgotten_once_applied_and_keys_once_expired(
        stores: tuple[sqlite3.Connection, sqlite3.Connection]) -> None:
    con, ops = stores
    _log(con, NOW - timedelta(days=10), "a")  # applied long ago
    _log(con, NOW - timedelta(days=10), "b")  # as old, but the worker has not applied it
    _log(con, NOW - timedelta(hours=2), "c")
    _log(con, NOW - timedelta(minutes=5), "d")
    _outcome(ops, 1, NOW - timedelta(days=10))

    log.forget_old(con, ops, 1, timedelta(hours=1), timedelta(days=7), clock=lambda: NOW)

    assert con.execute("SELECT id, idempotency_key FROM ingest_log ORDER BY id").fetchall() == [
        (2, None), (3, None), (4, "d")]
    assert ops.execute("SELECT count(*) FROM api_outcomes").fetchone() == (0,)


def test_forgetting_goes_in_chunks_and_stops_at_the_first_recent_call(
        stores: tuple[sqlite3.Connection, sqlite3.Connection],
        monkeypatch: pytest.MonkeyPatch) -> None:
    con, ops = stores
    monkeypatch.setattr(log, "FORGET_CHUNK", 2)
    ages = [timedelta(days=9), timedelta(days=8), timedelta(days=8), timedelta(days=3),
            timedelta(hours=3), timedelta(hours=2), timedelta(minutes=1)]
    for number, age in enumerate(ages):
        _log(con, NOW - age, f"k{number}")
    for ingest_id, age in enumerate(ages[:6], start=1):
        _outcome(ops, ingest_id, NOW - age)

    log.forget_old(con, ops, 6, timedelta(hours=1), timedelta(days=7), clock=lambda: NOW)

    assert con.execute("SELECT id, idempotency_key FROM ingest_log ORDER BY id").fetchall() == [
        (4, None), (5, None), (6, None), (7, "k6")]
    assert ops.execute("SELECT ingest_id FROM api_outcomes ORDER BY 1").fetchall() == [
        (4,), (5,), (6,)]


def test_calls_applied_without_an_outcome_are_the_ones_after_the_last_recorded(
        stores: tuple[sqlite3.Connection, sqlite3.Connection]) -> None:
    con, ops = stores
    for key in "abcde":
        _log(con, NOW, key)
    _outcome(ops, 1, NOW)
    _outcome(ops, 2, NOW)

    assert log.unmarked(con, ops, 4) == [3, 4]  # 5 is not applied yet
    assert log.lookup(con, ops, 2) == log.Logged(2, "applied", 1, True, {})
    assert log.lookup(con, ops, 3) == log.Logged(3, "pending", 1, True, None)
    assert log.lookup(con, ops, 9) is None


def _status_change(appender: log.Appender, status: str) -> log.Logged:
    change = log.StatusCheck("WEB", "A1", status, change=True)
    return asyncio.run(appender.append(log.Append(1, "order_status", "{}", 1,
                                                  statuses=[change])))


def test_an_order_status_is_kept_until_its_call_is_applied_then_read_from_the_serving_copy(
        instance: Instance, stores: tuple[sqlite3.Connection, sqlite3.Connection]) -> None:
    con, ops = stores
    ops.execute("INSERT INTO serving_orders VALUES (8, 'WEB', 'A1', '', 'u1', "
                "'2026-12-01T10:00:00Z', '2026-12-01', 'placed')")
    appender = log.Appender(instance)
    try:
        sent = _status_change(appender, "sent")
        assert con.execute("SELECT * FROM api_order_status").fetchall() == [
            ("WEB", "A1", "sent", sent.ingest_id)]

        log.forget_old(con, ops, sent.ingest_id - 1, timedelta(hours=1), timedelta(days=7))
        assert con.execute("SELECT count(*) FROM api_order_status").fetchone() == (1,)

        # The worker applies the call; later the daily files cancel the order.
        ops.execute("UPDATE serving_orders SET status = 'cancelled'")
        log.forget_old(con, ops, sent.ingest_id, timedelta(hours=1), timedelta(days=7))
        assert con.execute("SELECT count(*) FROM api_order_status").fetchone() == (0,)

        # From 'sent' the order could be delivered; from 'cancelled' it cannot.
        with pytest.raises(log.TransitionError, match="is 'cancelled'"):
            _status_change(appender, "delivered")
    finally:
        appender.close()


def test_statuses_are_deleted_in_chunks(
        stores: tuple[sqlite3.Connection, sqlite3.Connection],
        monkeypatch: pytest.MonkeyPatch) -> None:
    con, ops = stores
    monkeypatch.setattr(log, "FORGET_CHUNK", 2)
    con.executemany("INSERT INTO api_order_status VALUES ('WEB', ?, 'placed', ?)",
                    [(f"A{ingest_id}", ingest_id) for ingest_id in range(1, 8)])

    log.forget_old(con, ops, 5, timedelta(hours=1), timedelta(days=7), clock=lambda: NOW)

    assert con.execute("SELECT order_number, ingest_id FROM api_order_status "
                       "ORDER BY ingest_id").fetchall() == [("A6", 6), ("A7", 7)]


def test_the_log_writer_takes_the_lock_as_soon_as_another_writer_lets_go(
        instance: Instance, stores: tuple[sqlite3.Connection, sqlite3.Connection],
        monkeypatch: pytest.MonkeyPatch) -> None:
    other, _ = stores
    other.execute("BEGIN IMMEDIATE")  # another API process's group commit
    con = ingest.connect(instance)
    con.execute("PRAGMA busy_timeout = 0")
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            other.execute("COMMIT")

    monkeypatch.setattr(log.time, "sleep", wait)
    try:
        log._begin(con)
        assert con.in_transaction and waits == [log.LOCK_RETRY_SECONDS] * 3
        con.execute("ROLLBACK")

        other.execute("BEGIN IMMEDIATE")
        monkeypatch.setattr(log, "LOCK_WAIT_SECONDS", -1.0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            log._begin(con)
    finally:
        con.close()
