"""The checks that raise alerts: files of a day late, a file rejecting too many rows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from clientela.alerts.store import Alert, raise_alert
from clientela.config import Instance
from clientela.ingest.filenames import FileNameError, parse_daily_file_name
from clientela.ingest.inbox import inbox_files, plan
from clientela.ingest.report import FileReport
from clientela.ingest.status import known_done_days
from clientela.schema import RECORDS


def check_reject_rates(instance: Instance, reports: Iterable[FileReport]) -> list[Alert]:
    """An alert per file refused whole or rejecting more than `alerts.reject_rate` of its rows."""
    threshold = instance.settings.alerts.reject_rate
    raised = []
    for report in reports:
        if report.outcome == "duplicate":
            continue
        refused = report.outcome == "refused"
        rate = 1.0 if refused else report.rejected / report.rows_read if report.rows_read else 0.0
        if not refused and rate <= threshold:
            continue
        if refused:
            message = f"{report.file} was refused: {report.message}"
        else:
            message = (f"{report.file} rejected {report.rejected:,} of {report.rows_read:,} rows "
                       f"({rate:.1%}, above {threshold:.1%})")
        alert = raise_alert(
            instance, "reject_rate", message, key=report.checksum or report.file,
            day=date.fromisoformat(report.day) if report.day else None,
            details={"file": report.file, "outcome": report.outcome, "rows_read": report.rows_read,
                     "rejected": report.rejected, "rate": round(rate, 4), "threshold": threshold,
                     "rejected_by_reason": report.rejected_by_reason,
                     "report": report.report_path})
        if alert:
            raised.append(alert)
    return raised


@dataclass(frozen=True)
class Arrival:
    """What arrived of one business day."""

    day: date
    state: str
    """loaded, skipped, complete (all four files are here, waiting), partial or missing."""
    missing: list[str]


def arrivals(instance: Instance, days: Iterable[date], done: dict[date, str]
             ) -> list[Arrival]:
    """Per day: loaded or skipped (`done`, from `import_days`), or which files are still
    missing (the inbox, processing/ and the drop folder count as arrived)."""
    present: dict[date, set[str]] = {}
    for inbox_file in inbox_files(instance):
        present.setdefault(inbox_file.day, set()).add(inbox_file.schema.kind)
    prefix = instance.settings.files.prefix
    for folder in (instance.processing, instance.drop):
        for path in folder.iterdir() if folder.is_dir() else ():
            try:
                name = parse_daily_file_name(path.name, instance.name, prefix)
            except FileNameError:
                continue
            present.setdefault(name.day, set()).add(name.schema.kind)
    found = []
    for day in days:
        if day in done:
            found.append(Arrival(day, done[day], []))
            continue
        kinds = present.get(day, set())
        missing = [r.file_tag for r in RECORDS if r.kind not in kinds]
        state = "complete" if not missing else "missing" if not kinds else "partial"
        found.append(Arrival(day, state, missing))
    return found


def expected_day(instance: Instance, now: datetime) -> date:
    """The business day whose files are due today: yesterday, in the instance's time zone."""
    return now.astimezone(ZoneInfo(instance.settings.instance.timezone)).date() - timedelta(days=1)


def check_files_due(instance: Instance, now: datetime) -> Alert | None:
    """Raise `files_missing` when the expected day has neither loaded nor all its files here."""
    day = expected_day(instance, now)
    done = known_done_days(instance)
    (arrival,) = arrivals(instance, [day], done)
    waiting = plan(done, inbox_files(instance)).waiting
    if arrival.state in ("loaded", "skipped", "complete"):
        return None
    due = instance.settings.alerts.files_due_at
    files = ("no file" if arrival.state == "missing"
             else f"{', '.join(arrival.missing)} missing")
    return raise_alert(
        instance, "files_missing",
        f"the files of {day} have not arrived by {due} ({files})", key=day.isoformat(), day=day,
        details={"missing": arrival.missing, "due_at": due,
                 "queue_waiting_for": waiting.day.isoformat() if waiting else None})
