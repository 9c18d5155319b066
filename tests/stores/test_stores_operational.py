"""The operational store's helpers for bulk loads."""

from __future__ import annotations

import sqlite3

import pytest

from clientela.config import Instance
from clientela.stores import operational


def _indexes(ops: sqlite3.Connection) -> list[str]:
    return sorted(r[0] for r in ops.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'serving_orders' "
        "AND sql IS NOT NULL"))


def test_indexes_set_aside_are_made_again_after_the_load(instance: Instance) -> None:
    ops = operational.connect(instance)
    try:
        with operational.transaction(ops), operational.indexes_set_aside(ops, "serving_orders"):
            assert _indexes(ops) == []
            ops.executemany("INSERT INTO serving_orders VALUES (?, 'WEB', ?, '', 'u', "
                            "'2026-12-01T10:00:00Z', '2026-12-01', 'placed')",
                            [(key, f"A{key}") for key in range(3)])
        assert _indexes(ops) == ["serving_orders_date", "serving_orders_number",
                                 "serving_orders_user"]
        plan = ops.execute("EXPLAIN QUERY PLAN SELECT * FROM serving_orders "
                           "WHERE store_code = 'WEB' AND order_number = 'A1'").fetchall()
        assert "serving_orders_number" in str(plan)
    finally:
        ops.close()


def test_a_failed_load_gives_the_indexes_back(instance: Instance) -> None:
    ops = operational.connect(instance)
    try:
        with pytest.raises(sqlite3.IntegrityError), operational.transaction(ops), \
                operational.indexes_set_aside(ops, "serving_orders"):
            ops.executemany("INSERT INTO serving_orders VALUES (?, 'WEB', 'A1', '', 'u', "
                            "'2026-12-01T10:00:00Z', '2026-12-01', 'placed')", [(1,), (1,)])
        assert _indexes(ops) == ["serving_orders_date", "serving_orders_number",
                                 "serving_orders_user"]
        assert ops.execute("SELECT count(*) FROM serving_orders").fetchall() == [(0,)]
    finally:
        ops.close()
