"""Store migrations: created at the latest version, reopened as is, newer refused, older
upgraded."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from clientela.config import Instance
from clientela.stores import analytics, ingest, operational
from clientela.stores.analytics import StoreBusyError
from clientela.stores.migrations import Migration, StoreVersionError, migrations_for

DATA_TABLES = {"customers", "orders", "order_lines", "order_line_categories", "import_days",
               "import_files", "import_rejects", "replaced_rows", "schema_migrations"}
IDENTITY_TABLES = {"identifiers", "identity_members", "identity_links", "identity_forbidden",
                   "identity_conflicts", "identity_reviews", "profiles", "profile_aliases",
                   "profile_history", "tag_events", "consent_events", "attribute_definitions",
                   "tombstones", "phone_spellings", "identity_state"}
INDICATOR_TABLES = {"order_versions", "indicator_runs", "rfm_cut_points"}
EVENT_TABLES = {"events", "api_ingest_state"}
ANALYTICS = [(1, "initial"), (2, "identity"), (3, "indicators"), (4, "events"),
             (5, "order_keys")]
OPERATIONAL = [(1, "initial"), (2, "serving"), (3, "api"), (4, "daily"), (5, "import_days"),
               (6, "ingest_log_moved"), (7, "serving_orders_by_key")]
INGEST = [(1, "log"), (2, "order_status_call")]
LATEST = len(ANALYTICS)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sqlite(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_each_store_has_its_migrations_in_order() -> None:
    assert [(m.version, m.name) for m in migrations_for("analytics")] == ANALYTICS
    assert [(m.version, m.name) for m in migrations_for("operational")] == OPERATIONAL
    assert [(m.version, m.name) for m in migrations_for("ingest")] == INGEST
    for store in ("analytics", "operational", "ingest"):
        assert all(re.search(r"^(CREATE|ALTER) TABLE", m.sql, re.MULTILINE)
                   for m in migrations_for(store))


def test_new_analytics_store_is_at_the_latest_version(instance: Instance) -> None:
    con = analytics.connect(instance)
    try:
        assert analytics.schema_version(con) == LATEST
        assert con.execute("SELECT version, name FROM schema_migrations ORDER BY 1").fetchall(
            ) == ANALYTICS
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert tables == DATA_TABLES | IDENTITY_TABLES | INDICATOR_TABLES | EVENT_TABLES
        assert con.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
    finally:
        con.close()


def test_new_operational_store_is_at_the_latest_version(instance: Instance) -> None:
    operational.connect(instance).close()

    path = instance.operational_path
    assert _sqlite(path, "PRAGMA user_version") == [(len(OPERATIONAL),)]
    assert _sqlite(path, "SELECT version, name FROM schema_migrations") == OPERATIONAL
    assert _sqlite(path, "PRAGMA journal_mode") == [("wal",)]
    tables = {name for (name,) in _sqlite(path, "SELECT name FROM sqlite_master")}
    assert {"import_runs", "serving_runs", "serving_profiles"} <= tables


def test_reopening_is_a_no_op(instance: Instance) -> None:
    con = analytics.connect(instance)
    con.execute("INSERT INTO import_days VALUES ('2025-01-01', 'skipped', now(), 'kept')")
    applied = con.execute("SELECT * FROM schema_migrations").fetchall()
    con.close()
    ops = operational.connect(instance)
    ops.execute("INSERT INTO import_runs (started_at, outcome) VALUES ('x', 'succeeded')")
    ops_applied = ops.execute("SELECT * FROM schema_migrations").fetchall()
    ops.close()

    for _ in range(2):
        analytics.connect(instance).close()
        operational.connect(instance).close()

    con = analytics.connect(instance)
    try:
        assert con.execute("SELECT * FROM schema_migrations").fetchall() == applied
        assert con.execute("SELECT note FROM import_days").fetchall() == [("kept",)]
    finally:
        con.close()
    ops = operational.connect(instance)
    try:
        assert ops.execute("SELECT * FROM schema_migrations").fetchall() == ops_applied
        assert ops.execute("SELECT count(*) FROM import_runs").fetchall() == [(1,)]
    finally:
        ops.close()


def test_newer_analytics_store_is_refused_and_left_untouched(instance: Instance) -> None:
    con = analytics.connect(instance)
    con.execute(f"INSERT INTO schema_migrations VALUES ({LATEST + 1}, 'from_the_future', now())")
    con.close()
    before = _digest(instance.analytics_path)

    with pytest.raises(StoreVersionError) as caught:
        analytics.connect(instance)
    with pytest.raises(StoreVersionError):
        analytics.connect(instance, read_only=True)

    assert str(caught.value) == (
        f"{instance.analytics_path} has analytics schema version {LATEST + 1}, but this "
        f"Clientela knows versions up to {LATEST}: it was written by a newer Clientela. "
        "Upgrade Clientela; the store was left untouched.")
    assert _digest(instance.analytics_path) == before
    assert not instance.analytics_path.with_name("analytics.duckdb.wal").exists()


def test_newer_operational_store_is_refused_and_left_untouched(instance: Instance) -> None:
    operational.connect(instance).close()
    con = sqlite3.connect(instance.operational_path)
    newer = len(OPERATIONAL) + 1
    con.execute(f"PRAGMA user_version = {newer}")
    con.close()
    before = _digest(instance.operational_path)

    with pytest.raises(StoreVersionError) as caught:
        operational.connect(instance)

    assert str(caught.value) == (
        f"{instance.operational_path} has operational schema version {newer}, but this Clientela "
        f"knows versions up to {len(OPERATIONAL)}: it was written by a newer Clientela. "
        "Upgrade Clientela; the store was left untouched.")
    assert _digest(instance.operational_path) == before
    assert _sqlite(instance.operational_path, "SELECT count(*) FROM schema_migrations") == [
        (len(OPERATIONAL),)]


def _with_next(store: str, sql: str) -> list[Migration]:
    known = migrations_for(store)
    return [*known, Migration(len(known) + 1, "loyalty", sql)]


def test_version_1_store_gets_the_identity_tables_keeping_its_data(
        instance: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analytics, "migrations_for", lambda store: migrations_for(store)[:1])
    con = analytics.connect(instance)  # as the first Clientela left it
    con.execute("INSERT INTO import_days VALUES ('2025-01-01', 'loaded', now(), 'old data')")
    con.close()
    monkeypatch.undo()

    con = analytics.connect(instance)
    try:
        assert analytics.schema_version(con) == LATEST
        assert con.execute("SELECT note FROM import_days").fetchall() == [("old data",)]
        assert con.execute("SELECT last_client_id FROM identity_state").fetchall() == [(0,)]
    finally:
        con.close()


def test_version_4_store_gets_order_keys_tying_lines_to_their_orders(
        instance: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analytics, "migrations_for", lambda store: migrations_for(store)[:4])
    con = analytics.connect(instance)
    provenance = "1, '2026-01-0{day}', 'f', 1, now()"
    for store, number, day in (("S01", "1", 1), ("S02", "1", 1), ("S01", "2", 2)):
        con.execute(f"INSERT INTO orders VALUES ('{store}', '{number}', 'u', now(), "
                    f"'2026-01-0{day}', 1, 1, 10, 10, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, "
                    f"NULL, NULL, NULL, NULL, 'placed', 'CLP', NULL, {provenance.format(day=day)})")
        for line in (1, 2):
            con.execute(f"INSERT INTO order_lines VALUES ('{store}', '{number}', {line}, 1, "
                        f"'SKU', NULL, NULL, NULL, 10, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
                        f"{provenance.format(day=day)})")
            con.execute(f"INSERT INTO order_line_categories VALUES ('{store}', '{number}', "
                        f"{line}, 'Shoes', NULL, {provenance.format(day=day)})")
    con.execute("INSERT INTO order_versions SELECT *, DATE '2026-01-02' FROM orders "
                "WHERE store_code = 'S02'")
    con.close()
    monkeypatch.undo()

    con = analytics.connect(instance)
    try:
        keys = dict(con.execute("SELECT store_code || '/' || order_number, order_key "
                                "FROM orders").fetchall())
        assert sorted(keys.values()) == [1, 2, 3]
        for table in ("order_lines", "order_line_categories", "order_versions"):
            assert con.execute(
                f"SELECT count(*) FROM {table} t JOIN orders o USING (store_code, order_number) "
                "WHERE t.order_key IS DISTINCT FROM o.order_key").fetchall() == [(0,)], table
        assert con.execute("SELECT order_key FROM order_versions").fetchall() == [
            (keys["S02/1"],)]
    finally:
        con.close()


def test_older_analytics_store_is_upgraded_in_place(
        instance: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    con = analytics.connect(instance)  # the latest version, older than the patched one
    con.execute("INSERT INTO import_days VALUES ('2025-01-01', 'loaded', now(), 'old data')")
    con.close()
    monkeypatch.setattr(analytics, "migrations_for", lambda store: _with_next(store, """
        ALTER TABLE customers ADD COLUMN loyalty_tier VARCHAR;
        CREATE TABLE loyalty_events (user_id VARCHAR NOT NULL, points INTEGER NOT NULL);
    """))

    con = analytics.connect(instance)
    try:
        assert analytics.schema_version(con) == LATEST + 1
        assert con.execute("SELECT version, name FROM schema_migrations ORDER BY 1").fetchall(
            ) == [*ANALYTICS, (LATEST + 1, "loyalty")]
        assert con.execute("SELECT note FROM import_days").fetchall() == [("old data",)]
        columns = [r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'customers'").fetchall()]
        assert columns[-1] == "loyalty_tier"
        assert con.execute("SELECT count(*) FROM loyalty_events").fetchall() == [(0,)]
    finally:
        con.close()
    # And then reopening it is a no-op.
    analytics.connect(instance).close()
    con = analytics.connect(instance)
    assert con.execute("SELECT count(*) FROM schema_migrations").fetchall() == [(LATEST + 1,)]
    con.close()


def test_failing_analytics_migration_rolls_back(
        instance: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    analytics.connect(instance).close()
    monkeypatch.setattr(analytics, "migrations_for", lambda store: _with_next(store, """
        CREATE TABLE half_done (x INTEGER);
        SELECT * FROM no_such_table;
    """))

    with pytest.raises(Exception, match="no_such_table"):
        analytics.connect(instance)

    monkeypatch.undo()
    con = analytics.connect(instance)
    try:
        assert analytics.schema_version(con) == LATEST
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = "
                           "'half_done'").fetchall() == [(0,)]
    finally:
        con.close()


def test_older_operational_store_is_upgraded_in_place(
        instance: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    ops = operational.connect(instance)
    ops.execute("INSERT INTO import_runs (started_at, outcome) VALUES ('2025-01-01', 'succeeded')")
    ops.close()
    monkeypatch.setattr(operational, "migrations_for", lambda store: _with_next(store, """
        -- a comment line
        ALTER TABLE import_runs ADD COLUMN host TEXT;
        CREATE TABLE loyalty_cards (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    """))

    ops = operational.connect(instance)
    try:
        assert ops.execute("PRAGMA user_version").fetchall() == [(len(OPERATIONAL) + 1,)]
        assert ops.execute("SELECT version, name FROM schema_migrations ORDER BY 1").fetchall(
            ) == [*OPERATIONAL, (len(OPERATIONAL) + 1, "loyalty")]
        assert ops.execute("SELECT started_at, outcome, host FROM import_runs").fetchall() == [
            ("2025-01-01", "succeeded", None)]
        assert ops.execute("SELECT count(*) FROM loyalty_cards").fetchall() == [(0,)]
    finally:
        ops.close()


def test_analytics_store_open_in_another_process_is_busy(instance: Instance) -> None:
    analytics.connect(instance).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, duckdb
            con = duckdb.connect({str(instance.analytics_path)!r})
            print("open", flush=True)
            sys.stdin.read()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        with pytest.raises(StoreBusyError) as caught:
            analytics.connect(instance)
        assert str(caught.value) == (
            f"{instance.analytics_path} is in use by another Clientela process (one process "
            "owns the analytics store); stop it or wait for it to finish")
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


def test_version_6_serving_orders_are_dropped_for_a_rebuild_by_key(
        instance: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(operational, "migrations_for", lambda store: migrations_for(store)[:6])
    ops = operational.connect(instance)
    ops.execute("INSERT INTO serving_orders VALUES ('WEB', 'A1', '', 'u1', "
                "'2026-12-01T10:00:00Z', '2026-12-01', 'placed', '{}')")
    ops.execute("INSERT INTO serving_state VALUES ('analytics', 'fingerprint')")
    ops.close()
    monkeypatch.undo()

    ops = operational.connect(instance)
    try:
        columns = [r[1] for r in ops.execute("PRAGMA table_info(serving_orders)")]
        assert columns[0] == "order_key" and "document" not in columns
        assert ops.execute("SELECT count(*) FROM serving_orders").fetchall() == [(0,)]
        # No fingerprint: the API's worker rebuilds the serving copy at its next start.
        assert ops.execute("SELECT count(*) FROM serving_state").fetchall() == [(0,)]
        ops.execute("INSERT INTO serving_orders VALUES (7, 'WEB', 'A1', '', 'u1', "
                    "'2026-12-01T10:00:00Z', '2026-12-01', 'placed')")
        with pytest.raises(sqlite3.IntegrityError):
            ops.execute("INSERT INTO serving_orders VALUES (8, 'WEB', 'A1', '', 'u1', "
                        "'2026-12-01T10:00:00Z', '2026-12-01', 'placed')")
    finally:
        ops.close()


def _version_5_log(instance: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """An operational store as Clientela left it when the ingest log lived there: calls 1 and 2
    kept, call 3 handed out and already deleted by the retention."""
    monkeypatch.setattr(operational, "migrations_for", lambda store: migrations_for(store)[:5])
    ops = operational.connect(instance)
    ops.execute("INSERT INTO api_keys VALUES (1, 'h', 'clk_', 'write', 'shop', 'x', NULL)")
    ops.executemany("INSERT INTO ingest_log (id, received_at, key_id, kind, records, payload, "
                    "state) VALUES (?, '2026-12-01', 1, 'orders', 1, '{}', ?)",
                    [(1, "applied"), (2, "pending"), (3, "applied")])
    ops.execute("DELETE FROM ingest_log WHERE id = 3")
    ops.execute("INSERT INTO api_order_status VALUES ('WEB', 'A1', 'fulfilled')")
    ops.close()
    monkeypatch.undo()


def _log_rows(con: sqlite3.Connection) -> list[tuple[object, ...]]:
    return con.execute("SELECT id, kind, records FROM ingest_log ORDER BY id").fetchall()


def test_the_ingest_log_of_an_older_store_moves_to_its_own_file(
        instance: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    _version_5_log(instance, monkeypatch)

    con = ingest.connect(instance)
    try:
        assert _log_rows(con) == [(1, "orders", 1), (2, "orders", 1)]
        # Counted as set by the last call kept: deleted once every call moved is applied.
        assert con.execute("SELECT * FROM api_order_status").fetchall() == [
            ("WEB", "A1", "fulfilled", 2)]
        new_id = con.execute("INSERT INTO ingest_log (received_at, key_id, kind, records, "
                             "payload) VALUES ('2026-12-06', 1, 'orders', 1, '{}')").lastrowid
        assert new_id == 4  # never 3 again: the analytics store counts applied calls by id
        assert con.execute("PRAGMA user_version").fetchall() == [(len(INGEST),)]
    finally:
        con.close()
    ops = operational.connect(instance)
    try:
        assert ops.execute("PRAGMA user_version").fetchall() == [(len(OPERATIONAL),)]
        assert ops.execute("SELECT ingest_id, state FROM api_outcomes").fetchall() == [
            (1, "applied")]  # call 2 still pending: the worker applies it next
        assert ops.execute("SELECT name FROM sqlite_master WHERE name LIKE '%ingest_log%' OR "
                           "name LIKE '%order_status%'").fetchall() == []
    finally:
        ops.close()


def test_an_ingest_log_of_version_1_keeps_its_statuses_until_every_call_logged_is_applied(
        instance: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(operational, "migrations_for", lambda store: migrations_for(store)[:1])
    con = operational.open_sqlite(instance.ingest_log_path, ingest.STORE)
    con.executemany("INSERT INTO ingest_log (received_at, key_id, kind, records, payload) "
                    "VALUES ('2026-12-01', 1, 'order_status', 1, '{}')", [()] * 3)
    con.execute("INSERT INTO api_order_status VALUES ('WEB', 'A1', 'sent')")
    con.close()
    monkeypatch.undo()

    con = ingest.connect(instance)
    try:
        assert con.execute("PRAGMA user_version").fetchall() == [(len(INGEST),)]
        assert con.execute("SELECT * FROM api_order_status").fetchall() == [
            ("WEB", "A1", "sent", 3)]
    finally:
        con.close()


def test_a_move_cut_before_the_old_tables_were_dropped_copies_nothing_twice(
        instance: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    _version_5_log(instance, monkeypatch)
    operational.connect(instance).close()  # renamed aside, as before the copy
    con = operational.open_sqlite(instance.ingest_log_path, ingest.STORE)
    con.execute("INSERT INTO ingest_log (id, received_at, key_id, kind, records, payload) "
                "VALUES (1, '2026-12-01', 1, 'orders', 1, '{}')")
    con.close()

    con = ingest.connect(instance)
    try:
        assert _log_rows(con) == [(1, "orders", 1), (2, "orders", 1)]
    finally:
        con.close()
