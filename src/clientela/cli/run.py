"""`clientela run`: the main job, with a progress line per stage."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from clientela.cli.errors import UserError
from clientela.cli.imports import RichProgress, console, print_summary, result_json
from clientela.cli.options import InstanceOption, JsonOption
from clientela.config import open_instance
from clientela.run.pipeline import RunResult, run


class RichRunProgress(RichProgress):
    """The import's progress, then one line per stage of the indicators and the publishing."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(progress)
        self.stage_task: TaskID | None = None

    def stage(self, label: str) -> None:
        if self.stage_task is None:
            self.progress.update(self.days, visible=False)
            self.stage_task = self.progress.add_task(label, total=None, detail="")
        self.progress.update(self.stage_task, description=label)

    def publishing(self, total: int) -> None:
        if self.stage_task is not None:
            self.progress.update(self.stage_task, total=total, completed=0,
                                 detail=f"{total:,} profiles")

    def published(self, rows: int) -> None:
        if self.stage_task is not None:
            self.progress.advance(self.stage_task, rows)


def _as_of(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"--as-of {text!r} is not a date; use YYYY-MM-DD") from None


def run_command(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Compute as of this local date (YYYY-MM-DD); default today.")] = None,
    instance: InstanceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import what is pending, then compute and publish every profile's indicators.

    Resolves identity, computes every indicator and RFM as of the date, and publishes them in one
    transaction: readers see the previous run or this one, never a mix."""
    target = open_instance(instance)
    day = _as_of(as_of)
    if as_json:
        outcome = run(target, day)
        typer.echo(json.dumps(_json(outcome), indent=2, default=str))
        return
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[detail]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        outcome = run(target, day, RichRunProgress(bar))
    print_summary(outcome.imported)
    _print(outcome)


def _json(outcome: RunResult) -> dict[str, object]:
    return {"run_id": outcome.run_id, "as_of": outcome.as_of.isoformat(),
            "import": result_json(outcome.imported), "profiles": outcome.profiles,
            "segment_changes": outcome.segment_changes, "new_profiles": outcome.new_profiles,
            "segments": dict(outcome.segments), "published": outcome.published}


def _print(outcome: RunResult) -> None:
    console.print(f"Run {outcome.run_id} as of {outcome.as_of}: {outcome.profiles:,} profiles, "
                  f"{outcome.segment_changes:,} changed segment, {outcome.new_profiles:,} new; "
                  f"published {outcome.published:,}.")
    table = Table(title="RFM segments")
    table.add_column("segment")
    table.add_column("profiles", justify="right")
    table.add_column("share", justify="right")
    for name, count in outcome.segments:
        table.add_row(name, f"{count:,}", f"{count / max(outcome.profiles, 1):.1%}")
    console.print(table)
