"""Raising alerts: one row per problem in the operational store, logged once."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from clientela.config import Instance
from clientela.stores import operational

log = logging.getLogger("clientela.alerts")

ALERT_KINDS = ("files_missing", "run_failed", "reject_rate")


@dataclass(frozen=True)
class Alert:
    id: int
    instance: str
    kind: str
    day: str | None
    raised_at: str
    message: str
    details: dict[str, Any]
    delivery: str
    attempts: int
    last_error: str | None

    def payload(self) -> dict[str, Any]:
        """The JSON body POSTed to the webhook."""
        return {"id": self.id, "instance": self.instance, "kind": self.kind, "day": self.day,
                "raised_at": self.raised_at, "message": self.message, "details": self.details}


def raise_alert(instance: Instance, kind: str, message: str, *, key: str,
                day: date | None = None, details: dict[str, Any] | None = None,
                now: datetime | None = None) -> Alert | None:
    """Store and log an alert; None when the same problem (`key`) was already raised.

    `message` and `details` must hold no personal data: they are logged and sent out."""
    assert kind in ALERT_KINDS, kind
    now = now or datetime.now(UTC)
    delivery = "pending" if instance.settings.alerts.webhook_url else "none"
    con = operational.connect(instance)
    try:
        cursor = con.execute(
            "INSERT INTO alerts (raised_at, kind, day, message, details, dedup_key, delivery, "
            "next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING",
            (now.isoformat(), kind, day.isoformat() if day else None, message,
             json.dumps(details or {}, default=str), f"{kind}:{key}", delivery,
             now.isoformat() if delivery == "pending" else None))
        if not cursor.rowcount:
            return None
        alert_id = cursor.lastrowid
    finally:
        con.close()
    log.warning("%s: alert %s: %s", instance.name, kind, message)
    assert alert_id is not None
    return Alert(alert_id, instance.name, kind, day.isoformat() if day else None,
                 now.isoformat(), message, details or {}, delivery, 0, None)


def recent_alerts(instance: Instance, limit: int = 5) -> list[Alert]:
    con = operational.connect(instance)
    try:
        rows = con.execute(
            "SELECT id, kind, day, raised_at, message, details, delivery, attempts, last_error "
            "FROM alerts ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    finally:
        con.close()
    return [_alert(instance.name, row) for row in rows]


def _alert(instance: str, row: tuple[Any, ...]) -> Alert:
    alert_id, kind, day, raised_at, message, details, delivery, attempts, last_error = row
    return Alert(alert_id, instance, kind, day, raised_at, message, json.loads(details),
                 delivery, attempts, last_error)


def due_deliveries(instance: Instance, now: datetime) -> list[Alert]:
    con = operational.connect(instance)
    try:
        rows = con.execute(
            "SELECT id, kind, day, raised_at, message, details, delivery, attempts, last_error "
            "FROM alerts WHERE delivery = 'pending' AND next_attempt_at <= ? ORDER BY id",
            (now.isoformat(),)).fetchall()
    finally:
        con.close()
    return [_alert(instance.name, row) for row in rows]


def record_attempt(instance: Instance, alert: Alert, *, error: str | None, now: datetime,
                   retry_at: datetime | None) -> None:
    """A delivery try: delivered (no error), retried at `retry_at`, or given up (neither)."""
    params: tuple[object, ...]
    if error is None:
        sql, params = ("UPDATE alerts SET delivery = 'delivered', attempts = attempts + 1, "
                       "delivered_at = ?, last_error = NULL WHERE id = ?",
                       (now.isoformat(), alert.id))
    else:
        state = "pending" if retry_at else "failed"
        sql, params = ("UPDATE alerts SET delivery = ?, attempts = attempts + 1, last_error = ?, "
                       "next_attempt_at = ? WHERE id = ?",
                       (state, error, retry_at.isoformat() if retry_at else None, alert.id))
    con = operational.connect(instance)
    try:
        con.execute(sql, params)
    finally:
        con.close()
