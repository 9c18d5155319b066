"""The API's CPU per write, in process: what `api_bench.py`'s served figures cannot isolate.

Drives the ASGI app directly (no HTTP, no worker, no load generator beside it) with single-order
POSTs, 32 in flight, then POSTs of 1,000 orders, 4 in flight, against a fresh instance; each
call is committed to the instance's ingest log as when served. Prints the CPU the process spent
per call (its threads together: the event loop's and the log writer's) and the event loop's
thread alone. CPU time drifts less than throughput on a shared VM, and pairs of runs of two
versions (`PYTHONPATH=other/src`) compare them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import uvloop
from starlette.types import ASGIApp, Message

from api_bench import BATCHES_IN_FLIGHT, batch_body, single_bodies
from clientela.api.app import create_app
from clientela.api.keys import Scope, create_key
from clientela.api.server import tenants_of, tune_garbage_collector
from clientela.config import create_instance
from clientela.stores import operational

SINGLES_IN_FLIGHT = 32
"""As api_bench's wrk connections (`--clients`)."""


async def _post(app: ASGIApp, key: str, body: bytes) -> None:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/v1/orders",
             "raw_path": b"/v1/orders", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                         (b"authorization", f"Bearer {key}".encode()),
                         (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    sent = False
    status: list[int] = []

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # the client never disconnects
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    assert status == [202], status


async def _drive(app: ASGIApp, key: str, bodies: list[bytes], in_flight: int
                 ) -> tuple[float, float]:
    """(process CPU, event loop thread CPU) in seconds, for posting `bodies`."""
    slots = asyncio.Semaphore(in_flight)

    async def one(body: bytes) -> None:
        async with slots:
            await _post(app, key, body)

    process, thread = time.process_time(), time.thread_time()
    await asyncio.gather(*(one(body) for body in bodies))
    return time.process_time() - process, time.thread_time() - thread


def _measure(app: ASGIApp, key: str, singles: int, batches: int) -> dict[str, float]:
    async def run() -> dict[str, float]:
        await _drive(app, key, single_bodies(200, "warm", "cpu-"), SINGLES_IN_FLIGHT)
        single = await _drive(app, key, single_bodies(singles, "s", "cpu-"), SINGLES_IN_FLIGHT)
        batch = await _drive(app, key, [batch_body(f"b{b}-", "cpu-") for b in range(batches)],
                             BATCHES_IN_FLIGHT)
        return {"single_post_cpu_us": round(single[0] / singles * 1e6),
                "single_post_loop_cpu_us": round(single[1] / singles * 1e6),
                "batch_post_cpu_ms": round(batch[0] / batches * 1e3, 1),
                "batch_post_loop_cpu_ms": round(batch[1] / batches * 1e3, 1)}
    result: dict[str, float] = uvloop.run(run())  # uvicorn's loop, as when served
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--singles", type=int, default=4000)
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="clientela-api-cpu-"))
    try:
        instance = create_instance("cpu", home=home)
        ops = operational.connect(instance)
        key = create_key(ops, "cpu", Scope.WRITE, "cpu")[1]
        ops.close()
        tenants = tenants_of([instance])
        app = create_app(tenants)
        tune_garbage_collector()  # as `clientela serve` does once the app is built
        try:
            result = _measure(app, key, args.singles, args.batches)
        finally:
            for tenant in tenants.values():
                tenant.appender.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(result | {"date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count()},
                     indent=2))


if __name__ == "__main__":
    main()
