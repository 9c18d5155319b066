"""Receiving files into the instance's inbox, and deciding which business days can load.

Files wait in the inbox until their day loads: a day loads when its four files are there and
every earlier day is loaded or skipped. A file for a day already loaded is a correction and
loads at once.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from clientela.config import Instance
from clientela.ingest.filenames import FileNameError, parse_daily_file_name
from clientela.ingest.inbox_file import InboxFile
from clientela.ingest.report import FileReport, free_path, write_json
from clientela.schema import RECORDS


@dataclass(frozen=True)
class Waiting:
    """The day holding the queue back, and why."""

    day: date
    missing: list[str]
    """File kinds missing for that day (all four when nothing of it arrived)."""
    waiting_days: list[date]


@dataclass
class Plan:
    loadable: list[tuple[date, list[InboxFile]]] = field(default_factory=list)
    waiting: Waiting | None = None


def _walk(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file()
                              and not p.name.startswith("."))
        elif path.exists():
            yield path
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")


def _place(source: Path, target: Path, *, move: bool = False) -> None:
    """Copy through a temp name: the archive must not change if the sender rewrites its file.
    A file Clientela already owns (taken from the drop folder) is moved instead."""
    if move:
        shutil.move(source, target)
        return
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    shutil.copyfile(source, partial)
    partial.replace(target)


def receive(instance: Instance, paths: Iterable[Path], *, move: bool = False
            ) -> list[FileReport]:
    """Put every daily file into the inbox; report the ones refused by their name.

    With `move`, the files are Clientela's own (taken from the drop folder): they are moved,
    and a zip is removed once its members are in the inbox."""
    refused: list[FileReport] = []
    prefix = instance.settings.files.prefix
    for path in _walk(paths):
        if path.suffix.lower() == ".zip":
            refused += _receive_zip(instance, path, prefix, move=move)
            continue
        try:
            parse_daily_file_name(path.name, instance.name, prefix)
        except FileNameError as error:
            refused.append(_refuse(instance, path, str(error), move=move))
            continue
        if path.resolve().parent != instance.inbox.resolve():
            _place(path, instance.inbox / path.name, move=move)
    return refused


def _receive_zip(instance: Instance, path: Path, prefix: str, *, move: bool
                 ) -> list[FileReport]:
    refused = []
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        return [_refuse(instance, path, f"not a valid zip file ({error})", move=move)]
    with archive:
        for member in archive.infolist():
            name = Path(member.filename).name
            if member.is_dir() or not name:
                continue
            try:
                parse_daily_file_name(name, instance.name, prefix)
            except FileNameError as error:
                # Like a loose file with a wrong name: a copy and a report in rejected/.
                folder = instance.rejected / "unnamed"
                folder.mkdir(parents=True, exist_ok=True)
                _extract(archive, member, free_path(folder, name, None))
                report = FileReport(file=f"{path.name}:{name}", outcome="refused",
                                    message=str(error), bytes=member.file_size)
                report.report_path = str(folder / (name + ".report.json"))
                write_json(Path(report.report_path), report.to_json())
                refused.append(report)
                continue
            _extract(archive, member, instance.inbox / name)
    if move:
        path.unlink()
    return refused


def _extract(archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path) -> None:
    partial = target.with_name(target.name + ".part")
    with archive.open(member) as source, partial.open("wb") as out:
        shutil.copyfileobj(source, out, 8 << 20)
    partial.replace(target)


def _refuse(instance: Instance, path: Path, message: str, *, move: bool = False) -> FileReport:
    report = FileReport(file=path.name, outcome="refused", message=message,
                        bytes=path.stat().st_size)
    folder = instance.rejected / "unnamed"
    folder.mkdir(parents=True, exist_ok=True)
    target = free_path(folder, path.name, None)
    if move:
        shutil.move(path, target)
    else:
        shutil.copyfile(path, target)
    report_path = folder / (target.name + ".report.json")
    report.report_path = str(report_path)
    write_json(report_path, report.to_json())
    return report


def inbox_files(instance: Instance) -> list[InboxFile]:
    files = []
    prefix = instance.settings.files.prefix
    for path in sorted(instance.inbox.iterdir(), key=lambda p: (p.stat().st_mtime_ns, p.name)):
        if path.name.endswith(".part") or not path.is_file():
            continue
        try:
            name = parse_daily_file_name(path.name, instance.name, prefix)
        except FileNameError:
            continue
        files.append(InboxFile(path, name.schema, name.day))
    return files


def done_days(con: duckdb.DuckDBPyConnection) -> dict[date, str]:
    return {row[0]: row[1] for row in con.execute("SELECT day, state FROM import_days").fetchall()}


def plan(done: dict[date, str], files: list[InboxFile]) -> Plan:
    """What can load now, given the days done (`done_days`) and the files in the inbox."""
    by_day: dict[date, list[InboxFile]] = {}
    for inbox_file in files:
        by_day.setdefault(inbox_file.day, []).append(inbox_file)
    # The queue goes on after the last day loaded; a day skipped ahead of it (a holiday known
    # in advance) is passed over when the queue reaches it, not before.
    loaded = [d for d, state in done.items() if state == "loaded"]
    expected = _open_day(max(loaded) + timedelta(days=1) if loaded else min(by_day, default=None),
                         done)
    result = Plan()
    for day in sorted(by_day):
        if (expected is not None and day < expected) or day in done:
            # A correction of a day loaded (or skipped) before, or earlier history: loads alone.
            result.loadable.append((day, by_day[day]))
            continue
        kinds = {f.schema.kind for f in by_day[day]}
        missing = [r.file_tag for r in RECORDS if r.kind not in kinds]
        if day == expected and not missing:
            result.loadable.append((day, by_day[day]))
            expected = _open_day(day + timedelta(days=1), done)
            continue
        assert expected is not None
        result.waiting = Waiting(
            day=expected,
            missing=missing if day == expected else [r.file_tag for r in RECORDS],
            waiting_days=sorted(d for d in by_day if d >= day),
        )
        break
    return result


def _open_day(day: date | None, done: dict[date, str]) -> date | None:
    """`day`, or the first day after it that is neither loaded nor skipped."""
    while day is not None and day in done:
        day += timedelta(days=1)
    return day
