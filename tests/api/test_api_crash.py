"""`kill -9` during a load: every acknowledged call is applied exactly once after a restart;
SIGTERM drains what was acknowledged before the process ends."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path

import duckdb
import httpx
from tests.api.conftest import Running, new_key, order

from clientela.api.keys import Scope
from clientela.config import Instance


def _load(running: Running, key: str, prefix: str, acknowledged: list[str],
          stop: threading.Event) -> None:
    with running.client(key) as api:
        n = 0
        while not stop.is_set():
            n += 1
            number = f"{prefix}{n}"
            try:
                answer = api.post("/v1/orders", json=order(number, user=f"u{n % 7}"),
                                  headers={"Idempotency-Key": number})
            except httpx.TransportError:
                return
            if answer.status_code == 202:
                acknowledged.append(number)


def _stored_orders(instance: Instance) -> list[tuple[str, int]]:
    con = duckdb.connect(str(instance.analytics_path), read_only=True)
    try:
        return [(str(n), int(c)) for n, c in con.execute(
            "SELECT order_number, count(*) FROM orders GROUP BY 1").fetchall()]
    finally:
        con.close()


def test_kill_9_loses_no_acknowledged_call(home: Path, shop: Instance,
                                           serve: Callable[..., Running]) -> None:
    key = new_key(shop, Scope.ADMIN)
    running = serve(home, "shop")
    acknowledged: list[str] = []
    stop = threading.Event()
    loaders = [threading.Thread(target=_load, args=(running, key, f"t{i}-", acknowledged, stop))
               for i in range(4)]
    for loader in loaders:
        loader.start()
    threading.Event().wait(3)
    running.stop(signal.SIGKILL)
    stop.set()
    for loader in loaders:
        loader.join()
    assert len(acknowledged) > 20

    restarted = serve(home, "shop")
    with restarted.client(key) as api:
        # A retry of an acknowledged call after the crash is recognised, not applied again.
        again = api.post("/v1/orders", json=order(acknowledged[0], user="u1"),
                         headers={"Idempotency-Key": acknowledged[0]})
        assert again.json()["replayed"] is True
        last = api.post("/v1/orders?wait=true", json=order("after"))
        assert last.json()["state"] == "applied"
    assert restarted.stop() == 0

    stored = dict(_stored_orders(shop))
    assert all(stored.get(number) == 1 for number in acknowledged)
    assert all(count == 1 for count in stored.values())


def test_sigterm_applies_every_acknowledged_call(home: Path, shop: Instance,
                                                 serve: Callable[..., Running]) -> None:
    key = new_key(shop, Scope.WRITE)
    running = serve(home, "shop")
    with running.client(key) as api:
        numbers = [f"d{i}" for i in range(30)]
        for number in numbers:
            assert api.post("/v1/orders", json=order(number)).status_code == 202
    assert running.stop(signal.SIGTERM) == 0
    assert sorted(n for n, _ in _stored_orders(shop)) == sorted(numbers)
