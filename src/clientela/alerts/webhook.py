"""Delivering alerts to the instance's webhook: POST JSON, retried with exponential backoff.

The retry state is in the alerts table, so an alert raised just before a restart is still
delivered after it. 2xx is delivered; any other answer or a network error is tried again after
1 s, 2 s, 4 s... (at most 5 min between tries) until `alerts.webhook_attempts` tries are spent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime, timedelta

import httpx

from clientela.alerts.store import Alert, due_deliveries, record_attempt
from clientela.config import Instance

log = logging.getLogger("clientela.alerts")

MAX_BACKOFF = timedelta(minutes=5)


def backoff(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failed try."""
    return min(timedelta(seconds=2 ** (attempts - 1)), MAX_BACKOFF)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


async def deliver_due(instance: Instance, client: httpx.AsyncClient,
                      now: datetime | None = None) -> int:
    """Try every alert whose next try is due; returns how many were delivered."""
    settings = instance.settings.alerts
    if not settings.webhook_url:
        return 0
    now = now or datetime.now(UTC)
    delivered = 0
    for alert in due_deliveries(instance, now):
        error = await _post(client, settings.webhook_url, settings.webhook_secret, alert)
        attempts = alert.attempts + 1
        retry_at = (now + backoff(attempts)
                    if error is not None and attempts < settings.webhook_attempts else None)
        record_attempt(instance, alert, error=error, now=now, retry_at=retry_at)
        if error is None:
            delivered += 1
            log.info("%s: alert %d delivered to the webhook", instance.name, alert.id)
        elif retry_at is None:
            log.error("%s: alert %d not delivered after %d tries: %s", instance.name, alert.id,
                      attempts, error)
        else:
            log.warning("%s: alert %d: webhook try %d failed (%s); next at %s", instance.name,
                        alert.id, attempts, error, retry_at.isoformat(timespec="seconds"))
    return delivered


async def _post(client: httpx.AsyncClient, url: str, secret: str, alert: Alert) -> str | None:
    body = json.dumps(alert.payload(), separators=(",", ":")).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": "clientela",
               "X-Clientela-Alert": str(alert.id)}
    if secret:
        headers["X-Clientela-Signature"] = signature(secret, body)
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"[:300]
    if response.is_success:
        return None
    return f"HTTP {response.status_code}"
