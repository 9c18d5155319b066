"""The worker's micro-batches, in process: which profiles a batch touches and what it rejects."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import duckdb
import pytest

from clientela.api.apply import Applied, Applier
from clientela.api.log import Entry
from clientela.config import create_instance
from clientela.identity.rules import IdentityRules
from clientela.serving import realtime
from clientela.stores import analytics, operational


@pytest.fixture
def applier(tmp_path: Path) -> Iterator[Applier]:
    instance = create_instance("shop", timezone="America/Santiago", currency="CLP",
                               home=tmp_path)
    con = analytics.connect(instance)
    try:
        yield Applier(con, instance)
    finally:
        con.close()


def _apply(applier: Applier, *calls: tuple[str, list[dict[str, Any]]]) -> Applied:
    first = applier.applied_through() + 1
    return applier.apply([Entry(first + i, kind, {"records": records}, len(records),
                                datetime.now(UTC)) for i, (kind, records) in enumerate(calls)])


def _order(number: str, user: str, amount: str = "9990") -> dict[str, Any]:
    return {"order_number": number, "store_code": "WEB", "user_id": user,
            "date": "2026-11-20T12:00:00Z", "total_items": "1", "total_products": "1",
            "total_amount": amount, "items_amount": amount, "discounts_amount": "0",
            "shipping_amount": "0", "status": "fulfilled",
            "lines": [{"line_number": 1, "quantity": "1", "item_code": "SKU-1",
                       "price": amount, "categories": ["Shoes"]}]}


def _client_of(con: duckdb.DuckDBPyConnection, kind: str, value: str) -> int:
    row = con.execute("SELECT m.client_id FROM identifiers i JOIN identity_members m "
                      "ON m.identifier = i.id WHERE i.type = ? AND i.value = ?",
                      [kind, value]).fetchone()
    assert row is not None, (kind, value)
    return int(row[0])


def test_a_batch_touches_the_profiles_its_records_name_and_no_other(applier: Applier) -> None:
    first = _apply(applier, ("customers", [{"user_id": "C1", "email": "ana@example.com"}]),
                   ("customers", [{"user_id": "C2", "email": "beto@example.com"}]))
    ana = _client_of(applier.con, "user_id", "C1")
    beto = _client_of(applier.con, "user_id", "C2")
    assert first.touched == {ana, beto}

    assert _apply(applier, ("orders", [_order("A-1", "C1")])).touched == {ana}
    # An event names its profile by any identifier, here the email.
    assert _apply(applier, ("events", [{"event": "page_view", "properties": {},
                                        "identifiers": {"email": "Beto@Example.com "}}])
                  ).touched == {beto}
    # A customer sent again unchanged stores nothing, so recomputes nothing.
    assert _apply(applier, ("customers", [{"user_id": "C1", "email": "ana@example.com"}])
                  ).touched == set()


def test_a_new_customer_id_in_an_order_makes_a_profile_of_its_own(applier: Applier) -> None:
    _apply(applier, ("customers", [{"user_id": "C1", "email": "ana@example.com"}]))
    applied = _apply(applier, ("orders", [_order("A-2", "NEW-7")]))
    assert applied.touched == {_client_of(applier.con, "user_id", "NEW-7")}
    assert _client_of(applier.con, "user_id", "NEW-7") != _client_of(applier.con, "user_id",
                                                                      "C1")


def test_reasons_are_given_only_for_records_that_do_not_load(applier: Applier) -> None:
    clean = _apply(applier, ("orders", [_order("A-3", "C9")]))
    assert all("rejected" not in outcome for outcome in clean.outcomes.values())

    bad_line = _order("A-4", "C9")
    bad_line["lines"].append({"line_number": 2, "quantity": "1", "item_code": "SKU-2",
                              "price": "1.234,56"})
    applied = _apply(applier, ("orders", [bad_line]))
    (outcome,) = applied.outcomes.values()
    assert [(r["kind"], r["field"]) for r in outcome["rejected"]] == [("order_lines", "Price")]
    # The order and its good line still load.
    assert applier.con.execute("SELECT count(*) FROM order_lines WHERE order_number = 'A-4'"
                               ).fetchone() == (1,)


LOOKUPS = {"identity_value_ids": "identifiers", "ind_selected_orders": "orders",
           "ind_selected_order_versions": "order_versions", "serving_emails": "identifiers"}
"""Statements of a micro-batch that find a few stored rows by an indexed column."""


class Explaining:
    """A connection (and its cursors) that records the executed plan of each statement making
    one of LOOKUPS."""

    def __init__(self, con: duckdb.DuckDBPyConnection, plans: dict[str, str] | None = None
                 ) -> None:
        self.con = con
        self.plans: dict[str, str] = {} if plans is None else plans

    def execute(self, sql: str, *args: Any) -> duckdb.DuckDBPyConnection:
        made = re.match(r"\s*CREATE OR REPLACE (?:TEMP )?TABLE (?:scratch\.)?(\w+) AS\s(.*)",
                        sql, re.DOTALL)
        if made and made[1] in LOOKUPS:
            self.plans[made[1]] = str(self.con.execute(f"EXPLAIN ANALYZE {made[2]}",
                                                       *args).fetchall()[0][1])
        return self.con.execute(sql, *args)

    def cursor(self) -> Explaining:
        return Explaining(self.con.cursor(), self.plans)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


def test_a_micro_batch_finds_stored_rows_through_the_lookup_indexes(tmp_path: Path) -> None:
    """A scan of every identifier or order took ~0.1 s at 1M profiles; an index
    lookup a few ms. DuckDB reads an index only when the scan's one filter is on the indexed
    column, which a change to these statements could silently undo."""
    instance = create_instance("shop", timezone="America/Santiago", currency="CLP",
                               home=tmp_path)
    explaining = Explaining(analytics.connect(instance))
    analytics.ensure_lookup_indexes(explaining.con)  # as the worker does when it starts
    con = cast(duckdb.DuckDBPyConnection, explaining)
    ops = operational.connect(instance)
    try:
        applier = Applier(con, instance)
        others = [_order(f"B-{n}", "C2") for n in range(3)]
        _apply(applier, ("customers", [{"user_id": "C1", "email": "ana@example.com"}]),
               ("orders", [_order("A-1", "C1"), *others]))
        # Superseded versions, so that order_versions is not the smaller side of its join.
        explaining.con.execute("INSERT INTO order_versions SELECT * EXCLUDE (order_key), "
                               "DATE '2026-11-21', order_key FROM orders")
        explaining.plans.clear()
        applied = _apply(applier, ("orders", [_order("A-2", "C1")]))
        with operational.transaction(ops):
            realtime.publish_profiles(con, ops, IdentityRules.of(instance.settings),
                                      applied.touched, applied.removed)
        assert set(explaining.plans) == set(LOOKUPS)
        for made, plan in explaining.plans.items():
            assert re.search(rf"Table: \S*{LOOKUPS[made]}\s.*?Type: Index Scan", plan,
                             re.DOTALL), (made, plan)
    finally:
        ops.close()
        explaining.con.close()
