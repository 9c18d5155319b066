"""Alerts: raised once per problem, logged without personal data, delivered to a real local
webhook with retries and backoff."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from clientela.alerts.checks import check_files_due, check_reject_rates
from clientela.alerts.store import raise_alert, recent_alerts
from clientela.alerts.webhook import deliver_due
from clientela.config import Instance, open_instance
from clientela.daily.runs import execute_daily_run, redact
from clientela.ingest.importer import run_import

DAY = date(2025, 1, 1)
NOW = datetime(2025, 1, 3, 9, 0, tzinfo=UTC)


class Webhook:
    """A local HTTP server answering each POST with the next status of `answers`."""

    def __init__(self, answers: list[int]) -> None:
        self.answers = answers
        self.received: list[tuple[dict[str, str], bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append((dict(self.headers), body))
                self.send_response(hook.answers.pop(0) if hook.answers else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None: ...

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/clientela"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def webhook() -> Iterator[Callable[[list[int]], Webhook]]:
    started: list[Webhook] = []

    def start(answers: list[int]) -> Webhook:
        started.append(Webhook(answers))
        return started[-1]

    yield start
    for hook in started:
        hook.server.shutdown()
        hook.server.server_close()


def _configure(instance: Instance, **alerts: object) -> Instance:
    text = instance.config_path.read_text("utf-8")
    lines = []
    for line in text.splitlines():
        key = line.split(" = ")[0]
        lines.append(f"{key} = {json.dumps(alerts[key])}" if key in alerts else line)
    instance.config_path.write_text("\n".join(lines) + "\n", "utf-8")
    return open_instance(instance.name, home=instance.root.parent)


def _deliver(instance: Instance, now: datetime) -> int:
    async def go() -> int:
        async with httpx.AsyncClient(timeout=5) as client:
            return await deliver_due(instance, client, now)
    return asyncio.run(go())


def test_an_alert_is_posted_and_retried_with_backoff(
        instance: Instance, webhook: Callable[[list[int]], Webhook]) -> None:
    hook = webhook([500, 503])
    instance = _configure(instance, webhook_url=hook.url, webhook_secret="s3cret")
    alert = raise_alert(instance, "files_missing", "the files of 2025-01-02 have not arrived",
                        key="2025-01-02", day=date(2025, 1, 2), details={"missing": ["ORDERS"]},
                        now=NOW)
    assert alert is not None

    assert _deliver(instance, NOW) == 0                            # 500: again after 1 s
    assert _deliver(instance, NOW + timedelta(seconds=0.5)) == 0   # not yet due: no request
    assert _deliver(instance, NOW + timedelta(seconds=1)) == 0     # 503: again after 2 s
    assert _deliver(instance, NOW + timedelta(seconds=2.9)) == 0
    assert _deliver(instance, NOW + timedelta(seconds=3)) == 1     # 200

    assert len(hook.received) == 3
    headers, body = hook.received[-1]
    assert json.loads(body) == {
        "id": alert.id, "instance": "demo", "kind": "files_missing", "day": "2025-01-02",
        "raised_at": NOW.isoformat(), "message": "the files of 2025-01-02 have not arrived",
        "details": {"missing": ["ORDERS"]}}
    assert headers["Content-Type"] == "application/json"
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Clientela-Signature"] == f"sha256={expected}"
    (stored,) = recent_alerts(instance)
    assert (stored.delivery, stored.attempts, stored.last_error) == ("delivered", 3, None)


def test_delivery_gives_up_after_the_configured_tries(
        instance: Instance, webhook: Callable[[list[int]], Webhook]) -> None:
    hook = webhook([500, 500, 500])
    instance = _configure(instance, webhook_url=hook.url, webhook_attempts=2)
    raise_alert(instance, "run_failed", "the daily run 1 failed", key="1", now=NOW)

    for seconds in (0, 1, 60):
        _deliver(instance, NOW + timedelta(seconds=seconds))

    assert len(hook.received) == 2
    (stored,) = recent_alerts(instance)
    assert (stored.delivery, stored.attempts, stored.last_error) == ("failed", 2, "HTTP 500")


def test_the_same_problem_raises_one_alert(instance: Instance) -> None:
    first = raise_alert(instance, "run_failed", "failed", key="7")
    again = raise_alert(instance, "run_failed", "failed", key="7")

    assert first is not None and first.delivery == "none" and again is None
    assert len(recent_alerts(instance)) == 1


def test_files_not_arrived_by_the_due_time(
        instance: Instance, write_day: Callable[..., dict[str, Path]]) -> None:
    # Of the expected day (yesterday: Jan 2), only Customers and Orders have come.
    write_day(instance.inbox, instance, date(2025, 1, 2), lines=None, categories=None)

    alert = check_files_due(instance, NOW)

    assert alert is not None
    assert (alert.kind, alert.day) == ("files_missing", "2025-01-02")
    assert alert.message == ("the files of 2025-01-02 have not arrived by 05:00 "
                             "(ORDERSDETAIL, ORDERSDETAILCATEGORIES missing)")
    assert alert.details["missing"] == ["ORDERSDETAIL", "ORDERSDETAILCATEGORIES"]
    assert check_files_due(instance, NOW) is None  # raised once


def test_files_arrived_in_time_raise_nothing(
        instance: Instance, write_day: Callable[..., dict[str, Path]]) -> None:
    write_day(instance.drop, instance, date(2025, 1, 2))

    assert check_files_due(instance, NOW) is None


def test_a_file_rejecting_too_many_rows_raises_an_alert_without_personal_data(
        instance: Instance, drop: Path, write_day: Callable[..., dict[str, Path]],
        caplog: pytest.LogCaptureFixture) -> None:
    write_day(drop, instance, DAY, customers=["u1|ana@example.com|Ana|Pérez",
                                              "u2|bad|row"])
    result = run_import(instance, [drop])
    caplog.set_level(logging.WARNING, logger="clientela.alerts")

    alerts = check_reject_rates(instance, result.reports)

    assert [(a.kind, a.day) for a in alerts] == [("reject_rate", "2025-01-01")]
    assert alerts[0].message == ("ICOMMKT_CUSTOMERS_DEMO_20250101.txt rejected 1 of 2 rows "
                                 "(50.0%, above 5.0%)")
    assert alerts[0].details["rejected_by_reason"] == {"field_count": 1}
    assert "ana@example.com" not in caplog.text and "bad|row" not in caplog.text
    assert "rejected 1 of 2 rows" in caplog.text


def test_a_failed_run_is_recorded_and_raises_an_alert(instance: Instance) -> None:
    instance.analytics_path.write_bytes(b"not a duckdb file")

    outcome = execute_daily_run(instance, "manual")

    assert outcome["outcome"] == "failed"
    assert "not a valid DuckDB database file" in outcome["message"]
    (alert,) = recent_alerts(instance)
    assert (alert.kind, alert.details["run"]) == ("run_failed", outcome["id"])
    assert alert.message == f"the daily run {outcome['id']} (manual) failed: {outcome['message']}"


def test_error_messages_are_logged_without_emails_or_phones() -> None:
    message = ("Conversion Error: Could not convert string 'ana.perez@mail.cl' to INT32 at "
               "2025-03-01, order 1002; phone +56 9 5555 1234 or 56955551234")

    assert redact(message) == ("Conversion Error: Could not convert string '<email>' to INT32 "
                               "at 2025-03-01, order 1002; phone <number> or <number>")
