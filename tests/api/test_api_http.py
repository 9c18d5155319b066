"""End to end over real HTTP on loopback: a `clientela serve` process, real keys, real stores."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.api.conftest import Running, new_key, order

from clientela.api.app import KEY_RECHECK_SECONDS
from clientela.api.keys import Scope, list_keys, revoke_key
from clientela.config import Instance, create_instance
from clientela.stores import analytics, operational


@pytest.fixture
def running(home: Path, shop: Instance, serve: Callable[..., Running]) -> Running:
    return serve(home, "shop")


@pytest.fixture
def admin(shop: Instance) -> str:
    return new_key(shop, Scope.ADMIN)


def test_order_customer_and_events_make_one_profile_with_indicators(
        running: Running, admin: str) -> None:
    with running.client(admin) as api:
        assert api.post("/v1/orders?wait=true", json=order()).json()["state"] == "applied"
        customer = {"user_id": "u1", "email": " Ana@Example.com ", "first_name": "Ana",
                    "tags": ["vip"], "consents": [{"channel": "email", "granted": True,
                                                   "proof": "checkout checkbox"}]}
        assert api.post("/v1/customers?wait=true", json=customer).status_code == 202
        event = {"event": "form.submit", "occurred_at": "2026-03-14T13:00:00Z",
                 "identifiers": {"anonymous_id": "Cookie-1", "email": "ana@example.com"},
                 "properties": {"form": "newsletter"}}
        answer = api.post("/v1/events?wait=true", json={"events": [event]})
        assert answer.status_code == 202 and answer.json()["state"] == "applied"

        profile = api.get("/v1/profiles/cookie/cookie-1").json()
        same = api.get(f"/v1/profiles/client_id/{profile['client_id']}").json()
        timeline = api.get("/v1/profiles/user_id/u1/events").json()

    assert profile == same
    assert profile["email"] == "ana@example.com" and profile["recognized"] is True
    assert {(i["type"], i["value"]) for i in profile["identifiers"]} >= {
        ("user_id", "u1"), ("email", "ana@example.com"), ("cookie", "cookie-1")}
    assert profile["attributes"]["FirstName"]["value"] == "Ana"
    assert profile["tags"] == ["vip"]
    assert profile["consents"]["email"]["granted"] is True
    indicators = profile["indicators"]
    assert indicators["Total_Items"] == 3 and indicators["Total_Products"] == 2
    assert indicators["Total_Brands"] == ["Norte"]
    assert [e["event"] for e in timeline["events"]] == ["form.submit"]
    assert timeline["events"][0]["properties"] == {"form": "newsletter"}


def test_a_customer_upsert_keeps_what_it_leaves_out(running: Running, admin: str) -> None:
    with running.client(admin) as api:
        api.post("/v1/customers?wait=true", json={"user_id": "u9", "email": "u9@example.com",
                                                 "city": "Talca",
                                                 "attributes": {"tier": "gold"}})
        api.post("/v1/customers?wait=true", json={"user_id": "u9", "first_name": "Luis",
                                                 "attributes": {"pet": "cat"}})
        attributes = api.get("/v1/profiles/user_id/u9").json()["attributes"]
    assert {name: a["value"] for name, a in attributes.items()} == {
        "City": "Talca", "FirstName": "Luis", "tier": "gold", "pet": "cat"}


def test_status_changes_follow_the_pipeline(running: Running, admin: str) -> None:
    with running.client(admin) as api:
        api.post("/v1/orders?wait=true", json=order("o7"))
        sent = api.patch("/v1/orders/WEB/o7?wait=true",
                         json={"status": "sent", "attributes": {"tracking": "T1"}})
        back = api.patch("/v1/orders/WEB/o7", json={"status": "placed"})
        unknown = api.patch("/v1/orders/WEB/nope", json={"status": "sent"})
        bad = api.patch("/v1/orders/WEB/o7", json={"status": "teleported"})
        stored = api.get("/v1/orders", params={"order_number": "o7"}).json()["orders"]
    assert sent.json()["state"] == "applied"
    assert back.status_code == 409 and "cannot become 'placed'" in back.json()["detail"]
    assert back.headers["content-type"] == "application/problem+json"
    assert unknown.status_code == 404
    assert bad.status_code == 422 and bad.json()["errors"][0]["code"] == "unknown_status"
    assert [(o["status"], o["attributes"]) for o in stored] == [
        ("sent", {"expected_delivery_date": "2026-03-18", "tracking": "T1"})]


def test_orders_are_filtered_and_paginated(running: Running, admin: str) -> None:
    batch = [order(f"n{i}", user="u2" if i % 2 else "u3") | {
        "date": f"2026-03-{10 + i:02d}T12:00:00Z"} for i in range(6)]
    with running.client(admin) as api:
        assert api.post("/v1/orders?wait=true", json={"orders": batch}).json()["records"] == 6
        first = api.get("/v1/orders", params={"user_id": "u2", "limit": 2}).json()
        second = api.get("/v1/orders", params={"user_id": "u2", "limit": 2,
                                               "after": first["next"]}).json()
        ranged = api.get("/v1/orders", params={"date_from": "2026-03-11",
                                               "date_to": "2026-03-12"}).json()
    assert [o["order_number"] for o in first["orders"] + second["orders"]] == ["n5", "n3", "n1"]
    assert second["next"] is None
    assert sorted(o["order_number"] for o in ranged["orders"]) == ["n1", "n2"]


def test_bad_calls_get_precise_problems_and_store_nothing(
        running: Running, admin: str, shop: Instance) -> None:
    broken = order("bad") | {"total_amount": "12,50", "date": "yesterday"}
    with running.client(admin) as api:
        invalid = api.post("/v1/orders", json={"orders": [order("ok"), broken]})
        oversize = api.post("/v1/orders", content=b"{" + b" " * 11_000_000 + b"}",
                            headers={"Content-Type": "application/json"})
        no_key = api.post("/v1/orders", json=order(), headers={"Authorization": ""})
        wrong = api.post("/v1/orders", json=order(),
                         headers={"Authorization": "Bearer clk.shop.nope"})
    fields = {(e["field"], e["code"]) for e in invalid.json()["errors"]}
    assert invalid.status_code == 422
    assert ("orders.1.total_amount", "decimal_comma") in fields
    assert ("orders.1.date", "datetime_from_date_parsing") in fields or (
        "orders.1.date", "datetime_parsing") in fields
    assert oversize.status_code == 413
    assert no_key.status_code == 401 and wrong.status_code == 401
    assert _logged(shop) == 0


def test_scopes_are_enforced(running: Running, shop: Instance) -> None:
    reader, writer = new_key(shop, Scope.READ), new_key(shop, Scope.WRITE)
    with running.client(reader) as api:
        assert api.post("/v1/orders", json=order()).status_code == 403
    with running.client(writer) as api:
        assert api.get("/v1/profiles/user_id/u1").status_code == 403
        assert api.delete("/v1/profiles/user_id/u1").status_code == 403


def test_a_revoked_key_is_refused_within_the_recheck_time(running: Running,
                                                          shop: Instance) -> None:
    writer = new_key(shop, Scope.WRITE)
    with running.client(writer) as api:
        assert api.post("/v1/orders", json=order()).status_code == 202
        ops = operational.connect(shop)
        try:
            key_id = next(k.id for k in list_keys(ops) if writer.startswith(k.hint))
            revoked = revoke_key(ops, key_id)
        finally:
            ops.close()
        assert revoked is not None and revoked.revoked_at is not None
        time.sleep(KEY_RECHECK_SECONDS + 0.1)
        refused = api.post("/v1/orders", json=order("o2"))
    assert refused.status_code == 401
    assert refused.json()["detail"] == "unknown or revoked API key"


def test_idempotency_key_makes_a_retry_safe(running: Running, admin: str,
                                            shop: Instance) -> None:
    with running.client(admin) as api:
        first = api.post("/v1/orders", json=order("i1"), headers={"Idempotency-Key": "k1"})
        again = api.post("/v1/orders", json=order("i1"), headers={"Idempotency-Key": "k1"})
        other = api.post("/v1/orders", json=order("i2"), headers={"Idempotency-Key": "k1"})
    assert again.json()["ingest_id"] == first.json()["ingest_id"]
    assert again.json()["replayed"] is True
    assert other.status_code == 409
    assert _logged(shop) == 1


def test_erasure_removes_the_person(running: Running, admin: str) -> None:
    with running.client(admin) as api:
        api.post("/v1/customers?wait=true", json={"user_id": "gone", "email": "g@example.com"})
        erased = api.delete("/v1/profiles/email/g@example.com?wait=true")
        after = api.get("/v1/profiles/user_id/gone")
        again = api.post("/v1/customers?wait=true", json={"user_id": "gone"})
        revived = api.get("/v1/profiles/user_id/gone")
    assert erased.status_code == 202 and erased.json()["outcome"]["erased"] is not None
    assert after.status_code == 404
    assert again.json()["state"] == "applied" and revived.status_code == 404


def test_rate_limit_answers_429_with_retry_after(home: Path, serve: Callable[..., Running]
                                                 ) -> None:
    limited = create_instance("slow", home=home)
    text = limited.config_path.read_text("utf-8")
    limited.config_path.write_text(text.replace("rate_limit = 5000.0", "rate_limit = 1.0")
                                   .replace("rate_burst = 10000", "rate_burst = 2"), "utf-8")
    key = new_key(limited, Scope.READ)
    running = serve(home, "slow")
    with running.client(key) as api:
        answers = [api.get("/v1/orders") for _ in range(4)]
    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert answers[3].status_code == 429 and int(answers[3].headers["Retry-After"]) >= 1


def test_a_key_reaches_only_its_instance(home: Path, serve: Callable[..., Running]) -> None:
    a = create_instance("brand-a", home=home)
    b = create_instance("brand-b", home=home)
    key_a, key_b = new_key(a, Scope.ADMIN), new_key(b, Scope.ADMIN)
    running = serve(home, "brand-a", "brand-b")
    with running.client(key_b) as api:
        api.post("/v1/orders?wait=true", json=order("b1", user="ub"))
        api.post("/v1/customers?wait=true", json={"user_id": "ub", "email": "b@example.com"})
        profile = api.get("/v1/profiles/email/b@example.com").json()
    forged = key_a.replace("clk.brand-a.", "clk.brand-b.")
    with running.client(key_a) as api:
        asked: list[Any] = [api.get(path) for path in (
            "/v1/profiles/email/b@example.com", "/v1/profiles/user_id/ub",
            f"/v1/profiles/client_id/{profile['client_id']}")]
        orders = api.get("/v1/orders", params={"user_id": "ub"}).json()["orders"]
        erase = api.delete("/v1/profiles/user_id/ub")
    with running.client(forged) as api:
        assert api.get("/v1/profiles/user_id/ub").status_code == 401
    assert [r.status_code for r in asked] == [404, 404, 404]
    assert orders == [] and erase.status_code == 404


def _logged(instance: Instance) -> int:
    con = sqlite3.connect(instance.ingest_log_path)
    try:
        return int(con.execute("SELECT count(*) FROM ingest_log").fetchone()[0])
    finally:
        con.close()


def test_the_worker_makes_the_lookup_indexes_a_store_fed_by_files_goes_without(
        home: Path, shop: Instance, serve: Callable[..., Running]) -> None:
    def indexes() -> set[str]:
        con = analytics.connect(shop, read_only=True)
        try:
            return {str(r[0]) for r in con.execute(
                "SELECT index_name FROM duckdb_indexes()").fetchall()}
        finally:
            con.close()

    assert indexes() == set()
    assert serve(home, "shop").stop() == 0
    assert indexes() == set(analytics.LOOKUP_INDEXES)


def test_a_logged_call_wakes_the_worker_and_its_waiting_request(
        home: Path, serve: Callable[..., Running]) -> None:
    """In one process the log's commit wakes the worker and the worker's publication wakes the
    waiting request: neither waits for a poll (here 10 s, the longest allowed)."""
    sleepy = create_instance("sleepy", home=home)
    text = sleepy.config_path.read_text("utf-8")
    sleepy.config_path.write_text(text.replace("poll_ms = 20", "poll_ms = 10000"), "utf-8")
    key = new_key(sleepy, Scope.ADMIN)
    running = serve(home, "sleepy")
    took = []
    with running.client(key) as api:
        for number in range(3):
            started = time.monotonic()
            answer = api.post("/v1/orders?wait=true", json=order(f"o{number}"))
            took.append(time.monotonic() - started)
            assert answer.json()["state"] == "applied"
    assert max(took) < 5, took
