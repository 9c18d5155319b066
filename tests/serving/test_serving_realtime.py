"""The serving copy the API reads: rebuilt whole in parts, it is the same as in one go."""

from __future__ import annotations

from pathlib import Path

import pytest

from clientela.config import Instance
from clientela.generate import generate_retailer
from clientela.ingest.importer import run_import
from clientela.serving import realtime
from clientela.stores import analytics, operational


def test_orders_published_in_parts_are_those_published_at_once(
        instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "files"
    generate_retailer(folder, customers=300, days=4, seed=3, instance=instance.name)
    run_import(instance, sorted(folder.glob("ICOMMKT_*")))
    con, ops = analytics.connect(instance), operational.connect(instance)
    try:
        def published() -> list[tuple[object, ...]]:
            with operational.transaction(ops):
                count = realtime.publish_orders(con, ops, None, store_scoped=True)
            rows = ops.execute("SELECT * FROM serving_orders JOIN serving_order_documents "
                               "USING (order_key) ORDER BY 1").fetchall()
            assert count == len(rows)
            return rows

        at_once = published()
        monkeypatch.setattr(realtime, "ORDERS_PER_PART", 7)
        in_parts = published()
        stored = con.execute("SELECT count(*) FROM orders").fetchone()
        indexes = ops.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                              "tbl_name = 'serving_orders' AND sql IS NOT NULL").fetchall()
    finally:
        ops.close()
        con.close()
    assert stored is not None and len(at_once) == stored[0] > 7 * 3
    assert in_parts == at_once
    # Set aside while the rows went in, and made again.
    assert sorted(indexes) == [("serving_orders_date",), ("serving_orders_number",),
                               ("serving_orders_user",)]
    # Store-scoped customer ids: the scope column repeats the store code's name.
    assert {row[3] for row in at_once} == {row[1] for row in at_once}
