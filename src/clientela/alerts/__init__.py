"""Alerts: a day's files late, a daily run failed, a file rejecting too many rows.

Each is logged, stored in the operational store (shown by `clientela status`) and, when the
instance has a webhook, POSTed to it as JSON with retries and backoff.
"""

from clientela.alerts.store import Alert, raise_alert, recent_alerts

__all__ = ["Alert", "raise_alert", "recent_alerts"]
