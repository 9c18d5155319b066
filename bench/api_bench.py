"""API benchmark: a load generator on the same machine as `clientela serve`.

Measures, against a real server on loopback:
- single-order POSTs per second sustained by concurrent connections (wrk: `make bench` installs
  it), with p50 / p99 latency, and how long the worker then takes to apply them all;
- single-order POSTs at a fixed rate (`--rate`, the target's 2,000 a second), sent open loop
  whether or not earlier ones are answered, each timed from the moment it was due: p50 / p99
  / max, and the generator's own CPU;
- batch POSTs (1,000 orders each, encoded beforehand, 4 in flight): orders acknowledged per
  second, and how long the worker takes to apply them;
- profile GET by email: p50 / p99;
- POST to indicators: from an order's POST to a GET of the profile showing its indicators,
  p50 / p95: the POST with `?wait=true` then one GET, and (`_polling`) a plain POST then a GET
  every 5 ms until they show.
The issue's targets: ≥ 2,000 single POSTs/s with p99 ≤ 50 ms, ≥ 20,000 batch orders/s, GET p99
≤ 20 ms, POST-to-indicators p95 ≤ 1 s, on 2 cores with 1M profiles loaded (`--customers
1000000`; the data set is generated once under bench/data and imported before the server
starts). `--smoke` runs a few seconds on a tiny instance, to check the script itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

import httpx

from clientela.api.keys import Scope, create_key
from clientela.config import Instance, create_instance
from clientela.generate import generate_retailer
from clientela.ingest.importer import run_import
from clientela.stores import operational

DATA = Path(__file__).parent / "data"


def _order(number: str, user: str) -> dict[str, Any]:
    return {"order_number": number, "store_code": "API", "user_id": user,
            "date": "2026-11-20T12:00:00Z", "total_items": "1", "total_products": "1",
            "total_amount": "9990", "items_amount": "8395", "discounts_amount": "0",
            "shipping_amount": "0", "status": "fulfilled",
            "lines": [{"line_number": 1, "quantity": "1", "item_code": "SKU-1",
                       "price": "9990", "categories": ["Bench"]}]}


def single_bodies(count: int, numbers: str, users: str) -> list[bytes]:
    """`count` single-order POST bodies, encoded: order numbers and user ids start with the
    prefixes given, as batch_body's."""
    return [json.dumps(_order(f"{numbers}{i}", f"{users}{i % 5000}"),
                       separators=(",", ":")).encode() for i in range(count)]


def batch_body(numbers: str, users: str) -> bytes:
    """A POST body of 1,000 orders, encoded: order numbers and user ids start with the
    prefixes given."""
    return json.dumps({"orders": [_order(f"{numbers}{i}", f"{users}{i % 5000}")
                                  for i in range(1000)]}, separators=(",", ":")).encode()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else 0.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


WRK_SCRIPT = """
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("CLIENTELA_KEY")
function request()
  counter = counter + 1
  local id = tostring(math.random(1, 1000000000)) .. "-" .. counter
  local body = '%s'
  body = body:gsub("NUMBER", "w" .. id):gsub("USER", "api-" .. (counter %% 5000))
  return wrk.format(nil, "/v1/orders", nil, body)
end
"""
LATENCY_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _single_posts(url: str, key: str, seconds: float, connections: int) -> dict[str, float]:
    """wrk (C, one thread) holds `connections` open with single-order POSTs: a Python load
    generator would need a core of its own to go past ~1,000 calls a second."""
    body = json.dumps(_order("NUMBER", "USER"), separators=(",", ":"))
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT % body)
        script.flush()
        printed = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--latency", "-s",
             script.name, url], env=os.environ | {"CLIENTELA_KEY": key}, capture_output=True,
            text=True, check=True).stdout
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", printed)
    if refused:
        raise SystemExit(f"{refused.group(1)} single POSTs were not accepted:\n{printed}")
    latency = {share: float(value) * LATENCY_UNITS[unit] for share, value, unit in
               re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)$", printed, re.MULTILINE)}
    rate = re.search(r"Requests/sec:\s+([\d.]+)", printed)
    assert rate and len(latency) == 2, printed
    return {"single_posts_per_second": float(rate.group(1)),
            "single_post_p50_ms": latency["50"], "single_post_p99_ms": latency["99"]}


class _Connection(asyncio.Protocol):
    """One keep-alive connection of the fixed-rate generator: it writes the requests it is
    given and reads the answers back, each matched to the moment its request was due."""

    def __init__(self, answered: list[tuple[float, int]]) -> None:
        self.answered = answered
        self.due: deque[float] = deque()
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.due:
            raise SystemExit(f"fixed rate: the server closed a connection with {len(self.due)} "
                             "requests unanswered")

    def send(self, request: bytes, due: float) -> None:
        assert self.transport is not None
        self.due.append(due)
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(self.buffer[:end]).lower()
            length = re.search(rb"content-length: *(\d+)", head)
            size = end + 4 + (int(length.group(1)) if length else 0)
            if len(self.buffer) < size:
                return
            del self.buffer[:size]
            self.answered.append((time.perf_counter() - self.due.popleft(), int(head[9:12])))


async def _fixed_rate_posts(port: int, key: str, rate: float, seconds: float
                            ) -> dict[str, float]:
    """Single-order POSTs sent at `rate` a second whether or not earlier ones are answered
    (an open loop, as wrk2 does): each latency runs from the moment its request was due, so a
    server that falls behind shows it in the tail instead of slowing the generator down. The
    requests are encoded before the clock starts; the generator's own CPU is reported (in cores)."""
    count = int(rate * seconds)
    requests = [(f"POST /v1/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}"
                 f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                 ).encode() + body
                for body in single_bodies(count, f"r{time.time_ns()}-", "api-")]
    loop = asyncio.get_running_loop()
    answered: list[tuple[float, int]] = []
    connections = [(await loop.create_connection(lambda: _Connection(answered), "127.0.0.1",
                                                 port))[1] for _ in range(FIXED_RATE_CONNECTIONS)]
    started, generator_cpu = time.perf_counter(), time.process_time()
    for i, request in enumerate(requests):
        due = started + i / rate
        if due - time.perf_counter() > 0.001:
            await asyncio.sleep(due - time.perf_counter())
        # In turn, so that none stays idle long enough for the server to close it; a busy
        # one is passed over for the least busy, on which the request queues (pipelined) and
        # the wait counts in its latency.
        turn = connections[i % len(connections)]
        if turn.due:
            turn = min(connections, key=lambda c: len(c.due))
        turn.send(request, due)
    while len(answered) < count and time.perf_counter() < started + seconds + 60:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    generator_cpu = time.process_time() - generator_cpu
    for connection in connections:
        assert connection.transport is not None
        connection.transport.close()
    refused = sum(1 for _, status in answered if status != 202)
    if refused or len(answered) < count:
        raise SystemExit(f"fixed rate: {refused} refused, {count - len(answered)} unanswered")
    latencies = [latency for latency, _ in answered]
    return {"fixed_rate_per_second": round(count / elapsed, 1),
            "fixed_rate_p50_ms": round(_percentile(latencies, 0.50), 2),
            "fixed_rate_p99_ms": round(_percentile(latencies, 0.99), 2),
            "fixed_rate_max_ms": round(max(latencies) * 1000, 2),
            "fixed_rate_generator_cores": round(generator_cpu / elapsed, 3)}


FIXED_RATE_CONNECTIONS = 64
"""Keep-alive connections the fixed-rate generator spreads its requests over."""


def _last_logged(instance: Instance) -> int:
    con = sqlite3.connect(instance.ingest_log_path)
    try:
        return int(con.execute("SELECT coalesce(max(id), 0) FROM ingest_log").fetchone()[0])
    finally:
        con.close()


BATCHES_IN_FLIGHT = 4
"""Batch POSTs kept in flight: enough to keep two API processes busy."""


async def _batch_posts(client: httpx.AsyncClient, batches: int) -> tuple[int, float, int]:
    """`batches` POSTs of 1,000 orders, BATCHES_IN_FLIGHT at a time. The bodies are encoded
    before the clock starts, as wrk formats its requests: building and encoding them in the
    timed loop took a third of a core from the server."""
    bodies = [batch_body(f"b{b}-", "batch-") for b in range(batches)]
    slots = asyncio.Semaphore(BATCHES_IN_FLIGHT)

    async def one(body: bytes) -> int:
        async with slots:
            answer = await client.post("/v1/orders", content=body,
                                       headers={"Content-Type": "application/json"})
        assert answer.status_code == 202, answer.text
        return int(answer.json()["ingest_id"])

    started = time.perf_counter()
    logged = await asyncio.gather(*(one(body) for body in bodies))
    return batches * 1000, time.perf_counter() - started, max(logged)


async def _wait_applied(client: httpx.AsyncClient, ingest_id: int) -> None:
    while (await client.get(f"/v1/ingest/{ingest_id}")).json()["state"] == "pending":
        await asyncio.sleep(0.05)


async def _gets(client: httpx.AsyncClient, emails: list[str], count: int) -> list[float]:
    latencies = []
    for i in range(count):
        started = time.perf_counter()
        answer = await client.get(f"/v1/profiles/email/{emails[i % len(emails)]}")
        latencies.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.text
    return latencies


async def _post_to_indicators(client: httpx.AsyncClient, count: int, *,
                              wait: bool) -> list[float]:
    """Seconds from an order's POST to a GET of its profile showing its indicators: with
    `wait`, the POST asks `?wait=true` (answered once applied) and one GET follows; without,
    the client polls the profile every 5 ms (those GETs share the worker's process and CPU)."""
    latencies = []
    for i in range(count):
        user = f"fresh-{i}-{time.time_ns()}"
        started = time.perf_counter()
        await client.post("/v1/orders" + ("?wait=true" if wait else ""),
                          json=_order(f"f{i}-{time.time_ns()}", user))
        while True:
            answer = await client.get(f"/v1/profiles/user_id/{user}")
            if answer.status_code == 200 and (answer.json().get("indicators") or {}).get(
                    "Total_Items"):
                break
            await asyncio.sleep(0.005)
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.05)
    return latencies


async def _measure(port: int, key: str, instance: Instance, emails: list[str],
                   args: argparse.Namespace) -> dict[str, Any]:
    url, seconds, samples = f"http://127.0.0.1:{port}", args.seconds, args.samples
    limits = httpx.Limits(max_connections=args.clients + 4)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"},
                                 timeout=120, limits=limits) as client:
        singles = await asyncio.to_thread(_single_posts, url, key, seconds, args.clients)
        drain_started = time.perf_counter()
        await _wait_applied(client, _last_logged(instance))
        singles_drained = time.perf_counter() - drain_started
        fixed_rate = await _fixed_rate_posts(port, key, args.rate, seconds)
        await _wait_applied(client, _last_logged(instance))
        orders, batch_seconds, last = await _batch_posts(client, args.batches)
        drain_started = time.perf_counter()
        await _wait_applied(client, last)
        drained = time.perf_counter() - drain_started
        gets = await _gets(client, emails, samples)
        waited = await _post_to_indicators(client, max(5, samples // 20), wait=True)
        polled = await _post_to_indicators(client, max(5, samples // 20), wait=False)
    return singles | {
        "single_posts_applied_after_s": round(singles_drained, 2),
        **fixed_rate,
        "batch_orders_per_second": round(orders / batch_seconds, 1),
        "batch_orders_applied_after_s": round(drained, 2),
        "profile_get_p50_ms": round(_percentile(gets, 0.50), 2),
        "profile_get_p99_ms": round(_percentile(gets, 0.99), 2),
        "post_to_indicators_p50_ms": round(_percentile(waited, 0.50), 1),
        "post_to_indicators_p95_ms": round(_percentile(waited, 0.95), 1),
        "post_to_indicators_polling_p50_ms": round(_percentile(polled, 0.50), 1),
        "post_to_indicators_polling_p95_ms": round(_percentile(polled, 0.95), 1),
    }


def _bench(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    """Load the instance in `home`, start `clientela serve` on it and measure."""
    instance = create_instance("bench", timezone="America/Santiago", currency="CLP", home=home)
    if args.customers:
        folder = DATA / f"retailer-{args.customers}-{args.days}"
        if not (folder / ".complete").exists():
            generate_retailer(folder, customers=args.customers, days=args.days, seed=7,
                              instance="bench")
            (folder / ".complete").write_text("done\n")
        run_import(instance, sorted(folder.glob("ICOMMKT_*")))
    ops = operational.connect(instance)
    key = create_key(ops, "bench", Scope.ADMIN, "bench")[1]
    ops.close()
    port = _free_port()
    env = os.environ | {"CLIENTELA_HOME": str(home)}
    server = subprocess.Popen([str(Path(sys.executable).with_name("clientela")), "serve",
                               "--instance", "bench", "--port", str(port), "--no-daily",
                               "--api-workers", str(args.api_workers)],
                              env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        emails = _emails(instance.operational_path) or _seed_emails(url, key)
        result = asyncio.run(_measure(port, key, instance, emails, args))
    finally:
        server.terminate()
        server.wait(timeout=600)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=2000.0,
                        help="single POSTs a second of the fixed-rate phase (the target's)")
    parser.add_argument("--api-workers", type=int, default=1,
                        help="`clientela serve --api-workers`: 1 serves in the worker's process")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, tiny instance")
    args = parser.parse_args()
    if args.smoke:
        args.customers, args.days, args.seconds = 0, 0, 2.0
        args.clients, args.batches, args.samples, args.rate = 4, 2, 50, 200.0
    home = Path(tempfile.mkdtemp(prefix="clientela-api-bench-"))
    try:
        result = _bench(args, home)
    finally:
        # The copy of the files, the stores and the serving copy: ~17 GB at 1M customers.
        shutil.rmtree(home, ignore_errors=True)
    result |= {"customers": args.customers, "api_workers": args.api_workers,
               "machine": platform.platform(),
               "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}
    print(json.dumps(result, indent=2))


def _emails(operational_path: Path) -> list[str]:
    con = sqlite3.connect(operational_path)
    try:
        return [r[0] for r in con.execute("SELECT value FROM serving_identifiers "
                                          "WHERE type = 'email' LIMIT 10000")]
    finally:
        con.close()


def _seed_emails(url: str, key: str) -> list[str]:
    emails = [f"bench{i}@example.com" for i in range(20)]
    customers = [{"user_id": f"seed-{i}", "email": e} for i, e in enumerate(emails)]
    httpx.post(f"{url}/v1/customers?wait=true", json={"customers": customers},
               headers={"Authorization": f"Bearer {key}"}, timeout=60)
    return emails


if __name__ == "__main__":
    main()
