"""`clientela import`, `status` and `skip-day`."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from clientela.cli.errors import UserError
from clientela.cli.identity import summary
from clientela.cli.options import InstanceOption, JsonOption
from clientela.config import open_instance
from clientela.daily.status import DailyStatus, daily_status
from clientela.ingest.importer import ImportProgress, ImportResult, run_import
from clientela.ingest.inbox import Waiting
from clientela.ingest.inbox_file import InboxFile
from clientela.ingest.report import FileReport
from clientela.ingest.status import SkipError, queue_status
from clientela.ingest.status import skip_day as skip
from clientela.schema import RecordKind, record_schema

# soft_wrap: long paths stay whole on one line, for copying.
console = Console(soft_wrap=True)


class RichProgress:
    """The business day being loaded, and the file being read with its step and size."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.days: TaskID = progress.add_task("loading", total=None, detail="")
        self.started = 0
        self.current: TaskID | None = None
        self.name = ""

    def day(self, day: date, files: list[InboxFile]) -> None:
        self.started += 1
        self.progress.update(self.days, description=f"day {day}",
                             detail=f"{self.started - 1:,} day(s) loaded")

    def file(self, name: str, size: int) -> None:
        if self.current is not None:
            self.progress.remove_task(self.current)
        self.name = name
        self.current = self.progress.add_task(f"  {name}: checking", total=size,
                                              detail=f"{size / 1e6:,.1f} MB")

    def advance(self, nbytes: int) -> None:
        if self.current is not None:
            self.progress.advance(self.current, nbytes)

    def step(self, label: str) -> None:
        if self.current is not None:
            self.progress.update(self.current, description=f"  {self.name}: {label}")

    def done(self, report: FileReport) -> None:
        if self.current is not None:
            self.progress.remove_task(self.current)
            self.current = None


def import_files(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Daily files, folders of them, .gz or .zip. None: load what waits in the inbox.")
    ] = None,
    instance: InstanceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import daily files: every day that can load, in order, each in one transaction."""
    target = open_instance(instance)
    if as_json:
        result = run_import(target, paths or [])
        typer.echo(json.dumps(result_json(result), indent=2, default=str))
        return
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[detail]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        progress: ImportProgress = RichProgress(bar)
        result = run_import(target, paths or [], progress)
    print_summary(result)


def result_json(result: ImportResult) -> dict[str, object]:
    return {
        "days_loaded": [d.isoformat() for d in result.days_loaded],
        "waiting": _waiting_json(result.waiting),
        "reports": [r.to_json() for r in result.reports],
        "evidence": None if result.evidence is None else {
            k: v for k, v in vars(result.evidence).items() if k != "until"},
        "identity": result.identity.to_json() if result.identity else None,
    }


def _waiting_json(waiting: Waiting | None) -> dict[str, object] | None:
    if waiting is None:
        return None
    return {"day": waiting.day.isoformat(), "missing": waiting.missing,
            "waiting_days": [d.isoformat() for d in waiting.waiting_days]}


def print_summary(result: ImportResult) -> None:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for report in result.reports:
        if report.kind and report.outcome == "loaded":
            row = totals[report.kind]
            row["files"] += 1
            for key in ("rows_read", "inserted", "replaced", "unchanged", "rejected"):
                row[key] += getattr(report, key)
    if result.days_loaded:
        first, last = min(result.days_loaded), max(result.days_loaded)
        console.print(f"Loaded {len(result.days_loaded)} day(s), {first} to {last}.")
        keys = ("files", "rows_read", "inserted", "replaced", "unchanged", "rejected")
        rows = [[record_schema(RecordKind(kind)).file_tag, *(f"{row[k]:,}" for k in keys)]
                for kind, row in totals.items()]
        table = Table(caption="rows read; new, replaced and unchanged (same) rows; rejected")
        # Numbers are never cut short: when the terminal is narrow, file names fold instead.
        table.add_column("file", overflow="fold")
        for index, header in enumerate(("files", "read", "new", "replaced", "same", "rejected"),
                                       start=1):
            width = max(len(header), *(len(r[index]) for r in rows))
            table.add_column(header, justify="right", no_wrap=True, min_width=width)
        for cells in rows:
            table.add_row(*cells)
        console.print(table)
    else:
        console.print("No day loaded.")
    if result.identity is not None:
        console.print(summary(result.identity))
    for report in result.reports:
        if report.outcome in ("refused", "duplicate"):
            colour = "red" if report.outcome == "refused" else "yellow"
            console.print(f"[{colour}]{report.outcome}[/{colour}] {report.file}: "
                          f"{report.message}", highlight=False)
    kept_newer = sum(r.kept_newer for r in result.reports)
    if kept_newer:
        console.print(f"{kept_newer:,} re-sent row(s) of an older day were not applied: a later "
                      "day had already sent a newer version (kept_newer in the reports).")
    with_rejects = [r for r in result.reports if r.rejected]
    for report in with_rejects[:10]:
        reasons = ", ".join(f"{k} {v}" for k, v in report.rejected_by_reason.items())
        console.print(f"[yellow]{report.rejected:,} rejected[/yellow] in {report.file} "
                      f"({reasons}): {report.rejects_path}", highlight=False)
    if len(with_rejects) > 10:
        console.print(f"... and {len(with_rejects) - 10} more files with rejected rows; "
                      "see the reports folder.")
    if result.waiting:
        _print_waiting(result.waiting)


def _print_waiting(waiting: Waiting) -> None:
    if len(waiting.missing) == 4:
        why = "no file of that day has arrived"
    else:
        why = f"its {', '.join(waiting.missing)} file(s) have not arrived"
    later = [d for d in waiting.waiting_days if d > waiting.day]
    console.print(f"[yellow]Waiting for {waiting.day}[/yellow]: {why}; "
                  f"{len(later)} later day(s) wait behind it. Send the files, or "
                  f"run `clientela skip-day {waiting.day}` to go on without it.")


def status(instance: InstanceOption = None, as_json: JsonOption = False) -> None:
    """Where imports stand: days loaded and received, the day holding the queue back, the daily
    runs and alerts."""
    target = open_instance(instance)
    state = queue_status(target)
    daily = daily_status(target)
    if as_json:
        typer.echo(json.dumps(state.to_json() | {"daily": daily.to_json()}, indent=2,
                              default=str))
        return
    console.print(f"Instance [bold]{state.instance}[/bold]")
    if state.days_loaded:
        console.print(f"  days loaded: {state.days_loaded:,} ({state.first_day} to "
                      f"{state.last_day})")
    else:
        console.print("  days loaded: none yet")
    if state.skipped:
        console.print(f"  days skipped: {', '.join(str(d) for d in state.skipped[-10:])}")
    console.print(f"  files waiting in the inbox: {state.files_in_inbox}")
    if state.waiting:
        _print_waiting(state.waiting)
    if state.last_run:
        run = state.last_run
        console.print(f"  last import: {run['started_at']} {run['outcome']}, "
                      f"{run['days_loaded']} day(s), {run['rows_rejected']} row(s) rejected")
    print_daily(daily, ZoneInfo(target.settings.instance.timezone))


def _local(moment: datetime | str, zone: ZoneInfo) -> str:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def print_daily(daily: DailyStatus, zone: ZoneInfo) -> None:
    if daily.schedule == "off":
        console.print("  daily run: off (schedule.daily_run = false)")
    elif daily.next_run is None:
        console.print(f"  daily run: {daily.schedule}; not scheduled yet: start `clientela sftp` "
                      "(or `clientela serve`)")
    elif daily.next_run < datetime.now(UTC):
        console.print(f"  daily run: {daily.schedule}; [yellow]overdue[/yellow] since "
                      f"{_local(daily.next_run, zone)}: it runs as soon as the service is up")
    else:
        console.print(f"  daily run: {daily.schedule}; next {_local(daily.next_run, zone)}")
    run = daily.last_run
    if run is None:
        console.print("  last daily run: none yet")
    else:
        what = (f"as of {run['as_of']}, {run['days_loaded']} day(s) loaded, "
                f"{run['profiles']:,} profiles" if run["outcome"] == "succeeded"
                else str(run["message"]))
        colour = "green" if run["outcome"] == "succeeded" else "red"
        console.print(f"  last daily run: {_local(run['started_at'], zone)} ({run['trigger']}) "
                      f"[{colour}]{run['outcome']}[/{colour}]: {what}", highlight=False)
    days = []
    for arrival in daily.days:
        shown = arrival.state
        if arrival.state == "partial":
            shown = f"partial, {', '.join(arrival.missing)} missing"
        days.append(f"{arrival.day:%m-%d} {shown}")
    latest = f" (latest {daily.latest_day})" if daily.latest_day else " (none yet)"
    console.print(f"  days received{latest}: {'; '.join(days)}", highlight=False)
    received = daily.last_received
    last = (f"; last taken {received['name']} at {_local(received['taken_at'], zone)} "
            f"({received['complete_by']})" if received else "")
    console.print(f"  drop folder: {daily.files_in_drop} file(s) not yet taken{last}",
                  highlight=False)
    for alert in daily.alerts:
        delivery = "" if alert.delivery == "none" else f" [webhook: {alert.delivery}]"
        console.print(f"  [red]alert[/red] {_local(alert.raised_at, zone)} {alert.kind}: "
                      f"{alert.message}{delivery}", highlight=False)


def skip_day(
    day: Annotated[str, typer.Argument(help="Business day to skip: YYYY-MM-DD or YYYYMMDD.")],
    instance: InstanceOption = None,
) -> None:
    """Let the import queue go on without a day that will never arrive."""
    parsed = _parse_day(day)
    target = open_instance(instance)
    try:
        skip(target, parsed, note="skipped by operator")
    except SkipError as error:
        raise UserError(str(error)) from None
    console.print(f"Skipped {parsed}. Run `clientela import` to load the days waiting behind it.")


def _parse_day(text: str) -> date:
    for pattern in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise UserError(f"{text!r} is not a day: use YYYY-MM-DD or YYYYMMDD")
