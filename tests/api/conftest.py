"""A real server on a free loopback port (`clientela serve` in a subprocess) and keys for it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from clientela.api.keys import Scope, create_key
from clientela.config import Instance, create_instance
from clientela.stores import operational

START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Running:
    """A `clientela serve` process."""

    home: Path
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"},
                            timeout=60)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=120)


def start_server(home: Path, *instances: str, api_workers: int = 1,
                 daily: bool = False) -> Running:
    """Without `daily`, the API alone (`--no-daily`): the daily service is tested apart."""
    port = free_port()
    log = home / f"serve-{port}.log"
    args = [str(Path(sys.executable).with_name("clientela")), "serve", "--port", str(port),
            "--api-workers", str(api_workers)]
    args += ["--no-sftp", "--sftp-port", "0"] if daily else ["--no-daily"]
    for name in instances:
        args += ["--instance", name]
    env = os.environ | {"CLIENTELA_HOME": str(home)}
    with log.open("wb") as out:
        process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    running = Running(home, port, process, log)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text()}")
        try:
            if httpx.get(f"{running.url}/health", timeout=1).status_code == 200:
                return running
        except httpx.TransportError:
            time.sleep(0.1)
    running.stop(signal.SIGKILL)
    raise AssertionError(f"the server did not start: {log.read_text()}")


def new_key(instance: Instance, scope: Scope) -> str:
    ops = operational.connect(instance)
    try:
        return create_key(ops, instance.name, scope, f"test {scope.value}")[1]
    finally:
        ops.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Running]]:
    """`serve(home, *instances, api_workers=1)`: a running server, stopped after the test."""
    started: list[Running] = []

    def start(home: Path, *instances: str, api_workers: int = 1) -> Running:
        running = start_server(home, *instances, api_workers=api_workers)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop(signal.SIGKILL)


@pytest.fixture
def shop(home: Path) -> Instance:
    return create_instance("shop", timezone="America/Santiago", currency="CLP", home=home)


def order(number: str = "o1", user: str = "u1", *, store: str = "WEB",
          amount: str = "30.00", status: str = "placed") -> dict[str, object]:
    """An order of two lines (3 units, 2 products) with categories."""
    return {
        "order_number": number, "store_code": store, "user_id": user,
        "date": "2026-03-14T10:00:00-03:00", "total_items": "3", "total_products": "2",
        "total_amount": amount, "items_amount": amount, "discounts_amount": "0",
        "shipping_amount": "0", "status": status, "payment_method": ["CREDIT", "GIFT"],
        "attributes": {"expected_delivery_date": "2026-03-18"},
        "lines": [
            {"line_number": 1, "quantity": "2", "item_code": "SKU1", "price": "10.00",
             "brand": "Norte", "categories": ["Ropa > Poleras"]},
            {"line_number": 2, "quantity": "1", "item_code": "SKU2", "price": "10.00",
             "categories": ["Ropa"]},
        ],
    }
